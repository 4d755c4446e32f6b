"""Writes of the local repository: create, replace, patch, descriptions, delete, purge; each one OCFL commit"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, Conflict, Gone, NotFound, PreconditionFailed
from fcrctl.names import utf8_name
from fcrctl.repository.base import NON_RDF_SOURCE, Conditions, ResourceInfo, ResourceSpec
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.entries import headers_json
from fcrctl.repository.local.store import Change
from fcrctl.repository.local.support import check_conditions, container_model, keep_model

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.local.dates import Clock
    from fcrctl.repository.local.files import ResourceFiles
    from fcrctl.repository.local.index import Row
    from fcrctl.repository.local.resources import Resources

EBUCORE = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"


class Writes:
    """Resource writes; ``writing()`` is the host's writer-lock context, entered around each."""

    def __init__(self, resources: Resources, files: ResourceFiles, clock: Clock,
                 writing: Callable[[], contextlib.AbstractContextManager[None]], user: str | None) -> None:
        self.resources = resources
        self.files = files
        self.clock = clock
        self.writing = writing
        self.user = user
        self.index = resources.index
        self.store = resources.store

    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        path = paths.normalize(path)
        with self.writing():
            return self._create(path, spec, parents=parents)

    def _create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        if path == "/":
            raise Conflict("the root container / always exists", path=path)
        tombstone = self.refuse_taken(path, overwrite=spec.overwrite_tombstone)
        parent = paths.parent(path) or "/"
        prow = self.index.get(parent)
        if prow is None:
            if not parents:
                raise NotFound(f"parent {parent} of {path} does not exist: create it first or use --parents",
                               path=path)
            self._create(parent, ResourceSpec(), parents=True)
            prow = self.index.get(parent)
            assert prow is not None
        if prow.deleted:
            raise Gone(f"parent {parent} was deleted: `fcrctl purge {parent}` first", path=path)
        if prow.model == NON_RDF_SOURCE:
            raise Conflict(f"cannot create children of a binary ({parent})", path=path)
        if tombstone is not None:
            check_overwrite(tombstone, spec)
        return self.commit_new(path, spec, parent_row=prow, over=tombstone is not None)

    def refuse_taken(self, path: str, *, overwrite: bool = False) -> Row | None:
        """Gone (a tombstone) or Conflict when something is at ``path`` already; with ``overwrite``, a
        tombstone is returned instead (Fedora 6.5's Overwrite-Tombstone: the path's history is kept)."""
        existing = self.index.get(path)
        if existing is not None:
            if existing.deleted and overwrite:
                return existing
            if existing.deleted:
                raise Gone(f"{path} was deleted (a tombstone remains): `fcrctl purge {path}` reuses the path",
                           path=path)
            raise Conflict(f"{path} already exists: replace it with `fcrctl put {path} --file FILE`", path=path)
        return None

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        parent = paths.normalize(parent)
        with self.writing():
            prow = self.resources.row(parent)
            if prow.model == NON_RDF_SOURCE:
                raise Conflict(f"cannot create children of a binary ({parent})", path=parent)
            if slug:
                try:
                    candidate = paths.join(parent, slug) if "/" not in slug else None
                except BadInput:
                    candidate = None  # an unusable slug is a hint only: Fedora picks a name instead
                if candidate is not None and self.index.get(candidate) is None:
                    return self.commit_new(candidate, spec)
            while True:
                candidate = paths.join(parent, str(uuid.uuid4()))
                if self.index.get(candidate) is None:
                    return self.commit_new(candidate, spec)

    def commit_new(self, path: str, spec: ResourceSpec, *, raw_graph: bool = False,
                   parent_row: Row | None = None, over: bool = False) -> ResourceInfo:
        """``over``: a tombstone is at ``path`` (its object's versions are kept, the new state follows them)."""
        change = self.new_change(path, spec, raw_graph=raw_graph, parent_row=parent_row, over=over)
        self.store.commit([change])
        # the headers just stored (what info() would read back from the index); a resource that
        # did not exist has no children
        return hdr.to_info(change.known_headers[hdr.headers_path(change.object_id, paths.to_id(path))],
                           has_children=False)

    def new_change(self, path: str, spec: ResourceSpec, *, raw_graph: bool = False,
                   parent_row: Row | None = None, ntriples: bytes | None = None, over: bool = False) -> Change:
        """The change that creates ``path`` (its object's next state), not yet committed; ``ntriples``:
        its user triples already as stored (see ResourceFiles.put_resource), instead of ``spec.graph``."""
        rid = paths.to_id(path)
        if spec.archival_group and spec.is_binary:
            raise BadInput(f"{path}: a binary cannot be an archival group: only a container can", path=path)
        object_id = self.resources.object_for(path, archival_group=spec.archival_group, parent_row=parent_row)
        now = self.clock.now()
        dated = self.clock.dated
        base = {"id": rid, "parent": paths.to_id(paths.parent(path) or "/") if path != "/" else paths.ROOT_ID,
                "stateToken": hdr.new_state_token(), "createdDate": dated[0] if dated else now}
        if self.clock.by[0] or self.user:
            base["createdBy"] = self.clock.by[0] or self.user
        # over a tombstone, its object's head (its own headers, and a group's members) is the base
        keep = object_id != rid or over
        change = Change(object_id, state=dict(self.store.head_state(object_id)) if keep else {})
        self.files.put_resource(change, path, spec, base, now, raw_graph=raw_graph, ntriples=ntriples)
        return change

    def replace(self, path: str, spec: ResourceSpec, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        path = paths.normalize(path)
        with self.writing():
            row = self.index.get(path)
            if row is None or (row.deleted and spec.overwrite_tombstone):
                if conditions.if_match is not None:
                    raise PreconditionFailed(f"{path} does not exist, so If-Match cannot match", path=path)
                return self._create(path, spec), True
            row = self.resources.row(path)
            if spec.archival_group and not row.headers.get("archivalGroup"):
                raise Conflict(f"{path} is not an archival group and cannot become one: a resource is made an "
                               "archival group when it is created", path=path)
            check_conditions(row, conditions, path)
            was_binary = row.model == NON_RDF_SOURCE
            if spec.is_binary != was_binary:
                raise Conflict(f"cannot change the interaction model of {path} "
                               f"({'binary' if was_binary else 'container'}): delete and recreate it", path=path)
            if not was_binary and spec.model is not None and container_model(spec.model) != row.model:
                raise Conflict(f"cannot change the interaction model of {path} from {row.model}", path=path)
            desc = None
            if was_binary and spec.graph is None:  # a binary's description is kept unless the spec gives one
                st = self.resources.state(path)
                desc = self.resources.user_graph(st)
            self._rewrite(row, lambda change, h, now: self.files.put_resource(
                change, path, keep_model(spec, row), h, now, desc_graph=desc))
            return self._info(path), False

    def _info(self, path: str) -> ResourceInfo:
        return self.resources.info(self.resources.row(path).headers, path)

    def _rewrite(self, row: Row, put) -> None:  # type: ignore[no-untyped-def]
        """New version of the resource at ``row``: ``put(change, headers_base, now)`` adds its files."""
        self.store.commit([self.revision(row, dict(self.store.head_state(row.object_id)), put)])

    def revision(self, row: Row, state: dict, put) -> Change:  # type: ignore[no-untyped-def]
        """The change ``_rewrite`` commits, from the object's head ``state`` (logical -> digest): a
        write batch stages a resource's next version with it too (batch.py)."""
        rid = paths.to_id(row.path)
        oid = row.object_id
        # drop the resource's old files; unchanged content is re-added by digest (dedupe)
        for logical in (hdr.container_content_path(oid, rid), hdr.binary_content_path(oid, rid),
                        hdr.desc_content_path(oid, rid), hdr.desc_headers_path(oid, rid)):
            if row.model == NON_RDF_SOURCE or logical == hdr.container_content_path(oid, rid):
                state.pop(logical, None)
        change = Change(oid, state=state)
        base = {k: v for k, v in row.headers.items() if k in ("id", "parent", "createdDate", "createdBy",
                                                                "mimeType", "filename", "archivalGroupId")}
        base["stateToken"] = hdr.new_state_token()
        put(change, base, self.clock.now())
        if row.headers.get("archivalGroup"):
            change.known_headers[hdr.headers_path(oid, rid)]["archivalGroup"] = True
            change.state[hdr.headers_path(oid, rid)] = ocfl.NewFile(
                data=headers_json(change.known_headers[hdr.headers_path(oid, rid)]))
        return change

    def replace_description(self, path: str, graph: Graph, *, conditions: Conditions = Conditions(),
                            lenient: bool = False) -> ResourceInfo:
        path, _ = paths.split_metadata(path)
        with self.writing():
            row = self.resources.row(path)
            check_conditions(row, conditions, path)
            if row.model != NON_RDF_SOURCE:
                raise BadInput(f"{path} is a container: replace its triples with `fcrctl put {path} --file FILE`",
                               path=path)
            self._write_description(row, graph, lenient)
            return self._info(path)

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
        current = self.store.head_state(row.object_id)

        def put(change: Change, h: dict, now: str) -> None:
            # only the description and headers change; stored content is kept by digest
            self._put_binary_headers_only(change, row.path, spec, h, now, kept)
            if content_logical in current:
                change.state[content_logical] = current[content_logical]

        self._rewrite(row, put)

    def _put_binary_headers_only(self, change: Change, path: str, spec: ResourceSpec, h: dict, now: str,
                                 desc: Graph) -> None:
        row = self.resources.row(path)
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
        if self.user:
            full["lastModifiedBy"] = self.user
        full["headersVersion"] = hdr.HEADERS_VERSION
        self.files.put_description(change, path, desc, (row.desc_headers or {}).get("createdDate", now), now)
        hl = hdr.headers_path(change.object_id, paths.to_id(path))
        change.state[hl] = ocfl.NewFile(data=headers_json(full))
        change.known_headers[hl] = full

    def patch(self, path: str, update: str, *, conditions: Conditions = Conditions(),
              lenient: bool = False) -> ResourceInfo:
        from rdflib import Literal, URIRef

        path, _ = paths.split_metadata(path)
        with self.writing():
            row = self.resources.row(path)
            check_conditions(row, conditions, path)
            st = self.resources.state(path)
            rid = paths.to_id(path)
            graph = self.resources.user_graph(st)
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
                self._rewrite(row, lambda change, h, now: self.files.put_resource(change, path, spec, h, now))
            return self._info(path)

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        path = paths.normalize(path)
        if path == "/":
            raise BadInput("the root container / cannot be deleted")
        with self.writing():
            row = self.resources.row(path)
            check_conditions(row, conditions, path)
            rows = [row] + list(self.index.children(path, recursive=True))
            self.store.commit(self.files.tombstones(rows))

    def purge(self, path: str) -> None:
        path = paths.normalize(path)
        with self.writing():
            row = self.resources.row(path, allow_deleted=True)
            if not row.deleted:
                raise Conflict(f"{path} is live: delete it first (`fcrctl delete {path}`)", path=path)
            rows = [row] + list(self.index.children(path, recursive=True, include_deleted=True))
            live = [r.path for r in rows if not r.deleted]
            if live:
                raise Conflict(f"{live[0]} below {path} is live: delete it first", path=path)
            changes: dict[str, Change] = {}
            for r in rows:
                rid = paths.to_id(r.path)
                if r.object_id == rid or paths.is_within(paths.from_id(r.object_id), path):
                    changes[r.object_id] = Change(r.object_id, purge=True)
                elif r.object_id not in changes:
                    changes[r.object_id] = Change(r.object_id, state=dict(self.store.head_state(r.object_id)))
                change = changes[r.object_id]
                if not change.purge:
                    change.state.pop(hdr.headers_path(r.object_id, rid), None)
            self.store.commit(list(changes.values()))


def check_overwrite(tombstone: Row, spec: ResourceSpec) -> None:
    """Conflict unless ``spec`` is what the deleted resource was: a binary or a container, an archival
    group or not (Fedora 6.5: FedoraLdp's interaction model check, OverwriteRdfTombstonePersister)."""
    path = tombstone.path
    was_binary = tombstone.model == NON_RDF_SOURCE
    if spec.is_binary != was_binary:
        raise Conflict(f"{path} was a {'binary' if was_binary else 'container'}: only a "
                       f"{'binary' if was_binary else 'container'} can be written over its tombstone "
                       f"(or purge it: `fcrctl purge {path}`)", path=path)
    was_group = bool(tombstone.headers.get("archivalGroup"))
    if spec.archival_group != was_group:
        raise Conflict(f"{path} was {'an' if was_group else 'not an'} archival group: what is written over its "
                       f"tombstone must {'be one' if was_group else 'not be one'} "
                       f"(or purge it: `fcrctl purge {path}`)", path=path)
