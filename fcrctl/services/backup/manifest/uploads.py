"""Sending a snapshot to a store: only the blobs it lacks, the objects it has unchanged reused"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Container
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.services.backup import frames, packcache, packs, rootstate
from fcrctl.services.backup.manifest import fds, merge, retired
from fcrctl.services.backup.manifest import known as known_sound
from fcrctl.services.backup.manifest.deletes import store_lock
from fcrctl.services.backup.manifest.describe import (
    describe_object,
    in_object,
    recorded_state,
    root_line,
    walk_state,
    walk_tree,
)
from fcrctl.services.backup.manifest.format import (
    FORMAT,
    SMALL_BATCH,
    VERSION,
    ObjectFiles,
    Progress,
    TransferReport,
    blob_key,
    manifest_key,
)
from fcrctl.services.backup.manifest.writer import ManifestWriter, copy_unchanged, previous_objects, reuse
from fcrctl.services.backup.snapshot import (
    EPOCH_KEY,
    INDEX_BLOBS,
    TREE,
    BackupHome,
)
from fcrctl.services.backup.stores.base import BackupStore
from fcrctl.services.pool import BoundedPool


# -- upload --------------------------------------------------------------------------------------
def upload(
    home: BackupHome,
    backup_id: str,
    store: BackupStore,
    *,
    jobs: int = 4,
    progress: Progress | None = None,
    read_data: bool = False,
) -> TransferReport:
    """Send snapshot ``backup_id`` to ``store``; only blobs the store lacks are written. Files
    whose blobs are reused are compared with what fcrctl last read of them (reread.py; every
    one read with ``read_data``) before the manifest is written: CorruptData if one is damaged."""
    with store_lock(store, exclusive=False):  # what it finds in the store stays there
        return _upload(home, backup_id, store, jobs, progress, read_data)


def _upload(home: BackupHome, backup_id: str, store: BackupStore, jobs: int,
            progress: Progress | None, read_data: bool = False) -> TransferReport:
    import time

    from fcrctl.services.backup import reread

    started = time.monotonic()
    info = home.get(backup_id)
    root = home.path(backup_id) / TREE
    report = TransferReport(info.id, store.location)
    # uploaded before: other manifests may be built on it, and name its lines. A retired one is kept
    # as it is; any other is written again whole (never on a manifest that may be built on it: a
    # cycle), naming its old lines in "was" (the same backup: the same state)
    before = retired.stored(store, info.id)
    if before is not None and retired.revive(store, before, info.extra.get("stateDigest")):
        report.objects = max(0, int(before.head.get("lines", {}).get("count", 1)) - 1)  # (less the root's line)
        report.files, report.manifest_copied = info.files, True
        report.seconds = time.monotonic() - started
        return report
    clean = getattr(store, "clean", None)
    if callable(clean):
        clean()
    has_state = (home.path(backup_id) / rootstate.STATE_FILE).exists()
    for key, name in INDEX_BLOBS:  # the index copy, or the base's (a blob sent once) and the delta over it
        index_digest = _send_index(store, home.path(backup_id) / name, report, info.extra.get(key))
        if index_digest is not None:
            info.extra[key] = index_digest
    header = {"format": FORMAT, "version": VERSION,
              "backup": {k: v for k, v in info.to_json().items() if k != EPOCH_KEY}}  # local to this home
    sent: set[str] = set()  # digests read and verified on their way into the store

    def check_reused() -> None:
        checked = reread.check_snapshot(home, info, read_data=read_data, sent=sent)
        report.bytes_read += checked.bytes_read

    # a changed (or unchanged) upload: only the changed objects described, as a delta on the
    # previous manifest when it can be a base (chain.py), else its lines copied with the changed
    # objects' replaced (merge.py)
    merging = merge.plan(home, info, store) if has_state and before is None else None
    shape = merging.checked_shape(store, home.root) if merging is not None else "full"
    if shape == "full" and has_state and before is None and copy_unchanged(store, info, header, report, check_reused):
        report.seconds = time.monotonic() - started
        return report
    lock = threading.Lock()  # the report's counters: big blobs are counted on the workers
    seen: set[str] = set()

    # Skip-cache: an object whose root inventory (its sha512) equals the one in the store's
    # previous manifest of this repository is unchanged (OCFL never modifies in place), so its
    # line is reused without reading the object or looking up its blobs.
    previous: dict[str, tuple[str, ObjectFiles]] = {}
    state: rootstate.RootState | None = None
    recorded: dict[str, rootstate.ObjectState] = merging.changed if merging is not None else {}
    was: dict[str, rootstate.ObjectState] = merging.was if merging is not None else {}
    sources = home.sources_of(info) if merging is not None else None

    def whole() -> None:
        """Every object looked at: each reused from the previous manifest if its inventory is unchanged."""
        nonlocal previous, state, recorded, sources, was
        was = {}
        previous = previous_objects(store, info)
        state = recorded_state(home.path(backup_id))  # only now: the unchanged case needs just its digest
        recorded = state.objects if state is not None else {}
        sources = home.sources_of(info) if state is not None else None

    if merging is None:
        whole()
    known_cache: list[tuple[set[str], Container[str]]] = []

    def known(digest: str) -> bool:
        # one listing instead of a lookup per blob (a stat, or an S3 HEAD, each), and only if needed;
        # the packs' indexes through the cache beside the backups: only those written since are read
        if not known_cache:
            loose = {key.rsplit("/", 1)[-1] for key in store.list("blobs/")}
            known_cache.append((loose, packcache.packed(store, home.root)))
        loose, packed = known_cache[0]
        return digest in loose or digest in packed

    def wrote(n: int) -> None:
        with lock:
            report.bytes_written += n

    packer = packs.Packer(store, wrote)

    def send_big(file: str, head: bytes, digest: str, where: str) -> None:
        """On a worker: the rest of the file read, hashed and compressed chunk by chunk."""
        counter = [0]
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.lseek(fd, len(head), os.SEEK_SET)
            chunks = frames.encode(fd, head, digest, lambda: _mismatch(where, Path(file)), counter)
            written = store.put(blob_key(digest), chunks)
        finally:
            os.close(fd)
        with lock:
            report.blobs_sent += 1
            report.bytes_read += counter[0]
            report.bytes_written += written
        if progress is not None:
            progress(counter[0])

    small: list[tuple[str, bytes, str, str]] = []  # read on this thread, packed on a worker
    small_size = [0]

    def pack_small(batch: list[tuple[str, bytes, str, str]]) -> None:
        """On a worker: small files hashed and compressed into the packs (C calls; the reading,
        which is Python per file, stays on the walking thread)."""
        cctx = frames.compressor()
        read = packed = 0
        for digest, data, where, file in batch:
            if hashlib.sha512(data).hexdigest() != digest:
                if fds.sha512_file(file) == digest:  # the read came back short: not the whole file
                    send_big(file, b"", digest, where)
                    continue
                raise _mismatch(where, Path(file))
            packer.add(digest, cctx.compress(data))
            read += len(data)
            packed += 1
        with lock:
            report.blobs_sent += packed
            report.bytes_read += read
        if progress is not None:
            progress(read)

    def send_small(pool: BoundedPool[None], at_least: int = SMALL_BATCH) -> None:
        if small and small_size[0] >= at_least:
            pool.submit(pack_small, small.copy())
            small.clear()
            small_size[0] = 0

    def send(file: str, digest: str, where: str, pool: BoundedPool[None], dir_fd: int | None, rel: str,
             data: bytes | None = None) -> None:
        """On this thread: a file is read (small ones whole, big ones their first bytes); its
        hashing and compression go to the workers, small files a batch at a time."""
        if known(digest):
            report.blobs_reused += 1
            return
        sent.add(digest)
        head = data if data is not None else fds.read_head(rel, packs.PACKED_MAX + 1, dir_fd)
        if len(head) > packs.PACKED_MAX:
            pool.submit(send_big, file, head[:packs.PACKED_MAX + 1], digest, where)
            return
        small.append((digest, head, where, file))
        small_size[0] += len(head) + 1024  # a file's overhead counts too
        send_small(pool)

    def handle(found: str | ObjectFiles, pool: BoundedPool[None]) -> ObjectFiles:
        """One object: described from its inventory, its new blobs sent."""
        base = str(root)
        if not isinstance(found, str):
            for e in found.files:
                if e.digest is not None and e.digest not in seen:
                    seen.add(e.digest)
                    send(f"{base}/{e.rel}", e.digest, found.where, pool, None, f"{base}/{e.rel}")
            return found
        hint = recorded.get(found)
        reused = reuse(previous, root, found, hint)
        if reused is not None:
            for e in reused.files:
                if e.digest is not None and e.digest not in seen:
                    seen.add(e.digest)
                    report.blobs_reused += 1
            return reused
        obj_dir, head, inventory = f"{base}/{found}", None, None
        if hint is not None and sources is not None:  # where the object is now, as it was recorded
            located = sources.locate(hint)
            if located is None:
                raise CorruptData(f"backup {info.id} lacks object {found}: run `fcrctl verify-backup {info.id}`")
            obj_dir, inventory = located
            head = hint.head
        # the object's files are opened relative to its directory: one path walk per object
        at = os.open(obj_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            read: dict[str, bytes] = {}
            obj = describe_object(root, obj_dir, found, hint.namaste if hint else None, dir_fd=at, read=read,
                                   head=head, inventory_bytes=inventory)
            cut = len(found) + 1
            stored = _named_before(sources, was.get(found))
            for e in obj.files:
                if e.digest is not None and e.digest not in seen:
                    seen.add(e.digest)
                    if e.digest in stored:  # no lookup (a random read of the pack cache: ~0.3 ms uncached)
                        report.blobs_reused += 1
                        continue
                    name = in_object(e.rel[cut:], head)
                    send(f"{obj_dir}/{name}", e.digest, obj.where, pool, at, name, read.get(e.rel))
        finally:
            os.close(at)
        return obj

    manifest = ManifestWriter(header)
    # local stores are bound by CPU (hashing, compressing): more workers than cores only contend
    workers = min(jobs, os.cpu_count() or 1) if store.capabilities.local else jobs
    with BoundedPool[None](workers, workers * 4, name="fcrctl-upload") as pool:
        if merging is not None:
            try:
                top = handle(root_line(root, merge.root_files(home.path(backup_id))), pool)
                manifest.header.update(merge.write(store, merging, manifest, report, lambda rel: handle(rel, pool),
                                                   top, shape))
                report.manifest_copied = not merging.changed and not merging.removed
            except merge.NoMerge:  # what was sent stays sent: the whole walk finds it in the store
                merging = None
                manifest = ManifestWriter(header)
                report.objects = report.files = 0
                report.base = None
                whole()
        if merging is None:
            for found in (walk_tree(root) if state is None else walk_state(root, state)):
                obj = handle(found, pool)
                report.objects += 1 if obj.object_rel else 0
                report.files += len(obj.files)
                manifest.add(obj)
            if state is not None:  # in directory order: it may be a base (chain.py)
                manifest.header["chain"] = {"depth": 0, "changed": 0, "full": manifest.count}
            if before is not None and (was := retired.was(before)):
                manifest.header["was"] = was
        send_small(pool, 0)
    packer.close()
    body = manifest.finish(report.objects, report.files)
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()  # blobs durable before the manifest names them
    check_reused()  # before the manifest: a damaged file fails a reused blob as it fails a sent one
    store.put(manifest_key(info.id), iter([body]))
    if callable(flush):
        flush()
    # what was put is recorded sound: the next upload builds on it without reading it back whole
    known_sound.note(store, home.root, info.id, manifest.header["lines"]["sha256"], *known_sound.chunk_hashes([body]),
                     read=False, frames=manifest.frames)
    packcache.note(store, home.root, packer.written)  # so the next upload need not read them back
    report.seconds = time.monotonic() - started
    return report


def _send_index(store: BackupStore, index: Path, report: TransferReport, recorded: object = None) -> str | None:
    """The snapshot's index copy as one more blob (restores load it instead of rebuilding).
    Its digest as the snapshot recorded it, if it did (a sent blob is still verified)."""
    if not index.exists():
        return None
    digest = recorded if isinstance(recorded, str) and len(recorded) == 128 else fds.sha512_file(index)
    if store.exists(blob_key(digest)):
        report.blobs_reused += 1
        return digest
    counter = [0]
    fd = os.open(index, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = frames.encode(fd, b"", digest, lambda: _mismatch("index", index), counter)
        report.bytes_written += store.put(blob_key(digest), chunks)
    finally:
        os.close(fd)
    report.blobs_sent += 1
    report.bytes_read += counter[0]
    return digest



def _named_before(sources: rootstate.Sources | None, was: rootstate.ObjectState | None) -> set[str]:
    """Digests a changed object's line in the previous manifest names, so the store holds their blobs
    (a manifest is written once its blobs are durable, and deletes keep what manifests name, as for
    the lines a delta copies): its content as of the version recorded then, and that version's
    inventory. Nothing when that inventory is not found as recorded."""
    located = sources.locate(was) if sources is not None and was is not None and was.head else None
    if located is None:
        return set()
    try:
        doc = json.loads(located[1])
        if doc.get("digestAlgorithm") != "sha512":
            return set()
        return {str(d).lower() for d in doc["manifest"]} | {was.digest}  # type: ignore[union-attr]
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def _mismatch(where: str, file: Path) -> CorruptData:
    return CorruptData(f"{where}: {file.name} does not match its sha512 in the inventory; "
                       f"the local backup is damaged (run `fcrctl verify-backup --read-data`)", path=where)
