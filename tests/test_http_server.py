"""HttpRepository end-to-end against a real ``fcrctl serve`` on 127.0.0.1, in both dialects:
what the shared contract suite does not pin down (ranges, digests on upload, conditional
writes, versions per dialect, SPARQL with internal ids, connection reuse, real basic auth).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcrctl.errors import AuthError, ChecksumMismatch, Conflict, Gone, NotFound, PreconditionFailed, Unsupported
from fcrctl.repository.base import Conditions, RdfPrefs, ResourceSpec
from fcrctl.repository.http import HttpRepository

server_fixture = pytest.importorskip("tests.server_fixture")

DC_TITLE = "http://purl.org/dc/elements/1.1/title"


def turtle(path: str, body: str):  # type: ignore[no-untyped-def]
    from fcrctl import rdf
    from fcrctl.paths import to_id

    return rdf.parse(body, "text/turtle", base=to_id(path))


def titles(repo: HttpRepository, path: str) -> set[str]:
    from rdflib import URIRef

    graph = repo.get_rdf(path)
    subject = URIRef("info:fedora" + ("" if path == "/" else path))
    return {str(o) for o in graph.objects(subject, URIRef(DC_TITLE))}


@pytest.fixture(params=["fedora4", "fedora6"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HttpRepository]:
    handle = server_fixture.start_server(tmp_path / "repo", dialect=request.param)
    try:
        repo = HttpRepository.open(handle.url)
        assert repo.dialect.name == request.param
        yield repo
        repo.close()
    finally:
        handle.stop()


def test_binary_round_trip_with_ranges(served: HttpRepository) -> None:
    data = bytes(range(256)) * 40
    info = served.create(
        "/bin", ResourceSpec(content=io.BytesIO(data), mime_type="application/x-test", filename="data ü 数据.bin")
    )
    assert info.is_binary and info.size == len(data) and info.filename == "data ü 数据.bin"
    assert info.mime_type == "application/x-test"
    with served.open_binary("/bin") as whole:
        assert whole.stream.read() == data
    with served.open_binary("/bin", byte_range=(100, 199)) as part:
        assert (part.start, part.end, part.length) == (100, 199, 100)
        assert part.stream.read() == data[100:200]
    with served.open_binary("/bin", byte_range=(10_000, None)) as tail:
        assert tail.stream.read() == data[10_000:]


def test_digests_are_checked_on_upload(served: HttpRepository) -> None:
    import hashlib

    data = b"checked content"
    good = {"sha256": hashlib.sha256(data).hexdigest(), "sha512": hashlib.sha512(data).hexdigest()}
    info = served.create("/ok", ResourceSpec(content=io.BytesIO(data), digests=good))
    assert info.digests["sha256"] == good["sha256"]
    with pytest.raises(ChecksumMismatch):
        served.create("/bad", ResourceSpec(content=io.BytesIO(data), digests={"sha1": "0" * 40}))
    with pytest.raises(NotFound):
        served.info("/bad")  # nothing was stored


def test_conditional_replace(served: HttpRepository) -> None:
    first = served.create("/c", ResourceSpec(graph=turtle("/c", f'<> <{DC_TITLE}> "one" .')))
    served.replace(
        "/c",
        ResourceSpec(graph=turtle("/c", f'<> <{DC_TITLE}> "two" .'), lenient=True),
        conditions=Conditions(if_match=first.etag),
    )
    with pytest.raises(PreconditionFailed):
        served.replace(
            "/c",
            ResourceSpec(graph=turtle("/c", f'<> <{DC_TITLE}> "three" .'), lenient=True),
            conditions=Conditions(if_match=first.etag),
        )
    assert titles(served, "/c") == {"two"}


def test_create_conflict_gone_and_purge(served: HttpRepository) -> None:
    served.create("/x", ResourceSpec())
    with pytest.raises(Conflict):
        served.create("/x", ResourceSpec())
    served.delete("/x")
    with pytest.raises(Gone):
        served.create("/x", ResourceSpec())
    served.purge("/x")
    assert served.create("/x", ResourceSpec()).path == "/x"
    with pytest.raises(NotFound, match="--parents"):
        served.create("/no/such/parent", ResourceSpec())
    assert served.create("/deep/er/leaf", ResourceSpec(), parents=True).path == "/deep/er/leaf"


def test_patch_rewrites_internal_ids_and_keeps_relative(served: HttpRepository) -> None:
    served.create("/p", ResourceSpec())
    served.create("/q", ResourceSpec())
    update = f'INSERT DATA {{ <> <{DC_TITLE}> "self" . <> <http://purl.org/dc/terms/relation> <info:fedora/q> }}'
    served.patch("/p", update)
    graph = served.get_rdf("/p", prefs=RdfPrefs(server_managed=False))
    values = {str(o) for _, _, o in graph}
    assert "self" in values and "info:fedora/q" in values


def test_children_recursive_depth_first(served: HttpRepository) -> None:
    for path in ("/t", "/t/a", "/t/a/x", "/t/b"):
        served.create(path, ResourceSpec())
    served.create("/t/a/y", ResourceSpec(content=io.BytesIO(b"y")))
    assert [i.path for i in served.children("/t")] == ["/t/a", "/t/b"]
    assert [i.path for i in served.children("/t", recursive=True)] == ["/t/a", "/t/a/x", "/t/a/y", "/t/b"]
    assert list(served.children("/t/a/y")) == []


def test_versions_per_dialect(served: HttpRepository) -> None:
    served.create("/v", ResourceSpec(graph=turtle("/v", f'<> <{DC_TITLE}> "old" .')))
    if served.capabilities.label_versions:
        version = served.create_version("/v", label="first")
        assert version.label == "first"
    else:
        with pytest.raises(Unsupported):
            served.create_version("/v", label="first")
        version = served.create_version("/v")
    served.patch("/v", f'DELETE DATA {{ <> <{DC_TITLE}> "old" }} ; INSERT DATA {{ <> <{DC_TITLE}> "new" }}')
    assert titles(served, "/v") == {"new"}
    assert version.id in [v.id for v in served.versions("/v")]
    old = served.get_rdf("/v", version=version.id)
    assert "old" in {str(o) for _, _, o in old}
    served.revert("/v", version.id)
    assert titles(served, "/v") == {"old"}


def test_binary_versions_and_revert(served: HttpRepository) -> None:
    served.create("/vb", ResourceSpec(content=io.BytesIO(b"first")))
    version = served.create_version("/vb")
    served.replace("/vb", ResourceSpec(content=io.BytesIO(b"second!")))
    assert served.info("/vb", version=version.id).size == 5
    with served.open_binary("/vb", version=version.id) as old:
        assert old.stream.read() == b"first"
    served.revert("/vb", version.id)
    with served.open_binary("/vb") as now:
        assert now.stream.read() == b"first"


def test_move_copy_and_connection_reuse(served: HttpRepository) -> None:
    served.create("/m", ResourceSpec())
    served.create("/m/kid", ResourceSpec(content=io.BytesIO(b"k")))
    served.copy("/m", "/m2")
    served.move("/m", "/m3")
    with pytest.raises(Gone):
        served.info("/m")
    assert [i.path for i in served.children("/m3")] == ["/m3/kid"]
    with pytest.raises(Conflict):
        served.copy("/m2", "/m3")
    for n in range(30):
        served.info("/m2")
        del n
    # children() runs in parallel, so a few connections; never one per request
    assert served.connection_stats()["new_connections"] <= 9


def test_fixity_server_side(served: HttpRepository) -> None:
    info = served.create("/f", ResourceSpec(content=io.BytesIO(b"fixity")))
    result = served.fixity(info)
    assert result.ok and result.actual == info.digests[result.algorithm]
    assert served.fixity(info, client_side=True, algorithm="md5").ok


def test_basic_auth_against_a_real_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.server.auth import add_user

    auth_file = tmp_path / "users"
    add_user(auth_file, "alice", "correct horse", admin=True)  # ACLs aside: an admin may do anything
    with server_fixture.start_server(tmp_path / "repo", auth_file=auth_file) as handle:
        monkeypatch.setenv("FCRCTL_PASSWORD", "wrong horse")
        with pytest.raises(AuthError) as failed:
            HttpRepository.open(handle.url, user="alice")
        assert "wrong horse" not in str(failed.value)
        monkeypatch.setenv("FCRCTL_PASSWORD", "correct horse")
        repo = HttpRepository.open(handle.url, user="alice")
        assert repo.create("/secret", ResourceSpec()).path == "/secret"
        assert "correct horse" not in repr(repo)
        repo.close()


def test_listing_from_turtle_matches_the_n_triples_fast_path(
    served: HttpRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings parse N-Triples into an index, other formats through a Graph: same infos."""
    from fcrctl.repository.http import listings as module

    served.create("/l/sub", ResourceSpec(), parents=True)
    served.create("/l/é-b.bin", ResourceSpec(content=io.BytesIO(b"x" * 100), mime_type="text/plain"))
    served.create("/l/sub/c.bin", ResourceSpec(content=io.BytesIO(b"c")))
    fast = list(served.children("/l", recursive=True))
    monkeypatch.setattr(module, "LISTING_ACCEPT", "text/turtle")
    slow = list(served.children("/l", recursive=True))
    assert [i.path for i in fast] == ["/l/sub", "/l/sub/c.bin", "/l/é-b.bin"]
    key = [(i.path, i.model, i.size, i.digests, i.created, i.modified, i.mime_type) for i in fast]
    assert key == [(i.path, i.model, i.size, i.digests, i.created, i.modified, i.mime_type) for i in slow]
    assert fast[2].size == 100 and "sha512" in fast[2].digests
    assert served.info("/l/é-b.bin").digests == fast[2].digests  # one resource: the same facts
