"""Rebuilding the index from the storage root: each object directory read, big roots by forked workers"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fcrctl import forked
from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index, ObjectEntries

log = logging.getLogger("fcrctl.local")
Entries = Callable[[str, str, dict], ObjectEntries]  # (object id, object dir relative to the root, inventory)


@dataclass
class ReadObject:
    """What reading one object directory gave: its entries, or why it is invalid."""

    rel: str
    object_id: str | None
    entries: ObjectEntries | None
    reason: str | None


_FORKED: tuple[Path, Entries] | None = None


def _read_tops_forked(tops: list[str]) -> list[ReadObject]:
    assert _FORKED is not None
    root, entries = _FORKED
    out: list[ReadObject] = []
    for top in tops:
        out.extend(read_object_dir(root, entries, obj_dir) for obj_dir in ocfl.iter_object_dirs(root / top))
    return out


def index_object_dir(root: Path, index: Index, entries: Entries, obj_dir: Path) -> int:
    """(Re)index one object directory; invalid objects are recorded, not raised."""
    return apply_read(index, read_object_dir(root, entries, obj_dir))


def read_object_dir(root: Path, entries: Entries, obj_dir: Path) -> ReadObject:
    """An object directory's index entries, or why it is invalid (no index access: forked
    reindex workers call this)."""
    rel = obj_dir.relative_to(root).as_posix()
    object_id: str | None = None
    try:
        inventory = ocfl.read_inventory(obj_dir)
        object_id = inventory["id"]
        found = entries(object_id, rel, inventory)
        for row in found.rows:
            if row.content_file and not (root / row.content_file).exists():
                raise CorruptData(f"object {object_id}: content file {row.content_file} is missing")
    except (FcrctlError, OSError, KeyError, ValueError) as e:
        return ReadObject(rel, object_id, None, getattr(e, "message", None) or str(e))
    return ReadObject(rel, object_id, found, None)


def apply_read(index: Index, read: ReadObject) -> int:
    if read.entries is None:
        log.warning("skipping invalid OCFL object %s (%s): %s", read.rel, read.object_id or "unknown id",
                    read.reason)
        if read.object_id is not None:
            index.apply([], [read.object_id])
        index.mark_invalid(read.rel, read.object_id, read.reason or "")
        return 0
    index.apply([read.entries])
    return len(read.entries.rows)


def reindex_all(root: Path, index: Index, entries: Entries, processes: int = 1,
                progress: Callable[[int], None] | None = None) -> int:
    """Index every object directory (the caller clears the index, in one transaction). A
    big root is read by forked workers, each walking its share of the top directories;
    this process only writes their entries to the index."""
    tops = sorted(e.name for e in os.scandir(os.fspath(root))
                  if e.is_dir(follow_symlinks=False) and e.name != "extensions")
    if (processes < 2 or len(tops) < 64 or "fork" not in multiprocessing.get_all_start_methods()
            or threading.active_count() > 1):  # forking a threaded process (the server) can deadlock
        count = 0
        for obj_dir in ocfl.iter_object_dirs(root):
            count += index_object_dir(root, index, entries, obj_dir)
            if progress is not None:
                progress(1)
        return count
    global _FORKED
    _FORKED = (root, entries)  # inherited by the workers, not pickled to each
    count = 0
    try:
        chunks = [tops[i:i + 8] for i in range(0, len(tops), 8)]
        with forked.pool(processes) as pool:
            for part in pool.map(_read_tops_forked, chunks):
                count += sum(apply_read(index, read) for read in part)
                if progress is not None:
                    progress(len(part))
    finally:
        _FORKED = None
    return count
