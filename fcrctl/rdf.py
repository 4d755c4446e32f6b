"""RDF: parsing, serialising, content types, server-managed triples, SPARQL Update, and the
translation between internal ids (``info:fedora/a/b``) and URLs (``{base}/a/b``).

Pure functions, no I/O. rdflib is imported inside the functions that need it, so that
importing this module stays cheap for commands that never touch RDF.

API (stable; other modules build on it):
  RDF_MEDIA_TYPES              mime -> rdflib format name (all types Fedora negotiates)
  resolve_format(name_or_mime) -> canonical mime; BadInput for unknown names
  is_rdf_mime(mime)            -> bool
  negotiate(accept_header)     -> best RDF mime for an Accept header, None if none acceptable
  parse(data, mime, base=, source=, storable=)  -> Graph (``<>`` means ``base``); BadInput with source
                               and line; nothing is fetched (remote contexts, entities, ... refused)
  check_storable(graph)        BadInput unless N-Triples can store and serve the graph back
  MAX_RDF_BYTES                default limit on RDF/SPARQL bodies (they are parsed in memory)
  serialize(graph, mime)       -> bytes
  read_ntriples(data) / write_ntriples(graph)  -> fast storage form (sorted, deterministic)
  to_internal(graph, base_url) / to_external(graph, base_url) -> Graph with ids rewritten
  check_user_triples(graph, subject_id, lenient=) -> Graph; Conflict on server-managed triples
  apply_update(graph, update, base=) -> new Graph; BadInput on invalid SPARQL
  server_triples(info, subject_id)   -> triples the server generates for a resource
  containment_triples(subject_id, child_ids) -> ldp:contains triples
  parse_prefer(header) -> (RdfPrefs, applied-string or None);  prefer_header(prefs) -> str
  referenced_ids(graph)        -> internal ids that the graph's objects point at
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fcrctl.errors import BadInput, Conflict
from fcrctl.paths import ROOT_ID

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node

    from fcrctl.repository.base import RdfPrefs, ResourceInfo

    Triple = tuple[Node, Node, Node]

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
LDP = "http://www.w3.org/ns/ldp#"
FEDORA = "http://fedora.info/definitions/v4/repository#"
FCREPO = "http://fedora.info/definitions/fcrepo#"
PREMIS = "http://www.loc.gov/premis/rdf/v1#"
EBUCORE = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"
IANA = "http://www.iana.org/assignments/relation/"
MEMENTO = "http://mementoweb.org/ns#"

PREFIXES = {
    "rdf": RDF_NS,
    "xsd": XSD,
    "ldp": LDP,
    "fedora": FEDORA,
    "premis": PREMIS,
    "ebucore": EBUCORE,
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "pcdm": "http://pcdm.org/models#",
}


def new_graph() -> Graph:
    """An empty Graph without rdflib's ~30 default prefix bindings (they cost more than parsing)."""
    from rdflib import Graph

    return Graph(bind_namespaces="none")


# The seven RDF media types Fedora accepts and produces, mapped to rdflib's format names.
RDF_MEDIA_TYPES: dict[str, str] = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "text/n3": "n3",
    "text/rdf+n3": "n3",
    "application/n3": "n3",
}
# Accepted on reads only (Fedora serves them; an upload as text/plain stays a binary).
_READ_ALIASES = {"application/x-turtle": "text/turtle", "text/plain": "application/n-triples"}
FORMAT_NAMES: dict[str, str] = {
    "turtle": "text/turtle",
    "ttl": "text/turtle",
    "ntriples": "application/n-triples",
    "n-triples": "application/n-triples",
    "nt": "application/n-triples",
    "rdfxml": "application/rdf+xml",
    "rdf/xml": "application/rdf+xml",
    "xml": "application/rdf+xml",
    "jsonld": "application/ld+json",
    "json-ld": "application/ld+json",
    "n3": "text/n3",
}

# Relative IRIs cannot be resolved against "info:fedora/..." (no hierarchy), so internal-id
# bases are parsed against this stand-in URL and rewritten back afterwards.
_SYNTHETIC_BASE = "http://fcrctl.invalid"

# Prefer URIs of Fedora 4/5 and 6 (both are accepted; responses echo what was asked).
PREFER_CONTAINMENT = LDP + "PreferContainment"
PREFER_MEMBERSHIP = LDP + "PreferMembership"
PREFER_MINIMAL_CONTAINER = LDP + "PreferMinimalContainer"
PREFER_SERVER_MANAGED = (FEDORA + "ServerManaged", FCREPO + "ServerManaged")
PREFER_INBOUND = (FEDORA + "InboundReferences", FCREPO + "PreferInboundReferences")
PREFER_EMBED = (FEDORA + "EmbedResources", "http://www.w3.org/ns/oa#PreferContainedDescriptions")

_SERVER_MANAGED_PREDICATES = frozenset(
    {
        LDP + "contains",
        PREMIS + "hasSize",
        PREMIS + "hasMessageDigest",
        IANA + "describes",
        IANA + "describedby",
    }
)
_SERVER_MANAGED_TYPE_NAMESPACES = (LDP, FEDORA, MEMENTO)
# RDF and SPARQL bodies are parsed into memory at ~80x their size (16 MB of Turtle, 400,000
# triples: 1.3 GB and ~1 min): bodies above this are refused unless the limit is raised
# (`fcrctl serve --max-rdf-bytes`, `fcrctl create/put/patch --max-rdf-bytes`).
MAX_RDF_BYTES = 16 * 1024 * 1024
_ALLOWED_UPDATES = frozenset({"InsertData", "DeleteData", "Modify", "DeleteWhere"})


def mime_of(content_type: str | None) -> str | None:
    """``text/turtle; charset=utf-8`` -> ``text/turtle``."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def is_rdf_mime(mime: str | None) -> bool:
    """True for the media types that make an upload an RDF source rather than a binary."""
    return mime_of(mime) in RDF_MEDIA_TYPES


def resolve_format(name_or_mime: str) -> str:
    """A short name (turtle, jsonld, ...) or MIME type -> canonical MIME type."""
    key = name_or_mime.strip().lower()
    if key in FORMAT_NAMES:
        return FORMAT_NAMES[key]
    mime = mime_of(key) or ""
    mime = _READ_ALIASES.get(mime, mime)
    if mime in RDF_MEDIA_TYPES:
        return mime
    names = ", ".join(sorted({"turtle", "ntriples", "rdfxml", "jsonld", "n3"}))
    raise BadInput(f"unknown RDF format {name_or_mime!r}: use one of {names} or an RDF media type")


def negotiate(accept: str | None, default: str = "text/turtle") -> str | None:
    """The best RDF media type for an Accept header; None when nothing offered is acceptable."""
    if not accept or not accept.strip():
        return default
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    offers = [default] + [m for m in RDF_MEDIA_TYPES if m != default] + list(_READ_ALIASES)
    best = parse_accept_header(accept, MIMEAccept).best_match(offers)
    if best is None:
        return None
    return _READ_ALIASES.get(best, best) if best != "text/plain" else "application/n-triples"


# -- parsing and serialising ---------------------------------------------------------


def _parse_base(base: str) -> tuple[str, str | None]:
    """The base to hand rdflib, and the URL prefix to rewrite to ids afterwards (if any)."""
    if base == ROOT_ID or base.startswith(ROOT_ID + "/"):
        return _SYNTHETIC_BASE + base[len(ROOT_ID) :], _SYNTHETIC_BASE
    return base, None


def parse(data: bytes | str, mime: str, *, base: str, source: str = "request body", storable: bool = True) -> Graph:
    """Parse an RDF document; ``<>`` means ``base`` (a URL or an internal id).

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


_FORMAT_LABELS = {"turtle": "Turtle", "json-ld": "JSON-LD", "nt": "N-Triples", "xml": "RDF/XML", "n3": "N3"}


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


class NotSerializable(BadInput):
    """The graph has no representation in the media type asked for (HTTP 406)."""

    kind = "not_acceptable"


def serialize(graph: Graph, mime: str) -> bytes:
    """Serialise ``graph`` in the given RDF media type (or short format name)."""
    media = resolve_format(mime)
    fmt = RDF_MEDIA_TYPES[media]
    if fmt == "nt":
        return write_ntriples(graph)
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=False)
    try:
        out = graph.serialize(format=fmt, encoding="utf-8")
    except ValueError as exc:  # RDF/XML needs every predicate split into namespace + XML name
        raise NotSerializable(f"these triples cannot be written as {_FORMAT_LABELS[fmt]} ({str(exc)[:120]}): "
                              "ask for Turtle, N-Triples or JSON-LD") from None
    return out if isinstance(out, bytes) else out.encode("utf-8")


def read_ntriples(data: bytes) -> Graph:
    """Parse stored N-Triples (our own files, or Fedora 6's)."""

    graph = new_graph()
    if data.strip():
        try:
            _parse_ntriples(data, graph)
        except Exception as exc:
            raise BadInput(f"malformed N-Triples{_where(exc, data)}: {_reason(exc)}") from None
    return graph


def write_ntriples(graph: Graph) -> bytes:
    """Deterministic N-Triples (sorted lines), so equal graphs give equal bytes and digests."""
    out = graph.serialize(format="nt", encoding="utf-8")
    lines = sorted(line for line in out.splitlines() if line.strip())
    return b"".join(line + b"\n" for line in lines)


# -- ids <-> URLs ------------------------------------------------------------------------


def encode_path(rest: str) -> str:
    """A repository path (or id tail) as it goes into a URL: ``%`` and ``?`` escaped, so the URL
    names the same resource again (``#`` cannot be in a path: it starts a fragment here)."""
    head, sep, fragment = rest.partition("#")
    if "%" in head or "?" in head:
        head = head.replace("%", "%25").replace("?", "%3F")
    return head + sep + fragment


def decode_path(rest: str) -> str:
    """The inverse of ``encode_path`` for a URL's path part (any escape decoded, UTF-8 strictly)."""
    head, sep, fragment = rest.partition("#")
    if "%" in head:
        from urllib.parse import unquote

        try:
            head = unquote(head, errors="strict")
        except UnicodeDecodeError:
            raise BadInput(f"{rest[:200]!r} is not UTF-8 once percent-decoded") from None
    return head + sep + fragment


def _rewrite(graph: Graph, old: str, new: str) -> Graph:
    from rdflib import URIRef

    old = old.rstrip("/")
    recode = decode_path if new == ROOT_ID else encode_path if old == ROOT_ID else None

    def term(node: Node) -> Node:
        if isinstance(node, URIRef):
            value = str(node)
            if value == old or value.startswith((old + "/", old + "#")):
                rest = value[len(old) :]
                if rest == "/":
                    rest = ""
                rest = re.sub(r"/fcr:metadata(?=$|#)", "", rest) if new == ROOT_ID else rest
                return URIRef(new + (recode(rest) if recode else rest))
        return node

    out = new_graph()
    for s, p, o in graph:
        out.add((term(s), p, term(o)))
    return out


def to_internal(graph: Graph, base_url: str) -> Graph:
    """Rewrite ``{base_url}/a/b`` to ``info:fedora/a/b`` (``.../fcr:metadata`` names the binary)."""
    return _rewrite(graph, base_url, ROOT_ID)


def to_external(graph: Graph, base_url: str) -> Graph:
    """Rewrite ``info:fedora/a/b`` to ``{base_url}/a/b``; a no-op when base_url is info:fedora."""
    if base_url.rstrip("/") == ROOT_ID:
        return graph
    return _rewrite(graph, ROOT_ID, base_url.rstrip("/"))


def url_to_id(url: str, base_url: str) -> str | None:
    """One URL -> internal id, or None when it is outside the repository."""
    base = base_url.rstrip("/")
    if url == base or url == base + "/":
        return ROOT_ID
    if url.startswith(base + "/"):
        return ROOT_ID + decode_path(url[len(base) :])
    return None


def id_to_url(fedora_id: str, base_url: str) -> str:
    return base_url.rstrip("/") + encode_path(fedora_id[len(ROOT_ID) :])


# -- server-managed triples --------------------------------------------------------------


def is_server_managed(predicate: str, obj: str | None = None) -> bool:
    if predicate in _SERVER_MANAGED_PREDICATES or predicate.startswith((FEDORA, FCREPO)):
        return True
    return predicate == RDF_NS + "type" and obj is not None and obj.startswith(_SERVER_MANAGED_TYPE_NAMESPACES)


def check_user_triples(graph: Graph, *, subject_id: str, lenient: bool = False) -> Graph:
    """Refuse (Conflict) or, when ``lenient``, drop triples only the server may set."""

    del subject_id  # every subject is checked: Fedora guards these predicates everywhere
    managed = [(s, p, o) for s, p, o in graph if is_server_managed(str(p), str(o))]
    if not managed:
        return graph  # nothing to drop: no copy (copying costs as much as building the graph)
    if not lenient:
        p, o = managed[0][1], managed[0][2]
        raise Conflict(
            f"server-managed triple <{p}> {_short(o)} cannot be set: remove it, or use --lenient to ignore it"
        )
    drop = set(managed)
    out = new_graph()
    for triple in graph:
        if triple not in drop:
            out.add(triple)
    return out


def _short(node: Node) -> str:
    text = node.n3()
    return text if len(text) <= 80 else text[:77] + "..."


def apply_update(graph: Graph, update: str, *, base: str) -> Graph:
    """Apply a SPARQL Update (INSERT DATA, DELETE DATA, DELETE/INSERT ... WHERE) to a copy.

    ``<>`` means ``base``. LOAD, CLEAR, DROP and SERVICE are refused: they would reach
    outside the resource (or the network).
    """
    from rdflib.plugins.sparql.processor import prepareUpdate

    parse_base, synthetic = _parse_base(base)
    try:
        prepared = prepareUpdate(update, base=parse_base)
    except Exception as exc:
        raise BadInput(f"invalid SPARQL Update: {_reason(exc)}") from None
    _guard_update(prepared.algebra, parse_base)
    work = _rewrite(graph, ROOT_ID, synthetic) if synthetic else new_graph()
    if not synthetic:
        for triple in graph:
            work.add(triple)
    try:
        work.update(prepared)
    except Exception as exc:
        raise BadInput(f"SPARQL Update failed: {_reason(exc)}") from None
    out = _rewrite(work, synthetic, ROOT_ID) if synthetic else work
    check_storable(out, "SPARQL Update")
    return out


def _guard_update(operations: list[Any], local: str) -> None:
    """Refuse what would make rdflib reach outside the resource, decided on the parsed algebra
    (the text can hide a keyword in an escape such as ``SERVI\\u0043E``): LOAD and the graph
    management operations, SERVICE anywhere, and USING / USING NAMED / WITH naming any graph
    but the resource itself (rdflib fetches a USING graph over the network). A clause naming
    the resource is dropped: the resource is the one graph an update works on already."""
    for operation in operations:
        if operation.name not in _ALLOWED_UPDATES:
            raise BadInput(f"SPARQL Update operation {operation.name} is not allowed: use INSERT/DELETE only")
        for clause in operation.using or []:
            named = clause.named is not None
            graph = clause.named if named else clause.default
            if str(graph) != local:
                keyword = "USING NAMED" if named else "USING"
                raise BadInput(f"SPARQL Update {keyword} <{_shown(graph)}> is not allowed: an update applies to "
                               "the resource itself; remove the clause")
        if operation.withClause is not None and str(operation.withClause) != local:
            raise BadInput(f"SPARQL Update WITH <{_shown(operation.withClause)}> is not allowed: an update applies "
                           "to the resource itself; remove the clause")
        if operation.name == "Modify":
            operation["using"] = None
            operation["withClause"] = None
        service = _find_service(operation)
        if service is not None:
            raise BadInput(f"SPARQL Update with SERVICE <{_shown(service)}> is not allowed: "
                           "it would query another endpoint")


def _shown(iri: object) -> str:
    """An IRI as the user wrote it: a relative one resolved against a local id is shown as that id."""
    text = str(iri)
    return ROOT_ID + text[len(_SYNTHETIC_BASE):] if text.startswith(_SYNTHETIC_BASE) else text


def _find_service(operation: Any) -> str | None:
    from rdflib.plugins.sparql.parserutils import CompValue

    stack: list[Any] = [operation]
    while stack:  # not recursive: the algebra of a hostile update may nest deeply
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                return str(node.get("term"))
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return None


@functools.lru_cache(maxsize=256)  # bounded: interaction models come from stored headers
def _constant(uri: str) -> Any:
    """The URIRef of one of the few predicates and types the server writes, built once: a
    listing writes ~13 per child, and each new URIRef is validated."""
    from rdflib import URIRef

    return URIRef(uri)


def _datetime_literal(value: datetime) -> Any:
    from rdflib import Literal

    return Literal(value.isoformat().replace("+00:00", "Z"), datatype=_constant(XSD + "dateTime"))


def server_triples(info: ResourceInfo, subject_id: str) -> list[Triple]:
    """Triples the server generates for a resource: types, timestamps, users, binary facts."""
    from rdflib import Literal, URIRef

    s = URIRef(subject_id)
    rdf_type = _constant(RDF_NS + "type")
    out: list[Triple] = [(s, rdf_type, _constant(FEDORA + "Resource"))]
    if info.is_binary:
        out += [
            (s, rdf_type, _constant(LDP + "NonRDFSource")),
            (s, rdf_type, _constant(FEDORA + "Binary")),
            (s, _constant(IANA + "describedby"), URIRef(subject_id + "/fcr:metadata")),
        ]
        if info.size is not None:
            out.append((s, _constant(PREMIS + "hasSize"), Literal(info.size, datatype=_constant(XSD + "long"))))
        for algorithm, hexdigest in sorted(info.digests.items()):
            out.append((s, _constant(PREMIS + "hasMessageDigest"), URIRef(digest_urn(algorithm, hexdigest))))
        if info.mime_type:
            out.append((s, _constant(EBUCORE + "hasMimeType"), Literal(info.mime_type)))
        if info.filename:
            out.append((s, _constant(EBUCORE + "filename"), Literal(info.filename)))
    else:
        out += [
            (s, rdf_type, _constant(LDP + "RDFSource")),
            (s, rdf_type, _constant(LDP + "Container")),
            (s, rdf_type, _constant(info.model)),
            (s, rdf_type, _constant(FEDORA + "Container")),
        ]
        if subject_id == ROOT_ID:
            out.append((s, rdf_type, _constant(FEDORA + "RepositoryRoot")))
    out += [
        (s, _constant(FEDORA + "created"), _datetime_literal(info.created)),
        (s, _constant(FEDORA + "lastModified"), _datetime_literal(info.modified)),
    ]
    if info.created_by:
        out.append((s, _constant(FEDORA + "createdBy"), Literal(info.created_by)))
    if info.modified_by:
        out.append((s, _constant(FEDORA + "lastModifiedBy"), Literal(info.modified_by)))
    return out


def containment_triples(subject_id: str, child_ids: Iterable[str]) -> list[Triple]:
    from rdflib import URIRef

    s, contains = URIRef(subject_id), _constant(LDP + "contains")
    return [(s, contains, URIRef(child)) for child in child_ids]


_DIGEST_URN_NAMES = {"sha512": "sha-512", "sha256": "sha-256", "sha1": "sha1", "md5": "md5"}


def digest_urn(algorithm: str, hexdigest: str) -> str:
    """``urn:sha1:...`` / ``urn:sha-256:...`` as Fedora writes them."""
    return f"urn:{_DIGEST_URN_NAMES.get(algorithm, algorithm)}:{hexdigest}"


def parse_digest_urn(urn: str) -> tuple[str, str] | None:
    """``urn:sha-512:HEX`` / ``urn:sha512:HEX`` -> (``sha512``, hex); None if not a digest URN."""
    match = re.fullmatch(r"urn:([a-z0-9-]+):([0-9a-fA-F]+)", urn.strip())
    if not match:
        return None
    algorithm = match.group(1).replace("-", "")
    return (algorithm, match.group(2).lower()) if algorithm in _DIGEST_URN_NAMES else None


# -- Prefer ------------------------------------------------------------------------------


def parse_prefer(header: str | None) -> tuple[RdfPrefs, str | None]:
    """A Prefer header -> (read preferences, Preference-Applied value or None)."""
    from fcrctl.repository.base import RdfPrefs

    if not header:
        return RdfPrefs(), None
    text = header.strip()
    match = re.search(r"return\s*=\s*(representation|minimal)", text)
    if not match:
        return RdfPrefs(), None
    if match.group(1) == "minimal":
        return RdfPrefs(containment=False, membership=False), "return=minimal"
    include = set(_quoted(text, "include"))
    omit = set(_quoted(text, "omit"))
    minimal_container = PREFER_MINIMAL_CONTAINER in include
    prefs = RdfPrefs(
        containment=PREFER_CONTAINMENT not in omit and not minimal_container,
        membership=PREFER_MEMBERSHIP not in omit and not minimal_container,
        server_managed=not omit.intersection(PREFER_SERVER_MANAGED),
        inbound=bool(include.intersection(PREFER_INBOUND)),
        embed_children=bool(include.intersection(PREFER_EMBED)),
    )
    applied = "return=representation"
    if include:
        applied += f'; include="{" ".join(sorted(include))}"'
    if omit:
        applied += f'; omit="{" ".join(sorted(omit))}"'
    return prefs, applied


def _quoted(text: str, key: str) -> list[str]:
    match = re.search(key + r'\s*=\s*"([^"]*)"', text)
    return match.group(1).split() if match else []


def prefer_header(prefs: RdfPrefs) -> str:
    """The Prefer header (Fedora 4 URIs, which Fedora 5 and 6 also accept) for ``prefs``."""
    include: list[str] = []
    omit: list[str] = []
    (omit if not prefs.containment else include).append(PREFER_CONTAINMENT)
    (omit if not prefs.membership else include).append(PREFER_MEMBERSHIP)
    if not prefs.server_managed:
        omit.append(PREFER_SERVER_MANAGED[0])
    if prefs.inbound:
        include.append(PREFER_INBOUND[0])
    if prefs.embed_children:
        include.append(PREFER_EMBED[0])
    header = "return=representation"
    if include:
        header += f'; include="{" ".join(include)}"'
    if omit:
        header += f'; omit="{" ".join(omit)}"'
    return header


def referenced_ids(graph: Graph) -> set[str]:
    """Internal ids that the graph's objects point at (for the inbound-reference index)."""
    out: set[str] = set()
    for _, _, o in graph:
        value = str(o)
        if value == ROOT_ID or value.startswith(ROOT_ID + "/"):
            out.add(value.split("#", 1)[0])
    return out
