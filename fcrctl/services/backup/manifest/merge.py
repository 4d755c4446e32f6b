"""A changed upload's manifest as the previous one's lines with only the changed objects' replaced

An upload from a recorded state writes one line per object in directory order, then the storage
root's own files (describe.walk_state). When the store's newest manifest of this repository was
uploaded from a snapshot this home still holds, the two snapshots' states say which objects
changed (reread_states.changes: the two deltas on one base). The new manifest is then the old
one's lines copied as bytes (the rel read off each line's start; no line parsed, validated or
serialised again) with the changed objects described from their inventories and sent as a full
upload would, the removed ones left out and the root's line written anew. Copied lines are
hashed against the old manifest's ``linesSha256`` before the new manifest is written (else the
upload falls back to describing every object), as copy_unchanged does for a whole unchanged one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.manifest.format import ObjectFiles, TransferReport, manifest_key
from fcrctl.services.backup.manifest.reading import _lines, read_manifest
from fcrctl.services.backup.manifest.writer import ManifestWriter
from fcrctl.services.backup.reread_states import State, changes
from fcrctl.services.backup.snapshot import BackupHome, BackupInfo
from fcrctl.services.backup.stores.base import BackupStore


class NoMerge(Exception):  # noqa: N818 - a signal to describe every object instead
    """The previous manifest cannot be merged with (damaged, or not in state order)."""


@dataclass
class Plan:
    previous: str  # the id of the store's previous manifest
    changed: dict[str, rootstate.ObjectState]  # objects to describe (and send), by directory
    removed: set[str]


def plan(home: BackupHome, info: BackupInfo, store: BackupStore) -> Plan | None:
    """What changed since the store's newest manifest of this repository, when this home still holds
    the snapshot it was uploaded from; None when there is none to merge with."""
    where = home.path(info.id)
    if not (where / rootstate.STATE_FILE).exists():
        return None
    names = sorted((k.rsplit("/", 1)[-1] for k in store.list("manifests/")), reverse=True)
    for name in names:  # ids start with their UTC timestamp: newest first
        if not name.endswith(".jsonl.zst") or name == manifest_key(info.id).rsplit("/", 1)[-1]:
            continue
        try:
            other, objects = read_manifest(store, name[: -len(".jsonl.zst")])
            objects.close()
        except FcrctlError:
            continue
        if other.repository != info.repository or other.kind != info.kind:
            continue
        return _plan(home, info, other)
    return None


def _plan(home: BackupHome, info: BackupInfo, other: BackupInfo) -> Plan | None:
    there = home.path(other.id)
    try:
        local = home.get(other.id)
    except FcrctlError:
        return None  # pruned here, or uploaded from elsewhere
    digest = local.extra.get("stateDigest")
    if not digest or digest != other.extra.get("stateDigest") or local.epoch is None:
        return None
    try:
        old = State(there / rootstate.STATE_FILE, there / rootstate.BASE_FILE)
    except CorruptData:
        return None
    here = home.path(info.id)
    try:
        new = State(here / rootstate.STATE_FILE, here / rootstate.BASE_FILE)
    except CorruptData:
        old.close()
        return None
    try:
        if _as_found(old) or _as_found(new):
            return None  # objects copied as found: their lines say nothing of their files
        changed, removed = changes(old, new)
    except (CorruptData, OSError):
        return None
    finally:
        old.close()
        new.close()
    return Plan(other.id, {o.rel: o for o in changed}, set(removed))


def _as_found(state: State) -> bool:
    with open(state.file, encoding="utf-8") as fh:
        header = json.loads(fh.readline())
    return bool(header.get("asFound")) or "base" not in header


def root_files(where: Path) -> list[str]:
    """The storage root's own files a snapshot recorded (its state's header)."""
    with open(where / rootstate.STATE_FILE, encoding="utf-8") as fh:
        return [str(rel) for rel in json.loads(fh.readline())["root"]]


def _rel(line: bytes) -> str:
    """The object directory a manifest line starts with (as line() writes it), without parsing it."""
    if line.startswith(b'{"o":"'):
        end = line.find(b'"', 6)
        if end > 0 and b"\\" not in line[6:end]:
            return line[6:end].decode("utf-8")
    try:
        return str(json.loads(line)["o"])
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise NoMerge(str(e)) from e


def write(store: BackupStore, found: Plan, manifest: ManifestWriter, report: TransferReport,
          describe: Callable[[str], ObjectFiles], top: ObjectFiles) -> None:
    """Fill ``manifest``: the previous lines, the changed objects described, ``top`` (the root's
    files) last. NoMerge if the previous manifest is not what it must be (nothing is stored yet)."""
    import hashlib

    todo = sorted(found.changed)
    i = 0
    hashed = hashlib.sha256()
    dropped_files = 0
    last = ""
    end: dict | None = None

    def emit(obj: ObjectFiles) -> None:
        report.objects += 1 if obj.object_rel else 0
        report.files += len(obj.files)
        manifest.add(obj)

    raw = store.get(manifest_key(found.previous))
    try:
        lines = _lines(raw, found.previous)
        next(lines, None)  # its header
        for line in lines:
            if line.startswith(b'{"end":'):
                end = json.loads(line)
                break
            hashed.update(line)
            rel = _rel(line)
            if not rel:  # the root's own files: written anew, last
                dropped_files += _files(line)
                continue
            if rel <= last:
                raise NoMerge(f"manifest of {found.previous} is not in directory order")
            last = rel
            while i < len(todo) and todo[i] < rel:
                emit(describe(todo[i]))
                i += 1
            if rel in found.changed or rel in found.removed:
                dropped_files += _files(line)
                if i < len(todo) and todo[i] == rel:
                    emit(describe(rel))
                    i += 1
                continue
            report.objects += 1
            manifest.add_line(line)
    except (CorruptData, ValueError, RecursionError) as e:
        raise NoMerge(str(e)) from e
    finally:
        raw.close()
    if end is None or end.get("linesSha256") != hashed.hexdigest():
        raise NoMerge(f"manifest of {found.previous} does not match its linesSha256")
    for rel in todo[i:]:
        emit(describe(rel))
    emit(top)
    # the copied lines' files: the previous total less the lines left out (counted as read)
    report.files += int(end.get("files", 0)) - dropped_files


def _files(line: bytes) -> int:
    try:
        return len(json.loads(line)["f"])
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise NoMerge(str(e)) from e
