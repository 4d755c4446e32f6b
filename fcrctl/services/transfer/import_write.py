"""Writing prepared resources on import: create/replace with the export's dates, tombstones, ACLs"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fcrctl.errors import Conflict, Gone, NotFound
from fcrctl.repository.base import Repository
from fcrctl.services.transfer import acl
from fcrctl.services.transfer.import_read import Prepared, State
from fcrctl.services.transfer.import_tree import Entry
from fcrctl.services.transfer.import_versions import stage, states
from fcrctl.services.transfer.report import Report

if TYPE_CHECKING:
    from rdflib import Graph


FREE, SKIP, OVER = "free", "skip", "over"  # what _make_room found to do with a path


class Writer:
    """Writes one prepared resource at a time (from several threads with --jobs) into a repository."""

    def __init__(self, main: Repository, report: Report, *, resume: bool, skip_tombstones: bool,
                 overwrite_tombstones: bool) -> None:
        self.main = main  # the repository imported into (``repo`` below may be a transaction's view of it)
        self.report = report
        self.resume = resume
        self.skip_tombstones = skip_tombstones
        self.overwrite_tombstones = overwrite_tombstones
        self.histories_not_carried = 0
        self._lock = threading.Lock()

    def write(self, prepared: Prepared, repo: Repository) -> None:
        entry = prepared.entry
        if prepared.current is None:
            self.report.skip(entry.path, prepared.skip_reason or "left out")
            return
        # Without --resume, a resource in the way fails its create anyway: asking first would cost
        # every resource a lookup (two requests over HTTP) to tell only tombstones apart.
        ask_first = self.resume or entry.path == "/"
        room = self._make_room(entry.path, repo) if ask_first else FREE
        if room == SKIP:
            return
        dated = is_dated(repo)
        carried = False  # whether the ACL went into the first version, where Fedora's migration puts it
        for number, (state, when) in enumerate(states(prepared, is_dated(self.main))):
            when = when if dated else None
            with_acl = prepared.acl if number == 0 else None
            first = number == 0
            try:
                if first:
                    carried |= self._create(repo, entry, state, when, with_acl, over=room == OVER)
                else:
                    carried |= self._write_state(repo, entry, state, when, first=False)
            except Gone:
                if not first or ask_first:
                    raise
                room = self._make_room(entry.path, repo)  # says what to do with the tombstone
                if room == SKIP:
                    return
                carried = self._create(repo, entry, state, when, with_acl, over=room == OVER)
        if prepared.versions and not dated:
            with self._lock:
                self.histories_not_carried += 1
        for _ in prepared.versions if dated else ():
            self.report.done("version")
        if carried:
            self.report.done("acl")
        elif prepared.acl is not None:
            self._write_acl(repo, entry.path, prepared.acl)
        self.report.done(entry.kind, prepared.current.size)

    def batchable(self, prepared: Prepared) -> bool:
        """Whether ``stage`` may take it (not the root, which exists already)."""
        return prepared.current is not None and prepared.entry.path != "/"

    def stage(self, prepared: Prepared, batch: Any) -> str:
        """Add a batchable resource to a local repository's write batch (``LocalRepository.batch``):
        "staged" (the caller counts it, and ``extras``, once the batch is committed), "skipped"
        (already there, with --resume), or "refused": the batch cannot take it, so the caller
        commits the batch and writes it the ordinary way."""
        if self.resume:
            room = self._make_room(prepared.entry.path, self.main)
            if room == SKIP:
                return "skipped"
            if room == OVER:
                return "refused"  # written over its tombstone the ordinary way
        try:
            return "staged" if stage(batch, prepared, is_dated(self.main)) else "refused"
        except Gone:
            return "refused"  # a tombstone: the ordinary write says what to do with it

    def extras(self, prepared: Prepared) -> list[str]:
        """What a staged resource counts besides itself once committed: its versions, its ACL."""
        return ["version"] * len(prepared.versions) * is_dated(self.main) + ["acl"] * (prepared.acl is not None)

    def _make_room(self, path: str, repo: Repository) -> str:
        """FREE; SKIP when the resource is to be left alone (resume, tombstone skipped); OVER to write over
        the tombstone there, keeping the path's history, where the repository can (Fedora 6.5's
        Overwrite-Tombstone, the local repository); elsewhere --overwrite-tombstones purges it (FREE)."""
        if path == "/":
            return FREE
        try:
            repo.info(path)
        except NotFound:
            return FREE
        except Gone:
            if self.overwrite_tombstones:
                if getattr(repo.capabilities, "overwrite_tombstones", False):
                    return OVER
                repo.purge(path)
                return FREE
            if self.skip_tombstones:
                self.report.skip(path, "a tombstone is there (--skip-tombstones)")
                return SKIP
            raise Gone(f"{path} was deleted and a tombstone remains: use --overwrite-tombstones or "
                       "--skip-tombstones", path=path) from None
        if self.resume:
            self.report.skip(path, "already imported (--resume)")
            return SKIP
        raise Conflict(f"{path} already exists: import into an empty place, or --resume", path=path)

    def _create(self, repo: Repository, entry: Entry, state: State, when: datetime | None, acl: Graph | None,
                *, over: bool) -> bool:
        """The first state's write; ``over``: over the tombstone at its path. A server that does not take
        Overwrite-Tombstone (Fedora before 6.5) answers 410 as without it: the tombstone is purged then."""
        if not over:
            return self._write_state(repo, entry, state, when, first=True, acl=acl)
        try:
            return self._write_state(repo, entry, state, when, first=True, acl=acl, over=True)
        except Gone:
            repo.purge(entry.path)
            return self._write_state(repo, entry, state, when, first=True, acl=acl)

    def _write_state(self, repo: Repository, entry: Entry, state: State, when: datetime | None,
                     *, first: bool, acl: Graph | None = None, over: bool = False) -> bool:
        """Whether ``acl`` (the resource's) went into the same version. ``over``: create it over its tombstone."""
        spec = dataclasses.replace(state.spec, overwrite_tombstone=True) if over else state.spec
        # a backend that can write without reading back (HTTP: one request a resource where it can)
        write_only = getattr(repo, "write_only", None)
        ntriples = state.ntriples if write_only is not None and not spec.is_binary else None  # sent as they are
        if spec.graph is None and state.ntriples is not None and ntriples is None:
            spec = dataclasses.replace(spec, graph=state.graph())
        handle = None
        if state.content_file is not None:
            handle = open(state.content_file, "rb")  # noqa: SIM115 (closed below)
        try:
            if handle is not None:
                spec = dataclasses.replace(spec, content=handle)
            with _dating(repo, state, when, None if acl is None else (entry.path, acl)) as carried:
                if write_only is not None:
                    write_only(entry.path, spec, new=first and entry.path != "/", ntriples=ntriples)
                elif entry.path == "/" or not first:
                    repo.replace(entry.path, spec)
                else:
                    repo.create(entry.path, spec, parents=True)
            return carried
        finally:
            if handle is not None:
                handle.close()

    def _write_acl(self, repo: Repository, path: str, graph: Graph) -> None:
        # The one hook for ACLs on import (see acl.py).
        if not acl.supported(repo):
            self.report.skip(path + "/fcr:acl", "ACLs are not supported by this repository yet")
            return
        acl.write(repo, path, graph)
        self.report.done("acl")


def is_dated(repo: Repository) -> bool:
    """Whether the repository keeps the export's dates (and so its versions)."""
    return bool(getattr(repo.capabilities, "dated_writes", False))


@contextlib.contextmanager
def _dating(repo: Repository, state: State, version: datetime | None,
            acl: tuple[str, Graph] | None = None) -> Iterator[bool]:
    """Writes inside carry the export's dates and users, where the backend can keep them: the
    resource's created/last-modified in its headers, the memento's date as its version's, and
    ``acl`` (path, ACL) in the same version (then True)."""
    modified = state.modified or version
    if modified is None and acl is not None and is_dated(repo):  # undated: now, as the Java tool's default
        modified = version = datetime.now(UTC)  # and the ACL still goes into this version
    if modified is None or version is None or not is_dated(repo):
        yield False
        return
    dated: Any = getattr(repo, "dated")  # noqa: B009 (present when capabilities.dated_writes)
    with dated(state.created or modified, modified, version=version, created_by=state.created_by,
               modified_by=state.modified_by, **({} if acl is None else {"acl": acl})):
        yield acl is not None
