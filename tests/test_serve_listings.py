"""serve streams a container's RDF (issue 14): N-Triples, Turtle and N3 go out while the
children are read from the index, in chunks that join into one document; JSON-LD and RDF/XML
are built whole up to a bound and refused above it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rdflib import Graph
from rdflib.compare import isomorphic

from fcrctl import rdf
from fcrctl.repository import open_repository
from fcrctl.server import listings
from tests.server_fixture import start_server

EMBED = f'return=representation; include="{rdf.FEDORA}EmbedResources"'
OMIT_CONTAINMENT = f'return=representation; omit="{rdf.LDP}PreferContainment"'
CHILD_BODY = """@prefix dc: <http://purl.org/dc/elements/1.1/> .
@prefix ex: <http://example.org/> .
<> dc:title "child {i}" ; ex:true true ; ex:part [ ex:name "part of {i}" ; ex:more [ ex:n {i} ] ] .
"""


def _populate(root: Path, children: int) -> None:
    repo = open_repository(str(root), create=True)
    try:
        from fcrctl.repository.base import ResourceSpec

        top = rdf.parse(b'<> <http://purl.org/dc/elements/1.1/title> "top" ; <http://example.org/b> [] .',
                        "text/turtle", base="info:fedora/c")
        repo.create("/c", ResourceSpec(graph=top))
        for i in range(children):
            graph = rdf.parse(CHILD_BODY.format(i=i).encode(), "text/turtle", base=f"info:fedora/c/k{i}")
            repo.create(f"/c/k{i}", ResourceSpec(graph=graph))
    finally:
        repo.close()


@pytest.fixture(scope="module")
def repo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("listings") / "repo"
    _populate(path, 40)
    return path


def _get(url: str, accept: str, prefer: str | None = None, method: str = "GET") -> requests.Response:
    headers = {"Accept": accept, **({"Prefer": prefer} if prefer else {})}
    return requests.request(method, url, headers=headers, timeout=30)


@pytest.mark.parametrize("dialect", ["fedora4", "fedora6"])
@pytest.mark.parametrize("accept,fmt", [("text/turtle", "turtle"), ("text/n3", "n3")])
def test_turtle_listing_streams_in_chunks_that_hold_the_graph(
    repo_path: Path, dialect: str, accept: str, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 7 triples split blank-node trees and the children's groups: joined, they are
    the graph N-Triples and JSON-LD (built whole) give, blank nodes included."""
    monkeypatch.setattr(listings, "CHUNK_TRIPLES", 7)
    monkeypatch.setattr("fcrctl.server.keepalive.SMALL", 0)  # no read-ahead: this small listing streams
    with start_server(repo_path, dialect=dialect) as server:
        url = server.url + "/c"
        for prefer in (EMBED, None):
            streamed = _get(url, accept, prefer)
            assert streamed.status_code == 200, streamed.text
            assert "Content-Length" not in streamed.headers
            assert streamed.headers.get("Transfer-Encoding") == "chunked"
            assert streamed.headers["ETag"].startswith('W/"')
            assert streamed.headers["Content-Type"].startswith(accept)
            whole = _get(url, "application/ld+json", prefer)
            assert whole.status_code == 200 and whole.headers.get("Content-Length")
            got = Graph().parse(data=streamed.content, format=fmt, publicID=url)
            assert isomorphic(_plain(got), _plain(Graph().parse(data=whole.content, format="json-ld", publicID=url)))
            assert len(got) > 40
            assert streamed.content.count(b"@prefix dc:") == 1  # declared once, not per chunk
        embedded = Graph().parse(data=_get(url, accept, EMBED).content, format=fmt, publicID=url)
        assert len(embedded) > 40 * 5


@pytest.mark.parametrize("dialect", ["fedora4", "fedora6"])
def test_streamed_listing_honours_prefer_and_head(repo_path: Path, dialect: str) -> None:
    with start_server(repo_path, dialect=dialect) as server:
        url = server.url + "/c"
        for accept, fmt in (("text/turtle", "turtle"), ("application/n-triples", "nt")):
            omitted = _get(url, accept, OMIT_CONTAINMENT)
            assert omitted.status_code == 200
            assert omitted.headers["Preference-Applied"].startswith("return=representation")
            graph = Graph().parse(data=omitted.content, format=fmt, publicID=url)
            assert not list(graph.triples((None, _contains(), None)))
            full = Graph().parse(data=_get(url, accept).content, format=fmt, publicID=url)
            assert len(list(full.triples((None, _contains(), None)))) == 40
            head = _get(url, accept, method="HEAD")
            get = _get(url, accept)
            assert head.status_code == 200 and head.content == b""
            # a small body is built for HEAD too, so HEAD gives GET's length and keeps the connection open
            assert head.headers.get("Content-Length") == get.headers.get("Content-Length") == str(len(get.content))
            assert head.headers["ETag"] == get.headers["ETag"]


def _plain(graph: Graph) -> Graph:
    """``"x"^^xsd:string`` as ``"x"`` (one RDF 1.1 term; Fedora 4's Turtle writes the first, its JSON-LD the second)."""
    from rdflib import Literal
    from rdflib.namespace import XSD

    out = Graph()
    for s, p, o in graph:
        out.add((s, p, Literal(str(o)) if isinstance(o, Literal) and o.datatype == XSD.string else o))
    return out


def _contains() -> Any:
    from rdflib import URIRef

    return URIRef(rdf.LDP + "contains")


class _Gated:
    """The served repository, whose listings stop after ``after`` triples until the gate opens:
    a server that builds the body whole cannot send a first chunk before that."""

    def __init__(self, repo: Any, after: int) -> None:
        self._repo, self._after = repo, after
        self.gate, self.reached = threading.Event(), threading.Event()

    def rdf_triples(self, path: str, **kwargs: Any) -> Iterator[Any]:
        triples = self._repo.rdf_triples(path, **kwargs)

        def gated() -> Iterator[Any]:
            for count, triple in enumerate(triples):
                if count == self._after:
                    self.reached.set()
                    assert self.gate.wait(20), "the test never opened the gate"
                yield triple

        return gated()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


@pytest.mark.parametrize("accept", ["text/turtle", "application/n-triples", "text/n3"])
def test_first_chunk_leaves_before_the_children_are_all_read(
    tmp_path: Path, accept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings, "CHUNK_TRIPLES", 50)
    _populate(tmp_path / "repo", 0)
    repo = open_repository(str(tmp_path / "repo"))
    gated = _Gated(repo, after=1200)
    try:
        from fcrctl.repository.base import ResourceSpec

        for i in range(1500):
            repo.create(f"/c/n{i}", ResourceSpec(graph=rdf.new_graph()))
        with (
            start_server(repo=gated) as server,  # type: ignore[arg-type]
            requests.get(server.url + "/c", headers={"Accept": accept}, stream=True, timeout=30) as response,
        ):
            assert response.status_code == 200
            chunks = response.iter_content(None)
            first = next(chunks)
            assert first and not gated.gate.is_set()
            assert gated.reached.wait(10)  # the server is still reading the children
            gated.gate.set()
            body = first + b"".join(chunks)
        fmt = rdf.RDF_MEDIA_TYPES[accept]
        graph = Graph().parse(data=body, format=fmt, publicID=server.url + "/c")
        assert len(list(graph.triples((None, _contains(), None)))) == 1500
    finally:
        gated.gate.set()
        repo.close()


def test_json_ld_above_the_bound_is_refused_with_the_types_that_stream(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings, "MAX_WHOLE_TRIPLES", 30)
    with start_server(repo_path) as server:
        url = server.url + "/c"
        for accept in ("application/ld+json", "application/rdf+xml"):
            refused = _get(url, accept)
            assert refused.status_code == 406
            assert "text/turtle" in refused.text and "PreferContainment" in refused.text
            assert _get(url, accept, OMIT_CONTAINMENT).status_code == 200  # the container alone is small
        assert _get(url, "text/turtle").status_code == 200


def test_turtle_chunks_join_into_the_graph_whatever_the_cut() -> None:
    """Cut after every n triples, through nested blank nodes: the chunks parse as the graph; a
    body of one chunk is byte for byte what serialising the whole graph gives."""
    from rdflib import BNode, Literal, URIRef

    graph = Graph()
    for i in range(20):
        child, part, more = URIRef(f"http://x/c/{i}"), BNode(), BNode()
        graph.add((URIRef("http://x/c"), _contains(), child))
        graph.add((child, URIRef("http://example.org/part"), part))
        graph.add((part, URIRef("http://example.org/name"), Literal(f"n{i}")))
        graph.add((part, URIRef("http://example.org/more"), more))
        graph.add((more, URIRef("http://example.org/n"), Literal(i)))
    assert b"".join(listings.turtle_chunks(list(graph), "text/turtle")) == rdf.serialize(graph, "text/turtle")
    for per_chunk in (1, 3, 7, 100):
        for mime, fmt in (("text/turtle", "turtle"), ("text/n3", "n3")):
            body = b"".join(listings.turtle_chunks(list(graph), mime, per_chunk=per_chunk))
            assert isomorphic(Graph().parse(data=body, format=fmt), graph), (per_chunk, mime)
    assert Graph().parse(data=b"".join(listings.turtle_chunks([], "text/turtle")), format="turtle").__len__() == 0


def test_a_head_of_a_long_turtle_listing_writes_what_its_read_ahead_needs(repo_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """HEAD reads GET's body ahead (keepalive.SMALL) for its Content-Length. Chunks doubling from the
    first, a long listing's HEAD writes through rdflib only the triples those bytes need, not a whole
    CHUNK_TRIPLES chunk (~0.15 s of serve's CPU for each HEAD of a container of 2,000 children or more)."""
    monkeypatch.setattr(listings, "CHUNK_TRIPLES", 150)
    monkeypatch.setattr(listings, "FIRST_CHUNK_TRIPLES", 5)
    monkeypatch.setattr("fcrctl.server.keepalive.SMALL", 1024)
    written: list[int] = []
    real = listings._written

    def counting(graph: Graph, writer: type, declared: set[bytes]) -> bytes:
        written.append(len(graph))
        return real(graph, writer, declared)

    monkeypatch.setattr(listings, "_written", counting)
    with start_server(repo_path, dialect="fedora6") as server:
        head = _get(server.url + "/c", "text/turtle", EMBED, method="HEAD")
        assert head.status_code == 200 and "Content-Length" not in head.headers  # too long to be read whole
        assert 0 < sum(written) <= 5 + 10 + 20, written
        written.clear()
        got = Graph().parse(data=_get(server.url + "/c", "text/turtle", EMBED).content, format="turtle")
    assert written[:4] == [5, 10, 20, 40] and max(written) == 150  # then whole chunks
    assert len(got) == sum(written)
