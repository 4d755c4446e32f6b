"""Reading ACL graphs: their authorizations, the form Fedora stores them in, whether an update deletes"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcrctl import paths
from fcrctl.acl.model import ACL, ACL_SUFFIX, AUTHORIZATION, RDF_TYPE, Authorization
from fcrctl.errors import Conflict

if TYPE_CHECKING:
    from rdflib import Graph

def authorizations(graph: Graph, *, user_base_uri: str | None = None, typed: bool = True) -> list[Authorization]:
    """The authorizations of an ACL graph. ``typed``: only subjects typed ``acl:Authorization``
    (as Fedora reads stored ACLs); the root default file counts every subject with acl: triples."""
    from rdflib import Literal, URIRef

    subjects = {s for s, o in graph.subject_objects(URIRef(RDF_TYPE)) if str(o) == AUTHORIZATION}
    found: dict[object, dict[str, set[str]]] = {}
    for s, p, o in graph:
        pred = str(p)
        if not pred.startswith(ACL) or (typed and s not in subjects):
            continue
        if not isinstance(o, URIRef | Literal):
            continue
        values = found.setdefault(s, {}).setdefault(pred[len(ACL):], set())
        value = str(o)
        values.add(value)
        if pred == ACL + "agent" and isinstance(o, URIRef) and user_base_uri and value.startswith(user_base_uri):
            values.add(value[len(user_base_uri):])
    out = []
    for s, d in found.items():
        out.append(Authorization(
            str(s), frozenset(d.get("mode", ())), frozenset(d.get("agent", ())), frozenset(d.get("agentClass", ())),
            frozenset(d.get("agentGroup", ())), frozenset(d.get("accessTo", ())),
            frozenset(d.get("accessToClass", ())), frozenset(d.get("default", ()))))
    return sorted(out, key=lambda a: a.id)


def check_acl(graph: Graph, path: str) -> Graph:
    """An ACL graph as Fedora stores it for the resource at ``path``: refused (Conflict, as
    Fedora's constraint) when an authorization has both acl:accessTo and acl:accessToClass; one
    with neither gets acl:accessTo the resource. Returns the graph (changed in place)."""
    from rdflib import URIRef

    acl_id = acl_id_of(path)
    to, to_class = URIRef(ACL + "accessTo"), URIRef(ACL + "accessToClass")
    for s in {s for s in graph.subjects() if str(s).startswith(acl_id + "#")}:
        has_to = (s, to, None) in graph
        has_class = (s, to_class, None) in graph
        if has_to and has_class:
            raise Conflict(f"authorization {str(s)[len(acl_id):]} of the ACL of {path} has both acl:accessTo and "
                           "acl:accessToClass: Fedora allows one of them per authorization; split it in two",
                           path=path)
        if not has_to and not has_class:
            graph.add((s, to, URIRef(paths.to_id(path))))
    return graph


def acl_id_of(path: str) -> str:
    return paths.to_id(path) + "/" + ACL_SUFFIX


def update_deletes(update: str) -> bool:
    """Whether a SPARQL Update removes triples (Fedora lets Append agents run the others), on its parsed
    algebra: an empty ``DELETE { }`` deletes nothing, as Fedora's WebAC filter reads it."""
    from fcrctl.rdf.update import update_deletes as deletes

    return deletes(update)
