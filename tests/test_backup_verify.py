"""verify-backup --read-data on a root big enough for worker processes: every damaged file
is still named by path, and the structure problems come back with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from fcrctl.repository.local import check
from tests.backup_helpers import make_repo, ok_json, run


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, binaries=6)
    return path


def _break_link_and_write(path: Path, data: bytes) -> None:
    path.unlink()  # the snapshot shares inodes with the live repository: leave that intact
    path.write_bytes(data)


@pytest.mark.parametrize("processes", [0, 2])
def test_verify_names_every_damage_with_or_without_workers(
    repo_dir: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    # the CLI picks workers for big roots only: make this small one count as big (or not)
    monkeypatch.setattr(check, "_MIN_TOPS_FOR_PROCESSES", 1 if processes else 10**9)
    bid = ok_json(repo_dir, "backup")["id"]
    snap = repo_dir / "backups" / bid / "ocfl-root"
    b1 = next(p for p in snap.rglob("b1") if "content" in p.parts)
    _break_link_and_write(b1, b"X" + b1.read_bytes()[1:])
    b4 = next(p for p in snap.rglob("b4") if "content" in p.parts)
    (b4.parent / "stray.bin").write_bytes(b"not in any inventory")
    b5 = next(p for p in snap.rglob("b5") if "content" in p.parts)
    _break_link_and_write(b5.parent / ".fcrepo" / "fcr-root.json", b"{broken")
    result = run(repo_dir, "--json", "verify-backup", bid, "--read-data")
    assert result.exit_code == ExitCode.CORRUPT, result.stderr
    report = json.loads(result.stdout)
    assert report["objects"] == 10  # /, /top, /top/sub, six binaries, /other
    found = {(p["where"], p["message"]) for p in report["problems"]}
    assert found == {
        ("/top/sub/b1", "content file v1/content/b1 does not match its sha512 in the inventory"),
        ("/top/sub/b4", "content file v1/content/stray.bin is not in the manifest"),
        ("/top/sub/b5", "content file v1/content/.fcrepo/fcr-root.json does not match its sha512 in the inventory"),
        ("/top/sub/b5", "headers .fcrepo/fcr-root.json are not readable JSON: Expecting property name enclosed in "
                        "double quotes: line 1 column 2 (char 1)"),
    }, found
