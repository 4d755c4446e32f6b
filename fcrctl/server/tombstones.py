"""Tombstones as each Fedora answers for them: a 410's ``Link rel="hasTombstone"``, and ``{path}/fcr:tombstone``.

Fedora 6 (fcrepo ``fcrepo-6.5.2``) deletes a container and each resource below it one by one
(``AbstractDeleteResourceService.deleteDepthFirst``), so every one has a tombstone of its own: a 410 links the
requested resource's own tombstone and TimeMap (``ContentExposingResource.getResourceFromPath``); DELETE of it
purges that resource and what is below it, 405 inside an archival group (``FedoraTombstones.delete``); the
other methods are 405 with ``Allow: DELETE`` (empty inside an archival group), OPTIONS 200; a live resource has
no tombstone (404). Nothing is created below a tombstone (``CreateResourceServiceImpl.checkParent``: 400).

A PUT with ``Overwrite-Tombstone: true`` (Fedora 6.5) writes over a tombstone, after the path's versions.

Fedora 4.7.5 and 5.1.1 remove a deleted container's subtree and leave one tombstone node at its path
(``FedoraResourceImpl.delete``). The deleted resource's own 410 links it (``FedoraBaseResource.getResourceFromPath``);
a path below it, whether something was there or not, answers 410 with no link: ``HttpResourceConverter.doForward``
finds the closest existing ancestor a tombstone and throws ``TombstoneException`` without a URI. DELETE of
``{path}/fcr:tombstone`` calls ``delete()`` on whatever the path resolves to (``FedoraTombstones.delete``): the
tombstone (a purge) or a live resource, which it deletes, leaving a tombstone. Its other methods are 405.

The local repository keeps a tombstone for every deleted resource, as Fedora 6; the older dialects answer
from it as their single tombstone node would.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from fcrctl import paths
from fcrctl.errors import FcrctlError, Gone, NotFound
from fcrctl.repository.base import ResourceInfo
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server import routing as rt
from fcrctl.server.constraints import CannotCreateBelowTombstone
from fcrctl.server.context import Context

LIVE, GONE, MISSING = "live", "gone", "missing"
OLDER_ALLOW = "DELETE,OPTIONS"  # 4.7 and 5.1 define DELETE only; JAX-RS adds OPTIONS


def state(ctx: Context, path: str) -> str:
    try:
        ctx.repo.info(path)
    except Gone:
        return GONE
    except NotFound:
        return MISSING
    return LIVE


def below_tombstone(ctx: Context, path: str) -> bool:
    """Whether the closest existing ancestor of ``path`` is a tombstone (how 4.7 and 5.1 tell a path below one)."""
    for ancestor in reversed(paths.ancestors(path)):
        if ancestor == "/":
            return False
        found = state(ctx, ancestor)
        if found != MISSING:
            return found == GONE
    return False


def links(ctx: Context, path: str) -> list[str]:
    """The Link values of a 410 about ``path``."""
    if ctx.config.dialect == "fedora6":
        values = [h.link(ctx.url(path, "fcr:tombstone"), "hasTombstone")]
        if path == ctx.target.path:  # TombstoneExceptionMapper: the deleted resource's TimeMap still answers
            values.append(h.link(ctx.url(path, "fcr:versions"), "timemap"))
        return values
    if below_tombstone(ctx, path):
        return []
    return [h.link(ctx.url(path, "fcr:tombstone"), "hasTombstone")]


def hides(ctx: Context, err: FcrctlError) -> bool:
    """Whether a 404 is a 410 in 4.7 and 5.1: a path that never existed below a tombstone (its resource or
    description; their translator looks for the closest existing ancestor)."""
    return (
        isinstance(err, NotFound)
        and ctx.config.dialect in ("fedora4", "fedora5")
        and ctx.target.endpoint in (rt.RESOURCE, rt.METADATA)
        and err.path in (None, ctx.target.path)
        and below_tombstone(ctx, ctx.target.path)
    )


def refused_below(ctx: Context, path: str, err: Gone) -> FcrctlError:
    """What a create of ``path`` refused because its parent is a tombstone becomes in this dialect."""
    if ctx.config.dialect == "fedora6":
        return CannotCreateBelowTombstone(
            f"cannot create {ctx.url(path)} below a tombstone: purge the deleted parent first", path=path
        )
    return err


def in_archival_group(ctx: Context, path: str) -> bool:
    """Whether ``path`` was inside an archival group (live or deleted: a deleted one as it last was)."""
    for ancestor in reversed(paths.ancestors(path)):
        if ancestor == "/":
            return False
        try:
            if ctx.repo.info(ancestor).archival_group:
                return True
        except Gone:
            versions = ctx.repo.versions(ancestor)  # the last is the deletion
            if len(versions) > 1 and ctx.repo.info(ancestor, version=versions[-2].id).archival_group:
                return True
        except NotFound:
            continue
    return False


def overwrites(ctx: Context) -> bool:
    """Whether this PUT may write over a tombstone (Fedora 6.5's ``Overwrite-Tombstone: true``)."""
    return (
        ctx.config.dialect == "fedora6"
        and ctx.repo.capabilities.overwrite_tombstones
        and h.overwrite_tombstone(ctx.request.headers.get(h.OVERWRITE_TOMBSTONE))
    )


def overwrite(ctx: Context, path: str) -> Response:
    """PUT over a tombstone, as Fedora 6.5 (FedoraLdp.createOrReplaceObjectRdf): the request is checked against
    the deleted resource (preconditions, its interaction model: 409), then creates it anew (201) after the
    path's versions, which stay listed. The archival-group type must be what it was (409,
    OverwriteRdfTombstonePersister); the parent must be live (400, as any create below a tombstone)."""
    from fcrctl.server.writes import created, resource_spec  # writes.put calls this

    deleted = deleted_state(ctx, path)
    ctx.check_preconditions(deleted, weak=not deleted.is_binary)
    spec = resource_spec(ctx, path, deleted, new=True)
    spec.overwrite_tombstone = True
    try:
        info = ctx.repo.create(path, spec, parents=True)
    except Gone as err:  # a deleted parent
        raise refused_below(ctx, path, err) from None
    return created(ctx, info)


def deleted_state(ctx: Context, path: str) -> ResourceInfo:
    """The deleted resource at ``path`` as it last was: its newest version in which it was live (in an
    archival group, versions after its deletion can be the group's others')."""
    for version in reversed(ctx.repo.versions(path)):
        try:
            return ctx.repo.info(path, version=version.id)
        except (Gone, NotFound):
            continue
    raise Gone(f"{path} was deleted and no version of it is left to read", path=path)


def delete(ctx: Context) -> Response:
    """DELETE {path}/fcr:tombstone."""
    path = ctx.target.path
    if path == "/":
        return r.method_not_allowed("DELETE", "POST,HEAD,GET,PUT,PATCH,OPTIONS")
    found = state(ctx, path)
    if ctx.config.dialect == "fedora6":
        if found == LIVE:
            raise NotFound(f"there is no tombstone at {path}: the resource exists")
        if found == MISSING:
            raise NotFound(f"no resource at {path}", path=path)
        if in_archival_group(ctx, path):
            return _not_allowed("DELETE", IN_GROUP)
        ctx.repo.purge(path)
        return r.no_content()
    if found == MISSING or (found == GONE and below_tombstone(ctx, path)):
        # what 4.7's translator says of a path below a tombstone, or of nothing at all
        if below_tombstone(ctx, path):
            raise Gone(f"{path} is below a deleted resource: purge that resource's tombstone", path=path)
        raise NotFound(f"no resource at {path}", path=path)
    if found == LIVE:
        ctx.repo.delete(path)  # 4.7 and 5.1 delete what the path names: a live resource becomes a tombstone
    else:
        ctx.repo.purge(path)
    return r.no_content()


def other(ctx: Context) -> Response:
    """GET, HEAD, PUT, POST, PATCH and OPTIONS of {path}/fcr:tombstone: 405 (OPTIONS 200) with what DELETE does."""
    method = ctx.request.method
    if ctx.config.dialect != "fedora6":
        if method == "OPTIONS":
            return Response(status=200, headers={"Allow": OLDER_ALLOW})
        return r.method_not_allowed(method, OLDER_ALLOW)
    path = ctx.target.path
    found = state(ctx, path)
    if found == MISSING or (found == LIVE and method == "OPTIONS"):
        raise NotFound(f"there is no tombstone at {path}", path=path)
    if found == LIVE:
        return _not_allowed(method, f"{path} is live: it has no tombstone")
    in_group = in_archival_group(ctx, path)
    if method == "OPTIONS":
        return Response(status=200, headers={"Allow": "" if in_group else "DELETE"})
    return _not_allowed(method, IN_GROUP) if in_group else r.method_not_allowed(method, "DELETE")


IN_GROUP = "it is inside an archival group, whose tombstone goes with its members' (purge the group's)"


def _not_allowed(method: str, why: str) -> Response:
    """405 with an empty Allow, as Fedora 6 answers where no method applies."""
    return r.text(405, f"{method} is not allowed on this tombstone: {why}", Allow="")

