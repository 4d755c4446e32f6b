"""LocalRepository: the Repository protocol over a Fedora 6 OCFL storage root + SQLite index."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fcrctl import paths, rdf
from fcrctl.errors import (
    BadInput,
    ChecksumMismatch,
    Conflict,
    CorruptData,
    Gone,
    NotARepository,
    NotFound,
    PreconditionFailed,
    ReadOnly,
    Unsupported,
    from_os_error,
)
from fcrctl.names import utf8_name
from fcrctl.rdf import new_graph
from fcrctl.repository.base import (
    DIGEST_ALGORITHMS,
    EXTERNAL_HANDLINGS,
    INDIRECT_CONTAINER,
    NON_RDF_DESCRIPTION,
    NON_RDF_SOURCE,
    BinaryContent,
    Capabilities,
    Conditions,
    FixityResult,
    Problem,
    RdfPrefs,
    ResourceInfo,
    ResourceSpec,
    Version,
)
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.acls import AclsMixin, drop_acl_files
from fcrctl.repository.local.entries import headers_json, read_graph
from fcrctl.repository.local.index import JOURNAL_KEY, Index, Row
from fcrctl.repository.local.index_copies import PinnedIndex
from fcrctl.repository.local.index_sql import IndexCorrupt
from fcrctl.repository.local.lock import WriterLock
from fcrctl.repository.local.retention import RETAINED, Retention
from fcrctl.repository.local.store import Change, Store
from fcrctl.repository.local.support import (
    LimitedReader,
    cache_index_path,
    check_conditions,
    check_label,
    container_model,
    expected_digests,
    keep_model,
    label_message,
    read_headers,
    resolve_version,
    stream_size,
    to_version,
    version_ids,
)
from fcrctl.repository.local.transactions import TransactionsMixin

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple

log = logging.getLogger("fcrctl.local")

EBUCORE = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"
_CHUNK = 1024 * 1024


@dataclass
class _State:
    """One resource as stored (head or a past version): headers and absolute file paths."""

    headers: dict
    content: Path | None
    desc_headers: dict | None
    desc: Path | None
    row: Row

    @property
    def binary(self) -> bool:
        return self.headers.get("interactionModel") == NON_RDF_SOURCE


class LocalRepository(AclsMixin, TransactionsMixin):
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
        )
        self._dated: tuple[str, str] | None = None  # (created, modified) while inside dated()
        self._by: tuple[str | None, str | None] = (None, None)  # (createdBy, lastModifiedBy) likewise
        self._dated_lock = threading.Lock()
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
        self._store = Store(storage_root, self._tmp, self._index, user or "fcrctl", retention)
        self._lock = WriterLock(location / "lock", lock_timeout) if writable else None
        self._thread_lock = threading.RLock()
        if fresh or self._index.get_meta("built") is None:
            self.reindex(_locked=False)
        elif writable and self._lock is not None and self._needs_cleanup() and self._lock.try_acquire():
            # tmp/ is only used under the writer lock, so holding it means nobody is using tmp/
            try:
                self._store.recover(self._index.pending())
                self._store.clean_tmp()
            finally:
                self._lock.release()
        if writable and storage_root == location / "ocfl-root":
            self.sweep_transactions()  # expired or orphaned transaction staging (transactions.py)

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
                repo._commit_new("/", ResourceSpec(graph=root_graph), raw_graph=True)
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

    def _row(self, path: str, *, allow_deleted: bool = False) -> Row:
        row = self._index.get(path)
        if row is None:
            raise NotFound(f"no resource at {path}", path=path)
        if row.deleted and not allow_deleted:
            raise Gone(f"{path} was deleted (a tombstone remains): `fcrctl purge {path}` reuses the path", path=path)
        return row

    def _state(self, path: str, version: str | None = None) -> _State:
        row = self._row(path)
        if version is None:
            return self._row_state(row)
        inventory = self._store.inventory(row.object_rel)
        vid = resolve_version(inventory, version, path)
        files = ocfl.state_files(inventory, vid)
        obj = self._root / row.object_rel
        rid = paths.to_id(path)
        h_logical = hdr.headers_path(row.object_id, rid)
        if h_logical not in files:
            raise NotFound(f"{path} did not exist in version {version}", path=path)
        h = read_headers(obj / files[h_logical])
        if h.get("deleted"):
            raise Gone(f"{path} was deleted in version {version}", path=path)
        content = files.get(h.get("contentPath") or "")
        dh_logical = hdr.desc_headers_path(row.object_id, rid)
        dh = read_headers(obj / files[dh_logical]) if dh_logical in files else None
        desc = files.get(dh.get("contentPath") or "") if dh else None
        return _State(h, obj / content if content else None, dh, obj / desc if desc else None, row)

    def _abs(self, rel: str | None) -> Path | None:
        return self._root / rel if rel else None

    def _info(self, h: dict, path: str) -> ResourceInfo:
        # Binaries cannot have children (create refuses them): no query for the commonest case.
        binary = h.get("interactionModel") == NON_RDF_SOURCE
        return hdr.to_info(h, has_children=not binary and self._index.has_children(path))

    def _user_graph(self, st: _State) -> Graph:
        """Stored user triples (description triples for a binary), server-managed ones dropped."""
        f, h = (st.desc, st.desc_headers) if st.binary else (st.content, st.headers)
        if f is None or (h is not None and h.get("contentSize") == 0):  # nothing to read (most descriptions)
            return new_graph()
        return rdf.check_user_triples(read_graph(f), subject_id=st.headers["id"], lenient=True)

    def _row_state(self, row: Row) -> _State:
        """The head state of a row already read (``_state`` without the query)."""
        return _State(row.headers, self._abs(row.content_file), row.desc_headers, self._abs(row.desc_file), row)

    def _object_for(self, path: str, *, archival_group: bool = False, parent_row: Row | None = None) -> str:
        """The OCFL object a new resource at ``path`` belongs to: its nearest archival-group
        ancestor's, else its own. ``parent_row``: the parent's row, when the caller has it."""
        for ancestor in reversed(paths.ancestors(path)):
            row = parent_row if parent_row is not None and ancestor == parent_row.path else self._index.get(ancestor)
            if row is None:
                continue
            if row.headers.get("archivalGroup"):
                if archival_group:
                    raise Conflict(f"{path}: archival groups cannot be nested (inside {ancestor})", path=path)
                return row.object_id
            if row.object_id != paths.to_id(ancestor):
                return row.object_id
            # an object of its own, so no ancestor above is an archival group (its members live
            # in its object): looking further up would only read rows
            break
        return paths.to_id(path)

    def _now(self) -> str:
        return self._dated[1] if self._dated is not None else ocfl.now_iso()

    @contextlib.contextmanager
    def dated(self, created: datetime, modified: datetime, *, version: datetime | None = None,
              created_by: str | None = None, modified_by: str | None = None) -> Iterator[None]:
        """Writes inside carry these dates (and users) in their headers, and ``version`` (default:
        ``modified``) as their OCFL version's date, as Fedora's migration tool keeps a source's
        (``fcrctl import``). One block at a time."""
        with self._dated_lock:
            self._dated = (_iso(created), _iso(modified))
            self._by = (created_by, modified_by)
            self._store.created = _iso(version or modified)
            try:
                yield
            finally:
                self._dated = None
                self._by = (None, None)
                self._store.created = None

    # -- reading --------------------------------------------------------------------------------
    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        path, _ = paths.split_metadata(path)
        if version is None:  # the row's headers are the head state's: no file paths to build
            return self._info(self._row(path).headers, path)
        st = self._state(path, version)
        return self._info(st.headers, path)

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        path, _ = paths.split_metadata(path)
        st = self._state(path, version)
        graph = self._user_graph(st)  # read fresh: ours to extend, and a big one is not copied
        for triple in self._triples(path, st, prefs, user_triples=False):
            graph.add(triple)
        return graph

    def rdf_triples(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Iterator[Triple]:
        """``get_rdf``'s triples as they are read (duplicates possible), for writers that need no
        graph: the server's N-Triples listings, where building a graph of 2,000 embedded children
        cost as much as everything else. Errors about ``path`` itself are raised at once."""
        path, _ = paths.split_metadata(path)
        st = self._state(path, version)
        return self._triples(path, st, prefs)

    def _triples(self, path: str, st: _State, prefs: RdfPrefs, *, user_triples: bool = True) -> Iterator[Triple]:
        from rdflib import URIRef

        rid = paths.to_id(path)
        if user_triples:
            yield from self._user_graph(st)
        if prefs.server_managed:
            yield from rdf.server_triples(self._info(st.headers, path), rid)
        if st.binary:
            return
        if prefs.containment:
            yield from rdf.containment_triples(rid, (paths.to_id(r.path) for r in self._index.children(path)))
        if prefs.membership:
            graph = new_graph()
            self._membership(path, rid, graph)
            yield from graph
        if prefs.inbound:
            for subject, predicate in self._index.refs_to(path):
                if subject != path:
                    yield URIRef(paths.to_id(subject)), URIRef(predicate), URIRef(rid)
        if prefs.embed_children:
            for child in self._index.children(path):
                child_state = self._row_state(child)
                with contextlib.suppress(NotFound, Gone, CorruptData):
                    yield from self._user_graph(child_state)
                if prefs.server_managed:  # as Fedora embeds them: listings need no request per child
                    yield from rdf.server_triples(self._info(child.headers, child.path), paths.to_id(child.path))

    def _membership(self, path: str, rid: str, graph: Graph) -> None:
        from rdflib import URIRef

        for container, model, _resource, has_member, _is_member_of, inserted in self._index.memberships_for(path):
            crow = self._index.get(container)
            if crow is None or crow.deleted or has_member is None:
                continue
            for child in self._index.children(container):
                if model == INDIRECT_CONTAINER:
                    if not inserted:
                        continue
                    with contextlib.suppress(NotFound, Gone, CorruptData):
                        cgraph = self._user_graph(self._state(child.path))
                        for o in cgraph.objects(URIRef(paths.to_id(child.path)), URIRef(inserted)):
                            graph.add((URIRef(rid), URIRef(has_member), o))
                else:
                    graph.add((URIRef(rid), URIRef(has_member), URIRef(paths.to_id(child.path))))
        parent = paths.parent(path)
        if parent is not None:
            m = self._index.membership_of(parent)
            if m is not None and m[4]:
                graph.add((URIRef(rid), URIRef(m[4]), URIRef(paths.to_id(m[2]))))

    def open_binary(self, path: str, *, version: str | None = None,
                    byte_range: tuple[int, int | None] | None = None) -> BinaryContent:
        path, _ = paths.split_metadata(path)
        st = self._state(path, version)
        if not st.binary:
            raise BadInput(f"{path} is a container, not a binary: read its triples with `fcrctl get`", path=path)
        info = self._info(st.headers, path)
        stream = self._open_content(st, path)
        size = info.size if info.size is not None and info.size >= 0 else stream_size(stream)
        if byte_range is None:
            return BinaryContent(info, stream, 0, None, size)
        start, end = byte_range
        if size is None:
            stream.close()
            raise BadInput(f"{path}: the size of external content is unknown, byte ranges are not possible")
        last = size - 1 if end is None or end >= size else end
        if start < 0 or start > last:
            stream.close()
            raise BadInput(f"range {start}-{'' if end is None else end} not satisfiable: {path} has {size} bytes",
                           path=path)
        stream.seek(start)
        length = last - start + 1
        return BinaryContent(info, LimitedReader(stream, length), start, last, length)

    def _open_content(self, st: _State, path: str) -> BinaryIO:
        url = st.headers.get("externalUrl")
        if st.content is not None:
            try:
                return open(st.content, "rb")  # noqa: SIM115 - returned to the caller, who closes it
            except OSError as e:
                raise CorruptData(f"content of {path} is unreadable ({e.strerror}): run `fcrctl fixity`") from e
        if url:
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme == "file":
                try:
                    return open(urllib.parse.unquote(parsed.path), "rb")  # noqa: SIM115
                except OSError as e:
                    raise NotFound(f"external content {url} of {path} is unreadable: {e.strerror}") from e
            raise Unsupported(f"{path} is external content at {url} ({st.headers.get('externalHandling')}): "
                              "fetch it from that URL")
        raise CorruptData(f"{path} has no content file: run `fcrctl reindex`")

    def fixity(self, info: ResourceInfo, *, algorithm: str | None = None, client_side: bool = False) -> FixityResult:
        """Hash the content file where it lies; compare with the headers and the OCFL inventory."""
        from fcrctl.repository.local.fixity import verify_file

        del client_side  # the content is local: there is nothing to download
        st = self._state(info.path)
        if not st.binary:
            raise BadInput(f"{info.path} is a container: fixity applies to binaries", path=info.path)
        current = self._info(st.headers, info.path)
        if st.content is None:
            return FixityResult(path=info.path, outcome="UNVERIFIABLE", algorithm=algorithm or "sha512",
                                detail=f"external content at {current.external_url} is not stored here")
        return verify_file(current, st.content, self._root / st.row.object_rel, algorithm)

    def check(self, *, read_data: bool = False, progress: Callable[[int], None] | None = None) -> Iterator[Problem]:
        """Validate the whole storage root, and the index against it (see local/check.py);
        ``progress(1)`` after every object checked."""
        from fcrctl.repository.local.check import check_storage_root

        yield from check_storage_root(self._root, self._index, read_data=read_data,
                                      on_object=None if progress is None else lambda: progress(1))

    def children(self, path: str, *, recursive: bool = False) -> Iterator[ResourceInfo]:
        path = paths.normalize(path)
        self._row(path)  # NotFound / Gone now, not at the first next()
        return (self._info(row.headers, row.path) for row in self._index.children(path, recursive=recursive))

    def binaries_modified_since(self, path: str, since: datetime) -> Iterator[ResourceInfo]:
        """Binaries below ``path`` modified at or after ``since`` (a superset: callers compare
        exactly), picked by the index instead of parsing every resource's headers."""
        path = paths.normalize(path)
        self._row(path)
        second = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if since.tzinfo else since.strftime(
            "%Y-%m-%dT%H:%M:%S")
        return (self._info(row.headers, row.path)
                for row in self._index.modified_since(path, NON_RDF_SOURCE, second))

    # -- writing ----------------------------------------------------------------------------------
    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        path = paths.normalize(path)
        with self._writing():
            return self._create(path, spec, parents=parents)

    def _create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        if path == "/":
            raise Conflict("the root container / always exists", path=path)
        existing = self._index.get(path)
        if existing is not None:
            if existing.deleted:
                raise Gone(f"{path} was deleted (a tombstone remains): `fcrctl purge {path}` reuses the path",
                           path=path)
            raise Conflict(f"{path} already exists: replace it with `fcrctl put {path} --file FILE`", path=path)
        parent = paths.parent(path) or "/"
        prow = self._index.get(parent)
        if prow is None:
            if not parents:
                raise NotFound(f"parent {parent} of {path} does not exist: create it first or use --parents",
                               path=path)
            self._create(parent, ResourceSpec(), parents=True)
            prow = self._index.get(parent)
            assert prow is not None
        if prow.deleted:
            raise Gone(f"parent {parent} was deleted: `fcrctl purge {parent}` first", path=path)
        if prow.model == NON_RDF_SOURCE:
            raise Conflict(f"cannot create children of a binary ({parent})", path=path)
        return self._commit_new(path, spec, parent_row=prow)

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        parent = paths.normalize(parent)
        with self._writing():
            prow = self._row(parent)
            if prow.model == NON_RDF_SOURCE:
                raise Conflict(f"cannot create children of a binary ({parent})", path=parent)
            if slug:
                try:
                    candidate = paths.join(parent, slug) if "/" not in slug else None
                except BadInput:
                    candidate = None  # an unusable slug is a hint only: Fedora picks a name instead
                if candidate is not None and self._index.get(candidate) is None:
                    return self._commit_new(candidate, spec)
            while True:
                candidate = paths.join(parent, str(uuid.uuid4()))
                if self._index.get(candidate) is None:
                    return self._commit_new(candidate, spec)

    def _commit_new(self, path: str, spec: ResourceSpec, *, raw_graph: bool = False,
                    parent_row: Row | None = None) -> ResourceInfo:
        rid = paths.to_id(path)
        object_id = self._object_for(path, archival_group=spec.archival_group, parent_row=parent_row)
        now = self._now()
        base = {"id": rid, "parent": paths.to_id(paths.parent(path) or "/") if path != "/" else paths.ROOT_ID,
                "stateToken": hdr.new_state_token(), "createdDate": self._dated[0] if self._dated else now}
        if self._by[0] or self._user:
            base["createdBy"] = self._by[0] or self._user
        change = Change(object_id, state=dict(self._store.head_state(object_id)) if object_id != rid else {})
        self._put_resource(change, path, spec, base, now, raw_graph=raw_graph)
        self._store.commit([change])
        # the headers just stored (what info() would read back from the index); a resource that
        # did not exist has no children
        return hdr.to_info(change.known_headers[hdr.headers_path(object_id, rid)], has_children=False)

    def _put_resource(self, change: Change, path: str, spec: ResourceSpec, base: dict, now: str, *,
                      raw_graph: bool = False, desc_graph: Graph | None = None) -> None:
        """Add a resource's files (headers, content, description) to ``change.state``."""
        rid = paths.to_id(path)
        oid = change.object_id
        h = dict(base)
        h["lastModifiedDate"] = now
        h["mementoCreatedDate"] = now
        if self._by[1] or self._user:
            h["lastModifiedBy"] = self._by[1] or self._user
        h["archivalGroup"] = bool(spec.archival_group) and oid == rid
        h["objectRoot"] = oid == rid
        h["deleted"] = False
        h.pop("archivalGroupId", None)
        if oid != rid:
            h["archivalGroupId"] = oid
        if spec.is_binary:
            self._put_binary(change, path, spec, h, now, desc_graph)
        else:
            model = container_model(spec.model)
            graph = spec.graph if spec.graph is not None else new_graph()
            if not raw_graph:
                graph = rdf.check_user_triples(graph, subject_id=rid, lenient=spec.lenient)
            data = rdf.write_ntriples(graph)
            logical = hdr.container_content_path(oid, rid)
            nf = ocfl.NewFile(data=data)
            h.update({"interactionModel": model, "contentSize": len(data),
                      "digests": [f"urn:sha-512:{nf.sha512()}"], "contentPath": logical})
            change.state[logical] = nf
            change.known_graphs[path] = graph
        h["headersVersion"] = hdr.HEADERS_VERSION
        hlogical = hdr.headers_path(oid, rid)
        change.state[hlogical] = ocfl.NewFile(data=headers_json(h))
        change.known_headers[hlogical] = h

    def _put_binary(self, change: Change, path: str, spec: ResourceSpec, h: dict, now: str,
                    desc_graph: Graph | None) -> None:
        rid = paths.to_id(path)
        oid = change.object_id
        logical = hdr.binary_content_path(oid, rid)
        h["interactionModel"] = NON_RDF_SOURCE
        h["mimeType"] = spec.mime_type or h.get("mimeType") or "application/octet-stream"
        h["filename"] = utf8_name(spec.filename) if spec.filename is not None else h.get("filename", "")
        for key in ("externalUrl", "externalHandling", "contentPath"):
            h.pop(key, None)
        expected = expected_digests(spec.digests)
        content = spec.content
        handling = spec.external_handling
        if spec.external_url is not None:
            handling = handling or "proxy"
            if handling not in EXTERNAL_HANDLINGS:
                raise BadInput(f"unknown external handling {handling!r}: use copy, redirect or proxy")
            parsed = urllib.parse.urlparse(spec.external_url)
            if handling == "copy":
                if parsed.scheme != "file":
                    raise Unsupported(f"cannot copy {spec.external_url}: only file:// URLs can be copied offline; "
                                      "use redirect or proxy")
                try:
                    content = open(urllib.parse.unquote(parsed.path), "rb")  # noqa: SIM115
                except OSError as e:
                    raise NotFound(f"external content {spec.external_url} is unreadable: {e.strerror}") from e
            else:
                h["externalUrl"] = spec.external_url
                h["externalHandling"] = handling
                size = -1
                if parsed.scheme == "file":
                    with contextlib.suppress(OSError):
                        size = os.stat(urllib.parse.unquote(parsed.path)).st_size
                h["contentSize"] = size
                h["digests"] = []
                content = None
        if "externalUrl" not in h:
            if content is None:
                content = io.BytesIO(b"")
            try:
                tmpfile, size, digests = self._spool(content)
            finally:
                if content is not spec.content:
                    content.close()
            for alg, want in expected.items():
                if digests[alg] != want:
                    tmpfile.unlink(missing_ok=True)
                    raise ChecksumMismatch(
                        f"checksum mismatch for {path}: expected {alg} {want}, content has {digests[alg]}; "
                        "nothing was stored", path=path)
            h["contentSize"] = size
            h["digests"] = hdr.digest_urns(digests)
            h["contentPath"] = logical
            change.state[logical] = ocfl.NewFile(source=tmpfile, digest=digests["sha512"])
        # the description (fcr:metadata) lives beside the binary
        graph = desc_graph if desc_graph is not None else (spec.graph if spec.graph is not None else new_graph())
        graph = rdf.check_user_triples(graph, subject_id=rid, lenient=spec.lenient)
        self._put_description(change, path, graph, h.get("createdDate", now), now)

    def _put_description(self, change: Change, path: str, graph: Graph, created: str, now: str) -> None:
        """Write a binary's description triples and their headers (``.fcrepo/...~fcr-desc.json``)."""
        rid = paths.to_id(path)
        oid = change.object_id
        data = rdf.write_ntriples(graph)
        dlogical = hdr.desc_content_path(oid, rid)
        dnf = ocfl.NewFile(data=data)
        change.state[dlogical] = dnf
        change.known_graphs[path] = graph
        dh = {"id": rid + "/" + paths.METADATA, "parent": rid, "stateToken": hdr.new_state_token(),
              "interactionModel": NON_RDF_DESCRIPTION, "contentSize": len(data),
              "digests": [f"urn:sha-512:{dnf.sha512()}"], "createdDate": created,
              "lastModifiedDate": now, "mementoCreatedDate": now, "archivalGroup": False, "objectRoot": False,
              "deleted": False, "contentPath": dlogical, "headersVersion": hdr.HEADERS_VERSION}
        if oid != rid:
            dh["archivalGroupId"] = oid
        dhl = hdr.desc_headers_path(oid, rid)
        change.state[dhl] = ocfl.NewFile(data=headers_json(dh))
        change.known_headers[dhl] = dh

    def _spool(self, content: BinaryIO) -> tuple[Path, int, dict[str, str]]:
        """Stream an upload into tmp/ while computing every digest Fedora records.

        hashlib releases the GIL on large buffers, so half of the digests run on a helper
        thread: on two cores this nearly doubles upload throughput."""
        hashes = {alg: hashlib.new(alg) for alg in DIGEST_ALGORITHMS}
        local = [hashes["sha512"], hashes["sha1"]]
        remote = [hashes["sha256"], hashes["md5"]]

        def update(group: list, chunk: bytes) -> None:
            for hsh in group:
                hsh.update(chunk)

        tmpfile = self._tmp / f"upload-{uuid.uuid4().hex}"
        size = 0
        try:
            with open(tmpfile, "wb") as out, ThreadPoolExecutor(max_workers=1) as pool:
                while True:
                    chunk = content.read(_CHUNK)
                    if not chunk:
                        break
                    pending = pool.submit(update, remote, chunk) if len(chunk) >= 65536 else None
                    if pending is None:
                        update(remote, chunk)
                    update(local, chunk)
                    out.write(chunk)
                    if pending is not None:
                        pending.result()
                    size += len(chunk)
        except OSError as e:
            tmpfile.unlink(missing_ok=True)
            raise from_os_error(e, "storing the upload") or BadInput(f"cannot store the upload: {e}") from e
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): a partial upload must not stay behind
            tmpfile.unlink(missing_ok=True)
            raise
        return tmpfile, size, {alg: hsh.hexdigest() for alg, hsh in hashes.items()}

    def replace(self, path: str, spec: ResourceSpec, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        path = paths.normalize(path)
        with self._writing():
            row = self._index.get(path)
            if row is None:
                if conditions.if_match is not None:
                    raise PreconditionFailed(f"{path} does not exist, so If-Match cannot match", path=path)
                return self._create(path, spec), True
            row = self._row(path)
            check_conditions(row, conditions, path)
            was_binary = row.model == NON_RDF_SOURCE
            if spec.is_binary != was_binary:
                raise Conflict(f"cannot change the interaction model of {path} "
                               f"({'binary' if was_binary else 'container'}): delete and recreate it", path=path)
            if not was_binary and spec.model is not None and container_model(spec.model) != row.model:
                raise Conflict(f"cannot change the interaction model of {path} from {row.model}", path=path)
            desc = None
            if was_binary:
                st = self._state(path)
                desc = self._user_graph(st)
            self._rewrite(row, lambda change, h, now: self._put_resource(
                change, path, keep_model(spec, row), h, now, desc_graph=desc))
            return self.info(path), False

    def _rewrite(self, row: Row, put) -> None:
        """New version of the resource at ``row``: ``put(change, headers_base, now)`` adds its files."""
        rid = paths.to_id(row.path)
        oid = row.object_id
        state = dict(self._store.head_state(oid))
        # drop the resource's old files; unchanged content is re-added by digest (dedupe)
        for logical in (hdr.container_content_path(oid, rid), hdr.binary_content_path(oid, rid),
                        hdr.desc_content_path(oid, rid), hdr.desc_headers_path(oid, rid)):
            if row.model == NON_RDF_SOURCE or logical == hdr.container_content_path(oid, rid):
                state.pop(logical, None)
        change = Change(oid, state=state)
        base = {k: v for k, v in row.headers.items() if k in ("id", "parent", "createdDate", "createdBy",
                                                                "mimeType", "filename", "archivalGroupId")}
        base["stateToken"] = hdr.new_state_token()
        put(change, base, self._now())
        if row.headers.get("archivalGroup"):
            change.known_headers[hdr.headers_path(oid, rid)]["archivalGroup"] = True
            change.state[hdr.headers_path(oid, rid)] = ocfl.NewFile(
                data=headers_json(change.known_headers[hdr.headers_path(oid, rid)]))
        self._store.commit([change])

    def replace_description(self, path: str, graph: Graph, *, conditions: Conditions = Conditions(),
                            lenient: bool = False) -> ResourceInfo:
        path, _ = paths.split_metadata(path)
        with self._writing():
            row = self._row(path)
            check_conditions(row, conditions, path)
            if row.model != NON_RDF_SOURCE:
                raise BadInput(f"{path} is a container: replace its triples with `fcrctl put {path} --file FILE`",
                               path=path)
            self._write_description(row, graph, lenient)
            return self.info(path)

    def _write_description(self, row: Row, graph: Graph, lenient: bool) -> None:
        from rdflib import Graph as RGraph

        rid = paths.to_id(row.path)
        mime = filename = None
        kept = RGraph()
        for s, p, o in graph:
            if str(s) == rid and str(p) == EBUCORE + "hasMimeType":
                mime = str(o)
            elif str(s) == rid and str(p) == EBUCORE + "filename":
                filename = str(o)
            else:
                kept.add((s, p, o))
        kept = rdf.check_user_triples(kept, subject_id=rid, lenient=lenient)
        spec = ResourceSpec(binary=True, mime_type=mime, filename=filename, lenient=lenient)
        content_logical = hdr.binary_content_path(row.object_id, rid)
        current = self._store.head_state(row.object_id)

        def put(change: Change, h: dict, now: str) -> None:
            # only the description and headers change; stored content is kept by digest
            self._put_binary_headers_only(change, row.path, spec, h, now, kept)
            if content_logical in current:
                change.state[content_logical] = current[content_logical]

        self._rewrite(row, put)

    def _put_binary_headers_only(self, change: Change, path: str, spec: ResourceSpec, h: dict, now: str,
                                 desc: Graph) -> None:
        row = self._row(path)
        old = row.headers
        h.update({k: old[k] for k in ("contentSize", "digests", "externalUrl", "externalHandling") if k in old})
        if old.get("contentPath"):
            h["contentPath"] = old["contentPath"]
        spec_copy = ResourceSpec(binary=True, mime_type=spec.mime_type or old.get("mimeType"),
                                 filename=spec.filename if spec.filename is not None else old.get("filename"),
                                 lenient=True)
        full = dict(h)
        full.update({"lastModifiedDate": now, "mementoCreatedDate": now, "archivalGroup": False,
                     "objectRoot": change.object_id == paths.to_id(path), "deleted": False,
                     "interactionModel": NON_RDF_SOURCE, "mimeType": spec_copy.mime_type or "application/octet-stream",
                     "filename": spec_copy.filename or ""})
        if self._user:
            full["lastModifiedBy"] = self._user
        full["headersVersion"] = hdr.HEADERS_VERSION
        self._put_description(change, path, desc, (row.desc_headers or {}).get("createdDate", now), now)
        hl = hdr.headers_path(change.object_id, paths.to_id(path))
        change.state[hl] = ocfl.NewFile(data=headers_json(full))
        change.known_headers[hl] = full

    def patch(self, path: str, update: str, *, conditions: Conditions = Conditions(),
              lenient: bool = False) -> ResourceInfo:
        from rdflib import Literal, URIRef

        path, _ = paths.split_metadata(path)
        with self._writing():
            row = self._row(path)
            check_conditions(row, conditions, path)
            st = self._state(path)
            rid = paths.to_id(path)
            graph = self._user_graph(st)
            if st.binary:
                if st.headers.get("mimeType"):
                    graph.add((URIRef(rid), URIRef(EBUCORE + "hasMimeType"), Literal(st.headers["mimeType"])))
                if st.headers.get("filename"):
                    graph.add((URIRef(rid), URIRef(EBUCORE + "filename"), Literal(utf8_name(st.headers["filename"]))))
            new = rdf.apply_update(graph, update, base=rid)
            if st.binary:
                self._write_description(row, new, lenient)
            else:
                new = rdf.check_user_triples(new, subject_id=rid, lenient=lenient)
                spec = ResourceSpec(graph=new, model=row.model, lenient=lenient,
                                    archival_group=bool(row.headers.get("archivalGroup")))
                self._rewrite(row, lambda change, h, now: self._put_resource(change, path, spec, h, now))
            return self.info(path)

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        path = paths.normalize(path)
        if path == "/":
            raise BadInput("the root container / cannot be deleted")
        with self._writing():
            row = self._row(path)
            check_conditions(row, conditions, path)
            rows = [row] + list(self._index.children(path, recursive=True))
            self._store.commit(self._tombstone_changes(rows))

    def _tombstone_changes(self, rows: list[Row], by_object: dict[str, Change] | None = None) -> list[Change]:
        """Tombstone ``rows``, merging into ``by_object`` (changes already planned per object)."""
        now = self._now()
        by_object = {} if by_object is None else by_object
        for row in rows:
            oid = row.object_id
            rid = paths.to_id(row.path)
            change = by_object.get(oid)
            if change is None:
                change = by_object[oid] = Change(oid, state=dict(self._store.head_state(oid)))
            for logical in (hdr.container_content_path(oid, rid), hdr.binary_content_path(oid, rid),
                            hdr.desc_content_path(oid, rid), hdr.desc_headers_path(oid, rid)):
                if row.model == NON_RDF_SOURCE or logical == hdr.container_content_path(oid, rid):
                    change.state.pop(logical, None)
            drop_acl_files(change.state, row)  # a deleted resource's ACL goes with it, as in Fedora 6
            h = dict(row.headers)
            h.update({"stateToken": hdr.new_state_token(), "lastModifiedDate": now, "mementoCreatedDate": now,
                      "deleted": True, "contentSize": -1, "digests": []})
            h.pop("contentPath", None)
            if self._user:
                h["lastModifiedBy"] = self._user
            hl = hdr.headers_path(oid, rid)
            change.state[hl] = ocfl.NewFile(data=headers_json(h))
            change.known_headers[hl] = h
        return list(by_object.values())

    def purge(self, path: str) -> None:
        path = paths.normalize(path)
        with self._writing():
            row = self._row(path, allow_deleted=True)
            if not row.deleted:
                raise Conflict(f"{path} is live: delete it first (`fcrctl delete {path}`)", path=path)
            rows = [row] + list(self._index.children(path, recursive=True, include_deleted=True))
            live = [r.path for r in rows if not r.deleted]
            if live:
                raise Conflict(f"{live[0]} below {path} is live: delete it first", path=path)
            changes: dict[str, Change] = {}
            for r in rows:
                rid = paths.to_id(r.path)
                if r.object_id == rid or paths.is_within(paths.from_id(r.object_id), path):
                    changes[r.object_id] = Change(r.object_id, purge=True)
                elif r.object_id not in changes:
                    changes[r.object_id] = Change(r.object_id, state=dict(self._store.head_state(r.object_id)))
                change = changes[r.object_id]
                if not change.purge:
                    change.state.pop(hdr.headers_path(r.object_id, rid), None)
            self._store.commit(list(changes.values()))

    def move(self, source: str, destination: str) -> ResourceInfo:
        return self._copy(source, destination, move=True)

    def copy(self, source: str, destination: str) -> ResourceInfo:
        return self._copy(source, destination, move=False)

    def _copy(self, source: str, destination: str, *, move: bool) -> ResourceInfo:
        from rdflib import URIRef

        source, destination = paths.normalize(source), paths.normalize(destination)
        if source == "/":
            raise BadInput("the root container / cannot be moved or copied")
        if paths.is_within(destination, source):
            raise Conflict(f"cannot {'move' if move else 'copy'} {source} into itself ({destination})", path=source)
        with self._writing():
            src = self._row(source)
            existing = self._index.get(destination)
            if existing is not None:
                what = " as a tombstone (purge it first)" if existing.deleted else ""
                raise Conflict(f"{destination} already exists{what}", path=destination)
            dparent = paths.parent(destination) or "/"
            prow = self._row(dparent)
            if prow.model == NON_RDF_SOURCE:
                raise Conflict(f"cannot create children of a binary ({dparent})", path=destination)
            src_id, dst_id = paths.to_id(source), paths.to_id(destination)

            def rewrite(term):
                value = str(term)
                if isinstance(term, URIRef) and (value == src_id or value.startswith(src_id + "/")
                                                 or value.startswith(src_id + "#")):
                    return URIRef(dst_id + value[len(src_id):])
                return term

            rows = [src] + list(self._index.children(source, recursive=True))
            now = self._now()
            changes: dict[str, Change] = {}
            ag_roots: dict[str, str] = {}
            for r in rows:
                new_path = destination + r.path[len(source):]
                new_id = paths.to_id(new_path)
                oid = next((ag for root, ag in ag_roots.items() if paths.is_within(new_path, root)), None)
                if oid is None:
                    oid = self._object_for(new_path)
                if r.headers.get("archivalGroup") and oid == new_id:
                    ag_roots[new_path] = new_id
                change = changes.get(oid)
                if change is None:
                    change = changes[oid] = Change(oid, state=dict(self._store.head_state(oid)) if oid != new_id
                                                   else {})
                st = self._state(r.path)
                graph = new_graph()
                for s, p, o in self._user_graph(st):
                    graph.add((rewrite(s), p, rewrite(o)))
                base = {"id": new_id, "parent": paths.to_id(paths.parent(new_path) or "/"),
                        "stateToken": hdr.new_state_token(),
                        "createdDate": r.headers.get("createdDate") if move else now}
                for key in ("createdBy", "mimeType", "filename"):
                    if key in r.headers:
                        base[key] = r.headers[key]
                if st.binary:
                    spec = ResourceSpec(binary=True, mime_type=r.headers.get("mimeType"),
                                        filename=r.headers.get("filename"), lenient=True)
                    if st.headers.get("externalUrl"):
                        spec.external_url = st.headers["externalUrl"]
                        spec.external_handling = st.headers.get("externalHandling")
                    else:
                        spec.content = open(st.content, "rb") if st.content else io.BytesIO(b"")  # noqa: SIM115
                    try:
                        self._put_resource(change, new_path, spec, base, now, desc_graph=graph)
                    finally:
                        if spec.content is not None:
                            spec.content.close()
                else:
                    spec = ResourceSpec(graph=graph, model=r.model, lenient=True,
                                        archival_group=bool(r.headers.get("archivalGroup")))
                    self._put_resource(change, new_path, spec, base, now, raw_graph=True)
                self._carry_acl(r, change, new_path, rewrite)
            if move:
                self._tombstone_changes(rows, changes)
            self._store.commit(list(changes.values()))
            return self.info(destination)

    def _carry_acl(self, row: Row, change: Change, new_path: str, rewrite) -> None:  # type: ignore[no-untyped-def]
        """A moved or copied resource keeps its ACL (ids inside it follow the resource)."""
        found = self._index.acl(row.path)
        if found is None:
            return
        graph = new_graph()
        f = self._abs(found[1])
        for s, p, o in (read_graph(f) if f is not None else new_graph()):
            graph.add((rewrite(s), p, rewrite(o)))  # PATH/fcr:acl#x is below PATH: renamed too
        target = Row(new_path, paths.parent(new_path), change.object_id, "", row.model, False, {})
        self._put_acl_files(change, target, graph, None)

    # -- versions ---------------------------------------------------------------------------------
    def versions(self, path: str) -> list[Version]:
        path, _ = paths.split_metadata(path)
        row = self._row(path)
        inventory = self._store.inventory(row.object_rel)
        return [to_version(vid, inventory["versions"][vid]) for vid in version_ids(inventory)]

    def create_version(self, path: str, *, label: str | None = None) -> Version:
        path, _ = paths.split_metadata(path)
        with self._writing():
            row = self._row(path)
            inventory = self._store.inventory(row.object_rel)
            if label is not None:
                check_label(label, inventory, path)
            state = self._store.head_state(row.object_id)
            self._store.commit([Change(row.object_id, state=dict(state), message=label_message(label))])
            inventory = self._store.inventory(row.object_rel)
            return to_version(inventory["head"], inventory["versions"][inventory["head"]])

    def revert(self, path: str, version: str) -> ResourceInfo:
        path, _ = paths.split_metadata(path)
        with self._writing():
            row = self._row(path)
            inventory = self._store.inventory(row.object_rel)
            vid = resolve_version(inventory, version, path)
            state: dict[str, str | ocfl.NewFile] = dict(ocfl.state_digests(inventory, vid))
            rid = paths.to_id(path)
            hl = hdr.headers_path(row.object_id, rid)
            if hl not in state:
                raise NotFound(f"{path} did not exist in version {version}", path=path)
            files = ocfl.state_files(inventory, vid)
            h = read_headers(self._root / row.object_rel / files[hl])
            now = self._now()
            h.update({"stateToken": hdr.new_state_token(), "lastModifiedDate": now, "mementoCreatedDate": now})
            state[hl] = ocfl.NewFile(data=headers_json(h))
            change = Change(row.object_id, state=state, message=f"revert to {vid}")
            self._store.commit([change])
            return self.info(path)

    def delete_version(self, path: str, version: str) -> None:
        raise Unsupported("the local repository keeps OCFL versions immutable; versions cannot be deleted")

    # -- maintenance --------------------------------------------------------------------------------
    def object_count(self) -> int:
        """Objects the index knows (a reindex's expected work, for its progress bar)."""
        return self._index.conn.execute("SELECT count(DISTINCT object_rel) FROM resources").fetchone()[0]

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


def _iso(value: datetime) -> str:
    """A date as Fedora 6 writes them in headers and inventories (UTC, microseconds, Z)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
