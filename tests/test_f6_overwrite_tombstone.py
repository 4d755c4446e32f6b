"""Overwrite-Tombstone over serve, as Fedora 6.5 takes it (fcrepo 6.5.2: FedoraLdp.createOrReplaceObjectRdf,
OverwriteRdfTombstonePersister; FedoraTombstonesIT.testOverwrite*), and import --overwrite-tombstones using it
(keeping the path's history) against serve and the local backend, purging where a server does not take it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local.repository import LocalRepository
from tests.api_suite import AG_LINK, BASIC, LDP, NON_RDF, TURTLE, links
from tests.server_fixture import ServerHandle, start_server

OVER = {"Overwrite-Tombstone": "true"}


@pytest.fixture(scope="module")
def f6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("f6-over") / "repo", dialect="fedora6") as handle:
        yield handle


def state(repo: LocalRepository) -> list[tuple[str, str, int]]:
    """Every live resource with its state token and version count, and every tombstone's path."""
    rows = repo._index.children("/", recursive=True, include_deleted=True)  # noqa: SLF001 - tombstones too
    return sorted((r.path, r.headers.get("stateToken", ""), len(repo.versions(r.path))) for r in rows)


def timemap(url: str) -> list[str]:
    body = requests.get(url + "/fcr:versions", headers={"Accept": "application/link-format"}).text
    return [line for line in body.split(",") if 'rel="memento"' in line]


def test_a_container_and_a_binary_come_back_after_their_history(f6: ServerHandle) -> None:
    """testOverwriteArchivalGroupTombstone's path for a plain container and a binary: 201, the old mementos stay
    in the TimeMap before the new state, the new state is what was sent."""
    assert f6.repo is not None
    url = f6.url + "/c"
    assert requests.put(url, headers=TURTLE, data="<> <http://x/t> 'one' .").status_code == 201
    first = timemap(url)
    assert requests.put(url, headers=TURTLE, data="<> <http://x/t> 'two' .").status_code == 204
    assert requests.delete(url).status_code == 204
    before = f6.repo.versions("/c")
    assert requests.put(url, headers=TURTLE, data="<> <http://x/t> 'three' .").status_code == 410
    made = requests.put(url, headers={**TURTLE, **OVER}, data="<> <http://x/t> 'three' .")
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == url
    got = requests.get(url, headers={"Accept": "text/turtle"})
    assert got.status_code == 200 and "three" in got.text and "two" not in got.text
    after = f6.repo.versions("/c")
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert "one" in {str(o) for o in f6.repo.get_rdf("/c", version=before[0].id).objects()}
    assert len(timemap(url)) >= len(first)  # (mementos are named by the second: these writes may share one)

    binary = f6.url + "/b"
    assert requests.put(binary, data=b"first", headers={"Content-Type": "text/plain"}).status_code == 201
    assert requests.delete(binary).status_code == 204
    made = requests.put(binary, data=b"second", headers={"Content-Type": "text/plain", **OVER})
    assert made.status_code == 201
    assert requests.get(binary).content == b"second"
    assert len(f6.repo.versions("/b")) == 3


def test_inside_an_archival_group_and_a_group_itself(f6: ServerHandle) -> None:
    """A deleted member of a live group comes back in the group's object; a deleted group comes back only as
    a group (409 otherwise: testOverwriteArchivalGroupInteractionModel), and a plain container not as one
    (testChangeContainerToArchivalGroup); its members' tombstones stay."""
    assert f6.repo is not None
    group = f6.url + "/g"
    assert requests.put(group, headers={"Link": AG_LINK}).status_code == 201
    assert requests.put(group + "/m", headers=TURTLE, data="").status_code == 201
    assert requests.delete(group + "/m").status_code == 204
    back = requests.put(group + "/m", headers={**TURTLE, **OVER}, data="<> <http://x/t> 'back' .")
    assert back.status_code == 201
    assert links(requests.head(group + "/m"), "archival-group") == [group]
    assert f6.repo.info("/g/m").group == "/g"
    assert requests.delete(group).status_code == 204
    before = state(f6.repo)
    for link in (BASIC, ""):
        refused = requests.put(group, headers={**OVER, **({"Link": link} if link else {})})
        assert refused.status_code == 409, refused.text
        assert links(refused, f"{LDP}constrainedBy") == []
    requests.put(f6.url + "/plain", headers=TURTLE, data="")
    requests.delete(f6.url + "/plain")
    before = state(f6.repo)
    assert requests.put(f6.url + "/plain", headers={**OVER, "Link": AG_LINK}).status_code == 409
    assert state(f6.repo) == before
    assert requests.put(group, headers={**OVER, "Link": AG_LINK}).status_code == 201
    assert f6.repo.info("/g").archival_group
    assert requests.get(group + "/m").status_code == 410  # the members' tombstones stay


def test_refused_overwrites_leave_the_repository_as_it_was(f6: ServerHandle) -> None:
    """A container's tombstone written as a binary: 409 with constrainedBy (FedoraLdp's interaction model check:
    testOverwriteTombstoneInteractionModel), and a binary's as a container; below a deleted parent: 400 with
    constrainedBy (checkParent); If-None-Match: * matches the deleted resource: 412; a rel=acl Link: 400; a value
    other than true (Boolean.parseBoolean): 410 as without the header."""
    assert f6.repo is not None
    requests.put(f6.url + "/r", headers=TURTLE, data="")
    requests.put(f6.url + "/r/kid", headers=TURTLE, data="")
    requests.put(f6.url + "/rb", data=b"x", headers={"Content-Type": "text/plain"})
    requests.delete(f6.url + "/r")
    requests.delete(f6.url + "/rb")
    before = state(f6.repo)
    as_binary = requests.put(f6.url + "/r", data=b"x", headers={"Link": NON_RDF, "Content-Type": "text/plain", **OVER})
    assert as_binary.status_code == 409
    assert links(as_binary, f"{LDP}constrainedBy")[0].endswith("/InteractionModelViolationException.rdf")
    as_container = requests.put(f6.url + "/rb", headers={"Link": BASIC, **TURTLE, **OVER}, data="")
    assert as_container.status_code == 409
    below = requests.put(f6.url + "/r/kid", headers={**TURTLE, **OVER}, data="")
    assert below.status_code == 400
    assert links(below, f"{LDP}constrainedBy")[0].endswith("/CannotCreateResourceException.rdf")
    assert requests.put(f6.url + "/rb", data=b"y", headers={"If-None-Match": "*", **OVER}).status_code == 412
    acl = requests.put(f6.url + "/r", headers={**TURTLE, **OVER, "Link": f'<{f6.url}/acl>; rel="acl"'}, data="")
    assert acl.status_code == 400
    for value in ("yes", "1", "", "false", "true-ish"):
        gone = requests.put(f6.url + "/r", headers={**TURTLE, "Overwrite-Tombstone": value}, data="")
        assert gone.status_code == 410, value
        assert links(gone, "hasTombstone") == [f6.url + "/r/fcr:tombstone"]
    assert state(f6.repo) == before
    assert requests.put(f6.url + "/r", headers={**TURTLE, "Overwrite-Tombstone": "TRUE"}, data="").status_code == 201


def test_on_a_live_resource_or_a_free_path_the_header_changes_nothing(f6: ServerHandle) -> None:
    """Fedora 6.5 reads the header only where a tombstone is: a live resource is replaced (204), a free path
    created (201), exactly as without it."""
    url = f6.url + "/live"
    assert requests.put(url, headers={**TURTLE, **OVER}, data="<> <http://x/t> 'a' .").status_code == 201
    assert requests.put(url, headers={**TURTLE, **OVER}, data="<> <http://x/t> 'b' .").status_code == 204
    assert "'b'" in requests.get(url, headers={"Accept": "text/turtle"}).text.replace('"', "'")
    assert f6.repo is not None and len(f6.repo.versions("/live")) == 2


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5"])
def test_older_dialects_answer_410(tmp_path: Path, dialect: str) -> None:
    with start_server(tmp_path / "repo", dialect=dialect) as server:
        requests.put(server.url + "/x", headers=TURTLE, data="")
        requests.delete(server.url + "/x")
        assert requests.put(server.url + "/x", headers={**TURTLE, **OVER}, data="").status_code == 410


# -- import --overwrite-tombstones ----------------------------------------------------------------------------


def _export(tmp_path: Path) -> Path:
    """An export of /doc (a container) and /doc/file (a binary) with a version each."""
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    source = tmp_path / "source"
    repo = LocalRepository.open(str(source), create=True)
    try:
        repo.create("/doc", ResourceSpec())
        import io

        repo.create("/doc/file", ResourceSpec(content=io.BytesIO(b"imported"), binary=True))
    finally:
        repo.close()
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["--repo", str(source), "export", "/doc", str(out)])
    assert result.exit_code == 0, result.stdout + result.stderr
    return out


def _deleted_target(where: Path) -> LocalRepository:
    repo = LocalRepository.open(str(where), create=True)
    import io

    repo.create("/doc", ResourceSpec())
    repo.create("/doc/file", ResourceSpec(content=io.BytesIO(b"old"), binary=True))
    repo.replace("/doc/file", ResourceSpec(content=io.BytesIO(b"older"), binary=True))
    repo.delete("/doc")
    return repo


@pytest.mark.parametrize("how", ["local", "serve-fedora6", "serve-fedora6-before-6.5", "serve-fedora5"])
def test_import_overwrites_tombstones_keeping_their_history(tmp_path: Path, how: str) -> None:
    """Where the repository takes it (local, Fedora 6.5 / serve fedora6) the imported resources follow the
    deleted ones' versions; where it does not (a 6.x before 6.5 answers 410; fedora5) they are purged first."""
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    export = _export(tmp_path)
    repo = _deleted_target(tmp_path / "target")
    kept = {"/doc": len(repo.versions("/doc")), "/doc/file": len(repo.versions("/doc/file"))}
    try:
        if how == "local":
            target = str(tmp_path / "target")
            repo.close()
        else:
            if how == "serve-fedora6-before-6.5":  # a server that answers Overwrite-Tombstone 410
                repo.capabilities = dataclasses.replace(repo.capabilities, overwrite_tombstones=False)
            server = start_server(repo=repo, dialect="fedora5" if how == "serve-fedora5" else "fedora6")
            target = server.url
        result = CliRunner().invoke(app, ["--repo", target, "import", str(export), "--overwrite-tombstones"])
        assert result.exit_code == 0, result.stdout + result.stderr
        if how != "local":
            server.stop()
        check = LocalRepository.open(str(tmp_path / "target")) if how == "local" else repo
        try:
            with check.open_binary("/doc/file") as content:
                assert content.stream.read() == b"imported"
            for path, before in kept.items():
                versions = len(check.versions(path))
                if how in ("local", "serve-fedora6"):
                    assert versions > before, path  # the history goes on
                else:
                    assert versions < before, path  # purged: a new object
        finally:
            if how == "local":
                check.close()
    finally:
        if how != "local":
            repo.close()


def test_local_overwrite_in_a_transaction_keeps_the_history(tmp_path: Path) -> None:
    """The local backend's own API, inside a transaction: nothing shows before the commit, then the path's
    versions go on (a group member's in its group's object); without the permission, Gone as before."""
    from fcrctl.errors import Gone

    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        repo.create("/a", ResourceSpec())
        repo.create("/g", ResourceSpec(archival_group=True))
        repo.create("/g/m", ResourceSpec())
        repo.delete("/a")
        repo.delete("/g/m")
        with pytest.raises(Gone):
            repo.create("/a", ResourceSpec())
        counts = (len(repo.versions("/a")), len(repo.versions("/g")))
        tx = repo.begin_transaction()
        view = repo.in_transaction(tx.id)
        view.create("/a", ResourceSpec(overwrite_tombstone=True))
        view.create("/g/m", ResourceSpec(overwrite_tombstone=True))
        with pytest.raises(Gone):
            repo.info("/a")
        repo.commit_transaction(tx.id)
        assert (len(repo.versions("/a")), len(repo.versions("/g"))) == (counts[0] + 1, counts[1] + 1)
        assert repo.info("/g/m").group == "/g"
    finally:
        repo.close()
