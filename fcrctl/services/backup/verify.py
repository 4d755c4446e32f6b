"""verify-backup: structure and inventories of a snapshot (or a stored backup), and with
``read_data`` every content file re-hashed against its sha512. All problems are collected."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from fcrctl.errors import CorruptData, FcrctlError, NotFound
from fcrctl.repository.base import Problem
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.manifest.downloads import _run_entries, blob_exists, read_blob
from fcrctl.services.backup.manifest.fds import Discard
from fcrctl.services.backup.manifest.format import Entry, TransferReport
from fcrctl.services.backup.manifest.reading import check_manifest
from fcrctl.services.backup.manifest.reading import read_manifest as _read_manifest
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
    else:
        report.problems.extend(_check_recorded(home, info, read_data, on_object))
    # the snapshot recorded its size: a second walk with a stat per file costs as much as hashing
    files, size = (info.files, info.bytes) if info.files else tree.tree_size(root)
    report.files = files
    report.bytes = size if read_data else 0
    report.seconds = time.monotonic() - started
    return report


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
            problems.append(Problem(rel, f"object is gone: no copy of its recorded version {o.head} is left "
                                         f"(inventory sha512 {o.digest[:16]}…)"))
            continue
        views.append((found[0], rel, o.head))
    problems.extend(check_object_views(views, read_data=read_data, on_object=on_object, servable=False))
    return problems


def verify_store(store: BackupStore, backup_id: str, *, read_data: bool = False, jobs: int = 4,
                 progress: Callable[[int], None] | None = None) -> VerifyReport:
    started = time.monotonic()
    info, objects = _read_manifest(store, backup_id)
    report = VerifyReport(info.id, store.location, read_data)
    lock = threading.Lock()
    seen: set[str] = set()

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
            elif not blob_exists(store, e.digest):
                raise NotFound(f"blob of {e.rel} is missing")
        except FcrctlError as err:
            with lock:
                report.problems.append(Problem(where, f"{e.rel}: {err.message.removeprefix(where + ': ')}"))

    counts = TransferReport(info.id, store.location)
    try:
        check_manifest(store, backup_id)  # the placement of its objects, and its linesSha256
        _run_entries(objects, check, jobs, counts)
    except FcrctlError as err:  # a damaged manifest: report it with the rest
        report.problems.append(Problem("manifest", err.message))
    finally:
        objects.close()
    report.objects, report.files = counts.objects, counts.files
    try:
        space = measure(store)
        report.unreferenced_blobs, report.unreferenced_bytes = space.unreferenced_blobs, space.unreferenced_bytes
    except FcrctlError:  # another backup's manifest is damaged: its own verify says so, not this one's
        pass
    report.seconds = time.monotonic() - started
    return report
