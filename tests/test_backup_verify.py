"""verify-backup --read-data on a root big enough for worker processes: every damaged file
is still named by path, and the structure problems come back with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from fcrctl.repository.local import check
from tests.backup_helpers import make_repo, object_file, ok_json, run


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, binaries=6)
    return path


@pytest.mark.parametrize("processes", [0, 2])
def test_verify_names_every_damage_with_or_without_workers(
    repo_dir: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    # the CLI picks workers for big roots only: make this small one count as big (or not)
    monkeypatch.setattr(check, "_MIN_TOPS_FOR_PROCESSES", 1 if processes else 10**9)
    monkeypatch.setattr(check, "_MIN_OBJECTS_FOR_PROCESSES", 1 if processes else 10**9)
    monkeypatch.setattr(check, "_VIEW_CHUNK", 3)
    bid = ok_json(repo_dir, "backup")["id"]
    # the snapshot reads its objects in the live root (as hard links would share them): damage there
    b1 = object_file(repo_dir, bid, "b1")
    b1.write_bytes(b"X" + b1.read_bytes()[1:])
    b4 = object_file(repo_dir, bid, "b4")
    (b4.parent / "stray.bin").write_bytes(b"not in any inventory")
    b5 = object_file(repo_dir, bid, "b5")
    (b5.parent / ".fcrepo" / "fcr-root.json").write_bytes(b"{broken")
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
