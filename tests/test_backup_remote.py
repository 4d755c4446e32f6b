"""Backups of a remote server (crawl), restores into one (replay), and server-side
fcr:backup / fcr:restore, all against a real `fcrctl serve` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from fcrctl.server.auth import add_user
from tests.backup_helpers import make_repo, ok_json, paths_in, run
from tests.ocfl_check import assert_valid_ocfl
from tests.server_fixture import ServerHandle, start_server


@pytest.fixture(params=["fedora4", "fedora6"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerHandle, Path]]:
    repo_dir = tmp_path / "served"
    make_repo(repo_dir)
    handle = start_server(repo_dir, dialect=request.param)
    try:
        yield handle, repo_dir
    finally:
        handle.stop()


def test_crawl_backup_and_replay_restore(served: tuple[ServerHandle, Path], tmp_path: Path) -> None:
    handle, repo_dir = served
    url = handle.url
    doc = ok_json(url, "backup", "--label", "remote", "--jobs", "3")
    assert doc["kind"] == "crawl" and doc["resources"] == 7 and doc["potentiallyInconsistent"] is True
    listed = ok_json(url, "list-backups")
    assert [b["id"] for b in listed] == [doc["id"]]
    assert ok_json(url, "verify-backup", doc["id"], "--read-data")["ok"] is True
    # the same snapshot form as a local one: upload it, and migrate it into a local repository
    store = tmp_path / "store"
    ok_json(url, "upload-backup", doc["id"], str(store))
    local = tmp_path / "migrated"
    assert run(local, "init").exit_code == 0
    ok_json(local, "restore", doc["id"], "--from", str(store), "--yes")
    assert paths_in(local) == paths_in(repo_dir)
    assert run(local, "get", "/top/sub/b2").stdout.startswith("binary 2 ")
    assert_valid_ocfl(local / "ocfl-root")
    # restore into the server: replayed over the API, with a fail-safe crawl first
    assert run(url, "delete", "/top").exit_code == 0
    assert run(url, "create", "/junk").exit_code == 0
    back = ok_json(url, "restore", doc["id"], "--yes")
    assert back["failures"] == [] and back["previous"].endswith("_previous")
    assert paths_in(repo_dir) == paths_in(local)
    assert run(url, "get", "/top/sub/b0").stdout.startswith("binary 0 ")


def test_server_side_backup_and_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_dir = tmp_path / "served"
    make_repo(repo_dir)
    users = tmp_path / "users"
    add_user(users, "root", "root-pw", admin=True)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("FCRCTL_PASSWORD", "root-pw")
    with start_server(repo_dir, auth_file=users, backup_dir=str(allowed)) as handle:
        url = handle.url
        target = allowed / "server-dir"
        doc = ok_json(url, "--user", "root", "backup", "--server-side", str(target))
        assert doc["directory"] == str(target)
        assert (target / "backup.json").is_file()
        assert_valid_ocfl(target / "ocfl-root")
        run(url, "--user", "root", "create", "/after")
        restored = ok_json(url, "--user", "root", "restore", "--server-side", str(target), "--yes")
        assert restored["previous"].endswith("_previous")
        assert "/after" not in paths_in(repo_dir)
        # a directory that holds no backup is refused, nothing changes
        (allowed / "empty").mkdir()
        result = run(url, "--user", "root", "restore", "--server-side", str(allowed / "empty"), "--yes")
        assert result.exit_code == ExitCode.NOT_FOUND, result.stderr


def test_server_side_against_a_local_repository_is_unsupported(tmp_path: Path) -> None:
    make_repo(tmp_path / "r")
    result = run(tmp_path / "r", "backup", "--server-side")
    assert result.exit_code == ExitCode.UNSUPPORTED
