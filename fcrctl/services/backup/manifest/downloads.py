"""Rebuilding a snapshot from a store into a directory, every blob verified as it is written"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from fcrctl.errors import BadInput, CorruptData
from fcrctl.services.backup import frames, packs, tree, validate
from fcrctl.services.backup.manifest import fds
from fcrctl.services.backup.manifest.format import Entry, ObjectFiles, Progress, TransferReport, blob_key
from fcrctl.services.backup.manifest.reading import check_manifest, read_manifest
from fcrctl.services.backup.snapshot import (
    EPOCH_KEY,
    INDEX_BLOBS,
    TREE,
    BackupHome,
    BackupInfo,
    check_id,
)
from fcrctl.services.backup.stores.base import BackupStore
from fcrctl.services.pool import BoundedPool


# -- download ---------------------------------------------------------------------------------------
def blob_exists(store: BackupStore, digest: str) -> bool:
    packed = packs.locate(store, digest)
    return store.exists(packs.pack_key(packed.pack) if packed is not None else blob_key(digest))


def read_blob(store: BackupStore, digest: str, sink: BinaryIO | fds.FdWriter | fds.Discard, where: str) -> int:
    """Decompress blob ``digest`` into ``sink``, verifying its sha512; returns bytes written."""
    packed = packs.locate(store, digest)
    if packed is not None:
        frame = store.get_range(packs.pack_key(packed.pack), packed.offset, packed.length)
        try:
            data = frames.decompressor().decompress(frame)
        except zstandard.ZstdError as e:
            raise CorruptData(f"{where}: blob {digest[:16]}... in pack {packed.pack[:16]}... of {store.location} "
                              f"is damaged ({e})", path=where) from e
        if hashlib.sha512(data).hexdigest() != digest:
            raise CorruptData(f"{where}: blob {digest[:16]}... in pack {packed.pack[:16]}... of {store.location} "
                              f"does not match its sha512 (bit rot or tampering)", path=where)
        sink.write(data)
        return len(data)
    hasher = hashlib.sha512()
    size = 0
    with store.get(blob_key(digest)) as raw:
        try:
            # into one reused buffer: a fresh one per read costs page faults (zeroed pages) per MiB
            reader = frames.decompressor().stream_reader(raw, read_size=frames.CHUNK)
            buffer = frames.buffers()[0]
            while n := reader.readinto(buffer):
                chunk = buffer[:n]
                hasher.update(chunk)
                sink.write(chunk)
                size += n
        except zstandard.ZstdError as e:
            raise CorruptData(f"{where}: blob {digest[:16]}... in {store.location} is damaged ({e})", path=where) from e
    if hasher.hexdigest() != digest:
        raise CorruptData(f"{where}: blob {digest[:16]}... in {store.location} does not match its sha512 "
                          f"(bit rot or tampering)", path=where)
    return size



def download(
    store: BackupStore,
    backup_id: str,
    home: BackupHome,
    *,
    jobs: int = 4,
    progress: Progress | None = None,
) -> TransferReport:
    """Rebuild snapshot ``backup_id`` from ``store`` into ``home`` (every blob verified)."""
    import time

    started = time.monotonic()
    check_id(backup_id)
    if (home.root / backup_id).exists():
        raise BadInput(f"backup {backup_id} is already in {home.root}: delete it first or restore it directly")
    with tree.staging_dir(home.root) as staged:
        info, report = download_into(store, backup_id, staged, jobs=jobs, progress=progress)
        home.install(staged, info)
    report.seconds = time.monotonic() - started
    return report


def download_into(
    store: BackupStore,
    backup_id: str,
    staged: Path,
    *,
    jobs: int = 4,
    progress: Progress | None = None,
) -> tuple[BackupInfo, TransferReport]:
    """Snapshot ``backup_id`` from ``store`` written into the empty directory ``staged`` (its
    ``ocfl-root/``, ``index.sqlite``; no ``backup.json``): the manifest checked whole first,
    every blob verified as it is written, and every object's inventory compared with what the
    manifest gave it."""
    import time

    started = time.monotonic()
    checked = check_manifest(store, backup_id)
    info, objects = read_manifest(store, backup_id, checked)
    report = TransferReport(info.id, store.location)
    root = staged / TREE
    root.mkdir()

    def done(objects_files_bytes: tuple[int, int, int]) -> None:
        report.objects += objects_files_bytes[0]
        report.files += objects_files_bytes[1]

    if store.capabilities.local and min(jobs, os.cpu_count() or 1) > 1:
        _write_forked(store, backup_id, root, objects, min(jobs, os.cpu_count() or 1), done, progress)
    else:
        _write_threaded(store, backup_id, root, objects, jobs, done, progress)
    info.extra.pop(EPOCH_KEY, None)  # the downloaded tree is whole: nothing is read from a live root
    for key, name in INDEX_BLOBS:  # the index copy, or the base's and the delta over it
        index_digest = info.extra.pop(key, None)
        if index_digest:
            with open(staged / name, "wb") as fh:
                read_blob(store, str(index_digest), fh, name)
    report.seconds = time.monotonic() - started
    return info, report



# -- writing a snapshot's objects -------------------------------------------------------------------
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
_INVENTORY = re.compile(r"(v\d+/)?inventory\.json(\.[a-z0-9-]+)?")  # an object's inventory or sidecar, not content
_BATCH_FILES = 64  # ~64 files a task: a task per small object cost more in hand-offs


def _batches(objects: Iterator[ObjectFiles]) -> Iterator[list[ObjectFiles]]:
    batch: list[ObjectFiles] = []
    size = 0
    for obj in objects:
        batch.append(obj)
        size += len(obj.files)
        if size >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _write_object(store: BackupStore, root_fd: int, made: set[str], obj: ObjectFiles, backup_id: str,
                  progress: Progress | None) -> int:
    """One object's files, created relative to its directory (one path walk per object, not
    per file), every blob verified as it is written; then its inventory checked against what
    the manifest gave it. Returns the bytes written."""
    try:
        return _write_object_at(store, root_fd, made, obj, backup_id, progress)
    except OSError as e:  # a file where the manifest also put a directory, or the like
        raise CorruptData(f"{obj.where}: cannot write {e.filename or 'a file'} of the backup ({e.strerror}): "
                          f"the manifest of {backup_id} is damaged; nothing was restored", path=obj.where) from e


def _write_object_at(store: BackupStore, root_fd: int, made: set[str], obj: ObjectFiles, backup_id: str,
                     progress: Progress | None) -> int:
    rel = obj.object_rel
    if rel:
        fds.mkdirs_at(root_fd, rel, made)
        at = os.open(rel, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=root_fd)
    else:
        at = root_fd
    cut = len(rel) + 1 if rel else 0
    subdirs: set[str] = set()
    inventories: dict[str, list[bytes]] = {}  # inventories as written, by digest, for the check below
    first: dict[tuple[str | None, str | None], tuple[str, int]] = {}  # an inventory's content -> (file, size)
    root_inventory: str | None = None
    written = 0
    try:
        for e in obj.files:
            name = e.rel[cut:]
            parent = name.rpartition("/")[0]
            if parent and parent not in subdirs:
                fds.mkdirs_at(at, parent, subdirs)
            inventory = _INVENTORY.fullmatch(name) is not None
            if inventory:
                if name == "inventory.json":
                    root_inventory = e.digest
                same = first.get((e.digest, e.inline))
                # the root inventory and its sidecar are the head version's, hard-linked (as the
                # repository's writer makes them, and tar brings them back): a link, not a second
                # file made, filled and hashed - a quarter of the bench tree's files
                if same is not None and _linked(at, same[0], name):
                    written += same[1]
                    if progress is not None:
                        progress(same[1])
                    continue
            fd = os.open(name, _FLAGS, 0o666, dir_fd=at)
            try:
                if e.inline is not None:
                    n = fds.FdWriter(fd).write(e.inline.encode("utf-8"))
                else:
                    assert e.digest is not None
                    kept = None
                    if inventory and e.digest not in inventories:  # once: the same bytes again when unlinked
                        kept = inventories[e.digest] = []
                    n = read_blob(store, e.digest, fds.FdWriter(fd, kept), obj.where)
                    if n > packs.PACKED_MAX:
                        tree.start_writeback(fd)
            finally:
                os.close(fd)
            if inventory:
                first[(e.digest, e.inline)] = (name, n)
            written += n
            if progress is not None:
                progress(n)
        if rel:
            kept = inventories.get(root_inventory) if root_inventory else None
            validate.check_object(at, obj.where, rel, [(e.rel[cut:], e.digest, e.inline) for e in obj.files],
                                  backup_id, b"".join(kept) if kept else None)
    finally:
        if at != root_fd:
            os.close(at)
    return written


def _linked(at: int, source: str, name: str) -> bool:
    """Hard-link ``name`` to ``source`` (both in directory ``at``); False where links cannot be
    made (a filesystem without them): the caller writes the file instead."""
    try:
        os.link(source, name, src_dir_fd=at, dst_dir_fd=at, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EXDEV):
            raise
        return False
    return True


def _write_threaded(store: BackupStore, backup_id: str, root: Path, objects: Iterator[ObjectFiles], jobs: int,
                    done: Callable[[tuple[int, int, int]], None], progress: Progress | None) -> None:
    """On threads: a remote store's blobs are waited for, and ``jobs`` requests overlap."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    made: set[str] = set()  # directories under the root, each created once

    def write_all(batch: list[ObjectFiles]) -> tuple[int, int, int]:
        written = sum(_write_object(store, root_fd, made, obj, backup_id, progress) for obj in batch)
        return sum(1 for obj in batch if obj.object_rel), sum(len(obj.files) for obj in batch), written

    # creating files is the kernel's work (and the GIL's, between the calls): one thread per
    # core does it fastest, more only queue on the same locks
    workers = min(jobs, os.cpu_count() or 1) if store.capabilities.local else jobs
    try:
        with BoundedPool[tuple[int, int, int]](workers, workers * 4, name="fcrctl-download", on_done=done) as pool:
            for batch in _batches(objects):
                pool.submit(write_all, batch)
    finally:
        os.close(root_fd)


# what forked writers inherit (set before they are forked): the store, the root, the backup id
_FORKED: tuple[BackupStore, str, str] | None = None
_forked_root: tuple[int, set[str]] | None = None  # a writer's own root descriptor and directories made


def _write_forked(store: BackupStore, backup_id: str, root: Path, objects: Iterator[ObjectFiles], processes: int,
                  done: Callable[[tuple[int, int, int]], None], progress: Progress | None) -> None:
    """On forked processes, for a store on this machine: the work is creating files, hashing
    and decompressing, and threads spent it handing the GIL around between two system calls
    per file (17 CPU s for the 1 GB bench tree idle). Each writer creates whole objects; the
    parent only reads the manifest and hands out batches."""
    global _FORKED
    from fcrctl import forked

    packs.locate(store, "")  # the store's pack index read once, here: the writers inherit it
    _FORKED = (store, str(root), backup_id)
    try:
        with forked.pool(processes) as pool:
            for result in forked.ordered(pool, _write_batch, (_plain(b) for b in _batches(objects)),
                                         ahead=processes * 4):
                done(result)
                if progress is not None:
                    progress(result[2])
    finally:
        _FORKED = None


def _plain(batch: list[ObjectFiles]) -> list[tuple[str, str | None, list[tuple[str, str | None, str | None]]]]:
    """A batch as tuples (pickled to a writer: cheaper than dataclasses)."""
    return [(o.object_rel, o.object_id, [(e.rel, e.digest, e.inline) for e in o.files]) for o in batch]


def _write_batch(batch: list[tuple[str, str | None, list[tuple[str, str | None, str | None]]]]) -> tuple[int, int, int]:
    """In a forked writer: (objects, files, bytes) of the batch written."""
    global _forked_root
    assert _FORKED is not None
    store, root, backup_id = _FORKED
    if _forked_root is None:
        _forked_root = (os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), set())
    root_fd, made = _forked_root
    written = files = objects = 0
    for rel, object_id, entries in batch:
        obj = ObjectFiles(rel, object_id, [Entry(*e) for e in entries])
        written += _write_object(store, root_fd, made, obj, backup_id, None)
        objects += 1 if rel else 0
        files += len(entries)
    return objects, files, written


def _run_entries(objects: Iterator[ObjectFiles], fn: Callable[[Entry, str], None], jobs: int,
                 report: TransferReport) -> None:
    with BoundedPool[None](jobs, jobs * 4, name="fcrctl-download") as pool:
        for obj in objects:
            report.objects += 1 if obj.object_rel else 0
            for e in obj.files:
                report.files += 1
                pool.submit(fn, e, obj.where)


def iter_entries(objects: Iterable[ObjectFiles]) -> Iterator[tuple[Entry, str]]:
    for obj in objects:
        for e in obj.files:
            yield e, obj.where
