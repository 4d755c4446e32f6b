"""Export a repository subtree in fcrepo-import-export's layout (see layout.py).

Works on any Repository, so the same code exports a local repository and a remote one. The walk
streams: children are listed as they come and each resource is written as soon as it is read, so
memory stays flat however big the repository; for Turtle and N-Triples a container's
``ldp:contains`` triples are streamed into its file from the listing (the same listing the walk
descends by) instead of being collected in a graph, and where the backend hands out its stored
N-Triples (local) a resource's file is written from them as text (ntlines.py), not through rdflib;
over serve each container is read in one GET, its triples and children (served_lines.py).
Long because the walk, its one-resource writers and the streamed listing share the Exporter's
state (the open container files, the pool, the report): split, they would pass it all around.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fcrctl import paths, rdf
from fcrctl.errors import FcrctlError, Gone
from fcrctl.repository.base import LDP, BinaryContent, RdfPrefs, Repository, ResourceInfo, Version
from fcrctl.services.transfer import acl, layout, ntlines, served_lines, sidecars
from fcrctl.services.transfer.export_files import ExportFiles
from fcrctl.services.transfer.report import Report

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.http.listings import OpenedContainer

DEFAULT_BASE_URL = "http://localhost:8080/rest"  # what a local repository's ids are written as
CONTAINS = LDP + "contains"
MEMENTO_TYPE = "http://mementoweb.org/ns#Memento"
TIMEMAP_TYPE = "http://mementoweb.org/ns#TimeMap"
_CHUNK = 1 << 20


@dataclass
class ExportOptions:
    recursive: bool = True
    binaries: bool = True
    versions: bool = True
    acls: bool = True
    format: str = "turtle"
    base_url: str | None = None  # URL the resources are written under; default: the repository's
    predicates: list[str] = field(default_factory=lambda: [CONTAINS])
    resume: bool = False
    jobs: int = 1


class Exporter:
    def __init__(self, repo: Repository, dest: Path, options: ExportOptions,
                 on_item: Callable[[str], None] | None = None) -> None:
        self.repo = repo
        self.dest = dest
        self.options = options
        self.mime, self.ext = layout.format_of(options.format)
        base = options.base_url or (repo.base_uri if repo.base_uri.startswith(("http://", "https://"))
                                    else DEFAULT_BASE_URL)
        self.base_url = base.rstrip("/")
        self.report = Report("export")
        self.on_item = on_item or (lambda path: None)
        self.extra_predicates = [p for p in options.predicates if p != CONTAINS]
        self.streamed = self.mime in ("text/turtle", "application/n-triples")
        # a backend that hands out a resource's stored N-Triples (local) skips rdflib (ntlines.py)
        self._stored: Callable[[str], bytes] | None = getattr(repo, "stored_ntriples", None) if self.streamed \
            else None
        # a backend that reads a container's triples and children in one request (HTTP, from serve)
        self._opener: Callable[[str], OpenedContainer | None] | None = getattr(repo, "open_container", None) \
            if self.streamed and not self.extra_predicates else None
        self._submit: Callable[..., None] = _call
        self._open: set[str] = set()  # containers whose files are still being written (see _tree)
        self.tree = ExportFiles(dest, self.base_url)
        # where a listing says exactly which children have children, leaves (most) are not listed
        self._exact_children = bool(getattr(repo.capabilities, "exact_has_children", False))

    def url(self, path: str) -> str:
        return self.tree.url(path)

    # -- the walk ------------------------------------------------------------------------------
    def run(self, root: str) -> Report:
        from fcrctl.services.pool import BoundedPool

        self.dest.mkdir(parents=True, exist_ok=True)
        with BoundedPool(self.options.jobs, self.options.jobs * 4, name="fcrctl-export") as pool:
            if self.options.jobs > 1:
                self._submit = pool.submit
            self._tree(root)
        return self.report.finish()

    def _tree(self, root: str) -> None:
        """Export ``root`` and (when recursive) everything below it, depth first. Each level holds
        one open listing and its container's file, still open, which gets an ``ldp:contains`` line
        per child as the listing is walked: memory grows with depth, not with size, and each
        container is listed once (its file and the walk share the listing)."""
        try:
            top = self.repo.info(root)
        except Gone as exc:
            self.report.fail(root, exc.message)
            return
        if top.is_binary:
            self._submit(self._binary_one, top)
            return
        stack = [self._enter(top)]
        try:
            while stack:
                path, children, listing = stack[-1]
                child = self._next(path, children, listing)
                if child is None:
                    stack.pop()
                    self._open.discard(path)
                    _close(children)
                    if listing is not None:
                        listing.commit()
                    continue
                if listing is not None:
                    listing.contains(self.url(child.path))
                if not self.options.recursive:
                    continue
                if child.is_binary:
                    self._submit(self._binary_one, child)
                else:
                    stack.append(self._enter(child))
        finally:
            for path, children, listing in stack:  # interrupted: no half-listed container file is left
                self._open.discard(path)
                _close(children)
                if listing is not None:
                    listing.discard()

    def _enter(self, info: ResourceInfo) -> tuple[str, Iterator[ResourceInfo], _Listing | None]:
        listing = opened = None
        try:
            listing, opened = self._container(info)
        except FcrctlError as exc:
            self.report.fail(info.path, exc.message)
            self.on_item(info.path)
        if (not self.options.recursive and listing is None) or (not info.has_children and self._exact_children):
            if listing is not None:
                listing.commit()
            _close(opened)
            return info.path, iter(()), None
        self._open.add(info.path)
        if opened is not None:
            return info.path, opened, listing
        try:
            return info.path, iter(self.repo.children(info.path)), listing
        except FcrctlError as exc:
            self.report.fail(info.path, exc.message)
            if listing is not None:
                listing.discard()
            return info.path, iter(()), None

    def _next(self, path: str, children: Iterator[ResourceInfo], listing: _Listing | None) -> ResourceInfo | None:
        try:
            return next(children, None)
        except FcrctlError as exc:  # the container went away while it was listed
            self.report.fail(path, exc.message)
            if listing is not None:
                listing.discard()
            return None

    def _binary_one(self, info: ResourceInfo) -> None:
        try:
            self._binary(info)  # with its versions
        except FcrctlError as exc:
            self.report.fail(info.path, exc.message)
            self.on_item(info.path)
            return
        self._extras(info, False)

    def _extras(self, info: ResourceInfo, versions: bool) -> None:
        try:
            if versions and self.options.versions and info.path != "/":
                self._versions(info)
            if self.options.acls:
                self._acl(info.path)
        except FcrctlError as exc:
            self.report.fail(info.path, exc.message)
        self.on_item(info.path)

    # -- one resource ---------------------------------------------------------------------------
    def _container(self, info: ResourceInfo) -> tuple[_Listing | None, OpenedContainer | None]:
        """Write the container's file and headers; when its ``ldp:contains`` lines are streamed,
        its file is returned still open for them (see ``_tree``), and, where the backend read the
        container and its children in one request, that read, its children still to come."""
        path = info.path
        target = self.tree.target(path, self.ext)
        if self.options.resume and os.path.exists(target):
            self.report.skip(path, "already exported")
            self._submit(self._extras, info, False)
            return None, None
        opened = self._opener(path) if self._opener is not None else None
        try:
            return self._container_file(info, target, opened), opened
        except BaseException:
            _close(opened)
            raise

    def _container_file(self, info: ResourceInfo, target: Path, opened: OpenedContainer | None) -> _Listing | None:
        path = info.path
        if opened is not None:
            graph = None
            lines = served_lines.export_lines(opened.own, opened.base_uri, self.base_url)
            if lines is not None:
                head = "".join(line + "\n" for line in lines).encode("utf-8")
            else:
                head = self._serialize(rdf.to_external(opened.graph(), self.base_url))
        else:
            head, graph = self._rdf(info, containment=not self.streamed)
        out = self.tree.open(target)
        try:
            out.write(head)
            self.tree.write_headers(target, sidecars.container(info, self.mime))
        except BaseException:
            out.discard()
            raise
        self.report.done("container")
        if graph is not None and self.extra_predicates:
            self._follow(graph)
        self._submit(self._extras, info, True)
        if not self.streamed:
            out.commit()
            return None
        return _Listing(out, rdf.id_to_url(paths.to_id(path), self.base_url))

    def _binary(self, info: ResourceInfo) -> None:
        path = info.path
        info = self.repo.info(path)  # a listing's entry may not say where external content lives
        external = info.external_url is not None and info.external_handling in ("redirect", "proxy")
        target = self.tree.file(path, layout.EXTERNAL_EXT if external else layout.BINARY_EXT)
        desc = self.tree.file(path, self.ext, layout.METADATA)
        if self.options.resume and target.exists() and desc.exists():
            self.report.skip(path, "already exported")
            return
        if not self.options.binaries:
            self.report.skip(path, "binary left out (--no-binaries)")
            return
        size = 0
        if external:
            self.tree.write(target, b"")
        else:
            with self.repo.open_binary(path) as content:
                size = _write_stream(target, content.stream)
        self.tree.write_headers(target, sidecars.binary(info, self.url(info.path)))
        self.tree.write(desc, self._rdf(info, containment=False)[0])
        self.tree.write_headers(desc, sidecars.description(info, self.mime, self.url(info.path)))
        self.report.done("external" if external else "binary", size)
        if self.options.versions:
            self._versions(info)

    def _acl(self, path: str) -> None:
        # The one hook for ACLs: fcr%3Aacl.<ext> beside the resource's own directory.
        if not acl.supported(self.repo):
            return
        graph = acl.read(self.repo, path)
        if graph is None:
            return
        target = self.tree.file(path, self.ext, layout.ACL)
        acl_url = self.url(path).rstrip("/") + "/fcr:acl"
        layout.write_atomic(target, self._serialize(rdf.to_external(graph, self.base_url)))
        layout.write_headers(target, {"Link": [layout.link_header(LDP + "RDFSource", "type"),
                                               layout.link_header(LDP + "BasicContainer", "type")],
                                      "Content-Type": [self.mime], "Content-Location": [acl_url]})
        self.report.done("acl")

    def _versions(self, info: ResourceInfo) -> None:
        """``fcr%3Aversions.<ext>`` (the TimeMap) and each memento, in Fedora 5/6's layout."""
        from rdflib import Literal, URIRef

        path = info.path
        versions = self.repo.versions(path)
        if not versions:
            return
        timemap = rdf.new_graph()
        subject = URIRef(self.url(path))
        for version in versions:
            timemap.add((subject, URIRef(LDP + "contains"), URIRef(self._memento_url(path, version))))
            timemap.add((URIRef(self._memento_url(path, version)), URIRef(rdf.MEMENTO + "mementoDatetime"),
                         Literal(version.created.isoformat().replace("+00:00", "Z"),
                                 datatype=URIRef(rdf.XSD + "dateTime"))))
        target = self.tree.file(path, self.ext, layout.VERSIONS)
        layout.write_atomic(target, rdf.serialize(timemap, self.mime))
        layout.write_headers(target, {"Link": [layout.link_header(TIMEMAP_TYPE, "type")],
                                      "Content-Type": [self.mime]})
        for version in versions:
            self._memento(info, version)

    def _memento_url(self, path: str, version: Version) -> str:
        return f"{self.url(path).rstrip('/')}/fcr:versions/{version.memento}"

    def _memento(self, info: ResourceInfo, version: Version) -> None:
        from fcrctl.repository.http.wire import http_date

        path = info.path
        stamp = {"Memento-Datetime": [http_date(version.created)],
                 "Link": [layout.link_header(MEMENTO_TYPE, "type")]}
        read = getattr(self.repo, "memento", None)  # a backend that reads a version in fewer requests (HTTP)
        content: BinaryContent | None = None
        try:
            if read is not None:
                vinfo, graph, content = read(path, version.id, binary=info.is_binary,
                                             prefs=RdfPrefs(containment=False, membership=False))
                graph = rdf.to_external(graph, self.base_url)
            else:
                vinfo = self.repo.info(path, version=version.id)
        except FcrctlError:  # the resource did not exist in that version (an archival group's member)
            return
        with contextlib.ExitStack() as held:
            if content is not None:
                held.enter_context(content)
            if read is None:
                graph = self._graph(path, containment=False, version=version.id)
            self._write_memento(info, version, vinfo, graph, content, stamp)

    def _write_memento(self, info: ResourceInfo, version: Version, vinfo: ResourceInfo, graph: Graph,
                       content: BinaryContent | None, stamp: dict[str, list[str]]) -> None:
        path = info.path
        if vinfo.is_binary:
            data_file = self.tree.file(path, layout.BINARY_EXT, layout.VERSIONS, version.memento)
            size = 0
            if content is not None:
                size = _write_stream(data_file, content.stream)
            elif vinfo.external_url is None or vinfo.external_handling == "copy":
                with self.repo.open_binary(path, version=version.id) as opened:
                    size = _write_stream(data_file, opened.stream)
            else:
                data_file = self.tree.file(path, layout.EXTERNAL_EXT, layout.VERSIONS, version.memento)
                layout.write_atomic(data_file, b"")
            layout.write_headers(data_file, {**sidecars.binary(vinfo, self.url(vinfo.path)), **stamp})
            desc = self.tree.file(path, self.ext, layout.METADATA, layout.VERSIONS, version.memento)
            layout.write_atomic(desc, self._serialize(graph))
            layout.write_headers(desc, {**sidecars.description(vinfo, self.mime, self.url(vinfo.path)), **stamp})
            self.report.done("version", size)
            return
        else:
            target = self.tree.file(path, self.ext, layout.VERSIONS, version.memento)
            layout.write_atomic(target, self._serialize(graph))
            layout.write_headers(target, {**sidecars.container(vinfo, self.mime), **stamp})
        self.report.done("version")

    # -- RDF ----------------------------------------------------------------------------------------
    def _graph(self, path: str, *, containment: bool, version: str | None = None) -> Graph:
        prefs = RdfPrefs(containment=containment, membership=False)
        graph = self.repo.get_rdf(path, prefs=prefs, version=version)
        return rdf.to_external(graph, self.base_url)

    def _serialize(self, graph: Graph) -> bytes:
        if self.mime == "text/turtle":
            # One triple per line: N-Triples is a subset of Turtle, and rdflib's pretty Turtle
            # printer costs several times the rest of a resource's export.
            return rdf.write_ntriples(graph)
        return rdf.serialize(graph, self.mime)

    def _rdf(self, info: ResourceInfo, *, containment: bool) -> tuple[bytes, Graph | None]:
        """The head state's triples as written (a binary's: its description's), and the graph when
        one was built: from the repository's stored N-Triples as text where it offers them and
        no graph is needed (see ntlines.py), else through rdflib."""
        if self._stored is not None and not containment and not self.extra_predicates:
            lines = ntlines.export_lines(self._stored(info.path), info, self.base_url)
            if lines is not None:
                return "".join(line + "\n" for line in lines).encode("utf-8"), None
        graph = self._graph(info.path, containment=containment)
        return self._serialize(graph), graph

    def _follow(self, graph: Graph) -> None:
        """Resources named by the extra --predicates are exported too (once: their file then exists)."""
        from rdflib import URIRef

        for predicate in self.extra_predicates:
            for obj in graph.objects(None, URIRef(predicate)):
                rid = rdf.url_to_id(str(obj), self.base_url)
                if rid is None:
                    continue
                path = paths.from_id(rid)
                with contextlib.suppress(FcrctlError):
                    info = self.repo.info(path)
                    done = self.tree.file(path, layout.BINARY_EXT if info.is_binary else self.ext)
                    if not done.exists() and path not in self._open:
                        self._tree(path)


class _Listing:
    """A container's file left open while its children are walked: one ``ldp:contains`` line
    each (full IRIs, valid in both Turtle and N-Triples after the document)."""

    def __init__(self, out: layout.AtomicFile, subject_url: str) -> None:
        self._out: layout.AtomicFile | None = out
        self._prefix = f"<{subject_url}> <{CONTAINS}> <"

    def contains(self, url: str) -> None:
        if self._out is not None:
            self._out.write(f"{self._prefix}{url}> .\n".encode())

    def commit(self) -> None:
        if self._out is not None:
            self._out.commit()
            self._out = None

    def discard(self) -> None:
        if self._out is not None:
            self._out.discard()
            self._out = None


def _write_stream(target: Path, stream: object) -> int:
    size = 0

    def chunks() -> Iterator[bytes]:
        nonlocal size
        read = stream.read  # type: ignore[attr-defined]
        while chunk := read(_CHUNK):
            size += len(chunk)
            yield chunk

    layout.write_atomic(target, chunks())
    return size


def _call(fn: Callable[..., None], *args: object) -> None:
    fn(*args)


def _close(children: object) -> None:
    """Ends a listing left before its end (its connection goes back to the pool)."""
    close = getattr(children, "close", None)
    if close is not None:
        close()


def export(repo: Repository, root: str, dest: Path, options: ExportOptions,
           on_item: Callable[[str], None] | None = None) -> Report:
    """Export ``root`` (and, unless not recursive, everything below it) into ``dest``."""
    report = Exporter(repo, dest, options, on_item).run(paths.normalize(root))
    _sync(dest)
    return report


def _sync(dest: Path) -> None:
    # One sync for the whole tree instead of one fsync per file (an export writes many small files).
    with contextlib.suppress(AttributeError, OSError):
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.syncfs(fd)  # type: ignore[attr-defined]
        finally:
            os.close(fd)
