"""Backups of a remote server, and restores into one, by replaying resources over the
Repository protocol.

A crawl writes a fresh local repository (the local backend's own writer, so the result is a
valid Fedora 6 OCFL root) in a staging dir, then keeps its ``ocfl-root/`` as the snapshot:
list, verify, upload and restore treat it like any other. Containers are replayed in
depth-first order on the calling thread (parents exist before children); binaries stream on
``jobs`` threads. What a crawl keeps: every resource's model, user triples, binary content,
MIME type, filename and description. What it does not: version history and server-set dates
(each resource becomes one new version) -- the backup metadata says so (``kind: crawl``).
Fedora's transactions do not isolate reads from other clients' commits, so a crawl is
always marked ``potentiallyInconsistent`` (the CLI says so).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl import paths
from fcrctl.errors import CorruptData, FcrctlError, Gone, NotFound, PartialFailure
from fcrctl.repository.base import BASIC_CONTAINER, CONTAINER_MODELS, RdfPrefs, Repository, ResourceInfo, ResourceSpec
from fcrctl.services.backup import tree
from fcrctl.services.backup.snapshot import TREE, BackupHome, BackupInfo, make_id, unique_id
from fcrctl.services.pool import BoundedPool

USER_TRIPLES = RdfPrefs(containment=False, membership=False, server_managed=False)


@dataclass
class ReplayReport:
    resources: int = 0
    binaries: int = 0
    bytes: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, message)

    def to_json(self) -> dict[str, Any]:
        return {"resources": self.resources, "binaries": self.binaries, "bytes": self.bytes,
                "failures": [{"path": p, "message": m} for p, m in self.failures]}


def replay(src: Repository, dst: Repository, *, root: str = "/", jobs: int = 4,
           progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Copy the subtree ``root`` of ``src`` into ``dst`` (same paths), leniently.

    A resource that fails is reported (and its subtree skipped), the rest goes on."""
    report = ReplayReport()
    lock = threading.Lock()
    failed: list[str] = []

    def fail(path: str, err: FcrctlError) -> None:
        with lock:
            report.failures.append((path, err.message))
            failed.append(path.rstrip("/") + "/")

    def copy_binary(info: ResourceInfo) -> None:
        try:
            try:
                count = _copy_content(src, dst, info)
            except Gone:  # a tombstone where the backup has a binary: bring it back
                dst.purge(info.path)
                count = _copy_content(src, dst, info)
            description = src.get_rdf(info.path, prefs=USER_TRIPLES)
            if len(description):
                dst.replace_description(info.path, description, lenient=True)
            with lock:
                report.resources += 1
                report.binaries += 1
                report.bytes += count
            if progress is not None:
                progress(count)
        except FcrctlError as err:
            fail(info.path, err)

    def copy_container(info: ResourceInfo) -> None:
        graph = src.get_rdf(info.path, prefs=USER_TRIPLES)
        model = info.model if info.model in CONTAINER_MODELS else BASIC_CONTAINER
        spec = ResourceSpec(graph=graph, model=None if model == BASIC_CONTAINER else model, lenient=True,
                            archival_group=info.archival_group)
        _put(dst, info.path, spec)
        report.resources += 1

    with BoundedPool[None](jobs, jobs * 2, name="fcrctl-crawl") as pool:
        top = src.info(root)
        walker = src.children(root, recursive=True) if not top.is_binary else iter(())
        for info in _chain([top], walker):
            if any(info.path.startswith(f) for f in failed):
                continue
            if info.is_binary:
                pool.submit(copy_binary, info)
                continue
            try:
                copy_container(info)
            except FcrctlError as err:  # NotFound/Gone: deleted while we crawled
                fail(info.path, err)
    return report


def _copy_content(src: Repository, dst: Repository, info: ResourceInfo) -> int:
    with src.open_binary(info.path) as content:
        counted = _Counting(content.stream)
        spec = ResourceSpec(content=counted, binary=True, mime_type=info.mime_type, filename=info.filename,
                            lenient=True)
        dst.replace(info.path, spec)
    return counted.count


def _put(dst: Repository, path: str, spec: ResourceSpec) -> None:
    """Replace, or create over a tombstone (a restore brings deleted resources back)."""
    try:
        dst.replace(path, spec)
    except Gone:
        dst.purge(path)
        dst.replace(path, spec)


def _chain(first: list[ResourceInfo], rest: Any) -> Any:
    yield from first
    yield from rest


class _Counting:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.count += len(data)
        return data

    def close(self) -> None:
        self.stream.close()


def crawl(
    repo: Repository,
    home: BackupHome,
    *,
    label: str | None = None,
    jobs: int = 4,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[int], None] | None = None,
    failsafe: bool = False,
) -> BackupInfo:
    """Back up a (remote) repository by crawling it into a snapshot. ``failsafe``: taken by a
    restore before it changes anything (its id made unique, and retention's own rule)."""
    from fcrctl.repository.local import LocalRepository

    started = time.monotonic()
    when = now()
    home.root.mkdir(parents=True, exist_ok=True)
    backup_id, label = unique_id(home.root, label, when) if failsafe and label else make_id(label, when)
    with tree.staging_dir(home.root) as staged:
        LocalRepository.init(staged / "work")
        target = LocalRepository.open(str(staged / "work"))
        try:
            report = replay(repo, target, jobs=jobs, progress=progress)
        finally:
            target.close()
        if report.failures:
            first = report.failures[0]
            raise PartialFailure(
                f"{len(report.failures)} resources could not be backed up (first: {first[0]}: {first[1]}); "
                f"no backup was kept: fix the cause and run again"
            )
        (staged / "work" / TREE).rename(staged / TREE)
        tree.remove_tree(staged / "work")
        files, size = tree.tree_size(staged / TREE)
        info = BackupInfo(
            id=backup_id, datetime=when.astimezone(UTC).isoformat(), label=label, resources=report.resources,
            files=files, bytes=size, repository=repo.location,
            # Fedora transactions isolate a transaction's own writes, not reads from others' commits,
            # so a crawl can never promise a point-in-time state: writes during it may be half seen
            potentially_inconsistent=True, kind="crawl",
            extra={"seconds": round(time.monotonic() - started, 3), "contentBytes": report.bytes,
                   **({"failsafe": True} if failsafe else {})},
        )
        return home.install(staged, info)


def restore_remote(
    repo: Repository,
    home: BackupHome,
    backup_id: str,
    *,
    path: str = "/",
    jobs: int = 4,
    progress: Callable[[int], None] | None = None,
    tree_root: Path | None = None,
    before_changes: Callable[[], object] | None = None,
) -> tuple[BackupInfo | None, ReplayReport]:
    """Replace ``path`` (default: everything) in ``repo`` with the snapshot's state, over the
    protocol. ``tree_root``: the snapshot's storage root when it is not in ``home`` (a
    download for this restore, already verified). Otherwise the snapshot's objects under
    ``path`` are re-hashed against their inventories first (damage must not be replayed into
    fresh digests that nothing could tell from sound ones). ``before_changes`` (the fail-safe
    backup) runs once the path is found and the content checked, before anything changes."""
    from fcrctl.repository.local import LocalRepository
    from fcrctl.services.backup import restore as restoring

    info = home.get(backup_id) if tree_root is None else None
    where = tree_root if tree_root is not None else home.full_tree(home.get(backup_id))
    snapshot = LocalRepository.open(str(where))  # read-only, index in the cache dir
    try:
        snapshot.info(path)  # NotFound before anything is touched
        if tree_root is None:
            restoring.refuse_damaged(restoring.check_content(where, _views(where, path)), backup_id)
        if before_changes is not None:
            before_changes()
        _clear(repo, path)
        report = replay(snapshot, repo, root=path, jobs=jobs, progress=progress)
    finally:
        snapshot.close()
    return info, report


def _views(root: Path, path: str) -> list[tuple[str, str, str | None]]:
    """The objects holding ``path`` and what is under it: those whose resource is in the
    subtree, and the nearest one above it (an archival group holds its members)."""
    from fcrctl.repository.local import ocfl

    inside: list[tuple[str, str, str | None]] = []
    above: dict[str, tuple[str, str, str | None]] = {}
    prefix = path.rstrip("/") + "/"
    for obj in ocfl.iter_object_dirs(root):
        try:
            object_id = str(ocfl.read_inventory(obj, check_sidecar=False)["id"])
        except (CorruptData, OSError, ValueError, KeyError, TypeError):
            inside.append((str(obj), str(obj.relative_to(root)), None))  # unreadable: checked, and reported
            continue
        resource = paths.from_id(object_id) if object_id.startswith(paths.ROOT_ID) else ""
        view = (str(obj), str(obj.relative_to(root)), None)
        if path == "/" or resource == path or resource.startswith(prefix):
            inside.append(view)
        elif resource and (resource == "/" or path.startswith(resource.rstrip("/") + "/")):
            above[resource] = view
    if not inside and above:
        inside.append(above[max(above, key=len)])
    return inside


def _clear(repo: Repository, path: str) -> None:
    """Delete and purge ``path`` (its children for the root) so the replay starts clean."""
    targets = [c.path for c in repo.children("/")] if path == "/" else [path]
    for target in targets:
        with contextlib.suppress(NotFound, Gone):
            repo.delete(target)
        with contextlib.suppress(NotFound):
            repo.purge(target)


__all__ = ["crawl", "replay", "restore_remote", "paths"]
