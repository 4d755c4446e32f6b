"""`fcrctl check`: validate a local repository as a whole (restic's `check`, for OCFL).

Each object: namaste, inventory and sidecar, version sequence, the head version's inventory
equal to the root one, every manifest file present (and, with ``read_data``, its sha512), no
stray content files. Each resource: headers JSON well formed and consistent with the
inventory (content present, sha512 agreeing). Across the repository: every resource's parent
exists, and the index agrees with the OCFL root.
Problems are collected, never raised: one run reports all of them.

This runs once per object of a repository (10,000s): it works on plain strings and os calls,
reads each small file once, and lists each directory once, because pathlib and buffered file
objects cost more here than the syscalls themselves.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from fcrctl import forked
from fcrctl.repository.base import Problem
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index

_INVENTORY = ocfl.INVENTORY
_SIDECAR = ocfl.SIDECAR
_OBJECT_NAMASTE = "0=ocfl_object_"


@dataclass
class _Resource:
    parent: str | None
    deleted: bool
    state_token: str | None
    trusted: bool  # False when its object failed inventory checks: the index rightly skips it


class _Corrupt(Exception):
    """An inventory that cannot be used; its message is the problem to report."""


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
    4, when the root is big enough to repay them; 0 checks in this process). ``servable``: see
    :func:`check_object_views`."""
    try:
        with os.scandir(root) as it:
            tops = sorted(e.name for e in it if e.is_dir() and e.name != "extensions")
    except OSError:
        tops = []
    # the same chunks whatever the number of processes: the same report, in the same order;
    # many chunks per worker keep them balanced, the tail short and progress steady
    chunks = [(str(root), tops[i : i + _CHUNK]) for i in range(0, len(tops), _CHUNK)]
    big = len(tops) >= _MIN_TOPS_FOR_PROCESSES
    resources: dict[str, _Resource] = {}
    worker = _check_chunk if servable else functools.partial(_check_chunk, servable=False)
    yield from _check_all(worker, chunks, big, read_data, on_object, processes, resources)
    if index is not None:
        yield from _check_index(index, resources)


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
    yield from _check_all(worker, chunks, big, read_data, on_object, processes, {})


def _check_all(worker: Callable[..., _Chunk], chunks: list, big: bool, read_data: bool,
               on_object: Callable[[], None] | None, processes: int | None,
               resources: dict[str, _Resource]) -> Iterator[Problem]:
    """Every object's problems, then containment across them (``resources`` is filled in)."""
    for problems, found, count in _check_objects(worker, chunks, big, read_data, processes):
        yield from problems
        resources.update(found)
        if on_object is not None:
            for _ in range(count):
                on_object()
    for rid, res in sorted(resources.items()):
        if res.parent is None or res.deleted:
            continue
        parent = resources.get(res.parent)
        if parent is None:
            yield Problem(_path(rid), f"parent {_path(res.parent)} does not exist")
        elif parent.deleted:
            yield Problem(_path(rid), f"parent {_path(res.parent)} is deleted but this resource is not")


_Chunk = tuple[list[Problem], dict[str, _Resource], int]


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
        for result in pool.map(worker, chunks, repeat(read_data), repeat(2)):
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
_CHUNK = 32  # top-level directories: with the 0004 layout ~32-100 objects
_MIN_OBJECTS_FOR_PROCESSES = 300  # the same, counted in objects (when checking views)
_VIEW_CHUNK = 64  # objects


def _check_chunk(chunk: tuple[str, list[str]], read_data: bool, hash_threads: int, servable: bool = True) -> _Chunk:
    root, tops = chunk
    objects = (found for top in tops for found in _object_dirs(f"{root}/{top}", top))
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
    resources: dict[str, _Resource] = {}
    count = 0
    # content is hashed on threads (hashlib releases the GIL) while this thread checks the
    # structure of the next objects; the window bounds what is queued
    hashing = _Hashing(hash_threads) if read_data else None
    try:
        for obj, rel, entries, head in objects:
            problems.extend(_check_object(obj, rel, entries, resources, hashing, head, servable))
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


def _object_dirs(top: str, top_rel: str) -> Iterator[tuple[str, str, dict[str, bool]]]:
    """(object dir, its path relative to the root, its entries: name -> is a directory) for
    every directory under ``top`` (itself included) holding an object declaration, in a stable
    order. One listing per directory: the object's own listing also serves the namaste,
    version and stray-directory checks."""
    stack = [(top, top_rel)]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = {e.name: e.is_dir() for e in it}
        except OSError:
            continue
        if any(name.startswith(_OBJECT_NAMASTE) for name in entries):
            yield path, rel, entries
            continue
        for name in sorted((name for name, is_dir in entries.items() if is_dir), reverse=True):
            stack.append((f"{path}/{name}", f"{rel}/{name}"))


def _path(resource_id: str) -> str:
    return resource_id[len("info:fedora") :] or "/"


def _read(path: str) -> tuple[bytes, os.stat_result]:
    """A small file's bytes and its stat, with no buffered file object around them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        chunks = [os.read(fd, st.st_size + 1)]
        while chunks[-1]:  # the file may have grown since fstat
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks), st
    finally:
        os.close(fd)


def _check_object(
    obj: str, rel: str, entries: dict[str, bool], resources: dict[str, _Resource], hashing: _Hashing | None,
    head: str | None = None, servable: bool = True,
) -> Iterator[Problem]:
    where = rel
    if not any(name.startswith("0=ocfl_object_1.") for name in entries):
        yield Problem(where, "object declaration 0=ocfl_object_1.x is missing")
    try:
        data, stat, inventory, sidecar_error = _read_inventory(f"{obj}/{head}" if head else obj)
    except _Corrupt as exc:
        yield Problem(where, str(exc))
        return
    trusted = sidecar_error is None
    try:
        where = _where(inventory, where)
        if sidecar_error is not None:  # a wrong sidecar still leaves a readable inventory: keep checking
            yield Problem(where, sidecar_error)
        if ocfl.object_rel(inventory["id"]) != rel:
            yield Problem(where, f"object is stored at {rel}, not where its id hashes to")
        yield from _check_versions(obj, entries, inventory, data, stat, where)
        header_problems: list[Problem] = []
        hashed = _check_headers(obj, inventory, where, resources, trusted, hashing is not None, header_problems,
                                servable)
        yield from _check_files(obj, inventory, where, hashing, hashed)
        yield from header_problems
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        yield Problem(where, f"inventory is malformed ({type(exc).__name__}: {exc}): check it against the OCFL spec")


def _read_inventory(obj: str) -> tuple[bytes, os.stat_result, dict, str | None]:
    """(bytes, stat, parsed inventory, sidecar problem or None); _Corrupt when unusable.
    Same rules and messages as ocfl.read_inventory, reading the file once."""
    inv_path = f"{obj}/{_INVENTORY}"
    try:
        data, stat = _read(inv_path)
    except OSError as e:
        raise _Corrupt(f"cannot read {inv_path}: {e.strerror}") from e
    sidecar_error = None
    try:
        recorded = _read(f"{obj}/{_SIDECAR}")[0].decode("utf-8").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError):
        sidecar_error = f"missing or empty inventory sidecar in {obj}"
    else:
        actual = hashlib.sha512(data).hexdigest()
        if actual != recorded:
            sidecar_error = (
                f"inventory digest mismatch in {obj}: sidecar says {recorded[:16]}…, file is {actual[:16]}…"
            )
    try:
        inventory = json.loads(data)
    except ValueError as e:
        raise _Corrupt(sidecar_error or f"inventory {inv_path} is not valid JSON: {e}") from e
    if not isinstance(inventory, dict):
        raise _Corrupt(sidecar_error or f"inventory {inv_path} is not a JSON object")
    for key in ("id", "head", "manifest", "versions"):
        if key not in inventory:
            raise _Corrupt(sidecar_error or f"inventory {inv_path} lacks {key!r}")
    return data, stat, inventory, sidecar_error


def _where(inventory: dict, fallback: str) -> str:
    identifier = str(inventory["id"])
    return _path(identifier) if identifier.startswith("info:fedora") else fallback


def _check_versions(
    obj: str, entries: dict[str, bool], inventory: dict, data: bytes, stat: os.stat_result, where: str
) -> Iterator[Problem]:
    versions = inventory["versions"]
    names = list(versions)
    expected = [f"v{n}" for n in range(1, len(names) + 1)]
    if sorted(names, key=ocfl.version_number) != expected:
        yield Problem(where, f"version sequence {names} is not v1..v{len(names)}")
    head = inventory["head"]
    if head != (expected[-1] if expected else None):
        yield Problem(where, f"head {head} is not the last version {expected[-1] if expected else ''}")
    for name in names:
        if not entries.get(name):
            yield Problem(where, f"version directory {name} is missing")
    yield from _check_head_inventory(f"{obj}/{head}/{_INVENTORY}", data, stat, head, where)
    for name in sorted(name for name, is_dir in entries.items() if is_dir and name not in versions):
        if name != "extensions":
            yield Problem(where, f"unexpected directory {name} in the object root")


def _check_head_inventory(path: str, data: bytes, stat: os.stat_result, head: str, where: str) -> Iterator[Problem]:
    try:
        head_stat = os.stat(path)
        # fcrctl hard-links the head inventory to the root one: the same inode holds the same
        # bytes, so only a separate file (Fedora writes two) needs reading and comparing
        if (head_stat.st_ino, head_stat.st_dev) == (stat.st_ino, stat.st_dev):
            return
        same = _read(path)[0] == data
    except OSError:
        yield Problem(where, f"inventory of {head} is missing")
        return
    if not same:
        yield Problem(where, f"inventory of {head} differs from the root inventory")


def _check_headers(
    obj: str,
    inventory: dict,
    where: str,
    resources: dict[str, _Resource],
    trusted: bool,
    read_data: bool,
    problems: list[Problem],
    servable: bool = True,
) -> dict[str, str]:
    """Check the head version's headers JSON into ``problems``; returns {content path: sha512}
    of the headers files it read and (with read_data) hashed, so they are not read again."""
    head = inventory["head"]
    manifest = inventory["manifest"]
    content_of: dict[str, str] = {digest: paths[0] for digest, paths in manifest.items()}
    hashed: dict[str, str] = {}
    found: list[tuple[str, str, str]] = []  # (logical, content path, digest)
    for digest, logicals in inventory["versions"][head]["state"].items():
        for logical in logicals:
            found.append((logical, content_of[digest], digest))
    files = {logical: rel for logical, rel, _ in found}
    digests = {logical: digest for logical, _, digest in found}
    for logical, rel, _digest in sorted(found):
        if not (logical.startswith(".fcrepo/") and logical.endswith(".json")):
            continue
        try:
            raw = _read(f"{obj}/{rel}")[0]
            if read_data:
                hashed[rel] = hashlib.sha512(raw).hexdigest()
            headers = json.loads(raw)
        except (OSError, ValueError) as exc:
            problems.append(Problem(where, f"headers {logical} are not readable JSON: {exc}"))
            continue
        if not isinstance(headers, dict) or "id" not in headers or "interactionModel" not in headers:
            problems.append(Problem(where, f"headers {logical} lack id or interactionModel"))
            continue
        if read_data and servable and not headers.get("deleted") and headers.get("contentPath") in files \
                and not headers["interactionModel"].endswith("#NonRDFSource"):
            unreadable = _unreadable_rdf(f"{obj}/{files[headers['contentPath']]}")
            if unreadable:
                problems.append(Problem(_path(str(headers["id"])), f"its triples cannot be served: {unreadable}"))
        if hdr.is_acl(headers):
            if not headers.get("deleted"):
                problems.extend(_check_acl(obj, headers, files, digests, where))
            continue
        if hdr.is_description(headers):
            continue
        rid = headers["id"]
        deleted = bool(headers.get("deleted"))
        resources[rid] = _Resource(headers.get("parent"), deleted, headers.get("stateToken"), trusted)
        if deleted:
            continue
        content = headers.get("contentPath")
        if content and content not in files and not headers.get("externalUrl"):
            problems.append(Problem(_path(rid), f"headers name content {content} that the inventory does not hold"))
        stored = hdr.parse_digests(headers.get("digests")).get("sha512")
        binary = headers.get("interactionModel", "").endswith("NonRDFSource")
        if binary and content in digests and stored and stored != digests[content].lower():
            problems.append(Problem(_path(rid), "sha512 in the headers differs from the inventory's"))
    return hashed


def _unreadable_rdf(file: str) -> str | None:
    """Why the stored N-Triples in ``file`` cannot be read back and served, or None (older
    versions accepted bodies, such as N3 formulas, that no GET could then serve)."""
    from fcrctl import rdf
    from fcrctl.errors import BadInput

    try:
        rdf.check_storable(rdf.read_ntriples(_read(file)[0]), "stored N-Triples")
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    except BadInput as exc:
        return exc.message
    return None
def _check_acl(obj: str, headers: dict, files: dict[str, str], digests: dict[str, str], where: str
               ) -> Iterator[Problem]:
    """An ACL's headers against its content (path, size, sha512) and its content as RDF."""
    from fcrctl import rdf
    from fcrctl.errors import BadInput

    rid = str(headers["id"])[: -len("/fcr:acl")]
    content = headers.get("contentPath")
    if not content or content not in files:
        yield Problem(_path(rid), f"ACL headers name content {content} that the inventory does not hold")
        return
    try:
        data = _read(f"{obj}/{files[content]}")[0]
    except OSError as exc:
        yield Problem(_path(rid), f"ACL content {content} is unreadable: {exc.strerror or exc}")
        return
    if headers.get("contentSize") not in (None, len(data)):
        yield Problem(_path(rid), f"ACL content {content} has {len(data)} bytes, its headers say "
                                  f"{headers.get('contentSize')}")
    stored = hdr.parse_digests(headers.get("digests")).get("sha512")
    if stored and stored != digests[content].lower():
        yield Problem(_path(rid), "sha512 in the ACL headers differs from the inventory's")
    try:
        rdf.read_ntriples(data)
    except (BadInput, ValueError) as exc:
        yield Problem(_path(rid), f"ACL content {content} is not N-Triples: {getattr(exc, 'message', exc)}")


def _check_files(
    obj: str, inventory: dict, where: str, hashing: _Hashing | None, hashed: dict[str, str]
) -> Iterator[Problem]:
    present: set[str] = set()  # one listing of the content dirs instead of a stat per manifest path
    content_dir = inventory.get("contentDirectory", "content")
    for version in inventory["versions"]:
        _list_files(obj, f"{version}/{content_dir}", present)
    listed: set[str] = set()
    to_hash: list[tuple[str, str]] = []
    for digest, content_paths in inventory["manifest"].items():
        for rel in content_paths:
            listed.add(rel)
            if rel not in present and not os.path.isfile(f"{obj}/{rel}"):
                yield Problem(where, f"content file {rel} is missing")
            elif hashing is not None:
                done = hashed.get(rel)
                if done is None:
                    to_hash.append((rel, digest.lower()))
                elif done != digest.lower():
                    yield Problem(where, f"content file {rel} does not match its sha512 in the inventory")
    for rel in sorted(present - listed):
        yield Problem(where, f"content file {rel} is not in the manifest")
    if hashing is not None and to_hash:
        hashing.submit(obj, where, to_hash)


def _list_files(obj: str, rel_dir: str, into: set[str]) -> None:
    try:
        with os.scandir(f"{obj}/{rel_dir}") as it:
            entries = [(e.name, e.is_dir()) for e in it]
    except OSError:
        return
    for name, is_dir in entries:
        if is_dir:
            _list_files(obj, f"{rel_dir}/{name}", into)
        else:
            into.add(f"{rel_dir}/{name}")


class _Hashing:
    """Content hashes on a few threads; mismatches come back as problems. Files are handed
    over in batches across objects: a future per object cost as much as hashing its files."""

    BATCH = 8  # files: few enough that the queue a chunk waits for at its end stays short

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="fcrctl-check-hash")
        self.pending: list[Future[list[Problem]]] = []
        self.batch: list[tuple[str, str, str, str]] = []

    def submit(self, base: str, where: str, files: list[tuple[str, str]]) -> None:
        self.batch.extend((base, where, rel, digest) for rel, digest in files)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.pending.append(self.pool.submit(_hash_batch, self.batch))
            self.batch = []

    def drain(self, *, block: bool) -> Iterator[Problem]:
        if block:
            self._flush()
        # keep at most a few batches per worker queued: bounded memory, workers never idle
        while self.pending and (block or self.pending[0].done() or len(self.pending) > self.jobs * 2):
            yield from self.pending.pop(0).result()

    def close(self) -> None:
        for f in self.pending:
            f.cancel()
        self.pool.shutdown(wait=True)


def _hash_batch(files: list[tuple[str, str, str, str]]) -> list[Problem]:
    out: list[Problem] = []
    for base, where, rel, digest in files:
        try:
            ok = _sha512(f"{base}/{rel}") == digest
        except OSError as exc:
            out.append(Problem(where, f"content file {rel} is unreadable: {exc.strerror}"))
            continue
        if not ok:
            out.append(Problem(where, f"content file {rel} does not match its sha512 in the inventory"))
    return out


def _check_index(index: Index, resources: dict[str, _Resource]) -> Iterator[Problem]:
    indexed: dict[str, tuple[bool, str | None]] = {}
    for row in index.all_rows():
        indexed[row.path] = (row.deleted, row.headers.get("stateToken"))
    stale = 0
    for rid, res in resources.items():
        found = indexed.pop(_path(rid), None)
        if res.trusted and found != (res.deleted, res.state_token):
            stale += 1
    stale += len(indexed)
    if stale:
        yield Problem("index", f"the index disagrees with the OCFL root on {stale} resources: run `fcrctl reindex`")


_buffers = threading.local()


def _sha512(file: str) -> str:
    # one read buffer per thread: a fresh 1 MB buffer per file costs its page faults again
    # (~1 CPU s per GB of 500 KB files, a third of the hashing itself)
    buf = getattr(_buffers, "buf", None)
    if buf is None:
        buf = _buffers.buf = bytearray(1 << 20)
    view = memoryview(buf)
    digest = hashlib.sha512()
    with open(file, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()
