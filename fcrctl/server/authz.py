"""Per-request WebAC enforcement for ``fcrctl serve``: turns a request into an
:class:`fcrctl.acl.Request` and asks the app's :class:`fcrctl.acl.Policy` (the same function
``fcrctl acl effective`` reports from). Authenticated non-admin users only: admins bypass ACLs
as Fedora's fedoraAdmin does, and a server without an auth file enforces nothing."""

from __future__ import annotations

from fcrctl import acl, rdf
from fcrctl.errors import Forbidden
from fcrctl.server import routing as rt
from fcrctl.server.context import Context

# endpoints judged as requests on their resource; others (transactions, backups) decide themselves
_CHECKED = frozenset({rt.RESOURCE, rt.METADATA, rt.VERSIONS, rt.VERSION, rt.VERSION_METADATA, rt.FIXITY,
                      rt.TOMBSTONE, rt.ACL})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# writes after which cached ACLs may be stale (the ACL changed, or went with its resource)
_ACL_CHANGES = frozenset({"PUT", "PATCH", "DELETE", "MOVE"})


def authorize(policy: acl.Policy | None, ctx: Context, main_repo: object) -> None:
    """Raise Forbidden (403) unless the request's user may make it."""
    if policy is None or ctx.target.endpoint not in _CHECKED:
        return
    method = ctx.request.method
    if ctx.user is not None and not ctx.admin:
        req = request_of(ctx)
        # a transaction's view may hold staged ACLs: read it uncached
        if not policy.allowed(ctx.repo, ctx.user, req, cached=ctx.repo is main_repo):
            raise Forbidden(f"{ctx.user} may not {method} {ctx.request.path}: the ACL that governs "
                            f"{req.path} does not allow it")
    if method in _ACL_CHANGES and (ctx.target.endpoint in (rt.ACL, rt.TOMBSTONE) or method in ("DELETE", "MOVE")):
        policy.invalidate()  # whoever changes an ACL (admins too), the next request reads it afresh


def request_of(ctx: Context) -> acl.Request:
    method = ctx.request.method
    endpoint = ctx.target.endpoint
    path = ctx.target.path
    if endpoint == rt.ACL:
        return acl.Request(method, path, acl=True)
    if method in _READS or endpoint in (rt.VERSION_METADATA, rt.FIXITY):
        embed = method != "OPTIONS" and rdf.parse_prefer(ctx.request.headers.get("Prefer"))[0].embed_children
        return acl.Request("GET", path, embed=embed and endpoint == rt.RESOURCE)
    if endpoint == rt.VERSIONS:
        return acl.Request("POST", path, version_write=True)
    if endpoint == rt.VERSION:
        return acl.Request("PATCH", path)  # revert or delete a version: Write on the resource
    if method == "PATCH":
        return acl.Request(method, path, update=_update_text(ctx))
    if method in ("MOVE", "COPY"):
        destination = ctx.request.headers.get("Destination")
        return acl.Request(method, path, destination=ctx.path_of(destination) if destination else None)
    return acl.Request(method, path)


def _update_text(ctx: Context) -> str | None:
    """The PATCH body (kept for the handler), or None when it is not text."""
    try:
        return ctx.read_body().decode("utf-8")
    except UnicodeDecodeError:
        return None
