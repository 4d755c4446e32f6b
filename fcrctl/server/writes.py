"""POST, PUT, PATCH and DELETE of a resource and its description, and MOVE/COPY: what a request asks to store

Each handler takes a Context and returns a Response.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, Conflict, Gone, NotFound, PreconditionFailed
from fcrctl.rdf.server_managed import ServerManagedConflict
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, NON_RDF_SOURCE, ResourceInfo, ResourceSpec
from fcrctl.server import fedora4, group_commit, tombstones
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server.constraints import InteractionModelViolation
from fcrctl.server.context import Context, UnsupportedMediaType
from fcrctl.server.reads import binary_info, served_graph

if TYPE_CHECKING:
    from rdflib import Graph


def resource_spec(ctx: Context, path: str, existing: ResourceInfo | None, *, new: bool | None = None) -> ResourceSpec:
    """What the request asks to store at ``path``, decided as Fedora does: Link headers, then Content-Type.
    ``new``: whether it creates (default: when nothing exists); over a tombstone, ``existing`` is the
    deleted resource, whose kind the request must keep."""
    req = ctx.request
    new = existing is None if new is None else new
    url = ctx.url(path)
    links = h.parse_links(req.headers.getlist("Link"))
    if ctx.config.dialect == "fedora6":
        h.check_fedora6_types(links)
        if new:
            h.check_no_acl_link(links)
    elif ctx.config.dialect == "fedora5":  # 5.1's FedoraLdp checks both on every POST and PUT
        h.check_fedora6_types(links, h.FEDORA5_OTHER_TYPES)
        h.check_no_acl_link(links)
    model = h.interaction_model(links)
    external = h.external_content(links)
    archival = ctx.config.dialect == "fedora6" and h.asks_archival_group(links)
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
    if (
        ctx.config.dialect == "fedora6"
        and existing is not None
        and not existing.is_binary
        and model is None
        and external is None
        and mime is not None
        and not rdf.is_rdf_mime(mime)
        and mime != h.SPARQL_UPDATE
    ):  # Fedora 6 parses a container's PUT as RDF whatever it is sent (HttpRdfService.parseBodyAsModel)
        raise UnsupportedMediaType(f"{mime} is no RDF type: {existing.path} is a container, send its RDF")
    if existing is not None and model is not None and (model == NON_RDF_SOURCE) != existing.is_binary:
        raise InteractionModelViolation(
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
        raise InteractionModelViolation(
            f"{existing.path} is a {_kind(existing)}: it cannot become a {'binary' if binary else 'container'}; "
            "delete it and create it again (send Link: <ldp:NonRDFSource>; rel=type for RDF-typed binaries)"
        )
    if binary:
        if archival:  # FedoraLdp.ensureArchivalGroupHeaderNotPresentForBinaries: 400, no constraint document
            raise BadInput(f"a binary cannot be an archival group: leave out Link: <{h.ARCHIVAL_GROUP}>; rel=\"type\"")
        if external is not None:
            ctx.config.external.check(external["url"], external["handling"])
            if external["handling"] == "copy":
                return _copied_spec(ctx, external, filename, digests)
            mime_type = external["type"]
            proxied = external["handling"] == "proxy" and urlsplit(external["url"]).scheme.lower() in ("http", "https")
            if not mime_type and proxied and ctx.config.dialect == "fedora6":
                mime_type = ctx.config.external.remote_type(external["url"])
            return ResourceSpec(
                binary=True,
                external_url=external["url"],
                external_handling=external["handling"],
                mime_type=mime_type or req.content_type or None,
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
    if ctx.config.dialect == "fedora6":
        _membership_defaults(graph, paths.to_id(path), model or (existing.model if existing and not new else None))
    # Fedora 6 makes a container an archival group when it creates it; on a replace the type is ignored
    # (ReplacePropertiesServiceImpl reads no Link), so a resource never gains or loses it
    return ResourceSpec(graph=graph, model=model, lenient=lenient, archival_group=archival and new)


def _membership_defaults(graph: Graph, subject_id: str, model: str | None) -> None:
    """Fedora 6 stores what a direct or indirect container leaves out (AbstractService.ensureValidDirectContainer):
    ldp:membershipResource itself, ldp:hasMemberRelation ldp:member, ldp:insertedContentRelation ldp:MemberSubject;
    and refuses a server-managed predicate as a relation (409)."""
    from rdflib import URIRef

    if model not in (DIRECT_CONTAINER, INDIRECT_CONTAINER):
        return
    subject = URIRef(subject_id)
    ldp = rdf.LDP
    for relation in ("hasMemberRelation", "isMemberOfRelation", "insertedContentRelation"):
        for value in graph.objects(subject, URIRef(ldp + relation)):
            if rdf.is_server_managed(str(value)):  # membership would then write server-managed triples
                raise ServerManagedConflict(
                    f"ldp:{relation} cannot be the server-managed {value.n3()}: choose a predicate of your own"
                )
    defaults = [(ldp + "membershipResource", (), subject), (ldp + "hasMemberRelation", (ldp + "isMemberOfRelation",),
                URIRef(ldp + "member"))]
    if model == INDIRECT_CONTAINER:
        defaults.append((ldp + "insertedContentRelation", (), URIRef(ldp + "MemberSubject")))
    for predicate, alternatives, value in defaults:
        if not any((subject, URIRef(p), None) in graph for p in (predicate, *alternatives)):
            graph.add((subject, URIRef(predicate), value))


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
    prefs, applied = rdf.parse_prefer(ctx.request.headers.get("Prefer"), dialect=ctx.config.dialect)
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
    if parent.is_binary and ctx.config.dialect == "fedora6":  # CreateResourceServiceImpl.checkParent: 409
        raise InteractionModelViolation(f"{ctx.url(parent.path)} is a binary: it cannot have child resources")
    if parent.is_binary:  # 4.7 and 5.1 (FedoraLdp.createObject): 409
        raise Conflict(f"{ctx.url(parent.path)} is a binary: it cannot have child resources")
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
    except Gone as err:
        if err.path not in (None, path) or not tombstones.overwrites(ctx):
            raise
        return tombstones.overwrite(ctx, path)
    ctx.check_preconditions(existing, weak=existing is None or not existing.is_binary)
    spec = resource_spec(ctx, path, existing)
    if existing is None:
        if path == "/":
            raise Conflict("the root container always exists")
        try:
            info = group_commit.create(ctx.repo, path, spec)  # durable on return, with the creates beside it
        except Gone as err:  # the path was free: an ancestor is a tombstone
            raise tombstones.refused_below(ctx, path, err) from None
        return created(ctx, info)
    if ctx.config.dialect == "fedora4" and not existing.is_binary:
        _fedora4_replace(ctx, existing, spec)
    elif spec.graph is not None and not spec.lenient:
        spec.graph = _without_unchanged_server_triples(ctx, existing, spec.graph)
    info, was_created = ctx.repo.replace(path, spec, conditions=ctx.conditions(existing))
    return created(ctx, info) if was_created else r.update_links(r.no_content(info), ctx, info)


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
    # a body's ``<.../fcr:metadata>`` came in as the binary's id (rdf.to_internal): compare describedby so too
    suffix = "/fcr:metadata"
    current += [(s, p, type(o)(str(o)[: -len(suffix)])) for s, p, o in current if str(o).endswith(suffix)]
    for triple in list(graph):
        if rdf.is_server_managed(str(triple[1]), str(triple[2])) and triple in current:
            graph.remove(triple)
    return graph


def put_metadata(ctx: Context) -> Response:
    info = binary_info(ctx)
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
    return r.update_links(r.no_content(new), ctx, new, description=True)


def patch(ctx: Context) -> Response:
    info = ctx.repo.info(ctx.target.path)
    if info.is_binary:  # 4.7, 5.1 and 6 (updateSparql): 400
        raise BadInput(f"a binary takes no PATCH: PATCH its description at {ctx.url(info.path, 'fcr:metadata')}")
    return _patch(ctx, info)


def patch_metadata(ctx: Context) -> Response:
    return _patch(ctx, binary_info(ctx))


def delete_metadata(ctx: Context) -> Response:
    """Fedora 4.7: deleting a description deletes what it describes (a container is its own)."""
    if ctx.config.dialect != "fedora4":
        allow = h.allow(h.DESCRIPTION_METHODS, writable=ctx.repo.capabilities.writable)
        return r.method_not_allowed("DELETE", allow)
    binary_info(ctx)
    return delete(ctx)


def _patch(ctx: Context, info: ResourceInfo) -> Response:
    ctx.check_preconditions(info, weak=True)
    update = ctx.sparql_update(relative_to=info.path)
    lenient = h.prefers_lenient(ctx.request.headers.get("Prefer"))
    new = ctx.repo.patch(info.path, update, conditions=ctx.conditions(info), lenient=lenient)
    return r.no_content(new)  # Fedora 6's PATCH answers with the cache headers only (updateSparql)


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
