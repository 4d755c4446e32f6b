"""What a server's triples say about a resource: vocabularies, Facts lookups, a listed child's info

Servers write a resource's subject in several spellings (with or without a trailing slash,
percent-encoded or as an IRI), so facts are looked up under all of them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fcrctl import rdf
from fcrctl.repository.base import LDP, NON_RDF_SOURCE, ResourceInfo

if TYPE_CHECKING:
    from rdflib import Graph

FEDORA = "http://fedora.info/definitions/v4/repository#"
PREMIS = "http://www.loc.gov/premis/rdf/v1#"
EBUCORE = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
BASIC = LDP + "BasicContainer"
MEMENTO_ID = re.compile(r"^\d{14}$")


class Facts:
    """Values of one resource's triples, looked up under any of its URL spellings."""

    def __init__(self, graph: Graph, subjects: list[Any]) -> None:
        self._graph = graph
        self._subjects = subjects

    def all(self, predicate: str) -> list[str]:
        from rdflib import URIRef

        out: list[str] = []
        for subject in self._subjects:
            out += [str(o) for o in self._graph.objects(subject, URIRef(predicate))]
        return out

    def text(self, predicate: str) -> str | None:
        values = self.all(predicate)
        return values[0] if values else None

    def datetime(self, predicate: str) -> datetime | None:
        value = self.text(predicate)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


About = list[dict[str, list[str]]]  # what a listing says of one resource: per spelling, predicate -> objects


class IndexFacts(Facts):
    """Facts over what a listing says of one resource (listing_triples.ListingTriples.about)."""

    def __init__(self, about: About) -> None:
        self._found = about

    def all(self, predicate: str) -> list[str]:
        return [o for found in self._found for o in found.get(predicate, ())]


def spellings(url: str) -> list[str]:
    """The subjects a server may write for the resource at ``url``."""
    plain = unquote(url)  # servers write IRIs, where non-ASCII characters stay as they are
    return list(dict.fromkeys([url, url + "/", plain, plain + "/"]))


def embedded_info(about: About, path: str) -> ResourceInfo | None:
    """A child's info from its embedded triples; None when the server did not embed them."""
    facts = IndexFacts(about)
    created = facts.datetime(FEDORA + "created")
    if created is None:
        return None
    types = set(facts.all(RDF_TYPE))
    if LDP + "NonRDFSource" in types or FEDORA + "Binary" in types:
        model = NON_RDF_SOURCE
    else:
        model = next((m for m in (LDP + "DirectContainer", LDP + "IndirectContainer") if m in types), BASIC)
    info = ResourceInfo(
        path=path,
        model=model,
        etag="",  # not part of the triples; `info PATH` has it
        created=created,
        modified=facts.datetime(FEDORA + "lastModified") or created,
        created_by=facts.text(FEDORA + "createdBy"),
        modified_by=facts.text(FEDORA + "lastModifiedBy"),
    )
    if model == NON_RDF_SOURCE:
        info.mime_type = facts.text(EBUCORE + "hasMimeType")
        info.filename = facts.text(EBUCORE + "filename")
        info.size = to_int(facts.text(PREMIS + "hasSize"))
        # by algorithm: the order servers write the digests in is no order at all (--json shows it)
        digests = (rdf.parse_digest_urn(u) for u in facts.all(PREMIS + "hasMessageDigest"))
        info.digests = dict(sorted(filter(None, digests)))
    return info


def plain_strings(graph: Graph) -> Graph:
    """``"x"^^xsd:string`` -> ``"x"``: the same RDF 1.1 term, which Fedora 4.7 always writes typed
    and the rest of fcrctl (and every other server) writes plain."""
    from rdflib import Literal

    xsd_string = rdf.XSD + "string"
    typed = [(s, p, o) for s, p, o in graph if isinstance(o, Literal) and o.datatype is not None
             and str(o.datatype) == xsd_string]
    for s, p, o in typed:
        graph.remove((s, p, o))
        graph.add((s, p, Literal(str(o))))
    return graph


def to_int(value: str | None, default: int | None = None) -> int | None:
    return int(value) if value and value.isdigit() else default
