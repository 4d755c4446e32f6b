"""Handlers for resources themselves: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE, MOVE, COPY,
and for a binary's description (fcr:metadata). Each takes a Context and returns a Response."""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from werkzeug.datastructures import Range
from werkzeug.wrappers import Response

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, Conflict, Gone, NotFound, PreconditionFailed
from fcrctl.repository.base import NON_RDF_SOURCE, BinaryContent, RdfPrefs, ResourceInfo, ResourceSpec
from fcrctl.server import fedora4, html_view
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server.context import Context, NotAcceptable, NotModified, UnsupportedMediaType

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple

CHUNK = 256 * 1024
HASH_CHUNK = 1 << 20
_hash_buffers = threading.local()


# -- reading ---------------------------------------------------------------------------------


def get(ctx: Context) -> Response:
    if ctx.config.dialect == "fedora6":
        from fcrctl.server import memento

        when = ctx.request.headers.get("Accept-Datetime")
        if when:
            return memento.timegate(ctx, when)
    info = ctx.repo.info(ctx.target.path)
    resp = _get_binary(ctx, info) if info.is_binary else _get_rdf(ctx, info, description=False)
    if ctx.config.dialect == "fedora6":
        resp.vary.add("Accept-Datetime")  # this URL is its own TimeGate
    return resp


def get_metadata(ctx: Context) -> Response:
    info = _binary_info(ctx)
    return _get_rdf(ctx, info, description=info.is_binary)


def _get_rdf(ctx: Context, info: ResourceInfo, *, description: bool, version: str | None = None) -> Response:
    if not description and version is None and html_view.wants_html(ctx.request.headers.get("Accept")):
        return html_view.page(ctx, info, served_graph(ctx, info, prefs=RdfPrefs(containment=False)))
    mime = rdf.negotiate(ctx.request.headers.get("Accept"))
    if mime is None:
        raise NotAcceptable(
            f"no RDF media type in Accept: {ctx.request.headers.get('Accept')}: "
            f"use one of {', '.join(rdf.RDF_MEDIA_TYPES)}"
        )
    try:
        ctx.check_preconditions(info, weak=True)
    except NotModified as nm:
        return r.not_modified(ctx, nm.info, nm.weak)
    prefs, applied = rdf.parse_prefer(ctx.request.headers.get("Prefer"))
    content: Graph | Iterable[Triple] | None = None
    stream = False
    if ctx.request.method != "HEAD":
        if rdf.resolve_format(mime) == r.NTRIPLES:  # listings: written as read, no graph built
            content = served_triples(ctx, info, prefs=prefs, version=version)
            # Not inside a transaction: its view may be committed or closed while the body is
            # still being written.
            stream = ctx.target.tx is None and not ctx.request.headers.get("Atomic-ID")
        else:
            content = served_graph(ctx, info, prefs=prefs, version=version)
    return r.rdf_response(ctx, content, mime, info, applied=applied, description=description, stream=stream)


def served_graph(ctx: Context, info: ResourceInfo, *, prefs: object = None, version: str | None = None) -> Graph:
    """The triples GET returns (internal ids), including the ones the server itself adds."""
    kwargs = {"prefs": prefs} if prefs is not None else {}
    graph = ctx.repo.get_rdf(info.path, version=version, **kwargs)  # type: ignore[arg-type]
    for triple in _server_extras(ctx, info, version):
        graph.add(triple)
    return graph


def served_triples(
    ctx: Context, info: ResourceInfo, *, prefs: object = None, version: str | None = None
) -> Iterable[Triple]:
    """``served_graph``'s triples, streamed from repositories that can (duplicates possible)."""
    kwargs = {"prefs": prefs} if prefs is not None else {}
    stream = getattr(ctx.repo, "rdf_triples", None)
    if stream is None:
        return served_graph(ctx, info, prefs=prefs, version=version)
    return itertools.chain(stream(info.path, version=version, **kwargs), _server_extras(ctx, info, version))


def _server_extras(ctx: Context, info: ResourceInfo, version: str | None) -> list[Triple]:
    from rdflib import URIRef

    if info.path == "/" and ctx.config.dialect != "fedora6" and version is None:
        # Fedora 4/5 advertise the transaction endpoint as a triple on the root
        provider = URIRef(rdf.FEDORA + "hasTransactionProvider")
        return [(URIRef(paths.ROOT_ID), provider, URIRef(paths.ROOT_ID + "/fcr:tx"))]
    return []


def _get_binary(ctx: Context, info: ResourceInfo, *, version: str | None = None) -> Response:
    try:
        ctx.check_preconditions(info, weak=False)
    except NotModified as nm:
        resp = r.not_modified(ctx, nm.info, nm.weak)
        return resp
    if info.external_handling == "redirect" and info.external_url:
        resp = Response(status=307)
        resp.headers["Location"] = info.external_url
        r.resource_headers(resp, ctx, info)
        return resp
    if info.external_handling == "proxy" and info.external_url:
        ctx.config.external.check_read(info.external_url)
        if ctx.config.external.fetch and urlsplit(info.external_url).scheme.lower() in ("http", "https"):
            return _proxied(ctx, info)
    want = ctx.request.headers.get("Want-Digest")
    digests = _want_digests(ctx, info, want, version) if want else None
    size = info.size
    byte_range = None
    status = 200
    wanted = _wanted_range(ctx, info, size)
    if wanted is not None and size is not None:
        byte_range = wanted.range_for_length(size)
        if byte_range is None or len(wanted.ranges) != 1:
            if len(wanted.ranges) != 1:
                byte_range = None  # several ranges: send it all (RFC 7233 lets us ignore Range)
            else:
                resp = r.text(
                    416,
                    f"range not satisfiable: {ctx.url(info.path)} has {size} bytes",
                    Content_Range=f"bytes */{size}",
                )
                return resp
        if byte_range is not None:
            status = 206
    mime = info.mime_type or "application/octet-stream"
    if ctx.request.method == "HEAD":
        resp = Response(status=status, content_type=mime)
        resp.automatically_set_content_length = False
        if byte_range is None and size is not None:
            resp.headers["Content-Length"] = str(size)
    else:
        content = ctx.repo.open_binary(
            info.path,
            version=version,
            byte_range=(byte_range[0], byte_range[1] - 1) if byte_range else None,
        )
        length = content.length
        resp = Response(_body(ctx, content), status=status, content_type=mime, direct_passthrough=True)
        if length is not None:
            resp.headers["Content-Length"] = str(length)
    if byte_range is not None:
        start, stop = byte_range
        resp.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        if ctx.request.method == "HEAD":
            resp.headers["Content-Length"] = str(stop - start)
    r.resource_headers(resp, ctx, info)
    if digests:
        resp.headers["Digest"] = h.digest_header(digests)
    return resp


def _wanted_range(ctx: Context, info: ResourceInfo, size: int | None) -> Range | None:
    """The Range to honour (RFC 9110 section 14.2): none for units other than bytes or when
    If-Range no longer matches; a suffix longer than the content means all of it."""
    wanted = ctx.request.range
    if wanted is None or wanted.units != "bytes" or size is None or not _if_range_matches(ctx, info):
        return None
    if len(wanted.ranges) == 1 and wanted.ranges[0][0] < 0 and size > 0:
        start = max(size + wanted.ranges[0][0], 0)  # bytes=-N with N >= size: the whole body
        return Range("bytes", [(start, None)])
    return wanted


def _if_range_matches(ctx: Context, info: ResourceInfo) -> bool:
    """If-Range (RFC 9110 section 13.1.5): a strong ETag equal to the current one, or exactly the
    current Last-Modified; anything else means the client's partial copy is stale."""
    header = ctx.request.headers.get("If-Range")
    if not header:
        return True
    if_range = ctx.request.if_range
    if if_range.etag is not None:
        return not header.lstrip().startswith("W/") and if_range.etag == info.etag.strip('"')
    if if_range.date is not None:
        return h.to_seconds(info.modified) == if_range.date
    return False


def _proxied(ctx: Context, info: ResourceInfo) -> Response:
    """Proxied http(s) external content, fetched through the policy's guarded client."""
    mime = info.mime_type or "application/octet-stream"
    if ctx.request.method == "HEAD":
        resp = Response(status=200, content_type=mime)
    else:
        remote, chunks = ctx.config.external.fetch_stream(info.external_url or "")
        resp = Response(chunks, status=200, content_type=mime, direct_passthrough=True)
        if remote.headers.get("Content-Length", "").isdigit() and "Content-Encoding" not in remote.headers:
            resp.headers["Content-Length"] = remote.headers["Content-Length"]
    resp.automatically_set_content_length = False
    r.resource_headers(resp, ctx, info)
    return resp


def _body(ctx: Context, content: BinaryContent) -> Iterable[bytes]:
    """A stored file goes out through the WSGI server's file wrapper: waitress then sends it from
    its I/O loop, and no worker waits on a client that reads slowly (or never). Other streams
    (a remote backend's, a byte range) are written by the worker, chunk by chunk."""
    wrapper = ctx.request.environ.get("wsgi.file_wrapper")
    stream = content.stream
    if wrapper is not None and isinstance(stream, io.BufferedReader) and stream.seekable():
        return wrapper(stream, CHUNK)  # type: ignore[no-any-return]
    return _chunks(content)


def _chunks(content: object):  # type: ignore[no-untyped-def]
    """Stream a BinaryContent in fixed chunks; closing the iterator closes the content."""
    try:
        stream = content.stream  # type: ignore[attr-defined]
        while True:
            block = stream.read(CHUNK)
            if not block:
                break
            yield block
    finally:
        content.close()  # type: ignore[attr-defined]


def _want_digests(ctx: Context, info: ResourceInfo, header: str, version: str | None) -> dict[str, str]:
    """Digests a Want-Digest asks for, recomputed from the stored content (this is how Fedora
    clients run fixity: echoing the stored digests would report success for corrupted content)."""
    wanted = h.parse_want_digest(header)
    hashers = {a: hashlib.new(a) for a in wanted}
    # One 1 MB buffer per worker thread, reused: no allocation per request or block, few Python
    # iterations, and hashlib releases the GIL on it, so concurrent requests hash on every core.
    buffer = getattr(_hash_buffers, "buffer", None)
    if buffer is None:
        buffer = _hash_buffers.buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    with ctx.repo.open_binary(info.path, version=version) as content:
        stream = content.stream
        readinto = getattr(stream, "readinto", None)
        while True:
            if readinto is not None:
                n = readinto(buffer)
                block = view[:n]
            else:
                block = stream.read(HASH_CHUNK)
                n = len(block)
            if not n:
                break
            for hasher in hashers.values():
                hasher.update(block)
    return {a: hashers[a].hexdigest() for a in wanted}


def options(ctx: Context) -> Response:
    info = _binary_info(ctx) if ctx.target.endpoint == "metadata" else ctx.repo.info(ctx.target.path)
    description = ctx.target.endpoint == "metadata" and info.is_binary
    resp = Response(status=200)
    r.resource_headers(resp, ctx, info, description=description)
    return resp


# -- creating and replacing --------------------------------------------------------------------


def _binary_info(ctx: Context) -> ResourceInfo:
    """The binary whose fcr:metadata is asked for; in the fedora4 dialect a container too, as
    4.7 takes ``CONTAINER/fcr:metadata`` for the container itself (clients ask it of anything)."""
    info = ctx.repo.info(ctx.target.path)
    if not info.is_binary and ctx.config.dialect != "fedora4":
        raise NotFound(f"{ctx.target.path} is a container: only binaries have fcr:metadata")
    return info


def resource_spec(ctx: Context, path: str, existing: ResourceInfo | None) -> ResourceSpec:
    """What the request asks to store at ``path``, decided as Fedora does: Link headers, then Content-Type."""
    req = ctx.request
    url = ctx.url(path)
    links = h.parse_links(req.headers.getlist("Link"))
    model = h.interaction_model(links)
    external = h.external_content(links)
    mime = rdf.mime_of(req.content_type)
    digests = {**h.parse_checksum_param(req.args.get("checksum")), **h.parse_digest(req.headers.get("Digest"))}
    filename = h.filename_from_disposition(req.headers.get("Content-Disposition"))
    lenient = h.prefers_lenient(req.headers.get("Prefer"))
    if ctx.config.dialect == "fedora4" and any(
        item.get("rel") == "type" and item.get("url") == h.LDP_RESOURCE for item in links
    ):
        raise BadInput("Fedora 4 creates no plain ldp:Resource: leave out Link: <ldp:Resource>; rel=\"type\"")
    if (
        ctx.config.dialect == "fedora4"
        and mime is None
        and not external
        and model is None
        and bool(req.content_length)
        and (existing is None or not existing.is_binary)
        and not req.headers.get("Content-Disposition", "").lower().startswith("attachment")
    ):
        raise UnsupportedMediaType("a body needs a Content-Type: an RDF type for a container, any other for a binary")
    if existing is not None and model is not None and (model == NON_RDF_SOURCE) != existing.is_binary:
        raise Conflict(
            f"{existing.path} is a {_kind(existing)}: it cannot become a {_kind_of_model(model)}; "
            "delete it and create it again"
        )
    binary = (
        model == NON_RDF_SOURCE
        or external is not None
        or (existing is not None and existing.is_binary and not rdf.is_rdf_mime(mime))
        or (mime is not None and not rdf.is_rdf_mime(mime) and mime != h.SPARQL_UPDATE)
        or (mime is None and bool(req.content_length))  # bytes without a type: a binary, as Fedora
    )
    if existing is not None and binary != existing.is_binary:
        raise Conflict(
            f"{existing.path} is a {_kind(existing)}: it cannot become a {'binary' if binary else 'container'}; "
            "delete it and create it again (send Link: <ldp:NonRDFSource>; rel=type for RDF-typed binaries)"
        )
    if binary:
        if external is not None:
            ctx.config.external.check(external["url"], external["handling"])
            if external["handling"] == "copy":
                return _copied_spec(ctx, external, filename, digests)
            return ResourceSpec(
                binary=True,
                external_url=external["url"],
                external_handling=external["handling"],
                mime_type=external["type"] or req.content_type or None,
                filename=filename,
                digests=digests,
            )
        return ResourceSpec(
            content=req.stream,
            binary=True,
            mime_type=req.content_type or "application/octet-stream",
            filename=filename,
            digests=digests,
        )
    if mime == h.SPARQL_UPDATE:
        from rdflib import Graph

        update = ctx.sparql_update(relative_to=path)
        graph = rdf.apply_update(Graph(), update, base=paths.to_id(path))
    elif mime is None:
        from rdflib import Graph

        graph = Graph()
    else:
        graph = ctx.parse_rdf(mime, base=url)
    if ctx.config.dialect == "fedora4":
        graph = fedora4.untyped(graph)
        if existing is None and model is None:
            model = fedora4.model_from_body(ctx, graph, paths.to_id(path))
    return ResourceSpec(graph=graph, model=model, lenient=lenient)


def _copied_spec(ctx: Context, external: dict[str, str], filename: str | None, digests: dict[str, str]) -> ResourceSpec:
    """handling=copy: the server reads the content itself (after the policy allowed it), so the
    backend never opens a URL a client named."""
    import os

    url = external["url"]
    policy = ctx.config.external
    remote_type = None
    if urlsplit(url).scheme.lower() == "file":
        real = policy.local_path(url)
        try:  # O_NOFOLLOW: the checked path must not have become a symlink since
            content: BinaryIO = os.fdopen(os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")
        except OSError as err:
            raise NotFound(f"external content {url} is unreadable: {err.strerror}") from None
    else:
        content, remote_type = policy.fetch_file(url)
    return ResourceSpec(
        content=content,
        binary=True,
        mime_type=external["type"] or ctx.request.content_type or remote_type or "application/octet-stream",
        filename=filename,
        digests=digests,
    )
def created(ctx: Context, info: ResourceInfo) -> Response:
    """201 as Fedora answers it: the URI as text/plain; nothing for ``Prefer: return=minimal``;
    the new container's RDF for ``return=representation``."""
    prefs, applied = rdf.parse_prefer(ctx.request.headers.get("Prefer"))
    if applied == "return=minimal":
        return r.created(ctx, info, body=False)
    mime = rdf.negotiate(ctx.request.headers.get("Accept"))
    if applied is None or info.is_binary or mime is None:
        return r.created(ctx, info)
    graph = served_graph(ctx, info, prefs=prefs)
    resp = r.rdf_response(ctx, graph, mime, info, applied=applied, status=201)
    resp.headers["Location"] = h.uri(ctx.url(info.path))
    return resp


def _kind(info: ResourceInfo) -> str:
    return "binary" if info.is_binary else "container"


def _kind_of_model(model: str) -> str:
    return "binary" if model == NON_RDF_SOURCE else "container"


def post(ctx: Context) -> Response:
    parent = ctx.repo.info(ctx.target.path)
    if parent.is_binary and ctx.config.dialect == "fedora4":
        raise Conflict(f"{ctx.url(parent.path)} is a binary: it cannot have child resources")  # 4.7: 409
    if parent.is_binary:
        allow = h.allow(h.BINARY_METHODS, writable=ctx.repo.capabilities.writable)
        return r.method_not_allowed("POST", allow)
    path = _new_child_path(ctx, ctx.target.path, ctx.request.headers.get("Slug"))
    spec = resource_spec(ctx, path, None)
    info = ctx.repo.create(path, spec)
    return created(ctx, info)


def _new_child_path(ctx: Context, parent: str, slug: str | None) -> str:
    """The slug when it is a valid, free name (as Fedora: a suggestion), else a UUID."""
    if slug:
        try:
            path = paths.join(parent, slug.strip())
        except BadInput:
            path = None
        if path is not None and "/" not in slug.strip("/"):
            try:
                ctx.repo.info(path)
            except NotFound:
                return path
            except Gone:
                pass
    return paths.join(parent, str(uuid.uuid4()))


def put(ctx: Context) -> Response:
    path = ctx.target.path
    try:
        existing: ResourceInfo | None = ctx.repo.info(path)
    except NotFound:
        existing = None
    ctx.check_preconditions(existing, weak=existing is None or not existing.is_binary)
    spec = resource_spec(ctx, path, existing)
    if existing is None:
        if path == "/":
            raise Conflict("the root container always exists")
        info = ctx.repo.create(path, spec, parents=True)
        return created(ctx, info)
    if ctx.config.dialect == "fedora4" and not existing.is_binary:
        _fedora4_replace(ctx, existing, spec)
    elif spec.graph is not None and not spec.lenient:
        spec.graph = _without_unchanged_server_triples(ctx, existing, spec.graph)
    info, was_created = ctx.repo.replace(path, spec, conditions=ctx.conditions(existing))
    return created(ctx, info) if was_created else r.no_content(info)


def _fedora4_replace(ctx: Context, existing: ResourceInfo, spec: ResourceSpec) -> None:
    """PUT onto a container as 4.7 takes it: no body is 409 (it exists); the body must carry the
    server-managed triples unless the client said it received a minimal representation; those
    it carries unchanged are dropped, any it would set or change refused (409), lenient or not."""
    if not ctx.request.content_length and not ctx.request.content_type:
        raise Conflict(f"{ctx.url(existing.path)} already exists: send its RDF to replace it, or DELETE it first")
    if spec.graph is None:
        return
    if not spec.lenient:
        fedora4.check_carries_server_triples(served_graph(ctx, existing), spec.graph, paths.to_id(existing.path))
    spec.graph = _without_unchanged_server_triples(ctx, existing, spec.graph)
    fedora4.refuse_server_triples(spec.graph)  # 4.7's lenient is "received minimal", not "ignore these"


def _without_unchanged_server_triples(ctx: Context, info: ResourceInfo, graph: Graph) -> Graph:
    """Drop server-managed triples the client sent back unchanged (a GET-modify-PUT round trip).

    Fedora accepts those; only triples that would *change* server-managed facts are a conflict.
    """
    current = served_graph(ctx, info)
    for triple in list(graph):
        if rdf.is_server_managed(str(triple[1]), str(triple[2])) and triple in current:
            graph.remove(triple)
    return graph


def put_metadata(ctx: Context) -> Response:
    info = _binary_info(ctx)
    if not info.is_binary:
        return put(ctx)
    ctx.check_preconditions(info, weak=True)
    mime = rdf.mime_of(ctx.request.content_type)
    if not rdf.is_rdf_mime(mime):
        from fcrctl.server.context import UnsupportedMediaType

        raise UnsupportedMediaType(f"fcr:metadata takes RDF, not {ctx.request.content_type or 'no Content-Type'}")
    lenient = h.prefers_lenient(ctx.request.headers.get("Prefer"))
    graph = ctx.parse_rdf(mime, base=ctx.url(info.path, "fcr:metadata"))  # type: ignore[arg-type]
    if ctx.config.dialect == "fedora4":
        graph, lenient = fedora4.untyped(graph), False
    if not lenient:
        graph = _without_unchanged_server_triples(ctx, info, graph)
    new = ctx.repo.replace_description(info.path, graph, conditions=ctx.conditions(info), lenient=lenient)
    return r.no_content(new)


def patch(ctx: Context) -> Response:
    info = ctx.repo.info(ctx.target.path)
    if info.is_binary and ctx.config.dialect == "fedora4":  # 4.7: 400
        raise BadInput(f"a binary takes no PATCH: PATCH its description at {ctx.url(info.path, 'fcr:metadata')}")
    if info.is_binary:
        allow = h.allow(h.BINARY_METHODS, writable=ctx.repo.capabilities.writable)
        return r.text(405, f"PATCH a binary's description at {ctx.url(info.path, 'fcr:metadata')}", Allow=allow)
    return _patch(ctx, info)


def patch_metadata(ctx: Context) -> Response:
    return _patch(ctx, _binary_info(ctx))


def delete_metadata(ctx: Context) -> Response:
    """Fedora 4.7: deleting a description deletes what it describes (a container is its own)."""
    if ctx.config.dialect != "fedora4":
        allow = h.allow(h.DESCRIPTION_METHODS, writable=ctx.repo.capabilities.writable)
        return r.method_not_allowed("DELETE", allow)
    _binary_info(ctx)
    return delete(ctx)


def _patch(ctx: Context, info: ResourceInfo) -> Response:
    ctx.check_preconditions(info, weak=True)
    update = ctx.sparql_update(relative_to=info.path)
    lenient = h.prefers_lenient(ctx.request.headers.get("Prefer"))
    new = ctx.repo.patch(info.path, update, conditions=ctx.conditions(info), lenient=lenient)
    return r.no_content(new)


# -- deleting, moving, copying ---------------------------------------------------------------------


def delete(ctx: Context) -> Response:
    path = ctx.target.path
    if path == "/":
        return r.method_not_allowed("DELETE", "POST,HEAD,GET,PUT,PATCH,OPTIONS")
    info = ctx.repo.info(path)
    ctx.check_preconditions(info, weak=not info.is_binary)
    ctx.repo.delete(path, conditions=ctx.conditions(info))
    return r.no_content()


def move(ctx: Context) -> Response:
    return _relocate(ctx, "MOVE")


def copy(ctx: Context) -> Response:
    return _relocate(ctx, "COPY")


def _relocate(ctx: Context, method: str) -> Response:
    """MOVE/COPY with the seed's statuses: 409 no source, 412 destination exists, 502 bad destination."""
    from fcrctl.server.context import BadDestination

    source = ctx.target.path
    header = ctx.request.headers.get("Destination")
    if not header:
        raise BadDestination(f"{method} needs a Destination header with the full URL of the new location")
    destination = ctx.path_of(header)
    if source == "/":
        raise BadInput(f"the root container cannot be the source of {method}")
    if paths.is_within(destination, source):
        raise BadDestination(f"destination {destination} is inside the source {source}")
    try:
        ctx.repo.info(source)
    except NotFound:
        raise Conflict(f"source path {source} does not exist") from None
    try:
        ctx.repo.info(destination)
    except NotFound:
        pass
    except Gone:
        raise PreconditionFailed(f"destination {destination} has a tombstone: purge it first") from None
    else:
        raise PreconditionFailed(f"destination path {destination} already exists")
    relocate = ctx.repo.move if method == "MOVE" else ctx.repo.copy
    return r.created(ctx, relocate(source, destination))
