"""Storage-root plumbing shared by LocalRepository: committing object versions with the
write protocol (intent -> build in tmp -> sync -> rename -> index), indexing objects,
and per-object crash recovery."""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from fcrctl import forked, paths, rdf
from fcrctl.errors import BadInput, CorruptData, FcrctlError, from_os_error
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, LDP, NON_RDF_SOURCE
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index, ObjectEntries, Row
from fcrctl.repository.local.retention import Retention

log = logging.getLogger("fcrctl.local")
JOURNAL = "journal.json"
PARALLEL_FROM = 16  # objects in one commit from which they are built on threads
WORKERS = int(os.environ.get("FCRCTL_COMMIT_WORKERS", "4"))


@dataclass
class ReadObject:
    """What reading one object directory gave: its entries, or why it is invalid."""

    rel: str
    object_id: str | None
    entries: ObjectEntries | None
    reason: str | None


_FORKED: Store | None = None


def _read_tops_forked(tops: list[str]) -> list[ReadObject]:
    store = _FORKED
    assert store is not None
    out: list[ReadObject] = []
    for top in tops:
        out.extend(store.read_object_dir(obj_dir) for obj_dir in ocfl.iter_object_dirs(store.root / top))
    return out


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
    def commit(self, changes: list[Change]) -> None:
        """Apply changes with the crash-safe protocol; the caller holds the writer lock."""
        ids = [c.object_id for c in changes]
        self.index.mark_pending(ids)
        prepared: list[tuple[Change, ocfl.PreparedVersion | None]] = []
        entries: list[ObjectEntries] | None = None
        dirs: set[str] = set()
        # many new objects link one namaste file instead of each creating its own
        namaste = self.tmp / f"namaste-{uuid.uuid4().hex}" if len(changes) >= PARALLEL_FROM else None
        try:
            if namaste is not None:
                ocfl.write_object_namaste(namaste)
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
                    ocfl.install_version(p, dirs)
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
        self.index.apply(entries, removed, clear_pending=ids)

    def _entries(self, prepared: list[tuple[Change, ocfl.PreparedVersion | None]], *,
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

    def _sync_tmp_computing(self, prepared: list[tuple[Change, ocfl.PreparedVersion | None]]) -> list[ObjectEntries]:
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

    def _prepare(self, changes: list[Change], namaste: Path | None) -> list[tuple[Change, ocfl.PreparedVersion | None]]:
        """Build every new version under tmp/. Many objects are built on threads: most of the time
        goes to inode allocations (mkdir, create), which wait on the disk, not the CPU."""

        root = os.fspath(self.root)
        tuple_dirs: set[str] = set()  # known to exist

        def one(change: Change) -> ocfl.PreparedVersion | None:
            if change.purge:
                return None
            p = ocfl.prepare_version(self.root, self.tmp, change.object_id, change.state,
                                     message=change.message, user=self.user, namaste=namaste,
                                     created=change.created or self.created)
            if p.new_object:
                # create tuple dirs now so the one sync that follows covers them too
                ocfl.ensure_dirs_below(root, os.path.dirname(ocfl.object_rel(change.object_id)), tuple_dirs)
            return p

        if len(changes) < PARALLEL_FROM:
            out: list[tuple[Change, ocfl.PreparedVersion | None]] = []
            try:
                for change in changes:
                    out.append((change, one(change)))
            except BaseException:
                _discard(p for _, p in out)
                raise
            return out
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fcrctl-commit") as pool:
            futures = [pool.submit(one, change) for change in changes]
            wait(futures)
        failed = next((f.exception() for f in futures if f.exception() is not None), None)
        if failed is not None:
            _discard(f.result() for f in futures if f.exception() is None)
            raise failed
        return [(change, f.result()) for change, f in zip(changes, futures, strict=True)]

    # -- indexing -------------------------------------------------------------------------------
    def entries(
        self,
        object_id: str,
        object_rel: str,
        inventory: dict,
        known_headers: dict[str, dict] | None = None,
        known_graphs: dict[str, object] | None = None,
        known_data: dict[str, bytes] | None = None,
        content_prefix: str | None = None,
        read_from=None,  # type: ignore[no-untyped-def]
    ) -> ObjectEntries:
        """Index entries for an object's head state. CorruptData if the object is unusable.

        ``known_*`` save re-reading what the caller just wrote (headers by logical path, graphs
        by resource path, content bytes by logical path). Content files are recorded as
        ``<content_prefix>/<manifest path>`` (default: the object's own directory); ``read_from``
        (manifest path -> file) reads files that are not in place yet."""
        known_headers = known_headers or {}
        known_graphs = known_graphs or {}
        known_data = known_data or {}
        files = ocfl.state_files(inventory)
        prefix = object_rel if content_prefix is None else content_prefix
        if read_from is None:
            def read_from(content: str) -> Path:
                return self.file(f"{prefix}/{content}")
        all_headers: dict[str, dict] = {}
        for logical, content in files.items():
            if not (logical.startswith(".fcrepo/") and logical.endswith(".json")):
                continue
            h = known_headers.get(logical)
            if h is None:
                h = _read_json(read_from(content), object_id, logical)
            all_headers[logical] = h
        if not all_headers:
            raise CorruptData(f"object {object_id} has no .fcrepo headers in its head version")
        descs = {h["id"]: h for h in all_headers.values() if hdr.is_description(h)}
        out = ObjectEntries(object_id)
        for h in all_headers.values():
            if hdr.is_acl(h):
                if not h.get("deleted") and isinstance(h.get("id"), str):
                    out.acls.append((paths.from_id(h["id"][: -len("/fcr:acl")]), h,
                                     self._content_file(prefix, files, h, object_id)))
                continue
            if hdr.is_description(h):
                continue
            rid = h.get("id")
            if not isinstance(rid, str):
                raise CorruptData(f"object {object_id}: headers without an id")
            path = paths.from_id(rid)
            parent = None if path == "/" else paths.parent(path)
            deleted = bool(h.get("deleted"))
            content_file = self._content_file(prefix, files, h, object_id)
            desc = descs.get(rid + "/" + paths.METADATA)
            desc_file = self._content_file(prefix, files, desc, object_id) if desc else None
            row = Row(path, parent, object_id, object_rel, h.get("interactionModel", ""), deleted, h,
                      content_file, desc, desc_file)
            out.rows.append(row)
            if deleted:
                continue
            rdf_file, rdf_headers = (desc_file, desc) if row.model == NON_RDF_SOURCE else (content_file, h)
            graph = known_graphs.get(path)
            if graph is None and rdf_file is not None:
                data = known_data.get((rdf_headers or {}).get("contentPath") or "")
                graph = _graph_if_needed(read_from(rdf_file[len(prefix) + 1:]) if data is None else data, row.model)
            if graph is not None:
                self._graph_entries(out, path, rid, row.model, graph)
        return out

    def file(self, rel: str) -> Path:
        """The file behind a content path recorded in the index."""
        return self.root / rel

    def _content_file(self, prefix: str, files: dict[str, str], h: dict | None, object_id: str) -> str | None:
        if h is None or h.get("deleted"):
            return None
        logical = h.get("contentPath")
        if not logical:
            return None
        content = files.get(logical)
        if content is None:
            if h.get("externalHandling"):
                return None
            raise CorruptData(f"object {object_id}: {logical} (contentPath of {h.get('id')}) is not in its state")
        return f"{prefix}/{content}"

    @staticmethod
    def _graph_entries(out: ObjectEntries, path: str, rid: str, model: str, graph) -> None:
        from rdflib import URIRef

        for s, p, o in graph:
            if isinstance(o, URIRef):
                target = str(o).split("#", 1)[0]
                if target == paths.ROOT_ID or target.startswith(paths.ROOT_ID + "/"):
                    try:
                        out.refs.append((paths.from_id(str(s).split("#", 1)[0]) if str(s).startswith(
                            paths.ROOT_ID) else path, str(p), paths.from_id(target)))
                    except BadInput:
                        continue
        if model in (DIRECT_CONTAINER, INDIRECT_CONTAINER):
            s = URIRef(rid)

            def one(pred: str) -> str | None:
                value = graph.value(s, URIRef(LDP + pred))
                return str(value) if value is not None else None

            resource = one("membershipResource") or rid
            try:
                resource_path = paths.from_id(resource)
            except BadInput:
                resource_path = resource
            has_member = one("hasMemberRelation")
            is_member_of = one("isMemberOfRelation")
            if has_member is None and is_member_of is None:
                has_member = LDP + "member"
            inserted = one("insertedContentRelation") if model == INDIRECT_CONTAINER else None
            out.membership.append((path, model, resource_path, has_member, is_member_of, inserted))

    def index_object_dir(self, obj_dir: Path) -> int:
        """(Re)index one object directory; invalid objects are recorded, not raised."""
        return self.apply_read(self.read_object_dir(obj_dir))

    def read_object_dir(self, obj_dir: Path) -> ReadObject:
        """An object directory's index entries, or why it is invalid (no index access: forked
        reindex workers call this)."""
        rel = obj_dir.relative_to(self.root).as_posix()
        object_id: str | None = None
        try:
            inventory = ocfl.read_inventory(obj_dir)
            object_id = inventory["id"]
            entries = self.entries(object_id, rel, inventory)
            for row in entries.rows:
                if row.content_file and not (self.root / row.content_file).exists():
                    raise CorruptData(f"object {object_id}: content file {row.content_file} is missing")
        except (FcrctlError, OSError, KeyError, ValueError) as e:
            return ReadObject(rel, object_id, None, getattr(e, "message", None) or str(e))
        return ReadObject(rel, object_id, entries, None)

    def apply_read(self, read: ReadObject) -> int:
        if read.entries is None:
            log.warning("skipping invalid OCFL object %s (%s): %s", read.rel, read.object_id or "unknown id",
                        read.reason)
            if read.object_id is not None:
                self.index.apply([], [read.object_id])
            self.index.mark_invalid(read.rel, read.object_id, read.reason or "")
            return 0
        self.index.apply([read.entries])
        return len(read.entries.rows)

    def reindex_all(self, processes: int = 1, progress: Callable[[int], None] | None = None) -> int:
        """Index every object directory (the caller clears the index, in one transaction). A
        big root is read by forked workers, each walking its share of the top directories;
        this process only writes their entries to the index."""
        root = os.fspath(self.root)
        tops = sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and e.name != "extensions")
        if (processes < 2 or len(tops) < 64 or "fork" not in multiprocessing.get_all_start_methods()
                or threading.active_count() > 1):  # forking a threaded process (the server) can deadlock
            count = 0
            for obj_dir in ocfl.iter_object_dirs(self.root):
                count += self.index_object_dir(obj_dir)
                if progress is not None:
                    progress(1)
            return count
        global _FORKED
        _FORKED = self  # inherited by the workers, not pickled to each
        count = 0
        try:
            chunks = [tops[i:i + 8] for i in range(0, len(tops), 8)]
            with forked.pool(processes) as pool:
                for part in pool.map(_read_tops_forked, chunks):
                    count += sum(self.apply_read(read) for read in part)
                    if progress is not None:
                        progress(len(part))
        finally:
            _FORKED = None
        return count

    # -- recovery -----------------------------------------------------------------------------
    def journal_exists(self) -> bool:
        return os.path.exists(self.tmp / JOURNAL)

    def needs_recovery(self) -> bool:
        """A dead writer left work behind: pending marks or a multi-object journal."""
        return bool(self.index.pending()) or self.journal_exists()

    def _write_journal(self, prepared: list[tuple[Change, ocfl.PreparedVersion | None]]) -> None:
        entries = []
        for change, p in prepared:
            entry: dict = {"object_id": change.object_id, "purge": p is None}
            if p is not None:
                entry.update({"staged": p.staged.name, "new_object": p.new_object, "version": p.inventory["head"]})
            entries.append(entry)
        tmp = self.tmp / (JOURNAL + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
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
            ocfl.recover_object(obj)  # points the root inventory at the new head
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
            exists = ocfl.recover_object(obj)
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


def _staged_reader(p: ocfl.PreparedVersion):  # type: ignore[no-untyped-def]
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


def _read_json(path: Path, object_id: str, logical: str) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as e:
        raise CorruptData(f"object {object_id}: headers file {logical} is listed in the inventory but missing") from e
    except (OSError, ValueError) as e:
        raise CorruptData(f"object {object_id}: headers file {logical} is unreadable: {e}") from e
    if not isinstance(data, dict):
        raise CorruptData(f"object {object_id}: headers file {logical} is not a JSON object")
    return data


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


def _graph_if_needed(source: Path | bytes, model: str):
    """The graph, when it can hold index entries: membership config or a reference to a
    resource (an ``info:fedora`` object). Parsing is most of a reindex, so skip the rest."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = source.read_bytes()
        except OSError as e:
            raise CorruptData(f"cannot read {source}: {e.strerror}") from e
    if model in (DIRECT_CONTAINER, INDIRECT_CONTAINER) or b"> <info:fedora" in data:
        return _stored_graph(data)
    return None


def read_graph(path: Path):
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorruptData(f"cannot read {path}: {e.strerror}") from e
    return _stored_graph(data)


def _stored_graph(data: bytes):
    """Stored N-Triples that do not parse are corrupt data, not a bad request: nothing a client
    sends now can fix them (``fcrctl check --read-data`` lists them). The file is not named: a
    server would show its own paths to clients."""
    try:
        return rdf.read_ntriples(data)
    except BadInput as e:
        raise CorruptData(f"stored triples cannot be read ({e.message[:120]}): "
                          "`fcrctl check --read-data` lists the resources affected") from e


def headers_json(h: dict) -> bytes:
    return json.dumps(h, separators=(",", ":")).encode("utf-8")  # compact, as Fedora 6 writes them


def exists_dir(path: Path) -> bool:
    return os.path.isdir(path)
