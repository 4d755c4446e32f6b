"""Constraint documents: what a refusal's ``Link: <...>; rel="http://www.w3.org/ns/ldp#constrainedBy"`` names.

The Fedora API (section constraints-document, after LDP 4.2.1.6) wants a 4xx caused by a server constraint
to link a document describing it. Fedora links ``CONTEXT/static/constraints/NAME.rdf``, NAME its Java
exception (ConstraintExceptionMapper); we use the same names and place, CONTEXT being the base path
without its last segment (``/rest`` -> ``/``), and serve each as a small OWL ontology in RDF/XML.
An error carries its document's name as the class attribute ``constraint``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcrctl.errors import BadInput, Conflict

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

CONSTRAINED_BY = "http://www.w3.org/ns/ldp#constrainedBy"
DIRECTORY = "/static/constraints/"

DOCUMENTS: dict[str, tuple[str, str]] = {
    "ServerManagedPropertyException": (
        "Server-managed property",
        "The request set or changed a triple only the server writes: ldp:contains, the membership triples, "
        "and the fedora:, fcrepo: and premis digest properties. Send them back unchanged or leave them out.",
    ),
    "ServerManagedTypeException": (
        "Server-managed type",
        "The request set or removed an rdf:type in the ldp:, fedora: or memento: namespaces: a resource's "
        "LDP interaction model is chosen when it is created (Link rel=\"type\") and cannot be changed.",
    ),
    "CannotCreateResourceException": (
        "Cannot create resource",
        "The request named a Link rel=\"type\" that is no interaction model: use ldp:BasicContainer, "
        "ldp:DirectContainer, ldp:IndirectContainer or ldp:NonRDFSource. Or it would create a resource below "
        "a tombstone (a deleted resource): purge the tombstone first.",
    ),
    "ExternalMessageBodyException": (
        "External content refused",
        "An ExternalContent Link must be the only one, name handling=\"copy\", \"redirect\" or \"proxy\" "
        "(those in Accept-External-Content-Handling), and a URL this server allows: file: under a directory "
        "its operator allowed, http(s): fetched only when its operator allowed fetching.",
    ),
    "InteractionModelViolationException": (
        "Interaction model violation",
        "A binary (ldp:NonRDFSource) has no children, and a resource keeps the interaction model it was created "
        "with: delete it and create it again to change it.",
    ),
    "RequestWithAclLinkHeaderException": (
        "ACL link refused",
        "A resource's ACL is at its fcr:acl: a Link rel=\"acl\" naming another one cannot be given on creation.",
    ),
    "CannotCreateMementoException": (
        "Cannot create memento",
        "A memento is made of the resource as it is now by a POST to its TimeMap: a Memento-Datetime "
        "header (a memento of another time, with a body) is not supported.",
    ),
}


class ExternalContentRefused(BadInput):
    constraint = "ExternalMessageBodyException"


class InteractionModelViolation(Conflict):
    constraint = "InteractionModelViolationException"


class AclLinkRefused(BadInput):
    constraint = "RequestWithAclLinkHeaderException"


class InvalidInteractionModel(BadInput):
    constraint = "CannotCreateResourceException"


class CannotCreateBelowTombstone(BadInput):
    constraint = "CannotCreateResourceException"


class MementoDatetimeRefused(BadInput):
    constraint = "CannotCreateMementoException"


def prefix(base_path: str) -> str:
    """Where the documents are served: beside the REST API, as Fedora's webapp serves them."""
    parent = base_path.rstrip("/").rpartition("/")[0]
    return parent + DIRECTORY


def url(base_url: str, base_path: str, name: str) -> str:
    """``base_url`` is the REST API's (ending in ``base_path``)."""
    base = base_path.rstrip("/")
    host = base_url[: len(base_url) - len(base)] if base and base_url.endswith(base) else base_url
    return f"{host}{prefix(base_path)}{name}.rdf"


def document(request_path: str, base_path: str) -> str | None:
    """The name of the document ``request_path`` asks for, or None when it asks for none (only known
    names are answered, so a resource of that path under a root base path stays reachable)."""
    start = prefix(base_path)
    if not request_path.startswith(start) or not request_path.endswith(".rdf"):
        return None
    name = request_path[len(start) : -len(".rdf")]
    return name if name in DOCUMENTS else None


def body(name: str, address: str) -> bytes:
    from rdflib import Graph, Literal, URIRef
    from rdflib.namespace import OWL, RDF, RDFS

    label, comment = DOCUMENTS[name]
    graph = Graph()
    subject = URIRef(address)
    graph.add((subject, RDF.type, OWL.Ontology))
    graph.add((subject, RDFS.label, Literal(label, lang="en")))
    graph.add((subject, RDFS.comment, Literal(comment, lang="en")))
    return graph.serialize(format="xml", encoding="utf-8")


def response(name: str, request: Request, base_url: str, base_path: str) -> Response:
    """GET, HEAD or OPTIONS of a constraint document: public, as Fedora's static files are."""
    from werkzeug.wrappers import Response

    resp = Response(b"" if request.method == "OPTIONS" else body(name, url(base_url, base_path, name)))
    resp.content_type = "application/rdf+xml"
    resp.headers["Allow"] = "GET,HEAD,OPTIONS"
    return resp
