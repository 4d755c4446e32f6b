"""Taking a local snapshot: recorded, then its state, index copy and metadata installed"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl.errors import Conflict, Unsupported
from fcrctl.repository.base import Repository
from fcrctl.services.backup import rootstate, tree
from fcrctl.services.backup.rootstate.stored import link_or_copy
from fcrctl.services.backup.snapshot import index_delta
from fcrctl.services.backup.snapshot.home import BackupHome, Snapshottable
from fcrctl.services.backup.snapshot.index_delta import (
    BASE_RESOURCES_KEY,
    INDEX_BASE_KEY,
    INDEX_BLOBS,
    INDEX_DELTA,
    INDEX_DELTA_KEY,
)
from fcrctl.services.backup.snapshot.info import (
    AS_FOUND_KEY,
    EPOCH_KEY,
    INDEX,
    INDEX_BASE,
    INDEX_KEY,
    JOURNAL_KEY,
    TREE,
    BackupInfo,
    make_id,
    unique_id,
)
from fcrctl.services.backup.snapshot.recording import Recorded, record


def take(
    repo: Repository,
    home: BackupHome,
    *,
    label: str | None = None,
    lock_timeout: float = 120.0,
    allow_inconsistent: bool = False,
    kind: str = "snapshot",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    unique: bool = False,
    full_scan: bool = False,
) -> BackupInfo:
    """Snapshot a local repository: its state recorded under the writer lock. Its files stay
    where they are (OCFL versions never change); purges and restores keep them for it.
    ``unique``: fcrctl names this backup (a fail-safe), so a taken id gets a counter instead
    of failing (the label keeps its name: retention groups by it). ``full_scan``: look at every
    object even when the change journal could name the changed ones."""
    if not isinstance(repo, Snapshottable):
        raise Unsupported(f"{repo.location} cannot be snapshotted by linking (use a remote crawl backup)")
    started = time.monotonic()
    when = now()
    home.root.mkdir(parents=True, exist_ok=True)
    if unique and label is not None:
        backup_id, label = unique_id(home.root, label, when)
    else:
        backup_id, label = make_id(label, when)
    if (home.root / backup_id).exists():
        raise Conflict(f"backup {backup_id} already exists: use another --label or wait a second")
    with tree.home_lock(home.root, exclusive=False), tree.staging_dir(home.root) as staged:
        floor = max((b.epoch for b in home.list() if b.epoch is not None), default=0)
        taken = record(repo, home.retention, staged, lock_timeout, allow_inconsistent, home, floor, full_scan)
        try:
            return _install(repo, home, staged, taken, backup_id, label, when, kind, started)
        finally:
            if taken.index_copy is not None:
                taken.index_copy.wait()  # never left writing into a staging dir being removed


def _install(repo: Repository, home: BackupHome, staged: Path, taken: Recorded, backup_id: str, label: str,
             when: datetime, kind: str, started: float) -> BackupInfo:
    """The recorded state saved beside the index copy, the metadata written, the snapshot installed."""
    extra: dict[str, Any] = {}
    resources = taken.resources
    if taken.reuse is not None:
        # nothing changed: the newest snapshot's state and index copy are this one's (both
        # are never written again), so its cost does not grow with the repository
        prev = home.path(taken.reuse.id)
        for name in (rootstate.STATE_FILE, rootstate.BASE_FILE, INDEX, INDEX_BASE, INDEX_DELTA):
            if name == rootstate.STATE_FILE or (prev / name).is_file():
                link_or_copy(prev / name, staged / name)
        for key, name in INDEX_BLOBS:
            if (staged / name).is_file() and key in taken.reuse.extra:
                extra[key] = taken.reuse.extra[key]
        if BASE_RESOURCES_KEY in taken.reuse.extra:
            extra[BASE_RESOURCES_KEY] = taken.reuse.extra[BASE_RESOURCES_KEY]
        with open(prev / rootstate.STATE_FILE, encoding="utf-8") as fh:
            own_before = rootstate.RootState(root_files=json.loads(fh.readline())["root"])
        files = taken.reuse.files
        size = taken.reuse.bytes - own_before.size(str(prev / TREE))[1] + own_before.size(str(staged / TREE))[1]
        digest = str(taken.reuse.extra.get("stateDigest"))
        extra[AS_FOUND_KEY] = 0
        extra["reusedFrom"] = taken.reuse.id
    else:
        assert taken.state is not None
        state = taken.state
        if not isinstance(state, rootstate.DeltaState):  # a scan's: the digest is computed whole, once
            state = rootstate.DeltaState.of(state)
        try:
            # a new base whenever the index was copied whole: the next snapshot's index base
            state.save(staged, new_base=taken.index_base is None)
            files, size = state.size(str(staged / TREE))
            digest = state.digest()
            extra[AS_FOUND_KEY] = len(state.as_found())
            if taken.index_base is not None:  # what a restore re-indexes over the base's index
                extra[INDEX_DELTA_KEY] = index_delta.write(staged / INDEX_DELTA, *state.changes())
        finally:
            state.close()
        if taken.index_base is not None:
            link_or_copy(taken.index_base[0], staged / INDEX_BASE)
            if taken.index_base[1] is not None:
                extra[INDEX_BASE_KEY] = taken.index_base[1]
            if taken.base_resources is not None:
                extra[BASE_RESOURCES_KEY] = taken.base_resources
        if taken.index_copy is not None:
            resources, index_digest = taken.index_copy.result()
            if index_digest is not None:
                extra[INDEX_KEY] = index_digest
    if taken.journal is not None:
        extra[JOURNAL_KEY] = taken.journal
    extra["scan"] = taken.scan
    info = BackupInfo(
        id=backup_id, datetime=when.astimezone(UTC).isoformat(), label=label,
        resources=resources, files=files, bytes=size, repository=repo.location,
        potentially_inconsistent=taken.inconsistent, kind=kind,
        extra={"lockHeldSeconds": round(taken.held, 3), "seconds": round(time.monotonic() - started, 3),
               "stateDigest": digest, EPOCH_KEY: taken.epoch, **extra},
    )
    return home.install(staged, info)


def iter_ids(home: BackupHome) -> Iterator[str]:
    for info in home.list():
        yield info.id
