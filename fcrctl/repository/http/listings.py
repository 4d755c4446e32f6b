"""Listing a container over HTTP: one GET with the children's triples embedded, parsed as it arrives

A listing's triples go from rdflib's N-Triples parser (ntriples.py) into a ListingTriples
(listing_triples.py), which holds them in memory up to a size and spills them to a temporary
SQLite file beyond: a container of a million children costs the client flat memory. Children
are then yielded in path order, CHUNK at a time, the few the server did not describe asked for
one by one in parallel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from fcrctl import paths, rdf
from fcrctl.errors import Gone, NotFound
from fcrctl.repository.base import NON_RDF_SOURCE, RdfPrefs, ResourceInfo
from fcrctl.repository.http import ntriples, wire
from fcrctl.repository.http.facts import embedded_info, spellings
from fcrctl.repository.http.listing_triples import ListingTriples
from fcrctl.repository.http.remote import Remote

LISTING_ACCEPT = "application/n-triples, text/turtle;q=0.9"
CHUNK = 512  # children described (and, when not embedded, asked for in parallel) at a time

Describe = Callable[[str], ResourceInfo]  # a path's info, asked for on its own


class Listings:
    """children(): a container's children (recursively on request), described from the listing."""

    def __init__(self, remote: Remote, describe: Describe) -> None:
        self._remote = remote
        self._describe = describe

    def children(self, path: str, *, recursive: bool = False) -> Iterator[ResourceInfo]:
        path = paths.normalize(path)
        head = self._remote.head(self._remote.url(path), path)  # NotFound / Gone now, and is it a container at all?
        if head.model == NON_RDF_SOURCE:
            return
        yield from self._listing(path, recursive)

    def _listing(self, path: str, recursive: bool) -> Iterator[ResourceInfo]:
        """One GET per container, its children embedded (Fedora's EmbedResources), so a listing
        costs no request per child; children the server did not describe are asked for one by one."""
        remote = self._remote
        url = remote.url(path)

        def child_path(url: str) -> str | None:
            found = remote.path_of(url)
            return found if found is not None and paths.parent(found) == path else None

        with self._fetch(url, path) as triples:
            kids = triples.children([url, url + "/"], child_path)
            while chunk := list(itertools.islice(kids, CHUNK)):
                infos = {kid: embedded_info(triples.about(spellings(remote.url(kid))), kid) for kid in chunk}
                for described in remote.pool_map(self._describe_or_none, [k for k, i in infos.items() if i is None]):
                    if described is not None:
                        infos[described.path] = described
                for kid in chunk:
                    info = infos.get(kid)
                    if info is None:
                        continue  # deleted (tombstone) or gone meanwhile
                    yield info
                    if recursive and not info.is_binary:
                        yield from self._listing(kid, recursive)

    def _fetch(self, url: str, path: str) -> ListingTriples:
        """The listing's triples, read to the end (empty when the container went meanwhile).

        N-Triples, what servers send for LISTING_ACCEPT, is parsed while it arrives; another
        format is read whole (within the bound of Remote.parse_graph) and parsed into a Graph first.
        """
        remote = self._remote
        prefs = RdfPrefs(containment=True, membership=False, embed_children=True)
        headers = {"Accept": LISTING_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        triples = ListingTriples()
        try:
            response = remote.send("GET", url, path=path, headers=headers, stream=True)
        except (NotFound, Gone):
            return triples  # removed between the parent's listing and now
        try:
            with response:
                if rdf.mime_of(wire.parse_headers(response.headers).content_type) == "application/n-triples":
                    ntriples.parse_response(response, triples, url=url, path=path, location=remote.location,
                                            read_timeout=remote.timeout[1])
                else:
                    graph, _ = remote.parse_graph(response, url, path)
                    for s, p, o in graph:
                        triples.triple(s, p, o)
        except BaseException:
            triples.close()
            raise
        return triples

    def _describe_or_none(self, path: str) -> ResourceInfo | None:
        try:
            return self._describe(path)
        except (NotFound, Gone):
            return None
