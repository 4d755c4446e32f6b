"""Namespaces and limits fcrctl's RDF uses, the server-managed vocabulary, and an empty Graph without prefixes"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rdflib import Graph


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


def new_graph() -> Graph:
    """An empty Graph without rdflib's ~30 default prefix bindings (they cost more than parsing)."""
    from rdflib import Graph

    return Graph(bind_namespaces="none")
