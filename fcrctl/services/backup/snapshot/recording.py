"""Recording a repository's state and index under the writer lock, from the change journal or a scan"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fcrctl.errors import Locked
from fcrctl.repository.base import Repository
from fcrctl.repository.local.index_copies import PinnedIndex
from fcrctl.repository.local.retention import Retention
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.snapshot.home import BackupHome, Snapshottable
from fcrctl.services.backup.snapshot.index_delta import BASE_RESOURCES_KEY, INDEX_BASE_KEY
from fcrctl.services.backup.snapshot.info import AS_FOUND_KEY, INDEX, INDEX_BASE, INDEX_KEY, TREE, BackupInfo


# -- taking a local snapshot ----------------------------------------------------------------------
def count_resources(repo: Repository) -> int:
    counter = getattr(repo, "resource_count", None)
    if callable(counter):
        return int(counter())
    return 1 + sum(1 for _ in repo.children("/", recursive=True))


SCAN_PROCESSES = max(1, min(4, os.cpu_count() or 1))


@dataclass
class Recorded:
    state: rootstate.RootState | rootstate.DeltaState | None  # None: the same as ``reuse``'s
    epoch: int
    resources: int
    held: float
    inconsistent: bool
    journal: list[object] | None = None  # [identity, position, root inode] when recorded under the lock
    scan: str = "full"  # or "journal": only the objects it named were looked at
    reuse: BackupInfo | None = None  # nothing changed since this snapshot: its state and index copy serve
    index_base: tuple[Path, str | None] | None = None  # linked as INDEX_BASE (the index at the state's
    # base instant, no copy), with its sha512 if recorded
    index_copy: IndexCopy | None = None  # counting the resources (and copying the index) meanwhile
    base_resources: int | None = None  # live resources in the index at the state's base instant


class IndexCopy:
    """The pinned index counted and, when the state gets a new base, copied and hashed on a
    thread of its own (SQLite's backup and sha512 let go of the GIL) while the base is written."""

    def __init__(self, pinned: PinnedIndex, target: Path | None,
                 over_base: tuple[int, Path, list[str]] | None = None) -> None:
        self._pinned = pinned
        self._target = target
        self._over_base = over_base
        self._result: tuple[int, str | None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fcrctl-index-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._pinned:
                if self._over_base is not None:  # O(changes): only the changed objects' rows counted
                    base_count, base_index, ids = self._over_base
                    resources = base_count - _live(_open_index(base_index), ids, close=True) + \
                        _live(self._pinned._conn, ids)  # noqa: SLF001 - the pinned read transaction
                else:
                    resources = self._pinned.resource_count()
                digest = None
                if self._target is not None:
                    self._pinned.copy_to(self._target)
                    with open(self._target, "rb") as fh:  # hashed here: uploads need not read it again
                        digest = hashlib.file_digest(fh, "sha512").hexdigest()
            self._result = (resources, digest)
        except BaseException as e:  # noqa: BLE001 - raised again by result(), on the caller's thread
            self._error = e

    def result(self) -> tuple[int, str | None]:
        """(live resources, the index copy's sha512 if it was copied)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def wait(self) -> None:
        self._thread.join()


def _open_index(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)


def _live(conn: sqlite3.Connection, ids: list[str], *, close: bool = False) -> int:
    """Live resources (tombstones excluded) of the objects ``ids`` in an index (by its object index)."""
    try:
        total = 0
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            total += conn.execute(f"SELECT count(*) FROM resources WHERE deleted=0 AND object_id IN "
                                  f"({','.join('?' * len(part))})", part).fetchone()[0]
        return total
    finally:
        if close:
            conn.close()


def _base_resources(info: BackupInfo, index_base: tuple[Path, str | None]) -> int | None:
    """Live resources in the index of the state's base: the count of the snapshot that copied
    it, or the one it passed on; None when unknown (snapshots from before this was recorded)."""
    if index_base[0].name == INDEX:
        return info.resources
    recorded = info.extra.get(BASE_RESOURCES_KEY)
    return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None


def _load_state(home: BackupHome, info: BackupInfo) -> rootstate.DeltaState:
    """The snapshot's state opened for changes: its base is read only where the journal points."""
    return rootstate.DeltaState.open(home.path(info.id))


def _whole(state: rootstate.RootState | rootstate.DeltaState) -> rootstate.RootState:
    return state.whole() if isinstance(state, rootstate.DeltaState) else state


def _index_base(home: BackupHome, info: BackupInfo) -> tuple[Path, str | None] | None:
    """The index as of the snapshot's state base, and its sha512 if recorded: its exact copy if
    it made that base, else the base copy it links; None without one (the next snapshot then
    copies the index)."""
    where = home.path(info.id)
    for name, key in ((INDEX, INDEX_KEY), (INDEX_BASE, INDEX_BASE_KEY)):
        if (name == INDEX_BASE or INDEX_KEY in info.extra) and (where / name).is_file():
            recorded = info.extra.get(key)
            return where / name, recorded if isinstance(recorded, str) else None
    return None


def _reusable(home: BackupHome, info: BackupInfo, root: Path) -> list[str] | None:
    """The root's own files if the snapshot ``info`` recorded the present state whole (nothing
    journaled since): the same root files, no object copied as found (no journal covers those),
    its state and index copy readable. Else None."""
    where = home.path(info.id)
    if info.extra.get(AS_FOUND_KEY) != 0 or _index_base(home, info) is None:
        return None
    try:
        with open(where / rootstate.STATE_FILE, encoding="utf-8") as fh:
            recorded = sorted(json.loads(fh.readline())["root"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = sorted(rootstate.root_files(str(root)))
    return now if now == recorded else None


def record(repo: Snapshottable, retention: Retention, staged: Path, lock_timeout: float,
            allow_inconsistent: bool, home: BackupHome, floor: int, full_scan: bool) -> Recorded:
    """The root's state and the index as of one instant under the writer lock: only the objects
    the change journal names since the newest snapshot are looked at, or, when the journal
    cannot tell (reindex, restore, trimmed, or no such snapshot), a stat per object."""
    live = Path(repo.location) / TREE
    retention.activate()  # before anything is recorded: from now on purges keep what we name
    # without the lock, the newest generation may still be filling: a purge commit makes it
    # first, then moves its objects one by one, some after our scan saw them
    epoch_before = max(0, retention.epoch() - 1)
    newest = None if full_scan else home.newest_journaled()
    if newest is not None and (newest[2] != os.stat(live).st_ino or repo.changed_since(newest[1]) is None):
        newest = None  # a look without the lock: asked again under it
    journaled: tuple[rootstate.RootState | rootstate.DeltaState | None, tuple[str, int], int] | None = None
    read: dict[str, rootstate.ObjectState] = {}  # changed objects read before the lock
    held = 0.0
    scanned = newest is None
    if newest is not None:
        # unchanged since (as far as a look without the lock tells): its state may be reused whole
        so_far = repo.changed_since(newest[1])
        state = None if so_far == set() else _load_state(home, newest[0])
        if state is not None and so_far:
            state.prefetch(so_far)  # the base read here, not under the lock
            read = rootstate.read_changed(live, state, so_far)  # and the changed objects
        journaled = (state, newest[1], newest[2])
    else:
        start = None
        if not full_scan:
            # where the journal is when the scan starts, read under the lock (no write half
            # done): the lock at the end then looks only at what was written during the scan
            try:
                with repo.exclusive(timeout=lock_timeout) as root:
                    t0 = time.monotonic()
                    start = (repo.journal_position(), os.stat(root).st_ino)
                    held += time.monotonic() - t0
            except Locked:
                if not allow_inconsistent:
                    raise
        state = rootstate.scan(live, None if full_scan else home.newest_state(), processes=SCAN_PROCESSES)
        if start is not None:
            # its digest the scan's sum, kept up to date change by change under the lock
            state = rootstate.DeltaState.of(state)
            journaled = (state, start[0], start[1])
    # objects copied as found, listed here without the lock (under it only changed ones are looked at)
    as_found_before = state.as_found() if state is not None else set()
    as_found: set[str] | None = None
    try:
        with contextlib.ExitStack() as stack, repo.exclusive(timeout=lock_timeout) as root:
            t0 = time.monotonic()
            changed = repo.changed_since(journaled[1]) if journaled is not None else None
            how = "full" if scanned else "journal"
            if changed is not None and journaled is not None and journaled[2] == os.stat(root).st_ino:
                reused = _reusable(home, newest[0], root) if newest is not None and not changed else None
                if reused is not None:
                    position = repo.journal_position()
                    retention.raise_to(floor)
                    epoch = retention.epoch()
                    copy_own(root, staged / TREE, rootstate.RootState(root_files=reused))
                    held += time.monotonic() - t0
                    mark0: list[object] = [position[0], position[1], os.stat(root).st_ino]
                    stack.callback(repo.trim_journal, position)  # after the lock: see below
                    return Recorded(None, epoch, newest[0].resources, held, False, mark0, how,  # type: ignore[index]
                                     reuse=newest[0])  # type: ignore[index]
                if state is None:  # written to since the look without the lock
                    state = _load_state(home, newest[0])  # type: ignore[index]
                    as_found_before = state.as_found()
                rootstate.settle_changed(root, state, changed, read)
                as_found = {rel for rel in as_found_before | changed
                            if rel in state.objects and state.objects[rel].head is None}
            else:
                how = "full"
                as_found = None
                if not scanned:  # the journal was cut off meanwhile (a reindex): look at all
                    state = rootstate.scan(root, _whole(state or _load_state(home, newest[0])),  # type: ignore[index]
                                           processes=SCAN_PROCESSES)
                state = _whole(state)
                rootstate.settle(root, state, repo.indexed_objects())
            position = repo.journal_position()
            # the index as of this instant, copied after the lock is released when the state gets
            # a new base (a restore loads it instead of rebuilding, ~1 ms/object); else the index
            # of the state's base is linked, and a restore re-indexes what changed since
            index_base = None
            if isinstance(state, rootstate.DeltaState) and not state.needs_base and newest is not None:
                index_base = _index_base(home, newest[0])
            pinned = repo.pin_index()
            stack.callback(pinned.close)
            # never below an epoch a snapshot recorded (the counter lost with .retained/): new
            # generations would be invisible to those snapshots
            retention.raise_to(floor)
            epoch = retention.epoch()
            copy_own(root, staged / TREE, state, as_found)
            held += time.monotonic() - t0
            mark: list[object] = [position[0], position[1], os.stat(root).st_ino]
            stack.pop_all()
        # entries up to here are in this snapshot's state: the journal keeps only what follows
        # (deleted after the lock: as many rows as writes since the last snapshot)
        repo.trim_journal(position)
        over_base = None
        base_resources = _base_resources(newest[0], index_base) if index_base is not None and newest else None
        if base_resources is not None:
            assert isinstance(state, rootstate.DeltaState) and index_base is not None
            over_base = (base_resources, index_base[0], sorted(state.changed_ids()))
        copying = IndexCopy(pinned, staged / INDEX if index_base is None else None, over_base)
        return Recorded(state, epoch, 0, held, False, mark, how, index_base=index_base, index_copy=copying,
                        base_resources=base_resources)
    except Locked:
        if not allow_inconsistent:
            raise
    if not scanned:  # the journal is read only under the lock
        state = rootstate.scan(live, _whole(state or _load_state(home, newest[0])),  # type: ignore[index]
                               processes=SCAN_PROCESSES)
    # ArangoDB's allowInconsistent: no lock, so the recorded state may be torn; objects purged
    # since the scan began are in generations after epoch_before (the one filling included)
    state = _whole(state)  # type: ignore[arg-type]
    copy_own(live, staged / TREE, state)
    return Recorded(state, epoch_before, repo.resource_count(), 0.0, True)


def copy_own(root: Path, own: Path, state: rootstate.RootState | rootstate.DeltaState,
             as_found: Iterable[str] | None = None) -> None:
    """What the live root cannot be trusted to keep: the root's own files (tiny) and objects
    without a readable inventory (no immutable versions to come back to; ``as_found``: their
    directories, when the caller knows them without going through every object)."""
    own.mkdir()
    for rel in state.root_files:
        (own / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, own / rel)
    if as_found is None:
        as_found = state.as_found()
    for rel in as_found:
        rootstate.copy_tree(root / rel, own / rel)
