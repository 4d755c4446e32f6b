"""verify-backup: structure and inventories of a snapshot (or a stored backup), and with
``read_data`` every content file re-hashed against its sha512. All problems are collected."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fcrctl.errors import CorruptData
from fcrctl.repository.base import Problem
from fcrctl.services.backup import rootstate, verified
from fcrctl.services.backup.reread_states import State
from fcrctl.services.backup.snapshot import TREE, BackupHome, BackupInfo


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
