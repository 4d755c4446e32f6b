"""GET, HEAD and OPTIONS of a resource and of a binary's description (fcr:metadata), as RDF or an HTML page

Binaries' bytes go out through ``binaries.py``. Each handler takes a Context and returns a Response.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from fcrctl import paths, rdf
from fcrctl.errors import NotFound
from fcrctl.repository.base import RdfPrefs, ResourceInfo
from fcrctl.server import html_view, listings
from fcrctl.server import responses as r
from fcrctl.server.binaries import get_binary
from fcrctl.server.context import Context, NotAcceptable, NotModified

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple

def get(ctx: Context) -> Response:
    from fcrctl.server import memento

    if ctx.config.dialect in memento.DIALECTS:
        when = ctx.request.headers.get("Accept-Datetime")
        if when:
            return memento.timegate(ctx, when)
    info = ctx.repo.info(ctx.target.path)
    resp = get_binary(ctx, info) if info.is_binary else _get_rdf(ctx, info, description=False)
    if ctx.config.dialect in memento.DIALECTS:
        resp.vary.add("Accept-Datetime")  # this URL is its own TimeGate
    return resp


def get_metadata(ctx: Context) -> Response:
    info = binary_info(ctx)
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
    prefs, applied = rdf.parse_prefer(ctx.request.headers.get("Prefer"), dialect=ctx.config.dialect)
    content: Graph | Iterable[Triple] | None = None
    stream = False
    head = ctx.request.method == "HEAD"
    # Not inside a transaction: its view may be committed or closed while the body is still being written.
    outside_tx = ctx.target.tx is None and not ctx.request.headers.get("Atomic-ID")
    if head and outside_tx and listings.streams(mime):
        # HEAD builds GET's streamed body so a small one gets GET's Content-Length (keepalive.py reads
        # up to 16 KiB of it; werkzeug sends no body for HEAD): without a length waitress closes the
        # connection, and clients HEAD before every GET.
        content, stream = served_triples(ctx, info, prefs=prefs, version=version), True
    elif not head:
        if rdf.resolve_format(mime) == r.NTRIPLES:  # listings: written as read, no graph built
            stream = outside_tx
            text = (stream and version is None and listings.advertises(ctx.repo, prefs, mime)
                    and listings.writes_text(ctx, prefs))
            # a grouped body written as text (grouped_listing) reads its triples itself
            content = () if text else served_triples(ctx, info, prefs=prefs, version=version)
        elif listings.streams(mime) and outside_tx:  # Turtle, N3: written in chunks as read
            content, stream = served_triples(ctx, info, prefs=prefs, version=version), True
        elif listings.streams(mime):
            content = served_graph(ctx, info, prefs=prefs, version=version)
        else:  # JSON-LD, RDF/XML: whole, so bounded
            triples = served_triples(ctx, info, prefs=prefs, version=version)
            content = listings.bounded_graph(triples, mime, info.path)
    resp = r.rdf_response(ctx, content, mime, info, applied=applied, description=description, stream=stream)
    listings.grouped_listing(resp, ctx, info, prefs, mime, streamed=stream)
    if listings.OWN_FIRST_HEADER in resp.headers and version is None and not _has_own_acl(ctx, info.path):
        # promised only where a GET of fcr:acl would 404 (the root's answers with the default: acl_endpoints)
        resp.headers[NO_OWN_ACL_HEADER] = NO_OWN_ACL
    return resp


# A response header (never sent by Fedora) on a grouped listing: the container has no ACL of its own, so a
# client reading every container's ACL (export) need not GET its fcr:acl for the 404
NO_OWN_ACL_HEADER = "Fcrctl-Own-Acl"
NO_OWN_ACL = "none"


def _has_own_acl(ctx: Context, path: str) -> bool:
    """True also when the repository cannot say (no ACLs) and for the root, whose fcr:acl GET answers with the
    default root ACL without one of its own: the header then promises nothing."""
    if path == "/" or not getattr(ctx.repo.capabilities, "acls", False):
        return True
    try:
        ctx.repo.get_acl(path)
    except NotFound:
        return False
    return True


def served_graph(ctx: Context, info: ResourceInfo, *, prefs: object = None, version: str | None = None) -> Graph:
    """The triples GET returns (internal ids), including the ones the server itself adds."""
    kwargs = {"prefs": prefs} if prefs is not None else {}
    graph = ctx.repo.get_rdf(info.path, version=version, **kwargs)  # type: ignore[arg-type]
    for triple in _server_extras(ctx, info, version):
        graph.add(triple)
    if prefs is not None and rdf.omits_own_triples(ctx.request.headers.get("Prefer")):
        for triple in _own_triples(ctx, info, version):
            graph.remove(triple)
    return graph


def _own_triples(ctx: Context, info: ResourceInfo, version: str | None) -> set[Triple]:
    """The resource's user and server-managed triples: what ``omit=ldp:PreferMinimalContainer`` leaves out
    (a read of the resource alone: bounded, unlike its containment)."""
    own = ctx.repo.get_rdf(info.path, version=version, prefs=RdfPrefs(containment=False, membership=False))
    return set(own) | set(_server_extras(ctx, info, version))


def served_triples(
    ctx: Context, info: ResourceInfo, *, prefs: object = None, version: str | None = None
) -> Iterable[Triple]:
    """``served_graph``'s triples, streamed from repositories that can (duplicates possible)."""
    kwargs = {"prefs": prefs} if prefs is not None else {}
    stream = getattr(ctx.repo, "rdf_triples", None)
    if stream is None:
        return served_graph(ctx, info, prefs=prefs, version=version)
    # the server's extras first: they are the container's own triples, which a grouped listing
    # (docs/listings.md) sends before its children's
    triples = itertools.chain(_server_extras(ctx, info, version), stream(info.path, version=version, **kwargs))
    if prefs is not None and rdf.omits_own_triples(ctx.request.headers.get("Prefer")):
        own = _own_triples(ctx, info, version)
        return (triple for triple in triples if triple not in own)
    return triples


def _server_extras(ctx: Context, info: ResourceInfo, version: str | None) -> list[Triple]:
    from rdflib import URIRef

    if info.path == "/" and ctx.config.dialect != "fedora6" and version is None:
        # Fedora 4/5 advertise the transaction endpoint as a triple on the root
        provider = URIRef(rdf.FEDORA + "hasTransactionProvider")
        return [(URIRef(paths.ROOT_ID), provider, URIRef(paths.ROOT_ID + "/fcr:tx"))]
    return []


def options(ctx: Context) -> Response:
    info = binary_info(ctx) if ctx.target.endpoint == "metadata" else ctx.repo.info(ctx.target.path)
    description = ctx.target.endpoint == "metadata" and info.is_binary
    resp = Response(status=200)
    r.resource_headers(resp, ctx, info, description=description)
    return resp


def binary_info(ctx: Context) -> ResourceInfo:
    """The binary whose fcr:metadata is asked for; in the fedora4 dialect a container too, as
    4.7 takes ``CONTAINER/fcr:metadata`` for the container itself (clients ask it of anything)."""
    info = ctx.repo.info(ctx.target.path)
    if not info.is_binary and ctx.config.dialect != "fedora4":
        raise NotFound(f"{ctx.target.path} is a container: only binaries have fcr:metadata")
    return info

