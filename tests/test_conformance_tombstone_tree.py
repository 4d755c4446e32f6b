"""A deleted container's tree as each Fedora answers for it, against a real ``fcrctl serve`` per dialect.

Fedora 6 (fcrepo ``fcrepo-6.5.2``: ``AbstractDeleteResourceService``, ``ContentExposingResource.getResourceFromPath``,
``FedoraTombstones``, ``CreateResourceServiceImpl.checkParent``; its ``FedoraTombstonesIT``) gives every deleted
resource a tombstone of its own. Fedora 4.7.5 and 5.1.1 (``FedoraResourceImpl.delete``, ``HttpResourceConverter``,
``FedoraTombstones``) keep one at the deleted container only: below it, 410 without a link."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from fcrctl.errors import Conflict, Gone
from fcrctl.repository import open_repository
from fcrctl.repository.base import FEDORA, ResourceSpec
from tests.api_suite import allow, links
from tests.server_fixture import ServerHandle, start_server

CONSTRAINED_BY = "http://www.w3.org/ns/ldp#constrainedBy"
TURTLE = {"Content-Type": "text/turtle"}


@dataclass
class Served:
    dialect: str
    handle: ServerHandle

    @property
    def root(self) -> str:
        return self.handle.root


@pytest.fixture(scope="module", params=["fedora4", "fedora5", "fedora6"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with start_server(tmp_path_factory.mktemp(request.param) / "repo", dialect=request.param) as handle:
        yield Served(request.param, handle)


def tree(server: Served) -> tuple[str, str, str]:
    """A container with a child and a grandchild, the container then deleted."""
    parent = requests.post(server.root).headers["Location"]
    child = requests.put(parent + "/child").headers["Location"]
    grandchild = requests.put(child + "/grandchild").headers["Location"]
    assert requests.delete(parent).status_code == 204
    return parent, child, grandchild


def test_the_deleted_container_links_its_own_tombstone(served: Served) -> None:
    parent, _, _ = tree(served)
    for method in ("GET", "HEAD"):
        gone = requests.request(method, parent)
        assert gone.status_code == 410 and links(gone, "hasTombstone") == [parent + "/fcr:tombstone"]


def test_below_it_fedora6_links_each_ones_own_and_older_dialects_none(served: Served) -> None:
    _, child, grandchild = tree(served)
    for url in (child, grandchild):
        for method in ("GET", "HEAD"):
            gone = requests.request(method, url)
            assert gone.status_code == 410
            if served.dialect == "fedora6":
                assert links(gone, "hasTombstone") == [url + "/fcr:tombstone"]
                assert links(gone, "timemap") == [url + "/fcr:versions"]
            else:
                assert links(gone, "hasTombstone") == [] and links(gone, "timemap") == []


def test_a_path_that_never_was_below_a_tombstone(served: Served) -> None:
    """4.7 and 5.1 find its closest existing ancestor a tombstone: 410, PUT too; 6 looks the path up: 404, and
    refuses to create below a tombstone with 400 and a constraint."""
    parent, child, _ = tree(served)
    for url in (parent + "/never", child + "/never/deeper"):
        got = requests.get(url)
        put = requests.put(url, data="<> <http://purl.org/dc/terms/title> \"t\" .", headers=TURTLE)
        if served.dialect == "fedora6":
            assert got.status_code == 404
            assert put.status_code == 400 and links(put, CONSTRAINED_BY) and "tombstone" in put.text
        else:
            assert got.status_code == 410 and links(got, "hasTombstone") == []
            assert put.status_code == 410 and links(put, "hasTombstone") == []
        assert requests.get(url).status_code == got.status_code  # nothing was made
    assert requests.put(parent).status_code == 410  # the tombstone itself, every dialect


def test_purging_below_the_deleted_container(served: Served) -> None:
    """Fedora 6 purges a child's own tombstone (the parent stays deleted); 4.7 and 5.1 have none there (410)."""
    parent, child, grandchild = tree(served)
    purged = requests.delete(child + "/fcr:tombstone")
    if served.dialect == "fedora6":
        assert purged.status_code == 204
        assert requests.get(child).status_code == 404 and requests.get(grandchild).status_code == 404
        assert requests.get(parent).status_code == 410
    else:
        assert purged.status_code == 410 and links(purged, "hasTombstone") == []
        assert requests.get(child).status_code == 410
    assert requests.delete(parent + "/fcr:tombstone").status_code == 204
    for url in (parent, child, grandchild):
        assert requests.get(url).status_code == 404
    assert requests.put(parent).status_code == 201


def test_other_methods_on_a_tombstone(served: Served) -> None:
    parent, _, _ = tree(served)
    live = requests.post(served.root).headers["Location"]
    tombstone = parent + "/fcr:tombstone"
    if served.dialect == "fedora6":  # FedoraTombstonesIT.testDisallowedMethods
        assert requests.options(tombstone).status_code == 200 and allow(requests.options(tombstone)) == {"DELETE"}
        for method in ("GET", "PUT", "POST"):
            refused = requests.request(method, tombstone)
            assert refused.status_code == 405 and refused.headers["Allow"] == "DELETE"
        assert requests.options(live + "/fcr:tombstone").status_code == 404
        assert requests.delete(live + "/fcr:tombstone").status_code == 404
        got = requests.get(live + "/fcr:tombstone")
        assert got.status_code == 405 and got.headers["Allow"] == ""
        assert requests.get(live).status_code == 200
    else:  # only DELETE is defined: JAX-RS answers the rest
        for method in ("GET", "PUT", "POST"):
            refused = requests.request(method, tombstone)
            assert refused.status_code == 405 and allow(refused) == {"DELETE", "OPTIONS"}
        # FedoraTombstones.delete calls delete() on what the path resolves to: a live resource is deleted
        assert requests.delete(live + "/fcr:tombstone").status_code == 204
        gone = requests.get(live)
        assert gone.status_code == 410 and links(gone, "hasTombstone") == [live + "/fcr:tombstone"]
    assert requests.delete(served.root + "never-was/fcr:tombstone").status_code == 404
    assert requests.get(parent).status_code == 410


def test_fedora6_keeps_an_archival_groups_tombstones_together(tmp_path: Path) -> None:
    """FedoraTombstonesIT.testArchiveGroupDisallowedMethods and testPurgingGrandchildren."""
    with start_server(tmp_path / "repo", dialect="fedora6") as server:
        group = server.url + "/group"
        assert requests.put(group, headers={"Link": f'<{FEDORA}ArchivalGroup>; rel="type"'}).status_code == 201
        child = requests.post(group).headers["Location"]
        grandchild = requests.post(child).headers["Location"]
        assert requests.delete(child).status_code == 204
        assert requests.get(grandchild).status_code == 410
        for url in (grandchild, child):
            refused = requests.delete(url + "/fcr:tombstone")
            assert refused.status_code == 405 and refused.headers["Allow"] == ""
            options = requests.options(url + "/fcr:tombstone")
            assert options.status_code == 200 and options.headers["Allow"] == ""
        assert requests.get(child).status_code == 410 and requests.get(group).status_code == 200
        assert requests.delete(group + "/fcr:tombstone").status_code == 404  # live
        assert requests.delete(group).status_code == 204
        assert requests.delete(child + "/fcr:tombstone").status_code == 405  # still in the (deleted) group
        assert requests.delete(group + "/fcr:tombstone").status_code == 204
        for url in (group, child, grandchild):
            assert requests.get(url).status_code == 404


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5", "fedora6"])
def test_the_client_never_purges_a_live_resource(tmp_path: Path, dialect: str) -> None:
    """4.7 and 5.1 delete a live resource on DELETE of its fcr:tombstone: the client asks first there."""
    with start_server(tmp_path / "repo", dialect=dialect) as server:
        url = requests.put(server.root + "kept").headers["Location"]
        repo = open_repository(server.url, api=dialect)
        try:
            with pytest.raises(Conflict, match="not deleted"):
                repo.purge("/kept")
            assert requests.get(url).status_code == 200
            repo.create("/kept/child", ResourceSpec())
            repo.delete("/kept")
            if dialect == "fedora6":
                repo.purge("/kept/child")  # its own tombstone
            else:
                with pytest.raises(Gone, match="purge that ancestor"):
                    repo.purge("/kept/child")
            repo.purge("/kept")
            assert requests.get(url).status_code == 404
        finally:
            repo.close()
