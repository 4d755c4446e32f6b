"""fcrctl check: every structural problem is reported with its path; a clean repository passes."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.paths import to_id
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import ocfl

HERE = Path(__file__).parent
INVALID_ROOT = HERE / "fixtures" / "fedora6-ocfl" / "test-rebuild-invalid"


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    """A small repository these tests damage on purpose."""
    path = tmp_path / "repo"
    repo = open_repository(str(path), create=True)
    repo.create("/col/sub", ResourceSpec(), parents=True)
    repo.create("/col/file.bin", ResourceSpec(content=io.BytesIO(b"payload " * 100), binary=True))
    repo.close()
    return path


def object_dir(repo_dir: Path, path: str) -> Path:
    return repo_dir / "ocfl-root" / ocfl.object_rel(to_id(path))


def check(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--repo", str(repo), "--json", "check", *args])


def problems(result: Result) -> list[tuple[str, str]]:
    return [(p["where"], p["message"]) for p in json.loads(result.stdout)["problems"]]


def test_clean_repository_passes(repo_dir: Path) -> None:
    result = CliRunner().invoke(app, ["--repo", str(repo_dir), "check", "--read-data"])
    assert result.exit_code == 0, result.stderr
    assert "no problems found" in result.stdout


def test_tampered_inventory_is_reported(repo_dir: Path) -> None:
    inventory = object_dir(repo_dir, "/col/sub") / "inventory.json"
    inventory.write_bytes(inventory.read_bytes().replace(b'"head"', b'"head" ', 1))
    result = check(repo_dir)
    assert result.exit_code == ExitCode.CORRUPT
    assert any(where == "/col/sub" and "inventory digest mismatch" in msg for where, msg in problems(result))


def test_missing_content_file_is_reported(repo_dir: Path) -> None:
    obj = object_dir(repo_dir, "/col/file.bin")
    (obj / "v1" / "content" / "file.bin").unlink()
    found = problems(check(repo_dir))
    assert ("/col/file.bin", "content file v1/content/file.bin is missing") in found


def test_flipped_content_needs_read_data(repo_dir: Path) -> None:
    file = object_dir(repo_dir, "/col/file.bin") / "v1" / "content" / "file.bin"
    file.write_bytes(b"Payload " + file.read_bytes()[8:])
    assert check(repo_dir).exit_code == 0
    result = check(repo_dir, "--read-data")
    assert result.exit_code == ExitCode.CORRUPT
    assert any("does not match its sha512" in msg for _, msg in problems(result))


def test_broken_headers_json_is_reported(repo_dir: Path) -> None:
    obj = object_dir(repo_dir, "/col/sub")
    headers = obj / "v1" / "content" / ".fcrepo" / "fcr-root.json"
    headers.write_bytes(b"{not json")
    found = problems(check(repo_dir))
    assert any("headers .fcrepo/fcr-root.json are not readable JSON" in msg for _, msg in found)


def test_orphan_resource_is_reported(repo_dir: Path) -> None:
    shutil.rmtree(object_dir(repo_dir, "/col"))
    found = problems(check(repo_dir))
    assert ("/col/sub", "parent /col does not exist") in found


def test_stale_index_offers_reindex(repo_dir: Path) -> None:
    db = sqlite3.connect(repo_dir / "index.sqlite")
    db.execute("DELETE FROM resources WHERE path = '/col/sub'")
    db.commit()
    db.close()
    result = check(repo_dir)
    assert result.exit_code == ExitCode.CORRUPT
    assert "fcrctl reindex" in result.stderr
    assert CliRunner().invoke(app, ["--repo", str(repo_dir), "reindex"]).exit_code == 0
    assert check(repo_dir).exit_code == 0


def test_fedora_invalid_fixture_is_reported_precisely(tmp_path: Path) -> None:
    root = tmp_path / "fedora-root"
    shutil.copytree(INVALID_ROOT, root)
    found = problems(check(root))
    assert ("/test", "inventory of v2 differs from the root inventory") in found
    assert all(where == "/test" for where, _ in found), found
    assert any("inventory digest mismatch" in msg for _, msg in found)


def test_remote_repository_says_check_is_local(tmp_path: Path) -> None:
    from tests.server_fixture import start_server

    with start_server(tmp_path / "served") as handle:
        result = CliRunner().invoke(app, ["--repo", handle.url, "check"])
    assert result.exit_code == ExitCode.UNSUPPORTED
    assert "not supported" in result.stderr


def test_worker_processes_report_what_one_process_does(repo_dir: Path) -> None:
    # big roots are checked by worker processes: the same problems, in the same order
    from fcrctl.repository.local.check import check_storage_root

    repo = open_repository(str(repo_dir))
    for i in range(12):
        repo.create(f"/col/n{i}", ResourceSpec(content=io.BytesIO(b"n%d" % i), binary=True))
    repo.close()
    flipped = object_dir(repo_dir, "/col/n3") / "v1" / "content" / "n3"
    flipped.write_bytes(b"x" + flipped.read_bytes()[1:])
    (object_dir(repo_dir, "/col/n5") / "v1" / "content" / "stray").write_bytes(b"x")
    shutil.rmtree(object_dir(repo_dir, "/col/sub"))
    (object_dir(repo_dir, "/col/n7") / "v1" / "content" / "n7").unlink()
    root = repo_dir / "ocfl-root"
    counted: list[int] = []
    one = list(check_storage_root(root, None, read_data=True, processes=0))
    two = list(check_storage_root(root, None, read_data=True, processes=2, on_object=lambda: counted.append(1)))
    assert one == two
    assert len(counted) == 15  # every object (/, /col, /col/file.bin, 12 binaries) counted once
    found = {(p.where, p.message) for p in two}
    assert found == {
        ("/col/n3", "content file v1/content/n3 does not match its sha512 in the inventory"),
        ("/col/n5", "content file v1/content/stray is not in the manifest"),
        ("/col/n7", "content file v1/content/n7 is missing"),
    }, found


def test_malformed_inventory_is_a_problem_not_a_crash(repo_dir: Path) -> None:
    # valid JSON with a correct sidecar, but its state names a digest the manifest lacks
    obj = object_dir(repo_dir, "/col/sub")
    inventory = json.loads((obj / "inventory.json").read_bytes())
    inventory["manifest"] = {}
    (obj / "inventory.json").unlink()  # the head inventory is a hard link: leave it alone
    data, sidecar = ocfl.inventory_bytes(inventory)
    (obj / "inventory.json").write_bytes(data)
    (obj / "inventory.json.sha512").unlink()
    (obj / "inventory.json.sha512").write_bytes(sidecar)
    found = problems(check(repo_dir))
    assert ("/col/sub", "inventory of v1 differs from the root inventory") in found
    assert any(where == "/col/sub" and "inventory is malformed" in msg for where, msg in found), found


def test_check_shows_a_bar_with_an_eta_on_a_terminal_only(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.cli import admin, output

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["--repo", str(repo_dir), "check", *args])

    plain = run()  # piped (CliRunner's stderr is no terminal): no bar
    assert plain.exit_code == 0 and "objects/s" not in plain.stderr
    monkeypatch.setattr(output, "_isatty", lambda stream: True)
    monkeypatch.setattr(admin, "BAR_DELAY", 0)
    for args in ((), ("--read-data",)):
        result = run(*args)
        assert result.exit_code == 0 and "no problems found" in result.stdout
        assert "/4 [" in result.stderr and "objects/s" in result.stderr  # count of the total, rate, ETA
    seen: list[int] = []
    repo = open_repository(str(repo_dir))
    try:
        assert list(repo.check(progress=seen.append)) == []  # type: ignore[call-arg]
        assert sum(seen) == repo.object_count() == 4  # type: ignore[attr-defined]
    finally:
        repo.close()
