"""Building responses: the headers every resource response carries, RDF bodies, 201s, errors.

Errors map through ONE table, walked along the exception's MRO (most specific class wins,
independent of table order). Bodies are one short text/plain line, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from werkzeug.wrappers import Response

from fcrctl import errors as e
from fcrctl import rdf
from fcrctl.repository.base import ResourceInfo
from fcrctl.server import context as c
from fcrctl.server import external as x
from fcrctl.server import headers as h
from fcrctl.server.auth import TooManyFailures

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple

log = logging.getLogger("fcrctl.server")

STATUS: dict[type[e.FcrctlError], int] = {
    e.BadInput: 400,
    e.AuthError: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.ReadOnly: 405,
    e.Conflict: 409,
    e.ChecksumMismatch: 409,
    e.Gone: 410,
    e.PreconditionFailed: 412,
    e.CorruptData: 500,
    e.PartialFailure: 500,
    e.NotARepository: 500,
    e.Unsupported: 501,
    e.Locked: 503,
    e.Unavailable: 503,
    e.NoSpace: 507,  # Insufficient Storage (RFC 4918)
    e.Interrupted: 503,
    c.NotAcceptable: 406,
    rdf.NotSerializable: 406,
    c.TooLarge: 413,
    c.UnsupportedMediaType: 415,
    c.BadDestination: 502,
    x.ExternalFetchFailed: 502,
    x.ExternalForbidden: 403,
    TooManyFailures: 429,
}
RETRY_AFTER_SECONDS = "5"
NTRIPLES = "application/n-triples"
TURTLE_WITH_CHARSET = "text/turtle;charset=utf-8"


def status_of(err: e.FcrctlError) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def text(status: int, message: str, **headers: str) -> Response:
    body = message.replace("\r", " ").replace("\n", " ")[:2000] + "\n"
    resp = Response(body, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        resp.headers[name.replace("_", "-")] = value
    return resp


# Hints the repository gives CLI users, as a client of this server must act on them instead
HTTP_HINTS = {
    "use --lenient to ignore it": 'send Prefer: handling=lenient; received="minimal" to ignore it',
    "or use --parents": "or PUT it (PUT creates missing parents)",
    "run without --tx / FCRCTL_TX": "send it outside a transaction",
    "run it without --tx": "send it outside a transaction",
}


def http_message(message: str) -> str:
    """``message`` with the repository's CLI hints in HTTP terms."""
    if "--" not in message:
        return message
    for cli, http in HTTP_HINTS.items():
        message = message.replace(cli, http)
    return message


def error(err: e.FcrctlError, ctx: c.Context | None, *, allow: str | None = None) -> Response:
    from fcrctl.server import tombstones

    status = status_of(err)
    message = err.message
    if status == 404 and ctx is not None and tombstones.hides(ctx, err):
        status, message = 410, f"{ctx.target.path} is below a deleted resource (a tombstone)"
    resp = text(status, http_message(message))
    if status == 410 and ctx is not None and not isinstance(err, e.TransactionGone):
        for value in tombstones.links(ctx, err.path or ctx.target.path):
            resp.headers.add("Link", value)
    elif status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="fcrctl", charset="UTF-8"'
    elif status == 503:
        resp.headers["Retry-After"] = RETRY_AFTER_SECONDS
    elif isinstance(err, TooManyFailures):
        resp.headers["Retry-After"] = str(err.retry_after)
    if allow is not None:
        resp.headers["Allow"] = allow
    constraint = getattr(err, "constraint", None)
    if constraint is not None and ctx is not None:
        from fcrctl.server import constraints

        address = constraints.url(ctx.plain_base_url or ctx.base_url, ctx.config.base_path, constraint)
        resp.headers.add("Link", h.link(address, constraints.CONSTRAINED_BY))
    if status >= 500:
        log.warning(
            "%s %s -> %d: %s", ctx.request.method if ctx else "?", ctx.request.path if ctx else "?", status, err.message
        )
    return resp


def method_not_allowed(method: str, allow: str) -> Response:
    return text(405, f"{method} is not allowed here: use one of {allow}", Allow=allow)


def unexpected(ctx: c.Context | None) -> Response:
    log.exception("unexpected error in %s %s", ctx.request.method if ctx else "?", ctx.request.path if ctx else "?")
    return text(500, "internal server error: see the server log")


# -- resource headers ----------------------------------------------------------------------


def resource_headers(resp: Response, ctx: c.Context, info: ResourceInfo, *, description: bool = False) -> None:
    """ETag, Last-Modified, Link (types, describedby/describes, timemap), Allow, Accept-*, Vary.

    Added, not set: none of these is on the response yet (set scans every header first)."""
    path = info.path
    add = resp.headers.add
    weak = description or not info.is_binary
    add("ETag", h.etag(info, weak=weak))
    if ctx.config.dialect == "fedora6" and info.etag:  # Fedora 6 sends its state token (an X-If-State-Token's match)
        add("X-State-Token", info.etag)
    resp.last_modified = info.modified
    for value in h.type_links(info.model, description=description) + h.group_links(ctx, info, description):
        add("Link", value)
    writable = ctx.repo.capabilities.writable
    fedora4 = ctx.config.dialect == "fedora4"
    if description:
        add("Link", h.link(ctx.url(path), "describes"))
        methods = h.FEDORA4_DESCRIPTION_METHODS if fedora4 else h.DESCRIPTION_METHODS
    elif info.is_binary:
        add("Link", h.link(ctx.url(path, "fcr:metadata"), "describedby"))
        # 4.7 and 5.1 list no MOVE or COPY for a binary (addLinkAndOptionsHttpHeaders)
        methods = h.FEDORA4_BINARY_METHODS if ctx.config.dialect in ("fedora4", "fedora5") else h.BINARY_METHODS
    else:
        methods = h.CONTAINER_METHODS
        if path == "/":
            methods = tuple(m for m in methods if m not in ("DELETE", "MOVE", "COPY"))
    for value in _version_links(ctx, path):
        add("Link", value)
    if ctx.config.dialect == "fedora6" and path == "/" and not description:
        add("Link", h.link(ctx.url("/", "fcr:tx"), h.TX_ENDPOINT_REL))
    add("Allow", h.allow(methods, writable=writable))
    if not info.is_binary or description:
        add("Accept-Patch", h.SPARQL_UPDATE)
    if not info.is_binary and not description:
        add("Accept-Post", h.accept_post(list(rdf.RDF_MEDIA_TYPES)))
    if ctx.repo.capabilities.external_content and not description and not fedora4:  # 5.0 brought the header
        add("Accept-External-Content-Handling", "copy,redirect,proxy")
    if info.is_binary and not description:
        add("Accept-Ranges", "bytes")
        add("Content-Disposition", h.content_disposition(info))
        resp.vary.add("Range")
    else:
        resp.vary.add("Prefer")
        resp.vary.add("Accept")


def _version_links(ctx: c.Context, path: str) -> list[str]:
    """acl and timemap links of every resource (as Fedora 5/6); Fedora 5 and 6 add timegate, original
    and the OriginalResource/TimeGate types (every resource here is versioned; 5.1 links them on a
    versioned resource, ``addResourceLinkHeaders``)."""
    values = [h.link(ctx.url(path, "fcr:acl"), "acl"), h.link(ctx.url(path, "fcr:versions"), "timemap")]
    if ctx.config.dialect in ("fedora5", "fedora6"):
        url = ctx.url(path)
        values += [h.link(url, "timegate"), h.link(url, "original"), *h.MEMENTO_TYPE_LINKS]
    return values


def update_links(resp: Response, ctx: c.Context, info: ResourceInfo, *, description: bool = False) -> Response:
    """Fedora 5.1 and 6 answer a create or an update with the resource's Links (6: as its GET has them, 5.1:
    all but the LDP types; ContentExposingResource.createUpdateResponse): clients read rel=acl, rel=timemap
    or the types from a 201 or 204."""
    if ctx.config.dialect == "fedora4":
        return resp
    if ctx.config.dialect == "fedora6":
        for value in h.type_links(info.model, description=description) + h.group_links(ctx, info, description):
            resp.headers.add("Link", value)
    if description:
        resp.headers.add("Link", h.link(ctx.url(info.path), "describes"))
    for value in _version_links(ctx, info.path):
        resp.headers.add("Link", value)
    return resp


def rdf_response(
    ctx: c.Context,
    graph: Graph | Iterable[Triple] | None,
    mime: str,
    info: ResourceInfo,
    *,
    applied: str | None,
    description: bool = False,
    status: int = 200,
    stream: bool = False,
) -> Response:
    """``graph``: None for HEAD; any iterable of triples for N-Triples or with ``stream``, else a Graph.
    ``stream``: write the body while the triples are read (no Content-Length; N-Triples, Turtle, N3)."""
    from fcrctl.server import fedora4

    # Fedora 4.7 and 6 name the charset of Turtle (their default type); clients compare the header
    content_type = TURTLE_WITH_CHARSET if mime == "text/turtle" else mime
    if graph is None:
        resp = Response(status=status, content_type=content_type)
        resp.automatically_set_content_length = False  # the body was not built; do not claim 0
    else:
        body: bytes | Iterable[bytes]
        typed = ctx.config.dialect == "fedora4" and fedora4.types_literals(mime)
        if rdf.resolve_format(mime) == NTRIPLES:  # what listings use: the cheap path
            triples = fedora4.typed_triples(graph) if typed else graph
            body = ctx.ntriples_chunks(triples) if stream else ctx.external_ntriples(triples)
        elif stream:  # Turtle, N3 (listings.streams): chunks written by rdflib as the triples are read
            from fcrctl.server import listings

            external = ctx.external_triples(graph)
            body = listings.turtle_chunks(fedora4.typed_triples(external) if typed else external, mime, fedora4=typed)
        else:
            external = ctx.to_external(cast("Graph", graph))
            body = fedora4.serialize(external, mime) if typed else rdf.serialize(external, mime)
        resp = Response(body, status=status, content_type=content_type)
    resource_headers(resp, ctx, info, description=description)
    if applied:
        resp.headers["Preference-Applied"] = applied
    return resp


def not_modified(ctx: c.Context, info: ResourceInfo, weak: bool) -> Response:
    resp = Response(status=304)
    resp.headers["ETag"] = h.etag(info, weak=weak)
    resp.last_modified = info.modified
    return resp


def created(ctx: c.Context, info: ResourceInfo, *, body: bool = True) -> Response:
    """201 with Location, ETag, Last-Modified and, unless ``body`` is off, exactly the new URI as
    the text/plain body (as Fedora: clients take the body for the URI, a newline and all)."""
    url = ctx.url(info.path)
    resp = Response(h.uri(url) if body else b"", status=201)
    if body:
        resp.content_type = "text/plain;charset=utf-8"
    else:
        resp.headers.remove("Content-Type")
    resp.headers["Location"] = h.uri(url)
    resp.headers["ETag"] = h.etag(info, weak=not info.is_binary)
    resp.last_modified = info.modified
    if info.is_binary:
        resp.headers.add("Link", h.link(ctx.url(info.path, "fcr:metadata"), "describedby", anchor=url))
    return update_links(resp, ctx, info)


def no_content(info: ResourceInfo | None = None, **headers: str) -> Response:
    resp = Response(status=204)
    if info is not None:
        resp.headers["ETag"] = h.etag(info, weak=not info.is_binary)
        resp.last_modified = info.modified
    for name, value in headers.items():
        resp.headers[name.replace("_", "-")] = value
    return resp
