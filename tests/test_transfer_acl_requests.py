"""Requests an ACL costs on import over HTTP, counted by a real ``fcrctl serve`` in each dialect.

Fedora 5.1 and 6 answer a resource's PUT with its ``rel="acl"`` link and an ACL's PUT with its ETag and
Last-Modified (``ContentExposingResource.createUpdateResponse``, ``FedoraAcl``), so an imported ACL is one PUT;
a server that gives neither (4.7, whose answers carry no links) is asked with a HEAD first, as before."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.server.app import FedoraApp
from tests.server_fixture import start_server
from tests.test_transfer import DC, graph_of, run

ACL = "http://www.w3.org/ns/auth/acl#"
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
PROTECTED = 6


def acl_of(path: str) -> Graph:
    node = URIRef(f"info:fedora{path}/fcr:acl#read")
    graph = Graph()
    graph.add((node, RDF_TYPE, URIRef(ACL + "Authorization")))
    graph.add((node, URIRef(ACL + "agent"), Literal("reader")))
    graph.add((node, URIRef(ACL + "accessTo"), URIRef(f"info:fedora{path}")))
    graph.add((node, URIRef(ACL + "mode"), URIRef(ACL + "Read")))
    return graph


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/col with PROTECTED containers that have an ACL each and as many that have none, exported."""
    path = tmp_path_factory.mktemp("acl-source")
    repo = open_repository(str(path / "repo"), create=True)
    try:
        repo.create("/col", ResourceSpec(graph=graph_of(("info:fedora/col", DC + "title", "col"))))
        for n in range(PROTECTED):
            for name in (f"p{n}", f"o{n}"):
                title = graph_of((f"info:fedora/col/{name}", DC + "title", name))
                repo.create(f"/col/{name}", ResourceSpec(graph=title))
            repo.put_acl(f"/col/p{n}", acl_of(f"/col/p{n}"))
    finally:
        repo.close()
    result = run(path / "repo", "export", "/", str(path / "export"), "--no-versions")
    assert result.exit_code == 0, result.output
    return path / "export"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(method, path) of every request the served app answers, HEADs through the client's QuickHead too."""
    seen: list[tuple[str, str]] = []
    dispatch = FedoraApp.dispatch

    def counting(self: FedoraApp, request):  # type: ignore[no-untyped-def]
        seen.append((request.method, request.path))
        return dispatch(self, request)

    monkeypatch.setattr(FedoraApp, "dispatch", counting)
    yield seen


@pytest.mark.parametrize(("dialect", "per_acl"), [("fedora4", 2), ("fedora5", 1), ("fedora6", 1)])
def test_an_imported_acl_costs_one_put_where_the_server_links_it(source: Path, tmp_path: Path, dialect: str,
                                                                 per_acl: int, counted: list[tuple[str, str]]) -> None:
    with start_server(tmp_path / "served", dialect=dialect) as served:
        result = run(served.url, "--json", "import", str(source), "--jobs", "3")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["counts"] == {"container": 2 + 2 * PROTECTED, "acl": PROTECTED}
        about = Counter(path.rsplit("/", 2)[-2] for _, path in counted if path.endswith("/fcr:acl"))
        heads = Counter(path.rsplit("/", 1)[-1] for method, path in counted if method == "HEAD")
        for n in range(PROTECTED):
            acl_requests = about[f"p{n}"] + heads[f"p{n}"]
            assert acl_requests == per_acl, (n, [line for line in counted if f"p{n}" in line[1]])
            assert about[f"o{n}"] == 0 and heads[f"o{n}"] == 0
        repo = open_repository(served.url)
        try:
            for n in range(PROTECTED):
                got = repo.get_acl(f"/col/p{n}")
                assert (None, URIRef(ACL + "agent"), Literal("reader")) in got
        finally:
            repo.close()


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5", "fedora6"])
def test_export_gets_only_the_acls_that_are_there(source: Path, tmp_path: Path, dialect: str,
                                                  counted: list[tuple[str, str]]) -> None:
    """serve says on a container's listing when it has no ACL of its own (Fcrctl-Own-Acl: none): the export's
    ACL GET, a 404 for most resources, is left out for those; Fedora sends no such header, so against it each
    container's ACL is still read."""
    with start_server(source.parent / "repo", dialect=dialect) as served:
        result = run(served.url, "export", "/", str(tmp_path / "out"), "--no-versions")
        assert result.exit_code == 0, result.output
    acl_gets = sorted(path for method, path in counted if method == "GET" and path.endswith("/fcr:acl"))
    # the root's fcr:acl answers with the default root ACL: read as before
    assert acl_gets == sorted(["/rest/fcr:acl", *(f"/rest/col/p{n}/fcr:acl" for n in range(PROTECTED))])
    exported = {p.parent.name for p in (tmp_path / "out").rglob("fcr%3Aacl.*")}
    assert exported - {"out", "rest"} == {f"p{n}" for n in range(PROTECTED)}
