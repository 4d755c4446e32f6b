"""A server's N-Triples parsed as they arrive, one whole line at a time, with bounds

Listings can be gigabytes (a million children, each with its triples embedded), so they are
never read whole. ``triples`` feeds each complete line to rdflib's W3CNTriplesParser (rdflib's
terms, for a graph); ``rows`` gives the strings a listing keeps and reads the lines serve and
Fedora write as text (ntlines.LINE, the reader export and import share), ~10 times cheaper than
rdflib's parser: a line outside that form (a blank node, an escape, a literal type it does not
know) goes to rdflib, so every row is what rdflib's terms would give (tests compare them).
A line over MAX_LINE or a body over MAX_BODY is refused, and so is a body that arrives
too slowly (ReadBudget: ``--timeout`` plus one second per MIN_RATE bytes received).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fcrctl.errors import CorruptData, Unavailable
from fcrctl.repository.http.errors import host_port, transport_error, transport_exceptions
from fcrctl.repository.http.plain import QuickResponse
from fcrctl.services.transfer.ntlines import LINE, unescape

if TYPE_CHECKING:
    import requests

BLOCK = 1 << 16  # bytes read from the connection at a time
MAX_LINE = 16 << 20  # one triple: a literal of a few MB is plausible, an endless line is not
MAX_BODY = 64 << 30  # a listing of ~10M children with their triples; beyond that, no honest server
MIN_RATE = 16 << 10  # bytes/s a listing earns its waiting time at (~13 children/s with their triples)

Triple = tuple[Any, Any, Any]
Row = tuple[str, str, str]  # str() of rdflib's subject, predicate and object; a blank node as "_:" + its str()
T = TypeVar("T")


class Sink(Protocol):
    def triple(self, s: Any, p: Any, o: Any) -> None: ...


class ReadBudget:
    """The time a body may keep its reader waiting: ``seconds``, plus one second per MIN_RATE bytes
    received. Only time spent waiting for the connection counts (not the caller's, between reads),
    so a listing that keeps arriving may take hours, and a server that trickles a byte now and then
    (each read within the per-read timeout) is cut off. The budget is checked as each block arrives:
    a read that waits past it is ended by the socket's read timeout (``--timeout``, never more than
    the budget), so the cut-off comes at most one read timeout late, with no thread or timer per
    body (an export reads one body per container)."""

    def __init__(self, seconds: float, min_rate: int = MIN_RATE) -> None:
        self.seconds = seconds
        self.min_rate = min_rate
        self.received = 0
        self.waited = 0.0  # seconds spent in reads
        self.expired = False

    def _left(self) -> float:
        return self.seconds + self.received / self.min_rate - self.waited

    def blocks(self, source: Iterator[bytes]) -> Iterator[bytes]:
        clock = time.monotonic
        while True:
            started = clock()
            block = next(source, None)
            self.waited += clock() - started
            if block is None:
                return
            self.received += len(block)
            if self._left() <= 0:
                self.expired = True
                raise _Slow
            yield block


class _Slow(Exception):
    pass


def _lines(blocks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    """A response body's lines, each whole (rdflib rescans a line it gets in parts), bounded."""
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


def _arriving(response: requests.Response | QuickResponse) -> Iterator[bytes]:
    """The body as it arrives: each block what one read of the connection gave (at most BLOCK),
    decoded (requests' iter_content waits for BLOCK bytes of a body that is not chunked). Errors
    are requests' own, as iter_content raises them (QuickResponse's: PlainTransportError)."""
    if isinstance(response, QuickResponse):
        yield from iter(lambda: response.read1(BLOCK), b"")
        return
    import requests
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    raw = response.raw
    try:
        while block := raw.read1(BLOCK, decode_content=True):
            yield block
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def triples(response: requests.Response, *, url: str, path: str, location: str, read_timeout: float,
            wanted: Collection[str] | None = None) -> Iterator[Triple]:
    """Every triple of a streamed N-Triples response, as rdflib's terms (only those with a ``wanted``
    predicate, when given: every line is parsed all the same, so a malformed one is refused) as the
    body arrives; its arrival bounded by a ReadBudget of ``read_timeout`` seconds."""
    parse = _RdflibLines()

    def parsed(line: str) -> Triple | None:
        triple = parse(line)
        return triple if triple is not None and (wanted is None or str(triple[1]) in wanted) else None

    return _parsed(response, parsed, url=url, path=path, location=location, read_timeout=read_timeout)


def parse_response(response: requests.Response, sink: Sink, *, url: str, path: str, location: str,
                   read_timeout: float, wanted: Collection[str] | None = None) -> None:
    """Feed every triple of a streamed N-Triples response to ``sink`` (rdflib's terms) as the body arrives."""
    for s, p, o in triples(response, url=url, path=path, location=location, read_timeout=read_timeout,
                           wanted=wanted):
        sink.triple(s, p, o)


def rows(response: requests.Response, *, url: str, path: str, location: str, read_timeout: float,
         wanted: Collection[str] | None = None) -> Iterator[Row]:
    """``triples`` as strings (Row), the lines in the common form read without rdflib."""
    text = TextLines(wanted)
    return _parsed(response, text, url=url, path=path, location=location, read_timeout=read_timeout)


def readable(data: bytes) -> bool:
    """Whether ``data`` is an N-Triples document (read as ``rows`` reads a body: rdflib only for odd lines)."""
    text = TextLines()
    try:
        for line in _lines(iter([data]), len(data)):
            text(line.decode("utf-8"))
    except Exception:  # noqa: BLE001 - rdflib's parser raises several unrelated types
        return False
    return True


def _parsed(response: requests.Response, parse: Callable[[str], T | None], *, url: str, path: str, location: str,
            read_timeout: float) -> Iterator[T]:
    """What ``parse`` makes of each line of the body, as it arrives; errors as fcrctl's."""
    return parsed_lines(body_lines(response, url=url, path=path, location=location, read_timeout=read_timeout),
                        parse, path=path, location=location)


def parsed_lines(lines: Iterator[str], parse: Callable[[str], T | None], *, path: str, location: str) -> Iterator[T]:
    """What ``parse`` makes of each of ``lines`` (body_lines'); a line it cannot read is CorruptData."""
    for line in lines:
        try:
            found = parse(line)
        except Exception as exc:  # rdflib's parser raises several unrelated types
            raise CorruptData(
                f"server response for {path}: malformed N-Triples ({type(exc).__name__}: {str(exc)[:200]}) "
                f"(sent by {location})",
                path=path,
            ) from None
        if found is not None:
            yield found


def body_lines(response: requests.Response, *, url: str, path: str, location: str,
               read_timeout: float) -> Iterator[str]:
    """The body's non-empty lines as they arrive (decoded, not parsed), within MAX_LINE, MAX_BODY and a
    ReadBudget of ``read_timeout`` seconds; errors as fcrctl's."""
    budget = ReadBudget(read_timeout)
    try:
        for line in _lines(budget.blocks(_arriving(response)), MAX_BODY):
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CorruptData(f"server response for {path}: malformed N-Triples ({type(exc).__name__}: "
                                  f"{str(exc)[:200]}) (sent by {location})", path=path) from None
    except (*transport_exceptions(), _Slow) as exc:  # the connection broke (or was cut) while the body arrived
        if budget.expired:
            raise Unavailable(
                f"{host_port(url)} sent the listing of {path} too slowly ({budget.received} bytes in "
                f"{budget.waited:.0f} s of waiting; a listing may take --timeout ({read_timeout:g} s) plus 1 s "
                f"per {MIN_RATE >> 10} KiB): check the server, or raise --timeout", path=path) from None
        raise transport_error(exc, url, timeout=read_timeout) from None
    except _TooBig as exc:
        raise CorruptData(f"server response for {path} is {exc}: refused (sent by {location})", path=path) from None


class _RdflibLines:
    """One line to rdflib's terms (None for a comment), through one parser: blank node labels span
    the document. rdflib is imported at the first line."""

    def __init__(self) -> None:
        from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

        self._got: list[Triple] = []
        got = self._got

        class _One:
            def triple(self, s: Any, p: Any, o: Any) -> None:
                got.append((s, p, o))

        self._parser = W3CNTriplesParser(sink=_One())

    def __call__(self, line: str) -> Triple | None:
        self._parser.line = line
        self._parser.parseline()
        return self._got.pop() if self._got else None


_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # rdflib's N-Triples parser takes no relative IRI
# what Python's \s matches beyond ASCII (rdflib refuses it in an IRI; ntlines.LINE refuses only ASCII space)
_WIDE_SPACE = re.compile(r"[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_XSD = "http://www.w3.org/2001/XMLSchema#"
_STRING = _XSD + "string"
_DATETIME = _XSD + "dateTime"
_INTEGERS = frozenset({_XSD + "long", _XSD + "integer", _XSD + "int"})
_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]*")  # what rdflib gives back as it is
_ISOFORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?(?:[+-]\d\d:\d\d)?", re.ASCII)
_PLAIN_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?", re.ASCII)


class TextLines:
    """One N-Triples line to a Row (None for a comment, or a ``wanted`` predicate's line not wanted),
    without rdflib for the lines ntlines.LINE reads whose literals' values are plain: strings, and
    the integers and dateTimes servers write, normalised as rdflib normalises them. Any other line
    goes to rdflib (imported then), which says what it makes of it, or that it is malformed."""

    def __init__(self, wanted: Collection[str] | None = None) -> None:
        self._wanted = wanted
        self._rdflib: _RdflibLines | None = None
        self._absolute: set[str] = set()  # IRIs seen absolute: a child's URL and the predicates recur

    def __call__(self, line: str) -> Row | None:
        match = LINE.fullmatch(line)
        if match is not None:
            s, p, o_iri, lexical, lang, datatype = match.groups()
            seen = self._absolute
            if ((s in seen or self._is_absolute(s)) and (p in seen or self._is_absolute(p))
                    and (o_iri is None or o_iri in seen or self._is_absolute(o_iri))
                    and (datatype is None or datatype in seen or self._is_absolute(datatype))
                    and (line.isascii() or not _WIDE_SPACE.search(line, 0, match.end(2 if o_iri is None else 3)))):
                if self._wanted is not None and p not in self._wanted:
                    return None
                if o_iri is not None:
                    return s, p, o_iri
                value = _value(unescape(lexical), datatype)
                if value is not None:
                    return s, p, value
        return self._slow(line)

    def _is_absolute(self, iri: str) -> bool:
        if not _ABSOLUTE.match(iri):
            return False
        if len(self._absolute) >= 1024:  # bounded: a listing names each child once
            self._absolute.clear()
        self._absolute.add(iri)
        return True

    def _slow(self, line: str) -> Row | None:
        if self._rdflib is None:
            self._rdflib = _RdflibLines()
        triple = self._rdflib(line)
        if triple is None or (self._wanted is not None and str(triple[1]) not in self._wanted):
            return None
        s, p, o = triple
        return _str(s), str(p), _str(o)


def _value(text: str, datatype: str | None) -> str | None:
    """``str()`` of rdflib's Literal of ``text`` typed ``datatype``, for the types whose value is
    plain; None for the rest."""
    if datatype is None or datatype == _STRING:
        return text
    if datatype in _INTEGERS:
        return text if _CANONICAL_INTEGER.fullmatch(text) else None
    if datatype == _DATETIME and _PLAIN_DATETIME.fullmatch(text):
        if _ISOFORMAT.fullmatch(text) and not text.endswith("-00:00") and ".000000" not in text:
            return text  # what isoformat() writes (serve's dates), or what rdflib keeps as written if invalid
        try:
            return datetime.fromisoformat(text).isoformat()  # as rdflib normalises it
        except ValueError:  # (24:00, 30 February): rdflib keeps such a one as written
            return None
    return None


def _str(term: Any) -> str:
    from rdflib import BNode

    return "_:" + str(term) if isinstance(term, BNode) else str(term)
