"""A directory of snapshots: listing, reading, installing and deleting them, and where their objects are"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from fcrctl.errors import BadInput, Conflict, CorruptData, NotFound, Unsupported
from fcrctl.repository.base import Repository
from fcrctl.repository.local.index_copies import PinnedIndex
from fcrctl.repository.local.retention import RETAINED, Retention
from fcrctl.services.backup import rootstate, tree
from fcrctl.services.backup.snapshot import index_delta
from fcrctl.services.backup.snapshot.info import (
    ID_RE,
    INDEX,
    INDEX_BASE,
    JOURNAL_KEY,
    LINKED,
    META,
    TREE,
    BackupInfo,
    check_id,
)


@runtime_checkable
class Snapshottable(Protocol):
    """A repository whose storage root can be held still and linked (the local backend)."""

    location: str

    def exclusive(self, *, timeout: float | None = None) -> AbstractContextManager[Path]: ...

    def reindex(self) -> int: ...

    def indexed_objects(self) -> set[str]: ...

    def resource_count(self) -> int: ...

    def copy_index(self, target: Path) -> None: ...

    def load_index(self, source: Path) -> int | None: ...

    def journal_position(self) -> tuple[str, int]: ...

    def pin_index(self) -> PinnedIndex: ...

    def changed_since(self, position: tuple[str, int]) -> set[str] | None: ...

    def trim_journal(self, position: tuple[str, int]) -> None: ...


# -- where snapshots live ------------------------------------------------------------------------
def home_for(repo: Repository, data_home: Path) -> Path:
    """REPO/backups for a local repository; a per-server directory for a remote one."""
    if isinstance(repo, Snapshottable):
        return Path(repo.location) / "backups"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", repo.location.split("://", 1)[-1]).strip("_")
    return data_home / "backups" / safe


class BackupHome:
    """A directory of snapshots."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if root.exists() and not root.is_dir():
            raise BadInput(f"{root} is a file, not a backup directory: give a directory")

    def path(self, backup_id: str) -> Path:
        return self.root / check_id(backup_id)

    @property
    def retention(self) -> Retention:
        return Retention(self.root / RETAINED)

    def sources(self, where: Path, epoch: int | None) -> rootstate.Sources:
        """Where a snapshot's objects are: its own tree, and for one that recorded an epoch (it
        was taken of the repository this home belongs to) the live root and newer generations."""
        if epoch is None:
            return rootstate.Sources(where / TREE)
        retention = self.retention

        def generations() -> list[Path]:
            found = [retention.path(n) for n in retention.generations() if n > epoch]
            # a restore killed past its swap: the tree it swapped out waits in the side dir its
            # marker names (restore.MARKER) until the next backup command makes it a generation
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                side = json.loads((self.root / ".restore-pending.json").read_text("utf-8"))["side"]
                if isinstance(side, str) and side.startswith(".restore-"):
                    found.append(self.root / side / TREE)
            return found

        return rootstate.Sources(where / TREE, self.root.parent / TREE, generations)

    def sources_of(self, info: BackupInfo) -> rootstate.Sources:
        return self.sources(self.path(info.id), info.epoch)

    def link(self, info: BackupInfo, target: Path) -> None:
        """A complete storage root of the snapshot at ``target``, of hard links."""
        where = self.path(info.id)
        if not (where / rootstate.STATE_FILE).exists():
            if info.epoch is not None:  # its ocfl-root/ holds no objects: linking it gives an empty root
                raise CorruptData(f"backup {info.id} lacks {rootstate.STATE_FILE}: it is damaged; nothing was changed")
            tree.link_tree(where / TREE, target)  # a snapshot from before objects.jsonl existed
            return
        state = rootstate.RootState.load(where / rootstate.STATE_FILE)
        try:
            rootstate.link(self.sources_of(info), target, state)
        except rootstate.Damaged as e:
            tree.remove_tree(target)
            raise CorruptData(f"backup {info.id} is damaged: object {e}: run `fcrctl verify-backup {info.id}`; "
                              f"nothing was changed") from None
        except rootstate.StateMoved as e:
            tree.remove_tree(target)
            raise CorruptData(f"backup {info.id} lacks object {e}: run `fcrctl verify-backup {info.id}`; "
                              f"nothing was changed") from None

    def copy_index(self, info: BackupInfo, target: Path) -> tuple[list[str], list[str]] | None:
        """The snapshot's index copied to ``target`` for a restore to load, and what to re-index
        after loading it: ([], []) for an exact copy; for the index of its state's base, (object
        directories changed since, ids of objects gone since). None without an index copy."""
        import shutil

        where = self.path(info.id)
        if (where / INDEX).is_file():
            shutil.copyfile(where / INDEX, target)
            return [], []
        if not (where / INDEX_BASE).is_file():
            return None
        if (where / index_delta.INDEX_DELTA).is_file():  # (downloaded snapshots have no state to derive it from)
            stale = index_delta.read(where / index_delta.INDEX_DELTA, info.id)
        elif not (where / rootstate.STATE_FILE).is_file():
            return None  # downloaded without its delta (uploaded before it was written): reindexed whole
        else:  # taken before the delta file was written
            state = rootstate.DeltaState.open(where)
            try:
                stale = state.changes()
            finally:
                state.close()
        shutil.copyfile(where / INDEX_BASE, target)
        return stale

    def full_tree(self, info: BackupInfo) -> Path:
        """A complete storage root of the snapshot, for readers that open it as a repository.
        A snapshot reading the live root gets one linked once (``linked-root/``) and kept."""
        where = self.path(info.id)
        if info.epoch is None:
            return where / TREE
        linked = where / LINKED
        if not linked.is_dir():
            staged = where / f".{LINKED}-{uuid.uuid4().hex}"
            try:
                self.link(info, staged)
                from fcrctl.repository.local import ocfl

                ocfl.sync_tree(staged)
                with contextlib.suppress(OSError):  # another process linked it first: use theirs
                    os.rename(staged, linked)
            finally:
                if staged.exists():
                    tree.remove_tree(staged)
        return linked

    def newest_journaled(self) -> tuple[BackupInfo, tuple[str, int], int] | None:
        """The newest snapshot of the live root if it recorded where the change journal was:
        (it, that position, the storage root's inode then), or None."""
        for info in reversed(self.list()):
            if info.epoch is not None:
                mark = info.extra.get(JOURNAL_KEY)
                if not (isinstance(mark, list) and len(mark) == 3 and isinstance(mark[0], str)
                        and isinstance(mark[1], int) and isinstance(mark[2], int)):
                    return None
                return info, (mark[0], mark[1]), mark[2]
        return None

    def newest_state(self) -> rootstate.RootState | None:
        """The state the newest snapshot of the live root recorded (a scan reuses what is
        unchanged since), or None."""
        for info in reversed(self.list()):
            if info.epoch is not None:
                try:
                    return rootstate.RootState.load(self.path(info.id) / rootstate.STATE_FILE)
                except CorruptData:
                    return None
        return None

    def collect(self) -> int:
        """Delete the retained objects no snapshot can read any more. Skipped (0) while a
        snapshot is being recorded or a restore runs: the next call does it."""
        retention = self.retention
        if not retention.active:
            return 0
        with tree.home_lock(self.root, exclusive=True) as held:
            if not held:
                return 0
            epochs = [b.epoch for b in self.list() if b.epoch is not None]
            return retention.collect(min(epochs, default=None))

    def list(self) -> list[BackupInfo]:
        out: list[BackupInfo] = []
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except FileNotFoundError:
            return out
        for entry in entries:
            if ID_RE.match(entry.name) and entry.is_dir():
                try:
                    out.append(self._read(Path(entry.path)))
                except CorruptData:
                    continue  # listed by verify, never by list
        out.sort(key=lambda b: (b.datetime, b.id))
        return out

    def get(self, backup_id: str) -> BackupInfo:
        where = self.path(backup_id)
        if not (where / META).exists():
            raise NotFound(f"no backup {backup_id} in {self.root}: see `fcrctl list-backups`")
        return self._read(where)

    def delete(self, *backup_ids: str) -> list[BackupInfo]:
        """Delete snapshots, then the retained objects none of those left needs (once, for a
        prune of many)."""
        infos = [self.get(backup_id) for backup_id in backup_ids]
        for info in infos:
            try:
                tree.remove_tree(self.path(info.id))
            except OSError as e:
                raise Unsupported(f"cannot delete backup {info.id}: {e.strerror}") from e
        self.collect()
        return infos

    @staticmethod
    def _read(where: Path) -> BackupInfo:
        try:
            doc = json.loads((where / META).read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise CorruptData(f"{where / META} is unreadable ({e}): the backup is damaged") from e
        return BackupInfo.from_json(doc)

    def install(self, staged: Path, info: BackupInfo) -> BackupInfo:
        """Write the metadata into ``staged`` and rename it into place (last step of a backup)."""
        write_meta(staged, info)
        target = self.root / info.id
        tree.fsync_dir(staged)
        from fcrctl.repository.local import ocfl

        ocfl.sync_small_tree(staged)  # every file durable before the backup becomes visible
        try:
            os.rename(staged, target)
        except OSError as e:
            if target.exists():
                raise Conflict(f"backup {info.id} already exists: use another --label or wait a second") from e
            raise
        tree.fsync_dir(self.root)
        return info


def write_meta(where: Path, info: BackupInfo) -> None:
    from fcrctl.repository.local import ocfl

    ocfl.write_durable(where / META, (json.dumps(info.to_json(), indent=2) + "\n").encode())
