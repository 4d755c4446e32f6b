"""fcr:backup and fcr:restore are admin-only and confined to `serve --backup-dir DIR` (issue 18.4),
against a real `fcrctl serve` on 127.0.0.1, in both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from fcrctl.errors import ExitCode
from fcrctl.server.auth import add_user
from tests.backup_helpers import make_repo, paths_in, run
from tests.server_fixture import start_server


@dataclass
class Served:
    url: str
    repo: Path
    allowed: Path
    outside: Path


def _users(tmp_path: Path) -> Path:
    users = tmp_path / "users"
    add_user(users, "root", "root-pw", admin=True)
    add_user(users, "reader", "reader-pw")
    return users


@pytest.fixture(params=["fedora4", "fedora6"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    repo = tmp_path / "served"
    make_repo(repo)
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    with start_server(repo, dialect=request.param, auth_file=_users(tmp_path), backup_dir=str(allowed)) as handle:
        yield Served(handle.url, repo, allowed, outside)


def _backups(repo: Path) -> list[str]:
    home = repo / "backups"
    return sorted(p.name for p in home.iterdir() if p.name[:1].isdigit()) if home.is_dir() else []


def test_an_ordinary_user_can_neither_back_up_nor_restore(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCRCTL_PASSWORD", "reader-pw")
    before = paths_in(served.repo)
    result = run(served.url, "--user", "reader", "backup", "--server-side", str(served.allowed / "b"))
    assert result.exit_code == ExitCode.AUTH, result.stderr
    assert "admin" in result.stderr
    assert not (served.allowed / "b").exists() and _backups(served.repo) == []
    result = run(served.url, "--user", "reader", "restore", "--server-side", str(served.allowed / "b"), "--yes")
    assert result.exit_code == ExitCode.AUTH, result.stderr
    assert paths_in(served.repo) == before
    raw = requests.post(f"{served.url}/fcr:backup", auth=("reader", "reader-pw"), timeout=10)
    assert raw.status_code == 403


def test_an_admin_may_use_only_paths_under_the_backup_dir(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCRCTL_PASSWORD", "root-pw")
    for target in (served.outside, served.allowed / ".." / "outside", served.allowed):
        result = run(served.url, "--user", "root", "backup", "--server-side", str(target))
        assert result.exit_code == ExitCode.AUTH, (target, result.stderr)
        assert not served.outside.exists()
    (served.allowed / "link").symlink_to(served.outside.parent)
    result = run(served.url, "--user", "root", "backup", "--server-side", str(served.allowed / "link" / "x"))
    assert result.exit_code == ExitCode.AUTH, result.stderr
    assert _backups(served.repo) == [] and not (served.outside.parent / "x").exists()
    ok = run(served.url, "--user", "root", "--json", "backup", "--server-side", str(served.allowed / "nightly"))
    assert ok.exit_code == 0, ok.stderr
    assert (served.allowed / "nightly" / "backup.json").is_file()


def test_a_refused_export_leaves_no_backup(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCRCTL_PASSWORD", "root-pw")
    busy = served.allowed / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    result = run(served.url, "--user", "root", "backup", "--server-side", str(busy))
    assert result.exit_code == ExitCode.CONFLICT, result.stderr
    assert _backups(served.repo) == []


def test_without_backup_dir_or_auth_server_side_backups_are_refused(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "served"
    make_repo(repo)
    monkeypatch.setenv("FCRCTL_PASSWORD", "root-pw")
    with start_server(repo, auth_file=_users(tmp_path)) as handle:  # an admin, but no --backup-dir
        result = run(handle.url, "--user", "root", "backup", "--server-side", str(tmp_path / "b"))
        assert result.exit_code == ExitCode.AUTH, result.stderr
        raw = requests.post(f"{handle.url}/fcr:restore", data=str(tmp_path / "b"), auth=("root", "root-pw"), timeout=10)
        assert raw.status_code == 403 and "--backup-dir" in raw.text
    with start_server(repo, backup_dir=str(tmp_path)) as handle:  # no authentication at all
        for endpoint in ("fcr:backup", "fcr:restore"):
            raw = requests.post(f"{handle.url}/{endpoint}", data=str(tmp_path / "b"), timeout=10)
            assert raw.status_code == 403 and "auth" in raw.text
    assert _backups(repo) == [] and not (tmp_path / "b").exists()


def test_serve_backup_dir_must_exist(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    make_repo(tmp_path / "r")
    result = CliRunner().invoke(app, ["--repo", str(tmp_path / "r"), "serve", "--port", "0",
                                      "--backup-dir", str(tmp_path / "missing")])
    assert result.exit_code == ExitCode.BAD_INPUT and "is not a directory" in result.stderr, result.stderr
