"""Walking an export tree for import: its base URL, and its resource files in creation order

A resource is one file at its URL path (see layout.py); the walk yields them a directory at a
time, so what follows a directory's own files may be their children.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput
from fcrctl.services.transfer import layout
from fcrctl.services.transfer.report import Report

if TYPE_CHECKING:
    from rdflib import Graph

REPOSITORY_ROOT = rdf.FEDORA + "RepositoryRoot"


@dataclass
class Entry:
    kind: str  # container | binary | external
    file: Path  # the resource's own file (.ttl / .binary / .external)
    url_path: str  # its decoded URL path in the export (/rest/a/b)
    path: str = ""  # its repository path once mapped
    has_dir: bool = True  # a folder named for it is beside it (its children, versions, ACL, description)


class ExportTree:
    """The export's files under ``root``, mapped from the export's base onto ``dest``."""

    def __init__(self, root: Path, dest: str, old_base: str | None, report: Report) -> None:
        self.root = root
        self.dest = dest
        self.report = report
        self.old_base = old_base.rstrip("/") if old_base else ""
        self.base_path = ""

    # -- the base URI -------------------------------------------------------------------------------
    def detect_base(self, parse: Any) -> str:
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
        graph: Graph = parse(rdf_file, url="http://fcrctl.invalid" + url_path)
        matches = [str(s) for s in set(graph.subjects()) if str(s).startswith(("http://", "https://"))
                   and urllib.parse.unquote(urllib.parse.urlsplit(str(s)).path).rstrip("/") == url_path]
        if matches:
            from rdflib import URIRef

            value = min(matches, key=len)
            parts = urllib.parse.urlsplit(value)
            origin = f"{parts.scheme}://{parts.netloc}"
            types = {str(o) for m in matches for o in graph.objects(URIRef(m), URIRef(rdf.RDF_NS + "type"))}
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
                        desc = description(directory / stem)
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
                with os.scandir(directory) as listing:  # its entries know their type: no stat each
                    found = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                raise BadInput(f"cannot read {directory}: {exc.strerror}") from None
            subdirs: list[Path] = []
            owners: set[str] = set()
            files: list[str] = []
            dir_names: set[str] = set()
            for item in found:
                name = item.name
                if item.is_symlink() and not layout.inside(self.root, directory / name):
                    raise BadInput(f"{directory / name} is a link outside the export: refusing it")
                if item.is_dir():
                    dir_names.add(name)
                    if not name.startswith(layout.FCR):
                        subdirs.append(directory / name)
                else:
                    files.append(name)
            for name in files:
                full = directory / name
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
                yield Entry(kind, full, url_path, self.repo_path(url_path, full), has_dir=stem in dir_names)
            for sub in subdirs:
                if description(sub) is not None and sub.name not in owners:
                    raise BadInput(f"{description(sub)} describes a binary, but {sub.name}.binary (or "
                                   f"{sub.name}.external) is missing from the export")
            yield None
            stack.extend(reversed(subdirs))


def description(owner_dir: Path) -> Path | None:
    """A binary's description file (``fcr%3Ametadata.<ext>``) in the folder named for it."""
    return with_rdf_ext(owner_dir / layout.METADATA) or with_rdf_ext(owner_dir / "fcr_metadata")


def with_rdf_ext(stem: Path) -> Path | None:
    for ext in layout.EXT_MEDIA:
        candidate = stem.with_name(stem.name + ext)
        if candidate.is_file():
            return candidate
    return None
