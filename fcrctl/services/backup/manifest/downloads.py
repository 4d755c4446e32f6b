"""Rebuilding a snapshot from a store into a directory, every blob verified as it is written"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import BinaryIO

import zstandard

from fcrctl.errors import BadInput, CorruptData, FcrctlError, from_os_error
from fcrctl.services.backup import frames, packs, tree, validate
from fcrctl.services.backup.manifest import chain, fds
from fcrctl.services.backup.manifest.format import Entry, ObjectFiles, Progress, TransferReport, blob_key
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

Files = list[tuple[str, str | None, str | None]]  # (name relative to the object, digest, inline text)


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
    ``ocfl-root/``, ``index.sqlite``; no ``backup.json``): the manifest read once, each line
    checked (validate.py) before anything is written from it, its lines' sha256 and the
    placement of its objects checked at its end; every blob verified as it is written, and
    every object's inventory compared with what the manifest gave it. Whatever fails, the
    caller's ``staged`` (a staging directory) is all that was written: nothing is installed or
    swapped in from it unless this returns."""
    import time

    started = time.monotonic()
    links = chain.resolve(store, backup_id)
    info = BackupInfo.from_json(links[0].head["backup"])
    report = TransferReport(info.id, store.location)
    root = staged / TREE
    root.mkdir()
    layout = validate.LayoutCheck()

    def done(objects_files_bytes: tuple[int, int, int]) -> None:
        report.objects += objects_files_bytes[0]
        report.files += objects_files_bytes[1]

    # read once, not checked whole first and read again: on the 1 GB bench tree the first read
    # was 0.4-0.5 CPU s with the second core idle, and the second one's JSON, sha256 and pickling
    # of every line cost the parent 0.9 CPU s beside the writers (0.6 now, with raw lines)
    lines = chain.merged(store, links)
    try:
        if store.capabilities.local and min(jobs, os.cpu_count() or 1) > 1:
            _write_forked(store, backup_id, root, lines, min(jobs, os.cpu_count() or 1), layout, done, progress)
        else:
            _write_threaded(store, backup_id, root, _checked_objects(lines, backup_id, layout), jobs, done, progress)
    finally:
        lines.close()
    layout.finish(backup_id)
    info.extra.pop(EPOCH_KEY, None)  # the downloaded tree is whole: nothing is read from a live root
    for key, name in INDEX_BLOBS:  # the index copy, or the base's and the delta over it
        index_digest = info.extra.pop(key, None)
        if index_digest:
            with open(staged / name, "wb") as fh:
                read_blob(store, str(index_digest), fh, name)
    report.seconds = time.monotonic() - started
    return info, report


def _parsed(line: bytes, backup_id: str) -> tuple[str, str | None, Files]:
    """A manifest line checked (validate.py): (object dir, id, [(file relative to it, digest, inline)])."""
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as e:  # RecursionError: a line nested beyond reason
        raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e
    return validate.object_line(doc, backup_id)


def _checked_objects(lines: Iterator[tuple[str, bool, bytes]], backup_id: str,
                     layout: validate.LayoutCheck) -> Iterator[tuple[str, str, Files]]:
    """(object dir, where, files) of each line, checked as it comes."""
    for _rel, _gone, line in lines:
        rel, object_id, files = _parsed(line, backup_id)
        if rel:
            layout.object(rel, object_id)
        else:
            layout.root(files)
        yield rel, ObjectFiles(rel, object_id).where, files


# -- writing a snapshot's objects -------------------------------------------------------------------
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
_INVENTORY = re.compile(r"(v\d+/)?inventory\.json(\.[a-z0-9-]+)?")  # an object's inventory or sidecar, not content
_BATCH_FILES = 64  # ~64 files a task: a task per small object cost more in hand-offs
_BATCH_BYTES = 10_000  # as many files, counted by manifest line bytes (~160 bytes a file)


def _batches(objects: Iterator[tuple[str, str, Files]]) -> Iterator[list[tuple[str, str, Files]]]:
    batch: list[tuple[str, str, Files]] = []
    size = 0
    for obj in objects:
        batch.append(obj)
        size += len(obj[2])
        if size >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _write_object(store: BackupStore, root_fd: int, made: set[str], rel: str, where: str, files: Files,
                  backup_id: str, progress: Progress | None) -> int:
    """One object's files, created relative to its directory (one path walk per object, not
    per file), every blob verified as it is written; then its inventory checked against what
    the manifest gave it. Returns the bytes written."""
    try:
        return _write_object_at(store, root_fd, made, rel, where, files, backup_id, progress)
    except OSError as e:  # a full disk, or else a file where the manifest also put a directory, or the like
        known = from_os_error(e, f"{where}: writing the backup's files (nothing was restored)")
        if known is not None:
            raise known from e
        raise CorruptData(f"{where}: cannot write {e.filename or 'a file'} of the backup ({e.strerror}): "
                          f"the manifest of {backup_id} is damaged; nothing was restored", path=where) from e


def _write_object_at(store: BackupStore, root_fd: int, made: set[str], rel: str, where: str, files: Files,
                     backup_id: str, progress: Progress | None) -> int:
    if rel:
        fds.mkdirs_at(root_fd, rel, made)
        at = os.open(rel, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=root_fd)
    else:
        at = root_fd
    subdirs: set[str] = set()
    inventories: dict[str, list[bytes]] = {}  # inventories as written, by digest, for the check below
    first: dict[tuple[str | None, str | None], tuple[str, int]] = {}  # an inventory's content -> (file, size)
    root_inventory: str | None = None
    written = 0
    try:
        for name, digest, inline in files:
            parent = name.rpartition("/")[0]
            if parent and parent not in subdirs:
                fds.mkdirs_at(at, parent, subdirs)
            inventory = "inventory.json" in name and _INVENTORY.fullmatch(name) is not None
            if inventory:
                if name == "inventory.json":
                    root_inventory = digest
                same = first.get((digest, inline))
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
                if inline is not None:
                    n = fds.FdWriter(fd).write(inline.encode("utf-8"))
                else:
                    kept = None
                    if inventory and digest not in inventories:  # once: the same bytes again when unlinked
                        kept = inventories[digest] = []
                    n = read_blob(store, digest, fds.FdWriter(fd, kept), where)
                    if n > packs.PACKED_MAX:
                        tree.start_writeback(fd)
            finally:
                os.close(fd)
            if inventory:
                first[(digest, inline)] = (name, n)
            written += n
            if progress is not None:
                progress(n)
        if rel:
            kept = inventories.get(root_inventory) if root_inventory else None
            validate.check_object(at, where, rel, files, backup_id, b"".join(kept) if kept else None)
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


def _write_threaded(store: BackupStore, backup_id: str, root: Path, objects: Iterator[tuple[str, str, Files]],
                    jobs: int, done: Callable[[tuple[int, int, int]], None], progress: Progress | None) -> None:
    """On threads: a remote store's blobs are waited for, and ``jobs`` requests overlap."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    made: set[str] = set()  # directories under the root, each created once

    def write_all(batch: list[tuple[str, str, Files]]) -> tuple[int, int, int]:
        written = sum(_write_object(store, root_fd, made, *obj, backup_id, progress) for obj in batch)
        return sum(1 for obj in batch if obj[0]), sum(len(obj[2]) for obj in batch), written

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


def _write_forked(store: BackupStore, backup_id: str, root: Path, lines: Iterator[tuple[str, bool, bytes]],
                  processes: int, layout: validate.LayoutCheck, done: Callable[[tuple[int, int, int]], None],
                  progress: Progress | None) -> None:
    """On forked processes, for a store on this machine: the work is creating files, hashing
    and decompressing, and threads spent it handing the GIL around between two system calls
    per file (17 CPU s for the 1 GB bench tree idle). Each writer parses and checks its lines
    and creates whole objects; the parent only reads the manifest's lines and hands them out."""
    global _FORKED
    from fcrctl import forked

    packs.locate(store, "")  # the store's pack index read once, here: the writers inherit it
    _FORKED = (store, str(root), backup_id)
    try:
        with forked.pool(processes) as pool:
            for *result, misplaced in forked.ordered(pool, _write_lines, _line_batches(lines, backup_id, layout),
                                                     ahead=processes * 4):
                if misplaced is not None and layout.misplaced is None:
                    layout.misplaced = misplaced
                done((result[0], result[1], result[2]))
                if progress is not None:
                    progress(result[2])
    except BrokenProcessPool:
        raise FcrctlError("a writer process of the download died (killed, or out of memory) before the backup's "
                          "files were all written: nothing was restored; run the command again") from None
    finally:
        _FORKED = None


def _line_batches(lines: Iterator[tuple[str, bool, bytes]], backup_id: str,
                  layout: validate.LayoutCheck) -> Iterator[list[bytes]]:
    """The manifest's lines in batches of about ``_BATCH_FILES`` files, as read (the writers parse
    them); the storage root's own line is also read here, for the layout it declares."""
    batch: list[bytes] = []
    size = 0
    for rel, _gone, line in lines:
        if not rel:
            layout.root(_parsed(line, backup_id)[2])
        batch.append(line)
        size += len(line)
        if size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _write_lines(lines: list[bytes]) -> tuple[int, int, int, str | None]:
    """In a forked writer: each line checked, then its object written; (objects, files, bytes,
    the first object not where its id maps to) of the batch."""
    global _forked_root
    assert _FORKED is not None
    store, root, backup_id = _FORKED
    if _forked_root is None:
        _forked_root = (os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), set())
    root_fd, made = _forked_root
    layout = validate.LayoutCheck()
    written = files = objects = 0
    for line in lines:
        rel, object_id, entries = _parsed(line, backup_id)
        layout.object(rel, object_id)
        written += _write_object(store, root_fd, made, rel, ObjectFiles(rel, object_id).where, entries, backup_id,
                                 None)
        objects += 1 if rel else 0
        files += len(entries)
    return objects, files, written, layout.misplaced


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
