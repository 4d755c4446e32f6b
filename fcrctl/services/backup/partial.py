"""Partial restore of a local repository by whole OCFL objects.

A subtree is restored as the objects the snapshot recorded, not replayed: each object comes
back with its versions ``v1..head`` and the digests recorded when the backup was taken (hard
links from where the snapshot reads it, checked against those digests first). Under the writer
lock the live objects of the subtree move into a retention generation (the fail-safe backup
taken just before reads them there), the snapshot's objects, staged beside the root, are
renamed into place, and only those objects are indexed again. A subtree that lies inside an
archival group (no object of its own) cannot be swapped alone: the caller replays it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fcrctl import paths
from fcrctl.errors import CorruptData
from fcrctl.repository.local import ocfl
from fcrctl.services.backup import rootstate, tree
from fcrctl.services.backup.rootstate.linking import link_object
from fcrctl.services.backup.snapshot import TREE, BackupHome, Snapshottable
from fcrctl.services.backup.snapshot.recording import SCAN_PROCESSES

PENDING = ".partial-restore-pending.json"


def _under(object_id: str, path: str) -> bool:
    return object_id.startswith(paths.ROOT_ID) and paths.is_within(paths.from_id(object_id), path)


def restore_objects(repo: Snapshottable, home: BackupHome, backup_id: str, path: str, *,
                    tree_root: Path | None = None, lock_timeout: float = 120.0,
                    before_changes: Callable[[], object] | None = None) -> dict[str, Any] | None:
    """Restore ``path`` of snapshot ``backup_id`` (or of the downloaded, verified tree
    ``tree_root``) as objects. None when ``path`` has no object of its own in the snapshot
    (inside an archival group, or missing): the caller replays (which reports a missing path)."""
    from fcrctl.services.backup import restore as restoring

    started = time.monotonic()
    if tree_root is not None:
        state = rootstate.scan(tree_root)
        sources = rootstate.Sources(tree_root)
    else:
        info = home.get(backup_id)
        where = home.path(backup_id)
        if (where / rootstate.STATE_FILE).exists():
            state = rootstate.RootState.load(where / rootstate.STATE_FILE)
            sources = home.sources_of(info)
        else:  # a snapshot from before objects.jsonl: its own tree is whole
            state = rootstate.scan(where / TREE)
            sources = rootstate.Sources(where / TREE)
    target_id = paths.to_id(path)
    chosen = [o for o in state.objects.values() if _under(o.id, path)]
    if not any(o.id == target_id for o in chosen):
        return None
    if tree_root is None:  # the snapshot's files are the live ones: damage in place is in them
        views = []
        for o in chosen:
            found = sources.locate(o)
            if found is None:
                raise CorruptData(f"backup {backup_id} lacks object {o.rel}: run `fcrctl verify-backup {backup_id}`; "
                                  f"nothing was restored")
            views.append((found[0], o.rel, o.head))
        restoring.refuse_damaged(restoring.check_content(None, views), backup_id)
    restoring.refuse_open_transactions(repo)
    live_root = Path(repo.location) / TREE
    with tree.home_lock(home.root, exclusive=False), tree.staging_dir(home.root) as staged:
        made: set[str] = {str(staged)}
        for o in chosen:  # hard links from where the snapshot reads each object
            try:
                link_object(sources, str(staged), o, made)
            except rootstate.StateMoved as e:
                raise CorruptData(f"backup {backup_id} lacks object {e}: run `fcrctl verify-backup {backup_id}`; "
                                  f"nothing was restored") from None
        if before_changes is not None:
            before_changes()  # the fail-safe, once the subtree is known sound and staged
        live = rootstate.scan(live_root, home.newest_state(), processes=SCAN_PROCESSES)
        with repo.exclusive(timeout=lock_timeout) as root:
            t0 = time.monotonic()
            restoring.refuse_open_transactions(repo)
            rootstate.settle(root, live, repo.indexed_objects())
            gone = [o for o in live.objects.values() if _under(o.id, path)]
            # a kill from here on leaves objects moved but not indexed: the next backup command
            # (restore.finish_interrupted) reindexes; the fail-safe holds the state before
            marker = home.root / PENDING
            ocfl.write_durable(marker, json.dumps({"backup": backup_id, "path": path}).encode())
            retention = home.retention
            retention.activate()
            if gone:
                generation = retention.new_generation()
                for o in gone:
                    retention.keep(root / o.rel, o.rel, generation, Path(repo.location) / "tmp")
            for o in chosen:
                target = root / o.rel
                ocfl.ensure_dir(target.parent)
                if target.exists():  # an object the settle did not see as under the path: keep it
                    generation = retention.new_generation()
                    retention.keep(target, o.rel, generation, Path(repo.location) / "tmp")
                os.rename(staged / o.rel, target)
                ocfl.sync_tree(target)
                ocfl.fsync_dir(target.parent)
            count = repo.reindex_objects([o.id for o in gone if o.id], [o.rel for o in chosen])  # type: ignore[attr-defined]
            marker.unlink()
            held = time.monotonic() - t0
    return {"restored": backup_id, "path": path, "resources": count, "objects": len(chosen),
            "replaced": len(gone), "versionsKept": True, "failures": [],
            "seconds": round(time.monotonic() - started, 3), "lockHeldSeconds": round(held, 3)}
