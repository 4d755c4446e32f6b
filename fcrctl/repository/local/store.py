"""Committing object versions (intent -> build in tmp -> sync -> rename -> index) and crash recovery

The Store is the storage root's writer for LocalRepository: an object's index entries are
computed by entries.py, and a whole root is re-read by reindex.py."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcrctl.errors import CorruptData, from_os_error
from fcrctl.repository.local import ocfl, ocfl_write, reindex
from fcrctl.repository.local.entries import object_entries
from fcrctl.repository.local.index import Index, ObjectEntries
from fcrctl.repository.local.retention import Retention

log = logging.getLogger("fcrctl.local")
JOURNAL = "journal.json"
PARALLEL_FROM = 16  # objects in one commit from which they are built on threads
# Threads building a big commit's objects: they overlap the disk's waits, but each costs CPU the
# others lose (GIL hand-offs, and the kernel's lock on the directories they all create in): on 2
# cores, 4 threads took 1.6-2.1 CPU ms per imported resource where 1 took 1.0-1.2, at the same wall
# time under load. So a thread per core beyond the committing one, at most 4.
WORKERS = int(os.environ.get("FCRCTL_COMMIT_WORKERS", str(max(1, min(4, (os.cpu_count() or 1) - 1)))))


@dataclass
class Change:
    """The next state of one OCFL object, or its removal (purge)."""

    object_id: str
    state: dict[str, str | ocfl.NewFile] = field(default_factory=dict)
    message: str | None = None
    purge: bool = False
    known_headers: dict[str, dict] = field(default_factory=dict)  # logical -> headers (saves re-reading)
    known_graphs: dict[str, object] = field(default_factory=dict)  # resource path -> Graph
    created: str | None = None  # this version's date (else the store's ``created``, else now)
    # versions of a NEW object before this one, oldest first (their state, message, created): the
    # object is installed with all of them at once, so a crash leaves it absent or whole (import)
    earlier: list[Change] = field(default_factory=list)


_Prepared = list[tuple[Change, ocfl_write.PreparedVersion | None]]


class Store:
    def __init__(self, storage_root: Path, tmp: Path, index: Index, user: str = "fcrctl",
                 retention: Retention | None = None) -> None:
        self.root = storage_root
        self.tmp = tmp
        self.index = index
        self.retention = retention  # where purged objects go while a snapshot may need them
        # OCFL version "user" block, in the form Fedora 6 writes it
        self.user = (user, f"info:fedora/{user}")
        self.created: str | None = None  # the next versions' date, when a caller fixes it (LocalRepository.dated)

    # -- reading objects --------------------------------------------------------------------
    def object_dir(self, object_id: str) -> Path:
        return self.root / ocfl.object_rel(object_id)

    def inventory(self, object_rel: str) -> dict:
        return ocfl.read_inventory(self.root / object_rel)

    def head_state(self, object_id: str) -> dict[str, str]:
        obj = self.object_dir(object_id)
        if not (obj / ocfl.INVENTORY).exists():
            return {}
        return ocfl.state_digests(ocfl.read_inventory(obj))

    # -- writing ------------------------------------------------------------------------------
    def commit(self, changes: list[Change], *, fresh: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        """Apply changes with the crash-safe protocol; the caller holds the writer lock. ``fresh``:
        objects the caller knows the index holds no rows of (new resources), so none are deleted."""
        ids = [c.object_id for c in changes]
        self.index.mark_pending(ids)
        prepared: _Prepared = []
        entries: list[ObjectEntries] | None = None
        dirs: set[str] = set()
        # many new objects link one namaste file instead of each creating its own
        namaste = self.tmp / f"namaste-{uuid.uuid4().hex}" if len(changes) >= PARALLEL_FROM else None
        try:
            if namaste is not None:
                ocfl_write.write_object_namaste(namaste)
            prepared = self._prepare(changes, namaste)
            # one syncfs makes the intent (sqlite WAL), the staged files and new dirs durable; a
            # big commit computes its index entries meanwhile (the sync waits on the disk)
            entries = self._sync_tmp_computing(prepared) if len(prepared) >= PARALLEL_FROM else None
            if not ocfl.HAVE_SYNCFS:
                for _change, p in prepared:
                    if p is not None and p.new_object:
                        _fsync_new_dirs(p.obj_dir.parent, self.root)
            if len(prepared) > 1:
                # several objects change together: journal the staged versions (now durable) so
                # that recovery rolls the whole change forward instead of leaving it half done
                self._write_journal(prepared)
            generation: list[Path] = []
            for change, p in prepared:
                if p is None:
                    self._purge(change.object_id, generation)
                else:
                    ocfl_write.install_version(p, dirs)
            if ocfl.HAVE_SYNCFS and len(dirs) > 1:
                ocfl.sync_tree(self.root)  # one syncfs for all the renames, not ~10 ms per directory
            else:
                for d in dirs:
                    ocfl.fsync_dir(d)
            (self.tmp / JOURNAL).unlink(missing_ok=True)
        except OSError as e:
            _discard(p for _, p in prepared if p is not None and p.staged.exists())
            known = from_os_error(e, f"writing to {self.root}")
            if known is not None:
                raise known from e
            raise CorruptData(f"writing to {self.root} failed: {e}; run `fcrctl reindex` after fixing the cause") from e
        except CorruptData:
            _discard(p for _, p in prepared if p is not None and p.staged.exists())
            raise
        finally:
            if namaste is not None:
                namaste.unlink(missing_ok=True)
        if entries is None:
            entries = self._entries(prepared)
        removed = [change.object_id for change, p in prepared if p is None]
        self.index.apply(entries, removed, clear_pending=ids, fresh=fresh)

    def _entries(self, prepared: _Prepared, *,
                 staged: bool = False) -> list[ObjectEntries]:
        """Index entries of prepared versions; ``staged``: read from tmp/, before the installs."""
        out: list[ObjectEntries] = []
        for change, p in prepared:
            if p is not None:
                known_headers, known_data = known_content(change)
                out.append(self.entries(change.object_id, ocfl.object_rel(change.object_id), p.inventory,
                                        known_headers, change.known_graphs, known_data,
                                        read_from=_staged_reader(p) if staged else None))
        return out

    def _sync_tmp_computing(self, prepared: _Prepared) -> list[ObjectEntries]:
        """sync_tree(tmp) on a thread while the entries are computed here (nothing is installed
        yet, so an unusable object stops the commit before anything changed)."""
        failed: list[BaseException] = []

        def sync() -> None:
            try:
                ocfl.sync_tree(self.tmp)
            except BaseException as e:  # noqa: BLE001 - re-raised in the committing thread
                failed.append(e)

        syncer = threading.Thread(target=sync, name="fcrctl-sync")
        syncer.start()
        try:
            entries = self._entries(prepared, staged=True)
        finally:
            syncer.join()
        if failed:
            raise failed[0]
        return entries

    def _prepare(self, changes: list[Change], namaste: Path | None) -> _Prepared:
        """Build every new version under tmp/. Many objects are built on threads: most of the time
        goes to inode allocations (mkdir, create), which wait on the disk, not the CPU."""

        root = os.fspath(self.root)
        tuple_dirs: set[str] = set()  # known to exist

        def one(change: Change) -> ocfl_write.PreparedVersion | None:
            if change.purge:
                return None
            p = ocfl_write.prepare_version(self.root, self.tmp, change.object_id, change.state,
                                           message=change.message, user=self.user, namaste=namaste,
                                           created=change.created or self.created,
                                           earlier=[(e.state, e.message, e.created) for e in change.earlier])
            if p.new_object:
                # create tuple dirs now so the one sync that follows covers them too
                ocfl_write.ensure_dirs_below(root, os.path.dirname(ocfl.object_rel(change.object_id)), tuple_dirs)
            return p

        if len(changes) < PARALLEL_FROM:
            out: _Prepared = []
            try:
                for change in changes:
                    out.append((change, one(change)))
            except BaseException:
                _discard(p for _, p in out)
                raise
            return out
        from concurrent.futures import ThreadPoolExecutor, wait  # here: ~2 ms of every command's start-up at the top

        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fcrctl-commit") as pool:
            futures = [pool.submit(one, change) for change in changes]
            wait(futures)
        failed = next((f.exception() for f in futures if f.exception() is not None), None)
        if failed is not None:
            _discard(f.result() for f in futures if f.exception() is None)
            raise failed
        return [(change, f.result()) for change, f in zip(changes, futures, strict=True)]

    # -- indexing -------------------------------------------------------------------------------
    def entries(self, object_id: str, object_rel: str, inventory: dict, *known: Any, **options: Any) -> ObjectEntries:
        """Index entries for an object's head state (see entries.object_entries for ``known``
        and ``options``), its content files found by :meth:`file`."""
        return object_entries(self.file, object_id, object_rel, inventory, *known, **options)

    def file(self, rel: str) -> Path:
        """The file behind a content path recorded in the index."""
        return self.root / rel


    def index_object_dir(self, obj_dir: Path) -> int:
        """(Re)index one object directory; invalid objects are recorded, not raised."""
        return reindex.index_object_dir(self.root, self.index, self.entries, obj_dir)

    def reindex_all(self, processes: int = 1, progress: Callable[[int], None] | None = None) -> int:
        """Index every object directory (see reindex.reindex_all)."""
        return reindex.reindex_all(self.root, self.index, self.entries, processes, progress)

    # -- recovery -----------------------------------------------------------------------------
    def journal_exists(self) -> bool:
        return os.path.exists(self.tmp / JOURNAL)

    def needs_recovery(self) -> bool:
        """A dead writer left work behind: pending marks or a multi-object journal."""
        return bool(self.index.pending()) or self.journal_exists()

    def _write_journal(self, prepared: _Prepared) -> None:
        entries = []
        for change, p in prepared:
            entry: dict = {"object_id": change.object_id, "purge": p is None}
            if p is not None:
                entry.update({"staged": p.staged.name, "new_object": p.new_object, "version": p.inventory["head"]})
            entries.append(entry)
        tmp = self.tmp / (JOURNAL + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(entries))  # json.dump writes it in thousands of small pieces
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.tmp / JOURNAL)
        ocfl.fsync_dir(self.tmp)

    def _roll_forward(self) -> None:
        """Finish a multi-object commit that a crash cut off (its staged versions are durable)."""
        journal = self.tmp / JOURNAL
        try:
            entries = json.loads(journal.read_text("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            journal.unlink(missing_ok=True)  # never completed, so nothing was installed from it
            return
        generation: list[Path] = []
        for entry in entries:
            obj = self.object_dir(entry["object_id"])
            if entry["purge"]:
                self._purge(entry["object_id"], generation)
                _remove_empty_parents(obj, self.root)
                continue
            staged = self.tmp / entry["staged"]
            if not staged.exists():
                continue  # already installed
            if entry["new_object"]:
                if not obj.exists():
                    ocfl.ensure_dir(obj.parent)
                    os.rename(staged, obj)
                    ocfl.fsync_dir(obj.parent)
            elif obj.exists() and not (obj / entry["version"]).exists():
                os.rename(staged, obj / entry["version"])
                ocfl.fsync_dir(obj)
            ocfl_write.recover_object(obj)  # points the root inventory at the new head
        journal.unlink()

    def _purge(self, object_id: str, generation: list[Path]) -> None:
        """Remove an object from the root; into a retention generation (one per commit, made
        on first use) when snapshots may still read it."""
        obj = self.object_dir(object_id)
        if self.retention is None or not self.retention.active or not obj.exists():
            ocfl.remove_tree(obj, self.tmp)
            return
        if not generation:
            generation.append(self.retention.new_generation())
        self.retention.keep(obj, ocfl.object_rel(object_id), generation[0], self.tmp)
        _remove_empty_parents(obj, self.root)

    def recover(self, object_ids: list[str]) -> None:
        """Roll each pending object forward or back, then re-index it (writer lock held)."""
        self._roll_forward()
        for object_id in object_ids:
            obj = self.object_dir(object_id)
            exists = ocfl_write.recover_object(obj)
            if exists:
                self.index_object_dir(obj)
            else:
                _remove_empty_parents(obj, self.root)
            self.index.apply([], [] if exists else [object_id], clear_pending=[object_id])

    def clean_tmp(self) -> None:
        """Remove what interrupted writers left in tmp/ (only called under the writer lock), and say so."""
        found, size = 0, 0
        for entry in self.tmp.iterdir():
            found += 1
            with contextlib.suppress(OSError):
                size += sum(f.stat().st_size for f in entry.rglob("*") if f.is_file()) if entry.is_dir() \
                    else entry.stat().st_size
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        if found:
            log.warning("removed %d partial file%s (%d bytes) that an interrupted command left in %s",
                        found, "" if found == 1 else "s", size, self.tmp)


def _staged_reader(p: ocfl_write.PreparedVersion):  # type: ignore[no-untyped-def]
    """manifest path -> file, for a version still under tmp/ (older versions are in place)."""
    head = p.inventory["head"] + "/"

    def read(content: str) -> Path:
        if p.new_object:
            return p.staged / content
        return p.staged / content[len(head):] if content.startswith(head) else p.obj_dir / content

    return read


def _discard(prepared) -> None:  # type: ignore[no-untyped-def]
    for p in prepared:
        if p is not None:
            shutil.rmtree(p.staged, ignore_errors=True)


def _fsync_new_dirs(tuple_dir: Path, root: Path) -> None:
    """Without syncfs, the tuple directories (and their entries in their parents) need fsyncs."""
    p = tuple_dir
    while p != root and p.is_relative_to(root):
        ocfl.fsync_dir(p)
        p = p.parent
    ocfl.fsync_dir(root)


def _remove_empty_parents(obj: Path, root: Path) -> None:
    """Drop tuple directories a crash left empty (a purge may have removed some already)."""
    parent = obj.parent
    while parent != root and parent.is_relative_to(root):
        if parent.is_dir():
            try:
                parent.rmdir()
            except OSError:
                return
        parent = parent.parent


def known_content(change: Change) -> tuple[dict[str, dict], dict[str, bytes]]:
    """Headers and content a change carries in memory, so indexing it reads no file back."""
    headers = dict(change.known_headers)
    data: dict[str, bytes] = {}
    for logical, value in change.state.items():
        if isinstance(value, ocfl.NewFile) and value.data is not None:
            data[logical] = value.data
            if logical not in headers and logical.startswith(".fcrepo/") and logical.endswith(".json"):
                with contextlib.suppress(ValueError):
                    parsed = json.loads(value.data)
                    if isinstance(parsed, dict):
                        headers[logical] = parsed
    return headers, data


def exists_dir(path: Path) -> bool:
    return os.path.isdir(path)
