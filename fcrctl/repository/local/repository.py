"""LocalRepository: the Repository protocol over a Fedora 6 OCFL storage root + SQLite index

The face: opening, the writer lock, and the index calls snapshots and restores make; every
Repository call is delegated to the component that holds its concern (reads, listings, writes,
moves, versions, ACLs, transactions). Long because it lists every Repository method.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, NotARepository, ReadOnly
from fcrctl.rdf import new_graph
from fcrctl.repository.base import (
    BinaryContent,
    Capabilities,
    Conditions,
    FixityResult,
    Problem,
    RdfPrefs,
    ResourceInfo,
    ResourceSpec,
    TransactionInfo,
    Version,
)
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.acls import Acls
from fcrctl.repository.local.dates import Clock
from fcrctl.repository.local.files import ResourceFiles
from fcrctl.repository.local.index import JOURNAL_KEY, Index
from fcrctl.repository.local.index_copies import PinnedIndex
from fcrctl.repository.local.index_sql import IndexCorrupt
from fcrctl.repository.local.listings import Listings
from fcrctl.repository.local.lock import WriterLock
from fcrctl.repository.local.moves import Moves
from fcrctl.repository.local.reads import Reads
from fcrctl.repository.local.resources import Resources
from fcrctl.repository.local.retention import RETAINED, Retention
from fcrctl.repository.local.store import Store
from fcrctl.repository.local.support import cache_index_path
from fcrctl.repository.local.txdir import CLOSED
from fcrctl.repository.local.versions import Versions
from fcrctl.repository.local.writes import Writes

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple
    from fcrctl.repository.base import Repository
    from fcrctl.repository.local.batch import WriteBatch
    from fcrctl.repository.local.transactions import Transactions
    from fcrctl.repository.local.txdir import TxDir

log = logging.getLogger("fcrctl.local")


class LocalRepository:
    """A Fedora-6-compatible OCFL repository on the local filesystem."""

    base_uri = paths.ROOT_ID

    def __init__(self, location: Path, storage_root: Path, index_path: Path, *, writable: bool,
                 lock_timeout: float = 30.0, user: str | None = None) -> None:
        self.location = str(location)
        self._dir = location
        self._root = storage_root
        self._writable = writable
        self._user = user
        self.capabilities = Capabilities(
            writable=writable, delete_versions=False, label_versions=True, transactions=writable, reindex=True,
            external_content=True, archival_groups=True, check=True, acls=True, dated_writes=writable,
            exact_has_children=True, grouped_listings=True, overwrite_tombstones=True,
        )
        self._tmp = location / "tmp"
        index_path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not index_path.exists()
        try:
            self._index = Index(index_path)
        except IndexCorrupt as e:
            # the index is a cache of the OCFL root: rebuild a corrupt one rather than refuse every
            # command (reindex included) until someone deletes it by hand
            log.warning("%s: rebuilding it from the OCFL root", e.message.split(": run")[0])
            for suffix in ("", "-wal", "-shm"):
                Path(str(index_path) + suffix).unlink(missing_ok=True)
            fresh = True
            self._index = Index(index_path)
        # the embedded layout keeps snapshots in backups/: purges must not take what they read
        retention = Retention(location / "backups" / RETAINED) if storage_root == location / "ocfl-root" else None
        self._lock = WriterLock(location / "lock", lock_timeout) if writable else None
        self._thread_lock = threading.RLock()
        store = Store(storage_root, self._tmp, self._index, user or "fcrctl", retention)
        self._wire(store, Resources(storage_root, self._index, store))
        self._transactions: Transactions | None = None  # made on first use: reads never import it
        if fresh or self._index.get_meta("built") is None:
            self.reindex(_locked=False)
        elif writable and self._lock is not None and self._needs_cleanup() and self._lock.try_acquire():
            # tmp/ is only used under the writer lock, so holding it means nobody is using tmp/
            try:
                self._store.recover(self._index.pending())
                self._store.clean_tmp()
            finally:
                self._lock.release()
        if writable and storage_root == location / "ocfl-root" and self._staged_transactions():
            self.sweep_transactions()  # expired or orphaned transaction staging (transactions.py)

    def _wire(self, store: Store, resources: Resources) -> None:
        """The components, each given the parts it works on (a transaction's view rewires them
        onto its staging store)."""
        self._store = store
        self._resources = resources
        self._clock = Clock(store)
        files = ResourceFiles(store, self._clock, self._tmp, self._user)
        self._acls = Acls(resources, self._writing, self._user)
        self._listings = Listings(resources)
        self._reads = Reads(resources, self._listings)
        self._writes = Writes(resources, files, self._clock, self._writing, self._user)
        self._moves = Moves(resources, files, self._acls, self._clock, self._writing)
        self._versions = Versions(resources, self._clock, self._writing)

    def _txs(self) -> Transactions:
        if self._transactions is None:
            from fcrctl.repository.local.transactions import Transactions

            self._transactions = Transactions(self._dir, self._root, self._tmp, self._index, self._store,
                                              self._writing, self._lock, self._writable, self._open_view)
        return self._transactions

    def _staged_transactions(self) -> bool:
        """Whether staging/ holds anything but closed records (one scandir: what the sweep is for)."""
        try:
            with os.scandir(self._dir / "staging") as entries:
                return any(entry.name != CLOSED for entry in entries)
        except OSError:
            return False

    def _open_view(self, tx: TxDir, owns_main: bool) -> Repository:
        from fcrctl.repository.local.txview import TxView

        return TxView(self, tx, owns_main=owns_main)

    def _needs_cleanup(self) -> bool:
        try:
            return bool(self._index.pending()) or any(True for _ in os.scandir(self._tmp))
        except OSError:
            return False

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, target: str, *, create: bool = False, lock_timeout: float = 30.0, user: str | None = None,
             **_: Any) -> LocalRepository:
        try:
            return cls._open(target, create=create, lock_timeout=lock_timeout, user=user)
        except OSError as e:
            raise NotARepository(f"cannot open repository {target}: {e.strerror or e}") from e

    @classmethod
    def _open(cls, target: str, *, create: bool, lock_timeout: float, user: str | None) -> LocalRepository:
        where = Path(target).expanduser().absolute()
        if (where / "ocfl-root").is_dir():
            writable = os.access(where, os.W_OK) and os.access(where / "ocfl-root", os.W_OK)
            index = where / "index.sqlite" if writable else cache_index_path(where)
            return cls(where, where / "ocfl-root", index, writable=writable, lock_timeout=lock_timeout, user=user)
        if where.is_dir() and ocfl.is_storage_root(where):
            # a Fedora 6 storage root opened directly: read it, never write into Fedora's tree
            return cls(where, where, cache_index_path(where), writable=False, lock_timeout=lock_timeout)
        if create and (not where.exists() or (where.is_dir() and not any(where.iterdir()))):
            cls.init(where)
            return cls(where, where / "ocfl-root", where / "index.sqlite", writable=True,
                       lock_timeout=lock_timeout, user=user)
        raise NotARepository(
            f"{where} is not an fcrctl repository (no ocfl-root/) nor an OCFL storage root: "
            f"create one with `fcrctl init {target}`"
        )

    @classmethod
    def init(cls, where: Path) -> None:
        try:
            where.mkdir(parents=True, exist_ok=True)
            for sub in ("staging", "backups", "tmp"):
                (where / sub).mkdir(exist_ok=True)
            (where / "lock").touch()
            ocfl.init_storage_root(where / "ocfl-root")
            ocfl.fsync_dir(where)
        except OSError as e:
            raise BadInput(f"cannot create a repository at {where}: {e.strerror}") from e
        repo = cls(where, where / "ocfl-root", where / "index.sqlite", writable=True)
        try:
            with repo._writing():
                root_graph = new_graph()
                from rdflib import RDF, URIRef

                root_graph.add((URIRef(paths.ROOT_ID), RDF.type, URIRef(rdf.FEDORA + "RepositoryRoot")))
                repo._writes.commit_new("/", ResourceSpec(graph=root_graph), raw_graph=True)
        finally:
            repo.close()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
        self._index.close()

    def __enter__(self) -> LocalRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def invalid_objects(self) -> list[dict[str, str | None]]:
        """Objects skipped because their inventory or headers are invalid."""
        return [{"object": rel, "id": oid, "reason": reason} for rel, oid, reason in self._index.invalid()]

    # -- helpers ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        if not self._writable or self._lock is None:
            raise ReadOnly(
                f"{self.location} is read-only here (a Fedora storage root opened directly, or no write "
                f"permission): reads work, writes need a writable fcrctl repository (`fcrctl init PATH`)"
            )
        with self._thread_lock, self._lock.held():
            if self._lock.depth == 1 and self._store.needs_recovery():
                # holding the lock, any pending mark is a dead writer's: repair before writing
                self._store.recover(self._index.pending())
                self._store.clean_tmp()
            yield

    @contextlib.contextmanager
    def exclusive(self, *, timeout: float | None = None) -> Iterator[Path]:
        """Hold the writer lock (a dead writer's leftovers repaired first) and yield the storage
        root: nothing under it changes until exit. Backup snapshots and restore swaps use this;
        after replacing the storage root, call ``reindex()`` before leaving. Locked after
        ``timeout`` seconds (default: the repository's lock timeout)."""
        if timeout is not None and self._lock is not None and self._lock.depth == 0:
            self._lock.timeout = timeout
        with self._writing():
            yield self._root

    def indexed_objects(self) -> set[str]:
        """Every object directory the index knows (relative to the storage root), invalid ones
        included. Under ``exclusive()`` this is the committed set: snapshots re-check only these."""
        rows = self._index.conn.execute(
            "SELECT DISTINCT object_rel FROM resources UNION SELECT object_rel FROM invalid"
        ).fetchall()
        return {r[0] for r in rows}

    def resource_count(self) -> int:
        """Live resources (tombstones excluded), the root included: one query, no row objects."""
        return self._index.conn.execute("SELECT count(*) FROM resources WHERE deleted=0").fetchone()[0]

    def copy_index(self, target: Path) -> None:
        """A consistent copy of the index (call under ``exclusive()``: it then matches the root)."""
        self._index.copy_to(target)

    def pin_index(self) -> PinnedIndex:
        """The index as of now (call under ``exclusive()``: it then matches the root), to count
        or copy after the lock is released."""
        return self._index.pin()

    def journal_position(self) -> tuple[str, int]:
        """Where the change journal is now (under ``exclusive()``: every change before it is
        in the root): a later ``changed_since`` names the objects written after it."""
        return self._index.journal_position()

    def changed_since(self, position: tuple[str, int]) -> set[str] | None:
        """Object directories written after ``position``, or None when the journal cannot tell
        (a reindex or restore since, or trimmed): the caller must look at every object."""
        return self._index.changed_since(*position)

    def trim_journal(self, position: tuple[str, int]) -> None:
        if self._index.get_meta(JOURNAL_KEY) == position[0]:
            self._index.trim_journal(position[1])

    def load_index(self, source: Path) -> int | None:
        """Replace the index's content with a copy made by ``copy_index`` (under ``exclusive()``,
        after swapping in the storage root it was copied with): one transaction, so readers in
        other processes switch atomically. None when the copy is of another schema: reindex."""
        return self._index.load_from(source)

    def reindex_objects(self, gone: list[str], rels: list[str]) -> int:
        """Under ``exclusive()``, after objects were swapped in place (a partial restore): forget
        the objects ``gone`` (ids) and index the object directories ``rels``, in one transaction."""
        with self._thread_lock, self._index.transaction():
            self._index.apply([], gone)
            return sum(self._store.index_object_dir(self._root / rel) for rel in rels)


    # -- reading -----------------------------------------------------------------------------------
    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        return self._reads.info(path, version=version)

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        return self._reads.get_rdf(path, prefs=prefs, version=version)

    def rdf_triples(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Iterator[Triple]:
        return self._reads.rdf_triples(path, prefs=prefs, version=version)

    def stored_ntriples(self, path: str) -> bytes:
        return self._reads.stored_ntriples(path)

    def open_binary(self, path: str, *, version: str | None = None,
                    byte_range: tuple[int, int | None] | None = None) -> BinaryContent:
        return self._reads.open_binary(path, version=version, byte_range=byte_range)

    def children(self, path: str, *, recursive: bool = False, after: str | None = None) -> Iterator[ResourceInfo]:
        return self._listings.children(path, recursive=recursive, after=after)

    def binaries_modified_since(self, path: str, since: datetime) -> Iterator[ResourceInfo]:
        return self._listings.binaries_modified_since(path, since)

    def children_stored(self, path: str, *, after: str | None = None) -> Iterator[tuple[ResourceInfo, bytes | None]]:
        return self._listings.children_stored(path, after=after)

    def fixity(self, info: ResourceInfo, *, algorithm: str | None = None, client_side: bool = False) -> FixityResult:
        """Hash the content file where it lies (the content is local: there is nothing to download)."""
        from fcrctl.repository.local.fixity import verify_resource

        del client_side
        return verify_resource(self._resources, info, algorithm)

    def check(self, *, read_data: bool = False, progress: Callable[[int], None] | None = None) -> Iterator[Problem]:
        """Validate the whole storage root, and the index against it (see local/check.py);
        ``progress(1)`` after every object checked."""
        from fcrctl.repository.local.check import check_storage_root

        yield from check_storage_root(self._root, self._index, read_data=read_data,
                                      on_object=None if progress is None else lambda: progress(1))

    # -- writing -----------------------------------------------------------------------------------
    def dated(self, created: datetime, modified: datetime, *, version: datetime | None = None,
              created_by: str | None = None, modified_by: str | None = None,
              acl: tuple[str, Graph] | None = None) -> contextlib.AbstractContextManager[None]:
        """Writes inside carry these dates and users (``fcrctl import``): see dates.py. ``acl``:
        (path, its ACL as exported, with its fedora: dates): the write of that path inside stores
        the ACL in the same OCFL version, as Fedora's migration does (acls.put_migrated_acl)."""
        return self._clock.dated_block(created, modified, version=version, created_by=created_by,
                                       modified_by=modified_by,
                                       acl=None if acl is None else (paths.normalize(acl[0]), acl[1]))

    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        return self._writes.create(path, spec, parents=parents)

    def batch(self) -> WriteBatch:
        """Many new resources in one durable, crash-atomic commit (``fcrctl import``): see batch.py."""
        from fcrctl.repository.local.batch import WriteBatch

        return WriteBatch(self._writes, self._writing)

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        return self._writes.create_child(parent, spec, slug=slug)

    def replace(self, path: str, spec: ResourceSpec, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        return self._writes.replace(path, spec, conditions=conditions)

    def replace_description(self, path: str, graph: Graph, *, conditions: Conditions = Conditions(),
                            lenient: bool = False) -> ResourceInfo:
        return self._writes.replace_description(path, graph, conditions=conditions, lenient=lenient)

    def patch(self, path: str, update: str, *, conditions: Conditions = Conditions(),
              lenient: bool = False) -> ResourceInfo:
        return self._writes.patch(path, update, conditions=conditions, lenient=lenient)

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        self._writes.delete(path, conditions=conditions)

    def purge(self, path: str) -> None:
        self._writes.purge(path)

    def move(self, source: str, destination: str) -> ResourceInfo:
        return self._moves.copy(source, destination, move=True)

    def copy(self, source: str, destination: str) -> ResourceInfo:
        return self._moves.copy(source, destination, move=False)

    # -- versions ----------------------------------------------------------------------------------
    def versions(self, path: str) -> list[Version]:
        return self._versions.versions(path)

    def create_version(self, path: str, *, label: str | None = None) -> Version:
        return self._versions.create_version(path, label=label)

    def revert(self, path: str, version: str) -> ResourceInfo:
        return self._versions.revert(path, version)

    def delete_version(self, path: str, version: str) -> None:
        self._versions.delete_version(path, version)

    # -- ACLs --------------------------------------------------------------------------------------
    def get_acl(self, path: str, *, prefs: RdfPrefs = RdfPrefs()) -> Graph:
        return self._acls.get_acl(path, prefs=prefs)

    def put_acl(self, path: str, graph: Graph, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        return self._acls.put_acl(path, graph, conditions=conditions)

    def patch_acl(self, path: str, update: str, *, conditions: Conditions = Conditions()) -> ResourceInfo:
        return self._acls.patch_acl(path, update, conditions=conditions)

    def delete_acl(self, path: str) -> None:
        self._acls.delete_acl(path)

    # -- transactions (transactions.py) ------------------------------------------------------------
    def begin_transaction(self, *, timeout: float | None = None) -> TransactionInfo:
        return self._txs().begin_transaction(timeout=timeout)

    def transaction_status(self, tx_id: str) -> TransactionInfo:
        return self._txs().transaction_status(tx_id)

    def keepalive_transaction(self, tx_id: str) -> TransactionInfo:
        return self._txs().keepalive_transaction(tx_id)

    def commit_transaction(self, tx_id: str) -> TransactionInfo:
        return self._txs().commit_transaction(tx_id)

    def rollback_transaction(self, tx_id: str) -> TransactionInfo:
        return self._txs().rollback_transaction(tx_id)

    def transactions(self) -> list[TransactionInfo]:
        return self._txs().transactions()

    def in_transaction(self, tx_id: str, *, owns_main: bool = False) -> Any:
        return self._txs().in_transaction(tx_id, owns_main=owns_main)

    def sweep_transactions(self) -> None:
        """Drop expired transactions' staging, orphans of crashed begins, and old closed records."""
        self._txs().sweep_transactions()

    # -- maintenance --------------------------------------------------------------------------------
    def object_count(self) -> int:
        """Objects the index knows (a reindex's expected work, for its progress bar). Counted by
        object_id, which names one object directory as object_rel does but has an index: a scan
        of every row was ~0.7 s at a million objects."""
        return self._index.conn.execute("SELECT count(DISTINCT object_id) FROM resources").fetchone()[0]

    def reindex(self, *, _locked: bool = True, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the index from the storage root; ``progress(n)`` after every n objects read."""
        with self._thread_lock:
            held = False
            if self._writable and self._lock is not None:
                if _locked:
                    self._lock.acquire()
                    held = True
                elif self._lock.try_acquire():
                    held = True
            try:
                if held:
                    self._store.recover(self._index.pending())
                    self._store.clean_tmp()
                # one transaction: readers keep seeing the old index until the new one is complete
                with self._index.transaction():
                    self._index.clear_all()
                    count = self._store.reindex_all(REINDEX_PROCESSES, progress)
                    self._index.set_meta("built", datetime.now(UTC).isoformat())
                return count
            finally:
                if held and self._lock is not None:
                    self._lock.release()


REINDEX_PROCESSES = max(1, min(4, os.cpu_count() or 1))
