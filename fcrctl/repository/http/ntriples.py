"""A server's N-Triples parsed as they arrive: rdflib's parser fed one whole line at a time, with bounds

Listings can be gigabytes (a million children, each with its triples embedded), so they are
never read whole: each complete line goes to rdflib's W3CNTriplesParser, whose sink decides
what to keep. One whole line per read() also spares rdflib its quadratic rescans of a long
line (see fcrctl.rdf._Lines). A line over MAX_LINE or a body over MAX_BODY is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import requests

from fcrctl.errors import CorruptData
from fcrctl.repository.http.errors import transport_error

BLOCK = 1 << 16  # bytes read from the connection at a time
MAX_LINE = 16 << 20  # one triple: a literal of a few MB is plausible, an endless line is not
MAX_BODY = 64 << 30  # a listing of ~10M children with their triples; beyond that, no honest server


class Sink(Protocol):
    def triple(self, s: Any, p: Any, o: Any) -> None: ...


class _Lines:
    """A response body as rdflib's parser reads it: one decoded line per read(), bounded."""

    encoding = "utf-8"  # tells rdflib this is already a character stream

    def __init__(self, blocks: Iterator[bytes], max_bytes: int) -> None:
        self._lines = self._split(blocks, max_bytes)

    def read(self, size: int = -1) -> str:
        del size
        for line in self._lines:
            return line.decode("utf-8") + "\n"
        return ""

    @staticmethod
    def _split(blocks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
        parts: list[bytes] = []  # the start of a line not yet complete
        started = total = 0
        for block in blocks:
            total += len(block)
            if total > max_bytes:
                raise _TooBig(f"over {max_bytes} bytes")
            block = block.replace(b"\r", b"\n")  # lines end in CR, LF or CRLF; empty lines are skipped
            cut = block.rfind(b"\n")
            if cut < 0:
                parts.append(block)
                started += len(block)
                if started > MAX_LINE:
                    raise _TooBig(f"a line over {MAX_LINE} bytes")
                continue
            lines = b"".join([*parts, block[:cut]]).split(b"\n")
            parts, started = [block[cut + 1:]], len(block) - cut - 1
            yield from (line for line in lines if line.strip())
        rest = b"".join(parts)
        if rest.strip():
            yield rest


class _TooBig(Exception):
    pass


def parse_response(response: requests.Response, sink: Sink, *, url: str, path: str, location: str,
                   read_timeout: float) -> None:
    """Feed every triple of a streamed N-Triples response to ``sink`` as the body arrives."""
    from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

    parser = W3CNTriplesParser(sink=sink)  # one parser: blank node labels span the document
    try:
        parser.parse(_Lines(response.iter_content(BLOCK), MAX_BODY))  # type: ignore[arg-type]
    except requests.RequestException as exc:  # the connection broke while the body arrived
        raise transport_error(exc, url, timeout=read_timeout) from None
    except _TooBig as exc:
        raise CorruptData(f"server response for {path} is {exc}: refused (sent by {location})", path=path) from None
    except CorruptData:
        raise
    except Exception as exc:  # rdflib's parser raises several unrelated types
        raise CorruptData(
            f"server response for {path}: malformed N-Triples ({type(exc).__name__}: {str(exc)[:200]}) "
            f"(sent by {location})",
            path=path,
        ) from None
