"""Issue 20 item 13: errors that misled. A full disk, a read-only mount, a corrupt index, a
SIGTERM'd upload and --traceback each get an honest one-line message and a fitting exit code.

Full and read-only file systems are real tmpfs mounts when the tests run as root; otherwise
the read-only case uses permissions and the full-disk case fails SQLite and statvfs at the OS
boundary (what a full disk makes them report)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from tests.security.rdf_hostile import cli


def _mount(where: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def readonly_repo(tmp_path: Path) -> Iterator[Path]:
    """A repository with one resource, /a, on a file system (or in a directory) it cannot write."""
    mnt = tmp_path / "mnt"
    mounted = _mount(mnt, "size=8m")
    repo = (mnt if mounted else tmp_path) / "r"
    assert cli("init", str(repo)).exit_code == 0
    assert cli("--repo", str(repo), "create", "/a").exit_code == 0
    if mounted:
        assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)]).returncode == 0
    else:
        for d in (repo, repo / "ocfl-root", repo / "backups"):
            d.chmod(0o555)
    yield repo
    if mounted:
        _umount(mnt)
    else:
        for d in (repo, repo / "ocfl-root", repo / "backups"):
            d.chmod(0o755)


def _one_line(text: str) -> bool:
    return text.count("\n") == 1 and "Traceback" not in text


def test_read_only_repository_commands_say_so(readonly_repo: Path) -> None:
    repo = str(readonly_repo)
    began = cli("--repo", repo, "tx", "begin")
    assert began.exit_code == ExitCode.BAD_INPUT and "read-only" in began.stderr and _one_line(began.stderr)
    backup = cli("--repo", repo, "backup")
    assert backup.exit_code == ExitCode.BAD_INPUT, backup.output
    assert "read-only" in backup.stderr and "unexpected" not in backup.stderr and _one_line(backup.stderr)
    reindexed = cli("--repo", repo, "reindex")
    assert reindexed.exit_code == 0 and "cache" in reindexed.stdout and "read-only" in reindexed.stdout
    created = cli("--repo", repo, "create", "/b")
    assert created.exit_code == ExitCode.BAD_INPUT and "read-only" in created.stderr
    assert cli("--repo", repo, "ls", "/").stdout.split() == ["/a"]


def _full(repo: Path, monkeypatch: pytest.MonkeyPatch, mnt: Path) -> None:
    """Fill the disk under ``repo`` (a real tmpfs), or make SQLite and statvfs say it is full."""
    if mnt.is_mount():
        with (mnt / "fill").open("wb") as fh:
            while True:
                try:
                    fh.write(b"\0" * 65536)
                    fh.flush()
                except OSError:
                    break
        return
    real_connect, real_statvfs = sqlite3.connect, os.statvfs

    def connect(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).startswith(str(repo)):
            raise sqlite3.OperationalError("disk I/O error")  # what SQLite says when it cannot create its WAL
        return real_connect(path, *args, **kwargs)

    def statvfs(path):  # type: ignore[no-untyped-def]
        found = real_statvfs(path)
        if str(path).startswith(str(repo)):
            return os.statvfs_result((*found[:4], 0, *found[5:]))  # f_bavail: nothing left
        return found

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(os, "statvfs", statvfs)


@pytest.mark.parametrize("args", [["ls", "/"], ["info", "/a"], ["create", "/b"], ["reindex"], ["tx", "begin"]])
def test_full_disk_is_not_a_corrupt_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    mnt = tmp_path / "mnt"
    repo = (mnt if _mount(mnt, "size=2m") else tmp_path) / "r"
    try:
        assert cli("init", str(repo)).exit_code == 0
        assert cli("--repo", str(repo), "create", "/a").exit_code == 0
        _full(repo, monkeypatch, mnt)
        result = cli("--repo", str(repo), *args)
        assert result.exit_code == ExitCode.UNAVAILABLE, result.output
        assert "full" in result.stderr and "delete" not in result.stderr and _one_line(result.stderr)
    finally:
        monkeypatch.undo()
        if mnt.is_mount():
            _umount(mnt)
    assert (mnt if mnt.exists() and any(mnt.iterdir()) else tmp_path).exists()


def test_upload_onto_a_full_disk(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    if not _mount(mnt, "size=3m"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        repo = mnt / "r"
        assert cli("init", str(repo)).exit_code == 0
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(4 * 1024 * 1024))
        result = cli("--repo", str(repo), "create", "/big", "--file", str(big))
        assert result.exit_code == ExitCode.UNAVAILABLE, result.output
        assert "no space left" in result.stderr and "reindex" not in result.stderr and _one_line(result.stderr)
        assert not any((repo / "tmp").iterdir())
        assert cli("--repo", str(repo), "info", "/big").exit_code == ExitCode.NOT_FOUND
    finally:
        _umount(mnt)


def test_corrupt_index_is_rebuilt_not_blamed_on_reindex(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    assert cli("init", str(repo)).exit_code == 0
    assert cli("--repo", str(repo), "create", "/a").exit_code == 0
    (repo / "index.sqlite").write_bytes(b"this is not a database" * 100)
    for name in ("index.sqlite-wal", "index.sqlite-shm"):
        (repo / name).unlink(missing_ok=True)
    result = cli("--repo", str(repo), "reindex")
    assert result.exit_code == 0, result.output
    assert "corrupt" in result.stderr and "run `fcrctl reindex`" not in result.stderr
    assert cli("--repo", str(repo), "ls", "/").stdout.split() == ["/a"]


def test_traceback_keeps_the_exit_code(tmp_path: Path) -> None:
    repo = str(tmp_path / "r")
    assert cli("init", repo).exit_code == 0
    plain = cli("--repo", repo, "create", "/fcr:x")
    traced = cli("--repo", repo, "--traceback", "create", "/fcr:x")
    assert plain.exit_code == traced.exit_code == ExitCode.BAD_INPUT
    assert "Traceback" in traced.stderr and plain.stderr.strip().splitlines()[-1] in traced.stderr
    missing = cli("--repo", repo, "--traceback", "info", "/nothing")
    assert missing.exit_code == ExitCode.NOT_FOUND


def test_sigterm_during_an_upload_leaves_no_spool_file(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    assert cli("init", str(repo)).exit_code == 0
    command = [sys.executable, "-m", "fcrctl", "--repo", str(repo), "create", "/z", "--file", "/dev/zero"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(f.stat().st_size > 1 << 20 for f in (repo / "tmp").iterdir()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert list((repo / "tmp").iterdir()) == []
    assert cli("--repo", str(repo), "info", "/z").exit_code == ExitCode.NOT_FOUND


def test_check_mentions_the_partial_files_an_interrupted_command_left(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    assert cli("init", str(repo)).exit_code == 0
    (repo / "tmp" / "upload-0123").write_bytes(b"\0" * 5000)  # as a SIGKILL'd upload leaves it
    result = cli("--repo", str(repo), "check")
    assert result.exit_code == 0, result.output
    assert "removed 1 partial file (5000 bytes)" in result.stderr
    assert list((repo / "tmp").iterdir()) == []


@pytest.mark.parametrize("dialect", ["fedora4", "fedora6"])
def test_serve_on_a_full_disk_answers_507(tmp_path: Path, dialect: str) -> None:
    import requests

    from tests.server_fixture import start_server

    mnt = tmp_path / "mnt"
    if not _mount(mnt, "size=3m"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        with start_server(mnt / "r", dialect=dialect) as handle:
            assert requests.put(handle.url + "/a").status_code == 201
            resp = requests.put(handle.url + "/big", data=os.urandom(4 * 1024 * 1024),
                                headers={"Content-Type": "application/octet-stream"})
            assert resp.status_code == 507, resp.text
            assert "no space left" in resp.text and str(mnt) not in resp.text
            assert requests.head(handle.url + "/big").status_code == 404
            assert requests.get(handle.url + "/a").status_code == 200
    finally:
        _umount(mnt)
