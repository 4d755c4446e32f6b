"""Parsing RDF from outside with bounds: nothing fetched, nesting and line lengths bounded, errors with lines"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from fcrctl.errors import BadInput
from fcrctl.paths import ROOT_ID
from fcrctl.rdf.ids import _parse_base, _rewrite
from fcrctl.rdf.media import _FORMAT_LABELS, _READ_ALIASES, RDF_MEDIA_TYPES, mime_of
from fcrctl.rdf.vocab import new_graph

if TYPE_CHECKING:
    from rdflib import Graph


def parse(data: bytes | str, mime: str, *, base: str, source: str = "request body", storable: bool = True,
          jena_turtle: bool = False) -> Graph:
    """Parse an RDF document; ``<>`` means ``base`` (a URL or an internal id).

    ``jena_turtle``: read Turtle as Fedora's Jena does (``@prefix``/``@base`` without their
    closing ``.``, see jena_turtle.py); serve uses it for request bodies.

    Malformed input raises BadInput naming ``source`` and, where the parser tells, the line;
    so does, with ``storable``, a graph that could not be stored and served back (see
    ``check_storable``): what a server sends is read as it is.
    """

    media = mime_of(mime) or ""
    media = _READ_ALIASES.get(media, media)
    fmt = RDF_MEDIA_TYPES.get(media)
    if fmt is None:
        raise BadInput(f"{source}: {mime!r} is not an RDF media type")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if fmt == "json-ld":
        _refuse_remote_context(data, source)
    parse_base, synthetic = _parse_base(base)
    graph = new_graph()
    try:
        if fmt == "nt":
            _parse_ntriples(data, graph)
        elif fmt == "xml":
            _parse_rdfxml(data, graph, parse_base)
        elif fmt == "turtle" and jena_turtle:
            from fcrctl.rdf.jena_turtle import parse_turtle

            parse_turtle(data, graph, parse_base)
        else:
            graph.parse(data=data, format=fmt, publicID=parse_base)
    except Exception as exc:  # rdflib's parsers raise many unrelated types
        raise BadInput(f"{source}: malformed {_FORMAT_LABELS[fmt]}{_where(exc, data)}: {_reason(exc)}") from None
    if synthetic:
        graph = _rewrite(graph, synthetic, ROOT_ID)
    if storable:
        check_storable(graph, source)
    return graph


# What N-Triples can hold (and so what can be stored and served back): an absolute IRI without
# the characters IRIREF excludes, and a BCP 47-shaped language tag.
_STORABLE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*")
_LANGUAGE_TAG = re.compile(r"[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")


def check_storable(graph: Graph, source: str = "request body") -> None:
    """Refuse (BadInput) a graph that could be stored but not served back: N3 formulas and
    variables, literal subjects, IRIs N-Triples cannot write (``<a b>``), malformed language tags."""
    from rdflib import BNode, Literal, URIRef

    iri, tag = _STORABLE_IRI.fullmatch, _LANGUAGE_TAG.fullmatch
    for s, p, o in graph:
        for position, node, kinds in (("subject", s, (URIRef, BNode)), ("predicate", p, (URIRef,)),
                                      ("object", o, (URIRef, BNode, Literal))):
            if not isinstance(node, kinds):
                what = "an N3 formula" if hasattr(node, "triples") else f"a {type(node).__name__}"
                raise BadInput(f"{source}: a triple's {position} is {what}, which RDF cannot store: "
                               "send plain triples (Turtle, N-Triples, JSON-LD or RDF/XML)")
            if isinstance(node, URIRef) and not iri(node):
                raise BadInput(f"{source}: {_short_text(str(node))!r} is not a valid absolute IRI "
                               "(no spaces, <, >, \", {, }, |, ^, ` or \\): percent-encode those characters")
        if isinstance(o, Literal):
            if o.language is not None and not tag(o.language):
                raise BadInput(f"{source}: language tag {_short_text(o.language)!r} is malformed")
            if o.datatype is not None and not iri(o.datatype):
                raise BadInput(f"{source}: datatype {_short_text(str(o.datatype))!r} is not a valid absolute IRI")


def _short_text(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _where(exc: Exception, data: bytes) -> str:
    line: int | None = None
    if hasattr(exc, "lines") and isinstance(exc.lines, int):  # notation3 BadSyntax: 0-based
        line = exc.lines + 1
    elif hasattr(exc, "getLineNumber"):  # SAXParseException
        line = exc.getLineNumber()
    elif hasattr(exc, "lineno"):  # json.JSONDecodeError
        line = exc.lineno
    elif "Invalid line" in str(exc):  # N-Triples: the parser does not count lines; find the first bad one
        line = _first_bad_ntriples_line(data)
    return f" at line {line}" if line else ""


def _first_bad_ntriples_line(data: bytes) -> int | None:
    for number, text in enumerate(data.splitlines(), 1):
        try:
            _parse_ntriples(text, new_graph())
        except Exception:
            return number
    return None


def _parse_rdfxml(data: bytes, graph: Graph, base: str) -> None:
    """rdflib's RDF/XML handler fed by defusedxml's expat reader, which refuses entity
    declarations: ~900 bytes of nested entities ("billion laughs") expand to gigabytes."""
    from xml.sax.handler import ErrorHandler, feature_namespaces

    from defusedxml.expatreader import create_parser
    from rdflib.parser import create_input_source
    from rdflib.plugins.parsers.rdfxml import RDFXMLHandler

    source = create_input_source(data=data, publicID=base)
    try:
        parser = create_parser()
        with contextlib.suppress(AttributeError):  # as rdflib does: lets expat resolve the xml: prefix
            parser.start_namespace_decl("xml", "http://www.w3.org/XML/1998/namespace")
        parser.setFeature(feature_namespaces, 1)
        handler = RDFXMLHandler(graph)
        handler.setDocumentLocator(source)  # type: ignore[arg-type]
        parser.setContentHandler(handler)
        parser.setErrorHandler(ErrorHandler())
        parser.parse(source)
    finally:
        source.close()


class _Lines:
    """N-Triples text handed to rdflib's parser one whole line per read().

    rdflib's reader takes 2 KB at a time and rescans (and re-copies) its buffer after each
    read until a line ends, so one long line costs quadratic time: a 1 MB literal took 6 s,
    a 2 MB one 21 s. Given a whole line per read, it finds the end at once (16 MB: 0.6 s).
    N-Triples lines end in CR, LF or CRLF, which cannot occur unescaped inside a line.
    """

    encoding = "utf-8"  # tells rdflib this is already a character stream

    def __init__(self, data: bytes) -> None:
        self._lines = re.finditer(rb"[^\r\n]+", data)

    def read(self, size: int = -1) -> str:
        del size
        for match in self._lines:
            return match.group().decode("utf-8") + "\n"
        return ""


def _parse_ntriples(data: bytes, graph: Graph) -> None:
    from rdflib.plugins.parsers.ntriples import NTGraphSink, W3CNTriplesParser

    W3CNTriplesParser(NTGraphSink(graph)).parse(_Lines(data))  # type: ignore[arg-type]


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if type(exc).__module__.startswith("defusedxml"):
        return "DTD entity declarations are refused (a few can expand to gigabytes): write the text out"
    text = str(exc).strip().splitlines()
    if hasattr(exc, "lines") and len(text) > 1:  # BadSyntax: "at line N of <>:" then the reason
        text = text[1:]
    reason = text[0] if text else type(exc).__name__
    reason = re.sub(r"^<unknown>:\d+:\d+: ", "", reason)
    reason = re.sub(r"\s*at \^ in:$", "", reason)  # notation3 points at a fragment we do not show
    if isinstance(exc, IndexError):  # notation3 runs off the end of a truncated document
        reason = "unexpected end of document"
    return reason[:200]


_MAX_JSON_NESTING = 100  # rdflib's JSON-LD and Turtle parsers recurse: far deeper and they overflow the stack


def _refuse_remote_context(data: bytes, source: str) -> None:
    """Refuse what would make rdflib fetch a URL: a remote ``@context`` (a string, alone or in
    a list, at any level) and ``@import``; and documents nested deeper than rdflib can parse."""
    import json

    try:
        doc = json.loads(data)
    except RecursionError:
        raise BadInput(f"{source}: JSON-LD nested too deeply (at most {_MAX_JSON_NESTING} levels)") from None
    except ValueError as exc:
        raise BadInput(f"{source}: malformed JSON-LD{_where(exc, data)}: {_reason(exc)}") from None
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:  # not recursive: the document may nest as deep as json.loads allows
        node, depth = stack.pop()
        if depth > _MAX_JSON_NESTING:
            raise BadInput(f"{source}: JSON-LD nested too deeply (at most {_MAX_JSON_NESTING} levels)")
        if isinstance(node, dict):
            if "@import" in node:
                raise BadInput(f"{source}: JSON-LD @import is not fetched; inline the imported context")
            ctx = node.get("@context")
            contexts = ctx if isinstance(ctx, list) else [ctx]
            if any(isinstance(c, str) for c in contexts):
                raise BadInput(f"{source}: remote JSON-LD @context is not fetched; inline the context")
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def read_ntriples(data: bytes) -> Graph:
    """Parse stored N-Triples (our own files, or Fedora 6's)."""

    graph = new_graph()
    if data.strip():
        try:
            _parse_ntriples(data, graph)
        except Exception as exc:
            raise BadInput(f"malformed N-Triples{_where(exc, data)}: {_reason(exc)}") from None
    return graph
