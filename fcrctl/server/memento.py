"""Versions as Fedora 6 exposes them (the server's ``fedora6`` dialect): Memento (RFC 7089).

- ``PATH/fcr:versions`` is the TimeMap: ``application/link-format`` when asked for exactly that
  (Fedora 6 compares the Accept header verbatim), else RDF (``ldp:contains`` each memento);
- ``PATH`` is its own TimeGate: ``Accept-Datetime`` answers 302 to the memento in force then
  (the latest at or before it, else the earliest), 406 with no mementos, 400 for a bad date;
- ``PATH/fcr:versions/YYYYMMDDhhmmss`` is a memento: ``Memento-Datetime``, read only (405);
- ``POST PATH/fcr:versions`` makes one: 201, ``Location`` the memento; a Slug is 400 (Fedora 6
  has no labels);
- a deleted resource keeps its TimeMap (read only: POST 410), its TimeGate and its mementos but the
  last, its deletion (410), as Fedora 6.5 does; its 410 links the TimeMap (``rel="timemap"``).
Read from fcrepo's ``FedoraVersioning``, ``FedoraLdp.getMemento`` and ``findMementoByDatetime``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from werkzeug.http import http_date, parse_date
from werkzeug.wrappers import Response

from fcrctl import rdf
from fcrctl.errors import BadInput, Gone
from fcrctl.repository.base import Version
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server.constraints import MementoDatetimeRefused

if TYPE_CHECKING:
    from fcrctl.server.context import Context

# Fedora 5.x versions as Fedora 6 does: Memento (its FedoraVersioning; a Slug is 400 there too)
DIALECTS = ("fedora5", "fedora6")
LINK_FORMAT = "application/link-format"
MEMENTO_TYPE = h.MEMENTO + "Memento"
READ_ONLY = "GET,HEAD,OPTIONS"


def _by_memento(versions: list[Version]) -> dict[str, Version]:
    """One version per memento second: the last made in it, as Fedora 6 reads a memento
    (``resolveVersionNumber`` matches the most recent OCFL version of that second) and as the
    local backend resolves one; ``versions`` run oldest first."""
    return {version.memento: version for version in versions}


def original_of(ctx: Context) -> tuple[str, bool]:
    """(path, deleted) of the resource whose TimeMap or TimeGate is asked for: a deleted one's too,
    as Fedora 6.5 keeps a tombstone's TimeMap and mementos (``FedoraVersioning.getVersionList``);
    NotFound when there is none."""
    try:
        return ctx.repo.info(ctx.target.path).path, False
    except Gone:
        if ctx.config.dialect != "fedora6":
            raise  # Fedora 5.x: gone with its resource
        return ctx.target.path, True


def timemap(ctx: Context) -> Response:
    from rdflib import URIRef

    path, deleted = original_of(ctx)
    mementos = sorted(_by_memento(ctx.repo.versions(path)).values(), key=lambda v: v.created)
    original = ctx.url(path)
    timemap_url = ctx.url(path, "fcr:versions")
    accept = (ctx.request.headers.get("Accept") or "").strip()
    if accept.lower() == LINK_FORMAT:
        self_params = {"type": LINK_FORMAT}
        if len(mementos) >= 2:
            self_params |= {"from": http_date(mementos[0].created), "until": http_date(mementos[-1].created)}
        links = [h.link(original, "original"), h.link(original, "timegate"), _link(timemap_url, "self", self_params)]
        links += [
            _link(ctx.url(path, "fcr:versions", v.memento), "memento", {"datetime": http_date(v.created)})
            for v in mementos
        ]
        body = "" if ctx.request.method == "HEAD" else ",\n".join(links) + "\n"
        resp = Response(body, content_type=LINK_FORMAT)
    else:
        mime = rdf.negotiate(accept or None)
        if mime is None:
            from fcrctl.server.context import NotAcceptable

            types = ", ".join(rdf.RDF_MEDIA_TYPES)
            raise NotAcceptable(f"no TimeMap format in Accept: use {LINK_FORMAT} or one of {types}")
        graph = rdf.new_graph()
        subject, contains = URIRef(timemap_url), URIRef(rdf.LDP + "contains")
        for version in mementos:
            graph.add((subject, contains, URIRef(ctx.url(path, "fcr:versions", version.memento))))
        body = "" if ctx.request.method == "HEAD" else rdf.serialize(graph, mime)
        resp = Response(body, content_type=r.TURTLE_WITH_CHARSET if mime == "text/turtle" else mime)
    timemap_headers(resp, ctx, path, deleted=deleted)
    if ctx.config.dialect == "fedora6" and not deleted:  # Fedora 6's TimeMapImpl takes its original's state token
        resp.headers["X-State-Token"] = ctx.repo.info(path).etag
    resp.vary.add("Accept")
    return resp


# Fedora 6's TimeMap is an LDP container (TimeMapImpl's types, as Link headers)
TIMEMAP_TYPES = (h.LDP_RESOURCE, h.CONTAINER, h.RDF_SOURCE, h.MEMENTO + "TimeMap")


def timemap_headers(resp: Response, ctx: Context, path: str, *, deleted: bool = False) -> Response:
    """The Links, Allow and Accept-Post of ``path``'s TimeMap, on its GET, HEAD and OPTIONS (a
    deleted resource's takes no POST: Fedora 6.5 answers 410)."""
    original = ctx.url(path)
    resp.headers.add("Link", h.link(original, "original"))
    resp.headers.add("Link", h.link(original, "timegate"))
    resp.headers.add("Link", h.link(ctx.url(path, "fcr:versions"), "timemap"))
    for uri in TIMEMAP_TYPES:
        resp.headers.add("Link", h.link(uri, "type"))
    writable = ctx.repo.capabilities.writable and not deleted
    resp.headers["Allow"] = "GET,HEAD,OPTIONS,POST" if writable else READ_ONLY
    if writable:
        resp.headers["Accept-Post"] = h.accept_post(list(rdf.RDF_MEDIA_TYPES))
        if ctx.config.dialect == "fedora5":
            resp.headers["Vary-Post"] = "Memento-Datetime"  # 5.1 took a dated memento in a POST's body
    return resp


def _link(url: str, rel: str, params: dict[str, str]) -> str:
    # datetimes hold commas and spaces: quoted, as RFC 7089's examples
    return f'<{h.uri(url)}>; rel="{rel}"' + "".join(f'; {k}="{v}"' for k, v in params.items())


def create(ctx: Context) -> Response:
    path = ctx.target.path
    if ctx.request.headers.get("Slug") is not None:
        raise BadInput("Fedora 6 versions have no labels: POST to fcr:versions without a Slug header")
    if ctx.request.headers.get("Memento-Datetime") is not None:
        if ctx.config.dialect == "fedora5":  # 5.1 wrote the body as a memento of that date; OCFL versions go forward
            raise MementoDatetimeRefused("this server cannot write a memento dated in the past (its versions are "
                                         "OCFL versions, made in order): POST without Memento-Datetime")
        raise MementoDatetimeRefused("POST to fcr:versions takes no Memento-Datetime: a new memento is dated now")
    ctx.repo.info(path)
    versions = ctx.repo.versions(path)
    if versions:
        # Memento URLs have whole seconds: start the new version in a second of its own
        wait = versions[-1].created.replace(microsecond=0) + timedelta(seconds=1) - datetime.now(UTC)
        if wait.total_seconds() > 0:
            time.sleep(min(wait.total_seconds(), 1.0))
    version = ctx.repo.create_version(path)
    resp = Response(status=201)
    resp.headers.remove("Content-Type")
    resp.headers["Location"] = h.uri(ctx.url(path, "fcr:versions", version.memento))
    resp.headers["Memento-Datetime"] = http_date(version.created)
    return resp


def read_only(ctx: Context) -> Response:
    return r.text(405, f"{ctx.request.method} is not allowed on a memento: mementos are read only", Allow=READ_ONLY)


def memento_headers(resp: Response, ctx: Context) -> None:
    """A memento's Links: rel=type Memento instead of OriginalResource/TimeGate; read only."""
    original_types = {h.link(h.MEMENTO + "OriginalResource", "type"), h.link(h.MEMENTO + "TimeGate", "type")}
    kept = [value for value in resp.headers.getlist("Link") if value not in original_types]
    resp.headers.remove("Link")
    for value in kept:
        resp.headers.add("Link", value)
    resp.headers.add("Link", h.link(MEMENTO_TYPE, "type"))
    resp.headers["Allow"] = READ_ONLY


def timegate(ctx: Context, header: str) -> Response:
    """302 to the memento ``Accept-Datetime`` selects (Fedora 6's choice of memento)."""
    when = parse_date(header)
    if when is None:
        example = "Tue, 3 Jun 2008 11:05:30 GMT"
        raise BadInput(f"Accept-Datetime {header!r} is not an HTTP date: use RFC 1123, e.g. {example}")
    path, _deleted = original_of(ctx)  # a tombstone is its own TimeGate too (Fedora 6.5.1)
    chosen = _select(list(_by_memento(ctx.repo.versions(path)).values()), when)
    if chosen is None:
        resp = r.text(406, f"{path} has no mementos yet: create one with POST {ctx.url(path, 'fcr:versions')}")
    else:
        resp = Response(status=302)
        resp.headers.remove("Content-Type")
        resp.headers["Location"] = h.uri(ctx.url(path, "fcr:versions", chosen.memento))
    resp.headers.add("Link", h.link(ctx.url(path), "original"))
    resp.headers.add("Link", h.link(ctx.url(path), "timegate"))
    resp.headers.add("Link", h.link(ctx.url(path, "fcr:versions"), "timemap"))
    resp.vary.add("Accept-Datetime")
    return resp


def _select(versions: list[Version], when: datetime) -> Version | None:
    """The latest memento at or before ``when`` (second precision), else the earliest one."""
    target = when.replace(microsecond=0)
    before = [v for v in versions if v.created.replace(microsecond=0) <= target]
    if before:
        return max(before, key=lambda v: v.created)
    return min(versions, key=lambda v: v.created, default=None)
