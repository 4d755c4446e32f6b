"""Writing a manifest, and reusing a previous one's lines: per object, or whole for an unchanged state"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard

from fcrctl.errors import FcrctlError
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.manifest.format import (
    HEADER_FRAME_MAX,
    LEVEL,
    ObjectFiles,
    TransferReport,
    line,
    manifest_key,
)
from fcrctl.services.backup.manifest.reading import read_manifest
from fcrctl.services.backup.snapshot import (
    BackupInfo,
)
from fcrctl.services.backup.stores.base import BackupStore


class ManifestWriter:
    """The manifest, compressed in 1 MB batches: a compressor call per line would stall this
    thread behind the workers for the GIL thousands of times."""

    BATCH = 1 << 20

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = dict(header)  # written at the end, as a frame of its own: it carries the lines' sha256
        # the object lines are a frame of their own: an unchanged state's next upload copies it
        # as stored, without recompressing it (copy_unchanged)
        self._out = io.BytesIO()
        self._writer = zstandard.ZstdCompressor(level=LEVEL).stream_writer(self._out, closefd=False)
        self._pending: list[bytes] = []
        self._size = 0
        self._lines = hashlib.sha256()  # over the object lines: lets a later upload copy them safely
        self.count = 0  # lines written
        # each batch is a zstd frame of its own, so a reader can start at any of them (known.py):
        # (offset in the stored value, the place of its first line), set by finish
        self.frames: list[tuple[int, int]] = []
        self._drained = 0

    def add(self, obj: ObjectFiles) -> None:
        data = line(obj.to_json())
        self.count += 1
        self._lines.update(data)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self.BATCH:
            self._drain()

    def add_line(self, data: bytes) -> None:
        """A line as another manifest holds it (checked against that one's linesSha256: merge.py)."""
        self.count += 1
        self._lines.update(data)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self.BATCH:
            self._drain()

    def _drain(self) -> None:
        self.frames.append((self._out.tell(), self._drained))
        self._writer.write(b"".join(self._pending))
        self._writer.flush(zstandard.FLUSH_FRAME)
        self._drained += len(self._pending)
        self._pending.clear()
        self._size = 0

    def finish(self, objects: int, files: int) -> bytes:
        digest = self._lines.hexdigest()
        self._pending.append(line({"end": True, "objects": objects, "files": files, "linesSha256": digest}))
        self._drain()
        self.header["lines"] = {"sha256": digest, "count": self.count}
        head = zstandard.ZstdCompressor(level=LEVEL).compress(line(self.header))
        self.frames = [(len(head) + offset, first) for offset, first in self.frames]
        return head + self._out.getvalue()


def previous_objects(store: BackupStore, info: BackupInfo) -> dict[str, tuple[str, ObjectFiles]]:
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


def reuse(previous: dict[str, tuple[str, ObjectFiles]], root: Path, rel: str,
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


def copy_unchanged(store: BackupStore, info: BackupInfo, header: dict[str, Any], report: TransferReport,
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
            doc = json.loads(head.decompress(data))
            other = BackupInfo.from_json(doc["backup"])
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
        # the same lines on the same base (format 2: chain.py); "was" is the copied manifest's own past
        header = {**header, **{k: doc[k] for k in ("chain", "base") if k in doc and doc.get("version") == 2},
                  "lines": {"sha256": end["linesSha256"], "count": end["count"]}}
        report.base = header["base"]["id"] if "base" in header else None
        if report.blobs_sent:
            _flush(store)  # the index blob durable before the manifest names it
        before_manifest()
        store.put(manifest_key(info.id), iter([zstandard.ZstdCompressor(level=LEVEL).compress(line(header)), body]))
        _flush(store)
        return True
    return False


def _checked_end(body: bytes) -> dict[str, Any] | None:
    """The end line of a manifest's object-lines frame if every line still hashes to its
    ``linesSha256`` (only lines known to be those written for that state are copied: a
    damaged manifest falls back to per-object reuse, which re-checks every object)."""
    lines = hashlib.sha256()
    end: dict[str, Any] | None = None
    count = 0
    try:
        reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body),
                                                                              read_across_frames=True))
        for line in reader:
            if line.startswith(b'{"end":'):
                end = json.loads(line)
            else:
                lines.update(line)
                count += 1
    except (zstandard.ZstdError, ValueError, RecursionError):
        return None
    if not isinstance(end, dict) or end.get("linesSha256") != lines.hexdigest():
        return None
    return {**end, "count": count}


def _flush(store: BackupStore) -> None:
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()
