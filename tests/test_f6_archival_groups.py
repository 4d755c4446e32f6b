"""Archival groups over serve, as Fedora 6 makes them (fcrepo 6.5.2: FedoraLdp, CreateResourceServiceImpl,
CreateRdfSourcePersister; FedoraLdpIT.testCreateArchivalGroup*, FedoraVersioningIT), and ``fcrctl create
--archival-group`` against both backends. Each refused request leaves the repository as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local.repository import LocalRepository
from tests.api_suite import AG, AG_LINK, BASIC, LDP, NON_RDF, TURTLE, links
from tests.server_fixture import ServerHandle, start_server


@pytest.fixture(scope="module")
def f6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("f6-ag") / "repo", dialect="fedora6") as handle:
        yield handle


def types(response: requests.Response) -> list[str]:
    return links(response, "type")


def snapshot(repo: LocalRepository) -> list[tuple[str, str, bool, int]]:
    """Every resource (tombstones too, through the index), its state token and version count."""
    out = []
    for info in repo.children("/", recursive=True):
        out.append((info.path, info.etag, info.archival_group, len(repo.versions(info.path))))
    return sorted(out)


def test_post_and_put_create_archival_groups_whose_members_share_its_object(f6: ServerHandle) -> None:
    """FedoraLdpIT.testCreateArchivalGroup: the group answers Link rel=type fedora:ArchivalGroup (not in its RDF),
    its members do not and link their group with rel="archival-group"; they live in the group's OCFL object, so
    a member's write is a version of the group."""
    made = requests.post(f6.root, headers={"Link": f"{BASIC}, {AG_LINK}", "Slug": "ag-post"})
    assert made.status_code == 201, made.text
    assert AG in types(made)
    group = made.headers["Location"]
    put = requests.put(f6.url + "/ag-put", headers={"Link": AG_LINK, **TURTLE}, data="<> <http://x/y> 'z' .")
    assert put.status_code == 201 and AG in types(put)
    head = requests.head(group)
    assert AG in types(head) and f"{LDP}BasicContainer" in types(head)
    assert AG not in requests.get(group, headers={"Accept": "text/turtle"}).text
    child = requests.put(group + "/child", data="<> a <http://example.com/Foo> .", headers=TURTLE)
    assert child.status_code == 201
    grandchild = requests.post(group + "/child", data=b"bytes", headers={"Content-Type": "text/plain"})
    assert grandchild.status_code == 201
    for url in (group + "/child", grandchild.headers["Location"], grandchild.headers["Location"] + "/fcr:metadata"):
        answer = requests.head(url)
        assert AG not in types(answer), url
        assert links(answer, "archival-group") == [group], url
    assert links(requests.head(f6.url + "/ag-put"), "archival-group") == []
    assert f6.repo is not None
    before = len(f6.repo.versions("/ag-post"))
    assert requests.put(group + "/child", data="<> a <http://example.com/Bar> .", headers=TURTLE).status_code == 204
    assert len(f6.repo.versions("/ag-post")) == before + 1  # the member's change is a version of its group
    versioned = requests.post(group + "/child/fcr:versions")
    assert versioned.status_code == 201
    assert len(f6.repo.versions("/ag-post")) == before + 2
    assert requests.get(versioned.headers["Location"]).status_code == 200


def test_a_members_timemap_lists_the_versions_that_changed_it(f6: ServerHandle) -> None:
    """FedoraVersioningIT.getTimeMapFromAgWithChildrenWithDifferentVersions: the group lists every version of its
    object, a member those that changed it (Fedora lists a resource's own file history)."""
    assert f6.repo is not None
    repo = f6.repo
    requests.put(f6.url + "/tm", headers={"Link": AG_LINK})
    requests.put(f6.url + "/tm/child1", data=b"v2", headers={"Content-Type": "text/plain"})
    requests.put(f6.url + "/tm/child2", data=b"v3", headers={"Content-Type": "text/plain"})
    requests.put(f6.url + "/tm/child1", data=b"v4", headers={"Content-Type": "text/plain"})
    group = [v.id for v in repo.versions("/tm")]
    assert len(group) == 4
    assert [v.id for v in repo.versions("/tm/child1")] == [group[1], group[3]]
    assert [v.id for v in repo.versions("/tm/child2")] == [group[2]]
    with repo.open_binary("/tm/child1", version=group[1]) as content:
        assert content.stream.read() == b"v2"


def test_refused_archival_groups_leave_the_repository_as_it_was(f6: ServerHandle) -> None:
    """An archival group inside one: 409 (CreateRdfSourcePersister, PersistentItemConflictException: plain, no
    constrainedBy); a binary as one, by POST or PUT, new or existing: 400 (ensureArchivalGroupHeaderNotPresent-
    ForBinaries)."""
    assert f6.repo is not None
    assert requests.put(f6.url + "/outer", headers={"Link": AG_LINK}).status_code == 201
    assert requests.put(f6.url + "/outer/bin", data=b"x", headers={"Content-Type": "text/plain"}).status_code == 201
    requests.put(f6.url + "/plain-bin", data=b"x", headers={"Content-Type": "text/plain"})
    before = snapshot(f6.repo)
    nested_put = requests.put(f6.url + "/outer/inner", headers={"Link": AG_LINK, **TURTLE},
                              data="<> a <http://example.com/Foo> .")
    assert nested_put.status_code == 409 and "nested" in nested_put.text
    assert links(nested_put, f"{LDP}constrainedBy") == []
    nested_post = requests.post(f6.url + "/outer", headers={"Link": AG_LINK, "Slug": "inner2"})
    assert nested_post.status_code == 409
    for method, url in (("POST", f6.root), ("PUT", f6.url + "/new-bin"), ("PUT", f6.url + "/plain-bin")):
        for link in (f"{AG_LINK}, {NON_RDF}", AG_LINK):
            refused = requests.request(method, url, data=b"testcontent",
                                       headers={"Link": link, "Content-Type": "text/plain"})
            assert refused.status_code == 400, (method, url, link, refused.text)
            assert "binary cannot be an archival group" in refused.text
    assert snapshot(f6.repo) == before


def test_the_archival_group_type_is_neither_added_nor_removed_later(f6: ServerHandle) -> None:
    """A PUT naming the type on an existing container is a replace that ignores it, as Fedora 6's
    ReplacePropertiesServiceImpl (204, not a group after); the type in a body is a server-managed type (409
    with constrainedBy); an archival group stays one through a PUT without the link, a PATCH and a lenient PUT."""
    assert f6.repo is not None
    requests.put(f6.url + "/plain", headers=TURTLE, data="<> <http://x/y> 'z' .")
    requests.put(f6.url + "/group", headers={"Link": AG_LINK})
    assert requests.put(f6.url + "/plain", headers={"Link": AG_LINK, **TURTLE}, data="").status_code == 204
    assert not f6.repo.info("/plain").archival_group
    assert AG not in types(requests.head(f6.url + "/plain"))
    before = snapshot(f6.repo)
    typed = requests.put(f6.url + "/plain", headers=TURTLE, data=f"<> a <{AG}> .")
    assert typed.status_code == 409
    assert links(typed, f"{LDP}constrainedBy")[0].endswith("/ServerManagedTypeException.rdf")
    assert snapshot(f6.repo) == before
    removed = requests.patch(f6.url + "/group", headers={"Content-Type": "application/sparql-update"},
                             data=f"DELETE DATA {{ <> a <{AG}> }}")
    assert removed.status_code in (204, 409)  # the type is in no stored triple: nothing to delete
    assert requests.put(f6.url + "/group", headers=TURTLE, data="<> <http://x/y> 'z' .").status_code == 204
    lenient = {**TURTLE, "Prefer": 'handling=lenient; received="minimal"'}
    assert requests.put(f6.url + "/group", headers=lenient, data=f"<> a <{AG}> .").status_code == 204
    assert requests.put(f6.url + "/plain", headers=lenient, data=f"<> a <{AG}> .").status_code == 204
    assert f6.repo.info("/group").archival_group and not f6.repo.info("/plain").archival_group
    assert AG in types(requests.head(f6.url + "/group"))


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5"])
def test_older_dialects_keep_their_behaviour(tmp_path: Path, dialect: str) -> None:
    """4.7 has no archival groups and takes any rel=type; 5.1 refuses it as an interaction model (400)."""
    with start_server(tmp_path / "repo", dialect=dialect) as server:
        assert server.repo is not None
        answer = requests.put(server.url + "/x", headers={"Link": AG_LINK, **TURTLE}, data="")
        assert answer.status_code == (201 if dialect == "fedora4" else 400)
        if dialect == "fedora4":
            assert not server.repo.info("/x").archival_group
            assert AG not in types(requests.head(server.url + "/x"))


def test_local_repository_refuses_what_fedora_refuses(tmp_path: Path) -> None:
    """The same rules in the local backend's own API: a binary is no group, a group is not nested, nothing
    becomes a group after its creation."""
    import io

    from fcrctl.errors import BadInput, Conflict

    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        repo.create("/g", ResourceSpec(archival_group=True))
        repo.create("/c", ResourceSpec())
        before = snapshot(repo)
        with pytest.raises(BadInput):
            repo.create("/b", ResourceSpec(content=io.BytesIO(b"x"), binary=True, archival_group=True))
        with pytest.raises(BadInput):
            repo.create_child("/", ResourceSpec(content=io.BytesIO(b"x"), binary=True, archival_group=True))
        batch = repo.batch()
        try:
            with pytest.raises(BadInput):
                batch.create("/b2", ResourceSpec(content=io.BytesIO(b"x"), binary=True, archival_group=True))
        finally:
            batch.discard()
        with pytest.raises(Conflict):
            repo.create("/g/in", ResourceSpec(archival_group=True))
        with pytest.raises(Conflict):
            repo.replace("/c", ResourceSpec(archival_group=True))
        assert snapshot(repo) == before
    finally:
        repo.close()


@pytest.fixture(params=["local", "http"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, LocalRepository]]:
    """A repository path or a serve URL (fedora6) in front of it, and the repository to look into."""
    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        if request.param == "local":
            yield str(tmp_path / "repo"), repo
            return
        with start_server(repo=repo, dialect="fedora6") as handle:
            yield handle.url, repo
    finally:
        repo.close()


def test_cli_creates_archival_groups_on_both_backends(target: tuple[str, LocalRepository], tmp_path: Path) -> None:
    """``fcrctl create --archival-group`` (PATH or --in): a group whose members share its object; refused:
    a binary (exit 2, before the repository is touched), a group in a group (exit 6, conflict)."""
    from typer.testing import CliRunner

    from fcrctl.cli.main import app
    from fcrctl.errors import ExitCode

    where, repo = target
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--repo", where, *args])
        return result.exit_code, result.stdout + result.stderr

    assert run("create", "/works", "--archival-group")[0] == 0
    code, out = run("create", "--in", "/", "--slug", "w2", "--archival-group")
    assert code == 0 and "/w2" in out
    assert run("create", "/works/page")[0] == 0
    assert repo.info("/works").archival_group and repo.info("/w2").archival_group
    assert repo.info("/works/page").group == "/works" and not repo.info("/works/page").archival_group
    code, out = run("--json", "info", "/works")
    assert code == 0 and '"archival_group": true' in out
    code, out = run("info", "/works/page")
    assert code == 0 and "member of /works" in out
    from fcrctl.repository import open_repository

    client = open_repository(where)
    try:  # what the HTTP backend reads from serve's links, as the local one from its headers
        assert client.info("/works/page").group == "/works" and client.info("/works").archival_group
        assert client.info("/works").group is None
    finally:
        client.close()
    data = tmp_path / "d.bin"
    data.write_bytes(b"bytes")
    before = snapshot(repo)
    code, out = run("create", "/bin", "--file", str(data), "--archival-group")
    assert code == ExitCode.BAD_INPUT and "binary cannot be an archival group" in out
    code, out = run("create", "/works/inner", "--archival-group")
    assert code == ExitCode.CONFLICT and "nested" in out
    assert snapshot(repo) == before


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5"])
def test_cli_says_older_servers_have_no_archival_groups(tmp_path: Path, dialect: str) -> None:
    from typer.testing import CliRunner

    from fcrctl.cli.main import app
    from fcrctl.errors import ExitCode

    with start_server(tmp_path / "repo", dialect=dialect) as server:
        result = CliRunner().invoke(app, ["--repo", server.url, "create", "/g", "--archival-group"])
        assert result.exit_code == ExitCode.UNSUPPORTED, result.stdout
        assert "no archival groups" in result.stderr
        assert requests.get(server.url + "/g").status_code == 404
