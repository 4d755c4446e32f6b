"""Reading one resource over HTTP: its info (HEAD plus description), its RDF, its binary content"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, CorruptData
from fcrctl.repository.base import NON_RDF_SOURCE, BinaryContent, RdfPrefs, ResourceInfo
from fcrctl.repository.http import ntriples, wire
from fcrctl.repository.http.facts import EBUCORE, FEDORA, MEMENTO_ID, PREMIS, Facts, plain_strings, spellings, to_int
from fcrctl.repository.http.listing_triples import CONTAINS
from fcrctl.repository.http.listings import LISTING_ACCEPT
from fcrctl.repository.http.remote import Remote
from fcrctl.repository.http.streams import ResponseStream, Window

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.http.versions import Versions


class Reads:
    """info / get_rdf / open_binary, and the describe step listings fall back on."""

    def __init__(self, remote: Remote, versions: Versions) -> None:
        self._remote = remote
        self._versions = versions

    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        path = paths.normalize(path)
        return self.describe(path, self._versions.named(path, version))

    def describe(self, path: str, version: str | None = None, *, container: bool = False) -> ResourceInfo:
        """HEAD plus the RDF that carries created/createdBy (the description for a binary).
        ``container``: the caller knows it is one (it just wrote it), so one GET gives both."""
        from rdflib import URIRef

        remote = self._remote
        url = remote.url(path, version)
        subjects = [URIRef(u) for u in {*spellings(url), *spellings(remote.url(path))}]
        has_children = False
        if container:
            graph, head, has_children = self._own_triples(url, path, subjects)
        else:
            # No Want-Digest here: the server would re-hash the whole binary; the stored digests
            # come with the description below.
            head = remote.head(url, path)
        model = head.model
        if model == NON_RDF_SOURCE:
            desc_url = self.describedby(head, path, version)
            graph, _ = remote.get_graph(desc_url, path, prefs=RdfPrefs(containment=False, membership=False))
        elif not container:
            graph, _, has_children = self._own_triples(url, path, subjects)
        return self._to_info(path, head, graph, subjects, has_children)

    def _to_info(self, path: str, head: wire.Headers, graph: Graph, subjects: list[Any],
                 has_children: bool = False) -> ResourceInfo:
        """ResourceInfo from a resource's headers (a HEAD's, or a GET's: the same) and its RDF (a binary's:
        its description's), which carries created/createdBy."""
        remote = self._remote
        model = head.model
        facts = Facts(graph, subjects)
        modified = head.last_modified or facts.datetime(FEDORA + "lastModified")
        created = facts.datetime(FEDORA + "created") or modified
        modified = facts.datetime(FEDORA + "lastModified") or modified or created
        if created is None or modified is None:
            raise CorruptData(f"{remote.location} gave no dates for {path}: is it a Fedora server?", path=path)
        info = ResourceInfo(
            path=path,
            model=model,
            etag=head.etag,
            created=created,
            modified=modified,
            created_by=facts.text(FEDORA + "createdBy"),
            modified_by=facts.text(FEDORA + "lastModifiedBy"),
            archival_group=head.archival_group,
            has_children=has_children,
        )
        group = head.link("archival-group")  # Fedora 6 links a member to its archival group
        if group:
            info.group = remote.path_of(group)
        if model == NON_RDF_SOURCE:
            # The full Content-Type (parameters included) is the binary's stored MIME type.
            info.mime_type = head.content_type or facts.text(EBUCORE + "hasMimeType")
            info.filename = head.filename or facts.text(EBUCORE + "filename")
            size = facts.text(PREMIS + "hasSize")
            info.size = int(size) if size and size.isdigit() else head.content_length
            digests: dict[str, str] = {}
            for urn in facts.all(PREMIS + "hasMessageDigest"):
                parsed = rdf.parse_digest_urn(urn)
                if parsed:
                    digests[parsed[0]] = parsed[1]
            for algorithm, hexdigest in head.digests.items():
                digests.setdefault(algorithm, hexdigest)  # stored digests win over recomputed ones
            info.digests = digests
            external = head.links.get(wire.EXTERNAL_CONTENT_REL)
            if external:
                info.external_url = external[0]["url"]
                info.external_handling = external[0].get("handling")
            elif head.location and not head.location.startswith(remote.base_uri + "/"):
                # Fedora answers a redirect binary's HEAD with 307 and its URL, and no link to say so
                info.external_url, info.external_handling = head.location, "redirect"
        return info

    def _own_triples(self, url: str, path: str, subjects: list[Any]) -> tuple[Graph, wire.Headers, bool]:
        """A container's own triples and whether it has children, its containment streamed past
        rather than kept: a container of a million children lists them all in its RDF."""
        from rdflib import URIRef

        remote = self._remote
        prefs = RdfPrefs(containment=True, membership=False)
        headers = {"Accept": LISTING_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        response = remote.send("GET", url, path=path, headers=headers, stream=True)
        with response:
            head = wire.parse_headers(response.headers)
            if rdf.mime_of(head.content_type) != "application/n-triples":
                graph, _ = remote.parse_graph(response, url, path)
                found = (remote.path_of(str(o)) for o in graph.objects(None, URIRef(CONTAINS)))
                return graph, head, any(p is not None and paths.parent(p) == path for p in found)
            sink = _OwnTriples(set(subjects), lambda o: paths.parent(remote.path_of(str(o)) or "/") == path)
            ntriples.parse_response(response, sink, url=url, path=path, location=remote.location,
                                    read_timeout=remote.timeout[1])
        return plain_strings(sink.graph), head, sink.has_children

    def describedby(self, head: wire.Headers, path: str, version: str | None) -> str:
        """The description of a binary (or of one version of it)."""
        remote = self._remote
        linked = remote.own_link(head, "describedby", remote.url(path), path)
        if version is None:
            return linked or remote.url(path) + "/fcr:metadata"
        if linked and "fcr:versions" in linked:
            return linked
        segment = remote.version_segment(version)
        if remote.dialect.versions == "memento" and MEMENTO_ID.match(segment):
            return remote.url(path) + "/fcr:metadata/fcr:versions/" + segment
        return remote.url(path, version) + "/fcr:metadata"

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        remote = self._remote
        path = paths.normalize(path)
        version = self._versions.named(path, version)
        url = remote.url(path, version)
        head = remote.head(url, path)
        target = url
        if head.model == NON_RDF_SOURCE:
            target = self.describedby(head, path, version)
        graph, _ = remote.get_graph(target, path, prefs=prefs)
        return self._internal(graph, path, version, (url, target))

    def _internal(self, graph: Graph, path: str, version: str | None, urls: tuple[str, ...]) -> Graph:
        """A graph read from ``urls`` with ids internal; a version's: labelled (Fedora 4) versions name their
        triples by the version URL, shown as the resource's own triples."""
        from rdflib import Graph, URIRef

        if version is not None:
            original = URIRef(self._remote.url(path))
            renamed = Graph()
            for s, p, o in graph:
                renamed.add((original if str(s) in urls else s, p, o))
            graph = renamed
        return rdf.to_internal(graph, self._remote.base_uri)

    def memento(self, path: str, version: str, *, binary: bool,
                prefs: RdfPrefs) -> tuple[ResourceInfo, Graph, BinaryContent | None]:
        """One version ``versions()`` listed, as export reads it, in the fewest requests (where ``info``,
        ``get_rdf`` and ``open_binary`` each HEAD it and resolve the version first): a container's is one
        GET, whose headers say what a HEAD says; a binary's (``binary``: the resource is one, and keeps its
        kind through its versions) the GETs of its content, whose headers likewise, and of its
        description. External content (redirect, proxy) is not read: its content is None."""
        from rdflib import URIRef

        remote = self._remote
        path = paths.normalize(path)
        url = remote.url(path, version)
        subjects = [URIRef(u) for u in {*spellings(url), *spellings(remote.url(path))}]
        if not binary:
            graph, head = remote.get_graph(url, path, prefs=prefs)
            if head.model == NON_RDF_SOURCE:
                raise CorruptData(f"{remote.location} answered version {version} of the container {path} as a "
                                  "binary", path=path)
            return self._to_info(path, head, graph, subjects), self._internal(graph, path, version, (url,)), None
        headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
        response = remote.send("GET", url, path=path, headers=headers, stream=True, allow_redirects=False)
        location = response.headers.get("Location") or ""
        if response.status_code >= 300 and location.startswith(remote.base_uri + "/"):
            response.close()  # a redirect within the repository (not external content): read it the long way
            info = self.describe(path, version)
            graph = self.get_rdf(path, prefs=prefs, version=version)
            return info, graph, None if info.external_url else self.open_binary(path, version=version)
        try:
            head = wire.parse_headers(response.headers)
            if head.model != NON_RDF_SOURCE and response.status_code < 300:
                raise CorruptData(f"{remote.location} answered version {version} of the binary {path} as a "
                                  "container", path=path)
            target = self.describedby(head, path, version)
            graph, _ = remote.get_graph(target, path, prefs=prefs)
            info = self._to_info(path, head, graph, subjects)
        except BaseException:
            response.close()
            raise
        if response.status_code >= 300 or info.external_url is not None:  # a redirect's or a proxy's: not read
            response.close()
            return info, self._internal(graph, path, version, (url, target)), None
        response.raw.decode_content = True
        content = BinaryContent(info=info, stream=ResponseStream(response, remote.location),
                                length=to_int(response.headers.get("Content-Length"), info.size))
        return info, self._internal(graph, path, version, (url, target)), content

    def open_binary(
        self, path: str, *, version: str | None = None, byte_range: tuple[int, int | None] | None = None
    ) -> BinaryContent:
        remote = self._remote
        path = paths.normalize(path)
        version = self._versions.named(path, version)
        info = self.describe(path, version)
        if not info.is_binary:
            raise BadInput(f"{path} is a container, not a binary: use `fcrctl get` for its RDF", path=path)
        headers: dict[str, str] = {"Accept": "*/*", "Accept-Encoding": "identity"}
        start, end = 0, None
        if byte_range is not None:
            start, end = byte_range
            if start < 0 or (end is not None and end < start):
                raise BadInput(f"invalid byte range {start}-{end}: give START-END with START <= END", path=path)
            headers["Range"] = f"bytes={start}-{'' if end is None else end}"
        response = remote.send("GET", remote.url(path, version), path=path, headers=headers, stream=True)
        response.raw.decode_content = True
        stream: BinaryIO = ResponseStream(response, remote.location)
        total = info.size
        if response.status_code == 206:
            length = to_int(response.headers.get("Content-Length"))
        else:
            # The server ignored Range (or none was asked): skip and cut here instead.
            if start or end is not None:
                stream = Window(stream, start, None if end is None else end - start + 1)
            length = None if total is None else max(0, (total if end is None else min(end + 1, total)) - start)
            if byte_range is None:
                length = to_int(response.headers.get("Content-Length"), total)
        if end is None and total is not None and byte_range is not None:
            end = total - 1
        return BinaryContent(info=info, stream=stream, start=start, end=end, length=length)


class _OwnTriples:
    """The sink keeping a resource's own triples (as a Graph) but its containment, noting only whether
    it contains a child."""

    def __init__(self, subjects: set[Any], is_child: Callable[[Any], bool]) -> None:
        self.graph = rdf.new_graph()
        self.has_children = False
        self._subjects = subjects
        self._is_child = is_child

    def triple(self, s: Any, p: Any, o: Any) -> None:
        if str(p) == CONTAINS:  # a container's children: noted, not kept (there may be a million)
            if not self.has_children and self._is_child(o):
                self.has_children = True
        elif s in self._subjects:
            self.graph.add((s, p, o))
