"""Holes a review of snapshots that read the live root found: cases where a snapshot could stop
being restorable, or a restore or purge could give the wrong content. Each test states the
safe behaviour."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from fcrctl.errors import FcrctlError, Locked
from fcrctl.repository import open_repository
from tests.backup_helpers import make_repo, ok_json, paths_in, run


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _obj_dir(repo_dir: Path, path: str) -> Path:
    from fcrctl.repository.local import ocfl

    repo = open_repository(str(repo_dir))
    try:
        row = repo._index.get(path)  # type: ignore[attr-defined]
        return repo_dir / "ocfl-root" / ocfl.object_rel(row.object_id)
    finally:
        repo.close()


# -- 1. a copied local snapshot directory is no backup, yet fcr:restore restores it -----------------
def test_restoring_a_copied_logical_snapshot_dir_does_not_empty_the_repository(
        repo_dir: Path, tmp_path: Path) -> None:
    """A snapshot directory copied off REPO/backups (as one did with the linked design, or as the
    docs' "fcr:restore DIR" invites) holds only objects.jsonl and the root's own files. Importing
    it (fcr:restore) and restoring it must be refused, not swap in an empty storage root."""
    from fcrctl.services.backup.restore import restore
    from fcrctl.services.backup.server_side import import_snapshot
    from fcrctl.services.backup.snapshot import BackupHome

    bid = ok_json(repo_dir, "backup")["id"]
    copy = tmp_path / "usb" / bid
    shutil.copytree(repo_dir / "backups" / bid, copy)
    ok_json(repo_dir, "delete-backup", bid)
    before = paths_in(repo_dir)
    assert "/top/sub/b0" in before
    home = BackupHome(repo_dir / "backups")
    repo = open_repository(str(repo_dir))
    try:
        try:
            info = import_snapshot(home, copy)
            restore(repo, home, info.id)
        except FcrctlError:
            pass  # refused: fine
    finally:
        repo.close()
    assert paths_in(repo_dir) == before, "the repository was replaced by an empty snapshot"


# -- 2. --allow-inconsistent reads the epoch while a purge commit is filling its generation --------
def test_inconsistent_snapshot_keeps_objects_a_running_purge_moves(
        repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A purge commit makes its generation N first (epoch file := N), then moves its objects
    one by one, holding the writer lock. An --allow-inconsistent snapshot taken meanwhile reads
    epoch_before = N, scans an object the commit has not moved yet, then the commit moves it
    into generation N, which the snapshot (needing only generations > N) never looks in."""
    from fcrctl.repository.local.retention import Retention
    from fcrctl.services.backup import rootstate, snapshot
    from fcrctl.services.backup.snapshot import BackupHome

    run(repo_dir, "delete", "/other")
    obj = _obj_dir(repo_dir, "/other")
    rel = obj.relative_to(repo_dir / "ocfl-root").as_posix()
    retention = Retention(repo_dir / "backups" / ".retained")
    retention.activate()
    generation = retention.new_generation()  # the purge commit has begun (it holds the writer lock)
    real_scan = rootstate.scan

    def scan_then_commit_moves_on(root: Path, *a, **k):  # type: ignore[no-untyped-def]
        state = real_scan(root, *a, **k)
        retention.keep(obj, rel, generation, repo_dir / "tmp")  # ...and the commit moves /other's object
        return state

    monkeypatch.setattr(rootstate, "scan", scan_then_commit_moves_on)
    repo = open_repository(str(repo_dir))

    def locked(*a, **k):  # type: ignore[no-untyped-def]
        raise Locked("held by the purge")

    monkeypatch.setattr(repo, "exclusive", locked)
    try:
        info = snapshot.take(repo, BackupHome(repo_dir / "backups"), allow_inconsistent=True)
    finally:
        repo.close()
    monkeypatch.undo()
    state = rootstate.RootState.load(repo_dir / "backups" / info.id / rootstate.STATE_FILE)
    assert rel in state.objects  # the snapshot recorded it
    result = run(repo_dir, "--json", "verify-backup", info.id)
    assert result.exit_code == 0, result.stdout  # "object is gone": generation N is not searched


# -- 3. a purge into a generation on another filesystem, killed while deleting the original --------
def test_cross_device_purge_killed_midway_does_not_resurrect_the_object(
        repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention.keep across filesystems copies the object, then shutil.rmtree()s it *in place*
    in the live root. Killed part-way (here: after its newest version dir went), the live root
    holds a half-deleted object; recovery rolls its root inventory back to the newest complete
    version and re-indexes it: the purged resource is back, as it was before it was deleted."""
    from fcrctl.repository.local import retention

    ok_json(repo_dir, "backup")
    run(repo_dir, "delete", "/other")  # v2: the tombstone
    obj = _obj_dir(repo_dir, "/other")
    assert (obj / "v2").is_dir()
    real_rename, real_rmtree = os.rename, shutil.rmtree

    def cross_device(a, b):  # type: ignore[no-untyped-def]
        if ".retained" in str(b) and ".partial" not in str(a):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(a, b)

    class Killed(BaseException):
        pass

    def dying_rmtree(path, *a, **k):  # type: ignore[no-untyped-def]
        if Path(path) == obj or Path(path).name.startswith("purge-"):  # the object, wherever it is deleted
            real_rmtree(Path(path) / "v2")  # rmtree's order is the directory's: any part may go first
            raise Killed
        return real_rmtree(path, *a, **k)

    monkeypatch.setattr(retention.os, "rename", cross_device)
    monkeypatch.setattr(retention.shutil, "rmtree", dying_rmtree)
    repo = open_repository(str(repo_dir))
    try:
        with pytest.raises(Killed):
            repo.purge("/other")
    finally:
        repo._lock.close()  # type: ignore[attr-defined]  # as the kernel does for a dead process
    monkeypatch.undo()
    paths = paths_in(repo_dir)  # opening recovers the pending purge
    assert "/other" not in paths, "the purged resource came back (rolled back to v1)"


# -- 4. a damaged object: the repository snapshots "fine", but the snapshot never restores ---------
def test_snapshot_of_an_object_whose_head_version_inventory_is_lost_still_restores(
        repo_dir: Path) -> None:
    """The linked design kept such an object as it was found. Now the snapshot records the root
    inventory's sha512 and later looks for it at v{head}/inventory.json: the backup succeeds,
    then every restore of the *whole repository* fails (or, had it been taken as the last good
    backup, the user has none)."""
    obj = _obj_dir(repo_dir, "/other")
    (obj / "v1" / "inventory.json").unlink()  # damage that `fcrctl check` reports
    result = run(repo_dir, "--json", "backup")
    if result.exit_code != 0:
        return  # refused loudly: acceptable
    bid = json.loads(result.stdout)["id"]
    run(repo_dir, "create", "/later")
    result = run(repo_dir, "restore", bid, "--yes")
    assert result.exit_code == 0, result.stderr


# -- 5. a restored object loses its NAMASTE file when it does not match the inventory type -------
def test_restore_keeps_an_object_whose_namaste_differs_from_its_inventory_type(
        repo_dir: Path) -> None:
    """_read_object derives the NAMASTE name from the inventory's type; link() skips a missing
    file silently, so an object declared 0=ocfl_object_1.0 with a 1.1 inventory is restored
    without any declaration: reindex does not see it, and the resource silently disappears."""
    obj = _obj_dir(repo_dir, "/top/sub/b0")
    os.rename(obj / "0=ocfl_object_1.1", obj / "0=ocfl_object_1.0")
    (obj / "0=ocfl_object_1.0").write_text("ocfl_object_1.0\n")
    bid = ok_json(repo_dir, "backup")["id"]
    ok_json(repo_dir, "restore", bid, "--yes")
    assert any(obj.glob("0=ocfl_object_*")), "restored without its declaration"
    ok_json(repo_dir, "reindex")
    assert "/top/sub/b0" in paths_in(repo_dir)


# -- 6. damage to the live root flows silently into a restore of an older snapshot ---------------
def test_restore_of_a_snapshot_missing_a_recorded_file_is_not_silent(repo_dir: Path) -> None:
    """Logical snapshots share the live root's files; link() skips a recorded file it cannot
    find ("the snapshot holds what is there"). So a content file lost from the live root after
    the snapshot (the linked design kept its own link) makes `restore` succeed with exit 0 and
    a damaged repository: the very case a restore is run for. It should fail (nothing changed)
    or at least report it; verify-backup does see it."""
    bid = ok_json(repo_dir, "backup")["id"]
    obj = _obj_dir(repo_dir, "/top/sub/b0")
    content = [p for p in (obj / "v1" / "content").rglob("*") if p.is_file() and ".fcrepo" not in p.parts]
    assert content
    content[0].unlink()  # damaged after the backup
    assert run(repo_dir, "verify-backup", bid).exit_code != 0  # verify notices...
    result = run(repo_dir, "restore", bid, "--yes")  # ...restore does not
    if result.exit_code != 0:
        return  # refused: fine
    assert run(repo_dir, "check").exit_code == 0, "restore exited 0 and left a damaged repository"


KILL_AFTER_SWAP = """
import os, signal, sys
from pathlib import Path
from fcrctl.repository import open_repository
from fcrctl.services.backup import restore, snapshot
repo = open_repository(sys.argv[1])
home = snapshot.BackupHome(Path(sys.argv[1]) / "backups")
restore.restore(repo, home, sys.argv[2], after_swap=lambda: os.kill(os.getpid(), signal.SIGKILL))
"""


# -- 7. between a killed restore's swap and the next backup command, snapshots look damaged -------
def test_verify_after_a_killed_restore_does_not_call_good_snapshots_damaged(repo_dir: Path) -> None:
    """The tree swapped out stays in backups/.restore-*/ocfl-root until a backup command runs
    finish_interrupted; verify-backup (and upload-backup, delete-backup) do not, so a snapshot
    whose objects are only there is reported "object is gone": users delete good backups."""
    import signal
    import subprocess
    import sys
    import textwrap

    one = ok_json(repo_dir, "backup", "--label", "one")["id"]
    run(repo_dir, "create", "/new")
    two = ok_json(repo_dir, "backup", "--label", "two")["id"]
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_AFTER_SWAP), str(repo_dir), one],
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    result = run(repo_dir, "--json", "verify-backup", two)
    assert result.exit_code == 0, result.stdout


# -- 8. a purge racing a restore's (unlocked) linking fails the restore with a false "damaged" ---
def test_restore_survives_a_purge_that_moves_an_object_while_it_is_linked(
        repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """restore links the snapshot's objects before taking the writer lock, so a purge may move
    an object into a generation between Sources.locate() and linking its files. _link_files
    then raises StateMoved and the restore fails with "backup lacks object ...: run
    verify-backup" although verify-backup says the backup is fine: locate again instead."""
    from fcrctl.repository.local.retention import Retention
    from fcrctl.services.backup.rootstate import linking

    bid = ok_json(repo_dir, "backup")["id"]
    run(repo_dir, "delete", "/other")
    obj = _obj_dir(repo_dir, "/other")
    rel = obj.relative_to(repo_dir / "ocfl-root").as_posix()
    real = linking._link_files
    moved: list[bool] = []

    def purge_meanwhile(src, dst, pairs, made, anchor):  # type: ignore[no-untyped-def]
        if src == str(obj) and not moved:
            moved.append(True)  # what Store._purge does, under a lock the restore does not hold yet
            retention = Retention(repo_dir / "backups" / ".retained")
            retention.keep(obj, rel, retention.new_generation(), repo_dir / "tmp")
        return real(src, dst, pairs, made, anchor)

    monkeypatch.setattr(linking, "_link_files", purge_meanwhile)
    result = run(repo_dir, "restore", bid, "--yes")
    assert moved
    assert result.exit_code == 0, result.stderr


KILL_DURING_FORKED_SCAN = """
import os, signal, sys
from pathlib import Path
from fcrctl.repository import open_repository
from fcrctl.services.backup import snapshot
from fcrctl.services.backup.rootstate import scanning
from fcrctl.services.backup.snapshot import recording
scanning._MIN_TOPS_FOR_PROCESSES = 1
recording.SCAN_PROCESSES = 2
real = scanning._scan_tops_forked
def dying(base, tops):
    parent = os.getppid()
    with open(f"/proc/{parent}/task/{parent}/children") as fh:
        workers = fh.read().split()
    for pid in workers:  # all of them, so that the test can end them
        with open(os.path.join(sys.argv[2], pid), "w"):
            pass
    os.kill(os.getppid(), signal.SIGKILL)  # the backup is killed while its workers scan
    return real(base, tops)
scanning._scan_tops_forked = dying
repo = open_repository(sys.argv[1])
snapshot.take(repo, snapshot.BackupHome(Path(sys.argv[1]) / "backups"))
"""


# -- 9. forked scan workers outlive a killed backup and hold its locks forever ------------------
def test_a_killed_backup_leaves_no_scan_worker_holding_the_home_lock(repo_dir: Path, tmp_path: Path) -> None:
    """rootstate.scan forks a ProcessPoolExecutor while take() holds backups/.lock shared and its
    staging lock exclusive. kill -9 of the backup orphans the workers (they wait on the call
    queue forever; they inherited its write end), and they keep both locks: collect() is
    skipped for good (retained generations never freed) and the staging dir is never cleaned."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    from fcrctl.services.backup import tree

    pids = tmp_path / "pids"
    pids.mkdir()
    with open(tmp_path / "stderr", "wb") as err:  # not a pipe: orphans would keep it open
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_DURING_FORKED_SCAN), str(repo_dir),
                               str(pids)], stdout=subprocess.DEVNULL, stderr=err, timeout=120)
    try:
        assert proc.returncode == -signal.SIGKILL, (tmp_path / "stderr").read_text()
        time.sleep(2)  # time for the workers to have finished their chunks
        alive = [int(p.name) for p in pids.iterdir() if Path(f"/proc/{p.name}").exists()]
        with tree.home_lock(repo_dir / "backups", exclusive=True) as held:
            assert held and not alive, f"orphaned scan workers {alive} hold the backup home's lock"
    finally:
        for p in pids.iterdir():  # the workers this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(p.name), signal.SIGKILL)


# -- sound: a chain of restores, purges and deletions keeps every listed snapshot whole -------------
def test_snapshots_stay_whole_through_restores_purges_and_collects(repo_dir: Path) -> None:
    def verify_all() -> None:
        for b in ok_json(repo_dir, "list-backups"):
            result = run(repo_dir, "--json", "verify-backup", b["id"], "--read-data")
            assert result.exit_code == 0, result.stdout

    s1 = ok_json(repo_dir, "backup", "--label", "s1")["id"]
    run(repo_dir, "create", "/x")
    s2 = ok_json(repo_dir, "backup", "--label", "s2")["id"]
    run(repo_dir, "delete", "/x")
    run(repo_dir, "purge", "/x")
    run(repo_dir, "delete", "/other")
    run(repo_dir, "purge", "/other")
    verify_all()
    f1 = ok_json(repo_dir, "restore", s1, "--yes")["previous"]
    assert "/x" not in paths_in(repo_dir) and "/other" in paths_in(repo_dir)
    run(repo_dir, "delete", "/top/sub/b1")
    run(repo_dir, "purge", "/top/sub/b1")
    f2 = ok_json(repo_dir, "restore", s2, "--yes")["previous"]
    assert "/x" in paths_in(repo_dir) and "/top/sub/b1" in paths_in(repo_dir)
    verify_all()
    ok_json(repo_dir, "delete-backup", s1)
    ok_json(repo_dir, "delete-backup", s2)
    verify_all()
    ok_json(repo_dir, "restore", f1, "--yes")  # the state after the purges of /x and /other
    assert "/x" not in paths_in(repo_dir) and "/other" not in paths_in(repo_dir)
    ok_json(repo_dir, "delete-backup", f1)
    verify_all()
    listed = ok_json(repo_dir, "list-backups")
    assert f2 in [b["id"] for b in listed]
    ok_json(repo_dir, "restore", f2, "--yes")  # after restoring s1 and purging b1
    paths = paths_in(repo_dir)
    assert "/other" in paths and "/top/sub/b1" not in paths and "/x" not in paths
    assert run(repo_dir, "check").exit_code == 0
    for b in ok_json(repo_dir, "list-backups"):
        ok_json(repo_dir, "delete-backup", b["id"])
    retained = repo_dir / "backups" / ".retained"
    assert not [p for p in retained.iterdir() if p.name.isdigit()]


# -- 10. a collect between finish_interrupted's two renames deletes the fail-safe's objects --------
def test_collect_racing_the_finish_of_a_killed_restore_keeps_the_failsafe(
        repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """finish_interrupted (run by `fcrctl backup`, `restore`) adopts the swapped-out tree as a
    generation, then renames the fail-safe into the home, holding the writer lock but not the
    home lock. A delete-backup/prune-backups running then (cron) collects with the fail-safe not
    yet listed: with no other snapshot naming an epoch below it, the new generation goes."""
    import signal
    import subprocess
    import sys
    import textwrap

    from fcrctl.repository.local.retention import Retention
    from fcrctl.services.backup import restore
    from fcrctl.services.backup.snapshot import BackupHome

    one = ok_json(repo_dir, "backup", "--label", "one")["id"]
    run(repo_dir, "create", "/new")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_AFTER_SWAP), str(repo_dir), one],
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    home = BackupHome(repo_dir / "backups")
    home.delete(one)  # the only snapshot listed; its own collect finds nothing adopted yet
    real = Retention.adopt

    def adopt_then_someone_prunes(self, root):  # type: ignore[no-untyped-def]
        out = real(self, root)
        BackupHome(repo_dir / "backups").collect()  # another process's delete-backup, just then
        return out

    monkeypatch.setattr(Retention, "adopt", adopt_then_someone_prunes)
    repo = open_repository(str(repo_dir))
    try:
        restore.finish_interrupted(repo, home)
    finally:
        repo.close()
    monkeypatch.undo()
    failsafes = [b["id"] for b in ok_json(repo_dir, "list-backups") if b["kind"] == "failsafe"]
    assert len(failsafes) == 1
    result = run(repo_dir, "--json", "verify-backup", failsafes[0])
    assert result.exit_code == 0, result.stdout  # the state before the restore (with /new) is gone
