"""Rebuilding the index from the storage root: each object directory read, big roots by forked workers

A reindex reads every object of a repository (millions): the walk works on plain strings and os
calls (pathlib costs more than the syscalls here), forked workers read and parse while this
process only writes, and the index takes their entries a batch of objects per statement.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.repository.local import ocfl, root_units
from fcrctl.repository.local.index import Index, ObjectEntries, Values, values_of
from fcrctl.repository.local.index_bulk import BulkLoad

log = logging.getLogger("fcrctl.local")
Entries = Callable[..., ObjectEntries]  # Store.entries: (object id, object dir relative to the root, inventory)

_MIN_TOPS_FOR_PROCESSES = 64  # below this the reindex takes less than starting workers
BATCH = 500  # objects whose entries the index takes in one statement per table


class ReadObject(NamedTuple):
    """What reading one object directory gave: its entries, or why it is invalid (a tuple: it is
    pickled for every object a forked reader reads)."""

    rel: str
    object_id: str | None
    entries: Values | None
    reason: str | None
    misplaced: bool = False  # not where its id hashes to: its id may be met in another directory too


_FORKED: tuple[str, Entries] | None = None


def _read_tops_forked(tops: list[str]) -> list[ReadObject]:  # (tops: directories of a unit, root_units.py)
    assert _FORKED is not None
    root, entries = _FORKED
    return list(_read_tops(root, entries, tops))


def _read_tops(root: str, entries: Entries, tops: list[str]) -> Iterator[ReadObject]:
    for top in tops:
        for obj, rel, _listing in ocfl.object_dirs(f"{root}/{top}", top, listed=False):
            yield _read(root, entries, obj, rel)


def index_object_dir(root: Path, index: Index, entries: Entries, obj_dir: Path) -> int:
    """(Re)index one object directory; invalid objects are recorded, not raised."""
    return apply_read(index, read_object_dir(root, entries, obj_dir))


def read_object_dir(root: Path, entries: Entries, obj_dir: Path) -> ReadObject:
    """An object directory's index entries, or why it is invalid (no index access: forked
    reindex workers call this)."""
    return _read(os.fspath(root), entries, os.fspath(obj_dir), obj_dir.relative_to(root).as_posix())


def _read(root: str, entries: Entries, obj: str, rel: str) -> ReadObject:
    object_id: str | None = None
    try:
        inventory = ocfl.read_inventory(obj)
        object_id = inventory["id"]
        read: set[str] = set()  # files read whole (or the object is invalid): no stat needed

        def read_from(content: str) -> str:
            read.add(f"{rel}/{content}")
            return f"{obj}/{content}"

        found = entries(object_id, rel, inventory, read_from=read_from)
        for row in found.rows:
            if row.content_file and row.content_file not in read and not os.path.exists(f"{root}/{row.content_file}"):
                raise CorruptData(f"object {object_id}: content file {row.content_file} is missing")
    except (FcrctlError, OSError, KeyError, ValueError) as e:
        return ReadObject(rel, object_id, None, getattr(e, "message", None) or str(e), _misplaced(object_id, rel))
    return ReadObject(rel, object_id, values_of(found), None, _misplaced(object_id, rel))


def _misplaced(object_id: object, rel: str) -> bool:
    return isinstance(object_id, str) and ocfl.object_rel(object_id) != rel


def apply_read(index: Index, read: ReadObject, *, unseen: bool = False) -> int:
    """``unseen``: (an invalid object) the caller knows its id is not indexed yet: nothing to forget."""
    if read.entries is None:
        log.warning("skipping invalid OCFL object %s (%s): %s", read.rel, read.object_id or "unknown id",
                    read.reason)
        if read.object_id is not None and not unseen:
            index.apply([], [read.object_id])
        index.mark_invalid(read.rel, read.object_id, read.reason or "")
        return 0
    index.apply([read.entries])
    return len(read.entries.resources)


def reindex_all(root: Path, index: Index, entries: Entries, processes: int = 1,
                progress: Callable[[int], None] | None = None) -> int:
    """Index every object directory (the caller clears the index, in one transaction). A
    big root is read by forked workers, each reading its share of the top directories;
    this process only writes their entries to the index."""
    with index.bulk_load() as load:
        return _reindex_all(os.fspath(root), index, load, entries, processes, progress)


def _reindex_all(where: str, index: Index, load: BulkLoad, entries: Entries, processes: int,
                 progress: Callable[[int], None] | None) -> int:
    import multiprocessing  # here, not at the top: ~12 ms of every command's start-up (the store imports us)

    from fcrctl import forked

    with os.scandir(where) as it:
        tops = sorted(e.name for e in it if e.is_dir(follow_symlinks=False) and e.name != "extensions")
    # units of ~64 objects: a worker's result, and those queued for this process, stay small at any size
    chunks = root_units.units(where, tops)
    if (processes < 2 or len(tops) < _MIN_TOPS_FOR_PROCESSES or "fork" not in multiprocessing.get_all_start_methods()
            or threading.active_count() > 1):  # forking a threaded process (the server) can deadlock
        return _write(index, load, (list(_read_tops(where, entries, chunk)) for chunk in chunks), progress)
    global _FORKED
    _FORKED = (where, entries)  # inherited by the workers, not pickled to each
    try:
        with forked.pool(processes) as pool:
            return _write(index, load, forked.ordered(pool, _read_tops_forked, chunks, ahead=processes * 4), progress)
    finally:
        _FORKED = None


def _write(index: Index, load: BulkLoad, parts: Iterable[list[ReadObject]],
           progress: Callable[[int], None] | None) -> int:
    """Index what was read, in batches of objects; an invalid object (or an id met twice in one
    batch) writes what came before it first, so the index ends as if each object was applied in
    turn. Until an object is met that is not where its id hashes to, no id can have been met
    before: nothing is looked up (index_bulk.py)."""
    count = 0
    batch: list[Values] = []
    ids: set[str] = set()
    for part in parts:
        for read in part:
            if (read.entries is None or read.entries.object_id in ids or len(batch) >= BATCH
                    or (read.misplaced and not load.keyed)):
                if batch:
                    index.add(batch, unseen=not load.keyed)
                batch, ids = [], set()
            if read.misplaced:
                load.key()
            if read.entries is None:
                count += apply_read(index, read, unseen=not load.keyed)
                continue
            batch.append(read.entries)
            ids.add(read.entries.object_id)
            count += len(read.entries.resources)
        if progress is not None:
            progress(len(part))
    if batch:
        index.add(batch, unseen=not load.keyed)
    return count
