"""``PATH/fcr:acl`` over HTTP (GET/HEAD/PUT/PATCH/DELETE), as Fedora 6 serves it: the
resource's own ACL as RDF; PUT creates or replaces it (a body that does not parse is refused
with 400 and nothing stored), PATCH applies a SPARQL Update, DELETE removes it. Every
resource links its ACL URL (``rel="acl"``, responses.py) whether or not it has one.

The root without an ACL of its own answers GET with the default root ACL the server enforces
(``serve --root-acl``; without one, an ACL granting nothing), and PATCH or DELETE of it with 409,
as Fedora 5.1 and 6 do (``FedoraAcl``: "The default root ACL is system generated")."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Response

from fcrctl import acl, rdf
from fcrctl.errors import BadInput, Conflict, NotFound
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
    prefs, _applied = rdf.parse_prefer(ctx.request.headers.get("Prefer"), dialect=ctx.config.dialect)
    try:
        graph = ctx.repo.get_acl(ctx.target.path, prefs=prefs)
    except NotFound:
        if ctx.target.path != "/":
            raise
        graph = _root_default(ctx)
    body = b"" if ctx.request.method == "HEAD" else rdf.serialize(ctx.to_external(graph), mime)
    resp = Response(body, status=200, content_type=mime)
    for url, rel in ((LDP_RDF_SOURCE, "type"), (acl.WEBAC_ACL, "type"), (ctx.url(ctx.target.path), "describes")):
        resp.headers.add("Link", h.link(url, rel))
    resp.headers["Allow"] = "DELETE,GET,HEAD,OPTIONS,PATCH,PUT"
    resp.headers["Accept-Patch"] = h.SPARQL_UPDATE
    return resp


def _root_default(ctx: Context) -> object:
    """The default root ACL the server enforces, as Fedora serves its root-authorization.ttl."""
    from rdflib import RDF, URIRef

    policy = ctx.policy
    root_graph = getattr(policy, "root_graph", None)
    graph = rdf.new_graph()
    if root_graph is not None:
        for triple in root_graph:
            graph.add(triple)
    graph.add((URIRef(acl.acl_id_of("/")), RDF.type, URIRef(acl.WEBAC_ACL)))
    return graph


def _not_the_root_default(ctx: Context, method: str) -> None:
    """409 for PATCH or DELETE of the root's ACL while it is the system default (Fedora 5.1 and 6)."""
    if ctx.target.path != "/":
        return
    try:
        ctx.repo.get_acl("/")
    except NotFound:
        raise Conflict(f"the default root ACL is the server's (serve --root-acl) and cannot be {method}: "
                       "PUT an ACL to this URL to override it") from None


def put(ctx: Context) -> Response:
    path = ctx.target.path
    ctx.repo.info(path)  # 404 / 410 for the resource before reading the body
    mime = rdf.mime_of(ctx.request.content_type) if ctx.request.content_type else "text/turtle"
    if not rdf.is_rdf_mime(mime):
        message = f"fcr:acl takes RDF (text/turtle, ...), not {ctx.request.content_type}"
        if ctx.config.dialect in ("fedora5", "fedora6"):  # FedoraAcl: BadRequestException
            raise BadInput(message)
        raise UnsupportedMediaType(message)
    graph = ctx.parse_rdf(mime, base=_acl_url(ctx))  # type: ignore[arg-type]  # BadInput (400) before any write
    info, created = ctx.repo.put_acl(path, graph)
    # 5.1 and 6 (FedoraAcl) answer either with the ACL's ETag, Last-Modified and Location
    if created:
        resp = Response(_acl_url(ctx) + "\n", status=201, content_type="text/plain; charset=utf-8")
        resp.headers["ETag"] = h.etag(info, weak=True)
        resp.last_modified = info.modified
    else:
        resp = r.no_content(info)
    resp.headers["Location"] = h.uri(_acl_url(ctx))
    return resp


def patch(ctx: Context) -> Response:
    path = ctx.target.path
    _not_the_root_default(ctx, "modified")
    relative = ("" if path == "/" else path) + "/" + acl.ACL_SUFFIX
    update = ctx.sparql_update(relative_to=relative)
    info = ctx.repo.patch_acl(path, update)
    return r.no_content(info)


def delete(ctx: Context) -> Response:
    _not_the_root_default(ctx, "deleted")
    ctx.repo.delete_acl(ctx.target.path)
    return r.no_content()
