"""Reading manifests from a store: streamed and checked line by line; a store's backups listed"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from fcrctl.errors import CorruptData, FcrctlError, NotFound, Unsupported
from fcrctl.services.backup import validate
from fcrctl.services.backup.manifest.format import FORMAT, VERSION, ObjectFiles, manifest_key
from fcrctl.services.backup.snapshot import (
    BackupInfo,
    check_id,
)
from fcrctl.services.backup.stores.base import BackupStore


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
