"""Reading one exported resource for import: its state (and its versions' and ACL) from its files

Interaction models come from the ``.headers`` sidecar's ``Link rel="type"`` values (the RDF's
rdf:type when there is no sidecar, as in Fedora 4 exports); server-managed triples are dropped as
the Java tool drops them; binary digests from the export (its description and a bag's manifest)
go with the upload, so corruption in transit fails.
"""

from __future__ import annotations

import contextlib
import functools
import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fcrctl import paths, rdf
from fcrctl.errors import BadInput
from fcrctl.repository.base import BASIC_CONTAINER, CONTAINER_MODELS, LDP, NON_RDF_SOURCE, ResourceSpec
from fcrctl.services.transfer import acl, import_lines, layout
from fcrctl.services.transfer.import_tree import Entry, ExportTree, description, with_rdf_ext
from fcrctl.services.transfer.import_versions import mementos, parse_date, rebase
from fcrctl.services.transfer.source import Source

if TYPE_CHECKING:
    from rdflib import Graph

ARCHIVAL_GROUP = rdf.FEDORA + "ArchivalGroup"
PAIRTREE = rdf.FEDORA + "Pairtree"
# rel="type" values a sidecar may carry besides the interaction model
_KNOWN_LDP = {LDP + n for n in ("Resource", "RDFSource", "Container", "NonRDFSource")} | set(CONTAINER_MODELS)
MAX_RDF_BYTES = 256 << 20  # one resource's RDF; larger files are refused rather than parsed
_RDF_TYPE = rdf.RDF_NS + "type"
BINARY_FACTS = frozenset({rdf.EBUCORE + "hasMimeType", rdf.EBUCORE + "filename"})


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
    # the user triples as stored N-Triples (import_lines.py), when spec.graph was not needed
    ntriples: bytes | None = None

    def graph(self) -> Graph | None:
        """The user triples as a graph (parsed from ``ntriples`` when read without one)."""
        if self.spec.graph is None and self.ntriples is not None:
            return rdf.read_ntriples(self.ntriples)
        return self.spec.graph


@dataclass
class Prepared:
    entry: Entry
    current: State | None  # None: left out (pairtree node, --no-binaries)
    versions: list[tuple[datetime, State]] = field(default_factory=list)
    acl: Graph | None = None
    skip_reason: str | None = None


class ResourceReader:
    """Reads a resource's files under ``tree``; ``checking``: only look for errors (--dry-run)."""

    def __init__(self, tree: ExportTree, source: Source, *, binaries: bool, versions: bool, acls: bool) -> None:
        self.tree = tree
        self.root = tree.root
        self.source = source
        self.binaries = binaries
        self.versions = versions
        self.acls = acls
        self.checking = False

    def _own(self, file: Path, *, listed: bool = False) -> None:
        """Refuse a file (or its headers) that is a link out of the export. The walk checks what it
        lists (``listed``: so only the headers beside it are left), but versions, descriptions and
        ACLs are read beside their resource, outside the walk."""
        for candidate in (file, layout.headers_file(file)):
            if candidate.is_symlink() and not layout.inside(self.root, candidate):
                raise BadInput(f"{candidate} is a link outside the export: refusing it")
        if not listed and not layout.inside(self.root, file):
            raise BadInput(f"{file} lies outside the export (a linked directory above it): refusing it")

    def parse(self, file: Path, *, url: str, listed: bool = False) -> Graph:
        found = self._read(file, url=url, listed=listed, lines=False)
        assert not isinstance(found, import_lines.Lines)
        return found

    def _read(self, file: Path, *, url: str, listed: bool = False, lines: bool = True) -> Graph | import_lines.Lines:
        """The file's triples: as text (import_lines.py) when it is one triple per line in the common
        form and ``lines``, else as an rdflib graph."""
        self._own(file, listed=listed)
        ext = os.path.splitext(file.name)[1]
        mime = layout.EXT_MEDIA.get(ext)
        if mime is None:
            raise BadInput(f"{file}: {ext!r} is not an RDF file extension")
        size = file.stat().st_size
        if size > MAX_RDF_BYTES:
            raise BadInput(f"{file}: {size} bytes of RDF is more than one resource may hold ({MAX_RDF_BYTES})")
        data = file.read_bytes()
        if lines and mime in ("text/turtle", "application/n-triples") and data[:1] == b"<":
            found = import_lines.read(data, self.tree.old_base, self.tree.dest)
            if found is not None:
                return found
        if mime == "text/turtle" and data[:1] == b"<":
            # Turtle written one triple per line (as fcrctl writes it) is N-Triples, whose parser
            # is several times faster; anything else goes to the Turtle parser
            with contextlib.suppress(BadInput):
                graph = rdf.parse(data, "application/n-triples", base=url, source=str(file))
                return import_lines.refuse_dot_segments(graph, file)
        return import_lines.refuse_dot_segments(rdf.parse(data, mime, base=url, source=str(file)), file)

    def _internal(self, graph: Graph) -> Graph:
        out = rdf.to_internal(graph, self.tree.old_base)
        if self.tree.dest != "/":
            out = rdf.to_external(out, paths.to_id(self.tree.dest))
        return out

    def prepare(self, entry: Entry) -> Prepared:
        tree = self.tree
        url = tree.old_base + urllib.parse.quote(entry.url_path[len(tree.base_path):] or "/")
        owner_dir = entry.file.with_name(os.path.splitext(entry.file.name)[0])
        if entry.kind == "container":
            state, facts = self._container_state(entry.file, entry, url)
            if PAIRTREE in facts.types(url):
                return Prepared(entry, None, skip_reason="pairtree node (Fedora 4 storage detail)")
            prepared = Prepared(entry, state)
        else:
            if not self.binaries:
                return Prepared(entry, None, skip_reason="binary left out (--no-binaries)")
            prepared = Prepared(entry, self._binary_state(entry.file, description(owner_dir), entry, url))
        if self.versions and entry.has_dir:  # versions and ACLs are files in the folder named for it
            prepared.versions = self._versions(entry, owner_dir, url)
        if self.acls:
            acl_file = with_rdf_ext(owner_dir / layout.ACL) if entry.has_dir else None
            if acl_file is not None:
                prepared.acl = self._internal(self.parse(acl_file, url=url + "/fcr:acl"))
            acl.from_fedora4(self, prepared, url)  # Fedora 4.7's WebAC resources become fcr:acl (acl.py)
        return prepared

    def _container_state(self, file: Path, entry: Entry, url: str, *, lines: bool = True) -> tuple[State, Facts]:
        raw = self._read(file, url=url, listed=file == entry.file, lines=lines)
        facts = Facts(raw)
        headers = layout.read_headers(file)
        model, archival_group = _model(headers, facts, url, file)
        if model == NON_RDF_SOURCE:
            raise BadInput(f"{file}: its headers say it is a binary (NonRDFSource), but it has no .binary file")
        graph, ntriples = self._user_triples(raw, entry.path)
        spec = ResourceSpec(graph=graph, model=model, archival_group=archival_group, lenient=True)
        return State(spec, *_dates(facts, url), *_users(facts, url), ntriples=ntriples), facts

    def _binary_state(self, file: Path, desc: Path | None, entry: Entry, url: str,
                      desc_override: Path | None = None, *, lines: bool = True) -> State:
        from fcrctl.repository.http.wire import filename_of

        self._own(file, listed=file == entry.file)
        headers = layout.read_headers(file)
        desc_file = desc_override or desc
        raw = self._read(desc_file, url=url, lines=lines) if desc_file is not None else rdf.new_graph()
        facts = Facts(raw)
        types = _link_types(headers)
        unknown = [t for t in types if t.startswith(LDP) and t not in _KNOWN_LDP]
        if unknown:
            raise BadInput(f"{layout.headers_file(file)}: unknown interaction model <{unknown[0]}>")
        if any(t in CONTAINER_MODELS for t in types):
            raise BadInput(f"{layout.headers_file(file)}: a container's model on a .binary file")
        mime = layout.header(headers, "Content-Type") or facts.first(url, rdf.EBUCORE + "hasMimeType")
        filename = None
        disposition = layout.header(headers, "Content-Disposition")
        if disposition:
            filename = filename_of(disposition)
        filename = filename or facts.first(url, rdf.EBUCORE + "filename") or None
        digests: dict[str, str] = {}
        for obj in facts.all(url, rdf.PREMIS + "hasMessageDigest"):
            parsed = rdf.parse_digest_urn(obj)
            if parsed:
                digests[parsed[0]] = parsed[1]
        graph, ntriples = self._user_triples(raw, entry.path, drop=BINARY_FACTS)  # carried as mime_type/filename
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
            return State(spec, *_dates(facts, url), *_users(facts, url), size=size, content_file=file,
                         ntriples=ntriples)
        return State(spec, *_dates(facts, url), *_users(facts, url), size=size, ntriples=ntriples)

    def _user_triples(self, raw: Graph | import_lines.Lines, path: str,
                      drop: frozenset[str] = frozenset()) -> tuple[Graph | None, bytes | None]:
        """(graph, None), or (None, stored N-Triples) for a file read as text: the user triples less
        those with a predicate in ``drop``, ids internal."""
        if isinstance(raw, import_lines.Lines):
            return None, raw.data(drop)
        if self.checking:  # a dry run only looks for errors, and rewriting ids finds none
            return raw, None
        return without(self._user_graph(raw), drop), None

    def _user_graph(self, raw: Graph) -> Graph:
        # server-managed triples are dropped before the ids are rewritten (which changes no
        # predicate, and no object into a server-managed type): one small graph is built, not
        # three copies of the whole file's
        user = rdf.new_graph()
        for s, p, o in raw:
            if not rdf.is_server_managed(str(p), str(o)):
                user.add((s, p, o))
        return self._internal(user)

    def _versions(self, entry: Entry, owner_dir: Path, url: str) -> list[tuple[datetime, State]]:
        """Mementos under ``fcr%3Aversions/``, each read as its resource is, about the resource."""
        vdir = owner_dir / layout.VERSIONS
        out: list[tuple[datetime, State]] = []
        for full, stem, ext, when in mementos(owner_dir, url, self.parse):
            vurl = f"{url}/fcr:versions/{stem}"
            if entry.kind == "container":
                if ext not in layout.EXT_MEDIA:
                    continue
                state, _ = self._container_state(full, entry, vurl)  # rebased below
            else:
                if ext not in (layout.BINARY_EXT, layout.EXTERNAL_EXT):
                    continue
                desc = with_rdf_ext(owner_dir / layout.METADATA / layout.VERSIONS / stem) or \
                    with_rdf_ext(vdir / stem / layout.METADATA)
                state = self._binary_state(full, desc, entry, vurl)
            rebase(state, vurl, url, self.tree.old_base, self.tree.dest)
            out.append((when, state))
        out.sort(key=lambda item: item[0])
        return out


def without(graph: Graph, predicates: frozenset[str]) -> Graph:
    """``graph`` less the triples with these predicates (itself when it has none)."""
    if not predicates or not any(str(p) in predicates for p in graph.predicates()):
        return graph
    out = rdf.new_graph()
    for triple in graph:
        if str(triple[1]) not in predicates:
            out.add(triple)
    return out


class Facts:
    """A parsed file's objects by (subject, predicate), as strings, gathered in one pass: looking
    each fact up in the graph cost more than parsing the file. Subjects are compared decoded: a
    file names ``.../item:1`` where the URL built from its file name says ``.../item%3A1``."""

    def __init__(self, raw: Graph | import_lines.Lines) -> None:
        self._by: dict[tuple[str, str], list[str]] = {}
        triples = raw.facts if isinstance(raw, import_lines.Lines) else raw
        for s, p, o in triples:
            self._by.setdefault((urllib.parse.unquote(str(s)), str(p)), []).append(str(o))

    def all(self, subject: str, predicate: str) -> list[str]:
        return self._by.get((urllib.parse.unquote(subject), predicate), [])

    def first(self, subject: str, predicate: str) -> str | None:
        found = self._by.get((urllib.parse.unquote(subject), predicate))
        return found[0] if found else None

    def types(self, url: str) -> list[str]:
        """rdf:type values of ``url`` (with or without its trailing slash)."""
        url = urllib.parse.unquote(url).rstrip("/")
        return [o for (s, p), objects in self._by.items() if p == _RDF_TYPE and s.rstrip("/") == url
                for o in objects]


def _model(headers: dict[str, list[str]], facts: Facts, url: str, file: Path) -> tuple[str, bool]:
    """(interaction model, archival group) from the sidecar's rel="type" links, else the RDF's types."""
    types = _link_types(headers)
    source = layout.headers_file(file)
    if not types:
        types = facts.types(url)
        source = file
    unknown = [t for t in types if t.startswith(LDP) and t not in _KNOWN_LDP]
    if unknown:
        raise BadInput(f"{source}: unknown interaction model <{unknown[0]}>: use an LDP basic, direct or "
                       "indirect container, or a NonRDFSource")
    model = next((t for t in types if t in CONTAINER_MODELS), None)
    if model is None and LDP + "NonRDFSource" in types:
        model = NON_RDF_SOURCE
    return model or BASIC_CONTAINER, ARCHIVAL_GROUP in types


def _link_types(headers: dict[str, list[str]]) -> list[str]:
    """layout.link_types, remembered by the Link values: an export's resources share a few, and
    parsing them was a tenth of reading a small resource."""
    return list(_parsed_types(tuple(v for key, values in headers.items() if key.lower() == "link" for v in values)))


@functools.lru_cache(maxsize=256)
def _parsed_types(links: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(layout.link_types({"Link": list(links)}))


def _dates(facts: Facts, url: str) -> tuple[datetime | None, datetime | None]:
    """fedora:created / fedora:lastModified of the resource (a memento's file may name the memento's
    URL, as Fedora 4 writes them, or the resource's, as Fedora 6 and fcrctl do)."""
    candidates = [url, url.rstrip("/") + "/", url.rstrip("/")]
    if "/fcr:versions/" in url:
        owner = url.split("/fcr:versions/", 1)[0]
        candidates += [owner, owner + "/"]
    for candidate in candidates:
        modified = facts.first(candidate, rdf.FEDORA + "lastModified")
        if modified is not None:
            return parse_date(facts.first(candidate, rdf.FEDORA + "created")), parse_date(modified)
    return None, None


def _users(facts: Facts, url: str) -> tuple[str | None, str | None]:
    """fedora:createdBy / fedora:lastModifiedBy, which Fedora's migration keeps in the headers."""
    for candidate in (url, url.rstrip("/") + "/", url.rstrip("/"), url.split("/fcr:versions/", 1)[0]):
        created_by = facts.first(candidate, rdf.FEDORA + "createdBy")
        modified_by = facts.first(candidate, rdf.FEDORA + "lastModifiedBy")
        if created_by or modified_by:
            return created_by, modified_by
    return None, None


def _external_body(mime: str) -> str | None:
    """Fedora 4's ``message/external-body; access-type=URL; url="..."`` -> the URL."""
    from werkzeug.http import parse_options_header

    return parse_options_header(mime)[1].get("url")
