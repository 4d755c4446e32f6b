"""Server-managed triples: which a client may not set, and those the server generates for a resource"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fcrctl.errors import BadInput, Conflict
from fcrctl.paths import ROOT_ID
from fcrctl.rdf.vocab import (
    _SERVER_MANAGED_PREDICATES,
    _SERVER_MANAGED_TYPE_NAMESPACES,
    EBUCORE,
    FCREPO,
    FEDORA,
    IANA,
    LDP,
    PREMIS,
    RDF_NS,
    XSD,
    new_graph,
)

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node

    from fcrctl.rdf import Triple
    from fcrctl.repository.base import ResourceInfo


class ServerManagedConflict(Conflict):
    """A triple only the server writes was sent; ``constraint`` names the document an HTTP answer links
    (rel=ldp#constrainedBy), as Fedora names its exception."""

    constraint = "ServerManagedPropertyException"


class ServerManagedTypeConflict(ServerManagedConflict):
    constraint = "ServerManagedTypeException"


def is_server_managed(predicate: str, obj: str | None = None) -> bool:
    if predicate in _SERVER_MANAGED_PREDICATES or predicate.startswith((FEDORA, FCREPO)):
        return True
    return predicate == RDF_NS + "type" and obj is not None and obj.startswith(_SERVER_MANAGED_TYPE_NAMESPACES)


# an absolute IRI starts with its scheme (RFC 3987); anything else is relative
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:").match


def _relative(term: Node) -> bool:
    from rdflib import URIRef  # imported already: the graph is rdflib's

    return isinstance(term, URIRef) and not _ABSOLUTE(term)


def check_user_triples(graph: Graph, *, subject_id: str, lenient: bool = False) -> Graph:
    """Refuse (Conflict) or, when ``lenient``, drop triples only the server may set.

    Relative IRIs (a graph built with ``URIRef("")`` for the resource itself) are resolved against
    ``subject_id`` (``<>`` and ``<#name>``), as the server resolves a request body against its URL;
    other relative IRIs are refused (BadInput): stored as N-Triples they could not be read back."""
    from rdflib import URIRef

    managed = []
    relative = False
    absolute = _ABSOLUTE
    for s, p, o in graph:
        if is_server_managed(str(p), str(o)):
            managed.append((s, p, o))
        if not relative and (
            (type(s) is URIRef and not absolute(s)) or not absolute(p) or (type(o) is URIRef and not absolute(o))
        ):
            relative = True
    if relative:
        graph = _resolved(graph, subject_id)
        managed = [(s, p, o) for s, p, o in graph if is_server_managed(str(p), str(o))]
    if not managed:
        return graph  # nothing to drop: no copy (copying costs as much as building the graph)
    if not lenient:
        p, o = managed[0][1], managed[0][2]
        kind = ServerManagedTypeConflict if str(p) == RDF_NS + "type" else ServerManagedConflict
        raise kind(
            f"server-managed triple <{p}> {_short(o)} cannot be set: remove it, or use --lenient to ignore it"
        )
    drop = set(managed)
    out = new_graph()
    for triple in graph:
        if triple not in drop:
            out.add(triple)
    return out


def _resolved(graph: Graph, subject_id: str) -> Graph:
    from rdflib import URIRef

    def resolve(term: Node, *, predicate: bool = False) -> Node:
        if not _relative(term):
            return term
        if not predicate and subject_id and (str(term) == "" or str(term).startswith("#")):
            return URIRef(subject_id + str(term))
        raise BadInput(
            f"relative IRI <{term}> in the RDF: write it absolute, or use <> (URIRef('')) or <#name> "
            "for the resource itself"
        )

    out = new_graph()
    for s, p, o in graph:
        out.add((resolve(s), resolve(p, predicate=True), resolve(o)))
    return out


def _short(node: Node) -> str:
    text = node.n3()
    return text if len(text) <= 80 else text[:77] + "..."


@functools.lru_cache(maxsize=256)  # bounded: interaction models come from stored headers
def _constant(uri: str) -> Any:
    """The URIRef of one of the few predicates and types the server writes, built once: a
    listing writes ~13 per child, and each new URIRef is validated."""
    from rdflib import URIRef

    return URIRef(uri)


def datetime_literal(value: datetime) -> Any:
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
        (s, _constant(FEDORA + "created"), datetime_literal(info.created)),
        (s, _constant(FEDORA + "lastModified"), datetime_literal(info.modified)),
    ]
    if info.created_by:
        out.append((s, _constant(FEDORA + "createdBy"), Literal(info.created_by)))
    if info.modified_by:
        out.append((s, _constant(FEDORA + "lastModifiedBy"), Literal(info.modified_by)))
    return out


def containment_triples(subject_id: str, child_ids: Iterable[str]) -> Iterator[Triple]:
    """``ldp:contains`` triples, made as the ids come (a listing of a million children streams)."""
    from rdflib import URIRef

    s, contains = URIRef(subject_id), _constant(LDP + "contains")
    return ((s, contains, URIRef(child)) for child in child_ids)


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
