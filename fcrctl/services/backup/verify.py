"""verify-backup: structure and inventories of a snapshot (or a stored backup), and with
``read_data`` every content file re-hashed against its sha512. All problems are collected."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from fcrctl.errors import CorruptData, FcrctlError, NotFound
from fcrctl.repository.base import Problem
from fcrctl.services.backup import packs, rootstate, verified
from fcrctl.services.backup.manifest.downloads import _run_entries, blob_exists, read_blob
from fcrctl.services.backup.manifest.fds import Discard
from fcrctl.services.backup.manifest.format import Entry, TransferReport
from fcrctl.services.backup.manifest.reading import check_manifest
from fcrctl.services.backup.manifest.reading import read_manifest as _read_manifest
from fcrctl.services.backup.reread_states import State
from fcrctl.services.backup.snapshot import TREE, BackupHome, BackupInfo
from fcrctl.services.backup.space import measure
from fcrctl.services.backup.stores.base import BackupStore


@dataclass
class VerifyReport:
    id: str
    where: str
    read_data: bool
    problems: list[Problem] = field(default_factory=list)
    objects: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    unreferenced_blobs: int | None = None  # a store's: stored, named by no backup (prune frees them)
    unreferenced_bytes: int | None = None
    checked: int | None = None  # objects checked, when only those changed since the last verify were (verified.py)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "where": self.where, "readData": self.read_data, "ok": self.ok,
                "objects": self.objects, "files": self.files, "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "problems": [p.to_json() for p in self.problems],
                **({"checkedObjects": self.checked} if self.checked is not None else {}),
                **({"unreferencedBlobs": self.unreferenced_blobs, "unreferencedBytes": self.unreferenced_bytes}
                   if self.unreferenced_bytes is not None else {})}


def verify_local(home: BackupHome, backup_id: str, *, read_data: bool = False,
                 progress: Callable[[], None] | None = None) -> VerifyReport:
    from fcrctl.repository.local.check import check_storage_root
    from fcrctl.services.backup import tree

    started = time.monotonic()
    info = home.get(backup_id)
    root = home.path(backup_id) / TREE
    report = VerifyReport(info.id, str(home.path(backup_id)), read_data)
    if not root.is_dir():
        report.problems.append(Problem("storage root", f"{TREE}/ is missing"))
        return report

    def on_object() -> None:
        report.objects += 1
        if progress is not None:
            progress()

    if info.epoch is None:  # the snapshot holds its whole tree
        report.problems.extend(check_storage_root(root, None, read_data=read_data, on_object=on_object,
                                                  servable=False))
    elif read_data or not _check_changed(home, info, report):
        report.problems.extend(_check_recorded(home, info, read_data, on_object))
        _remember(home, info, report)
    # the snapshot recorded its size: a second walk with a stat per file costs as much as hashing
    files, size = (info.files, info.bytes) if info.files else tree.tree_size(root)
    report.files = files
    report.bytes = size if read_data else 0
    report.seconds = time.monotonic() - started
    return report


def _generations(home: BackupHome) -> list[str]:
    return [str(n) for n in home.retention.generations()]


def _remember(home: BackupHome, info: BackupInfo, report: VerifyReport, cursor: str = "") -> None:
    """After a verify of every object: its state is what the next one compares with (verified.py)."""
    if report.problems:
        verified.forget(home.root)
        return
    where = home.path(info.id)
    try:
        state = State(where / rootstate.STATE_FILE, where / rootstate.BASE_FILE)
    except CorruptData:
        return
    try:
        verified.save(home.root, state, _generations(home), cursor)
    except OSError:  # a record is an economy: without one the next verify checks everything
        verified.forget(home.root)
    finally:
        state.close()


def _check_changed(home: BackupHome, info: BackupInfo, report: VerifyReport) -> bool:
    """Check only the objects changed since the last snapshot verified sound, their parents, and
    a sweep of the rest (verified.py). False when there is no usable record: check everything."""
    where = home.path(info.id)
    generations = _generations(home)
    record = verified.load(home.root, generations)
    if record is None:
        return False
    try:
        new = State(where / rootstate.STATE_FILE, where / rootstate.BASE_FILE)
    except CorruptData:
        record.close()
        return False
    try:
        changed = verified.changed_since(record, new)
        swept, cursor = verified.sweep(new, record.cursor, {o.rel for o in changed})
        lookup = rootstate.DeltaState.open(where)
        try:
            problems, checked = _check_objects(home.sources_of(info), [*changed, *swept], lookup)
        finally:
            lookup.close()
        report.problems.extend(problems)
        report.checked = checked
        report.objects = verified.count(new)
        if report.problems:
            verified.forget(home.root)
        else:
            verified.save(home.root, new, generations, cursor)
        return True
    except (CorruptData, OSError, sqlite3.Error):
        return False
    finally:
        new.close()
        record.close()


def _check_objects(sources: rootstate.Sources, objects: list[rootstate.ObjectState],
                   lookup: rootstate.DeltaState) -> tuple[list[Problem], int]:
    """Some objects of a state checked as :func:`_check_recorded` checks all of them, and the
    objects holding their parents, so each parent's existence is checked as a whole walk would."""
    from fcrctl.repository.local.check_object import Resource, path_of

    resources: dict[str, Resource] = {}
    problems: list[Problem] = []
    done: set[str] = set()

    def check(batch: list[rootstate.ObjectState]) -> None:
        for o in batch:
            done.add(o.rel)
            found = sources.locate(o)
            if found is None:
                problems.append(_gone(o))
                continue
            problems.extend(_check_view(found[0], o.rel, o.head, resources))

    check(objects)
    mine = dict(resources)  # the parents' own parents were checked when they were
    holders: dict[str, rootstate.ObjectState] = {}
    for res in mine.values():
        if res.parent is None or res.deleted or res.parent in resources:
            continue
        holder = _holder(res.parent, lookup)
        if holder is not None and holder.rel not in done:
            holders[holder.rel] = holder
    check(list(holders.values()))
    for rid, res in sorted(mine.items()):
        if res.parent is None or res.deleted:
            continue
        parent = resources.get(res.parent)
        if parent is None:
            problems.append(Problem(path_of(rid), f"parent {path_of(res.parent)} does not exist"))
        elif parent.deleted:
            problems.append(Problem(path_of(rid), f"parent {path_of(res.parent)} is deleted but this resource is not"))
    return problems, len(done)


def _check_view(obj: str, rel: str, head: str | None, resources: dict) -> list[Problem]:
    """One object checked as of ``head`` (later versions are not part of the snapshot)."""
    from fcrctl.repository.local import ocfl
    from fcrctl.repository.local.check_object import check_object

    try:
        with os.scandir(obj) as it:
            entries = {e.name: e.is_dir() for e in it}
    except OSError:
        entries = {}
    if head is not None:
        last = ocfl.version_number(head)
        entries = {name: is_dir for name, is_dir in entries.items()
                   if not (is_dir and name[:1] == "v" and name[1:].isdigit() and int(name[1:]) > last)}
    return sorted(check_object(obj, rel, entries, resources, None, head, False), key=lambda p: (p.where, p.message))


def _holder(resource_id: str, lookup: rootstate.DeltaState) -> rootstate.ObjectState | None:
    """The recorded object holding a resource: its own, or that of the archival group above it."""
    from fcrctl import paths
    from fcrctl.repository.local import ocfl

    candidate = resource_id
    while candidate.startswith(paths.ROOT_ID):
        o = lookup.objects.get(ocfl.object_rel(candidate))
        if o is not None and o.id == candidate:
            return o
        if "/" not in candidate[len(paths.ROOT_ID):]:
            break
        candidate = candidate.rsplit("/", 1)[0]
    return None


def _gone(o: rootstate.ObjectState) -> Problem:
    return Problem(o.rel, f"object is gone: no copy of its recorded version {o.head} is left "
                          f"(inventory sha512 {o.digest[:16]}…)")


def _check_recorded(home: BackupHome, info: BackupInfo, read_data: bool,
                    on_object: Callable[[], None]) -> list[Problem]:
    """A snapshot that reads its objects where they are: each found (the live root or a
    retained generation holding its recorded head inventory) and checked as of that head."""
    from fcrctl.repository.local.check import check_object_views

    try:
        state = rootstate.RootState.load(home.path(info.id) / rootstate.STATE_FILE)
    except CorruptData as e:
        return [Problem("snapshot", e.message)]
    sources = home.sources_of(info)
    problems: list[Problem] = []
    views = []
    for rel in sorted(state.objects):
        o = state.objects[rel]
        found = sources.locate(o)
        if found is None:
            problems.append(_gone(o))
            continue
        views.append((found[0], rel, o.head))
    problems.extend(check_object_views(views, read_data=read_data, on_object=on_object, servable=False))
    return problems


def verify_store(store: BackupStore, backup_id: str, *, read_data: bool = False, jobs: int = 4,
                 progress: Callable[[int], None] | None = None, home: Path | None = None) -> VerifyReport:
    """A stored backup: its manifest chain checked and every blob it names looked up (read and
    re-hashed with ``read_data``). ``home``: the backups directory whose record of the last
    sound verify of this store (manifest/verified.py) lets this one check only what changed."""
    from fcrctl.services.backup.manifest import chain
    from fcrctl.services.backup.manifest import verified as store_record

    started = time.monotonic()
    report = VerifyReport(chain.read_head(store, backup_id).id, store.location, read_data)
    record = None if read_data else store_record.load(home, store.location)
    links: list[chain.Link] = []
    try:
        links = chain.resolve(store, backup_id)
    except FcrctlError as err:
        report.problems.append(Problem("manifest", err.message))
    if record is not None and links and all(link.chained for link in links) and \
            any(record["links"].get(link.id) == link.lines_sha256 for link in links):
        _verify_changed(store, backup_id, links, record, report)
    elif links:
        _verify_whole(store, backup_id, read_data, jobs, progress, report)
    if report.ok and links:
        store_record.save(home, store.location, {link.id: str(link.lines_sha256) for link in links if
                                                 link.lines_sha256}, record["sweep"] if record else ["", 0])
    elif home is not None:
        store_record.forget(home, store.location)
    report.seconds = time.monotonic() - started
    return report


def _blob_lookup(store: BackupStore) -> Callable[[str], bool]:
    lock = threading.Lock()
    present: list[set[str]] = []  # what the store holds, listed once (not a lookup per blob)

    def stored(digest: str) -> bool:
        with lock:
            if not present:
                packed = {k.rsplit("/", 1)[-1] for k in store.list("packs/")}
                present.append({k.rsplit("/", 1)[-1] for k in store.list("blobs/")})
                present[0].update(d for d, at in packs.read_index(store).items() if at.pack in packed)
        return digest in present[0] or blob_exists(store, digest)  # (or stored since the listing)

    return stored


def _verify_whole(store: BackupStore, backup_id: str, read_data: bool, jobs: int,
                  progress: Callable[[int], None] | None, report: VerifyReport) -> None:
    lock = threading.Lock()
    seen: set[str] = set()
    stored = _blob_lookup(store)

    def check(e: Entry, where: str) -> None:
        if e.digest is None:
            return
        with lock:
            if e.digest in seen:
                return
            seen.add(e.digest)
        try:
            if read_data:
                n = read_blob(store, e.digest, cast(BinaryIO, Discard()), where)
                with lock:
                    report.bytes += n
                if progress is not None:
                    progress(n)
            elif not stored(e.digest):
                raise NotFound(f"blob of {e.rel} is missing")
        except FcrctlError as err:
            with lock:
                report.problems.append(Problem(where, f"{e.rel}: {err.message.removeprefix(where + ': ')}"))

    counts = TransferReport(report.id, store.location)
    try:
        checked = check_manifest(store, backup_id)  # the placement of its objects, and its linesSha256
        _, objects = _read_manifest(store, backup_id, checked)  # the same lines, not validated twice
        try:
            if read_data:
                _run_entries(objects, check, jobs, counts)
            else:  # a set lookup a file: a worker task each would cost more than the check
                for obj in objects:
                    counts.objects += 1 if obj.object_rel else 0
                    counts.files += len(obj.files)
                    for e in obj.files:
                        check(e, obj.where)
        finally:
            objects.close()
    except FcrctlError as err:  # a damaged manifest: report it with the rest
        report.problems.append(Problem("manifest", err.message))
    report.objects, report.files = counts.objects, counts.files
    try:
        space = measure(store)
        report.unreferenced_blobs, report.unreferenced_bytes = space.unreferenced_blobs, space.unreferenced_bytes
    except FcrctlError:  # another backup's manifest is damaged: its own verify says so, not this one's
        pass


def _verify_changed(store: BackupStore, backup_id: str, links: list[Any], record: dict[str, Any],
                    report: VerifyReport) -> None:
    """Only what changed since the recorded sound verify: the links it did not check, whole; the
    ones it did, hashed (their bytes unchanged) and a sweep of their blobs (manifest/verified.py)."""
    import json

    from fcrctl.services.backup import validate
    from fcrctl.services.backup.manifest import chain
    from fcrctl.services.backup.manifest import verified as store_record
    from fcrctl.services.backup.manifest.format import ObjectFiles

    stored = _blob_lookup(store)
    seen: set[str] = set()
    layout = validate.LayoutCheck()
    checked = 0

    def check_line(line: bytes, link_id: str, place: bool) -> None:
        nonlocal checked
        try:
            obj = ObjectFiles.from_json(json.loads(line), backup_id)
        except (ValueError, RecursionError) as e:
            raise CorruptData(f"manifest of {link_id} is damaged ({e}): upload the backup again") from e
        if place:
            if obj.object_rel:
                layout.object(obj.object_rel, obj.object_id)
            else:
                layout.root((e.rel, e.digest, e.inline) for e in obj.files)
        checked += 1 if obj.object_rel else 0
        report.files += len(obj.files)
        for e in obj.files:
            if e.digest is not None and e.digest not in seen:
                seen.add(e.digest)
                if not stored(e.digest):
                    report.problems.append(Problem(obj.where, f"{e.rel}: blob of {e.rel} is missing"))

    known = [link for link in links if record["links"].get(link.id) == link.lines_sha256]
    fresh = [link for link in links if link not in known]
    try:
        for link in fresh:  # uploaded or folded since: every line
            for _rel, gone, line in chain.link_lines(store, link, ordered=True):
                if not gone:
                    check_line(line, link.id, True)
        layout.finish(backup_id)
        known.sort(key=lambda link: link.id)
        counts = [int(link.head["lines"].get("count", 0)) for link in known]
        total = sum(counts)
        at, line_no = record["sweep"]
        start = 0
        for link, n in zip(known, counts, strict=True):
            if link.id == at:
                start += min(line_no, n)
                break
            start += n
        else:
            start = 0
        window = min(store_record.SWEEP_LINES, total)
        offset = 0
        for link, n in zip(known, counts, strict=True):  # hashed whole; the sweep's lines checked
            for i, (_rel, gone, line) in enumerate(chain.link_lines(store, link, ordered=True)):
                if not gone and (offset + i - start) % total < window:
                    check_line(line, link.id, False)
            offset += n
        end = (start + window) % total if total else 0
        record["sweep"] = ["", 0]
        offset = 0
        for link, n in zip(known, counts, strict=True):
            if end < offset + n:
                record["sweep"] = [link.id, end - offset]
                break
            offset += n
    except FcrctlError as err:
        report.problems.append(Problem("manifest", err.message))
    report.objects = report.checked = checked
