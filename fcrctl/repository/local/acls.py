"""ACLs of the local repository, stored as Fedora 6 stores them: files of the resource's OCFL object

In the object, ``.fcrepo/fcr-root~fcr-acl.json`` (headers) beside ``fcr-container~fcr-acl.nt`` (or
``NAME~fcr-acl.nt`` for a binary). The index's ``acls`` table points at them, so a check
costs one query and no inventory read. Being files of the object, ACLs go wherever the object
goes: versions (their history is the object's), snapshots, restores."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fcrctl import paths, rdf  # (fcrctl.acl where it is used: ~3 ms of every command's start-up)
from fcrctl.errors import NotFound, PreconditionFailed
from fcrctl.rdf import new_graph
from fcrctl.rdf.server_managed import datetime_literal
from fcrctl.repository.base import NON_RDF_SOURCE, Conditions, RdfPrefs, ResourceInfo
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.entries import headers_json, read_graph
from fcrctl.repository.local.index import Row
from fcrctl.repository.local.store import Change
from fcrctl.repository.local.support import normalize_etag

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.local.resources import Resources


class Acls:
    """get_acl / put_acl / patch_acl / delete_acl of the local repository; ``writing()`` is the
    host's writer-lock context."""

    def __init__(self, resources: Resources, writing: Callable[[], contextlib.AbstractContextManager[None]],
                 user: str | None) -> None:
        self.resources = resources
        self.index = resources.index
        self.store = resources.store
        self.writing = writing
        self.user = user

    def get_acl(self, path: str, *, prefs: RdfPrefs = RdfPrefs()) -> Graph:
        path = paths.normalize(path)
        found = self.index.acl(path)  # only live resources have ACL rows
        if found is None:
            # access checks ask this of nearly every path: two one-column look-ups, no row read
            if self.index.deleted(path) is not False:
                self.resources.row(path)  # NotFound / Gone for the resource itself
            raise NotFound(f"{path} has no ACL of its own: `fcrctl acl effective {path}` shows the one that "
                           "governs it", path=path)
        h, content = found
        f = self.resources.abs(content)
        graph = read_graph(f) if f is not None and h.get("contentSize") != 0 else new_graph()
        if prefs.server_managed:
            from rdflib import RDF, Literal, URIRef

            from fcrctl import acl as webac

            node = URIRef(webac.acl_id_of(path))
            graph.add((node, RDF.type, URIRef(webac.WEBAC_ACL)))
            # its dates and users, as Fedora gives them (and an export carries them to the next import)
            for name, key in (("created", "createdDate"), ("lastModified", "lastModifiedDate")):
                if h.get(key):
                    graph.add((node, URIRef(rdf.FEDORA + name), datetime_literal(hdr.parse_time(h[key]))))
            for name in ("createdBy", "lastModifiedBy"):
                if h.get(name):
                    graph.add((node, URIRef(rdf.FEDORA + name), Literal(h[name])))
        return graph

    def put_acl(self, path: str, graph: Graph, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        path = paths.normalize(path)
        graph = _stored_form(graph, path)
        with self.writing():
            row = self.resources.row(path)
            existing = self.index.acl(path)
            _check(existing[0] if existing else None, conditions, path)
            change = Change(row.object_id, state=dict(self.store.head_state(row.object_id)))
            h = self.put_acl_files(change, row, graph, existing[0] if existing else None)
            self.store.commit([change])
        return acl_info(h, path), existing is None

    def patch_acl(self, path: str, update: str, *, conditions: Conditions = Conditions()) -> ResourceInfo:
        from fcrctl import acl as webac

        path = paths.normalize(path)
        with self.writing():
            current = self.get_acl(path, prefs=RdfPrefs(server_managed=False))
            row = self.resources.row(path)
            existing = self.index.acl(path)
            _check(existing[0], conditions, path)
            graph = _stored_form(rdf.apply_update(current, update, base=webac.acl_id_of(path)), path)
            change = Change(row.object_id, state=dict(self.store.head_state(row.object_id)))
            h = self.put_acl_files(change, row, graph, existing[0])
            self.store.commit([change])
        return acl_info(h, path)

    def delete_acl(self, path: str) -> None:
        path = paths.normalize(path)
        with self.writing():
            row = self.resources.row(path)
            if self.index.acl(path) is None:
                raise NotFound(f"{path} has no ACL of its own to delete", path=path)
            state = dict(self.store.head_state(row.object_id))
            drop_acl_files(state, row)
            self.store.commit([Change(row.object_id, state=state)])

    def put_acl_files(self, change: Change, row: Row, graph: Graph, old: dict | None) -> dict:
        """Add the ACL's content and headers to ``change.state`` (Fedora 6's layout); its headers."""
        now = ocfl.now_iso()
        stamp = {"createdDate": (old or {}).get("createdDate", now), "lastModifiedDate": now,
                 "stateToken": hdr.new_state_token()}
        if self.user:
            stamp.update(createdBy=(old or {}).get("createdBy", self.user), lastModifiedBy=self.user)
        return _put_files(change, row, graph, stamp)


def put_migrated_acl(change: Change, path: str, model: str, graph: Graph) -> dict:
    """Add an exported ACL (``fcr:acl`` as Fedora 4.7/5 gave it, server-managed triples included)
    to ``change``, the change writing ``path``'s first version, as fcrepo-upgrade-utils' migration
    stores one (ResourceMigrator.migrateAcl): in that version, its created / last-modified dates
    and users from its own fedora: triples (now when it has none, or when last-modified precedes
    created), its memento date its last-modified, its state token the MD5 of that in epoch
    milliseconds; the server-managed triples are dropped from its content. Its headers."""
    from rdflib import URIRef

    def first(name: str) -> str | None:
        found = sorted(str(o) for o in graph.objects(None, URIRef(rdf.FEDORA + name)))
        return found[0] if found else None

    now = hdr.parse_time(ocfl.now_iso())
    created = _instant(first("created")) or now
    modified = _instant(first("lastModified"))
    if modified is None or modified < created:
        modified = now
    token = hashlib.md5(str(_epoch_millis(modified)).encode(), usedforsecurity=False).hexdigest().upper()
    stamp = {"createdDate": hdr.format_time(created), "lastModifiedDate": hdr.format_time(modified),
             "stateToken": token, "createdBy": first("createdBy"), "lastModifiedBy": first("lastModifiedBy")}
    row = Row(path, paths.parent(path), change.object_id, "", model, False, {})
    kept = rdf.check_user_triples(graph, subject_id="", lenient=True)
    return _put_files(change, row, _stored_form(kept, path), stamp)


def _put_files(change: Change, row: Row, graph: Graph, stamp: dict) -> dict:
    """The ACL's content and headers into ``change.state`` (Fedora 6's layout), dated by ``stamp``
    (createdDate, lastModifiedDate, stateToken, and the users when known); its headers."""
    from fcrctl import acl as webac

    rid = paths.to_id(row.path)
    oid = row.object_id
    data = rdf.write_ntriples(graph)
    content = hdr.acl_content_path(oid, rid, binary=row.model == NON_RDF_SOURCE)
    nf = ocfl.NewFile(data=data)
    h = {"id": rid + "/" + webac.ACL_SUFFIX, "parent": rid, "stateToken": stamp["stateToken"],
         "interactionModel": hdr.ACL_MODEL, "contentSize": len(data), "digests": [f"urn:sha-512:{nf.sha512()}"],
         "createdDate": stamp["createdDate"], "lastModifiedDate": stamp["lastModifiedDate"],
         "mementoCreatedDate": stamp["lastModifiedDate"], "archivalGroup": False, "objectRoot": False,
         "deleted": False, "contentPath": content, "headersVersion": hdr.HEADERS_VERSION}
    for key in ("createdBy", "lastModifiedBy"):
        if stamp.get(key):
            h[key] = stamp[key]
    if oid != rid:
        h["archivalGroupId"] = oid
    change.state[content] = nf
    hl = hdr.acl_headers_path(oid, rid)
    change.state[hl] = ocfl.NewFile(data=headers_json(h))
    change.known_headers[hl] = h
    return h


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return hdr.parse_time(value)
    except ValueError:
        return None


def _epoch_millis(value: datetime) -> int:
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def drop_acl_files(state: dict, row: Row) -> None:
    """Remove a resource's ACL files from an object state (delete, tombstone)."""
    rid = paths.to_id(row.path)
    state.pop(hdr.acl_headers_path(row.object_id, rid), None)
    state.pop(hdr.acl_content_path(row.object_id, rid, binary=row.model == NON_RDF_SOURCE), None)


def acl_info(h: dict, path: str) -> ResourceInfo:
    from fcrctl import acl as webac

    info = hdr.to_info({**h, "id": paths.to_id(path)})
    info.path = ("" if path == "/" else path) + "/" + webac.ACL_SUFFIX
    return info


_GIVEN = frozenset(rdf.FEDORA + name for name in ("created", "lastModified", "createdBy", "lastModifiedBy"))


def _stored_form(graph: Graph, path: str) -> Graph:
    """The triples to store: what get_acl adds of the ACL's own (its server-managed types, dates and
    users: an ACL read and put back stays as it was) dropped, Fedora's constraint checked."""
    from rdflib import RDF, URIRef

    from fcrctl import acl as webac

    out = new_graph()
    acl_node = URIRef(webac.acl_id_of(path))
    for s, p, o in graph:
        if s == acl_node and (p == RDF.type and str(o) in (webac.WEBAC_ACL, rdf.FEDORA + "Resource")
                              or str(p) in _GIVEN):
            continue
        out.add((s, p, o))
    return webac.check_acl(out, path)


def _check(headers: dict | None, conditions: Conditions, path: str) -> None:
    etag = ((headers or {}).get("stateToken") or "").upper()
    if conditions.if_match is not None:
        wanted = [normalize_etag(v) for v in conditions.if_match.split(",")]
        if headers is None or ("*" not in wanted and etag not in wanted):
            raise PreconditionFailed(f"the ACL of {path} has changed (If-Match {conditions.if_match}): re-read it",
                                     path=path)
    if conditions.if_none_match is not None and headers is not None:
        wanted = [normalize_etag(v) for v in conditions.if_none_match.split(",")]
        if "*" in wanted or etag in wanted:
            raise PreconditionFailed(f"the ACL of {path} matches If-None-Match {conditions.if_none_match}", path=path)
