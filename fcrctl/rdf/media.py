"""RDF media types: names, content negotiation, and serialising a graph in one of them"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from fcrctl.errors import BadInput
from fcrctl.rdf.vocab import PREFIXES

if TYPE_CHECKING:
    from rdflib import Graph


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
_FORMAT_LABELS = {"turtle": "Turtle", "json-ld": "JSON-LD", "nt": "N-Triples", "xml": "RDF/XML", "n3": "N3"}


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
    if accept is not None and len(accept) <= 256:  # clients send the same few: werkzeug's parse is ~0.3 ms
        return _negotiated(accept, default)
    return _negotiate(accept, default)


@functools.lru_cache(maxsize=256)
def _negotiated(accept: str, default: str) -> str | None:
    return _negotiate(accept, default)


def _negotiate(accept: str | None, default: str) -> str | None:
    if not accept or not accept.strip():
        return default
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    offers = [default] + [m for m in RDF_MEDIA_TYPES if m != default] + list(_READ_ALIASES)
    best = parse_accept_header(accept, MIMEAccept).best_match(offers)
    if best is None:
        return None
    return _READ_ALIASES.get(best, best) if best != "text/plain" else "application/n-triples"


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


def write_ntriples(graph: Graph) -> bytes:
    """Deterministic N-Triples (sorted lines), so equal graphs give equal bytes and digests."""
    out = graph.serialize(format="nt", encoding="utf-8")
    lines = sorted(line for line in out.splitlines() if line.strip())
    return b"".join(line + b"\n" for line in lines)
