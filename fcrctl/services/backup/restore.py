"""Restore a snapshot into a local repository: fail-safe first, then one atomic swap.

The restored tree is built beside the live one (hard links from the snapshot, or the snapshot's
own tree when it was downloaded only for this restore) in ``<home>/.restore-<hex>/``. Under the
writer lock: a marker records the swap, the restored tree is exchanged with the live root by
one renameat2(RENAME_EXCHANGE), and the index is loaded from the snapshot's copy (rebuilt when
it has none). The tree swapped out is the state just before the restore: it becomes the
fail-safe backup (ArangoDB's ``previous``) by a rename, without copying a file. Any failure
swaps back. A process killed after the swap leaves the marker, and the next backup command
finishes the job (installs the fail-safe, rebuilds the index), so the repository is always
either the old state or the restored one, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl.errors import Conflict, CorruptData, FcrctlError, Unsupported
from fcrctl.repository.base import Problem, Repository
from fcrctl.repository.local import ocfl
from fcrctl.services.backup import rootstate, tree
from fcrctl.services.backup.snapshot import (
    EPOCH_KEY,
    INDEX,
    INDEX_BASE,
    INDEX_DELTA,
    TREE,
    BackupHome,
    BackupInfo,
    Snapshottable,
    unique_id,
    write_meta,
)
from fcrctl.services.backup.snapshot.index_delta import read as read_delta
from fcrctl.services.backup.snapshot.recording import SCAN_PROCESSES, copy_own

SIDE_PREFIX = ".restore-"
FAILSAFE = "failsafe"  # in the side directory: the fail-safe snapshot, staged before the swap
MARKER = ".restore-pending.json"


@dataclass
class RestoreResult:
    id: str
    failsafe: str | None
    resources: int
    path: str = "/"
    seconds: float = 0.0
    lock_held_seconds: float = 0.0
    reindexed: int | None = 0  # objects re-indexed over the snapshot's index copy (None: all, no copy)

    def to_json(self) -> dict[str, Any]:
        return {"restored": self.id, "previous": self.failsafe, "resources": self.resources, "path": self.path,
                "seconds": round(self.seconds, 3), "lockHeldSeconds": round(self.lock_held_seconds, 3),
                "reindexedObjects": self.reindexed}


def open_transactions(repo: Repository) -> int:
    """How many transactions are open (the local backend keeps one staging/ folder each)."""
    counter = getattr(repo, "transactions", None)
    if callable(counter):
        return len(list(counter()))
    staging = Path(getattr(repo, "location", "")) / "staging"
    try:
        return sum(1 for _ in os.scandir(staging))
    except OSError:
        return 0


def refuse_open_transactions(repo: Repository) -> None:
    n = open_transactions(repo)
    if n:
        raise Conflict(
            f"{n} transaction(s) are open in {repo.location}: commit or roll them back "
            f"(`fcrctl tx list`) before restoring"
        )


def finish_interrupted(repo: Repository, home: BackupHome) -> bool:
    """Complete (or undo) a restore that was killed around its swap. True if there was one."""
    if not isinstance(repo, Snapshottable):
        return False
    from fcrctl.services.backup.partial import PENDING

    if (home.root / PENDING).exists():  # a partial restore killed among its object swaps
        with repo.exclusive():
            repo.reindex()
            (home.root / PENDING).unlink(missing_ok=True)
    marker = home.root / MARKER
    if not marker.exists():
        return False
    # the home lock too: a collect between adopting the swapped-out tree and listing the
    # fail-safe would find no snapshot naming that generation
    with tree.home_lock(home.root, exclusive=False), repo.exclusive() as live:
        try:
            doc = json.loads(marker.read_text("utf-8"))
        except (OSError, ValueError):
            doc = {}
        swapped = doc.get("restored_inode") is not None and _inode(live) == doc["restored_inode"]
        side = home.root / str(doc.get("side", ""))
        if swapped and doc.get("side") and doc.get("previous"):
            # the tree swapped out is the state before the restore: keep it as the fail-safe
            _install_failsafe(home, side, BackupInfo.from_json(doc["previous"]))
        elif doc.get("side", "").startswith(SIDE_PREFIX):
            shutil.rmtree(side, ignore_errors=True)  # not swapped: only the unused restored tree
        if doc.get("side", "").startswith(SIDE_PREFIX):
            with contextlib.suppress(OSError):
                os.unlink(home.root / f"{doc['side']}.lock")  # its owner is dead: we hold the writer lock
        # swapped: the restored tree is live, only the index lags; not swapped: nothing changed
        repo.reindex()
        marker.unlink(missing_ok=True)
        tree.clean_debris(home.root)
        return swapped


def restore(
    repo: Repository,
    home: BackupHome,
    backup_id: str,
    *,
    lock_timeout: float = 120.0,
    consume: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    after_swap: Callable[[], None] | None = None,
    downloaded: tuple[BackupInfo, Path] | None = None,
) -> RestoreResult:
    """Replace the local repository's content with snapshot ``backup_id`` (whole repository).
    ``consume``: the snapshot was downloaded for this restore; its tree is moved, not linked,
    and the local copy is gone afterwards (the store still holds it). ``downloaded``: the
    snapshot is not in ``home`` but in that directory (download_into wrote and verified it),
    whose tree is moved into place. A snapshot read from ``home`` has every content file
    re-hashed against its inventory first (its files are the live ones, hard-linked: damage
    done in place is in it too): a mismatch refuses the restore, exit 8, nothing changed."""
    if not isinstance(repo, Snapshottable):
        raise Unsupported("whole-repository restore by swap needs a local repository; remote ones are replayed")
    started = time.monotonic()
    finish_interrupted(repo, home)
    with tree.home_lock(home.root, exclusive=False):  # the generations our sources read stay
        return _restore(repo, home, backup_id, started, lock_timeout, consume, now, after_swap, downloaded)


def _restore(repo: Snapshottable, home: BackupHome, backup_id: str, started: float, lock_timeout: float,
             consume: bool, now: Callable[[], datetime], after_swap: Callable[[], None] | None,
             downloaded: tuple[BackupInfo, Path] | None = None) -> RestoreResult:
    if downloaded is not None:
        info, where = downloaded
    else:
        info = home.get(backup_id)
        where = home.path(backup_id)
    source = where / TREE
    if not source.is_dir():
        raise CorruptData(f"backup {backup_id} has no {TREE}/: it is damaged; nothing was changed")
    refuse_open_transactions(repo)
    home.retention.activate()  # the tree swapped out becomes a generation the fail-safe reads
    live_root = Path(repo.location) / TREE
    _sweep_sides(home)
    side = home.root / f"{SIDE_PREFIX}{uuid.uuid4().hex}"
    # locked while this process lives: a later restore removes it only if we died before the swap
    side_lock = os.open(side.with_name(side.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(side_lock, fcntl.LOCK_EX)
    side.mkdir()
    installed = False
    try:
        restored = side / TREE
        index_copy = side / "restored-index.sqlite"
        stale: tuple[list[str], list[str]] | None = None  # re-indexed over a base's index copy
        reindexed: int | None = 0
        if downloaded is not None or consume:
            os.rename(source, restored)
            stale = _take_index(where, index_copy, info.id)
            if consume:
                tree.remove_tree(where)
        else:
            home.link(info, restored)
            stale = home.copy_index(info, index_copy)
            refuse_damaged(check_content(restored), info.id)
        syncing = _start_sync(restored)  # the disk writes the restored tree while the live one is scanned
        try:
            # the live tree, for the fail-safe (settled under the lock): what the newest snapshot
            # recorded is reused for every object unchanged since, the rest read on forked workers
            state = rootstate.scan(live_root, home.newest_state(), processes=SCAN_PROCESSES)
        finally:
            _reap(syncing)
        # the restored tree on disk before the swap, not after it: its writeback (a whole
        # download's bytes) was waited for under the writer lock, and a power cut between the
        # swap and that sync could leave the marker pointing at files that never reached the disk
        ocfl.sync_tree(restored)
        with repo.exclusive(timeout=lock_timeout) as live:
            t0 = time.monotonic()
            refuse_open_transactions(repo)  # checked again: one may have begun meanwhile
            rootstate.settle(live, state, repo.indexed_objects())
            when = now()
            failsafe = _failsafe_info(repo, home, when, state, state.size(str(live)))
            _stage_failsafe(repo, live, side / FAILSAFE, failsafe, state)
            marker = home.root / MARKER
            _write_marker(marker, {"backup": backup_id, "side": side.name, "previous": failsafe.to_json(),
                                   "restored_inode": _inode(restored)})
            _swap(live, restored)  # `restored` holds the previous tree from here on
            try:
                if after_swap is not None:
                    after_swap()
                count = repo.load_index(index_copy) if index_copy.exists() else None
                if count is not None and stale is not None and (stale[0] or stale[1]):
                    # only objects the restored tree holds (a delta names nothing else unless damaged)
                    changed = [rel for rel in stale[0] if os.path.isdir(live / rel)]
                    repo.reindex_objects(stale[1], changed)  # type: ignore[attr-defined]
                    reindexed = len(changed)
                    count = repo.resource_count()
                if count is None:
                    count = repo.reindex()
                    reindexed = None
            except BaseException:
                _swap(live, restored)  # swap back: the restored tree is at `restored` again
                repo.reindex()
                marker.unlink(missing_ok=True)
                raise
            index_copy.unlink(missing_ok=True)
            _install_failsafe(home, side, failsafe)
            installed = True
            # the index's WAL is synced lazily: make it durable before the marker (which would
            # make the next command rebuild it) goes
            ocfl.sync_tree(Path(repo.location))
            marker.unlink(missing_ok=True)
            held = time.monotonic() - t0
    finally:
        if not installed:
            shutil.rmtree(side, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(side.with_name(side.name + ".lock"))
        os.close(side_lock)
    return RestoreResult(info.id, failsafe.id, count, seconds=time.monotonic() - started, lock_held_seconds=held,
                         reindexed=reindexed)


def _take_index(where: Path, target: Path, backup_id: str) -> tuple[list[str], list[str]] | None:
    """Move a downloaded snapshot's index copy to ``target`` for the restore to load: the exact
    copy (nothing to re-index after it), or the index of its state's base with the objects to
    re-index after loading it (index_delta.py). None when it has neither: a whole reindex."""
    if (where / INDEX).is_file():
        os.rename(where / INDEX, target)
        return [], []
    if (where / INDEX_BASE).is_file() and (where / INDEX_DELTA).is_file():
        stale = read_delta(where / INDEX_DELTA, backup_id)
        os.rename(where / INDEX_BASE, target)
        return stale
    return None


def check_content(root: Path | None, views: list[tuple[str, str, str | None]] | None = None) -> list[Problem]:
    """Every content file under the storage root ``root`` (or of the objects ``views`` name)
    re-hashed against the digest its inventory recorded, on forked workers (check.py):
    the problems that concern content (structure is not the restore's to judge)."""
    from fcrctl.repository.local.check import check_object_views, check_storage_root

    if views is not None:
        found = check_object_views(views, read_data=True, servable=False)
    else:
        assert root is not None
        found = check_storage_root(root, None, read_data=True, servable=False)
    return [p for p in found if p.message.startswith(_CONTENT_PROBLEMS)]


_CONTENT_PROBLEMS = ("content file ", "inventory digest mismatch", "missing or empty inventory sidecar")


def refuse_damaged(problems: list[Problem], backup_id: str) -> None:
    """CorruptData (exit 8) naming the damaged resources, if there are any."""
    if not problems:
        return
    where = sorted({p.where for p in problems})
    shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
    raise CorruptData(
        f"backup {backup_id} does not hold the content it recorded for {shown} (first: {problems[0].message}): "
        f"nothing was restored; restore from a store copy (restore {backup_id} --from STORE) or another backup",
        path=where[0])


def _start_sync(path: Path) -> int | None:
    """A forked child that syncs the filesystem holding ``path`` (syncfs) while this process goes
    on: the live tree's scan is CPU work and the sync waits on the disk, so the two overlap. Only
    a head start: the sync before the swap is still this process's own. None where there is no
    syncfs or fork, or threads run (a fork copies only the calling thread)."""
    if not hasattr(os, "fork") or not ocfl.HAVE_SYNCFS or threading.active_count() > 1:
        return None
    pid = os.fork()
    if pid == 0:  # the child: no cleanup of the parent's state (locks, temp files), only the sync
        try:
            ocfl.sync_tree(path)
        finally:
            os._exit(0)
    return pid


def _reap(pid: int | None) -> None:
    """Wait for the sync child (its exit status does not matter: the caller syncs again)."""
    if pid is not None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _sweep_sides(home: BackupHome) -> None:
    """Remove the side directories of restores killed before their swap (nobody holds their
    lock, and finish_interrupted has already dealt with any restore past its swap)."""
    try:
        names = {e.name.removesuffix(".lock") for e in os.scandir(home.root) if e.name.startswith(SIDE_PREFIX)}
    except FileNotFoundError:
        return
    for name in names:
        path = str(home.root / name)
        lock = f"{path}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a restore in progress
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(lock)
        finally:
            os.close(fd)


def _failsafe_info(repo: Snapshottable, home: BackupHome, when: datetime, state: rootstate.RootState,
                   size: tuple[int, int]) -> BackupInfo:
    backup_id, label = unique_id(home.root, "previous", when)
    return BackupInfo(id=backup_id, datetime=when.astimezone(UTC).isoformat(), label=label,
                      resources=repo.resource_count(), files=size[0], bytes=size[1], repository=repo.location,
                      kind="failsafe", extra={"stateDigest": state.digest(), EPOCH_KEY: home.retention.epoch()})


def _stage_failsafe(repo: Snapshottable, live: Path, staged: Path, info: BackupInfo,
                    state: rootstate.RootState) -> None:
    """The fail-safe snapshot of the live state, complete but for its objects, which stay in
    the tree about to be swapped out (writer lock held: nothing here is big)."""
    staged.mkdir()
    copy_own(live, staged / TREE, state)
    repo.copy_index(staged / INDEX)
    state.save(staged / rootstate.STATE_FILE)
    write_meta(staged, info)


def _install_failsafe(home: BackupHome, side: Path, info: BackupInfo) -> None:
    """After the swap: the tree swapped out (``side/ocfl-root``) becomes a retention generation
    and the staged fail-safe snapshot is renamed into the home. Each step is one rename and
    is skipped when done, so an interrupted install is finished by running it again."""
    if (side / TREE).is_dir():
        home.retention.adopt(side / TREE)
    if (side / FAILSAFE).is_dir():
        os.rename(side / FAILSAFE, home.root / info.id)
        tree.fsync_dir(home.root)
    shutil.rmtree(side, ignore_errors=True)


def _swap(live: Path, other: Path) -> None:
    try:
        tree.exchange(live, other)
    except OSError as e:
        raise FcrctlError(f"cannot swap {other} into {live}: {e.strerror}; nothing was changed") from e


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _write_marker(marker: Path, doc: dict[str, Any]) -> None:
    ocfl.write_durable(marker, json.dumps(doc).encode())
