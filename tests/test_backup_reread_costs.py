"""What an upload re-reads of files whose blobs the store has costs what changed (issue 14):
objects changed since the last check, objects that failed then, and a bounded sweep of the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fcrctl.errors import CorruptData
from fcrctl.services.backup import reread
from fcrctl.services.backup.snapshot import BackupHome
from tests.backup_helpers import make_repo, ok_json, run

ORIGINAL = ("binary 0 " * 50).encode()


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, binaries=6)
    return path


def _check(repo_dir: Path, backup_id: str) -> reread.Checked:
    home = BackupHome(repo_dir / "backups")
    return reread.check_snapshot(home, home.get(backup_id))


def _damage(repo_dir: Path) -> None:
    hits = [p for p in (repo_dir / "ocfl-root").rglob("*") if p.is_file() and p.read_bytes() == ORIGINAL]
    assert len(hits) == 1
    with open(hits[0], "r+b") as fh:
        fh.seek(10)
        fh.write(b"XXXX")


def test_an_unchanged_snapshot_looks_only_at_the_sweep(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ok_json(repo_dir, "backup", "--label", "one")["id"]
    whole = _check(repo_dir, first)
    assert whole.objects >= 9 and whole.files_read >= 9  # never read before: every object read
    monkeypatch.setattr(reread, "SWEEP_FILES", 0)
    second = ok_json(repo_dir, "backup", "--label", "two")["id"]
    assert _check(repo_dir, second) == reread.Checked()  # the same state: nothing to look at
    run(repo_dir, "create", "/top/new")
    third = ok_json(repo_dir, "backup", "--label", "three")["id"]
    changed = _check(repo_dir, third)
    assert 1 <= changed.objects <= 3, changed  # /top/new and its parent, not the other objects
    monkeypatch.setattr(reread, "SWEEP_FILES", 4)
    swept = _check(repo_dir, third)
    assert swept.objects and swept.files_statted <= 6 and swept.files_read == 0, swept


def test_the_sweep_finds_damage_to_an_unchanged_file_within_a_cycle(repo_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _check(repo_dir, bid)
    _damage(repo_dir)
    monkeypatch.setattr(reread, "SWEEP_FILES", 2)
    found = 0
    for _ in range(12):  # ~20 content files, 2 a time: each is looked at within 10 checks
        try:
            _check(repo_dir, bid)
        except CorruptData as e:
            assert "/top/sub/b0" in e.message
            found += 1
    assert found >= 2  # found, and then looked at every time (whatever the budget) until it passes
    monkeypatch.setattr(reread, "SWEEP_FILES", 0)
    with pytest.raises(CorruptData):
        _check(repo_dir, bid)


def _files_of(repo_dir: Path) -> int:
    import sqlite3

    db = sqlite3.connect(repo_dir / "backups" / reread.STATS)
    try:
        return sum(len(reread._files(f) or ()) for (f,) in db.execute("SELECT files FROM objects"))  # noqa: SLF001
    finally:
        db.close()


def test_the_sweep_stops_at_its_time_budget_past_its_minimum(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stats of uncached inodes wait on the disk (~150 us each here at 100k objects): past
    SWEEP_MIN files the sweep stops when SWEEP_SECONDS are spent, so an upload's sweep costs
    the same at any size; with time to spare it takes up to SWEEP_FILES, a page of rows at a time."""
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _check(repo_dir, bid)
    total = _files_of(repo_dir)
    assert total >= 18
    monkeypatch.setattr(reread, "SWEEP_FILES", 10_000)
    monkeypatch.setattr(reread, "SWEEP_PAGE", 2)  # many pages: each row once, none skipped
    monkeypatch.setattr(reread, "SWEEP_SECONDS", 60.0)
    every = _check(repo_dir, bid)
    assert every.files_statted == total and every.files_read == 0, (every, total)
    monkeypatch.setattr(reread, "SWEEP_MIN", 3)
    monkeypatch.setattr(reread, "SWEEP_SECONDS", 0.0)  # spent at once: the minimum only
    least = _check(repo_dir, bid)
    assert 3 <= least.files_statted <= 3 + 4, least  # (the object that reaches the minimum is statted whole)


def test_the_sweep_finds_damage_within_its_period_on_a_slow_disk(repo_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """However slow the stats, each upload's sweep takes SWEEP_MIN files, those checked longest ago
    first: in-place damage to a file nothing changed is found within files / SWEEP_MIN uploads."""
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _check(repo_dir, bid)
    total = _files_of(repo_dir)
    _damage(repo_dir)
    monkeypatch.setattr(reread, "SWEEP_FILES", 10_000)
    monkeypatch.setattr(reread, "SWEEP_MIN", 2)
    monkeypatch.setattr(reread, "SWEEP_SECONDS", 0.0)
    statted = []
    for _ in range(total // 2 + 2):
        try:
            statted.append(_check(repo_dir, bid).files_statted)
        except CorruptData as e:
            assert "/top/sub/b0" in e.message
            break
    else:
        raise AssertionError(f"not found in {len(statted)} checks")
    assert statted and max(statted) <= 2 + 4, statted  # the budget held while it looked


def test_stats_lost_or_out_of_step_mean_a_whole_check(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    home = repo_dir / "backups"
    (home / reread.OLD_STATS).write_text("{}\n")  # an earlier release's file goes
    assert _check(repo_dir, bid).files_read
    assert not (home / reread.OLD_STATS).exists()
    monkeypatch.setattr(reread, "SWEEP_FILES", 0)
    run(repo_dir, "create", "/top/new")
    bid2 = ok_json(repo_dir, "backup", "--label", "two")["id"]
    os.unlink(home / reread.BASE)  # as a crash between the rows and the state they describe
    redone = _check(repo_dir, bid2)
    assert redone.objects >= 9 and redone.files_read <= 4  # every object compared; only the new files read
    (home / reread.STATS).write_bytes(b"not a database" * 100)
    assert _check(repo_dir, bid2).files_read >= 9  # a damaged database is a cache: everything read again


def test_an_object_that_failed_is_looked_at_until_it_passes(repo_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reread, "SWEEP_FILES", 0)
    store = tmp_path / "store"
    ok_json(repo_dir, "backup", "--label", "one", "--to", str(store))
    _damage(repo_dir)
    run(repo_dir, "create", "/elsewhere")
    # the damaged object did not change: only a full read (or the sweep, off here) can see it
    assert run(repo_dir, "backup", "--label", "two", "--to", str(store)).exit_code == 0
    result = run(repo_dir, "backup", "--label", "three", "--to", str(store), "--read-data")
    assert result.exit_code == 8 and "/top/sub/b0" in result.stderr
    run(repo_dir, "create", "/elsewhere2")
    again = run(repo_dir, "backup", "--label", "four", "--to", str(store))
    assert again.exit_code == 8 and "/top/sub/b0" in again.stderr, again.stderr


def test_verify_and_restore_hash_stored_rdf_without_parsing_it(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """verify-backup --read-data and a restore's content check hash every file; whether stored RDF
    can be served is `check --read-data`'s question (parsing it cost verify a third of its speed)."""
    from fcrctl.repository.local import check_object as check

    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    parsed: list[str] = []
    real = check._unreadable_rdf
    monkeypatch.setattr(check, "_unreadable_rdf", lambda file: parsed.append(file) or real(file))
    report = ok_json(repo_dir, "verify-backup", bid, "--read-data")
    assert report["ok"] and report["bytes"] > 0
    ok_json(repo_dir, "restore", bid, "--yes")
    assert parsed == []
    assert run(repo_dir, "check", "--read-data").exit_code == 0 and parsed  # the repository's check still parses


def test_a_comparison_kept_waiting_by_another_says_so(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from fcrctl.errors import Locked

    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _check(repo_dir, bid)
    monkeypatch.setattr(reread, "BUSY_WAIT", 0.2)
    other = sqlite3.connect(repo_dir / "backups" / reread.STATS, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another upload comparing its files
        with pytest.raises(Locked, match="another upload"):
            _check(repo_dir, bid)
    finally:
        other.close()
    assert _check(repo_dir, bid).objects >= 0  # nothing was taken for damage and thrown away
    assert (repo_dir / "backups" / reread.STATS).exists()


def test_an_object_that_failed_is_not_trusted_by_a_later_whole_check(repo_dir: Path) -> None:
    home = BackupHome(repo_dir / "backups")
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _check(repo_dir, bid)
    _damage(repo_dir)
    with pytest.raises(CorruptData):
        reread.check_snapshot(home, home.get(bid), read_data=True)
    os.unlink(home.root / reread.BASE)  # every object is compared again, its row used where it is sound
    with pytest.raises(CorruptData, match="/top/sub/b0"):
        _check(repo_dir, bid)


def _base_inode(repo_dir: Path, backup_id: str) -> int:
    from fcrctl.services.backup.rootstate import BASE_FILE

    return os.stat(repo_dir / "backups" / backup_id / BASE_FILE).st_ino


def test_states_stored_as_a_delta_over_a_base_are_compared_as_states(repo_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """objects.jsonl is a header plus the objects changed since objects.base.sqlite (rootstate/stored.py):
    the check compares the states (the two deltas on one base, the whole states across a new base),
    never the two files' lines as if each were the whole state."""
    from fcrctl.services.backup.rootstate import stored

    monkeypatch.setattr(reread, "SWEEP_FILES", 0)
    first = ok_json(repo_dir, "backup", "--label", "one")["id"]
    assert _check(repo_dir, first).objects >= 9  # a new base, an empty delta: every object
    run(repo_dir, "create", "/top/new")
    second = ok_json(repo_dir, "backup", "--label", "two")["id"]
    assert 1 <= _check(repo_dir, second).objects <= 3
    run(repo_dir, "create", "/top/new2")
    third = ok_json(repo_dir, "backup", "--label", "three")["id"]
    assert _base_inode(repo_dir, third) == _base_inode(repo_dir, first)
    assert 1 <= _check(repo_dir, third).objects <= 3  # /top/new, in both deltas, unchanged: not looked at
    run(repo_dir, "delete", "/top/new")
    run(repo_dir, "purge", "/top/new")
    fourth = ok_json(repo_dir, "backup", "--label", "four")["id"]  # a "gone" line in its delta
    assert _check(repo_dir, fourth).objects <= 3
    monkeypatch.setattr(stored, "COMPACT_MIN", 0)  # the next snapshot writes a new base
    run(repo_dir, "create", "/top/new3")
    fifth = ok_json(repo_dir, "backup", "--label", "five")["id"]
    assert _base_inode(repo_dir, fifth) != _base_inode(repo_dir, fourth)
    assert 1 <= _check(repo_dir, fifth).objects <= 3  # across bases: still only what changed
    _damage(repo_dir)
    run(repo_dir, "create", "/top/new4")
    sixth = ok_json(repo_dir, "backup", "--label", "six")["id"]
    os.unlink(repo_dir / "backups" / reread.BASE_OBJECTS)  # the checked state's base lost: every object again
    with pytest.raises(CorruptData, match="/top/sub/b0"):
        _check(repo_dir, sixth)


def test_records_linked_again_to_the_same_state_leave_no_links_behind(repo_dir: Path) -> None:
    """A rename onto another link of the same file does nothing, which left a ``.<pid>.tmp`` link
    beside each record on every unchanged upload and verify: each one kept a snapshot's base
    (megabytes per 10k objects) on the disk after the snapshot was pruned. Those that earlier
    releases left are removed."""
    home = repo_dir / "backups"
    left = home / f"{reread.BASE}.999999999.tmp"  # an ended process's (no pid is that high)
    left.write_bytes(b"left")
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _check(repo_dir, bid)
    reread.link_atomically(home / reread.BASE, home / reread.BASE)
    run(repo_dir, "create", "/top/new")
    for label in ("two", "three"):  # the second links the same base again
        _check(repo_dir, ok_json(repo_dir, "backup", "--label", label)["id"])
        assert ok_json(repo_dir, "verify-backup", ok_json(repo_dir, "backup", "--label", label + "v")["id"])["ok"]
    assert sorted(p.name for p in home.iterdir() if p.name.endswith(".tmp")) == []
