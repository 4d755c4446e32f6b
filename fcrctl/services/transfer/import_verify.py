"""Verifying an import: what differs between the repository and the export for one resource"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcrctl import rdf
from fcrctl.errors import FcrctlError
from fcrctl.repository.base import RdfPrefs, Repository
from fcrctl.services.transfer import acl
from fcrctl.services.transfer.import_read import BINARY_FACTS, Prepared, without

if TYPE_CHECKING:
    from rdflib import Graph

# what the server sets on every ACL, kept in its headers rather than its triples
_ACL_MANAGED = frozenset(rdf.FEDORA + name for name in ("created", "lastModified", "createdBy", "lastModifiedBy"))


def difference(repo: Repository, prepared: Prepared) -> str | None:
    """What differs between the repository and the source for one resource (None: equal)."""
    from rdflib.compare import isomorphic

    entry, state = prepared.entry, prepared.current
    if state is None:
        return None
    try:
        info = repo.info(entry.path)
    except FcrctlError as exc:
        return exc.message
    if info.is_binary != state.spec.binary:
        return f"is {'a binary' if info.is_binary else 'a container'} in the repository"
    prefs = RdfPrefs(containment=False, membership=False, server_managed=False)
    have = rdf.check_user_triples(repo.get_rdf(entry.path, prefs=prefs), subject_id="", lenient=True)
    if state.spec.binary:
        have = without(have, BINARY_FACTS)
    want = state.graph()
    if want is not None and not isomorphic(_plain_strings(have), _plain_strings(want)):
        return "triples differ from the export"
    for algorithm, expected in state.spec.digests.items():
        actual = info.digests.get(algorithm)
        if actual is not None and actual != expected:
            return f"{algorithm} is {actual}, the export says {expected}"
    if state.spec.binary and state.spec.external_url is None and info.size != state.size:
        return f"size is {info.size}, the export's file has {state.size} bytes"
    if prepared.acl is not None and acl.supported(repo):
        return _acl_difference(repo, entry.path, prepared.acl)
    return None


def _acl_difference(repo: Repository, path: str, exported: Graph) -> str | None:
    """What differs between ``path``'s ACL and the export's ``fcr%3Aacl`` (its triples less the
    server-managed ones: dates, users, the types every ACL has)."""
    from rdflib.compare import isomorphic

    try:
        have = acl.read(repo, path)
    except FcrctlError as exc:
        return f"its ACL: {exc.message}"
    if have is None:
        return "the export has an ACL (fcr:acl), the repository has none"
    if not isomorphic(_acl_rules(have), _acl_rules(exported)):
        return "ACL triples differ from the export's fcr:acl"
    return None


def _acl_rules(graph: Graph) -> Graph:
    out = rdf.new_graph()
    for s, p, o in rdf.check_user_triples(graph, subject_id="", lenient=True):
        if str(p) not in _ACL_MANAGED and not (str(p) == acl.RDF_TYPE and str(o) == acl.WEBAC_ACL):
            out.add((s, p, o))
    return _plain_strings(out)


def _plain_strings(graph: Graph) -> Graph:
    """``graph`` with each "x"^^xsd:string as "x": the same literal in RDF 1.1, which one server
    writes one way and another the other (Fedora 4's Turtle typed, N-Triples from serve plain)."""
    from rdflib import Literal

    if not any(isinstance(o, Literal) and str(o.datatype) == _XSD_STRING for o in graph.objects()):
        return graph
    out = rdf.new_graph()
    for s, p, o in graph:
        out.add((s, p, Literal(str(o)) if isinstance(o, Literal) and str(o.datatype) == _XSD_STRING else o))
    return out


_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
