"""fcrctl fixity: damaged content is found and named, locally and through fcrctl serve (both dialects)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Graph, Literal, Namespace
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.paths import to_id
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import ocfl
from tests.server_fixture import start_server

PREMIS = Namespace("http://www.loc.gov/premis/rdf/v1#")
FILES = {"/col/a.bin": b"alpha " * 5000, "/col/b.bin": b"bravo " * 7000, "/col/sub/c.bin": b"charlie"}


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A repository these tests damage on purpose (so not the OCFL-validated ``repo_path``)."""
    repo_path = tmp_path / "damaged"
    repo = open_repository(str(repo_path), create=True)
    repo.create("/col/sub", ResourceSpec(), parents=True)
    for path, data in FILES.items():
        repo.create(path, ResourceSpec(content=io.BytesIO(data), binary=True, mime_type="application/octet-stream"))
    repo.close()
    return repo_path


def content_file(repo_path: Path, path: str) -> Path:
    """The OCFL content file that holds a binary's current bytes."""
    obj = repo_path / "ocfl-root" / ocfl.object_rel(to_id(path))
    inventory = ocfl.read_inventory(obj)
    return obj / ocfl.state_files(inventory)[path.rsplit("/", 1)[-1]]


def flip_bit(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    file.write_bytes(bytes(data))


@pytest.fixture(params=["local", "fedora4", "fedora6"])
def target(request: pytest.FixtureRequest, filled: Path) -> Iterator[str]:
    if request.param == "local":
        yield str(filled)
        return
    with start_server(filled, dialect=request.param) as handle:
        yield handle.url


def fixity(target: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--repo", target, "fixity", *args])


def outcomes(result: Result) -> dict[str, str]:
    document = json.loads(result.stdout)
    return {f["path"]: f["outcome"] for f in document["failures"]}


def test_clean_repository_passes(target: str) -> None:
    result = fixity(target, "-R", "/")
    assert result.exit_code == 0, result.stderr
    assert "checked 3 binaries" in result.stdout
    assert "0 failures" in result.stdout


def test_bit_flip_is_bad_checksum_naming_the_path(target: str, filled: Path) -> None:
    flip_bit(content_file(filled, "/col/b.bin"))
    result = fixity(target, "-R", "/", "--json")
    assert result.exit_code == ExitCode.CORRUPT, result.stderr
    assert outcomes(result) == {"/col/b.bin": "BAD_CHECKSUM"}
    assert "/col/b.bin" in result.stderr


def test_truncation_is_bad_size(target: str, filled: Path) -> None:
    file = content_file(filled, "/col/a.bin")
    file.write_bytes(file.read_bytes()[:100])
    result = fixity(target, "-R", "/col", "--json")
    assert result.exit_code == ExitCode.CORRUPT
    assert outcomes(result) == {"/col/a.bin": "BAD_SIZE"}


def test_deleted_content_is_missing(target: str, filled: Path) -> None:
    content_file(filled, "/col/sub/c.bin").unlink()
    result = fixity(target, "-R", "/", "--json")
    assert result.exit_code == ExitCode.CORRUPT
    assert outcomes(result) == {"/col/sub/c.bin": "MISSING"}


def test_single_binary_and_container_without_recursion(target: str) -> None:
    assert fixity(target, "/col/a.bin").exit_code == 0
    refused = fixity(target, "/col")
    assert refused.exit_code == ExitCode.BAD_INPUT
    assert "-R" in refused.stderr


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_other_algorithms(target: str, algorithm: str) -> None:
    result = fixity(target, "-R", "/", "--algorithm", algorithm, "--json", "--all")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["algorithm"] for r in records[:-1]} == {algorithm}
    assert records[-1]["summary"]["checked"] == 3


def test_unsupported_algorithm_is_usage_error(filled: Path) -> None:
    result = fixity(str(filled), "-R", "/", "--algorithm", "crc32")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "unsupported digest algorithm" in result.stderr


def test_client_side_mode_downloads(filled: Path) -> None:
    flip_bit(content_file(filled, "/col/a.bin"))
    with start_server(filled, dialect="fedora6") as handle:
        result = fixity(handle.url, "-R", "/", "--client-side", "--json")
    assert outcomes(result) == {"/col/a.bin": "BAD_CHECKSUM"}


def test_local_fixity_checks_the_ocfl_inventory(filled: Path) -> None:
    """Content and headers agree but the inventory says otherwise: still a failure."""
    from fcrctl.repository.local.fixity import verify_file

    repo = open_repository(str(filled))
    info = repo.info("/col/a.bin")
    file = content_file(filled, "/col/a.bin")
    obj = file.parents[2]
    inventory = json.loads((obj / "inventory.json").read_text())
    for digest in list(inventory["manifest"]):
        if any(p.endswith("/a.bin") for p in inventory["manifest"][digest]):
            inventory["manifest"]["0" * 128] = inventory["manifest"].pop(digest)
    data, sidecar = ocfl.inventory_bytes(inventory)
    (obj / "inventory.json").write_bytes(data)
    (obj / "inventory.json.sha512").write_bytes(sidecar)
    result = verify_file(info, file, obj, None)
    repo.close()
    assert result.outcome == "BAD_CHECKSUM"
    assert "inventory" in (result.detail or "")


def test_premis_report(filled: Path, tmp_path: Path) -> None:
    flip_bit(content_file(filled, "/col/b.bin"))
    report = tmp_path / "fixity.ttl"
    result = fixity(str(filled), "-R", "/", "--premis", str(report))
    assert result.exit_code == ExitCode.CORRUPT
    graph = Graph().parse(report, format="turtle")
    assert set(graph.objects(None, PREMIS.hasEventOutcome)) == {Literal("SUCCESS"), Literal("BAD_CHECKSUM")}
    assert len(set(graph.subjects(PREMIS.hasFixity, None))) == 3


def test_sample_and_since_select_binaries(filled: Path) -> None:
    none_since = fixity(str(filled), "-R", "/", "--since", "2999-01-01", "--json")
    assert json.loads(none_since.stdout)["checked"] == 0
    assert fixity(str(filled), "-R", "/", "--sample", "0").exit_code == ExitCode.BAD_INPUT
    assert fixity(str(filled), "-R", "/", "--since", "yesterday").exit_code == ExitCode.BAD_INPUT
    everything = fixity(str(filled), "-R", "/", "--sample", "100", "--json")
    assert json.loads(everything.stdout)["checked"] == 3


def test_want_digest_recomputes_from_stored_content(filled: Path) -> None:
    """A Want-Digest answer that echoed the stored digest would hide corruption from clients."""
    import hashlib

    import requests

    file = content_file(filled, "/col/a.bin")
    flip_bit(file)
    with start_server(filled, dialect="fedora6") as handle:
        response = requests.head(handle.url + "/col/a.bin", headers={"Want-Digest": "sha-256"}, timeout=10)
    assert response.headers["Digest"] == f"sha-256={hashlib.sha256(file.read_bytes()).hexdigest()}"


def test_remote_fixity_with_auth_on_kept_alive_connections(
    filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast Want-Digest HEADs carry the session's credentials, reuse connections, and still
    see corruption (the server recomputes from the stored content)."""
    from fcrctl.server.auth import add_user
    from fcrctl.services import fixity as service

    flip_bit(content_file(filled, "/col/b.bin"))
    auth_file = tmp_path / "users"
    add_user(auth_file, "alice", "correct horse", admin=True)
    monkeypatch.setenv("FCRCTL_PASSWORD", "correct horse")
    with start_server(filled, dialect="fedora6", auth_file=auth_file) as handle:
        repo = open_repository(handle.url, user="alice")
        try:
            report = service.run(repo, "/", recursive=True, jobs=2)
            assert report.checked == 3
            assert {f.path: f.outcome for f in report.failures} == {"/col/b.bin": "BAD_CHECKSUM"}
            again = service.run(repo, "/", recursive=True, jobs=2)
            assert again.checked == 3
            assert repo.connection_stats()["new_connections"] <= 4  # keep-alive, not one per binary
        finally:
            repo.close()


def test_remote_fixity_of_a_binary_deleted_meanwhile_is_not_a_success(filled: Path) -> None:
    """A failed fast HEAD is repeated the ordinary way, which raises what went wrong."""
    from fcrctl.errors import Gone, NotFound

    with start_server(filled, dialect="fedora6") as handle:
        repo = open_repository(handle.url)
        try:
            info = repo.info("/col/a.bin")
            assert repo.fixity(info).outcome == "SUCCESS"
            open_repository(str(filled)).delete("/col/a.bin")
            with pytest.raises((NotFound, Gone)):
                repo.fixity(info)
        finally:
            repo.close()


def test_remote_fixity_survives_a_kept_alive_connection_the_server_dropped(filled: Path) -> None:
    """The fast HEAD reuses its connections; one the server has closed while idle fails, and the
    check is repeated the ordinary way instead of reporting the failure."""
    import socket

    with start_server(filled, dialect="fedora6") as handle:
        repo = open_repository(handle.url)
        try:
            info = repo.info("/col/a.bin")
            assert repo.fixity(info).outcome == "SUCCESS"
            opened = repo.connection_stats()["new_connections"]
            assert repo.fixity(info).outcome == "SUCCESS"
            assert repo.connection_stats()["new_connections"] == opened  # kept alive
            idle = [conn for conns in repo._remote.quick_head._idle.values() for conn in conns]
            assert idle
            for conn in idle:
                conn.sock.shutdown(socket.SHUT_RDWR)  # as a server's idle timeout leaves it
            result = repo.fixity(info)
            assert (result.outcome, result.actual) == ("SUCCESS", info.digests["sha512"])
        finally:
            repo.close()
        assert not repo._remote.quick_head._idle  # closed with the repository


def test_default_jobs_keep_a_remote_server_busy(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locally the hashing runs here (a thread per core); over HTTP the server hashes and each
    check also waits on the network, so more checks stay in flight."""
    from fcrctl.services import fixity as service

    monkeypatch.setattr("os.cpu_count", lambda: 3)
    local = open_repository(str(filled))
    try:
        assert service.default_jobs(local) == 3
    finally:
        local.close()
    with start_server(filled, dialect="fedora6") as handle:
        remote = open_repository(handle.url)
        try:
            assert service.default_jobs(remote) == 12
            assert service.run(remote, "/", recursive=True).checked == 3
        finally:
            remote.close()


def test_a_listing_cut_off_midway_fails_the_run_instead_of_checking_fewer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings stream: a server that fails after sending part of one must not look like a
    smaller repository. The run stops with a transport error naming the server."""
    from fcrctl.errors import Unavailable
    from fcrctl.repository.local.resources import Resources
    from fcrctl.services import fixity as service

    repo = open_repository(str(tmp_path / "repo"), create=True)
    repo.create("/many", ResourceSpec())
    for i in range(100):  # ~1,400 rows: the failure comes after the first chunk of 1,000 went out
        repo.create(f"/many/b{i:04d}", ResourceSpec(content=io.BytesIO(b"%d" % i), binary=True))
    repo.close()
    original = Resources.row_state
    seen: list[str] = []

    def failing(self: Resources, row: object) -> object:
        seen.append(row.path)  # type: ignore[attr-defined]
        if len(seen) == 95:
            raise RuntimeError("disk gone")
        return original(self, row)  # type: ignore[arg-type]

    with start_server(tmp_path / "repo", dialect="fedora6") as handle:
        remote = open_repository(handle.url)
        try:
            monkeypatch.setattr(Resources, "row_state", failing)
            with pytest.raises(Unavailable, match="127.0.0.1") as failed:
                service.run(remote, "/many", recursive=True, jobs=2)
            assert len(seen) == 95 and "\n" not in failed.value.message
        finally:
            remote.close()


def test_since_picks_in_the_index_exactly_what_a_walk_picks(tmp_path: Path) -> None:
    """fixity --since asks the local index for the binaries modified since (no headers parsed
    per resource): the same ones as filtering the whole listing (in order of date, not path)."""
    import io
    import time
    from datetime import UTC, datetime

    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec
    from fcrctl.services.fixity import select

    repo = open_repository(str(tmp_path / "r"), create=True)
    try:
        repo.create("/a", ResourceSpec())
        for i in range(3):
            repo.create(f"/a/old{i}", ResourceSpec(content=io.BytesIO(b"old"), mime_type="text/plain"))
        time.sleep(1.1)
        since = datetime.now(UTC)
        repo.create("/a/new", ResourceSpec(content=io.BytesIO(b"new"), mime_type="text/plain"))
        repo.replace("/a/old1", ResourceSpec(content=io.BytesIO(b"changed"), mime_type="text/plain"))
        repo.create("/a/c", ResourceSpec())
        repo.create("/b", ResourceSpec(content=io.BytesIO(b"b"), mime_type="text/plain"))

        class Walked:  # the repository without the index's shortcut
            def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
                if name == "binaries_modified_since":
                    raise AttributeError(name)
                return getattr(repo, name)

        for top in ("/", "/a"):
            walked = [i.path for i in select(Walked(), top, recursive=True, since=since)]  # type: ignore[arg-type]
            listing = repo.children
            repo.children = None  # type: ignore[method-assign]  # the shortcut never walks the listing
            try:
                fast = [i.path for i in select(repo, top, recursive=True, since=since)]
            finally:
                repo.children = listing  # type: ignore[method-assign]
            assert sorted(fast) == sorted(walked)
        assert sorted(fast) == ["/a/new", "/a/old1"]
    finally:
        repo.close()
