"""Snapshots: ids, metadata, and taking, listing and deleting them.

Id: ``<UTC timestamp>_<label>`` as ArangoDB's hot backups do it (``2026-11-22T14.20.15Z_nightly``),
a UUID when no label is given. A snapshot is ``<home>/<id>/`` holding ``backup.json``,
``objects.jsonl`` (each object's recorded head, rootstate.py), ``index.sqlite`` and
``ocfl-root/``. A local snapshot's ``ocfl-root/`` holds only the root's own files: its objects
are read where they are, in the live root, or in the retention generations where purges and
restores move them (repository/local/retention.py), like a copy-on-write filesystem snapshot.
Downloaded, crawled and older snapshots hold the whole tree. A snapshot is built in a locked
``.tmp-*`` staging dir and renamed into place, so a killed backup never appears in a listing
and its debris is removed by the next run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fcrctl import __version__
from fcrctl.errors import BadInput, Conflict, CorruptData, Locked, NotFound, Unsupported
from fcrctl.repository.base import Repository
from fcrctl.repository.local.index_copies import PinnedIndex
from fcrctl.repository.local.retention import RETAINED, Retention
from fcrctl.services.backup import rootstate, tree

META = "backup.json"
TREE = "ocfl-root"
LINKED = "linked-root"  # a complete tree linked on demand for a snapshot that reads the live root
INDEX = "index.sqlite"  # the repository's index at the snapshot's instant (absent when inconsistent)
INDEX_KEY = "indexSha512"  # in backup.json and manifests: the sha512 of that index copy (its blob)
EPOCH_KEY = "liveEpoch"  # in backup.json of a snapshot that reads its objects from the live root
JOURNAL_KEY = "journal"  # in backup.json: [journal identity, position, storage root inode] at the instant
AS_FOUND_KEY = "objectsAsFound"  # in backup.json: objects recorded without a readable inventory (copied)
LABEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ID_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\dZ)_([A-Za-z0-9._-]{1,64})$")
STAMP = "%Y-%m-%dT%H.%M.%SZ"


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


@dataclass
class BackupInfo:
    id: str
    datetime: str  # ISO 8601, UTC
    label: str
    resources: int = 0
    files: int = 0
    bytes: int = 0
    repository: str = ""
    fcrctl_version: str = __version__
    potentially_inconsistent: bool = False
    kind: str = "snapshot"  # snapshot | crawl | failsafe
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. lockHeldSeconds, seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "datetime": self.datetime,
            "label": self.label,
            "resources": self.resources,
            "files": self.files,
            "bytes": self.bytes,
            "repository": self.repository,
            "fcrctlVersion": self.fcrctl_version,
            "potentiallyInconsistent": self.potentially_inconsistent,
            "kind": self.kind,
            **self.extra,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BackupInfo:
        known = {"id", "datetime", "label", "resources", "files", "bytes", "repository", "fcrctlVersion",
                 "potentiallyInconsistent", "kind"}
        try:
            return cls(
                id=str(doc["id"]), datetime=str(doc["datetime"]), label=str(doc.get("label", "")),
                resources=int(doc.get("resources", 0)), files=int(doc.get("files", 0)), bytes=int(doc.get("bytes", 0)),
                repository=str(doc.get("repository", "")), fcrctl_version=str(doc.get("fcrctlVersion", "")),
                potentially_inconsistent=bool(doc.get("potentiallyInconsistent", False)),
                kind=str(doc.get("kind", "snapshot")),
                extra={k: v for k, v in doc.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptData(
                f"backup metadata is malformed ({e}): delete the backup or download it again from a store"
            ) from e

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.datetime)

    @property
    def epoch(self) -> int | None:
        """Set for a snapshot whose objects are read from its repository's live root."""
        value = self.extra.get(EPOCH_KEY)
        return value if isinstance(value, int) else None


# -- ids ---------------------------------------------------------------------------------------
def check_label(label: str) -> str:
    if not LABEL_RE.match(label):
        raise BadInput(
            f"malformed backup label {label!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. nightly)"
        )
    return label


def make_id(label: str | None, now: datetime) -> tuple[str, str]:
    label = check_label(label) if label is not None else str(uuid.uuid4())
    return f"{now.astimezone(UTC).strftime(STAMP)}_{label}", label


def unique_id(home: Path, label: str, when: datetime) -> tuple[str, str]:
    """An id no backup in ``home`` has, for backups fcrctl names itself (fail-safes, server-side):
    the label gets a counter (previous, previous-2, ...) when the second is taken already."""
    backup_id, label = make_id(label, when)
    n = 1
    while (home / backup_id).exists():
        n += 1
        backup_id, _ = make_id(f"{label}-{n}", when)
    return backup_id, label


def check_id(backup_id: str) -> str:
    if not ID_RE.match(backup_id):
        raise NotFound(
            f"no backup {backup_id!r}: ids look like 2026-11-22T14.20.15Z_nightly (see `fcrctl list-backups`)"
        )
    return backup_id


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


# -- taking a local snapshot ----------------------------------------------------------------------
def count_resources(repo: Repository) -> int:
    counter = getattr(repo, "resource_count", None)
    if callable(counter):
        return int(counter())
    return 1 + sum(1 for _ in repo.children("/", recursive=True))


SCAN_PROCESSES = max(1, min(4, os.cpu_count() or 1))


@dataclass
class _Recorded:
    state: rootstate.RootState | None  # None: the same as ``reuse``'s
    epoch: int
    resources: int
    held: float
    inconsistent: bool
    journal: list[object] | None = None  # [identity, position, root inode] when recorded under the lock
    scan: str = "full"  # or "journal": only the objects it named were looked at
    reuse: BackupInfo | None = None  # nothing changed since this snapshot: its state and index copy serve


def _load_state(home: BackupHome, info: BackupInfo) -> rootstate.RootState:
    return rootstate.RootState.load(home.path(info.id) / rootstate.STATE_FILE)


def _reusable(home: BackupHome, info: BackupInfo, root: Path) -> list[str] | None:
    """The root's own files if the snapshot ``info`` recorded the present state whole (nothing
    journaled since): the same root files, no object copied as found (no journal covers those),
    its state and index copy readable. Else None."""
    where = home.path(info.id)
    if info.extra.get(AS_FOUND_KEY) != 0 or not (where / INDEX).is_file() or INDEX_KEY not in info.extra:
        return None
    try:
        with open(where / rootstate.STATE_FILE, encoding="utf-8") as fh:
            recorded = sorted(json.loads(fh.readline())["root"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = sorted(rootstate.root_files(str(root)))
    return now if now == recorded else None


def _record(repo: Snapshottable, retention: Retention, staged: Path, lock_timeout: float,
            allow_inconsistent: bool, home: BackupHome, floor: int, full_scan: bool) -> _Recorded:
    """The root's state and the index as of one instant under the writer lock: only the objects
    the change journal names since the newest snapshot are looked at, or, when the journal
    cannot tell (reindex, restore, trimmed, or no such snapshot), a stat per object."""
    live = Path(repo.location) / TREE
    retention.activate()  # before anything is recorded: from now on purges keep what we name
    # without the lock, the newest generation may still be filling: a purge commit makes it
    # first, then moves its objects one by one, some after our scan saw them
    epoch_before = max(0, retention.epoch() - 1)
    newest = None if full_scan else home.newest_journaled()
    if newest is not None and (newest[2] != os.stat(live).st_ino or repo.changed_since(newest[1]) is None):
        newest = None  # a look without the lock: asked again under it
    journaled: tuple[rootstate.RootState | None, tuple[str, int], int] | None = None
    held = 0.0
    scanned = newest is None
    if newest is not None:
        # unchanged since (as far as a look without the lock tells): its state may be reused whole
        state = None if repo.changed_since(newest[1]) == set() else _load_state(home, newest[0])
        journaled = (state, newest[1], newest[2])
    else:
        start = None
        if not full_scan:
            # where the journal is when the scan starts, read under the lock (no write half
            # done): the lock at the end then looks only at what was written during the scan
            try:
                with repo.exclusive(timeout=lock_timeout) as root:
                    t0 = time.monotonic()
                    start = (repo.journal_position(), os.stat(root).st_ino)
                    held += time.monotonic() - t0
            except Locked:
                if not allow_inconsistent:
                    raise
        state = rootstate.scan(live, None if full_scan else home.newest_state(), processes=SCAN_PROCESSES)
        if start is not None:
            journaled = (state, start[0], start[1])
    # objects copied as found, listed here without the lock (under it only changed ones are looked at)
    as_found_before = {o.rel for o in state.objects.values() if o.head is None} if state is not None else set()
    as_found: set[str] | None = None
    try:
        with contextlib.ExitStack() as stack, repo.exclusive(timeout=lock_timeout) as root:
            t0 = time.monotonic()
            changed = repo.changed_since(journaled[1]) if journaled is not None else None
            how = "full" if scanned else "journal"
            if changed is not None and journaled is not None and journaled[2] == os.stat(root).st_ino:
                reused = _reusable(home, newest[0], root) if newest is not None and not changed else None
                if reused is not None:
                    position = repo.journal_position()
                    retention.raise_to(floor)
                    epoch = retention.epoch()
                    copy_own(root, staged / TREE, rootstate.RootState(root_files=reused))
                    held += time.monotonic() - t0
                    mark0: list[object] = [position[0], position[1], os.stat(root).st_ino]
                    stack.callback(repo.trim_journal, position)  # after the lock: see below
                    return _Recorded(None, epoch, newest[0].resources, held, False, mark0, how,  # type: ignore[index]
                                     reuse=newest[0])  # type: ignore[index]
                if state is None:  # written to since the look without the lock
                    state = _load_state(home, newest[0])  # type: ignore[index]
                    as_found_before = {o.rel for o in state.objects.values() if o.head is None}
                rootstate.settle_changed(root, state, changed)
                as_found = {rel for rel in as_found_before | changed
                            if rel in state.objects and state.objects[rel].head is None}
            else:
                how = "full"
                as_found = None
                if not scanned:  # the journal was cut off meanwhile (a reindex): look at all
                    state = rootstate.scan(root, state or _load_state(home, newest[0]),  # type: ignore[index]
                                           processes=SCAN_PROCESSES)
                rootstate.settle(root, state, repo.indexed_objects())
            position = repo.journal_position()
            # the index as of this instant, copied after the lock is released: a restore loads
            # it instead of rebuilding (~1 ms/object)
            pinned = repo.pin_index()
            stack.callback(pinned.close)
            # never below an epoch a snapshot recorded (the counter lost with .retained/): new
            # generations would be invisible to those snapshots
            retention.raise_to(floor)
            epoch = retention.epoch()
            copy_own(root, staged / TREE, state, as_found)
            held += time.monotonic() - t0
            mark: list[object] = [position[0], position[1], os.stat(root).st_ino]
            stack.pop_all()
        # entries up to here are in this snapshot's state: the journal keeps only what follows
        # (deleted after the lock: as many rows as writes since the last snapshot)
        repo.trim_journal(position)
        with pinned:
            resources = pinned.resource_count()
            pinned.copy_to(staged / INDEX)
        return _Recorded(state, epoch, resources, held, False, mark, how)
    except Locked:
        if not allow_inconsistent:
            raise
    if not scanned:  # the journal is read only under the lock
        state = rootstate.scan(live, state or _load_state(home, newest[0]), processes=SCAN_PROCESSES)  # type: ignore[index]
    # ArangoDB's allowInconsistent: no lock, so the recorded state may be torn; objects purged
    # since the scan began are in generations after epoch_before (the one filling included)
    copy_own(live, staged / TREE, state)
    return _Recorded(state, epoch_before, repo.resource_count(), 0.0, True)


def copy_own(root: Path, own: Path, state: rootstate.RootState, as_found: Iterable[str] | None = None) -> None:
    """What the live root cannot be trusted to keep: the root's own files (tiny) and objects
    without a readable inventory (no immutable versions to come back to; ``as_found``: their
    directories, when the caller knows them without going through every object)."""
    own.mkdir()
    for rel in state.root_files:
        (own / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, own / rel)
    if as_found is None:
        as_found = [o.rel for o in state.objects.values() if o.head is None]
    for rel in as_found:
        rootstate.copy_tree(root / rel, own / rel)


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
        taken = _record(repo, home.retention, staged, lock_timeout, allow_inconsistent, home, floor, full_scan)
        extra: dict[str, Any] = {}
        if taken.reuse is not None:
            # nothing changed: the newest snapshot's state and index copy are this one's (both
            # are never written again), so its cost does not grow with the repository
            prev = home.path(taken.reuse.id)
            for name in (rootstate.STATE_FILE, INDEX):
                _link_or_copy(prev / name, staged / name)
            extra[INDEX_KEY] = taken.reuse.extra[INDEX_KEY]
            with open(prev / rootstate.STATE_FILE, encoding="utf-8") as fh:
                own_before = rootstate.RootState(root_files=json.loads(fh.readline())["root"])
            files = taken.reuse.files
            size = taken.reuse.bytes - own_before.size(str(prev / TREE))[1] + own_before.size(str(staged / TREE))[1]
            digest = str(taken.reuse.extra.get("stateDigest"))
            extra[AS_FOUND_KEY] = 0
            extra["reusedFrom"] = taken.reuse.id
        else:
            assert taken.state is not None
            taken.state.save(staged / rootstate.STATE_FILE)
            if (staged / INDEX).exists():  # hashed here, outside the lock: uploads need not read it again
                with open(staged / INDEX, "rb") as fh:
                    extra[INDEX_KEY] = hashlib.file_digest(fh, "sha512").hexdigest()
            files, size = taken.state.size(str(staged / TREE))
            digest = taken.state.digest()
            extra[AS_FOUND_KEY] = sum(1 for o in taken.state.objects.values() if o.head is None)
        if taken.journal is not None:
            extra[JOURNAL_KEY] = taken.journal
        extra["scan"] = taken.scan
        info = BackupInfo(
            id=backup_id, datetime=when.astimezone(UTC).isoformat(), label=label,
            resources=taken.resources, files=files, bytes=size, repository=repo.location,
            potentially_inconsistent=taken.inconsistent, kind=kind,
            extra={"lockHeldSeconds": round(taken.held, 3), "seconds": round(time.monotonic() - started, 3),
                   "stateDigest": digest, EPOCH_KEY: taken.epoch, **extra},
        )
        return home.install(staged, info)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def iter_ids(home: BackupHome) -> Iterator[str]:
    for info in home.list():
        yield info.id
