"""A resource's files in an OCFL object change: headers, spooled content and digests, description, tombstones"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import urllib.parse
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, ChecksumMismatch, NotFound, Unsupported, from_os_error
from fcrctl.names import utf8_name
from fcrctl.rdf import new_graph
from fcrctl.repository.base import (
    DIGEST_ALGORITHMS,
    EXTERNAL_HANDLINGS,
    NON_RDF_DESCRIPTION,
    NON_RDF_SOURCE,
    ResourceSpec,
)
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.acls import drop_acl_files, put_migrated_acl
from fcrctl.repository.local.entries import headers_json
from fcrctl.repository.local.store import Change
from fcrctl.repository.local.support import container_model, expected_digests

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.local.dates import Clock
    from fcrctl.repository.local.index import Row
    from fcrctl.repository.local.store import Store

_CHUNK = 1024 * 1024


class ResourceFiles:
    """Adds resources' files to ``Change`` states; uploads are spooled into ``tmp`` first."""

    def __init__(self, store: Store, clock: Clock, tmp: Path, user: str | None) -> None:
        self.store = store
        self.clock = clock
        self.tmp = tmp
        self.user = user

    def put_resource(self, change: Change, path: str, spec: ResourceSpec, base: dict, now: str, *,
                     raw_graph: bool = False, desc_graph: Graph | None = None, ntriples: bytes | None = None) -> None:
        """Add a resource's files (headers, content, description) to ``change.state``; inside
        ``dated(acl=(path, ...))``, its ACL's too (Fedora's migration writes an ACL in its resource's
        first version). ``ntriples``: the user triples (a container's, a binary's description) as
        stored already - sorted distinct N-Triples lines, ids internal, no server-managed triple - as
        import reads them without a graph (services/transfer/import_lines.py); indexing parses them
        only if they can hold entries."""
        rid = paths.to_id(path)
        oid = change.object_id
        h = dict(base)
        h["lastModifiedDate"] = now
        h["mementoCreatedDate"] = now
        if self.clock.by[1] or self.user:
            h["lastModifiedBy"] = self.clock.by[1] or self.user
        h["archivalGroup"] = bool(spec.archival_group) and oid == rid
        h["objectRoot"] = oid == rid
        h["deleted"] = False
        h.pop("archivalGroupId", None)
        if oid != rid:
            h["archivalGroupId"] = oid
        if spec.is_binary:
            self.put_binary(change, path, spec, h, now, desc_graph, ntriples)
        else:
            model = container_model(spec.model)
            graph = None
            if ntriples is not None:
                data = ntriples
            else:
                graph = spec.graph if spec.graph is not None else new_graph()
                if not raw_graph:
                    graph = rdf.check_user_triples(graph, subject_id=rid, lenient=spec.lenient)
                data = rdf.write_ntriples(graph)
            logical = hdr.container_content_path(oid, rid)
            nf = ocfl.NewFile(data=data)
            h.update({"interactionModel": model, "contentSize": len(data),
                      "digests": [f"urn:sha-512:{nf.sha512()}"], "contentPath": logical})
            change.state[logical] = nf
            if graph is not None:
                change.known_graphs[path] = graph
        h["headersVersion"] = hdr.HEADERS_VERSION
        hlogical = hdr.headers_path(oid, rid)
        change.state[hlogical] = ocfl.NewFile(data=headers_json(h))
        change.known_headers[hlogical] = h
        carried = self.clock.acl
        if carried is not None and carried[0] == path:  # dated(acl=...): its ACL goes in this version
            put_migrated_acl(change, path, h["interactionModel"], carried[1])

    def put_binary(self, change: Change, path: str, spec: ResourceSpec, h: dict, now: str,
                   desc_graph: Graph | None, desc_ntriples: bytes | None = None) -> None:
        rid = paths.to_id(path)
        oid = change.object_id
        logical = hdr.binary_content_path(oid, rid)
        h["interactionModel"] = NON_RDF_SOURCE
        h["mimeType"] = spec.mime_type or h.get("mimeType") or "application/octet-stream"
        h["filename"] = utf8_name(spec.filename) if spec.filename is not None else h.get("filename", "")
        for key in ("externalUrl", "externalHandling", "contentPath"):
            h.pop(key, None)
        expected = expected_digests(spec.digests)
        content = spec.content
        handling = spec.external_handling
        if spec.external_url is not None:
            handling = handling or "proxy"
            if handling not in EXTERNAL_HANDLINGS:
                raise BadInput(f"unknown external handling {handling!r}: use copy, redirect or proxy")
            parsed = urllib.parse.urlparse(spec.external_url)
            if handling == "copy":
                if parsed.scheme != "file":
                    raise Unsupported(f"cannot copy {spec.external_url}: only file:// URLs can be copied offline; "
                                      "use redirect or proxy")
                try:
                    content = open(urllib.parse.unquote(parsed.path), "rb")  # noqa: SIM115
                except OSError as e:
                    raise NotFound(f"external content {spec.external_url} is unreadable: {e.strerror}") from e
            else:
                h["externalUrl"] = spec.external_url
                h["externalHandling"] = handling
                size = -1
                if parsed.scheme == "file":
                    with contextlib.suppress(OSError):
                        size = os.stat(urllib.parse.unquote(parsed.path)).st_size
                h["contentSize"] = size
                h["digests"] = []
                content = None
        if "externalUrl" not in h:
            if content is None:
                content = io.BytesIO(b"")
            try:
                tmpfile, size, digests = self.spool(content)
            finally:
                if content is not spec.content:
                    content.close()
            for alg, want in expected.items():
                if digests[alg] != want:
                    tmpfile.unlink(missing_ok=True)
                    raise ChecksumMismatch(
                        f"checksum mismatch for {path}: expected {alg} {want}, content has {digests[alg]}; "
                        "nothing was stored", path=path)
            h["contentSize"] = size
            h["digests"] = hdr.digest_urns(digests)
            h["contentPath"] = logical
            change.state[logical] = ocfl.NewFile(source=tmpfile, digest=digests["sha512"])
        # the description (fcr:metadata) lives beside the binary
        if desc_ntriples is not None and desc_graph is None:
            self.put_description(change, path, None, h.get("createdDate", now), now, data=desc_ntriples)
            return
        graph = desc_graph if desc_graph is not None else (spec.graph if spec.graph is not None else new_graph())
        graph = rdf.check_user_triples(graph, subject_id=rid, lenient=spec.lenient)
        self.put_description(change, path, graph, h.get("createdDate", now), now)

    def put_description(self, change: Change, path: str, graph: Graph | None, created: str, now: str, *,
                        data: bytes | None = None) -> None:
        """Write a binary's description triples (``graph``, or ``data`` stored as they are: see
        put_resource) and their headers (``.fcrepo/...~fcr-desc.json``)."""
        rid = paths.to_id(path)
        oid = change.object_id
        if data is None:
            assert graph is not None
            data = rdf.write_ntriples(graph)
        dlogical = hdr.desc_content_path(oid, rid)
        dnf = ocfl.NewFile(data=data)
        change.state[dlogical] = dnf
        if graph is not None:
            change.known_graphs[path] = graph
        dh = {"id": rid + "/" + paths.METADATA, "parent": rid, "stateToken": hdr.new_state_token(),
              "interactionModel": NON_RDF_DESCRIPTION, "contentSize": len(data),
              "digests": [f"urn:sha-512:{dnf.sha512()}"], "createdDate": created,
              "lastModifiedDate": now, "mementoCreatedDate": now, "archivalGroup": False, "objectRoot": False,
              "deleted": False, "contentPath": dlogical, "headersVersion": hdr.HEADERS_VERSION}
        if oid != rid:
            dh["archivalGroupId"] = oid
        dhl = hdr.desc_headers_path(oid, rid)
        change.state[dhl] = ocfl.NewFile(data=headers_json(dh))
        change.known_headers[dhl] = dh

    def spool(self, content: BinaryIO) -> tuple[Path, int, dict[str, str]]:
        """Stream an upload into tmp/ while computing every digest Fedora records.

        hashlib releases the GIL on large buffers, so half of the digests run on a helper
        thread: on two cores this nearly doubles upload throughput."""
        hashes = {alg: hashlib.new(alg) for alg in DIGEST_ALGORITHMS}
        local = [hashes["sha512"], hashes["sha1"]]
        remote = [hashes["sha256"], hashes["md5"]]

        def update(group: list, chunk: bytes) -> None:
            for hsh in group:
                hsh.update(chunk)

        from concurrent.futures import ThreadPoolExecutor  # here: ~2 ms of every command's start-up at the top

        tmpfile = self.tmp / f"upload-{uuid.uuid4().hex}"
        size = 0
        try:
            with open(tmpfile, "wb") as out, ThreadPoolExecutor(max_workers=1) as pool:
                while True:
                    chunk = content.read(_CHUNK)
                    if not chunk:
                        break
                    pending = pool.submit(update, remote, chunk) if len(chunk) >= 65536 else None
                    if pending is None:
                        update(remote, chunk)
                    update(local, chunk)
                    out.write(chunk)
                    if pending is not None:
                        pending.result()
                    size += len(chunk)
        except OSError as e:
            tmpfile.unlink(missing_ok=True)
            raise from_os_error(e, "storing the upload") or BadInput(f"cannot store the upload: {e}") from e
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): a partial upload must not stay behind
            tmpfile.unlink(missing_ok=True)
            raise
        return tmpfile, size, {alg: hsh.hexdigest() for alg, hsh in hashes.items()}

    def tombstones(self, rows: list[Row], by_object: dict[str, Change] | None = None) -> list[Change]:
        """Tombstone ``rows``, merging into ``by_object`` (changes already planned per object)."""
        now = self.clock.now()
        by_object = {} if by_object is None else by_object
        for row in rows:
            oid = row.object_id
            rid = paths.to_id(row.path)
            change = by_object.get(oid)
            if change is None:
                change = by_object[oid] = Change(oid, state=dict(self.store.head_state(oid)))
            for logical in (hdr.container_content_path(oid, rid), hdr.binary_content_path(oid, rid),
                            hdr.desc_content_path(oid, rid), hdr.desc_headers_path(oid, rid)):
                if row.model == NON_RDF_SOURCE or logical == hdr.container_content_path(oid, rid):
                    change.state.pop(logical, None)
            drop_acl_files(change.state, row)  # a deleted resource's ACL goes with it, as in Fedora 6
            h = dict(row.headers)
            h.update({"stateToken": hdr.new_state_token(), "lastModifiedDate": now, "mementoCreatedDate": now,
                      "deleted": True, "contentSize": -1, "digests": []})
            h.pop("contentPath", None)
            if self.user:
                h["lastModifiedBy"] = self.user
            hl = hdr.headers_path(oid, rid)
            change.state[hl] = ocfl.NewFile(data=headers_json(h))
            change.known_headers[hl] = h
        return list(by_object.values())
