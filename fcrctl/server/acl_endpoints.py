"""``PATH/fcr:acl`` over HTTP (GET/HEAD/PUT/PATCH/DELETE), as Fedora 6 serves it: the
resource's own ACL as RDF; PUT creates or replaces it (a body that does not parse is refused
with 400 and nothing stored), PATCH applies a SPARQL Update, DELETE removes it. Every
resource links its ACL URL (``rel="acl"``, responses.py) whether or not it has one."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Response

from fcrctl import acl, rdf
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server import routing as rt
from fcrctl.server.context import Context, NotAcceptable, UnsupportedMediaType

LDP_RDF_SOURCE = "http://www.w3.org/ns/ldp#RDFSource"


def register(route: Callable[[str, str, Callable[[Context], Response]], None]) -> acl.Policy:
    """Route fcr:acl through ``route`` (the app's); returns the default policy (only admins may do anything)."""
    for method, handler in (("GET", get), ("HEAD", get), ("PUT", put), ("PATCH", patch), ("DELETE", delete)):
        route(rt.ACL, method, handler)
    return acl.Policy()


def _acl_url(ctx: Context) -> str:
    return ctx.url(ctx.target.path, acl.ACL_SUFFIX)


def get(ctx: Context) -> Response:
    mime = rdf.negotiate(ctx.request.headers.get("Accept"))
    if mime is None:
        raise NotAcceptable(f"no RDF media type in Accept: {ctx.request.headers.get('Accept')}")
    prefs, _applied = rdf.parse_prefer(ctx.request.headers.get("Prefer"))
    graph = ctx.repo.get_acl(ctx.target.path, prefs=prefs)
    body = b"" if ctx.request.method == "HEAD" else rdf.serialize(ctx.to_external(graph), mime)
    resp = Response(body, status=200, content_type=mime)
    for url, rel in ((LDP_RDF_SOURCE, "type"), (acl.WEBAC_ACL, "type"), (ctx.url(ctx.target.path), "describes")):
        resp.headers.add("Link", h.link(url, rel))
    resp.headers["Allow"] = "DELETE,GET,HEAD,OPTIONS,PATCH,PUT"
    resp.headers["Accept-Patch"] = h.SPARQL_UPDATE
    return resp


def put(ctx: Context) -> Response:
    path = ctx.target.path
    ctx.repo.info(path)  # 404 / 410 for the resource before reading the body
    mime = rdf.mime_of(ctx.request.content_type)
    if not rdf.is_rdf_mime(mime):
        raise UnsupportedMediaType(f"fcr:acl takes RDF, not {ctx.request.content_type or 'no Content-Type'}")
    graph = ctx.parse_rdf(mime, base=_acl_url(ctx))  # type: ignore[arg-type]  # BadInput (400) before any write
    info, created = ctx.repo.put_acl(path, graph)
    if created:
        resp = Response(_acl_url(ctx) + "\n", status=201, content_type="text/plain; charset=utf-8")
        resp.headers["Location"] = h.uri(_acl_url(ctx))
        return resp
    return r.no_content(info)


def patch(ctx: Context) -> Response:
    path = ctx.target.path
    relative = ("" if path == "/" else path) + "/" + acl.ACL_SUFFIX
    update = ctx.sparql_update(relative_to=relative)
    info = ctx.repo.patch_acl(path, update)
    return r.no_content(info)


def delete(ctx: Context) -> Response:
    ctx.repo.delete_acl(ctx.target.path)
    return r.no_content()
