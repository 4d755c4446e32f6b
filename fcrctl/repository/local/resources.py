"""Stored local resources: index rows, head and past states, user triples, the object a new one joins

Every concern of LocalRepository (reads, listings, writes, versions, ACLs) reads resources through
one ``Resources``: a transaction's view swaps in a subclass that also looks in its staging.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fcrctl import paths, rdf
from fcrctl.errors import Conflict, Gone, NotFound
from fcrctl.rdf import new_graph
from fcrctl.repository.base import NON_RDF_SOURCE, ResourceInfo
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.entries import read_graph
from fcrctl.repository.local.support import read_headers, resolve_version

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.local.index import Index, Row
    from fcrctl.repository.local.store import Store


@dataclass
class State:
    """One resource as stored (head or a past version): headers and absolute file paths."""

    headers: dict
    content: Path | None
    desc_headers: dict | None
    desc: Path | None
    row: Row

    @property
    def binary(self) -> bool:
        return self.headers.get("interactionModel") == NON_RDF_SOURCE


class Resources:
    """Look-ups of stored resources: the index for head states, inventories for past versions."""

    def __init__(self, root: Path, index: Index, store: Store) -> None:
        self.root = root
        self.index = index
        self.store = store

    def row(self, path: str, *, allow_deleted: bool = False) -> Row:
        row = self.index.get(path)
        if row is None:
            raise NotFound(f"no resource at {path}", path=path)
        if row.deleted and not allow_deleted:
            raise Gone(f"{path} was deleted (a tombstone remains): `fcrctl purge {path}` reuses the path", path=path)
        return row

    def state(self, path: str, version: str | None = None) -> State:
        # a deleted resource's past versions stay readable (Fedora 6.5 serves a tombstone's mementos);
        # its deletion's version is Gone below
        row = self.row(path, allow_deleted=version is not None)
        if version is None:
            return self.row_state(row)
        inventory = self.store.inventory(row.object_rel)
        vid = resolve_version(inventory, version, path)
        files = ocfl.state_files(inventory, vid)
        obj = self.root / row.object_rel
        rid = paths.to_id(path)
        h_logical = hdr.headers_path(row.object_id, rid)
        if h_logical not in files:
            raise NotFound(f"{path} did not exist in version {version}", path=path)
        h = read_headers(obj / files[h_logical])
        if h.get("deleted"):
            raise Gone(f"{path} was deleted in version {version}", path=path)
        content = files.get(h.get("contentPath") or "")
        dh_logical = hdr.desc_headers_path(row.object_id, rid)
        dh = read_headers(obj / files[dh_logical]) if dh_logical in files else None
        desc = files.get(dh.get("contentPath") or "") if dh else None
        return State(h, obj / content if content else None, dh, obj / desc if desc else None, row)

    def abs(self, rel: str | None) -> Path | None:
        return self.root / rel if rel else None

    def info(self, h: dict, path: str) -> ResourceInfo:
        # Binaries cannot have children (create refuses them): no query for the commonest case.
        binary = h.get("interactionModel") == NON_RDF_SOURCE
        return hdr.to_info(h, has_children=not binary and self.index.has_children(path))

    def user_graph(self, st: State) -> Graph:
        """Stored user triples (description triples for a binary), server-managed ones dropped."""
        f = self.user_file(st)
        if f is None:
            return new_graph()
        return rdf.check_user_triples(read_graph(f), subject_id=st.headers["id"], lenient=True)

    def user_file(self, st: State) -> Path | None:
        """The file of a state's user triples (a binary's description's); None: nothing to read."""
        f, h = (st.desc, st.desc_headers) if st.binary else (st.content, st.headers)
        if f is None or (h is not None and h.get("contentSize") == 0):  # nothing to read (most descriptions)
            return None
        return f

    def row_state(self, row: Row) -> State:
        """The head state of a row already read (``state`` without the query)."""
        return State(row.headers, self.abs(row.content_file), row.desc_headers, self.abs(row.desc_file), row)

    def object_for(self, path: str, *, archival_group: bool = False, parent_row: Row | None = None) -> str:
        """The OCFL object a new resource at ``path`` belongs to: its nearest archival-group
        ancestor's, else its own. ``parent_row``: the parent's row, when the caller has it."""
        for ancestor in reversed(paths.ancestors(path)):
            row = parent_row if parent_row is not None and ancestor == parent_row.path else self.index.get(ancestor)
            if row is None:
                continue
            if row.headers.get("archivalGroup"):
                if archival_group:
                    raise Conflict(f"{path}: archival groups cannot be nested (inside {ancestor})", path=path)
                return row.object_id
            if row.object_id != paths.to_id(ancestor):
                return row.object_id
            # an object of its own, so no ancestor above is an archival group (its members live
            # in its object): looking further up would only read rows
            break
        return paths.to_id(path)
