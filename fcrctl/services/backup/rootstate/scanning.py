"""Recording a root's state: a scan of every object (forked workers), settled under the writer lock"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import threading
from collections.abc import Iterable
from itertools import repeat
from pathlib import Path

from fcrctl import forked
from fcrctl.services.backup import tree
from fcrctl.services.backup.rootstate import digest
from fcrctl.services.backup.rootstate.linking import object_files
from fcrctl.services.backup.rootstate.state import ObjectState, RootState, Stamp, StateMoved
from fcrctl.services.backup.rootstate.stored import DeltaState


# -- step 1 and 2: recording ---------------------------------------------------------------------
def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_object(root: str, rel: str, stamp: Stamp, names: Iterable[str] | None = None) -> ObjectState:
    """The object as its root inventory says now, with its files counted (a stat each).
    ``names``: the object directory's entries, if listed already. An object whose head
    version does not hold its root inventory (damaged, or not written by the OCFL rules) has
    no immutable state to come back to: it is recorded as found, to be copied (head None)."""
    obj = f"{root}/{rel}"
    try:
        with open(f"{obj}/inventory.json", "rb") as fh:
            data = fh.read()
        inventory = json.loads(data)
        head = str(inventory["head"])
        algorithm = str(inventory.get("digestAlgorithm", "sha512"))
        spec = str(inventory.get("type", "")).split("/ocfl.io/", 1)[-1].split("/", 1)[0]
        if not _holds_root_inventory(f"{obj}/{head}/inventory.json", data, stamp):
            raise ValueError("the head version lacks the root inventory")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        files, size = tree.tree_size(Path(obj))
        return ObjectState(rel, "", None, "", stamp=stamp, files=files, bytes=size)  # copied as it is
    if names is None:
        with contextlib.suppress(OSError), os.scandir(obj) as it:
            names = [e.name for e in it]
    # the declaration on disk, which may differ from the one the inventory type names
    namaste = next((n for n in names or () if n.startswith("0=ocfl_object_")), None)
    if namaste is None:
        namaste = f"0=ocfl_object_{spec}" if spec[:1].isdigit() else "0=ocfl_object_1.1"
    o = ObjectState(rel, str(inventory.get("id", "")), head, hashlib.sha512(data).hexdigest(),
                    f"inventory.json.{algorithm}", namaste, stamp)
    with contextlib.suppress(StateMoved):  # a malformed inventory: no files to count
        o.files, o.bytes = _count(obj, o, object_files(o, data, inventory), names)
    return o


def _holds_root_inventory(head_inventory: str, data: bytes, stamp: Stamp) -> bool:
    st = os.stat(head_inventory)  # missing: OSError, the caller's "as found"
    if st.st_ino == stamp[0]:
        return True  # fcrctl links the root inventory to the head's: the same file
    with open(head_inventory, "rb") as fh:
        return fh.read() == data  # written twice (Fedora): compared


def _count(obj: str, o: ObjectState, pairs: list[tuple[str, str]], names: Iterable[str] | None = None
           ) -> tuple[int, int]:
    """(files, bytes) the snapshot holds of the object: one lstat per source file (the head's
    inventory and sidecar are the root ones too: stat'ed once, counted twice)."""
    files = size = 0
    sizes: dict[str, int | None] = {}
    for src, _dst in pairs:
        if src not in sizes:
            try:
                sizes[src] = os.lstat(f"{obj}/{src}").st_size
            except (FileNotFoundError, NotADirectoryError):
                sizes[src] = None  # the snapshot holds what is there; verify reports the rest
        n = sizes[src]
        if n is not None:
            size += n
            files += 1
    if ("extensions" in names) if names is not None else os.path.isdir(f"{obj}/extensions"):
        more = tree.tree_size(Path(f"{obj}/extensions"))
        files, size = files + more[0], size + more[1]
    return files, size


def _stat_inventory(root: str, rel: str) -> Stamp | None:
    try:
        return _stamp(os.stat(f"{root}/{rel}/inventory.json"))
    except FileNotFoundError:
        return None


def root_files(root: str) -> list[str]:
    """The storage root's own files (outside objects): namaste, layout, extensions/."""
    return _root_files(root)


def _root_files(root: str) -> list[str]:
    out: list[str] = []
    with os.scandir(root) as it:
        entries = list(it)
    for e in entries:
        if e.is_file(follow_symlinks=False):
            out.append(e.name)
        elif e.name == "extensions" and e.is_dir(follow_symlinks=False):
            for dirpath, _dirs, files in os.walk(e.path):
                sub = os.path.relpath(dirpath, root)
                out.extend(f"{sub}/{name}" for name in files)
    return out


def scan(root: Path, previous: RootState | None = None, *, processes: int = 1) -> RootState:
    """Step 1: every object under ``root`` with its head inventory (no lock needed). An object
    whose root inventory has the stat ``previous`` recorded is taken from it unread (commits
    replace inventories by rename). A big root is split across ``processes`` forked workers:
    the walk is CPU-bound Python and system calls."""
    base = str(root)
    state = RootState(root_files=_root_files(base))
    tops = sorted(e.name for e in os.scandir(base) if e.is_dir(follow_symlinks=False) and e.name != "extensions")
    known = previous.objects if previous is not None else {}
    if (processes < 2 or len(tops) < _MIN_TOPS_FOR_PROCESSES or "fork" not in mp.get_all_start_methods()
            or threading.active_count() > 1):  # forking a threaded process (the server) can deadlock
        found, total = _scan_tops(base, tops, known)
    else:
        global _KNOWN
        _KNOWN = known  # inherited by the forked workers, not pickled to each
        try:
            chunks = [tops[i::processes * 4] for i in range(processes * 4)]
            found, total = [], digest.ZERO
            with forked.pool(processes) as pool:
                for part, part_total in pool.map(_scan_tops_forked, repeat(base), chunks):
                    found.extend(part)
                    total = digest.add(total, part_total)
        finally:
            _KNOWN = {}
    state.objects = {o.rel: o for o in found}
    state.lthash = total if len(state.objects) == len(found) else None  # (None: an object seen twice, moved)
    return state


_MIN_TOPS_FOR_PROCESSES = 64  # below this the walk takes less than starting workers
_KNOWN: dict[str, ObjectState] = {}


def _scan_tops_forked(base: str, tops: list[str]) -> tuple[list[ObjectState], int]:
    return _scan_tops(base, tops, _KNOWN)


def _scan_tops(base: str, tops: list[str], known: dict[str, ObjectState]) -> tuple[list[ObjectState], int]:
    """The objects under ``tops`` and the sum of their digest vectors (digest.py: computed on
    the workers, in parallel, rather than after the scan object by object)."""
    found = _walk_tops(base, tops, known)
    return found, digest.sum_lines(digest.object_line(o.rel, o.head, o.digest) for o in found)


def _walk_tops(base: str, tops: list[str], known: dict[str, ObjectState]) -> list[ObjectState]:
    out: list[ObjectState] = []
    stack = list(reversed(tops))
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(f"{base}/{rel}") as it:
                entries = list(it)
        except FileNotFoundError:  # purged while we looked
            continue
        if any(e.name.startswith("0=ocfl_object_") for e in entries):
            stamp = _stat_inventory(base, rel) or (0, 0, 0, 0)
            old = known.get(rel)
            out.append(old if old is not None and old.head is not None and old.stamp == stamp
                       else read_object(base, rel, stamp, [e.name for e in entries]))
            continue
        stack.extend(f"{rel}/{e.name}" for e in entries if e.is_dir(follow_symlinks=False))
    return out


def settle(root: Path, state: RootState, indexed: Iterable[str]) -> int:
    """Step 2 (writer lock held): bring ``state`` to the present. Returns how many objects were
    read again."""
    base = str(root)
    reread = 0
    state.lthash = None  # the scan's sum no longer holds once objects change: computed again
    for rel in set(indexed) | set(state.objects):
        stamp = _stat_inventory(base, rel)
        old = state.objects.get(rel)
        if stamp is None:
            if old is not None and old.head is None and os.path.isdir(f"{base}/{rel}"):
                continue  # an object without an inventory: kept as found
            state.objects.pop(rel, None)
            continue
        if old is None or old.stamp != stamp:
            state.objects[rel] = read_object(base, rel, stamp)
            reread += 1
    state.root_files = _root_files(base)
    return reread


def read_changed(root: Path, state: RootState | DeltaState, changed: Iterable[str]) -> dict[str, ObjectState]:
    """The objects the journal named, read before the writer lock is taken (stat, then read, as
    a scan does): under the lock ``settle_changed`` then only stats each one's inventory and
    reads again those replaced meanwhile, instead of reading every changed inventory and
    stat-ing every file of every version while writers wait."""
    base = str(root)
    out: dict[str, ObjectState] = {}
    for rel in changed:
        stamp = _stat_inventory(base, rel)
        old = state.objects.get(rel)
        if stamp is not None and (old is None or old.stamp != stamp):
            o = read_object(base, rel, stamp)
            if o.head is not None:  # one found without a readable inventory is looked at again under the lock
                out[rel] = o
    return out


def settle_changed(root: Path, state: RootState | DeltaState, changed: Iterable[str],
                   read: dict[str, ObjectState] | None = None) -> int:
    """Step 2 when the change journal names what changed since ``state`` was recorded (writer
    lock held): only those objects are looked at, so the cost is that of the changes (a
    :class:`DeltaState` looks up only those in its base). ``read``: what ``read_changed``
    found before the lock, taken where the inventory's stat has not changed since."""
    base = str(root)
    reread = 0
    read = read or {}
    if isinstance(state, RootState):
        state.lthash = None  # the scan's sum no longer holds once objects change: computed again
    for rel in changed:
        stamp = _stat_inventory(base, rel)
        old = state.objects.get(rel)
        if stamp is None:
            obj = f"{base}/{rel}"
            if os.path.isdir(obj) and any(n.startswith("0=ocfl_object_") for n in os.listdir(obj)):
                state.objects[rel] = read_object(base, rel, (0, 0, 0, 0))  # as a scan finds it: copied as it is
                reread += 1
            else:
                state.objects.pop(rel, None)
            continue
        if old is None or old.stamp != stamp:
            ready = read.get(rel)
            if ready is not None and ready.stamp == stamp:
                state.objects[rel] = ready
                continue
            state.objects[rel] = read_object(base, rel, stamp)
            reread += 1
    state.root_files = _root_files(base)
    return reread
