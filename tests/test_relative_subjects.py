"""A graph written through the Repository API with relative IRIs (``URIRef("")`` for the resource itself,
as rdflib users write ``<>``) is resolved against the resource at write time, as ``serve`` resolves a request
body against its URL; other relative IRIs are refused with the repository unchanged. Before, the local
backend stored ``<>`` in N-Triples it could not read back, and reindex marked the object invalid."""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, URIRef

from fcrctl.errors import BadInput, NotFound
from fcrctl.repository.base import Repository, ResourceSpec

TITLE = URIRef("http://purl.org/dc/terms/title")


def titled(subject: str, title: str = "x") -> Graph:
    graph = Graph()
    graph.add((URIRef(subject), TITLE, Literal(title)))
    return graph


def titles(repo: Repository, path: str) -> set[tuple[str, str]]:
    """(subject, with the resource's own URI written <>, title) of every title triple."""
    own = str(next(iter(repo.get_rdf(path).subjects(TITLE, None)))).split("#", 1)[0]
    assert own.endswith(path)
    return {(str(s).replace(own, "<>"), str(o)) for s, o in repo.get_rdf(path).subject_objects(TITLE)}


def exists(repo: Repository, path: str) -> bool:
    try:
        repo.info(path)
    except NotFound:
        return False
    return True


def test_relative_subjects_resolve_to_the_resource(repo: Repository) -> None:
    graph = titled("", "own")
    graph.add((URIRef("#part"), TITLE, Literal("part")))
    graph.add((URIRef("http://example.org/x"), URIRef("http://purl.org/dc/terms/isPartOf"), URIRef("")))  # object
    repo.create("/a", ResourceSpec(graph=graph))
    assert titles(repo, "/a") == {("<>", "own"), ("<>#part", "part")}
    part_of = URIRef("http://purl.org/dc/terms/isPartOf")
    parts = list(repo.get_rdf("/a").objects(URIRef("http://example.org/x"), part_of))
    assert len(parts) == 1 and str(parts[0]).endswith("/a")
    repo.replace("/a", ResourceSpec(graph=titled("", "replaced")))
    assert titles(repo, "/a") == {("<>", "replaced")}


def test_relative_subject_of_a_binary_description(repo: Repository) -> None:
    import io

    repo.create("/b", ResourceSpec(binary=True, content=io.BytesIO(b"bytes"), mime_type="text/plain"))
    repo.replace_description("/b", titled("", "described"))
    assert ("<>", "described") in titles(repo, "/b")


def test_reindex_and_check_after_relative_subjects(repo: Repository, backend: str) -> None:
    if backend != "local":
        pytest.skip("reindex and check are the local backend's")
    repo.create("/a", ResourceSpec(graph=titled("")))
    assert repo.reindex() >= 1
    assert list(repo.check(read_data=True)) == []
    assert titles(repo, "/a") == {("<>", "x")}


@pytest.mark.parametrize("iri", ["child", "../up", "/abs-path"])
def test_other_relative_iris_are_refused(repo: Repository, backend: str, iri: str) -> None:
    """Locally: over HTTP the graph goes as Turtle, and the server resolves it against the request's URL."""
    if backend != "local":
        pytest.skip("the HTTP backend sends the graph as Turtle: the server resolves relative IRIs")
    with pytest.raises(BadInput, match="relative IRI"):
        repo.create("/a", ResourceSpec(graph=titled(iri)))
    assert not exists(repo, "/a")
    graph = titled("http://example.org/s")
    graph.add((URIRef("http://example.org/s"), URIRef(iri), Literal("p")))  # a relative predicate
    with pytest.raises(BadInput, match="relative IRI"):
        repo.create("/a", ResourceSpec(graph=graph))
    assert not exists(repo, "/a")
