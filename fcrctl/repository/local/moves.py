"""Move and copy of local resources: the tree rewritten under the new path, ACLs carried, sources tombstoned"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from fcrctl import paths
from fcrctl.errors import BadInput, Conflict
from fcrctl.rdf import new_graph
from fcrctl.repository.base import NON_RDF_SOURCE, ResourceInfo, ResourceSpec
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local.index import Row
from fcrctl.repository.local.store import Change, read_graph

if TYPE_CHECKING:
    from fcrctl.repository.local.acls import Acls
    from fcrctl.repository.local.dates import Clock
    from fcrctl.repository.local.files import ResourceFiles
    from fcrctl.repository.local.resources import Resources


class Moves:
    """``move`` and ``copy``: one commit for every object the source tree and its destination touch."""

    def __init__(self, resources: Resources, files: ResourceFiles, acls: Acls, clock: Clock,
                 writing: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self.resources = resources
        self.index = resources.index
        self.store = resources.store
        self.files = files
        self.acls = acls
        self.clock = clock
        self.writing = writing

    def copy(self, source: str, destination: str, *, move: bool) -> ResourceInfo:
        from rdflib import URIRef

        source, destination = paths.normalize(source), paths.normalize(destination)
        if source == "/":
            raise BadInput("the root container / cannot be moved or copied")
        if paths.is_within(destination, source):
            raise Conflict(f"cannot {'move' if move else 'copy'} {source} into itself ({destination})", path=source)
        with self.writing():
            src = self.resources.row(source)
            existing = self.index.get(destination)
            if existing is not None:
                what = " as a tombstone (purge it first)" if existing.deleted else ""
                raise Conflict(f"{destination} already exists{what}", path=destination)
            dparent = paths.parent(destination) or "/"
            prow = self.resources.row(dparent)
            if prow.model == NON_RDF_SOURCE:
                raise Conflict(f"cannot create children of a binary ({dparent})", path=destination)
            src_id, dst_id = paths.to_id(source), paths.to_id(destination)

            def rewrite(term):
                value = str(term)
                if isinstance(term, URIRef) and (value == src_id or value.startswith(src_id + "/")
                                                 or value.startswith(src_id + "#")):
                    return URIRef(dst_id + value[len(src_id):])
                return term

            rows = [src] + list(self.index.children(source, recursive=True))
            now = self.clock.now()
            changes: dict[str, Change] = {}
            ag_roots: dict[str, str] = {}
            for r in rows:
                new_path = destination + r.path[len(source):]
                new_id = paths.to_id(new_path)
                oid = next((ag for root, ag in ag_roots.items() if paths.is_within(new_path, root)), None)
                if oid is None:
                    oid = self.resources.object_for(new_path)
                if r.headers.get("archivalGroup") and oid == new_id:
                    ag_roots[new_path] = new_id
                change = changes.get(oid)
                if change is None:
                    change = changes[oid] = Change(oid, state=dict(self.store.head_state(oid)) if oid != new_id
                                                   else {})
                st = self.resources.state(r.path)
                graph = new_graph()
                for s, p, o in self.resources.user_graph(st):
                    graph.add((rewrite(s), p, rewrite(o)))
                base = {"id": new_id, "parent": paths.to_id(paths.parent(new_path) or "/"),
                        "stateToken": hdr.new_state_token(),
                        "createdDate": r.headers.get("createdDate") if move else now}
                for key in ("createdBy", "mimeType", "filename"):
                    if key in r.headers:
                        base[key] = r.headers[key]
                if st.binary:
                    spec = ResourceSpec(binary=True, mime_type=r.headers.get("mimeType"),
                                        filename=r.headers.get("filename"), lenient=True)
                    if st.headers.get("externalUrl"):
                        spec.external_url = st.headers["externalUrl"]
                        spec.external_handling = st.headers.get("externalHandling")
                    else:
                        spec.content = open(st.content, "rb") if st.content else io.BytesIO(b"")  # noqa: SIM115
                    try:
                        self.files.put_resource(change, new_path, spec, base, now, desc_graph=graph)
                    finally:
                        if spec.content is not None:
                            spec.content.close()
                else:
                    spec = ResourceSpec(graph=graph, model=r.model, lenient=True,
                                        archival_group=bool(r.headers.get("archivalGroup")))
                    self.files.put_resource(change, new_path, spec, base, now, raw_graph=True)
                self._carry_acl(r, change, new_path, rewrite)
            if move:
                self.files.tombstones(rows, changes)
            self.store.commit(list(changes.values()))
            return self.resources.info(self.resources.row(destination).headers, destination)

    def _carry_acl(self, row: Row, change: Change, new_path: str, rewrite) -> None:  # type: ignore[no-untyped-def]
        """A moved or copied resource keeps its ACL (ids inside it follow the resource)."""
        found = self.index.acl(row.path)
        if found is None:
            return
        graph = new_graph()
        f = self.resources.abs(found[1])
        for s, p, o in (read_graph(f) if f is not None else new_graph()):
            graph.add((rewrite(s), p, rewrite(o)))  # PATH/fcr:acl#x is below PATH: renamed too
        target = Row(new_path, paths.parent(new_path), change.object_id, "", row.model, False, {})
        self.acls.put_acl_files(change, target, graph, None)
