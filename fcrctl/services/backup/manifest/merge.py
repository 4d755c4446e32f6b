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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.manifest import chain, known
from fcrctl.services.backup.manifest.format import ObjectFiles, TransferReport, line, manifest_key
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
    link: chain.Link | None = None  # the previous manifest's header
    # the changed objects as the previous manifest's state holds them: the blobs their lines there
    # name are in the store (an upload writes a manifest only once its blobs are durable)
    was: dict[str, rootstate.ObjectState] = field(default_factory=dict)

    def shape(self) -> str:
        """What the new manifest is: ``delta`` (on the previous manifest), ``rebase`` (a delta on
        the previous chain's full manifest, the chain's deltas folded in: its depth is bounded),
        or ``full`` (the chain's changes outgrew a fraction of its full manifest, or the
        previous manifest cannot be a base)."""
        link = self.link
        if link is None or not link.chained:
            return "full"
        full = link.chain_field("full") or int(link.head.get("lines", {}).get("count", 0))
        grown = link.chain_field("changed") + len(self.changed) + len(self.removed) + 1  # + the root's line
        if grown > max(full // DELTA_FRACTION, DELTA_MIN):
            return "full"
        return "rebase" if link.chain_field("depth") + 1 > DEPTH_MAX else "delta"

    def checked_shape(self, store: BackupStore, home: Path | None = None) -> str:
        """:meth:`shape`, the previous manifest's own lines checked first when a delta is to
        name it (a rebase reads the deltas it folds): a damaged one is merged with (which
        fails, and every object is described) rather than built on. Not read whole when
        ``home`` records it sound (known.py)."""
        shape = self.shape()
        if shape == "delta" and self.link is not None and not known.sound(store, home, self.link):
            return "full"
        return shape


DEPTH_MAX = 8  # a restore merges at most this many deltas onto a full manifest
DELTA_FRACTION = 8  # a full manifest again when a chain's deltas hold more lines than an eighth of it
DELTA_MIN = 1024  # (but not for fewer lines: a small repository's chain would be full every time)


def plan(home: BackupHome, info: BackupInfo, store: BackupStore) -> Plan | None:
    """What changed since the store's newest manifest of this repository, when this home still holds
    the snapshot it was uploaded from; None when there is none to merge with."""
    where = home.path(info.id)
    if not (where / rootstate.STATE_FILE).exists():
        return None
    names = sorted((k.rsplit("/", 1)[-1] for k in store.list("manifests/")), reverse=True)
    newest: tuple[str, BackupInfo, chain.Link] | None = None
    for name in names:  # ids start with their UTC timestamp (to the second): newest first
        if newest is not None and not name.startswith(newest[0]):
            break  # of the same second, the latest datetime: ids after it are random
        if not name.endswith(".jsonl.zst") or name == manifest_key(info.id).rsplit("/", 1)[-1]:
            continue
        try:
            link = chain.read_head(store, name[: -len(".jsonl.zst")])
        except FcrctlError:
            continue
        other = BackupInfo.from_json(link.head["backup"])
        if other.repository != info.repository or other.kind != info.kind:
            continue
        if newest is None or (other.datetime, other.id) > (newest[1].datetime, newest[1].id):
            newest = (name.split("_", 1)[0], other, link)
    if newest is None:
        return None
    found = _plan(home, info, newest[1])
    if found is not None:
        found.link = newest[2]
    return found


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
        was: dict[str, rootstate.ObjectState] = {}
        changed, removed = changes(old, new, was)
    except (CorruptData, OSError):
        return None
    finally:
        old.close()
        new.close()
    return Plan(other.id, {o.rel: o for o in changed}, set(removed), was=was)


def _as_found(state: State) -> bool:
    with open(state.file, encoding="utf-8") as fh:
        header = json.loads(fh.readline())
    return bool(header.get("asFound")) or "base" not in header


def root_files(where: Path) -> list[str]:
    """The storage root's own files a snapshot recorded (its state's header)."""
    with open(where / rootstate.STATE_FILE, encoding="utf-8") as fh:
        return [str(rel) for rel in json.loads(fh.readline())["root"]]


def write(store: BackupStore, found: Plan, manifest: ManifestWriter, report: TransferReport,
          describe: Callable[[str], ObjectFiles], top: ObjectFiles, shape: str = "full") -> dict[str, Any]:
    """Fill ``manifest``: the previous lines (none for a ``delta`` on the previous manifest; the
    chain's deltas folded for a ``rebase``; the whole resolved chain for ``full``), the changed
    objects described (and the removed ones as ``gone`` lines unless ``full``), ``top`` (the
    root's files) last. Returns the new header's chain fields. NoMerge if the previous manifest
    is not what it must be (nothing is stored yet)."""
    todo = sorted(set(found.changed) | (set() if shape == "full" else found.removed))
    i = 0
    dropped_files = 0
    copied_files = 0
    last = ""
    ends: list[dict[str, Any]] = []
    links: list[chain.Link] = []
    if shape != "delta":
        try:
            links = chain.resolve(store, found.previous)
        except FcrctlError as e:
            raise NoMerge(str(e)) from e
    source = _nothing() if shape == "delta" else chain.merged(
        store, links[:-1] if shape == "rebase" else links, keep_gone=shape == "rebase", ends=ends)
    counted = shape == "full" and len(links) == 1  # the copied lines' files: the end line's total less the dropped

    def emit(rel: str) -> None:
        if rel in found.changed:
            obj = describe(rel)
            report.objects += 1
            report.files += len(obj.files)
            manifest.add(obj)
        else:
            manifest.add_line(line({"o": rel, "gone": True}))

    try:
        for rel, gone, raw in source:
            if not rel:  # the root's own files: written anew, last
                dropped_files += _files(raw) if counted else 0
                continue
            if rel <= last:
                raise NoMerge(f"manifest of {found.previous} is not in directory order")
            last = rel
            while i < len(todo) and todo[i] < rel:
                emit(todo[i])
                i += 1
            if rel in found.changed or rel in found.removed:
                dropped_files += _files(raw) if counted else 0
                if i < len(todo) and todo[i] == rel:
                    emit(rel)
                    i += 1
                continue
            if not gone:
                report.objects += 1
                copied_files += 0 if counted else _files(raw)
            manifest.add_line(raw)
    except (CorruptData, ValueError, RecursionError) as e:
        raise NoMerge(str(e)) from e
    finally:
        source.close()
    for rel in todo[i:]:
        emit(rel)
    report.files += copied_files
    report.files += len(top.files)
    manifest.add(top)
    if counted:
        report.files += int(ends[0].get("files", 0)) - dropped_files if ends else 0
    if shape == "full":
        return {"chain": {"depth": 0, "changed": 0, "full": manifest.count}}
    base = found.link if shape == "delta" else links[-1]
    assert base is not None
    below = found.link.chain_field("changed") if shape == "delta" and found.link is not None else 0
    report.base = base.id
    return {"base": {"id": base.id, "linesSha256": base.lines_sha256},
            "chain": {"depth": (base.chain_field("depth") + 1), "changed": below + manifest.count,
                      "full": base.chain_field("full") or int(base.head.get("lines", {}).get("count", 0))}}


def _nothing() -> Iterator[tuple[str, bool, bytes]]:
    yield from ()


def _files(line: bytes) -> int:
    try:
        return len(json.loads(line)["f"])
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise NoMerge(str(e)) from e
