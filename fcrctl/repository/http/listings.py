"""Listing a container over HTTP: one GET with the children's triples embedded, parsed as it arrives

A server that says its N-Triples listing is grouped (``Fcrctl-Listing: grouped``, which
``fcrctl serve`` sends: docs/listings.md) gives each child's triples right after the
``ldp:contains`` triple naming it, children in path order: each child is yielded as soon as its
group has arrived, holding one group. Any other listing (Fedora promises no order) is read to the
end first: its triples go from the N-Triples reader (ntriples.py) into a ListingTriples
(listing_triples.py), which holds them in memory up to a size and spills them to a temporary
SQLite file beyond, so a container of a million children costs the client flat memory either
way. Children are then yielded in path order, CHUNK at a time, the few the server did not describe
asked for one by one in parallel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, CorruptData, Gone, NotFound
from fcrctl.repository.base import NON_RDF_SOURCE, RdfPrefs, ResourceInfo
from fcrctl.repository.http import ntriples, wire
from fcrctl.repository.http.errors import error_for
from fcrctl.repository.http.facts import About, embedded_info, plain_strings, spellings
from fcrctl.repository.http.listing_triples import CONTAINS, WANTED, ListingTriples
from fcrctl.repository.http.plain import QuickResponse
from fcrctl.repository.http.remote import Remote

if TYPE_CHECKING:
    import requests
    from rdflib import Graph

LISTING_ACCEPT = "application/n-triples, text/turtle;q=0.9"
CHUNK = 512  # children described (and, when not embedded, asked for in parallel) at a time
GROUPED_HEADER = "Fcrctl-Listing"  # fcrctl.server.listings.GROUPED_HEADER (the client imports no server code)
GROUPED = "grouped"
OWN_FIRST_HEADER = "Fcrctl-Listing-Own"  # fcrctl.server.listings.OWN_FIRST_HEADER: the container's triples first
OWN_FIRST = "first"
# fcrctl.server.listings.AFTER_HEADER: a request's page bound (a child's name, percent-encoded), which
# serve's grouped listing starts after (and says so, sending it back); other servers ignore it
AFTER_HEADER = "Fcrctl-Listing-After"
# what a listing's GET sent through QuickHead takes as its answer (requests would get the same: these errors
# are not retried, and the first GET of `ls` follows no redirect); any other is sent again the ordinary way
QUICK_ERRORS = (401, 403, 404, 410)
QUICK_ANSWERS = (301, 302, 303, 307, 308, 406, *QUICK_ERRORS)

Describe = Callable[[str], ResourceInfo]  # a path's info, asked for on its own


class Listings:
    """children(): a container's children (recursively on request), described from the listing."""

    def __init__(self, remote: Remote, describe: Describe) -> None:
        self._remote = remote
        self._describe = describe
        self._ungrouped = False  # the server sent a listing not grouped: open_container gives None

    def children(self, path: str, *, recursive: bool = False, after: str | None = None) -> Iterator[ResourceInfo]:
        path = paths.normalize(path)
        bound = paths.after_bound(path, after, recursive=recursive)
        yield from self._listing(path, recursive, top=True, after=bound)

    def _listing(self, path: str, recursive: bool, *, top: bool = False,
                 after: str | None = None) -> Iterator[ResourceInfo]:
        """One GET per container, its children embedded (Fedora's EmbedResources), so a listing
        costs no request per child; children the server did not describe are asked for one by one.
        A recursive listing reads each body whole before going down (no connection held per level).
        ``after``: only the children whose paths sort after it; a server that pages (AFTER_HEADER)
        starts its listing there, any other one's is read from its start (and, from Fedora, whole)."""
        url = self._remote.url(path)
        response = self._first_get(url, path, after) if top else self._get(url, path)
        if response is None:
            return  # a binary (nothing to list), or removed between the parent's listing and now
        with response:
            if not recursive and _grouped(response):
                groups = self._groups(self._rows(response, url, path), url, path)
                yield from self._described(groups if after is None else (g for g in groups if g[0] > after))
                return
            triples = self._read(response, url, path)
        with triples:
            kids = triples.children([url, url + "/"], self._child_path(path))
            if after is not None:
                kids = (kid for kid in kids if kid > after)
            described = self._described(
                (kid, about) for chunk in iter(lambda: list(itertools.islice(kids, CHUNK)), [])
                for kid, about in zip(chunk, triples.about_each([spellings(self._remote.url(k)) for k in chunk]),
                                      strict=True))
            for info in described:
                yield info
                if recursive and not info.is_binary:
                    yield from self._listing(info.path, recursive)

    def open_container(self, path: str) -> OpenedContainer | None:
        """A container read in one GET: its own triples' lines, then its children as they arrive
        (export's walk: HEAD + GET of its RDF and HEAD + GET of its listing were 4 requests per
        container). None when the server does not group its listings (docs/listings.md): the
        caller then reads the two apart, as before (and this is not asked again)."""
        if self._ungrouped:
            return None
        remote = self._remote
        path = paths.normalize(path)
        url = remote.url(path)
        headers = _listing_headers()
        response = remote.quick_head.get(url, {**remote.tx_headers, **headers})  # see QuickHead.get
        if response is None:  # an error, https, or the idle connection had closed: the ordinary way explains it
            response = remote.send("GET", url, path=path, headers=headers, stream=True)
        try:
            if not _grouped(response) or response.headers.get(OWN_FIRST_HEADER, "").strip().lower() != OWN_FIRST:
                self._ungrouped = True
                response.close()
                return None
            lines = ntriples.body_lines(response, url=url, path=path, location=remote.location,
                                        read_timeout=remote.timeout[1])
            starts = tuple(f"<{spelled}> <{CONTAINS}> " for spelled in spellings(url))
            own: list[str] = []
            first = None
            for line in lines:
                if line.startswith(starts):  # serve writes its own triples first, then each child's group
                    first = line
                    break
                own.append(line)
        except BaseException:
            response.close()
            raise
        if first is None:
            response.close()  # a leaf: read to its end
            return OpenedContainer(own, url, remote, wire.parse_headers(response.headers), iter(()), None)
        rows = ntriples.parsed_lines(itertools.chain([first], lines), ntriples.TextLines(WANTED), path=path,
                                     location=remote.location)
        children = self._described(self._groups(rows, url, path, own_first=True))
        return OpenedContainer(own, url, remote, wire.parse_headers(response.headers), children, response)

    def _child_path(self, path: str) -> Callable[[str], str | None]:
        remote = self._remote

        def child_path(url: str) -> str | None:
            found = remote.path_of(url)
            return found if found is not None and paths.parent(found) == path else None

        return child_path

    def _get(self, url: str, path: str) -> requests.Response | QuickResponse | None:
        """A descendant's listing (``ls -R``), None if it went meanwhile; through QuickHead as _first_get's."""
        headers = _listing_headers()
        try:
            response = self._quick_get(url, path, headers, QUICK_ERRORS)
            if response is None:
                response = self._remote.send("GET", url, path=path, headers=headers, stream=True)
        except (NotFound, Gone):
            return None
        return response

    def _quick_get(self, url: str, path: str, headers: dict[str, str],
                   answers: tuple[int, ...]) -> QuickResponse | None:
        """A GET through QuickHead (no requests imported: a third of a short `ls`): its response when 2xx or
        in ``answers`` (an error among them raised as send raises it), else None (then sent the ordinary way:
        a status requests retries, a failure to connect, a proxy in the environment)."""
        remote = self._remote
        response = remote.quick_head.get(url, {**remote.tx_headers, **headers}, also=answers)
        if response is not None and response.status_code >= 400 and response.status_code != 406:
            with response:
                raise error_for(response, path=path, secrets=remote.secrets)  # type: ignore[arg-type]
        return response

    def _first_get(self, url: str, path: str,
                   after: str | None = None) -> requests.Response | QuickResponse | None:
        """The listing of the path `ls` names, None if it is a binary; NotFound / Gone raised. The GET
        goes first, with no HEAD to ask what the path is (a request fewer before the first line, and
        the server's HEAD of a big container builds the start of its body): a 2xx not of a binary is
        the listing, a binary's bytes are closed unread. Anything else (a redirect, which is not followed
        here as it may lead off this repository, a 406) is closed and asked about as before: HEAD, then GET."""
        remote = self._remote
        headers = _listing_headers()
        if after is not None:
            headers[AFTER_HEADER] = quote(after.rsplit("/", 1)[1], safe="")
        response: requests.Response | QuickResponse | None = self._quick_get(url, path, headers, QUICK_ANSWERS)
        if response is None:
            response = remote.send("GET", url, path=path, headers=headers, stream=True, allow_redirects=False,
                                   ok=(406,))
        if 200 <= response.status_code < 300:
            if wire.parse_headers(response.headers).model != NON_RDF_SOURCE:
                return response
            response.close()
            return None
        response.close()
        if remote.head(url, path).model == NON_RDF_SOURCE:
            return None
        return remote.send("GET", url, path=path, headers=headers, stream=True)

    def _read(self, response: requests.Response | QuickResponse, url: str, path: str) -> ListingTriples:
        """The listing's triples, read to the end. N-Triples, what servers send for LISTING_ACCEPT,
        is parsed while it arrives; another format is read whole (within the bound of
        Remote.parse_graph) and parsed into a Graph first."""
        remote = self._remote
        triples = ListingTriples()
        try:
            if _is_nt(response):
                for s, p, o in ntriples.rows(response, url=url, path=path, location=remote.location,
                                             read_timeout=remote.timeout[1], wanted=WANTED):
                    triples.triple(s, p, o)
            else:
                graph, _ = remote.parse_graph(response, url, path)
                for s, p, o in graph:
                    triples.triple(s, p, o)
        except BaseException:
            triples.close()
            raise
        return triples

    def _rows(self, response: requests.Response | QuickResponse, url: str, path: str) -> Iterator[ntriples.Row]:
        remote = self._remote
        return ntriples.rows(response, url=url, path=path, location=remote.location, read_timeout=remote.timeout[1],
                             wanted=WANTED)

    def _groups(self, rows: Iterator[ntriples.Row], url: str, path: str, *,
                own_first: bool = False) -> Iterator[tuple[str, About]]:
        """(child, what its group says of it) of a grouped listing, each as soon as its group ends.
        A server that breaks its word (a child out of order, a child's triple outside its group)
        is CorruptData: the children already yielded cannot be taken back."""
        remote = self._remote
        child_path = self._child_path(path)
        container = set(spellings(url))
        kid: str | None = None
        facts: dict[str, dict[str, list[str]]] = {}  # the current child's, per spelling of its URL

        def broken(what: str) -> CorruptData:
            return CorruptData(f"server response for {path}: {what}, though it said its listing was grouped "
                               f"({GROUPED_HEADER}: {GROUPED}) (sent by {remote.location})", path=path)

        for subject, p, o in rows:
            if subject in facts:
                facts[subject].setdefault(p, []).append(o)
            elif subject in container:
                if p != CONTAINS and own_first:
                    raise broken(f"a triple of {path} came after its children, though it said they come first "
                                 f"({OWN_FIRST_HEADER}: {OWN_FIRST})")
                if p != CONTAINS or (child := child_path(o)) is None:
                    continue
                if kid is not None:
                    if child <= kid:
                        raise broken(f"{child} came after {kid}")
                    yield kid, list(filter(None, facts.values()))
                kid, facts = child, {spelled: {} for spelled in spellings(remote.url(child))}
            elif not subject.startswith("_:") and (about := child_path(subject)) is not None and about != kid:
                raise broken(f"a triple about {about} came in the group of {kid or 'no child'}")
        if kid is not None:
            yield kid, list(filter(None, facts.values()))

    def _described(self, groups: Iterator[tuple[str, About]]) -> Iterator[ResourceInfo]:
        """Each child's info from its triples, in order; those the server did not describe (or
        described without a creation date) are asked for, up to CHUNK at once, in parallel. Children
        gone meanwhile (tombstones) are left out."""
        pending: list[tuple[str, ResourceInfo | None]] = []
        missing = 0
        for kid, about in groups:
            info = embedded_info(about, kid)
            pending.append((kid, info))
            missing += info is None
            if missing == 0 or len(pending) >= CHUNK:
                yield from self._resolved(pending)
                pending, missing = [], 0
        yield from self._resolved(pending)

    def _resolved(self, pending: list[tuple[str, ResourceInfo | None]]) -> Iterator[ResourceInfo]:
        asked: dict[str, ResourceInfo] = {}
        unknown = [kid for kid, info in pending if info is None]
        for described in self._remote.pool_map(self._describe_or_none, unknown):
            if described is not None:
                asked[described.path] = described
        for kid, info in pending:
            found = info or asked.get(kid)
            if found is not None:
                yield found

    def _describe_or_none(self, path: str) -> ResourceInfo | None:
        try:
            return self._describe(path)
        except (NotFound, Gone):
            return None


class OpenedContainer:
    """open_container's answer: ``own``, the container's own triples as the server wrote them
    (N-Triples lines, in URL form under ``base_uri``), its response's ``headers``, and its children,
    iterated as their groups arrive. Close it when done with them (the connection goes back)."""

    def __init__(self, own: list[str], url: str, remote: Remote, headers: wire.Headers,
                 children: Iterator[ResourceInfo], response: requests.Response | QuickResponse | None) -> None:
        self.own = own
        self.base_uri = remote.base_uri
        self.headers = headers
        self._url = url
        self._remote = remote
        self._children = children
        self._response = response

    def graph(self) -> Graph:
        """``own`` as get_rdf gives a resource's triples (internal ids), through rdflib: for the lines
        a caller's text reader does not handle."""
        path = self._remote.path_of(self._url) or "/"
        body = "".join(line + "\n" for line in self.own).encode("utf-8")
        try:
            graph = rdf.parse(body, "application/n-triples", base=self._url, source=f"server response for {path}",
                              storable=False)
        except BadInput as exc:
            raise CorruptData(f"{exc.message} (sent by {self._remote.location})", path=path) from None
        return rdf.to_internal(plain_strings(graph), self.base_uri)

    def __iter__(self) -> Iterator[ResourceInfo]:
        return self

    def __next__(self) -> ResourceInfo:
        return next(self._children)

    def close(self) -> None:
        close = getattr(self._children, "close", None)
        if close is not None:
            close()
        if self._response is not None:
            self._response.close()
            self._response = None


def _listing_headers() -> dict[str, str]:
    """What a listing asks for: N-Triples, containment with the children's triples embedded."""
    prefs = RdfPrefs(containment=True, membership=False, embed_children=True)
    return {"Accept": LISTING_ACCEPT, "Prefer": rdf.prefer_header(prefs)}


def _grouped(response: requests.Response | QuickResponse) -> bool:
    return response.headers.get(GROUPED_HEADER, "").strip().lower() == GROUPED and _is_nt(response)


def _is_nt(response: requests.Response | QuickResponse) -> bool:
    return rdf.mime_of(wire.parse_headers(response.headers).content_type) == "application/n-triples"
