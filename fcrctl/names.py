"""The one rule for text from outside that may not be UTF-8 (file names, above all).

Everything fcrctl stores, sends or prints is UTF-8. POSIX file names are bytes, and Python
carries the bytes of a name that are not UTF-8 as lone surrogates (PEP 383: ``caf\\xe9.txt``
becomes ``'caf\\udce9.txt'``), which no UTF-8 writer accepts. So such a byte becomes ``%XX``,
as it would in a URI: the binary created from ``caf\\xe9.txt`` is named ``caf%E9.txt`` in its
headers, in JSON output, in N-Triples and in HTTP headers alike. Repository paths and the
repository's own directory are names a user chooses: those are refused (exit 2) instead.
"""

from __future__ import annotations

import codecs


def _raw_bytes(exc: UnicodeError) -> tuple[bytes, int]:
    """Encode error handler: a surrogate-escaped byte back to that byte, other surrogates as themselves."""
    assert isinstance(exc, UnicodeEncodeError)
    out = bytearray()
    for char in exc.object[exc.start : exc.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("utf-8", "surrogatepass")
    return bytes(out), exc.end


def _percent(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each byte that is not UTF-8 becomes %XX."""
    assert isinstance(exc, UnicodeDecodeError)
    return "".join(f"%{b:02X}" for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error("fcrctl-raw-bytes", _raw_bytes)
codecs.register_error("fcrctl-percent", _percent)


def is_utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def utf8_bytes_name(raw: bytes) -> str:
    """A name that arrived as bytes (percent-decoded from a URI or header): %XX for what is not UTF-8."""
    return raw.decode("utf-8", "fcrctl-percent")


def utf8_name(name: str) -> str:
    """``name`` with every byte that is not UTF-8 written as %XX (unchanged when it is UTF-8)."""
    if is_utf8(name):
        return name
    return name.encode("utf-8", "fcrctl-raw-bytes").decode("utf-8", "fcrctl-percent")
