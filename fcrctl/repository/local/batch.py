"""Write batches of the local repository: many new resources in one durable, crash-atomic commit (import)

``create`` stages a resource the way ``Writes.create`` would write it, without committing; ``commit``
applies everything staged through ONE Store.commit, which journals a multi-object change and rolls
it forward after a crash: a batch is wholly in or wholly out, whatever moment a kill -9 picks. One
object per resource, each with its own dates: what it cannot stage that way (inside an archival
group, under a parent it holds uncommitted, no parent yet) it refuses, for the caller to commit
and write the ordinary way.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING

from fcrctl import paths
from fcrctl.errors import Conflict
from fcrctl.repository.base import NON_RDF_SOURCE, ResourceSpec
from fcrctl.repository.local import ocfl

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcrctl.repository.local.store import Change
    from fcrctl.repository.local.writes import Writes


class WriteBatch:
    """New resources staged for one commit; the writer lock is held from the first ``create`` to
    ``commit`` or ``discard`` (so nothing else changes what was checked meanwhile)."""

    def __init__(self, writes: Writes, writing: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self.writes = writes
        self.writing = writing
        self._changes: list[Change] = []
        self._paths: set[str] = set()
        self._held: contextlib.ExitStack | None = None

    def __len__(self) -> int:
        return len(self._changes)

    def create(self, path: str, spec: ResourceSpec, *, created: datetime | None = None,
               modified: datetime | None = None, version: datetime | None = None, created_by: str | None = None,
               modified_by: str | None = None, ntriples: bytes | None = None) -> bool:
        """Stage a new resource (with these dates and users, as ``dated`` gives them; ``ntriples``: its
        user triples as stored, see ResourceFiles.put_resource); False when this batch cannot take it.
        Errors (Conflict, Gone...) are the ordinary create's, nothing staged."""
        path = paths.normalize(path)
        if self._held is None:
            held = contextlib.ExitStack()
            held.enter_context(self.writing())
            self._held = held
        index = self.writes.index
        if path == "/" or path in self._paths:
            return False
        self.writes.refuse_taken(path)
        parent = paths.parent(path) or "/"
        prow = None if parent in self._paths else index.get(parent)
        if prow is None or prow.deleted:
            return False
        if prow.model == NON_RDF_SOURCE:
            raise Conflict(f"cannot create children of a binary ({parent})", path=path)
        if self.writes.resources.object_for(path, archival_group=spec.archival_group,
                                            parent_row=prow) != paths.to_id(path):
            return False  # a member of an archival group: its object takes one version per write
        clock = self.writes.clock
        dating = clock.dated_block(created or modified, modified, version=version, created_by=created_by,
                                   modified_by=modified_by) if modified is not None else contextlib.nullcontext()
        with dating:
            change = self.writes.new_change(path, spec, parent_row=prow, ntriples=ntriples)
            change.created = self.writes.store.created  # this resource's version date
        self._changes.append(change)
        self._paths.add(path)
        return True

    def commit(self) -> None:
        """Apply what is staged in one durable commit (all of it, or on an error none of it)."""
        changes, self._changes, self._paths = self._changes, [], set()
        try:
            if changes:
                self.writes.store.commit(changes)
        except BaseException:
            _remove_spooled(changes)
            raise
        finally:
            self._release()

    def discard(self) -> None:
        """Drop what is staged (binaries spooled under tmp/ with it)."""
        changes, self._changes, self._paths = self._changes, [], set()
        _remove_spooled(changes)
        self._release()

    def _release(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            held.close()


def _remove_spooled(changes: list[Change]) -> None:
    for change in changes:
        for value in change.state.values():
            if isinstance(value, ocfl.NewFile) and value.source is not None:
                value.source.unlink(missing_ok=True)
