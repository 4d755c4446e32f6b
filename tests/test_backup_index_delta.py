"""A snapshot built on an older state base carries the index of that base (linked, not copied)
and the list of objects changed since (index.delta.jsonl): both travel to stores, the base's
index as the blob its own snapshot sent, so a restore from a store loads the base index and
re-indexes only the changed objects, ending where a whole reindex ends."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup.snapshot import INDEX, INDEX_BASE, INDEX_DELTA
from tests.backup_helpers import make_repo, ok_json, run

TABLES = ("resources", "membership", "refs", "acls", "invalid")


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _index(repo_dir: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(repo_dir / "index.sqlite") as db:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def _change(repo_dir: Path, i: int) -> None:
    repo = open_repository(str(repo_dir))
    try:
        repo.create(f"/new{i}", ResourceSpec(content=io.BytesIO(b"x" * i), mime_type="text/plain"))
        repo.replace("/top/sub/b0", ResourceSpec(content=io.BytesIO(f"changed {i}".encode()), mime_type="text/plain"))
    finally:
        repo.close()


def _delta_snapshot(repo_dir: Path) -> tuple[dict, dict]:
    """A first snapshot (a new base, its index copied whole), then changes (two objects written,
    one purged) and a second snapshot over the same base."""
    first = ok_json(repo_dir, "backup", "--label", "first")
    _change(repo_dir, 41)
    assert run(repo_dir, "delete", "/other").exit_code == 0
    assert run(repo_dir, "purge", "/other").exit_code == 0
    second = ok_json(repo_dir, "backup", "--label", "second")
    where = repo_dir / "backups" / second["id"]
    assert not (where / INDEX).exists() and (where / INDEX_BASE).is_file()
    assert second["indexBaseSha512"] == first["indexSha512"]
    return first, second


def _delta_lines(where: Path) -> list[dict]:
    return [json.loads(line) for line in (where / INDEX_DELTA).read_text().splitlines()]


def test_a_restore_from_a_store_reindexes_only_what_changed_since_the_base(repo_dir: Path, tmp_path: Path) -> None:
    first, second = _delta_snapshot(repo_dir)
    lines = _delta_lines(repo_dir / "backups" / second["id"])
    changed = [d["changed"] for d in lines if "changed" in d]
    assert len(changed) == 2 and len(lines) == 3  # /new41 and b0's objects; /other gone
    store = tmp_path / "store"
    ok_json(repo_dir, "upload-backup", first["id"], str(store))
    sent = ok_json(repo_dir, "upload-backup", second["id"], str(store))
    assert sent["blobs_reused"] >= 1  # the base index is the first snapshot's index blob: not sent again
    base_blobs = [p for p in store.rglob(f"{first['indexSha512']}*") if p.is_file()]
    assert len(base_blobs) == 1
    # the local copies gone, and the snapshot that made the base deleted from the store too: the
    # base index blob stays while a manifest names it
    ok_json(repo_dir, "delete-backup", first["id"], "--from", str(store))
    ok_json(repo_dir, "delete-backup", first["id"])
    ok_json(repo_dir, "delete-backup", second["id"])
    _change(repo_dir, 42)  # moves on after the snapshot
    restored = ok_json(repo_dir, "restore", second["id"], "--from", str(store), "--yes")
    assert restored["reindexedObjects"] == 2
    index = _index(repo_dir)
    assert run(repo_dir, "get", "/new41").exit_code == 0 and run(repo_dir, "get", "/new42").exit_code != 0
    assert run(repo_dir, "get", "/other").exit_code != 0
    assert b"changed 41" in run(repo_dir, "get", "/top/sub/b0").stdout_bytes
    assert run(repo_dir, "reindex").exit_code == 0
    assert _index(repo_dir) == index  # the same index a whole reindex builds
    with open_repository(str(repo_dir)) as repo:
        assert restored["resources"] == repo.resource_count()


def test_a_downloaded_delta_snapshot_restores_over_its_base_index(repo_dir: Path, tmp_path: Path) -> None:
    _, second = _delta_snapshot(repo_dir)
    store = tmp_path / "store"
    ok_json(repo_dir, "upload-backup", second["id"], str(store))
    ok_json(repo_dir, "delete-backup", second["id"])
    ok_json(repo_dir, "download-backup", second["id"], str(store))
    where = repo_dir / "backups" / second["id"]
    assert (where / INDEX_BASE).is_file() and len(_delta_lines(where)) == 3
    _change(repo_dir, 43)
    restored = ok_json(repo_dir, "restore", second["id"], "--yes")
    assert restored["reindexedObjects"] == 2
    index = _index(repo_dir)
    assert run(repo_dir, "reindex").exit_code == 0
    assert _index(repo_dir) == index


def test_an_unchanged_snapshot_keeps_the_delta_it_reuses(repo_dir: Path) -> None:
    _, second = _delta_snapshot(repo_dir)
    third = ok_json(repo_dir, "backup", "--label", "third")
    assert third["reusedFrom"] == second["id"]
    assert third["indexDeltaSha512"] == second["indexDeltaSha512"]
    assert (repo_dir / "backups" / third["id"] / INDEX_DELTA).stat().st_ino == \
        (repo_dir / "backups" / second["id"] / INDEX_DELTA).stat().st_ino


@pytest.mark.parametrize("line", ['{"changed": "../../escape"}', '{"changed": "/abs"}', '{"what": "x"}', "not json",
                                  '{"changed": "' + "a" * 20000 + '"}'])
def test_a_damaged_delta_refuses_the_restore_and_changes_nothing(repo_dir: Path, line: str) -> None:
    _, second = _delta_snapshot(repo_dir)
    where = repo_dir / "backups" / second["id"]
    (where / INDEX_DELTA).write_text(line + "\n")
    _change(repo_dir, 44)
    before = _index(repo_dir)
    result = run(repo_dir, "restore", second["id"], "--yes")
    assert result.exit_code == ExitCode.CORRUPT and INDEX_DELTA in result.stderr
    assert _index(repo_dir) == before and run(repo_dir, "get", "/new44").exit_code == 0


def test_a_delta_snapshot_counts_resources_from_its_base_and_the_changed_objects(repo_dir: Path) -> None:
    """Counted over the changed objects only (not the whole index), the count is the index's:
    after creates, a replace, a tombstone (delete) and a purge, and on a later delta snapshot."""
    first, second = _delta_snapshot(repo_dir)
    with open_repository(str(repo_dir)) as repo:
        assert second["resources"] == repo.resource_count()
    assert second["indexBaseResources"] == first["resources"]
    assert run(repo_dir, "delete", "/new41").exit_code == 0  # a tombstone: no longer counted
    _change(repo_dir, 45)
    third = ok_json(repo_dir, "backup", "--label", "third")
    assert third["scan"] == "journal" and third["indexBaseResources"] == first["resources"]
    with open_repository(str(repo_dir)) as repo:
        assert third["resources"] == repo.resource_count()


def test_a_downloaded_base_index_without_its_delta_is_not_trusted(repo_dir: Path, tmp_path: Path) -> None:
    """A store copy uploaded before the delta file existed carries the base index alone: the
    restore rebuilds the index whole rather than load an index that misses the changes."""
    _, second = _delta_snapshot(repo_dir)
    store = tmp_path / "store"
    ok_json(repo_dir, "upload-backup", second["id"], str(store))
    ok_json(repo_dir, "delete-backup", second["id"])
    ok_json(repo_dir, "download-backup", second["id"], str(store))
    (repo_dir / "backups" / second["id"] / INDEX_DELTA).unlink()
    restored = ok_json(repo_dir, "restore", second["id"], "--yes")
    assert restored["reindexedObjects"] is None
    assert run(repo_dir, "get", "/new41").exit_code == 0 and run(repo_dir, "get", "/other").exit_code != 0
