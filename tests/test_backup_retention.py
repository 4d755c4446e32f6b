"""Snapshots read their objects where they are: purges and restores must keep what a snapshot
names (retention generations), and deleting snapshots must free what none names any more."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from tests.backup_helpers import digests, make_repo, ok_json, paths_in, run, snapshot_tree
from tests.ocfl_check import assert_valid_ocfl


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _generations(repo_dir: Path) -> list[str]:
    retained = repo_dir / "backups" / ".retained"
    return sorted(p.name for p in retained.iterdir() if p.name.isdigit()) if retained.exists() else []


def test_a_purged_object_stays_readable_for_the_snapshots_that_name_it(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    tree_before = digests(snapshot_tree(repo_dir, bid))
    run(repo_dir, "delete", "/other")
    assert run(repo_dir, "purge", "/other").exit_code == 0
    assert "/other" not in paths_in(repo_dir)
    assert _generations(repo_dir) == ["1"]  # moved, not deleted
    assert ok_json(repo_dir, "verify-backup", bid, "--read-data")["ok"] is True
    ok_json(repo_dir, "delete-backup", bid)  # nothing else names it: the generation goes too
    assert _generations(repo_dir) == []
    bid = ok_json(repo_dir, "backup")["id"]
    run(repo_dir, "delete", "/top/sub/b0")
    run(repo_dir, "purge", "/top/sub/b0")
    ok_json(repo_dir, "restore", bid, "--yes")
    assert "/top/sub/b0" in paths_in(repo_dir)
    assert_valid_ocfl(repo_dir / "ocfl-root")
    assert tree_before  # (the first snapshot's tree was whole while it lived)


def test_snapshots_taken_before_a_restore_still_read_the_tree_it_swapped_out(repo_dir: Path) -> None:
    first = ok_json(repo_dir, "backup", "--label", "one")["id"]
    run(repo_dir, "create", "/new")
    second = ok_json(repo_dir, "backup", "--label", "two")["id"]
    second_tree = digests(snapshot_tree(repo_dir, second))
    restored = ok_json(repo_dir, "restore", first, "--yes")
    assert "/new" not in paths_in(repo_dir)
    # the live root no longer holds /new: the second snapshot reads it from the generation
    assert ok_json(repo_dir, "verify-backup", second, "--read-data")["ok"] is True
    assert ok_json(repo_dir, "verify-backup", restored["previous"], "--read-data")["ok"] is True
    failsafe = ok_json(repo_dir, "list-backups", restored["previous"])
    on_disk = [p for p in snapshot_tree(repo_dir, failsafe["id"]).rglob("*") if p.is_file()]
    assert failsafe["files"] == len(on_disk) and failsafe["bytes"] == sum(p.stat().st_size for p in on_disk)
    (repo_dir / "backups" / second / "linked-root").rename(repo_dir / "old-linked")  # link it again
    assert digests(snapshot_tree(repo_dir, second)) == second_tree
    ok_json(repo_dir, "restore", second, "--yes")
    assert "/new" in paths_in(repo_dir)
    assert_valid_ocfl(repo_dir / "ocfl-root")


def test_generations_go_once_no_snapshot_needs_them(repo_dir: Path) -> None:
    old = ok_json(repo_dir, "backup", "--label", "old")["id"]
    run(repo_dir, "delete", "/other")
    run(repo_dir, "purge", "/other")
    new = ok_json(repo_dir, "backup", "--label", "new")["id"]  # taken after the purge: needs none
    assert _generations(repo_dir) == ["1"]
    ok_json(repo_dir, "delete-backup", old)
    assert _generations(repo_dir) == []
    assert ok_json(repo_dir, "verify-backup", new, "--read-data")["ok"] is True


def test_a_lost_object_is_reported_by_path_not_a_crash(repo_dir: Path) -> None:
    import shutil

    bid = ok_json(repo_dir, "backup")["id"]
    run(repo_dir, "delete", "/other")
    run(repo_dir, "purge", "/other")
    shutil.rmtree(repo_dir / "backups" / ".retained" / "1")  # someone deleted what the snapshot reads
    result = run(repo_dir, "--json", "verify-backup", bid)
    assert result.exit_code == ExitCode.CORRUPT
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1 and "gone" in problems[0]["message"]
    before = digests(repo_dir / "ocfl-root")
    result = run(repo_dir, "restore", bid, "--yes")
    assert result.exit_code == ExitCode.CORRUPT and "verify-backup" in result.stderr
    assert digests(repo_dir / "ocfl-root") == before  # refused before touching anything


KILL_DURING_PURGE = """
import os, signal, sys
from fcrctl.repository import open_repository
from fcrctl.repository.local import retention
real = retention.Retention.keep
def dying_keep(self, *args):
    real(self, *args)
    os.kill(os.getpid(), signal.SIGKILL)  # moved, but the index not yet told
retention.Retention.keep = dying_keep
repo = open_repository(sys.argv[1])
repo.purge("/other")
"""


def test_a_purge_killed_after_moving_the_object_leaves_both_consistent(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    run(repo_dir, "delete", "/other")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_DURING_PURGE), str(repo_dir)],
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert ok_json(repo_dir, "check")["problems"] == []  # recovered on open: the purge is complete
    assert "/other" not in paths_in(repo_dir)
    assert ok_json(repo_dir, "verify-backup", bid, "--read-data")["ok"] is True


def test_a_purge_copies_into_a_generation_on_another_filesystem(repo_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from fcrctl.repository import open_repository
    from fcrctl.repository.local import retention

    bid = ok_json(repo_dir, "backup")["id"]
    run(repo_dir, "delete", "/other")
    real = os.rename

    def cross_device(a: str | Path, b: str | Path) -> None:
        if ".retained" in str(b) and ".partial" not in str(a):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(a, b)

    monkeypatch.setattr(retention.os, "rename", cross_device)
    repo = open_repository(str(repo_dir))
    try:
        repo.purge("/other")
    finally:
        repo.close()
    assert "/other" not in paths_in(repo_dir) and _generations(repo_dir) == ["1"]
    assert ok_json(repo_dir, "verify-backup", bid, "--read-data")["ok"] is True


def test_a_scan_is_the_same_forked_or_not_and_reuses_only_unchanged_objects(
        repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.services.backup import rootstate
    from fcrctl.services.backup.rootstate import scanning

    live = repo_dir / "ocfl-root"
    plain = rootstate.scan(live)
    monkeypatch.setattr(scanning, "_MIN_TOPS_FOR_PROCESSES", 1)
    forked = rootstate.scan(live, processes=2)
    assert forked.objects == plain.objects and forked.objects
    assert all(o.files > 0 and o.bytes > 0 for o in plain.objects.values())
    # an unchanged inventory stat means an unchanged object: taken from the previous state unread
    marked = {rel: rootstate.ObjectState(**{**{f: getattr(o, f) for f in o.__slots__}, "digest": "marked"})
              for rel, o in plain.objects.items()}
    (tmp_path / "x.txt").write_text("changed")
    run(repo_dir, "put", "/top/sub/b1", "--file", str(tmp_path / "x.txt"))
    again = rootstate.scan(live, rootstate.RootState(marked, plain.root_files))
    changed = [rel for rel, o in again.objects.items() if o.digest != "marked"]
    assert len(changed) == 1 and again.objects[changed[0]].head == "v2"
    files, size = again.size(str(live))
    linked = tmp_path / "linked"
    rootstate.link(rootstate.Sources(live), linked, rootstate.scan(live))
    on_disk = [p for p in linked.rglob("*") if p.is_file()]
    assert files == len(on_disk) and size == sum(p.stat().st_size for p in on_disk)


def test_sources_made_before_a_purge_find_the_object_in_the_new_generation(repo_dir: Path) -> None:
    from fcrctl.services.backup import rootstate
    from fcrctl.services.backup.snapshot import BackupHome

    bid = ok_json(repo_dir, "backup")["id"]
    home = BackupHome(repo_dir / "backups")
    sources = home.sources_of(home.get(bid))  # as an upload or restore holds them while it runs
    state = rootstate.RootState.load(home.path(bid) / rootstate.STATE_FILE)
    assert all(sources.locate(o) is not None for o in state.objects.values())
    run(repo_dir, "delete", "/other")
    run(repo_dir, "purge", "/other")
    found = [sources.locate(o) for o in state.objects.values()]
    assert all(f is not None for f in found)
    assert sum(".retained" in f[0] for f in found if f is not None) == 1


def test_an_upload_after_the_live_objects_moved_on_stores_the_recorded_state(repo_dir: Path, tmp_path: Path) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    recorded = digests(snapshot_tree(repo_dir, bid))
    (tmp_path / "x.txt").write_text("a later version")
    run(repo_dir, "put", "/top/sub/b1", "--file", str(tmp_path / "x.txt"))  # new root inventory
    run(repo_dir, "delete", "/other")
    run(repo_dir, "purge", "/other")  # into a generation
    store = tmp_path / "store"
    assert ok_json(repo_dir, "upload-backup", bid, str(store))["blobs_sent"] > 0
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "download-backup", bid, str(store))
    assert digests(repo_dir / "backups" / bid / "ocfl-root") == recorded


def test_a_lost_epoch_counter_is_raised_again_to_what_snapshots_recorded(repo_dir: Path) -> None:
    import shutil

    run(repo_dir, "delete", "/other")
    run(repo_dir, "purge", "/top/sub/b2")  # not deleted first: refused, nothing moves
    first = ok_json(repo_dir, "backup")["id"]
    run(repo_dir, "purge", "/other")
    second = ok_json(repo_dir, "backup")["id"]
    recorded = json.loads((repo_dir / "backups" / second / "backup.json").read_text())["liveEpoch"]
    assert recorded == 1
    ok_json(repo_dir, "delete-backup", first)
    shutil.rmtree(repo_dir / "backups" / ".retained")  # what the README says never to do
    ok_json(repo_dir, "backup")
    run(repo_dir, "delete", "/top/sub/b1")
    run(repo_dir, "purge", "/top/sub/b1")
    assert _generations(repo_dir) == ["2"]  # above what the second snapshot recorded
    assert ok_json(repo_dir, "verify-backup", second, "--read-data")["ok"] is True


def test_a_small_tree_is_synced_file_by_file_and_a_big_one_by_syncfs(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.repository.local import ocfl

    synced: list[Path] = []
    monkeypatch.setattr(ocfl, "sync_tree", lambda path: synced.append(path))
    for n in range(5):
        (tmp_path / f"f{n}").write_bytes(b"x")
    ocfl.sync_small_tree(tmp_path, most=10)
    assert synced == []  # fsyncs only: no wait for the rest of the filesystem
    ocfl.sync_small_tree(tmp_path, most=3)
    assert synced == [tmp_path]
