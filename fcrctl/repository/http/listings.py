"""Listing a container over HTTP: one GET with the children's triples embedded, parsed as it arrives"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import requests

from fcrctl import paths, rdf
from fcrctl.errors import CorruptData, Gone, NotFound
from fcrctl.repository.base import LDP, NON_RDF_SOURCE, RdfPrefs, ResourceInfo
from fcrctl.repository.http import wire
from fcrctl.repository.http.errors import transport_error
from fcrctl.repository.http.facts import Triples, embedded_info
from fcrctl.repository.http.remote import Remote

LISTING_ACCEPT = "application/n-triples, text/turtle;q=0.9"
LISTING_BLOCK = 1 << 16  # bytes of a listing parsed at a time while the rest arrives

Describe = Callable[[str], tuple[ResourceInfo, list[str]]]  # a path's info and children, asked one by one


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
        prefs = RdfPrefs(containment=True, membership=False, embed_children=True)
        headers = {"Accept": LISTING_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        try:
            response = remote.send("GET", url, path=path, headers=headers, stream=True)
        except (NotFound, Gone):
            return  # removed between the parent's listing and now
        with response:
            triples = self._listing_triples(response, url, path)
        contains = LDP + "contains"
        own = {**triples.get(url, {}), **triples.get(url + "/", {})}
        found = {remote.path_of(str(o)) for o in own.get(contains, ())}
        kids = sorted(p for p in found if p is not None and paths.parent(p) == path)
        infos = {kid: embedded_info(triples, kid, remote.url(kid)) for kid in kids}
        for described in remote.pool_map(self._describe_or_none, [k for k, i in infos.items() if i is None]):
            if described is not None:
                infos[described[0].path] = described[0]
        for kid in kids:
            info = infos.get(kid)
            if info is None:
                continue  # deleted (tombstone) or gone meanwhile
            yield info
            if recursive and not info.is_binary:
                yield from self._listing(kid, recursive)

    def _listing_triples(self, response: requests.Response, url: str, path: str) -> Triples:
        """A listing's triples as {subject: {predicate: [objects]}} (URL form).

        N-Triples, what servers send for LISTING_ACCEPT, is parsed while it arrives (whole lines
        at a time: N-Triples has one triple per line), straight from rdflib's parser into that
        index: building an rdflib Graph and querying it per child cost a listing of 2,000
        binaries ~1 s of CPU. Other formats are read whole and parsed into a Graph first.
        """
        from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

        remote = self._remote
        triples: Triples = {}
        mime = rdf.mime_of(wire.parse_headers(response.headers).content_type)
        if mime != "application/n-triples":
            graph, _ = remote.parse_graph(response, url, path)
            for s, p, o in graph:
                triples.setdefault(str(s), {}).setdefault(str(p), []).append(o)
            return triples

        class Sink:
            def triple(self, s: Any, p: Any, o: Any) -> None:
                triples.setdefault(str(s), {}).setdefault(str(p), []).append(o)

        parser = W3CNTriplesParser(sink=Sink())  # one parser: blank node labels span the document
        pending: list[bytes] = []  # the start of a line not yet complete
        try:
            for block in response.iter_content(LISTING_BLOCK):
                end = block.rfind(b"\n") + 1
                if not end:
                    pending.append(block)
                    continue
                parser.parsestring(b"".join([*pending, block[:end]]))  # type: ignore[arg-type]
                pending = [block[end:]]
            rest = b"".join(pending)
            if rest.strip():
                parser.parsestring(rest)  # type: ignore[arg-type]
        except requests.RequestException as exc:  # the connection broke while the listing arrived
            raise transport_error(exc, url, timeout=remote.timeout[1]) from None
        except Exception as exc:  # rdflib's parser raises several unrelated types
            raise CorruptData(
                f"server response for {path}: malformed N-Triples ({type(exc).__name__}: {str(exc)[:200]}) "
                f"(sent by {remote.location})",
                path=path,
            ) from None
        return triples

    def _describe_or_none(self, path: str) -> tuple[ResourceInfo, list[str]] | None:
        try:
            return self._describe(path)
        except (NotFound, Gone):
            return None
