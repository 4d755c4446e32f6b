"""File naming of fcrepo-import-export's format, and its ``.headers`` sidecars.

One file per resource at its URL path, each segment encoded as Java's ``URLEncoder`` does
(``:`` is ``%3A``, a space ``+``), ``/`` kept, the trailing slash dropped and an extension
added: ``http://host/rest/`` -> ``rest.ttl``; container ``rest/a.ttl`` with its children under
``rest/a/``; binary ``rest/a/b.binary`` with its description ``rest/a/b/fcr%3Ametadata.ttl``;
external content ``name.external``; ACL ``name/fcr%3Aacl.ttl``; versions
``name/fcr%3Aversions.ttl`` and ``name/fcr%3Aversions/<memento>.<ext>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from fcrctl.errors import BadInput

BINARY_EXT = ".binary"
EXTERNAL_EXT = ".external"
HEADERS_EXT = ".headers"
FCR = "fcr%3A"
METADATA = FCR + "metadata"
ACL = FCR + "acl"
VERSIONS = FCR + "versions"

# --format names -> (media type, extension), extensions as Jena names them (the Java tool's choice)
FORMATS: dict[str, tuple[str, str]] = {
    "turtle": ("text/turtle", ".ttl"),
    "ntriples": ("application/n-triples", ".nt"),
    "jsonld": ("application/ld+json", ".jsonld"),
    "rdfxml": ("application/rdf+xml", ".rdf"),
}
EXT_MEDIA = {ext: mime for mime, ext in FORMATS.values()} | {".n3": "text/n3", ".owl": "application/rdf+xml"}
MAX_HEADERS_BYTES = 1 << 20  # a headers sidecar is a few hundred bytes; refuse anything absurd

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def format_of(name: str) -> tuple[str, str]:
    """``turtle`` -> (media type, extension); BadInput for other names."""
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise BadInput(f"unknown --format {name!r}: use {', '.join(FORMATS)}") from None


def encode_segment(segment: str) -> str:
    """One path segment as ``java.net.URLEncoder`` writes it (space is ``+``, ``~`` is ``%7E``)."""
    return urllib.parse.quote_plus(segment, safe="*").replace("~", "%7E")


def decode_segment(name: str, where: str) -> str:
    """The segment a file name stands for; BadInput when it is not valid percent-encoding."""
    if _BAD_PERCENT.search(name):
        raise BadInput(f"{where}: {name!r} is not valid percent-encoding (a % must be followed by two hex digits)")
    try:
        return urllib.parse.unquote_plus(name, errors="strict")
    except UnicodeDecodeError:
        raise BadInput(f"{where}: {name!r} does not decode to UTF-8 text") from None


def encode_url_path(url_path: str) -> str:
    """``/rest/a b/fcr:metadata/`` -> ``rest/a+b/fcr%3Ametadata`` (relative, no trailing slash)."""
    return "/".join(encode_segment(urllib.parse.unquote(s)) for s in url_path.strip("/").split("/") if s)


def resource_file(dest: Path, url_path: str, ext: str) -> Path:
    return dest / (encode_url_path(url_path) + ext)


def rdf_file(stem: Path) -> Path | None:
    """``stem`` with whichever RDF extension it has in the export (None: none)."""
    for ext in EXT_MEDIA:
        candidate = stem.with_name(stem.name + ext)
        if candidate.is_file():
            return candidate
    return None


def headers_file(file: Path) -> Path:
    return file.with_name(file.name + HEADERS_EXT)


def write_headers(file: str | Path, headers: dict[str, list[str]], *, parents: bool = True) -> None:
    write_atomic(os.fspath(file) + HEADERS_EXT, headers_json(headers), parents=parents)


def headers_json(headers: dict[str, list[str]]) -> bytes:
    """``json.dumps(headers, indent=1, sort_keys=True)``, byte for byte, for a map of lists of
    strings: with ``indent`` json leaves its C encoder for a Python one that cost a tenth of a
    resource's export; each string still goes through json's (C) string encoder."""
    if not headers:
        return b"{}"
    parts = []
    for key in sorted(headers):
        values = headers[key]
        body = "[\n  " + ",\n  ".join(map(json.dumps, values)) + "\n ]" if values else "[]"
        parts.append(f" {json.dumps(key)}: {body}")
    return ("{\n" + ",\n".join(parts) + "\n}").encode("utf-8")


def read_headers(file: Path) -> dict[str, list[str]]:
    """The sidecar of ``file`` (empty when there is none); BadInput when it is not a JSON map of lists."""
    sidecar = headers_file(file)
    try:
        size = sidecar.stat().st_size
    except FileNotFoundError:
        return {}
    if size > MAX_HEADERS_BYTES:
        raise BadInput(f"{sidecar}: {size} bytes is too big for a headers file (at most {MAX_HEADERS_BYTES})")
    try:
        data = json.loads(sidecar.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested beyond reason
        raise BadInput(f"{sidecar}: not a JSON headers file ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
    ):
        raise BadInput(f"{sidecar}: a headers file must be a JSON object of lists of strings")
    return {str(k): v for k, v in data.items()}


def header(headers: dict[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def link_types(headers: dict[str, list[str]]) -> list[str]:
    """The ``Link: <...>; rel="type"`` URIs of a headers map (each value may hold several links)."""
    from requests.utils import parse_header_links

    out: list[str] = []
    for key, values in headers.items():
        if key.lower() != "link":
            continue
        for value in values:
            for link in parse_header_links(value):
                if "type" in link.get("rel", "").split():
                    out.append(link.get("url", ""))
    return out


def link_header(url: str, rel: str) -> str:
    return f'<{url}>;rel="{rel}"'


def write_atomic(path: str | Path, data: bytes | Iterable[bytes], *, parents: bool = True) -> None:
    """Write through a temp file renamed into place, so a killed export leaves no half file behind.

    No fsync per file: an export is re-runnable (``--resume``) and the caller syncs once at the end.
    ``parents=False``: the caller knows the directory exists (a mkdir per file costs two system calls)."""
    out = AtomicFile(path, parents=parents)
    try:
        if isinstance(data, bytes):
            out.write(data)
        else:
            for chunk in data:
                out.write(chunk)
    except BaseException:
        out.discard()
        raise
    out.commit()


class AtomicFile:
    """A file written under a temp name and renamed to ``path`` by ``commit`` (see write_atomic),
    for a file written piece by piece while other files are written (a container's listing)."""

    def __init__(self, path: str | Path, *, parents: bool = True) -> None:
        # names built as strings: an export writes two files a resource, and pathlib's objects cost more
        self.path = os.fspath(path)
        head, name = os.path.split(self.path)
        if parents:
            os.makedirs(head, exist_ok=True)
        self.tmp = os.path.join(head, f".{name}.{os.getpid()}.part")
        self._out = open(self.tmp, "wb")  # noqa: SIM115 - closed by commit or discard
        self.write = self._out.write

    def commit(self) -> None:
        self._out.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self._out.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


def inside(root: Path, candidate: Path) -> bool:
    """True when ``candidate`` (resolved, symlinks followed) stays under ``root``."""
    try:
        candidate.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
