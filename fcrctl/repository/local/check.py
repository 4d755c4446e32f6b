"""`fcrctl check`: validate a local repository as a whole (restic's `check`, for OCFL)

The walk over the root's objects (in forked workers when it is big), then what only the whole
shows: every resource's parent exists, and the index agrees with the OCFL root. The checks of
one object are in check_object.py. Problems are collected, never raised: one run reports all
of them.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from fcrctl import forked
from fcrctl.repository.base import Problem
from fcrctl.repository.local import ocfl, root_units
from fcrctl.repository.local.check_containment import FoundResources
from fcrctl.repository.local.check_hashing import Hashing
from fcrctl.repository.local.check_object import Resource, check_object
from fcrctl.repository.local.index import Index


def check_storage_root(
    root: Path,
    index: Index | None,
    *,
    read_data: bool = False,
    on_object: Callable[[], None] | None = None,
    processes: int | None = None,
    servable: bool = True,
) -> Iterator[Problem]:
    """Yield every problem found under ``root`` (and between it and ``index``).

    ``processes``: worker processes for the per-object checks (default: one per core, up to
    4, when the root is big enough to repay them; 0 checks in this process)."""
    try:
        with os.scandir(root) as it:
            tops = sorted(e.name for e in it if e.is_dir() and e.name != "extensions")
    except OSError:
        tops = []
    # the same chunks whatever the number of processes: the same report, in the same order;
    # many chunks per worker keep them balanced, the tail short and progress steady
    # (units of ~64 objects, root_units.py: a worker's result stays small at any size)
    chunks = [(str(root), unit) for unit in root_units.units(str(root), tops)]
    big = len(tops) >= _MIN_TOPS_FOR_PROCESSES
    worker = _check_chunk if servable else functools.partial(_check_chunk, servable=False)
    with FoundResources() as found:
        yield from _check_all(worker, chunks, big, read_data, on_object, processes, found)
        if index is not None:
            stale = found.index_disagreements(index.path)
            if stale:
                yield Problem("index", f"the index disagrees with the OCFL root on {stale} resources: "
                                       "run `fcrctl reindex`")


View = tuple[str, str, str | None]  # (object directory, its path in the root checked, version to check it at)


def check_object_views(
    views: list[View],
    *,
    read_data: bool = False,
    on_object: Callable[[], None] | None = None,
    processes: int | None = None,
    servable: bool = True,
) -> Iterator[Problem]:
    """As :func:`check_storage_root`, for objects that are elsewhere (a snapshot's objects in
    the live root): each checked as of the version given, as if its root inventory were that
    version's and later versions did not exist. ``servable=False``: stored RDF is hashed but not
    parsed (a backup holds what was recorded; whether it can be served is the repository's check)."""
    chunks = [views[i : i + _VIEW_CHUNK] for i in range(0, len(views), _VIEW_CHUNK)]
    big = len(views) >= _MIN_OBJECTS_FOR_PROCESSES
    worker = _check_view_chunk if servable else functools.partial(_check_view_chunk, servable=False)
    with FoundResources() as found:
        yield from _check_all(worker, chunks, big, read_data, on_object, processes, found)


def _check_all(worker: Callable[..., _Chunk], chunks: list, big: bool, read_data: bool,
               on_object: Callable[[], None] | None, processes: int | None,
               found: FoundResources) -> Iterator[Problem]:
    """Every object's problems, then containment across them (``found`` is filled in)."""
    for problems, resources, count in _check_objects(worker, chunks, big, read_data, processes):
        yield from problems
        found.add(resources)
        if on_object is not None:
            for _ in range(count):
                on_object()
    yield from found.parent_problems()


_Chunk = tuple[list[Problem], dict[str, Resource], int]


def _check_objects(worker: Callable[..., _Chunk], chunks: list, big: bool, read_data: bool,
                   processes: int | None) -> Iterator[_Chunk]:
    """Every object's problems, resources and count, a chunk at a time, in a stable order.
    The per-object checks are CPU-bound Python (the GIL serialises them), so a big root is
    split across worker processes, each hashing on its own threads."""
    if processes is None:
        processes = min(4, _cpus()) if big else 0
    if (
        processes < 2
        or "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # may not have children
    ):
        for chunk in chunks:
            yield worker(chunk, read_data, max(2, min(4, _cpus())))
        return
    done = 0
    pool: ProcessPoolExecutor | None = None
    try:
        pool = forked.pool(processes)
        for result in forked.ordered(pool, worker, chunks, read_data, 2, ahead=processes * 4):
            yield result
            done += 1
    except (BrokenProcessPool, OSError):  # a worker died (or none could start): finish here
        for chunk in chunks[done:]:
            yield worker(chunk, read_data, 2)
    finally:  # also when the caller stops early: what has not started never will
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_MIN_TOPS_FOR_PROCESSES = 256  # below ~300 objects the whole check takes less than starting workers
_MIN_OBJECTS_FOR_PROCESSES = 300  # the same, counted in objects (when checking views)
_VIEW_CHUNK = 64  # objects


def _check_chunk(chunk: tuple[str, list[str]], read_data: bool, hash_threads: int, servable: bool = True) -> _Chunk:
    root, tops = chunk
    objects = (found for top in tops for found in ocfl.object_dirs(f"{root}/{top}", top))
    return _check_many(((obj, rel, entries, None) for obj, rel, entries in objects), read_data, hash_threads,
                       servable)


def _check_view_chunk(views: list[View], read_data: bool, hash_threads: int, servable: bool = True) -> _Chunk:
    def listed() -> Iterator[tuple[str, str, dict[str, bool], str | None]]:
        for obj, rel, head in views:
            try:
                with os.scandir(obj) as it:
                    entries = {e.name: e.is_dir() for e in it}
            except OSError:
                entries = {}
            if head is not None:  # versions after it are not part of the view
                last = ocfl.version_number(head)
                entries = {name: is_dir for name, is_dir in entries.items()
                           if not (is_dir and name[:1] == "v" and name[1:].isdigit() and int(name[1:]) > last)}
            yield obj, rel, entries, head

    return _check_many(listed(), read_data, hash_threads, servable)


def _check_many(objects: Iterator[tuple[str, str, dict[str, bool], str | None]], read_data: bool,
                hash_threads: int, servable: bool = True) -> _Chunk:
    problems: list[Problem] = []
    resources: dict[str, Resource] = {}
    count = 0
    # content is hashed on threads (hashlib releases the GIL) while this thread checks the
    # structure of the next objects; the window bounds what is queued
    hashing = Hashing(hash_threads) if read_data else None
    try:
        for obj, rel, entries, head in objects:
            problems.extend(check_object(obj, rel, entries, resources, hashing, head, servable))
            if hashing is not None:
                problems.extend(hashing.drain(block=False))
            count += 1
        if hashing is not None:
            problems.extend(hashing.drain(block=True))
    finally:
        if hashing is not None:
            hashing.close()
    # hashes finish in any order: sorting makes the report the same from run to run
    problems.sort(key=lambda p: (p.where, p.message))
    return problems, resources, count
