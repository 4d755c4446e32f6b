"""Index entries of one OCFL object: its head state's resources, ACLs, membership and references

Reading headers and parsing RDF is most of what indexing costs: headers a writer just wrote and
graphs it just parsed are passed in, and only graphs that can hold entries are parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, CorruptData
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, LDP, NON_RDF_SOURCE
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import ObjectEntries, Row


def object_entries(
    file: Callable[[str], Path],
    object_id: str,
    object_rel: str,
    inventory: dict,
    known_headers: dict[str, dict] | None = None,
    known_graphs: dict[str, object] | None = None,
    known_data: dict[str, bytes] | None = None,
    content_prefix: str | None = None,
    read_from=None,  # type: ignore[no-untyped-def]
) -> ObjectEntries:
    """Index entries for an object's head state. CorruptData if the object is unusable.

    ``known_*`` save re-reading what the caller just wrote (headers by logical path, graphs
    by resource path, content bytes by logical path). Content files are recorded as
    ``<content_prefix>/<manifest path>`` (default: the object's own directory); ``read_from``
    (manifest path -> file, a Path or a string) reads files that are not in place yet or
    spares a reindex the Paths; ``file`` gives the file behind a content path otherwise."""
    known_headers = known_headers or {}
    known_graphs = known_graphs or {}
    known_data = known_data or {}
    files = ocfl.state_files(inventory)
    prefix = object_rel if content_prefix is None else content_prefix
    if read_from is None:
        def read_from(content: str) -> Path:
            return file(f"{prefix}/{content}")
    all_headers: dict[str, dict] = {}
    for logical, content in files.items():
        if not (logical.startswith(".fcrepo/") and logical.endswith(".json")):
            continue
        h = known_headers.get(logical)
        if h is None:
            h = _read_json(read_from(content), object_id, logical)
        all_headers[logical] = h
    if not all_headers:
        raise CorruptData(f"object {object_id} has no .fcrepo headers in its head version")
    descs = {h["id"]: h for h in all_headers.values() if hdr.is_description(h)}
    out = ObjectEntries(object_id)
    for h in all_headers.values():
        if hdr.is_acl(h):
            if not h.get("deleted") and isinstance(h.get("id"), str):
                out.acls.append((paths.from_id(h["id"][: -len("/fcr:acl")]), h,
                                 _content_file(prefix, files, h, object_id)))
            continue
        if hdr.is_description(h):
            continue
        rid = h.get("id")
        if not isinstance(rid, str):
            raise CorruptData(f"object {object_id}: headers without an id")
        path = paths.from_id(rid)
        parent = None if path == "/" else paths.parent(path)
        deleted = bool(h.get("deleted"))
        content_file = _content_file(prefix, files, h, object_id)
        desc = descs.get(rid + "/" + paths.METADATA)
        desc_file = _content_file(prefix, files, desc, object_id) if desc else None
        row = Row(path, parent, object_id, object_rel, h.get("interactionModel", ""), deleted, h,
                  content_file, desc, desc_file)
        out.rows.append(row)
        if deleted:
            continue
        rdf_file, rdf_headers = (desc_file, desc) if row.model == NON_RDF_SOURCE else (content_file, h)
        graph = known_graphs.get(path)
        if graph is None and rdf_file is not None:
            data = known_data.get((rdf_headers or {}).get("contentPath") or "")
            graph = _graph_if_needed(read_from(rdf_file[len(prefix) + 1:]) if data is None else data, row.model)
        if graph is not None:
            _graph_entries(out, path, rid, row.model, graph)
    return out


def _content_file(prefix: str, files: dict[str, str], h: dict | None, object_id: str) -> str | None:
    if h is None or h.get("deleted"):
        return None
    logical = h.get("contentPath")
    if not logical:
        return None
    content = files.get(logical)
    if content is None:
        if h.get("externalHandling"):
            return None
        raise CorruptData(f"object {object_id}: {logical} (contentPath of {h.get('id')}) is not in its state")
    return f"{prefix}/{content}"

def _graph_entries(out: ObjectEntries, path: str, rid: str, model: str, graph) -> None:
    from rdflib import URIRef

    for s, p, o in graph:
        if isinstance(o, URIRef):
            target = str(o).split("#", 1)[0]
            if target == paths.ROOT_ID or target.startswith(paths.ROOT_ID + "/"):
                try:
                    out.refs.append((paths.from_id(str(s).split("#", 1)[0]) if str(s).startswith(
                        paths.ROOT_ID) else path, str(p), paths.from_id(target)))
                except BadInput:
                    continue
    if model in (DIRECT_CONTAINER, INDIRECT_CONTAINER):
        s = URIRef(rid)

        def one(pred: str) -> str | None:
            value = graph.value(s, URIRef(LDP + pred))
            return str(value) if value is not None else None

        resource = one("membershipResource") or rid
        try:
            resource_path = paths.from_id(resource)
        except BadInput:
            resource_path = resource
        has_member = one("hasMemberRelation")
        is_member_of = one("isMemberOfRelation")
        if has_member is None and is_member_of is None:
            has_member = LDP + "member"
        inserted = one("insertedContentRelation") if model == INDIRECT_CONTAINER else None
        out.membership.append((path, model, resource_path, has_member, is_member_of, inserted))


def _read_json(path: Path | str, object_id: str, logical: str) -> dict:
    try:
        data = json.loads(ocfl.read_small(path)[0])
    except FileNotFoundError as e:
        raise CorruptData(f"object {object_id}: headers file {logical} is listed in the inventory but missing") from e
    except (OSError, ValueError) as e:
        raise CorruptData(f"object {object_id}: headers file {logical} is unreadable: {e}") from e
    if not isinstance(data, dict):
        raise CorruptData(f"object {object_id}: headers file {logical} is not a JSON object")
    return data


def _graph_if_needed(source: Path | str | bytes, model: str):
    """The graph, when it can hold index entries: membership config or a reference to a
    resource (an ``info:fedora`` object). Parsing is most of a reindex, so skip the rest."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = ocfl.read_small(source)[0]
        except OSError as e:
            raise CorruptData(f"cannot read {source}: {e.strerror}") from e
    if model in (DIRECT_CONTAINER, INDIRECT_CONTAINER) or b"> <info:fedora" in data:
        return _stored_graph(data)
    return None


def read_graph(path: Path):
    try:
        data = ocfl.read_small(path)[0]
    except OSError as e:
        raise CorruptData(f"cannot read {path}: {e.strerror}") from e
    return _stored_graph(data)


def _stored_graph(data: bytes):
    """Stored N-Triples that do not parse are corrupt data, not a bad request: nothing a client
    sends now can fix them (``fcrctl check --read-data`` lists them). The file is not named: a
    server would show its own paths to clients."""
    try:
        return rdf.read_ntriples(data)
    except BadInput as e:
        raise CorruptData(f"stored triples cannot be read ({e.message[:120]}): "
                          "`fcrctl check --read-data` lists the resources affected") from e


def headers_json(h: dict) -> bytes:
    return json.dumps(h, separators=(",", ":")).encode("utf-8")  # compact, as Fedora 6 writes them
