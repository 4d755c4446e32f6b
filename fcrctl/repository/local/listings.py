"""Local listings from the index: a container's children, binaries changed since a date, membership"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fcrctl import paths, rdf
from fcrctl.errors import CorruptData, Gone, NotFound
from fcrctl.rdf import new_graph
from fcrctl.repository.base import INDIRECT_CONTAINER, NON_RDF_SOURCE, RdfPrefs, ResourceInfo

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple
    from fcrctl.repository.local.resources import Resources


class Listings:
    """What the index answers about a container: its children (streamed in pages), and the
    triples a read adds for them (containment, membership, embedded children)."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.index = resources.index

    def children(self, path: str, *, recursive: bool = False, after: str | None = None) -> Iterator[ResourceInfo]:
        path = paths.normalize(path)
        bound = paths.after_bound(path, after, recursive=recursive)
        self.resources.row(path)  # NotFound / Gone now, not at the first next()
        info = self.resources.info
        return (info(row.headers, row.path) for row in self.index.children(path, recursive=recursive, after=bound))

    def children_stored(self, path: str, *, after: str | None = None) -> Iterator[tuple[ResourceInfo, bytes | None]]:
        """``children`` with each one's stored user triples (as ``stored_ntriples`` reads them; None
        when unreadable), from the same index rows: for a listing written as text (fcrctl serve's
        grouped listings). Each info's ``has_children`` is False, not looked up (a query per child)."""
        from fcrctl.repository.local import headers as hdr

        path = paths.normalize(path)
        self.resources.row(path)
        resources = self.resources
        for row in self.index.children(path, after=paths.after_bound(path, after)):
            stored = resources.user_file(resources.row_state(row))
            try:
                data = stored.read_bytes() if stored is not None else b""
            except OSError:
                data = None
            yield hdr.to_info(row.headers, has_children=False), data

    def binaries_modified_since(self, path: str, since: datetime) -> Iterator[ResourceInfo]:
        """Binaries below ``path`` modified at or after ``since`` (a superset: callers compare
        exactly), picked by the index instead of parsing every resource's headers."""
        path = paths.normalize(path)
        self.resources.row(path)
        second = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if since.tzinfo else since.strftime(
            "%Y-%m-%dT%H:%M:%S")
        return (self.resources.info(row.headers, row.path)
                for row in self.index.modified_since(path, NON_RDF_SOURCE, second))

    def triples(self, path: str, rid: str, prefs: RdfPrefs) -> Iterator[Triple]:
        """A container's triples about its children, as ``prefs`` ask for them. Containment with
        embedded children comes grouped (docs/listings.md): each child's ``ldp:contains`` triple
        then its own triples, children in path order, after the container's other triples."""
        from rdflib import URIRef

        grouped = prefs.containment and prefs.embed_children
        if prefs.containment and not grouped:
            yield from rdf.containment_triples(rid, (paths.to_id(r.path) for r in self.index.children(path)))
        if prefs.membership:
            graph = new_graph()
            self._membership(path, rid, graph)
            yield from graph
        if prefs.inbound:
            for subject, predicate in self.index.refs_to(path):
                if subject != path:
                    yield URIRef(paths.to_id(subject)), URIRef(predicate), URIRef(rid)
        if prefs.embed_children:
            for child in self.index.children(path):
                if grouped:
                    yield from rdf.containment_triples(rid, (paths.to_id(child.path),))
                child_state = self.resources.row_state(child)
                with contextlib.suppress(NotFound, Gone, CorruptData):
                    yield from self.resources.user_graph(child_state)
                if prefs.server_managed:  # as Fedora embeds them: listings need no request per child
                    yield from rdf.server_triples(self.resources.info(child.headers, child.path),
                                                  paths.to_id(child.path))

    def _membership(self, path: str, rid: str, graph: Graph) -> None:
        from rdflib import URIRef

        for container, model, _resource, has_member, _is_member_of, inserted in self.index.memberships_for(path):
            crow = self.index.get(container)
            if crow is None or crow.deleted or has_member is None:
                continue
            for child in self.index.children(container):
                if model == INDIRECT_CONTAINER:
                    if not inserted:
                        continue
                    with contextlib.suppress(NotFound, Gone, CorruptData):
                        cgraph = self.resources.user_graph(self.resources.state(child.path))
                        for o in cgraph.objects(URIRef(paths.to_id(child.path)), URIRef(inserted)):
                            graph.add((URIRef(rid), URIRef(has_member), o))
                else:
                    graph.add((URIRef(rid), URIRef(has_member), URIRef(paths.to_id(child.path))))
        parent = paths.parent(path)
        if parent is not None:
            m = self.index.membership_of(parent)
            if m is not None and m[4]:
                graph.add((URIRef(rid), URIRef(m[4]), URIRef(paths.to_id(m[2]))))
