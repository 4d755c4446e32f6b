"""A deleted resource's TimeMap and mementos, as Fedora 6.5 serves them (fcrepo ``b420121792`` "Return mementos
and timemaps on Tombstones", ``6722359b87`` for Accept-Datetime; its FedoraTombstonesIT.testTimeMapVisibleOnTombstone
and FedoraVersioningIT.testPostToDeletedTimemap), against a real ``fcrctl serve --dialect fedora6``; Fedora 4.7
and 5 answered 410 for all of it, and so do those dialects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph, URIRef

from fcrctl.errors import Gone
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import LocalRepository
from tests.api_suite import allow, links
from tests.server_fixture import ServerHandle, start_server

LDP_CONTAINS = URIRef("http://www.w3.org/ns/ldp#contains")
SPARQL = {"Content-Type": "application/sparql-update"}
TITLE = "http://purl.org/dc/elements/1.1/title"


@pytest.fixture(scope="module")
def f6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("tombstone") / "repo", dialect="fedora6") as handle:
        yield handle


def mementos(url: str) -> list[str]:
    got = requests.get(url + "/fcr:versions", headers={"Accept": "text/turtle"})
    assert got.status_code == 200, got.text
    graph = Graph().parse(data=got.text, format="turtle")
    return sorted(str(o) for o in graph.objects(URIRef(url + "/fcr:versions"), LDP_CONTAINS))


def deleted_with_history(server: ServerHandle) -> str:
    """Created, then changed in two later seconds, then deleted in a fourth: four mementos."""
    url = requests.post(server.root).headers["Location"]
    for n in range(2):
        time.sleep(1)
        update = f'INSERT DATA {{ <> <{TITLE}> "title {n}" }}'
        assert requests.patch(url, data=update, headers=SPARQL).status_code == 204
    time.sleep(1)
    assert requests.delete(url).status_code == 204
    return url


def test_a_deleted_resources_timemap_and_mementos(f6: ServerHandle) -> None:
    url = deleted_with_history(f6)
    gone = requests.get(url)
    assert gone.status_code == 410
    assert links(gone, "timemap") == [url + "/fcr:versions"]
    assert links(gone, "hasTombstone") == [url + "/fcr:tombstone"]
    found = mementos(url)
    assert len(found) == 4
    for memento in found[:-1]:
        assert requests.get(memento).status_code == 200
    assert 'title 1"' in requests.get(found[2], headers={"Accept": "application/n-triples"}).text
    assert requests.get(found[-1]).status_code == 410  # the deletion's
    # read only: no POST (410), Allow without it, no Accept-Post
    timemap = requests.get(url + "/fcr:versions")
    assert allow(timemap) == {"GET", "HEAD", "OPTIONS"} and "Accept-Post" not in timemap.headers
    assert allow(requests.options(url + "/fcr:versions")) == {"GET", "HEAD", "OPTIONS"}
    assert requests.post(url + "/fcr:versions").status_code == 410
    link_format = requests.get(url + "/fcr:versions", headers={"Accept": "application/link-format"})
    assert link_format.status_code == 200 and link_format.text.count('rel="memento"') == 4
    # Accept-Datetime on the tombstone: the memento in force then (Fedora 6.5.1)
    first = requests.get(url, headers={"Accept-Datetime": "Thu, 01 Jan 1970 00:00:00 GMT"}, allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"] == found[0]


def test_a_live_resources_timemap_still_takes_post(f6: ServerHandle) -> None:
    url = requests.post(f6.root).headers["Location"]
    timemap = requests.get(url + "/fcr:versions")
    assert allow(timemap) == {"GET", "HEAD", "OPTIONS", "POST"} and "Accept-Post" in timemap.headers
    assert links(requests.get(url + "/missing"), "timemap") == []  # a 404 links nothing


def test_a_child_of_a_deleted_container_keeps_its_timemap(f6: ServerHandle) -> None:
    parent = requests.post(f6.root).headers["Location"]
    child = requests.put(parent + "/child").headers["Location"]
    assert requests.delete(parent).status_code == 204
    assert requests.get(child).status_code == 410
    assert len(mementos(child)) >= 1


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5"])
def test_older_dialects_keep_410(tmp_path: Path, dialect: str) -> None:
    with start_server(tmp_path / "repo", dialect=dialect) as handle:
        url = requests.post(handle.root).headers["Location"]
        made = requests.post(url + "/fcr:versions", headers={"Slug": "one"} if dialect == "fedora4" else {})
        assert made.status_code == 201
        assert requests.delete(url).status_code == 204
        gone = requests.get(url)
        assert gone.status_code == 410 and links(gone, "timemap") == []
        assert requests.get(url + "/fcr:versions").status_code == 410
        assert requests.get(made.headers["Location"]).status_code == 410
        assert requests.options(url + "/fcr:versions").status_code == 410


def test_the_local_repository_lists_and_reads_a_deleted_resources_versions(tmp_path: Path) -> None:
    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    repo.create("/a", ResourceSpec())
    before = repo.versions("/a")
    repo.delete("/a")
    after = repo.versions("/a")
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert repo.info("/a", version=before[-1].id).path == "/a"
    with pytest.raises(Gone):
        repo.info("/a", version=after[-1].id)
    with pytest.raises(Gone):
        repo.info("/a")
    with pytest.raises(Gone):
        repo.create_version("/a")
    repo.close()
