"""Write batches of the local repository: many new resources in one durable, crash-atomic commit (import)

``create`` stages a resource the way ``Writes.create`` would write it, without committing; ``commit``
applies everything staged through ONE Store.commit, which journals a multi-object change and rolls
it forward after a crash: a batch is wholly in or wholly out, whatever moment a kill -9 picks. One
object per resource, each with its own dates: what it cannot stage that way (inside an archival
group, under a parent it holds uncommitted, no parent yet) it refuses, for the caller to commit
and write the ordinary way. ``revise`` stages the next version of a resource staged here, as
``replace`` would write it: the object is installed with all its versions in one unit
(Change.earlier), so a crash never leaves part of an imported history.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fcrctl import paths
from fcrctl.errors import Conflict
from fcrctl.repository.base import NON_RDF_SOURCE, ResourceSpec
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Row
from fcrctl.repository.local.support import keep_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from rdflib import Graph

    from fcrctl.repository.local.store import Change
    from fcrctl.repository.local.writes import Writes


class WriteBatch:
    """New resources staged for one commit; the writer lock is held from the first ``create`` to
    ``commit`` or ``discard`` (so nothing else changes what was checked meanwhile)."""

    def __init__(self, writes: Writes, writing: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self.writes = writes
        self.writing = writing
        self._changes: list[Change] = []
        self._paths: dict[str, int] = {}  # staged path -> its change's place in _changes
        self._held: contextlib.ExitStack | None = None
        self.versions = 0  # OCFL versions staged (an object with its history counts each): what it holds
        # the last parent's row: siblings come together, and nothing changes it while the lock is held
        self._parent: tuple[str, Row | None] | None = None

    def __len__(self) -> int:
        return len(self._changes)

    def create(self, path: str, spec: ResourceSpec, *, created: datetime | None = None,
               modified: datetime | None = None, version: datetime | None = None, created_by: str | None = None,
               modified_by: str | None = None, ntriples: bytes | None = None,
               acl: Graph | None = None) -> bool:
        """Stage a new resource (with these dates and users, as ``dated`` gives them; ``ntriples``: its
        user triples as stored, see ResourceFiles.put_resource; ``acl``: its exported ACL, written in
        this version as ``dated(acl=...)`` writes it); False when this batch cannot take it.
        Errors (Conflict, Gone...) are the ordinary create's, nothing staged."""
        path = paths.normalize(path)
        if self._held is None:
            held = contextlib.ExitStack()
            held.enter_context(self.writing())
            self._held = held
        if path == "/" or path in self._paths:
            return False
        self.writes.refuse_taken(path)
        parent = paths.parent(path) or "/"
        prow = None if parent in self._paths else self._parent_row(parent)
        if prow is None or prow.deleted:
            return False
        if prow.model == NON_RDF_SOURCE:
            raise Conflict(f"cannot create children of a binary ({parent})", path=path)
        if self.writes.resources.object_for(path, archival_group=spec.archival_group,
                                            parent_row=prow) != paths.to_id(path):
            return False  # a member of an archival group: its object takes one version per write
        with self._dating(path, created, modified, version, created_by, modified_by, acl):
            change = self.writes.new_change(path, spec, parent_row=prow, ntriples=ntriples)
            change.created = self.writes.store.created  # this resource's version date
        self._paths[path] = len(self._changes)
        self._changes.append(change)
        self.versions += 1
        return True

    def _parent_row(self, parent: str) -> Row | None:
        if self._parent is None or self._parent[0] != parent:
            self._parent = (parent, self.writes.index.get(parent))
        return self._parent[1]

    def revise(self, path: str, spec: ResourceSpec, *, created: datetime | None = None,
               modified: datetime | None = None, version: datetime | None = None, created_by: str | None = None,
               modified_by: str | None = None, ntriples: bytes | None = None) -> None:
        """Stage the next version of ``path``, which this batch creates, as ``replace`` writes it
        (inside ``dated`` with these dates: the same headers and files, a binary's description kept).
        On an error nothing changes."""
        path = paths.normalize(path)
        place = self._paths[path]
        previous = self._changes[place]
        oid, rid = previous.object_id, paths.to_id(path)
        headers = previous.known_headers[hdr.headers_path(oid, rid)]
        row = Row(path, paths.parent(path), oid, ocfl.object_rel(oid), headers["interactionModel"], False, headers)
        state = {logical: value.sha512() if isinstance(value, ocfl.NewFile) else value
                 for logical, value in previous.state.items()}
        spec = keep_model(spec, row)
        if row.model == NON_RDF_SOURCE and spec.graph is None and ntriples is None:
            # replace keeps the description it finds when given none: the previous version's
            desc = previous.state.get(hdr.desc_content_path(oid, rid))
            ntriples = desc.data if isinstance(desc, ocfl.NewFile) else None
        with self._dating(path, created, modified, version, created_by, modified_by, None):
            change = self.writes.revision(row, state, lambda c, h, now: self.writes.files.put_resource(
                c, path, spec, h, now, ntriples=ntriples))
            change.created = self.writes.store.created
        change.known_headers = {**{k: v for k, v in previous.known_headers.items() if k in change.state},
                                **change.known_headers}
        change.earlier = [*previous.earlier, previous]
        # an earlier version is only written, never indexed: what indexing reuses goes (memory per batch)
        previous.earlier, previous.known_headers, previous.known_graphs = [], {}, {}
        self._changes[place] = change
        self.versions += 1

    def drop(self, path: str) -> None:
        """Unstage ``path`` (and remove what it spooled): a resource whose later version failed."""
        place = self._paths.pop(paths.normalize(path), None)
        if place is None:
            return
        change = self._changes.pop(place)
        self.versions -= 1 + len(change.earlier)
        _remove_spooled([change])
        self._paths = {p: i - (i > place) for p, i in self._paths.items()}

    def _dating(self, path: str, created: datetime | None, modified: datetime | None, version: datetime | None,
                created_by: str | None, modified_by: str | None,
                acl: Graph | None) -> contextlib.AbstractContextManager[None]:
        if modified is None:
            if acl is None:
                return contextlib.nullcontext()
            modified = version = datetime.now(UTC)  # as the ordinary write: the ACL still goes in this version
        return self.writes.clock.dated_block(created or modified, modified, version=version, created_by=created_by,
                                             modified_by=modified_by, acl=None if acl is None else (path, acl))

    def commit(self) -> None:
        """Apply what is staged in one durable commit (all of it, or on an error none of it)."""
        changes, self._changes, self._paths, self.versions = self._changes, [], {}, 0
        try:
            if changes:
                # each a new object at a path the index had no row for (refuse_taken, under the lock)
                self.writes.store.commit(changes, fresh={change.object_id for change in changes})
        except BaseException:
            _remove_spooled(changes)
            raise
        finally:
            self._release()

    def discard(self) -> None:
        """Drop what is staged (binaries spooled under tmp/ with it)."""
        changes, self._changes, self._paths, self.versions = self._changes, [], {}, 0
        _remove_spooled(changes)
        self._release()

    def _release(self) -> None:
        self._parent = None  # another writer may change it once the lock is let go
        if self._held is not None:
            held, self._held = self._held, None
            held.close()


def _remove_spooled(changes: list[Change]) -> None:
    for change in changes:
        _remove_spooled(change.earlier)
        for value in change.state.values():
            if isinstance(value, ocfl.NewFile) and value.source is not None:
                value.source.unlink(missing_ok=True)
