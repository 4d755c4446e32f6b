"""The recorded state of an OCFL storage root, where its objects are, and trees linked from it.

A snapshot is taken in steps so that the writer lock is held only for a stat per object:

1. ``scan`` (no lock): walk the root once; for every object stat its root ``inventory.json``,
   then read it (head version, id, sha512). Stat before read: a replacement in between shows
   as a changed stat in step 2.
2. ``settle`` (writer lock held): the objects the index knows now plus those seen in step 1,
   each inventory re-stat'ed. A commit replaces an inventory by rename (a new inode), so only
   objects whose stat changed are read again; purged ones drop out. The result is the state
   of the repository at that instant.
3. Nothing more is needed: OCFL versions never change once written, so ``v1..head`` of each
   object, with ``v{head}/inventory.json`` as its root inventory, *is* the recorded state,
   whatever commits happen afterwards. :class:`Sources` finds each object (the live root, or
   the retention generation a purge or restore moved it to); ``link`` builds a tree of hard
   links from them when one is needed (a restore). An object no source holds with its
   recorded inventory raises :class:`StateMoved`.

With the repository's change journal (index.py), step 1 is skipped and step 2 looks only at
the objects journaled since the newest snapshot (``settle_changed``); see snapshot._record.

The state is saved beside the snapshot (``objects.jsonl``): uploads read each object's
inventory digest from it instead of walking the tree.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

from fcrctl import forked
from fcrctl.errors import CorruptData
from fcrctl.services.backup import tree
from fcrctl.services.pool import BoundedPool

STATE_FILE = "objects.jsonl"
Stamp = tuple[int, int, int, int]


class StateMoved(Exception):  # noqa: N818 - a signal to retry, not an error users see
    """An object changed between the recorded instant and linking (purged, or replaced)."""


class Damaged(StateMoved):
    """An object holds its recorded head but has lost files it had when recorded."""


@dataclass(slots=True)
class ObjectState:
    rel: str  # object directory, relative to the storage root
    id: str
    head: str | None  # None: no readable inventory; the directory is copied as it is
    digest: str  # sha512 of the head inventory's bytes ("" without one)
    sidecar: str = "inventory.json.sha512"
    namaste: str = "0=ocfl_object_1.1"
    stamp: Stamp = (0, 0, 0, 0)  # the root inventory's stat when recorded
    files: int = 0  # the object's files and bytes at its head
    bytes: int = 0

    def to_json(self) -> dict[str, object]:
        return {"o": self.rel, "id": self.id, "head": self.head, "sha512": self.digest,
                "sidecar": self.sidecar, "namaste": self.namaste, "st": list(self.stamp),
                "n": self.files, "b": self.bytes}

    @classmethod
    def from_json(cls, doc: dict) -> ObjectState:
        stamp = doc.get("st")
        return cls(doc["o"], doc["id"], doc["head"], doc["sha512"], doc["sidecar"], doc["namaste"],
                   tuple(stamp) if isinstance(stamp, list) and len(stamp) == 4 else (0, 0, 0, 0),  # type: ignore[arg-type]
                   int(doc.get("n", 0)), int(doc.get("b", 0)))


@dataclass
class RootState:
    objects: dict[str, ObjectState] = field(default_factory=dict)
    root_files: list[str] = field(default_factory=list)  # outside objects: namaste, layout, extensions/

    def size(self, own: str | None) -> tuple[int, int]:
        """(files, bytes) of the recorded state, the root's own files read from ``own``."""
        files = sum(o.files for o in self.objects.values()) + len(self.root_files)
        size = sum(o.bytes for o in self.objects.values())
        if own is not None:
            size += sum(os.lstat(f"{own}/{rel}").st_size for rel in self.root_files)
        return files, size

    def digest(self) -> str:
        """Identifies the state: equal digests, equal object inventories and root file names."""
        h = hashlib.sha256()
        for rel in sorted(self.objects):
            o = self.objects[rel]
            h.update(f"{rel}\t{o.head}\t{o.digest}\n".encode())
        for rel in sorted(self.root_files):
            h.update(f"root\t{rel}\n".encode())
        return h.hexdigest()

    def save(self, path: Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"root": sorted(self.root_files)}) + "\n")
            for rel in sorted(self.objects):
                fh.write(json.dumps(self.objects[rel].to_json(), separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path) -> RootState:
        state = cls()
        try:
            with open(path, encoding="utf-8") as fh:
                state.root_files = list(json.loads(fh.readline())["root"])
                for line in fh:
                    o = ObjectState.from_json(json.loads(line))
                    state.objects[o.rel] = o
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CorruptData(f"{path} is unreadable ({e}): the backup is damaged") from e
        return state


# -- step 1 and 2: recording ---------------------------------------------------------------------
def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_object(root: str, rel: str, stamp: Stamp, names: Iterable[str] | None = None) -> ObjectState:
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
        o.files, o.bytes = _count(obj, o, object_files(o, data))
    return o


def _holds_root_inventory(head_inventory: str, data: bytes, stamp: Stamp) -> bool:
    st = os.stat(head_inventory)  # missing: OSError, the caller's "as found"
    if st.st_ino == stamp[0]:
        return True  # fcrctl links the root inventory to the head's: the same file
    with open(head_inventory, "rb") as fh:
        return fh.read() == data  # written twice (Fedora): compared


def _count(obj: str, o: ObjectState, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    files = size = 0
    for src, _dst in pairs:
        try:
            size += os.lstat(f"{obj}/{src}").st_size
        except (FileNotFoundError, NotADirectoryError):
            continue  # the snapshot holds what is there; verify reports the rest
        files += 1
    if os.path.isdir(f"{obj}/extensions"):
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
        found = _scan_tops(base, tops, known)
    else:
        global _KNOWN
        _KNOWN = known  # inherited by the forked workers, not pickled to each
        try:
            chunks = [tops[i::processes * 4] for i in range(processes * 4)]
            with forked.pool(processes) as pool:
                found = [o for part in pool.map(_scan_tops_forked, repeat(base), chunks) for o in part]
        finally:
            _KNOWN = {}
    state.objects = {o.rel: o for o in found}
    return state


_MIN_TOPS_FOR_PROCESSES = 64  # below this the walk takes less than starting workers
_KNOWN: dict[str, ObjectState] = {}


def _scan_tops_forked(base: str, tops: list[str]) -> list[ObjectState]:
    return _scan_tops(base, tops, _KNOWN)


def _scan_tops(base: str, tops: list[str], known: dict[str, ObjectState]) -> list[ObjectState]:
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
                       else _read_object(base, rel, stamp, [e.name for e in entries]))
            continue
        stack.extend(f"{rel}/{e.name}" for e in entries if e.is_dir(follow_symlinks=False))
    return out


def settle(root: Path, state: RootState, indexed: Iterable[str]) -> int:
    """Step 2 (writer lock held): bring ``state`` to the present. Returns how many objects were
    read again."""
    base = str(root)
    reread = 0
    for rel in set(indexed) | set(state.objects):
        stamp = _stat_inventory(base, rel)
        old = state.objects.get(rel)
        if stamp is None:
            if old is not None and old.head is None and os.path.isdir(f"{base}/{rel}"):
                continue  # an object without an inventory: kept as found
            state.objects.pop(rel, None)
            continue
        if old is None or old.stamp != stamp:
            state.objects[rel] = _read_object(base, rel, stamp)
            reread += 1
    state.root_files = _root_files(base)
    return reread


def settle_changed(root: Path, state: RootState, changed: Iterable[str]) -> int:
    """Step 2 when the change journal names what changed since ``state`` was recorded (writer
    lock held): only those objects are looked at, so the cost is that of the changes."""
    base = str(root)
    reread = 0
    for rel in changed:
        stamp = _stat_inventory(base, rel)
        old = state.objects.get(rel)
        if stamp is None:
            obj = f"{base}/{rel}"
            if os.path.isdir(obj) and any(n.startswith("0=ocfl_object_") for n in os.listdir(obj)):
                state.objects[rel] = _read_object(base, rel, (0, 0, 0, 0))  # as a scan finds it: copied as it is
                reread += 1
            else:
                state.objects.pop(rel, None)
            continue
        if old is None or old.stamp != stamp:
            state.objects[rel] = _read_object(base, rel, stamp)
            reread += 1
    state.root_files = _root_files(base)
    return reread


# -- where a recorded object is read from ---------------------------------------------------------
class Sources:
    """Where each object of a recorded state is read from, first match wins: the snapshot's
    own tree (a linked or downloaded snapshot, or the odd objects a recording copied), then the
    live root, then the retention generations newer than the state (purged objects, and roots
    swapped out by restores). Outside its own tree an object counts only if its ``v{head}``
    inventory is byte for byte the recorded one."""

    def __init__(self, own: Path | None, live: Path | None = None,
                 generations: Callable[[], list[Path]] | None = None) -> None:
        self.own = str(own) if own is not None else None
        # with a live root, the own tree holds only objects recorded without a head (copied)
        self._own_has_all = live is None
        self.live = str(live) if live is not None else None
        self._list_generations = generations
        self._generations: list[str] = []
        self._lock = threading.Lock()

    def locate(self, o: ObjectState) -> tuple[str, bytes] | None:
        """(object directory, its recorded head inventory's bytes), or None if none holds it."""
        if self.own is not None and (self._own_has_all or o.head is None) and os.path.isdir(f"{self.own}/{o.rel}"):
            obj = f"{self.own}/{o.rel}"
            if o.head is None:
                return obj, b""
            return _holding(obj, o)
        if o.head is None:
            return None
        for base in [self.live] if self.live is not None else []:
            found = _holding(f"{base}/{o.rel}", o)
            if found is not None:
                return found
        tried: set[str] = set()
        for _ in range(2):  # a purge or restore may have made a new generation since we listed them
            for base in self._generations:
                if base not in tried:
                    tried.add(base)
                    found = _holding(f"{base}/{o.rel}", o)
                    if found is not None:
                        return found
            if self._list_generations is None:
                break
            with self._lock:
                self._generations = [str(p) for p in self._list_generations()]
        return None


def _holding(obj: str, o: ObjectState) -> tuple[str, bytes] | None:
    data = _read_file(f"{obj}/{o.head}/inventory.json")
    return (obj, data) if data is not None and _sha512(data) == o.digest else None


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


# -- step 3: linking ------------------------------------------------------------------------------
@dataclass
class LinkCount:
    files: int = 0
    bytes: int = 0

    def add(self, other: tuple[int, int]) -> None:
        self.files += other[0]
        self.bytes += other[1]


def link(sources: Sources, dst: Path, state: RootState, *, jobs: int = 4) -> LinkCount:
    """Recreate the recorded state at ``dst`` with hard links (copies across filesystems), the
    root's own files from ``sources.own``. Raises :class:`StateMoved` if no source holds an
    object's recorded state."""
    count = LinkCount()
    os.mkdir(dst)
    made: set[str] = {str(dst)}
    for rel in state.root_files:
        count.add(_link_files(str(sources.own), str(dst), [(rel, rel)], made, None))
    with BoundedPool[tuple[int, int]](jobs, jobs * 8, name="fcrctl-link", on_done=count.add) as pool:
        for o in state.objects.values():
            pool.submit(_link_object, sources, str(dst), o, made)
    return count


def _link_object(sources: Sources, dst: str, o: ObjectState, made: set[str]) -> tuple[int, int]:
    try:
        return _link_located(sources, dst, o, made)
    except StateMoved:
        pass
    # a purge or restore moved the object while we linked it (no lock is held here): start it
    # again from where it is now (locate lists the generations again)
    obj_dst = f"{dst}/{o.rel}"
    shutil.rmtree(obj_dst, ignore_errors=True)
    for d in [d for d in list(made) if d == obj_dst or d.startswith(f"{obj_dst}/")]:
        made.discard(d)
    try:
        return _link_located(sources, dst, o, made)
    except Damaged:
        raise
    except StateMoved:
        raise StateMoved(o.rel) from None


def _link_located(sources: Sources, dst: str, o: ObjectState, made: set[str]) -> tuple[int, int]:
    found = sources.locate(o)
    if found is None:
        raise StateMoved(o.rel)
    obj_src, data = found
    obj_dst = f"{dst}/{o.rel}"
    if o.head is None:
        _makedirs(os.path.dirname(obj_dst), made)
        return copy_tree(Path(obj_src), Path(obj_dst))
    # (o.namaste is the declaration the object had on disk when recorded: _read_object)
    files, size = _link_files(obj_src, obj_dst, object_files(o, data), made, f"{obj_src}/{o.head}/inventory.json")
    if os.path.isdir(f"{obj_src}/extensions"):
        more = copy_tree(Path(f"{obj_src}/extensions"), Path(f"{obj_dst}/extensions"))
        files, size = files + more[0], size + more[1]
    if o.files and files < o.files:  # (0: recorded before files were counted)
        raise Damaged(f"{o.rel} has {o.files - files} file(s) fewer than when it was recorded")
    return files, size


def object_files(o: ObjectState, data: bytes) -> list[tuple[str, str]]:
    """(file in the source object directory, its name in the snapshot) for every file of the
    object at its recorded head: ``v{head}``'s inventory and sidecar double as the root ones."""
    try:
        inventory = json.loads(data)
        versions = list(inventory["versions"])
        content = [p for paths in inventory["manifest"].values() for p in paths]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise StateMoved(o.rel) from None  # it read as an inventory when recorded
    pairs = [(o.namaste, o.namaste), (f"{o.head}/inventory.json", "inventory.json"),
             (f"{o.head}/{o.sidecar}", o.sidecar)]
    for v in versions:
        pairs.append((f"{v}/inventory.json", f"{v}/inventory.json"))
        pairs.append((f"{v}/{o.sidecar}", f"{v}/{o.sidecar}"))
    pairs.extend((p, p) for p in content)
    return pairs


def _link_files(src: str, dst: str, pairs: list[tuple[str, str]], made: set[str],
                anchor: str | None) -> tuple[int, int]:
    files = size = 0
    for s_rel, d_rel in pairs:
        target = f"{dst}/{d_rel}"
        _makedirs(os.path.dirname(target), made)
        source = f"{src}/{s_rel}"
        try:
            n = os.lstat(source).st_size
            _link(source, target)
            size += n
        except FileNotFoundError:
            if anchor is not None and not os.path.exists(anchor):
                raise StateMoved(src) from None
            continue  # missing in the live object too: the snapshot holds what is there
        files += 1
    return files, size


def _makedirs(path: str, made: set[str]) -> None:
    if path in made:
        return
    with contextlib.suppress(FileExistsError):
        os.makedirs(path)
    made.add(path)


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise  # a vanished source (the caller decides) or a real failure: never copied over
        shutil.copy2(source, target)  # another filesystem, or too many links


def copy_tree(src: Path, dst: Path) -> tuple[int, int]:
    """Link (or copy) a whole directory as it is, making ``dst``'s parents. Returns (files, bytes)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    return tree.link_tree(src, dst)
