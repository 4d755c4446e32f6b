"""GET and HEAD of a binary's bytes: byte ranges, If-Range, external content (redirect, proxy), Want-Digest"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from werkzeug.datastructures import Range
from werkzeug.wrappers import Response

from fcrctl.repository.base import BinaryContent, ResourceInfo
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server.context import Context, NotModified

CHUNK = 256 * 1024
HASH_CHUNK = 1 << 20
_hash_buffers = threading.local()


def get_binary(ctx: Context, info: ResourceInfo, *, version: str | None = None) -> Response:
    try:
        ctx.check_preconditions(info, weak=False)
    except NotModified as nm:
        resp = r.not_modified(ctx, nm.info, nm.weak)
        return resp
    if info.external_handling == "redirect" and info.external_url:
        resp = Response(status=307)
        resp.headers["Location"] = info.external_url
        r.resource_headers(resp, ctx, info)
        _external_digest(ctx, resp, info.external_url)
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
    _external_digest(ctx, resp, info.external_url or "")
    return resp


def _external_digest(ctx: Context, resp: Response, url: str) -> None:
    """Answer Want-Digest for http(s) external content by reading it (Fedora 6 runs its fixity on the
    external bytes too), when this server may fetch it; the bytes are hashed as they stream, never held."""
    want = ctx.request.headers.get("Want-Digest")
    if not want or not ctx.config.external.fetch or urlsplit(url).scheme.lower() not in ("http", "https"):
        return
    hashers = {a: hashlib.new(a) for a in h.parse_want_digest(want)}
    remote, chunks = ctx.config.external.fetch_stream(url)
    try:
        for block in chunks:
            for hasher in hashers.values():
                hasher.update(block)
    finally:
        remote.close()
    resp.headers["Digest"] = h.digest_header({a: hasher.hexdigest() for a, hasher in hashers.items()})


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

