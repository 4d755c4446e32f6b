"""An HTML page for a container when a browser asks (``Accept: text/html`` preferred to RDF):
its triples, its children as links, binaries as downloads - as Fedora's own HTML view offers.

Everything on the page comes from clients (paths, triples, file names): it is all escaped, only
http(s) URIs become links, and the page forbids scripts (Content-Security-Policy).
"""

from __future__ import annotations

import itertools
from html import escape
from typing import TYPE_CHECKING

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from fcrctl import rdf
from fcrctl.repository.base import ResourceInfo
from fcrctl.server import responses as r

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.server.context import Context

MAX_CHILDREN = 1000  # a page a browser can show; the RDF lists them all
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'"
_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}"
)


def wants_html(accept: str | None) -> bool:
    """True when the client prefers text/html to Turtle (browsers do; ``*/*`` does not)."""
    if not accept or "html" not in accept:
        return False
    return parse_accept_header(accept, MIMEAccept).best_match(["text/turtle", "text/html"]) == "text/html"


def page(ctx: Context, info: ResourceInfo, graph: Graph) -> Response:
    url = ctx.url(info.path)
    body = "" if ctx.request.method == "HEAD" else _render(ctx, info, ctx.to_external(graph), url)
    resp = Response(body, content_type="text/html; charset=utf-8")
    r.resource_headers(resp, ctx, info)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _link(uri: str, text: str | None = None, *, download: bool = False) -> str:
    label = escape(text if text is not None else uri)
    if not uri.startswith(("http://", "https://")):
        return label
    extra = " download" if download else ""
    return f'<a href="{escape(uri, quote=True)}"{extra}>{label}</a>'


def _node(node: object) -> str:
    from rdflib import Literal, URIRef

    if isinstance(node, URIRef):
        return _link(str(node))
    if isinstance(node, Literal):
        suffix = f"@{node.language}" if node.language else (f" ^^{node.datatype}" if node.datatype else "")
        return escape(str(node)) + f"<small>{escape(suffix)}</small>"
    return escape(str(node))


def _render(ctx: Context, info: ResourceInfo, graph: Graph, url: str) -> str:
    from rdflib import URIRef

    contains = URIRef(rdf.LDP + "contains")
    rows = "".join(
        f"<tr><td>{_node(s)}</td><td>{_node(p)}</td><td>{_node(o)}</td></tr>"
        for s, p, o in sorted(graph.triples((None, None, None)), key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
        if p != contains
    )
    children = []
    # a child's file name and size come from its description, which an ACL'd user may not read;
    # ldp:contains (its URL) is all a reader of the container is owed (admins and auth-less serve see all)
    details = ctx.user is None or ctx.admin
    for child in itertools.islice(ctx.repo.children(info.path), MAX_CHILDREN):
        child_url = ctx.url(child.path)
        if child.is_binary and not details:
            children.append(f"<li>{_link(child_url, child.name, download=True)}</li>")
        elif child.is_binary:
            name = child.filename or child.name
            size = f" ({child.size} bytes)" if child.size is not None else ""
            meta = _link(ctx.url(child.path, "fcr:metadata"), "description")
            children.append(f"<li>{_link(child_url, name, download=True)}{escape(size)} - {meta}</li>")
        else:
            children.append(f"<li>{_link(child_url, child.name + '/')}</li>")
    parent = ""
    if info.path != "/":
        parent_path = info.path.rsplit("/", 1)[0] or "/"
        parent = f"<p>{_link(ctx.url(parent_path), 'up: ' + parent_path)}</p>"
    listed = "".join(children) or "<li><em>none</em></li>"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(info.path)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(info.path)}</h1>{parent}"
        f"<p>{_link(url)}</p><h2>Children</h2><ul>{listed}</ul>"
        f"<h2>Triples</h2><table><tr><th>subject</th><th>predicate</th><th>object</th></tr>{rows}</table>"
        "</body></html>"
    )
