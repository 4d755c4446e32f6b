"""Snapshots in a backup store: content-addressed zstd blobs plus one manifest per backup.

Store keys (format version 1, documented in docs/backup-store.md):
  blobs/<sha512[:2]>/<sha512>        zstd frame of one file's bytes, keyed by the sha512 of
                                     the uncompressed bytes (the digest OCFL inventories hold)
  manifests/<id>.jsonl.zst           zstd-compressed JSON lines:
     {"format": "fcrctl-backup-manifest", "version": 1, "backup": {...backup.json...}}
     {"o": "<object dir>", "id": "<object id>", "f": [[rel, sha512], [rel, null, "<inline text>"], ...]}
     ...
     {"end": true, "objects": N, "files": M}

Content digests come from the OCFL inventories (and inventory digests from their sidecars),
so an unchanged file is never read, hashed or sent twice. Every blob is hashed while it is
compressed and refused if it disagrees with its key; downloads hash while they decompress.
The manifest is written last, after the blobs are durable: a killed upload leaves blobs that
the next run reuses, and no manifest.

Threads (CPU-bound on a local store, so one worker per core): the upload walks, describes and
reads on one thread, where the Python per file is, and leaves hashing and compressing, C calls
that release the GIL, to the workers (four threads each doing Python per file spent most of
their time handing the GIL around). The download gives each worker whole objects, whose files
it creates relative to the object's directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from fcrctl import paths
from fcrctl.errors import BadInput, CorruptData, FcrctlError, NotFound, Unsupported
from fcrctl.services.backup import frames, packs, rootstate, tree, validate
from fcrctl.services.backup.snapshot import (
    EPOCH_KEY,
    INDEX,
    INDEX_KEY,
    META,
    TREE,
    BackupHome,
    BackupInfo,
    check_id,
)
from fcrctl.services.backup.stores.base import BackupStore
from fcrctl.services.pool import BoundedPool

FORMAT = "fcrctl-backup-manifest"
VERSION = 1
INLINE_MAX = 512  # sidecars, namaste files: cheaper inline than as blobs
HEADER_FRAME_MAX = 1 << 20  # a manifest's header frame (one backup's JSON) is a few KB
LEVEL = 3
SMALL_BATCH = 256 << 10  # small files handed to an upload worker at once

Progress = Callable[[int], None]


def blob_key(digest: str) -> str:
    return f"blobs/{digest[:2]}/{digest}"


def manifest_key(backup_id: str) -> str:
    return f"manifests/{backup_id}.jsonl.zst"


@dataclass
class Entry:
    """One file of a snapshot: by digest (a blob) or inline."""

    rel: str  # relative to the storage root
    digest: str | None
    inline: str | None = None


@dataclass
class ObjectFiles:
    object_rel: str  # "" for the storage root's own files
    object_id: str | None
    files: list[Entry] = field(default_factory=list)
    line_id: bytes = b""  # read from a manifest: what identifies its line (check_manifest)

    @property
    def where(self) -> str:
        if self.object_id and self.object_id.startswith(paths.ROOT_ID):
            return paths.from_id(self.object_id)
        return self.object_rel or "storage root"

    def to_json(self) -> dict[str, Any]:
        out: list[list[str | None]] = []
        for e in self.files:
            rel = e.rel[len(self.object_rel) + 1:] if self.object_rel else e.rel
            out.append([rel, e.digest] if e.inline is None else [rel, None, e.inline])
        return {"o": self.object_rel, "id": self.object_id, "f": out}

    @classmethod
    def from_json(cls, doc: dict[str, Any], backup_id: str = "") -> ObjectFiles:
        """A manifest line, its paths and digests checked (validate.py): it is outside data."""
        rel, object_id, checked = validate.object_line(doc, backup_id)
        files = [Entry(f"{rel}/{name}" if rel else name, d, inline) for name, d, inline in checked]
        return cls(rel, object_id, files)

    @classmethod
    def _checked_before(cls, doc: dict[str, Any]) -> ObjectFiles:
        """A line known to be byte for byte one that :func:`check_manifest` checked."""
        rel = doc["o"]
        files = [Entry(f"{rel}/{f[0]}" if rel else f[0], f[1], f[2] if len(f) > 2 else None) for f in doc["f"]]
        return cls(rel, doc.get("id"), files)


# -- describing a snapshot tree ---------------------------------------------------------------
def describe_tree(root: Path) -> Iterator[ObjectFiles]:
    """Every file under an OCFL storage root, grouped by object, digests from the inventories."""
    for found in _walk_tree(root):
        yield found if isinstance(found, ObjectFiles) else _describe_object(root, root / found, found)


def _recorded(snapshot: Path) -> rootstate.RootState | None:
    """The state the snapshot recorded (objects.jsonl); None for snapshots taken before it existed."""
    if not (snapshot / rootstate.STATE_FILE).exists():
        return None
    return rootstate.RootState.load(snapshot / rootstate.STATE_FILE)


def _walk_state(root: Path, state: rootstate.RootState) -> Iterator[str | ObjectFiles]:
    """As :func:`_walk_tree`, from the recorded state: no directory is listed."""
    yield from sorted(state.objects)
    top = ObjectFiles("", None)
    top.files = [_hashed_entry(root / rel, rel) for rel in sorted(state.root_files)]
    yield top


def _walk_tree(root: Path) -> Iterator[str | ObjectFiles]:
    """Each object's directory (relative to ``root``), then the storage root's own files.
    One scandir per directory and no stat: metadata calls are the cost of an unchanged upload."""
    top = ObjectFiles("", None)
    stack = [""]
    base = str(root)
    while stack:
        rel = stack.pop()
        with os.scandir(f"{base}/{rel}" if rel else base) as it:
            entries = list(it)
        if rel and any(e.name.startswith("0=ocfl_object_") for e in entries):
            yield rel
            continue
        for e in entries:
            child = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir(follow_symlinks=False):
                stack.append(child)
            else:
                top.files.append(_hashed_entry(Path(e.path), child))
    yield top


def _hashed_entry(file: Path | str, rel: str, dir_fd: int | None = None) -> Entry:
    head = _read_head(file, INLINE_MAX + 1, dir_fd)
    if len(head) <= INLINE_MAX:
        with contextlib.suppress(UnicodeDecodeError):
            return Entry(rel, None, head.decode("utf-8"))
    return Entry(rel, _sha512_file(file, dir_fd))


def _read_head(file: Path | str, n: int, dir_fd: int | None = None) -> bytes:
    """A file's first ``n`` bytes, in one read (os.open: open() adds an fstat, an ioctl and a
    seek per file; ``dir_fd``: ``file`` is relative to it, which spares the kernel the path
    walk). A short read is taken for the end of the file: every use hashes what it read, or
    is a sidecar or NAMASTE file, far smaller than a page."""
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def _read_all(file: str, dir_fd: int | None = None) -> bytes:
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return frames.read_all(fd)
    finally:
        os.close(fd)


def _describe_object(root: Path, obj_path: Path | str, rel: str, namaste: str | None = None, *,
                     dir_fd: int | None = None, read: dict[str, bytes] | None = None,
                     head: str | None = None, inventory_bytes: bytes | None = None) -> ObjectFiles:
    """The object's files from its inventory (string paths: this runs once per object).
    ``dir_fd``: the object directory, open; ``read``: gets the inventory's bytes by path, for
    the upload to store without reading them again; ``head``: the object as of that version
    (a snapshot's object that has moved on in the live root), whose inventory and sidecar
    stand for the root ones (see :func:`_in_object`); ``inventory_bytes``: that inventory,
    already read (and checked against the recorded digest) by whoever found the object."""
    obj = str(obj_path)
    at = dir_fd  # paths below are relative to the object with it, else absolute
    prefix = "" if at is not None else f"{obj}/"
    try:
        data = inventory_bytes or _read_all(f"{prefix}{_in_object('inventory.json', head)}", at)
        inventory = json.loads(data)
        algorithm = inventory.get("digestAlgorithm")
        versions = list(inventory["versions"])
        manifest = inventory["manifest"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CorruptData(f"object {rel}: unreadable inventory ({e}); run `fcrctl verify-backup`") from e
    out = ObjectFiles(rel, str(inventory.get("id")))
    files = out.files
    if read is not None:
        read[f"{rel}/inventory.json"] = data

    def inventory_file(version: str) -> None:
        name = f"{version}inventory.json"
        source = _in_object(name, head)
        sidecar = _hashed_entry(f"{prefix}{source}.sha512", f"{rel}/{name}.sha512", at)
        digest = None
        if algorithm == "sha512" and sidecar.inline is not None:
            with contextlib.suppress(IndexError):
                digest = sidecar.inline.split()[0].lower()
        files.append(Entry(f"{rel}/{name}", digest or _sha512_file(f"{prefix}{source}", at)))
        files.append(sidecar)

    found = None
    if namaste is not None:
        with contextlib.suppress(FileNotFoundError):
            found = _hashed_entry(f"{prefix}{namaste}", f"{rel}/{namaste}", at)
    if found is None:
        namaste = next((e.name for e in os.scandir(obj) if e.name.startswith("0=ocfl_object_")), None)
        if namaste is not None:
            found = _hashed_entry(f"{prefix}{namaste}", f"{rel}/{namaste}", at)
    if found is not None:
        files.append(found)
    inventory_file("")
    for v in versions:
        inventory_file(f"{v}/")
    for digest, content_paths in manifest.items():
        for content in content_paths:
            d = digest.lower() if algorithm == "sha512" else _sha512_file(f"{prefix}{content}", at)
            files.append(Entry(f"{rel}/{content}", d))
    # An object is what its inventory says (plus extensions/, which Fedora never writes): walking
    # every object dir again would cost a syscall per file, the bulk of an unchanged upload.
    if os.path.isdir(f"{obj}/extensions"):
        for dirpath, _dirs, names in os.walk(f"{obj}/extensions"):
            sub = os.path.relpath(dirpath, obj)
            for name in names:
                files.append(_hashed_entry(f"{dirpath}/{name}", f"{rel}/{sub}/{name}"))
    return out


def _in_object(name: str, head: str | None) -> str:
    """Where a file of the object as of ``head`` is, relative to its directory: the root
    inventory and sidecar are ``v{head}``'s (a later commit replaced the root ones); every
    other file is where its name says."""
    if head is not None and name.startswith("inventory.json"):
        return f"{head}/{name}"
    return name


def _sha512_file(file: Path | str, dir_fd: int | None = None) -> str:
    h = hashlib.sha512()
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        while chunk := os.read(fd, frames.CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


# -- upload --------------------------------------------------------------------------------------
@dataclass
class TransferReport:
    id: str
    store: str
    objects: int = 0
    files: int = 0
    blobs_sent: int = 0
    blobs_reused: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    manifest_copied: bool = False  # the state was unchanged: the previous manifest's objects were reused whole
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


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


def store_lock(store: BackupStore, *, exclusive: bool) -> AbstractContextManager[None]:
    """The store's lock, if it has one (a directory store): uploads share it, deletes own it."""
    lock = getattr(store, "lock", None)
    return lock(exclusive=exclusive) if callable(lock) else contextlib.nullcontext()


def _upload(home: BackupHome, backup_id: str, store: BackupStore, jobs: int,
            progress: Progress | None, read_data: bool = False) -> TransferReport:
    import time

    from fcrctl.services.backup import reread

    started = time.monotonic()
    info = home.get(backup_id)
    root = home.path(backup_id) / TREE
    report = TransferReport(info.id, store.location)
    clean = getattr(store, "clean", None)
    if callable(clean):
        clean()
    has_state = (home.path(backup_id) / rootstate.STATE_FILE).exists()
    index_digest = _send_index(store, home.path(backup_id) / INDEX, report, info.extra.get(INDEX_KEY))
    if index_digest is not None:
        info.extra[INDEX_KEY] = index_digest
    header = {"format": FORMAT, "version": VERSION,
              "backup": {k: v for k, v in info.to_json().items() if k != EPOCH_KEY}}  # local to this home
    sent: set[str] = set()  # digests read and verified on their way into the store

    def check_reused() -> None:
        checked = reread.check_snapshot(home, info, read_data=read_data, sent=sent)
        report.bytes_read += checked.bytes_read

    if has_state and _copy_unchanged(store, info, header, report, check_reused):
        report.seconds = time.monotonic() - started
        return report
    lock = threading.Lock()  # the report's counters: big blobs are counted on the workers
    seen: set[str] = set()

    # Skip-cache: an object whose root inventory (its sha512) equals the one in the store's
    # previous manifest of this repository is unchanged (OCFL never modifies in place), so its
    # line is reused without reading the object or looking up its blobs.
    previous = _previous_objects(store, info)
    state = _recorded(home.path(backup_id))  # only now: the unchanged case needs just its digest
    recorded = state.objects if state is not None else {}
    sources = home.sources_of(info) if state is not None else None
    known_cache: list[set[str]] = []

    def known() -> set[str]:
        # one listing instead of a lookup per blob (a stat, or an S3 HEAD, each), and only if needed
        if not known_cache:
            found = {key.rsplit("/", 1)[-1] for key in store.list("blobs/")}
            found.update(packs.read_index(store))
            known_cache.append(found)
        return known_cache[0]

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
                if _sha512_file(file) == digest:  # the read came back short: not the whole file
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
        if digest in known():
            report.blobs_reused += 1
            return
        sent.add(digest)
        head = data if data is not None else _read_head(rel, packs.PACKED_MAX + 1, dir_fd)
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
        reused = _reuse(previous, root, found, hint)
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
            obj = _describe_object(root, obj_dir, found, hint.namaste if hint else None, dir_fd=at, read=read,
                                   head=head, inventory_bytes=inventory)
            cut = len(found) + 1
            for e in obj.files:
                if e.digest is not None and e.digest not in seen:
                    seen.add(e.digest)
                    name = _in_object(e.rel[cut:], head)
                    send(f"{obj_dir}/{name}", e.digest, obj.where, pool, at, name, read.get(e.rel))
        finally:
            os.close(at)
        return obj

    manifest = _ManifestWriter(header)
    # local stores are bound by CPU (hashing, compressing): more workers than cores only contend
    workers = min(jobs, os.cpu_count() or 1) if store.capabilities.local else jobs
    with BoundedPool[None](workers, workers * 4, name="fcrctl-upload") as pool:
        for found in (_walk_tree(root) if state is None else _walk_state(root, state)):
            obj = handle(found, pool)
            report.objects += 1 if obj.object_rel else 0
            report.files += len(obj.files)
            manifest.add(obj)
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
    report.seconds = time.monotonic() - started
    return report


class _ManifestWriter:
    """The manifest, compressed in 1 MB batches: a compressor call per line would stall this
    thread behind the workers for the GIL thousands of times."""

    BATCH = 1 << 20

    def __init__(self, header: dict[str, Any]) -> None:
        self._out = io.BytesIO()
        # the header is a frame of its own: an unchanged state's next upload copies the second
        # frame (the object lines) as stored, without recompressing it (_copy_unchanged)
        self._out.write(zstandard.ZstdCompressor(level=LEVEL).compress(_line(header)))
        self._writer = zstandard.ZstdCompressor(level=LEVEL).stream_writer(self._out, closefd=False)
        self._pending: list[bytes] = []
        self._size = 0
        self._lines = hashlib.sha256()  # over the object lines: lets a later upload copy them safely

    def add(self, obj: ObjectFiles) -> None:
        data = _line(obj.to_json())
        self._lines.update(data)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self.BATCH:
            self._drain()

    def _drain(self) -> None:
        self._writer.write(b"".join(self._pending))
        self._pending.clear()
        self._size = 0

    def finish(self, objects: int, files: int) -> bytes:
        self._pending.append(_line({"end": True, "objects": objects, "files": files,
                                    "linesSha256": self._lines.hexdigest()}))
        self._drain()
        self._writer.flush(zstandard.FLUSH_FRAME)
        return self._out.getvalue()


def _previous_objects(store: BackupStore, info: BackupInfo) -> dict[str, tuple[str, ObjectFiles]]:
    """Object dir -> (root inventory digest, its manifest line) from the newest complete
    manifest in ``store`` of the same repository; empty when there is none or it is damaged."""
    names = sorted((key.rsplit("/", 1)[-1] for key in store.list("manifests/")), reverse=True)
    for name in names:  # ids start with their UTC timestamp: newest first
        if not name.endswith(".jsonl.zst"):
            continue
        try:
            other, objects = read_manifest(store, name[: -len(".jsonl.zst")])
        except FcrctlError:
            continue
        if other.repository != info.repository or other.kind != info.kind:
            objects.close()
            continue
        out: dict[str, tuple[str, ObjectFiles]] = {}
        try:
            for obj in objects:
                if not obj.object_rel:
                    continue
                head = f"{obj.object_rel}/inventory.json"
                digest = next((e.digest for e in obj.files if e.rel == head), None)
                if digest:
                    out[obj.object_rel] = (digest, obj)
        except FcrctlError:
            continue  # a truncated or damaged manifest: try an older one
        except (KeyError, IndexError, TypeError, AttributeError):
            continue
        return out
    return {}


def _reuse(previous: dict[str, tuple[str, ObjectFiles]], root: Path, rel: str,
           recorded: rootstate.ObjectState | None) -> ObjectFiles | None:
    hit = previous.get(rel)
    if hit is None:
        return None
    if recorded is not None:
        return hit[1] if recorded.digest == hit[0] else None
    try:
        with open(f"{root}/{rel}/inventory.json.sha512", "rb") as fh:
            digest = fh.read(4096).split()[0].decode("ascii").lower()
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return hit[1] if digest == hit[0] else None


def _send_index(store: BackupStore, index: Path, report: TransferReport, recorded: object = None) -> str | None:
    """The snapshot's index copy as one more blob (restores load it instead of rebuilding).
    Its digest as the snapshot recorded it, if it did (a sent blob is still verified)."""
    if not index.exists():
        return None
    digest = recorded if isinstance(recorded, str) and len(recorded) == 128 else _sha512_file(index)
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


def _copy_unchanged(store: BackupStore, info: BackupInfo, header: dict[str, Any], report: TransferReport,
                    before_manifest: Callable[[], None] = lambda: None) -> bool:
    """When the newest complete manifest of this repository recorded the same state (its
    stateDigest), every object line is the same: the new manifest is the new header's frame
    followed by that manifest's second frame, copied compressed, reading no object and sending
    no blob. False when there is no such manifest (or it is of an older, one-frame layout)."""
    digest = info.extra.get("stateDigest")
    if not digest:
        return False
    for name in sorted((k.rsplit("/", 1)[-1] for k in store.list("manifests/")), reverse=True):
        if not name.endswith(".jsonl.zst") or name == manifest_key(info.id).rsplit("/", 1)[-1]:
            continue
        try:
            with store.get(f"manifests/{name}") as raw:
                data = raw.read()
            size = zstandard.get_frame_parameters(data).content_size
            if size == zstandard.CONTENTSIZE_UNKNOWN or size > HEADER_FRAME_MAX:
                continue  # not a header frame we wrote: a store's data never decides how much to inflate
            head = zstandard.ZstdDecompressor().decompressobj()
            other = BackupInfo.from_json(json.loads(head.decompress(data))["backup"])
            body = head.unused_data  # the object lines' frame, as stored
        except (FcrctlError, zstandard.ZstdError, ValueError, KeyError, TypeError, RecursionError):
            continue
        if other.repository != info.repository:
            continue
        if other.extra.get("stateDigest") != digest or not body:
            return False  # the newest one differs: per-object reuse does the rest
        end = _checked_end(body)
        if end is None:
            return False
        report.objects, report.files = int(end.get("objects", 0)), int(end.get("files", 0))
        report.manifest_copied = True
        if report.blobs_sent:
            _flush(store)  # the index blob durable before the manifest names it
        before_manifest()
        store.put(manifest_key(info.id), iter([zstandard.ZstdCompressor(level=LEVEL).compress(_line(header)), body]))
        _flush(store)
        return True
    return False


def _checked_end(body: bytes) -> dict[str, Any] | None:
    """The end line of a manifest's object-lines frame if every line still hashes to its
    ``linesSha256`` (only lines known to be those written for that state are copied: a
    damaged manifest falls back to per-object reuse, which re-checks every object)."""
    lines = hashlib.sha256()
    end: dict[str, Any] | None = None
    try:
        reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)))
        for line in reader:
            if line.startswith(b'{"end":'):
                end = json.loads(line)
            else:
                lines.update(line)
    except (zstandard.ZstdError, ValueError, RecursionError):
        return None
    if end is None or end.get("linesSha256") != lines.hexdigest():
        return None
    return end


def _flush(store: BackupStore) -> None:
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()


def _mismatch(where: str, file: Path) -> CorruptData:
    return CorruptData(f"{where}: {file.name} does not match its sha512 in the inventory; "
                       f"the local backup is damaged (run `fcrctl verify-backup --read-data`)", path=where)


def _line(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


# -- reading manifests --------------------------------------------------------------------------
def read_manifest(store: BackupStore, backup_id: str,
                  checked: list[bytes] | None = None) -> tuple[BackupInfo, Iterator[ObjectFiles]]:
    """The backup's metadata and a stream of its objects, each line checked as it comes
    (validate.py); CorruptData if truncated, damaged, or its lines do not hash to the
    ``linesSha256`` its end line gives (raised at the end: readers that write call
    :func:`check_manifest` first). ``checked``: what check_manifest returned; each line must
    then be the one it checked (a store cannot change the manifest between the two reads),
    and is not checked again."""
    check_id(backup_id)
    try:
        raw = store.get(manifest_key(backup_id))
    except NotFound:
        raise NotFound(f"no backup {backup_id} in store {store.location} (its manifest is missing): "
                       f"see `fcrctl list-backups --from {store.location}`") from None
    lines = _lines(raw, backup_id)
    try:
        head = json.loads(next(lines))
    except StopIteration:
        raw.close()
        raise CorruptData(f"manifest of {backup_id} is empty: the upload did not finish; upload it again") from None
    except (ValueError, RecursionError) as e:  # RecursionError: a line nested beyond reason
        raw.close()
        raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raw.close()
        raise CorruptData(f"manifest of {backup_id} is not an fcrctl backup manifest")
    if head.get("version") != VERSION:
        raw.close()
        raise Unsupported(f"backup {backup_id} has manifest version {head.get('version')}; this fcrctl reads "
                          f"version {VERSION}: use the fcrctl release that wrote it")
    if not isinstance(head.get("backup"), dict):
        raw.close()
        raise validate.damaged(backup_id, "its header has no backup metadata")
    try:
        validate.header(head["backup"], backup_id)
    except CorruptData:
        raw.close()
        raise
    info = BackupInfo.from_json(head["backup"])

    def objects() -> Iterator[ObjectFiles]:
        hashed = hashlib.sha256()
        n = 0
        try:
            for line in lines:
                try:
                    doc = json.loads(line)
                except (ValueError, RecursionError) as e:
                    raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e
                if isinstance(doc, dict) and doc.get("end"):
                    if doc.get("linesSha256") != hashed.hexdigest():
                        raise validate.damaged(backup_id, "its lines do not match their linesSha256")
                    return
                hashed.update(line)
                if checked is None:
                    obj = ObjectFiles.from_json(doc, backup_id)
                    obj.line_id = hashlib.sha256(line).digest()[:_LINE_ID]
                    yield obj
                    continue
                if n >= len(checked) or hashlib.sha256(line).digest()[:_LINE_ID] != checked[n]:
                    raise validate.damaged(backup_id, "it changed while it was read")
                n += 1
                yield ObjectFiles._checked_before(doc)
            raise CorruptData(f"manifest of {backup_id} is truncated: upload the backup again")
        finally:
            raw.close()

    return info, objects()


_LINE_ID = 12  # bytes of a line's sha256 kept between the two reads: 12 bytes an object


def check_manifest(store: BackupStore, backup_id: str) -> list[bytes]:
    """Read the whole manifest once, checking every line, its object placement and its
    ``linesSha256``, before anything is written from it. Returns what identifies each line,
    for the second, streaming read that writes (``read_manifest(..., checked=)``)."""
    info, objects = read_manifest(store, backup_id)
    layout = validate.LayoutCheck()
    lines: list[bytes] = []
    for obj in objects:
        lines.append(obj.line_id)
        if obj.object_rel:
            layout.object(obj.object_rel, obj.object_id)
        else:
            layout.root((e.rel, e.digest, e.inline) for e in obj.files)
    layout.finish(backup_id)
    return lines


def _lines(raw: BinaryIO, backup_id: str) -> Iterator[bytes]:
    reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    try:
        for line in reader:
            if not line.endswith(b"\n"):
                raise CorruptData(f"manifest of {backup_id} is truncated: upload the backup again")
            yield line
    except zstandard.ZstdError as e:
        raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e


def list_store(store: BackupStore) -> list[BackupInfo]:
    out = []
    for key in store.list("manifests/"):
        name = key.rsplit("/", 1)[-1]
        if not name.endswith(".jsonl.zst"):
            continue
        backup_id = name[: -len(".jsonl.zst")]
        try:
            info, objects = read_manifest(store, backup_id)
            objects.close()
        except (FcrctlError, StopIteration):
            continue
        out.append(info)
    out.sort(key=lambda b: (b.datetime, b.id))
    return out


# -- download ---------------------------------------------------------------------------------------
def blob_exists(store: BackupStore, digest: str) -> bool:
    packed = packs.locate(store, digest)
    return store.exists(packs.pack_key(packed.pack) if packed is not None else blob_key(digest))


def read_blob(store: BackupStore, digest: str, sink: BinaryIO | _FdWriter | Discard, where: str) -> int:
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


class _FdWriter:
    """A file descriptor as a sink (no buffered file object per restored file)."""

    __slots__ = ("fd", "kept")

    def __init__(self, fd: int, kept: list[bytes] | None = None) -> None:
        self.fd = fd
        self.kept = kept  # a copy of what is written, when the caller reads it back (inventories)

    def write(self, data: bytes | memoryview) -> int:
        if self.kept is not None:
            self.kept.append(bytes(data))
        done = os.write(self.fd, data)
        while done < len(data):  # a short write (rare on a local disk): the rest
            done += os.write(self.fd, memoryview(data)[done:])
        return done


class Discard:
    """A sink that keeps nothing (verification reads blobs only to hash them)."""

    def write(self, data: bytes) -> int:
        return len(data)


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
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    made: set[str] = set()  # directories under the root, each created once
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW

    def fetch(obj: ObjectFiles) -> ObjectFiles:
        try:
            return _fetch(obj)
        except OSError as e:  # a file where the manifest also put a directory, or the like
            raise CorruptData(f"{obj.where}: cannot write {e.filename or 'a file'} of the backup ({e.strerror}): "
                              f"the manifest of {backup_id} is damaged; nothing was restored",
                              path=obj.where) from e

    def _fetch(obj: ObjectFiles) -> ObjectFiles:
        """One object's files, created relative to its directory: one path walk per object,
        not per file."""
        rel = obj.object_rel
        if rel:
            _mkdirs_at(root_fd, rel, made)
            at = os.open(rel, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=root_fd)
        else:
            at = root_fd
        cut = len(rel) + 1 if rel else 0
        subdirs: set[str] = set()
        inventory: list[bytes] = []  # the root inventory as written, for the check below
        try:
            for e in obj.files:
                name = e.rel[cut:]
                parent = name.rpartition("/")[0]
                if parent and parent not in subdirs:
                    _mkdirs_at(at, parent, subdirs)
                fd = os.open(name, flags, 0o666, dir_fd=at)
                try:
                    if e.inline is not None:
                        n = _FdWriter(fd).write(e.inline.encode("utf-8"))
                    else:
                        assert e.digest is not None
                        sink = _FdWriter(fd, inventory if name == "inventory.json" else None)
                        n = read_blob(store, e.digest, sink, obj.where)
                        if n > packs.PACKED_MAX:
                            tree.start_writeback(fd)
                finally:
                    os.close(fd)
                if progress is not None:
                    progress(n)
            if rel:
                validate.check_object(at, obj.where, rel, [(e.rel[cut:], e.digest, e.inline) for e in obj.files],
                                      backup_id, b"".join(inventory) if inventory else None)
        finally:
            if at != root_fd:
                os.close(at)
        return obj

    def fetch_all(batch: list[ObjectFiles]) -> list[ObjectFiles]:
        return [fetch(obj) for obj in batch]

    def done(batch: list[ObjectFiles]) -> None:
        for obj in batch:
            report.objects += 1 if obj.object_rel else 0
            report.files += len(obj.files)

    # creating files is the kernel's work (and the GIL's, between the calls): one thread per
    # core does it fastest, more only queue on the same locks
    workers = min(jobs, os.cpu_count() or 1) if store.capabilities.local else jobs
    try:
        with BoundedPool[list[ObjectFiles]](workers, workers * 4, name="fcrctl-download", on_done=done) as pool:
            batch: list[ObjectFiles] = []
            size = 0
            for obj in objects:  # ~64 files a task: a task per small object cost more in hand-offs
                batch.append(obj)
                size += len(obj.files)
                if size >= 64:
                    pool.submit(fetch_all, batch)
                    batch, size = [], 0
            if batch:
                pool.submit(fetch_all, batch)
    finally:
        os.close(root_fd)
    index_digest = info.extra.pop(INDEX_KEY, None)
    info.extra.pop(EPOCH_KEY, None)  # the downloaded tree is whole: nothing is read from a live root
    if index_digest:
        with open(staged / INDEX, "wb") as fh:
            read_blob(store, str(index_digest), fh, "index")
    report.seconds = time.monotonic() - started
    return info, report


def _mkdirs_at(at: int, path: str, made: set[str]) -> None:
    """``path`` and its missing parents, relative to directory ``at``; ``made`` remembers them."""
    if path in made:
        return
    parent = path.rpartition("/")[0]
    if parent:
        _mkdirs_at(at, parent, made)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, dir_fd=at)
    made.add(path)


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


def delete_from_store(store: BackupStore, *backup_ids: str, max_unused: float | None = None) -> list[BackupInfo]:
    """Remove backups' manifests, then every blob no remaining manifest names, repacking packs
    more than ``max_unused`` percent unused (see space.py), waiting for uploads running
    meanwhile: they may reuse blobs only a deleted manifest named. Several at once (a prune)
    read the remaining manifests once, not once per backup."""
    with store_lock(store, exclusive=True):
        return _delete_from_store(store, backup_ids, max_unused)


def _delete_from_store(store: BackupStore, backup_ids: tuple[str, ...], max_unused: float | None) -> list[BackupInfo]:
    from fcrctl.services.backup import space

    deleted = []
    for backup_id in backup_ids:
        info, objects = read_manifest(store, backup_id)
        objects.close()
        deleted.append(info)
    for backup_id in backup_ids:
        store.delete(manifest_key(backup_id))
    space.collect(store, space.referenced(store), space.DEFAULT_MAX_UNUSED if max_unused is None else max_unused)
    return deleted


__all__ = ["META", "upload", "download", "read_manifest", "list_store", "read_blob", "delete_from_store"]
