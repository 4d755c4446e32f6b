"""Snapshots read the change journal: only objects written since the newest snapshot are looked
at, and the state recorded so is the one a full scan records (same objects.jsonl), after
ordinary writes, a writer killed between its OCFL write and its index update, a reindex, purges
and restores."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.snapshot import BackupHome, take
from tests.backup_helpers import make_repo, ok_json, run


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _state_file(repo_dir: Path, backup_id: str) -> bytes:
    """The recorded state whole, as the lines of a state saved without a base: a journaled
    snapshot saves only what changed over its base (rootstate/stored.py), a full scan a new base."""
    state = rootstate.RootState.load(repo_dir / "backups" / backup_id / rootstate.STATE_FILE)
    lines = [json.dumps(sorted(state.root_files))]
    lines += [json.dumps(state.objects[rel].to_json(), sort_keys=True) for rel in sorted(state.objects)]
    return "\n".join(lines).encode()


def _journal_equals_full_scan(repo_dir: Path, tag: str, *, expect: str = "journal") -> dict:
    """A snapshot through the CLI (the journal when it can tell), then one by a full scan of the
    same instant: their recorded states are byte for byte the same."""
    journaled = ok_json(repo_dir, "backup", "--label", f"j-{tag}")
    assert journaled["scan"] == expect
    repo = open_repository(str(repo_dir))
    try:
        full = take(repo, BackupHome(repo_dir / "backups"), label=f"f-{tag}", full_scan=True)
    finally:
        repo.close()
    assert full.extra["scan"] == "full"
    assert _state_file(repo_dir, journaled["id"]) == _state_file(repo_dir, full.id)
    assert journaled["stateDigest"] == full.extra["stateDigest"]
    assert (journaled["files"], journaled["bytes"]) == (full.files, full.bytes)
    return journaled


def _write(repo_dir: Path, i: int) -> None:
    repo = open_repository(str(repo_dir))
    try:
        repo.create(f"/new{i}", ResourceSpec(content=io.BytesIO(b"x" * i), mime_type="text/plain"))
        repo.replace("/top/sub/b0", ResourceSpec(content=io.BytesIO(f"changed {i}".encode()), mime_type="text/plain"))
    finally:
        repo.close()


def test_first_snapshot_scans_then_the_journal_names_what_changed(repo_dir: Path) -> None:
    first = ok_json(repo_dir, "backup", "--label", "first")
    assert first["scan"] == "full" and first["journal"][1] > 0
    _write(repo_dir, 1)
    _journal_equals_full_scan(repo_dir, "writes")
    # unchanged: the journal names nothing, so the newest snapshot's state and index copy are
    # this one's (linked: nothing is read or written per object)
    newest = ok_json(repo_dir, "list-backups")[-1]
    doc = _journal_equals_full_scan(repo_dir, "unchanged")
    assert doc["reusedFrom"] == newest["id"] and doc["indexSha512"] == newest["indexSha512"]
    backups = repo_dir / "backups"
    assert (backups / doc["id"] / rootstate.STATE_FILE).stat().st_ino == (
        backups / newest["id"] / rootstate.STATE_FILE).stat().st_ino


def test_a_writer_killed_after_its_ocfl_write_is_not_missed(repo_dir: Path) -> None:
    ok_json(repo_dir, "backup", "--label", "first")
    # the writer dies after installing the new OCFL version, before the index records it
    script = textwrap.dedent(f"""
        import io, os
        from fcrctl.repository import open_repository
        from fcrctl.repository.base import ResourceSpec
        from fcrctl.repository.local.index import Index
        def die(*a, **k):
            os._exit(9)
        repo = open_repository({str(repo_dir)!r})
        Index.apply = die
        repo.replace("/top/sub/b1", ResourceSpec(content=io.BytesIO(b"written, never indexed"), mime_type="text/plain"))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    # read before anything opens the repository (opening recovers the object): the journal
    # named the object before its new version was installed
    with sqlite3.connect(repo_dir / "index.sqlite") as db:
        journaled = {r[0] for r in db.execute("SELECT object_rel FROM changes")}
        rel = db.execute("SELECT object_rel FROM resources WHERE path='/top/sub/b1'").fetchone()[0]
    assert rel in journaled
    doc = _journal_equals_full_scan(repo_dir, "crash")
    result = run(repo_dir, "get", "/top/sub/b1")
    assert result.exit_code == 0 and b"written, never indexed" in result.stdout_bytes, doc


def test_reindex_cuts_the_journal_off_so_changes_made_outside_are_seen(repo_dir: Path) -> None:
    ok_json(repo_dir, "backup", "--label", "first")
    # an object changed behind fcrctl's back (no journal entry): only a reindex makes it known
    live = repo_dir / "ocfl-root"
    victim = next(p.parent for p in live.rglob("inventory.json") if p.parent.parent.parent.parent.parent == live)
    sidecar = next(victim.glob("inventory.json.*"))
    sidecar.write_text(sidecar.read_text())  # a new inode with the same bytes
    (victim / "inventory.json").write_bytes((victim / "inventory.json").read_bytes() + b"\n")
    assert run(repo_dir, "reindex").exit_code == 0
    _journal_equals_full_scan(repo_dir, "reindex", expect="full")
    _write(repo_dir, 2)
    _journal_equals_full_scan(repo_dir, "after-reindex")


def test_purges_and_restores_are_recorded_as_a_full_scan_records_them(repo_dir: Path) -> None:
    first = ok_json(repo_dir, "backup", "--label", "first")
    assert run(repo_dir, "delete", "/other").exit_code == 0
    _journal_equals_full_scan(repo_dir, "delete")
    assert run(repo_dir, "purge", "/other").exit_code == 0
    assert run(repo_dir, "delete", "/top/sub/b2").exit_code == 0
    assert run(repo_dir, "purge", "/top/sub/b2").exit_code == 0
    _journal_equals_full_scan(repo_dir, "purge")
    _write(repo_dir, 3)
    ok_json(repo_dir, "restore", first["id"], "--yes")
    # the root was swapped and the index loaded from the snapshot: the journal cannot tell
    _journal_equals_full_scan(repo_dir, "restore", expect="full")
    _write(repo_dir, 4)
    _journal_equals_full_scan(repo_dir, "after-restore")


def test_a_journal_trimmed_past_the_newest_snapshot_falls_back_to_a_scan(repo_dir: Path) -> None:
    ok_json(repo_dir, "backup", "--label", "first")
    _write(repo_dir, 5)
    second = ok_json(repo_dir, "backup", "--label", "second")
    assert second["scan"] == "journal"
    _write(repo_dir, 6)
    assert run(repo_dir, "delete-backup", second["id"]).exit_code == 0
    # the first snapshot's position was trimmed away when the second was taken
    _journal_equals_full_scan(repo_dir, "trimmed", expect="full")


def test_the_journal_is_trimmed_by_each_snapshot(repo_dir: Path) -> None:
    ok_json(repo_dir, "backup", "--label", "first")
    for i in range(3):
        _write(repo_dir, 10 + i)
    repo = open_repository(str(repo_dir))
    try:
        assert repo._index.conn.execute("SELECT count(*) FROM changes").fetchone()[0] == 6  # noqa: SLF001
    finally:
        repo.close()
    ok_json(repo_dir, "backup", "--label", "second")
    repo = open_repository(str(repo_dir))
    try:
        assert repo._index.conn.execute("SELECT count(*) FROM changes").fetchone()[0] == 0  # noqa: SLF001
    finally:
        repo.close()


def test_a_write_during_the_first_scan_is_recorded(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first snapshot scans without the lock; the journal's position before the scan names
    what was written meanwhile, so the lock at the end looks only at that."""
    real_scan = rootstate.scan

    def scan_then_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        state = real_scan(*args, **kwargs)
        _write(repo_dir, 7)  # after the scan looked, before the snapshot's lock
        return state

    monkeypatch.setattr(rootstate, "scan", scan_then_write)
    repo = open_repository(str(repo_dir))
    try:
        first = take(repo, BackupHome(repo_dir / "backups"), label="first")
    finally:
        repo.close()
    monkeypatch.setattr(rootstate, "scan", real_scan)
    assert first.extra["scan"] == "full"
    repo = open_repository(str(repo_dir))
    try:
        full = take(repo, BackupHome(repo_dir / "backups"), label="full", full_scan=True)
    finally:
        repo.close()
    assert _state_file(repo_dir, first.id) == _state_file(repo_dir, full.id)


def test_a_journal_no_snapshot_trims_is_capped(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.repository.local import index

    ok_json(repo_dir, "backup", "--label", "first")
    monkeypatch.setattr(index, "JOURNAL_CAP", 4)
    monkeypatch.setattr(index, "JOURNAL_CHECK", 1)
    for i in range(4):
        _write(repo_dir, 20 + i)  # two objects each
    repo = open_repository(str(repo_dir))
    try:
        assert repo._index.conn.execute("SELECT count(*) FROM changes").fetchone()[0] <= 4  # noqa: SLF001
    finally:
        repo.close()
    # the first snapshot's position was dropped with the oldest entries: a full scan, still equal
    _journal_equals_full_scan(repo_dir, "capped", expect="full")


def test_an_object_without_inventory_is_still_copied_by_a_journal_snapshot(repo_dir: Path) -> None:
    odd = repo_dir / "ocfl-root" / "fff" / "fff" / "fff" / ("f" * 64)
    odd.mkdir(parents=True)
    (odd / "0=ocfl_object_1.1").write_text("ocfl_object_1.1\n")
    (odd / "note.txt").write_text("no inventory: copied as found")
    first = ok_json(repo_dir, "backup", "--label", "first")
    assert first["objectsAsFound"] == 1
    _write(repo_dir, 30)
    doc = _journal_equals_full_scan(repo_dir, "odd")
    rel = odd.relative_to(repo_dir / "ocfl-root")
    assert (repo_dir / "backups" / doc["id"] / "ocfl-root" / rel / "note.txt").read_text().startswith("no inventory")
    # nothing journaled, but an object copied as found is never taken from an older snapshot
    again = _journal_equals_full_scan(repo_dir, "odd-again")
    assert "reusedFrom" not in again


# -- the state as a base plus what changed (issue 14) ---------------------------------------------
def _index_rows(repo_dir: Path) -> list[tuple]:
    with sqlite3.connect(repo_dir / "index.sqlite") as db:
        return sorted(db.execute("SELECT * FROM resources").fetchall(), key=repr)


def test_a_journal_snapshot_saves_only_what_changed_over_the_base_it_links(repo_dir: Path) -> None:
    """Neither the state nor the index is copied whole: the base and the index as of it are
    hard links to the first snapshot's, objects.jsonl holds only the changed objects."""
    from fcrctl.services.backup.snapshot import INDEX, INDEX_BASE

    first = ok_json(repo_dir, "backup", "--label", "first")
    backups = repo_dir / "backups"
    whole = len(rootstate.RootState.load(backups / first["id"] / rootstate.STATE_FILE).objects)
    _write(repo_dir, 40)
    assert run(repo_dir, "delete", "/other").exit_code == 0
    assert run(repo_dir, "purge", "/other").exit_code == 0
    second = ok_json(repo_dir, "backup", "--label", "second")
    assert second["scan"] == "journal" and "indexSha512" not in second
    one, two = backups / first["id"], backups / second["id"]
    assert (two / rootstate.BASE_FILE).stat().st_ino == (one / rootstate.BASE_FILE).stat().st_ino
    assert (two / INDEX_BASE).stat().st_ino == (one / INDEX).stat().st_ino and not (two / INDEX).exists()
    lines = (two / rootstate.STATE_FILE).read_text().splitlines()[1:]
    assert 0 < len(lines) < whole and any('"gone":true' in line for line in lines)
    # deleting the snapshot that made the base leaves the one linking it whole
    assert run(repo_dir, "delete-backup", first["id"]).exit_code == 0
    _journal_equals_full_scan(repo_dir, "base-deleted")


def test_a_restore_of_a_journal_snapshot_indexes_what_changed_since_its_base(repo_dir: Path) -> None:
    """Its index copy is the base's: the restore loads it, then re-indexes the objects changed
    since (and forgets those gone), ending where a reindex of the restored root ends."""
    ok_json(repo_dir, "backup", "--label", "first")
    _write(repo_dir, 41)
    assert run(repo_dir, "delete", "/other").exit_code == 0
    assert run(repo_dir, "purge", "/other").exit_code == 0
    second = ok_json(repo_dir, "backup", "--label", "second")
    assert "indexSha512" not in second
    _write(repo_dir, 42)  # moves on after the snapshot
    ok_json(repo_dir, "restore", second["id"], "--yes")
    restored = _index_rows(repo_dir)
    assert run(repo_dir, "get", "/new41").exit_code == 0 and run(repo_dir, "get", "/new42").exit_code != 0
    assert run(repo_dir, "get", "/other").exit_code != 0
    assert b"changed 41" in run(repo_dir, "get", "/top/sub/b0").stdout_bytes
    assert run(repo_dir, "reindex").exit_code == 0
    assert _index_rows(repo_dir) == restored
    assert ok_json(repo_dir, "verify-backup", second["id"])["ok"]


def test_changes_past_an_eighth_of_the_base_make_a_new_base(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.services.backup.rootstate import stored
    from fcrctl.services.backup.snapshot import INDEX

    ok_json(repo_dir, "backup", "--label", "first")
    monkeypatch.setattr(stored, "COMPACT_MIN", 0)
    _write(repo_dir, 43)
    repo = open_repository(str(repo_dir))
    try:
        second = take(repo, BackupHome(repo_dir / "backups"), label="second")
    finally:
        repo.close()
    two = repo_dir / "backups" / second.id
    assert second.extra["scan"] == "journal" and "indexSha512" in second.extra and (two / INDEX).is_file()
    assert (two / rootstate.STATE_FILE).read_text().count("\n") == 1  # the header: everything is in the base
    monkeypatch.undo()
    _write(repo_dir, 44)
    _journal_equals_full_scan(repo_dir, "new-base")


def test_a_state_whose_base_is_not_its_own_is_damage(repo_dir: Path) -> None:
    from fcrctl.errors import CorruptData, ExitCode

    first = ok_json(repo_dir, "backup", "--label", "first")
    path = repo_dir / "backups" / first["id"] / rootstate.STATE_FILE
    header, rest = path.read_text().split("\n", 1)
    path.write_text(json.dumps({**json.loads(header), "base": "../../index.sqlite"}) + "\n" + rest)
    with pytest.raises(CorruptData, match="damaged"):
        rootstate.RootState.load(path)
    _write(repo_dir, 45)
    result = run(repo_dir, "backup", "--label", "second")  # the snapshot it would build on is damaged: said so
    assert result.exit_code == ExitCode.CORRUPT and "is damaged" in result.stderr
    assert [b["id"] for b in ok_json(repo_dir, "list-backups")] == [first["id"]]


def test_the_state_digest_adds_and_removes_objects_in_any_order() -> None:
    from fcrctl.services.backup.rootstate import digest

    lines = [digest.object_line(f"o{i}", "v1", f"{i:0128x}") for i in range(50)]
    forward = backward = digest.ZERO
    for line in lines:
        forward = digest.add(forward, digest.vector(line))
    for line in reversed(lines):
        backward = digest.add(backward, digest.vector(line))
    assert forward == backward and digest.from_hex(digest.to_hex(forward)) == forward
    less = forward
    for line in lines[10:]:
        less = digest.sub(less, digest.vector(line))
    only = digest.ZERO
    for line in lines[:10]:
        only = digest.add(only, digest.vector(line))
    assert less == only and digest.state_digest(less, ["a"]) != digest.state_digest(less, ["b"])
