"""Restore a snapshot into a local repository: fail-safe first, then one atomic swap.

Under the writer lock: the live storage root is linked into a fail-safe snapshot (ArangoDB's
``previous``), a marker records the swap, the restored tree (built beside the live one before
the lock was taken) is exchanged with the live root by one renameat2(RENAME_EXCHANGE), and the
index is rebuilt. Any failure swaps back. A process killed after the swap leaves the marker,
and the next backup command finishes the job (rebuilds the index), so the repository is
always either the old state or the restored one, never a mix.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl.errors import Conflict, CorruptData, FcrctlError, Unsupported
from fcrctl.repository.base import Repository
from fcrctl.services.backup import tree
from fcrctl.services.backup.snapshot import TREE, BackupHome, BackupInfo, Snapshottable, count_resources, make_id

MARKER = ".restore-pending.json"


@dataclass
class RestoreResult:
    id: str
    failsafe: str | None
    resources: int
    path: str = "/"
    seconds: float = 0.0
    lock_held_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"restored": self.id, "previous": self.failsafe, "resources": self.resources, "path": self.path,
                "seconds": round(self.seconds, 3), "lockHeldSeconds": round(self.lock_held_seconds, 3)}


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
    marker = home.root / MARKER
    if not marker.exists() or not isinstance(repo, Snapshottable):
        return False
    with repo.exclusive() as live:
        try:
            doc = json.loads(marker.read_text("utf-8"))
        except (OSError, ValueError):
            doc = {}
        swapped = doc.get("restored_inode") is not None and _inode(live) == doc["restored_inode"]
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
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    after_swap: Callable[[], None] | None = None,
) -> RestoreResult:
    """Replace the local repository's content with snapshot ``backup_id`` (whole repository)."""
    if not isinstance(repo, Snapshottable):
        raise Unsupported("whole-repository restore by swap needs a local repository; remote ones are replayed")
    started = time.monotonic()
    finish_interrupted(repo, home)
    info = home.get(backup_id)
    source = home.path(backup_id) / TREE
    if not source.is_dir():
        raise CorruptData(f"backup {backup_id} has no {TREE}/: it is damaged; nothing was changed")
    refuse_open_transactions(repo)
    with tree.staging_dir(home.root) as work, tree.staging_dir(home.root) as failsafe_dir:
        restored = work / TREE
        tree.link_tree(source, restored)  # beside the live tree, before taking the lock
        sigs = tree.link_storage_root(Path(repo.location) / TREE, failsafe_dir / TREE)  # fixed up under the lock
        # counted before the lock (informational; the lock is held only for relinking and the swap)
        stats = (count_resources(repo), *tree.tree_size(failsafe_dir / TREE))
        with repo.exclusive(timeout=lock_timeout) as live:
            t0 = time.monotonic()
            refuse_open_transactions(repo)  # checked again: one may have begun meanwhile
            failsafe = _failsafe(repo, home, live, failsafe_dir, now(), sigs, stats)
            marker = home.root / MARKER
            _write_marker(marker, {"backup": backup_id, "previous": failsafe.id, "restored_inode": _inode(restored)})
            _swap(live, restored)
            try:
                if after_swap is not None:
                    after_swap()
                count = repo.reindex()
            except BaseException:
                _swap(live, restored)  # swap back: the old tree is at `restored` now
                repo.reindex()
                marker.unlink(missing_ok=True)
                raise
            marker.unlink(missing_ok=True)
            held = time.monotonic() - t0
        # `restored` now holds the previous tree's links; the staging dir removal drops them
    return RestoreResult(info.id, failsafe.id, count, seconds=time.monotonic() - started, lock_held_seconds=held)


def _failsafe(repo: Repository, home: BackupHome, live: Path, staged: Path, when: datetime,
              sigs: dict[str, tree.Signature], stats: tuple[int, int, int]) -> BackupInfo:
    backup_id, label = make_id("previous", when)
    if (home.root / backup_id).exists():
        backup_id, label = make_id(f"previous-{int(time.time() * 1000) % 100000}", when)
    tree.reconcile(live, staged / TREE, sigs)
    resources, files, size = stats
    info = BackupInfo(id=backup_id, datetime=when.astimezone(UTC).isoformat(), label=label,
                      resources=resources, files=files, bytes=size, repository=repo.location,
                      kind="failsafe")
    return home.install(staged, info)


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
    tmp = marker.with_name(marker.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, marker)
    tree.fsync_dir(marker.parent)
