"""Reads of the local repository: a resource's info, triples and binary content, head or a past version"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, CorruptData, NotFound, Unsupported
from fcrctl.repository.base import BinaryContent, RdfPrefs, ResourceInfo
from fcrctl.repository.local.support import LimitedReader, stream_size

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple
    from fcrctl.repository.local.listings import Listings
    from fcrctl.repository.local.resources import Resources, State


class Reads:
    """Resource reads: the index for head states (no file opened for ``info``), inventories for versions."""

    def __init__(self, resources: Resources, listings: Listings) -> None:
        self.resources = resources
        self.listings = listings

    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        path, _ = paths.split_metadata(path)
        if version is None:  # the row's headers are the head state's: no file paths to build
            return self.resources.info(self.resources.row(path).headers, path)
        st = self.resources.state(path, version)
        return self.resources.info(st.headers, path)

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        path, _ = paths.split_metadata(path)
        st = self.resources.state(path, version)
        graph = self.resources.user_graph(st)  # read fresh: ours to extend, and a big one is not copied
        for triple in self._triples(path, st, prefs, user_triples=False):
            graph.add(triple)
        return graph

    def rdf_triples(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Iterator[Triple]:
        """``get_rdf``'s triples as they are read (duplicates possible), for writers that need no
        graph: the server's N-Triples listings, where building a graph of 2,000 embedded children
        cost as much as everything else. Errors about ``path`` itself are raised at once."""
        path, _ = paths.split_metadata(path)
        st = self.resources.state(path, version)
        return self._triples(path, st, prefs)

    def stored_ntriples(self, path: str) -> bytes:
        """The head state's user triples as stored (a binary's: its description's): N-Triples with
        ``info:fedora`` ids, server-managed triples not yet dropped. For writers that want text, not
        a graph (export, see services/transfer/ntlines.py): parsing is most of a small resource's cost."""
        path, _ = paths.split_metadata(path)
        f = self.resources.user_file(self.resources.state(path))
        if f is None:
            return b""
        try:
            return f.read_bytes()
        except OSError as e:
            raise CorruptData(f"stored triples of {path} are unreadable ({e.strerror}): run `fcrctl check`") from e

    def _triples(self, path: str, st: State, prefs: RdfPrefs, *, user_triples: bool = True) -> Iterator[Triple]:
        rid = paths.to_id(path)
        if user_triples:
            yield from self.resources.user_graph(st)
        if prefs.server_managed:
            yield from rdf.server_triples(self.resources.info(st.headers, path), rid)
        if st.binary:
            return
        yield from self.listings.triples(path, rid, prefs)

    def open_binary(self, path: str, *, version: str | None = None,
                    byte_range: tuple[int, int | None] | None = None) -> BinaryContent:
        path, _ = paths.split_metadata(path)
        st = self.resources.state(path, version)
        if not st.binary:
            raise BadInput(f"{path} is a container, not a binary: read its triples with `fcrctl get`", path=path)
        info = self.resources.info(st.headers, path)
        stream = self._open_content(st, path)
        size = info.size if info.size is not None and info.size >= 0 else stream_size(stream)
        if byte_range is None:
            return BinaryContent(info, stream, 0, None, size)
        start, end = byte_range
        if size is None:
            stream.close()
            raise BadInput(f"{path}: the size of external content is unknown, byte ranges are not possible")
        last = size - 1 if end is None or end >= size else end
        if start < 0 or start > last:
            stream.close()
            raise BadInput(f"range {start}-{'' if end is None else end} not satisfiable: {path} has {size} bytes",
                           path=path)
        stream.seek(start)
        length = last - start + 1
        return BinaryContent(info, LimitedReader(stream, length), start, last, length)

    def _open_content(self, st: State, path: str) -> BinaryIO:
        url = st.headers.get("externalUrl")
        if st.content is not None:
            try:
                return open(st.content, "rb")  # noqa: SIM115 - returned to the caller, who closes it
            except OSError as e:
                raise CorruptData(f"content of {path} is unreadable ({e.strerror}): run `fcrctl fixity`") from e
        if url:
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme == "file":
                try:
                    return open(urllib.parse.unquote(parsed.path), "rb")  # noqa: SIM115
                except OSError as e:
                    raise NotFound(f"external content {url} of {path} is unreadable: {e.strerror}") from e
            raise Unsupported(f"{path} is external content at {url} ({st.headers.get('externalHandling')}): "
                              "fetch it from that URL")
        raise CorruptData(f"{path} has no content file: run `fcrctl reindex`")
