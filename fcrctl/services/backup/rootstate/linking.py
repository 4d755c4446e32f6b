"""A recorded state rebuilt as a tree of hard links (copies across filesystems)"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from fcrctl.services.backup import tree
from fcrctl.services.backup.rootstate.sources import Sources
from fcrctl.services.backup.rootstate.state import Damaged, ObjectState, RootState, StateMoved
from fcrctl.services.pool import BoundedPool


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
            pool.submit(link_object, sources, str(dst), o, made)
    return count


def link_object(sources: Sources, dst: str, o: ObjectState, made: set[str]) -> tuple[int, int]:
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
    # (o.namaste is the declaration the object had on disk when recorded: read_object)
    files, size = _link_files(obj_src, obj_dst, object_files(o, data), made, f"{obj_src}/{o.head}/inventory.json")
    if os.path.isdir(f"{obj_src}/extensions"):
        more = copy_tree(Path(f"{obj_src}/extensions"), Path(f"{obj_dst}/extensions"))
        files, size = files + more[0], size + more[1]
    if o.files and files < o.files:  # (0: recorded before files were counted)
        raise Damaged(f"{o.rel} has {o.files - files} file(s) fewer than when it was recorded")
    return files, size


def object_files(o: ObjectState, data: bytes, inventory: dict | None = None) -> list[tuple[str, str]]:
    """(file in the source object directory, its name in the snapshot) for every file of the
    object at its recorded head: ``v{head}``'s inventory and sidecar double as the root ones.
    ``inventory``: ``data`` parsed already."""
    try:
        if inventory is None:
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
