"""Import an export tree (fcrepo-import-export's layout) into any Repository.

Three passes over the tree, each streaming (one directory listing and one resource in memory at a
time):
1. check: every file is named, encoded, typed and parsed as the format says, before anything is
   written, so bad input leaves the repository exactly as it was;
2. write: resources in tree order (a container before its children), each from its own files;
3. (``verify``) compare what the repository now holds with the source.

Interaction models come from the ``.headers`` sidecar's ``Link rel="type"`` values (the RDF's
rdf:type when there is no sidecar, as in Fedora 4 exports); server-managed triples are dropped as
the Java tool drops them; binary digests from the export (its description and a bag's manifest)
go with the upload, so corruption in transit fails. Versions follow fcrepo-upgrade-utils: each
exported memento becomes a version, in order, with its date, then the current state on top when
its last-modified date differs from the newest memento's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, Conflict, FcrctlError, Gone, NotFound, PartialFailure
from fcrctl.repository.base import (
    BASIC_CONTAINER,
    CONTAINER_MODELS,
    LDP,
    NON_RDF_SOURCE,
    RdfPrefs,
    Repository,
    ResourceSpec,
)
from fcrctl.services.transfer import acl, layout
from fcrctl.services.transfer.report import Report
from fcrctl.services.transfer.source import Source

if TYPE_CHECKING:
    from rdflib import Graph

ARCHIVAL_GROUP = rdf.FEDORA + "ArchivalGroup"
PAIRTREE = rdf.FEDORA + "Pairtree"
REPOSITORY_ROOT = rdf.FEDORA + "RepositoryRoot"
MEMENTO_TYPES = ("http://mementoweb.org/ns#Memento", "http://mementoweb.org/ns#TimeMap")
# rel="type" values a sidecar may carry besides the interaction model
_KNOWN_LDP = {LDP + n for n in ("Resource", "RDFSource", "Container", "NonRDFSource")} | set(CONTAINER_MODELS)
MAX_RDF_BYTES = 256 << 20  # one resource's RDF; larger files are refused rather than parsed
_MEMENTO = re.compile(r"\d{14}")
_BINARY_FACTS = {rdf.EBUCORE + "hasMimeType", rdf.EBUCORE + "filename"}


@dataclass
class ImportOptions:
    dest: str = "/"
    old_base: str | None = None  # the export's base URL (--map); detected when None
    dry_run: bool = False
    jobs: int = 1
    resume: bool = False
    skip_tombstones: bool = False
    overwrite_tombstones: bool = False
    versions: bool = True
    acls: bool = True
    binaries: bool = True
    verify: bool = False


@dataclass
class Entry:
    kind: str  # container | binary | external
    file: Path  # the resource's own file (.ttl / .binary / .external)
    url_path: str  # its decoded URL path in the export (/rest/a/b)
    path: str = ""  # its repository path once mapped


@dataclass
class State:
    """One state of a resource (its current state, or one memento) ready to write."""

    spec: ResourceSpec
    created: datetime | None = None
    modified: datetime | None = None
    created_by: str | None = None
    modified_by: str | None = None
    size: int = 0
    content_file: Path | None = None  # a binary's bytes


@dataclass
class Prepared:
    entry: Entry
    current: State | None  # None: left out (pairtree node, --no-binaries)
    versions: list[tuple[datetime, State]] = field(default_factory=list)
    acl: Graph | None = None
    skip_reason: str | None = None


class Importer:
    def __init__(self, repo: Repository, source: Source, options: ImportOptions,
                 on_item: Callable[[str], None] | None = None) -> None:
        self.repo = repo
        self.source = source
        self.root = source.root
        self.options = options
        self.dest = paths.normalize(options.dest)
        self.on_item = on_item or (lambda path: None)
        self.report = Report("dry-run" if options.dry_run else "import")
        self.old_base = options.old_base.rstrip("/") if options.old_base else ""
        self.base_path = ""
        self.histories_not_carried = 0
        self._checking = False
        self._lock = threading.Lock()
        for warning in source.warnings:
            self.report.note(warning)

    # -- the base URI -------------------------------------------------------------------------------
    def detect_base(self) -> str:
        """The export's base URL: the repository root's (fedora:RepositoryRoot) when the export has it,
        else the directory above the top-most resource, as the Java tool names files by URL path."""
        if self.old_base:
            self.base_path = urllib.parse.urlsplit(self.old_base).path.rstrip("/")
            return self.old_base
        found = self._top_resource()
        if found is None:
            raise BadInput(f"{self.root} is not an export: no resource files (.ttl, .nt, .jsonld, .rdf, .binary) "
                           "found; give a directory written by fcrctl export or fcrepo-import-export")
        rdf_file, url_path = found
        graph = self._parse(rdf_file, url="http://fcrctl.invalid" + url_path)
        matches = [str(s) for s in set(graph.subjects()) if str(s).startswith(("http://", "https://"))
                   and urllib.parse.unquote(urllib.parse.urlsplit(str(s)).path).rstrip("/") == url_path]
        if matches:
            value = min(matches, key=len)
            parts = urllib.parse.urlsplit(value)
            origin = f"{parts.scheme}://{parts.netloc}"
            types = {str(o) for m in matches for o in graph.objects(_uri(m), _uri(rdf.RDF_NS + "type"))}
            self.base_path = url_path if REPOSITORY_ROOT in types else url_path.rsplit("/", 1)[0]
            self.old_base = origin + urllib.parse.quote(self.base_path)
            return self.old_base
        raise BadInput(f"{rdf_file}: no subject is the resource this file names ({url_path}): "
                       "not an export, or give the export's base URL with --map OLD_BASE,NEW_BASE")

    def _top_resource(self) -> tuple[Path, str] | None:
        """The shallowest RDF file describing a resource (breadth first, a few levels)."""
        level = [self.root]
        for _ in range(12):
            nxt: list[Path] = []
            for directory in level:
                names = sorted(os.listdir(directory))
                for name in names:
                    full = directory / name
                    if full.is_dir():
                        if not name.startswith(layout.FCR):
                            nxt.append(full)
                        continue
                    stem, ext = os.path.splitext(name)
                    if name.startswith((layout.FCR, "fcr_")) or name.endswith(layout.HEADERS_EXT):
                        continue
                    if ext in layout.EXT_MEDIA:
                        return full, self._url_path(full, strip=ext)
                    if ext in (layout.BINARY_EXT, layout.EXTERNAL_EXT):
                        desc = _description(directory / stem)
                        if desc is not None:
                            return desc, self._url_path(full, strip=ext)
            level = nxt[:1000]
            if not level:
                return None
        return None

    def _url_path(self, file: Path, *, strip: str) -> str:
        rel = file.relative_to(self.root).as_posix()
        rel = rel[: -len(strip)] if strip else rel
        return "/" + "/".join(layout.decode_segment(s, str(file)) for s in rel.split("/"))

    def repo_path(self, url_path: str, file: Path) -> str:
        if url_path != self.base_path and not url_path.startswith(self.base_path + "/"):
            raise BadInput(f"{file}: names {url_path}, outside the export's base {self.old_base}: "
                           "give the right base with --map OLD_BASE,NEW_BASE")
        rest = url_path[len(self.base_path):] or "/"
        try:
            rel = paths.normalize(rest)
        except BadInput as exc:
            raise BadInput(f"{file}: {exc.message}") from None
        if self.dest == "/":
            return rel
        return self.dest if rel == "/" else self.dest + rel

    # -- pass structure ---------------------------------------------------------------------------
    def entries(self) -> Iterator[Entry | None]:
        """Resources in creation order; ``None`` after each directory's own files (a barrier: what
        follows may be their children)."""
        stack = [self.root]
        while stack:
            directory = stack.pop()
            try:
                names = sorted(os.listdir(directory))
            except OSError as exc:
                raise BadInput(f"cannot read {directory}: {exc.strerror}") from None
            subdirs: list[Path] = []
            owners: set[str] = set()
            for name in names:
                full = directory / name
                if full.is_symlink() and not layout.inside(self.root, full):
                    raise BadInput(f"{full} is a link outside the export: refusing it")
                if full.is_dir():
                    if not name.startswith(layout.FCR):
                        subdirs.append(full)
                    continue
                if name.endswith(layout.HEADERS_EXT) or name.startswith((layout.FCR, "fcr_", ".")):
                    continue
                stem, ext = os.path.splitext(name)
                if ext == layout.BINARY_EXT:
                    kind = "binary"
                elif ext == layout.EXTERNAL_EXT:
                    kind = "external"
                elif ext in layout.EXT_MEDIA:
                    kind = "container"
                else:
                    self.report.skip(str(full.relative_to(self.root)), "not a file of the export format")
                    continue
                owners.add(stem)
                url_path = self._url_path(full, strip=ext)
                yield Entry(kind, full, url_path, self.repo_path(url_path, full))
            for sub in subdirs:
                if _description(sub) is not None and sub.name not in owners:
                    raise BadInput(f"{_description(sub)} describes a binary, but {sub.name}.binary (or "
                                   f"{sub.name}.external) is missing from the export")
            yield None
            stack.extend(reversed(subdirs))

    # -- reading one resource -----------------------------------------------------------------------
    def _own(self, file: Path) -> None:
        """Refuse a file (or its headers) that is a link out of the export. The walk checks what it
        lists, but versions, descriptions and ACLs are read beside their resource, outside the walk."""
        for candidate in (file, layout.headers_file(file)):
            if candidate.is_symlink() and not layout.inside(self.root, candidate):
                raise BadInput(f"{candidate} is a link outside the export: refusing it")
        if not layout.inside(self.root, file):
            raise BadInput(f"{file} lies outside the export (a linked directory above it): refusing it")

    def _parse(self, file: Path, *, url: str) -> Graph:
        self._own(file)
        ext = os.path.splitext(file.name)[1]
        mime = layout.EXT_MEDIA.get(ext)
        if mime is None:
            raise BadInput(f"{file}: {ext!r} is not an RDF file extension")
        size = file.stat().st_size
        if size > MAX_RDF_BYTES:
            raise BadInput(f"{file}: {size} bytes of RDF is more than one resource may hold ({MAX_RDF_BYTES})")
        data = file.read_bytes()
        if mime == "text/turtle" and data[:1] == b"<":
            # Turtle written one triple per line (as fcrctl writes it) is N-Triples, whose parser
            # is several times faster; anything else goes to the Turtle parser
            with contextlib.suppress(BadInput):
                return rdf.parse(data, "application/n-triples", base=url, source=str(file))
        return rdf.parse(data, mime, base=url, source=str(file))

    def _internal(self, graph: Graph) -> Graph:
        out = rdf.to_internal(graph, self.old_base)
        if self.dest != "/":
            out = rdf.to_external(out, paths.to_id(self.dest))
        return out

    def prepare(self, entry: Entry) -> Prepared:
        url = self.old_base + urllib.parse.quote(entry.url_path[len(self.base_path):] or "/")
        owner_dir = entry.file.with_name(os.path.splitext(entry.file.name)[0])
        if entry.kind == "container":
            state, raw = self._container_state(entry.file, entry, url)
            if _has_type(raw, url, PAIRTREE):
                return Prepared(entry, None, skip_reason="pairtree node (Fedora 4 storage detail)")
            prepared = Prepared(entry, state)
        else:
            if not self.options.binaries:
                return Prepared(entry, None, skip_reason="binary left out (--no-binaries)")
            prepared = Prepared(entry, self._binary_state(entry.file, _description(owner_dir), entry, url))
        if self.options.versions:
            prepared.versions = self._versions(entry, owner_dir, url)
        if self.options.acls:
            acl_file = _with_rdf_ext(owner_dir / layout.ACL)
            if acl_file is not None:
                prepared.acl = self._internal(self._parse(acl_file, url=url + "/fcr:acl"))
            acl.from_fedora4(self, prepared, url)  # Fedora 4.7's WebAC resources become fcr:acl (acl.py)
        return prepared

    def _container_state(self, file: Path, entry: Entry, url: str) -> tuple[State, Graph]:
        raw = self._parse(file, url=url)
        headers = layout.read_headers(file)
        model, archival_group = _model(headers, raw, url, file)
        if model == NON_RDF_SOURCE:
            raise BadInput(f"{file}: its headers say it is a binary (NonRDFSource), but it has no .binary file")
        graph = self._user_triples(raw, entry.path)
        spec = ResourceSpec(graph=graph, model=model, archival_group=archival_group, lenient=True)
        return State(spec, *_dates(raw, url), *_users(raw, url)), raw

    def _binary_state(self, file: Path, desc: Path | None, entry: Entry, url: str,
                      desc_override: Path | None = None) -> State:
        from fcrctl.repository.http.wire import filename_of

        self._own(file)
        headers = layout.read_headers(file)
        desc_file = desc_override or desc
        raw = self._parse(desc_file, url=url) if desc_file is not None else rdf.new_graph()
        types = layout.link_types(headers)
        unknown = [t for t in types if t.startswith(LDP) and t not in _KNOWN_LDP]
        if unknown:
            raise BadInput(f"{layout.headers_file(file)}: unknown interaction model <{unknown[0]}>")
        if any(t in CONTAINER_MODELS for t in types):
            raise BadInput(f"{layout.headers_file(file)}: a container's model on a .binary file")
        subject = _uri(url)
        mime = layout.header(headers, "Content-Type") or _first(raw, subject, rdf.EBUCORE + "hasMimeType")
        filename = None
        disposition = layout.header(headers, "Content-Disposition")
        if disposition:
            filename = filename_of(disposition)
        filename = filename or _first(raw, subject, rdf.EBUCORE + "filename") or None
        digests: dict[str, str] = {}
        for obj in raw.objects(subject, _uri(rdf.PREMIS + "hasMessageDigest")):
            parsed = rdf.parse_digest_urn(str(obj))
            if parsed:
                digests[parsed[0]] = parsed[1]
        graph = _without(self._user_triples(raw, entry.path), _BINARY_FACTS)  # carried as mime_type/filename
        spec = ResourceSpec(binary=True, graph=graph, mime_type=mime, filename=filename, lenient=True)
        size = 0
        if entry.kind == "external" or file.name.endswith(layout.EXTERNAL_EXT):
            location = layout.header(headers, "Content-Location")
            handling = "redirect" if layout.header(headers, "Location") else "proxy"
            if location is None and mime and mime.lower().startswith("message/external-body"):
                location, handling, spec.mime_type = _external_body(mime), "redirect", None
            if not location:
                raise BadInput(f"{file}: external content without a Content-Location in {layout.headers_file(file)}")
            if urllib.parse.urlsplit(location).scheme not in ("http", "https"):
                raise BadInput(f"{layout.headers_file(file)}: external content {location!r} is not an http(s) URL; "
                               "other schemes (file: ...) are not imported")
            spec.external_url, spec.external_handling = location, handling
        else:
            rel = file.relative_to(self.root).as_posix()
            digests.update(self.source.digests.get(rel, {}))
            spec.digests = digests
            size = file.stat().st_size
            return State(spec, *_dates(raw, url), *_users(raw, url), size=size, content_file=file)
        return State(spec, *_dates(raw, url), *_users(raw, url), size=size)

    def _user_triples(self, raw: Graph, path: str) -> Graph:
        if self._checking:  # pass 1 only looks for errors, and rewriting ids finds none
            return raw
        graph = self._internal(raw)
        return rdf.check_user_triples(graph, subject_id=paths.to_id(path), lenient=True)

    def _versions(self, entry: Entry, owner_dir: Path, url: str) -> list[tuple[datetime, State]]:
        """Mementos under ``fcr%3Aversions/``: Fedora 5/6 names them by date (YYYYMMDDHHMMSS),
        Fedora 4 by label (dates then come from the TimeMap ``fcr%3Aversions.<ext>``)."""
        vdir = owner_dir / layout.VERSIONS
        if not vdir.is_dir():
            return []
        labels = self._fedora4_version_dates(owner_dir, url)
        out: list[tuple[datetime, State]] = []
        for name in sorted(os.listdir(vdir)):
            full = vdir / name
            if full.is_dir() or name.endswith(layout.HEADERS_EXT):
                continue
            stem, ext = os.path.splitext(name)
            when = _memento_date(stem) or labels.get(stem)
            if when is None:
                raise BadInput(f"{full}: a version named neither by its date (YYYYMMDDHHMMSS) nor in "
                               f"{layout.VERSIONS} TimeMap")
            vurl = f"{url}/fcr:versions/{stem}"
            if entry.kind == "container":
                if ext not in layout.EXT_MEDIA:
                    continue
                state, _ = self._container_state(full, entry, vurl)
                state.spec.graph = self._rebase(state.spec.graph, vurl, url)
            else:
                if ext not in (layout.BINARY_EXT, layout.EXTERNAL_EXT):
                    continue
                desc = _with_rdf_ext(owner_dir / layout.METADATA / layout.VERSIONS / stem) or \
                    _with_rdf_ext(vdir / stem / layout.METADATA)
                state = self._binary_state(full, desc, entry, vurl)
                state.spec.graph = self._rebase(state.spec.graph, vurl, url)
            out.append((when, state))
        out.sort(key=lambda item: item[0])
        return out

    def _rebase(self, graph: Graph | None, memento_url: str, url: str) -> Graph | None:
        """A memento's triples are about the memento's URL; a version is about the resource."""
        if graph is None:
            return None
        entry_id = rdf.to_internal(_graph_of(_uri(url)), self.old_base)
        memento_id = rdf.to_internal(_graph_of(_uri(memento_url)), self.old_base)
        old, new = str(next(iter(memento_id))[0]), str(next(iter(entry_id))[0])
        if self.dest != "/":
            old, new = old.replace(paths.ROOT_ID, paths.to_id(self.dest), 1), new.replace(paths.ROOT_ID,
                                                                                          paths.to_id(self.dest), 1)
        from rdflib import URIRef

        out = rdf.new_graph()
        for s, p, o in graph:
            out.add((URIRef(new) if str(s) == old else s, p, URIRef(new) if str(o) == old else o))
        return out

    def _fedora4_version_dates(self, owner_dir: Path, url: str) -> dict[str, datetime]:
        timemap = _with_rdf_ext(owner_dir / layout.VERSIONS)
        if timemap is None:
            return {}
        graph = self._parse(timemap, url=url + "/fcr:versions")
        out: dict[str, datetime] = {}
        for version in graph.objects(None, _uri(rdf.FEDORA + "hasVersion")):
            # an unlabelled version (fcrctl serve) is named by its URL only
            segment = urllib.parse.unquote(str(version).rstrip("/").rsplit("/", 1)[-1])
            label = _first(graph, version, rdf.FEDORA + "hasVersionLabel") or segment
            created = _first(graph, version, rdf.FEDORA + "created")
            if label and created:
                with contextlib.suppress(ValueError):
                    out[label] = _utc(datetime.fromisoformat(created))
        return out

    # -- writing ---------------------------------------------------------------------------------------
    def write(self, prepared: Prepared, repo: Repository) -> None:
        entry = prepared.entry
        if prepared.current is None:
            self.report.skip(entry.path, prepared.skip_reason or "left out")
            return
        # Without --resume, a resource in the way fails its create anyway: asking first would cost
        # every resource a lookup (two requests over HTTP) to tell only tombstones apart.
        ask_first = self.options.resume or entry.path == "/"
        if ask_first and not self._make_room(entry.path, repo):
            return
        states = self._states(prepared)
        dated = _dated(repo)
        for number, (state, when) in enumerate(states):
            when = when if dated else None
            try:
                self._write_state(repo, entry, state, when, first=number == 0)
            except Gone:
                if number > 0 or ask_first:
                    raise
                if not self._make_room(entry.path, repo):  # says what to do with the tombstone
                    return
                self._write_state(repo, entry, state, when, first=True)  # the tombstone was purged
        if prepared.versions and not dated:
            with self._lock:
                self.histories_not_carried += 1
        for _ in prepared.versions if dated else ():
            self.report.done("version")
        if prepared.acl is not None:
            self._write_acl(repo, entry.path, prepared.acl)
        self.report.done(entry.kind, prepared.current.size)

    def _states(self, prepared: Prepared) -> list[tuple[State, datetime | None]]:
        """The versions to write, as fcrepo-upgrade-utils writes them: every memento, then the
        current state when its last-modified date differs from the newest memento's."""
        assert prepared.current is not None
        if not prepared.versions or not _dated(self.repo):
            return [(prepared.current, prepared.current.modified)]
        out: list[tuple[State, datetime | None]] = [(state, when) for when, state in prepared.versions]
        newest = prepared.versions[-1][1].modified
        if newest is None or prepared.current.modified is None or newest != prepared.current.modified:
            out.append((prepared.current, prepared.current.modified))
        return out

    def _make_room(self, path: str, repo: Repository) -> bool:
        """False when the resource is to be left alone (resume, tombstone skipped)."""
        if path == "/":
            return True
        try:
            repo.info(path)
        except NotFound:
            return True
        except Gone:
            if self.options.overwrite_tombstones:
                repo.purge(path)
                return True
            if self.options.skip_tombstones:
                self.report.skip(path, "a tombstone is there (--skip-tombstones)")
                return False
            raise Gone(f"{path} was deleted and a tombstone remains: use --overwrite-tombstones or "
                       "--skip-tombstones", path=path) from None
        if self.options.resume:
            self.report.skip(path, "already imported (--resume)")
            return False
        raise Conflict(f"{path} already exists: import into an empty place, or --resume", path=path)

    def _write_state(self, repo: Repository, entry: Entry, state: State, when: datetime | None,
                     *, first: bool) -> None:
        spec = state.spec
        handle = None
        if state.content_file is not None:
            handle = open(state.content_file, "rb")  # noqa: SIM115 (closed below)
        try:
            if handle is not None:
                spec = dataclasses.replace(spec, content=handle)
            with _dating(repo, state, when):
                if entry.path == "/" or not first:
                    repo.replace(entry.path, spec)
                else:
                    repo.create(entry.path, spec, parents=True)
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

    # -- verify ------------------------------------------------------------------------------------------
    def verify(self, prepared: Prepared) -> str | None:
        """What differs between the repository and the source for one resource (None: equal)."""
        from rdflib.compare import isomorphic

        entry, state = prepared.entry, prepared.current
        if state is None:
            return None
        try:
            info = self.repo.info(entry.path)
        except FcrctlError as exc:
            return exc.message
        if info.is_binary != state.spec.binary:
            return f"is {'a binary' if info.is_binary else 'a container'} in the repository"
        prefs = RdfPrefs(containment=False, membership=False, server_managed=False)
        have = rdf.check_user_triples(self.repo.get_rdf(entry.path, prefs=prefs), subject_id="", lenient=True)
        if state.spec.binary:
            have = _without(have, _BINARY_FACTS)
        if state.spec.graph is not None and not isomorphic(have, state.spec.graph):
            return "triples differ from the export"
        for algorithm, expected in state.spec.digests.items():
            actual = info.digests.get(algorithm)
            if actual is not None and actual != expected:
                return f"{algorithm} is {actual}, the export says {expected}"
        if state.spec.binary and state.spec.external_url is None and info.size != state.size:
            return f"size is {info.size}, the export's file has {state.size} bytes"
        return None

    # -- the run ----------------------------------------------------------------------------------------
    def run(self, transaction: bool = False) -> Report:
        self.detect_base()
        self._checking = True
        for entry in self.entries():  # pass 1: nothing is written unless all of it reads
            if entry is not None:
                self.prepare(entry)
                if self.options.dry_run:
                    self.report.done(entry.kind)
        self._checking = False
        if self.options.dry_run:
            return self.report.finish()
        if transaction:
            self._in_transaction()
        else:
            self._write_all(self.repo)
        if self.histories_not_carried:
            self.report.note(f"{self.histories_not_carried} resources have versions in the export that this "
                             "repository cannot take with their dates: their current state was imported")
        if self.options.verify:
            self._verify_all()
        return self.report.finish()

    def _write_all(self, repo: Repository) -> None:
        pending: list[Future[None]] = []
        pool = ThreadPoolExecutor(self.options.jobs) if self.options.jobs > 1 else None
        try:
            for entry in self.entries():
                if entry is None:  # a directory's files are done before its subdirectories start
                    _drain(pending)
                    continue
                if pool is None:
                    self._one(entry, repo)
                else:
                    pending.append(pool.submit(self._one, entry, repo))
                    if len(pending) >= self.options.jobs * 4:
                        _drain(pending)
            _drain(pending)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _one(self, entry: Entry, repo: Repository) -> None:
        try:
            self.write(self.prepare(entry), repo)
        except FcrctlError as exc:
            self.report.fail(entry.path, exc.message)
        self.on_item(entry.path)

    def _in_transaction(self) -> None:
        if not self.repo.capabilities.transactions:
            raise BadInput(f"--tx: {self.repo.location} has no transactions")
        repo: Any = self.repo
        tx = repo.begin_transaction()
        view = repo.in_transaction(tx.id)
        try:
            self._write_all(view)
        except BaseException:
            with contextlib.suppress(FcrctlError):
                repo.rollback_transaction(tx.id)
            raise
        if self.report.failed_count:
            repo.rollback_transaction(tx.id)
            self.report.note("--tx: something failed, so the transaction was rolled back: nothing was imported")
            self.report.counts.clear()
            return
        repo.commit_transaction(tx.id)

    def _verify_all(self) -> None:
        differences = 0
        for entry in self.entries():
            if entry is None:
                continue
            problem = self.verify(self.prepare(entry))
            if problem:
                differences += 1
                self.report.fail(entry.path, f"verify: {problem}")
        self.report.note(f"verify: {differences} differences between the repository and the export")


# -- helpers --------------------------------------------------------------------------------------------


def _drain(pending: list[Future[None]]) -> None:
    if pending:
        wait(pending)
        for future in pending:
            future.result()
        pending.clear()


def _uri(value: str) -> Any:
    from rdflib import URIRef

    return URIRef(value)


def _graph_of(subject: Any) -> Graph:
    graph = rdf.new_graph()
    graph.add((subject, _uri(rdf.RDF_NS + "type"), _uri(LDP + "Resource")))
    return graph


def _without(graph: Graph, predicates: set[str]) -> Graph:
    if not any(str(p) in predicates for p in graph.predicates()):
        return graph
    out = rdf.new_graph()
    for triple in graph:
        if str(triple[1]) not in predicates:
            out.add(triple)
    return out


def _first(graph: Graph, subject: Any, predicate: str) -> str | None:
    for obj in graph.objects(subject, _uri(predicate)):
        return str(obj)
    return None


def _has_type(graph: Graph, url: str, type_uri: str) -> bool:
    return any(str(o) == type_uri for s, o in graph.subject_objects(_uri(rdf.RDF_NS + "type"))
               if str(s).rstrip("/") == url.rstrip("/"))


def _model(headers: dict[str, list[str]], raw: Graph, url: str, file: Path) -> tuple[str, bool]:
    """(interaction model, archival group) from the sidecar's rel="type" links, else the RDF's types."""
    types = layout.link_types(headers)
    source = layout.headers_file(file)
    if not types:
        types = [str(o) for s, o in raw.subject_objects(_uri(rdf.RDF_NS + "type"))
                 if str(s).rstrip("/") == url.rstrip("/")]
        source = file
    unknown = [t for t in types if t.startswith(LDP) and t not in _KNOWN_LDP]
    if unknown:
        raise BadInput(f"{source}: unknown interaction model <{unknown[0]}>: use an LDP basic, direct or "
                       "indirect container, or a NonRDFSource")
    model = next((t for t in types if t in CONTAINER_MODELS), None)
    if model is None and LDP + "NonRDFSource" in types:
        model = NON_RDF_SOURCE
    return model or BASIC_CONTAINER, ARCHIVAL_GROUP in types


def _dates(raw: Graph, url: str) -> tuple[datetime | None, datetime | None]:
    """fedora:created / fedora:lastModified of the resource (a memento's file may name the memento's
    URL, as Fedora 4 writes them, or the resource's, as Fedora 6 and fcrctl do)."""
    candidates = [url, url.rstrip("/") + "/", url.rstrip("/")]
    if "/fcr:versions/" in url:
        owner = url.split("/fcr:versions/", 1)[0]
        candidates += [owner, owner + "/"]
    for candidate in candidates:
        subject = _uri(candidate)
        modified = _first(raw, subject, rdf.FEDORA + "lastModified")
        if modified is not None:
            return _parse_date(_first(raw, subject, rdf.FEDORA + "created")), _parse_date(modified)
    return None, None


def _users(raw: Graph, url: str) -> tuple[str | None, str | None]:
    """fedora:createdBy / fedora:lastModifiedBy, which Fedora's migration keeps in the headers."""
    for candidate in (url, url.rstrip("/") + "/", url.rstrip("/"), url.split("/fcr:versions/", 1)[0]):
        subject = _uri(candidate)
        created_by = _first(raw, subject, rdf.FEDORA + "createdBy")
        modified_by = _first(raw, subject, rdf.FEDORA + "lastModifiedBy")
        if created_by or modified_by:
            return created_by, modified_by
    return None, None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _memento_date(stem: str) -> datetime | None:
    if not _MEMENTO.fullmatch(stem):
        return None
    try:
        return datetime.strptime(stem, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _description(owner_dir: Path) -> Path | None:
    return _with_rdf_ext(owner_dir / layout.METADATA) or _with_rdf_ext(owner_dir / "fcr_metadata")


def _with_rdf_ext(stem: Path) -> Path | None:
    for ext in layout.EXT_MEDIA:
        candidate = stem.with_name(stem.name + ext)
        if candidate.is_file():
            return candidate
    return None


def _external_body(mime: str) -> str | None:
    """Fedora 4's ``message/external-body; access-type=URL; url="..."`` -> the URL."""
    from werkzeug.http import parse_options_header

    return parse_options_header(mime)[1].get("url")


def _dated(repo: Repository) -> bool:
    return bool(getattr(repo.capabilities, "dated_writes", False))


@contextlib.contextmanager
def _dating(repo: Repository, state: State, version: datetime | None) -> Iterator[None]:
    """Writes inside carry the export's dates and users, where the backend can keep them: the
    resource's created/last-modified in its headers, the memento's date as its version's."""
    modified = state.modified or version
    if modified is None or version is None or not _dated(repo):
        yield
        return
    dated: Any = getattr(repo, "dated")  # noqa: B009 (present when capabilities.dated_writes)
    with dated(state.created or modified, modified, version=version, created_by=state.created_by,
               modified_by=state.modified_by):
        yield


def run(repo: Repository, source: Source, options: ImportOptions, *, transaction: bool = False,
        on_item: Callable[[str], None] | None = None) -> Report:
    importer = Importer(repo, source, options, on_item)
    report = importer.run(transaction=transaction)
    if report.failed_count and options.dry_run:
        raise PartialFailure(f"dry run: {report.failed_count} problems")
    return report
