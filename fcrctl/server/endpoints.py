"""Fedora endpoints below a resource: fcr:versions (Fedora 4 style), fcr:fixity, fcr:acl (fcr:tombstone: tombstones)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from fcrctl import rdf
from fcrctl.errors import BadInput, Conflict, NotFound, Unsupported
from fcrctl.repository.base import FixityResult, ResourceInfo, Version
from fcrctl.repository.version_names import given_label
from fcrctl.server import binaries, fedora4, memento
from fcrctl.server import headers as h
from fcrctl.server import responses as r
from fcrctl.server.context import Context, NotAcceptable

if TYPE_CHECKING:
    from rdflib import Graph

FIXITY_NAMES = {"sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512", "md5": "MD5"}


# -- fcr:versions ------------------------------------------------------------------------------


def _negotiated(ctx: Context) -> str:
    mime = rdf.negotiate(ctx.request.headers.get("Accept"))
    if mime is None:
        raise NotAcceptable(f"no RDF media type in Accept: use one of {', '.join(rdf.RDF_MEDIA_TYPES)}")
    return mime


def list_versions(ctx: Context) -> Response:
    from rdflib import Graph, Literal, URIRef

    if ctx.config.dialect in memento.DIALECTS:
        return memento.timemap(ctx)
    mime = _negotiated(ctx)
    info = ctx.repo.info(ctx.target.path)
    versions = ctx.repo.versions(info.path)
    names = fedora4.version_names(versions)
    graph = Graph()
    subject = URIRef(ctx.url(info.path))
    fedora = rdf.FEDORA
    for version in versions:
        node = URIRef(ctx.url(info.path, "fcr:versions", names[version.id]))
        graph.add((subject, URIRef(fedora + "hasVersion"), node))
        graph.add((node, URIRef(fedora + "hasVersionLabel"), Literal(names[version.id])))
        graph.add((node, URIRef(fedora + "created"), rdf.datetime_literal(version.created)))
    write = fedora4.serialize if fedora4.types_literals(mime) else rdf.serialize
    body = b"" if ctx.request.method == "HEAD" else write(graph, mime)
    resp = Response(body, content_type=mime)
    resp.vary.add("Accept")
    return resp


def create_version(ctx: Context) -> Response:
    """POST {path}/fcr:versions with Slug: LABEL -> 201, Location .../fcr:versions/LABEL, no body
    (Fedora 4.7: 400 without a label or with one it refuses, 409 when the label is taken)."""
    if ctx.config.dialect in memento.DIALECTS:
        return memento.create(ctx)
    path = ctx.target.path
    ctx.repo.info(path)
    label = (ctx.request.headers.get("Slug") or "").strip() or None
    if ctx.config.dialect == "fedora4":
        label = given_label(fedora4.check_label(label))  # an fcrctl client's invented label is none
    if label is not None and any(label == v.label for v in ctx.repo.versions(path)):
        raise Conflict(f"version label {label!r} is already used by a version of {path}: choose another")
    version = ctx.repo.create_version(path, label=label)
    resp = Response(status=201)
    resp.headers.remove("Content-Type")
    name = fedora4.version_names(ctx.repo.versions(path))[version.id]
    resp.headers["Location"] = h.uri(ctx.url(path, "fcr:versions", name))
    return resp


def versions_options(ctx: Context) -> Response:
    """OPTIONS of a TimeMap or a version: Fedora 6's mementos are read only (Allow: GET, HEAD, OPTIONS)."""
    if ctx.config.dialect in memento.DIALECTS:  # a deleted resource's TimeMap and mementos too (Fedora 6.5)
        if ctx.target.endpoint == "version":
            resolve_version(ctx)
            return Response(status=200, headers={"Allow": memento.READ_ONLY})
        path, deleted = memento.original_of(ctx)
        return memento.timemap_headers(Response(status=200), ctx, path, deleted=deleted)
    ctx.repo.info(ctx.target.path)
    if ctx.target.endpoint == "version":
        resolve_version(ctx)
    writable = ctx.repo.capabilities.writable
    if ctx.target.endpoint == "version":
        extra = ("PATCH", "DELETE") if ctx.repo.capabilities.delete_versions else ("PATCH",)
    else:
        extra = ("POST",)
    return Response(status=200, headers={"Allow": ",".join(("GET", "HEAD", "OPTIONS", *(extra if writable else ())))})


def resolve_version(ctx: Context) -> Version:
    label = ctx.target.label
    if ctx.config.dialect != "fedora6":
        ctx.repo.info(ctx.target.path)  # Fedora 4.7 and 5: a deleted resource's versions are gone with it (410)
    versions = ctx.repo.versions(ctx.target.path)
    # labels first: a label may look like another version's id ("v1")
    for field in ("label", "id"):
        for version in versions:
            if getattr(version, field) == label:
                return version
    if ctx.config.dialect == "fedora4":  # the name an unlabelled version is listed by
        names = fedora4.version_names(versions)
        for version in versions:
            if names[version.id] == label:
                return version
    for version in reversed(versions):  # a memento second names the last version made in it, as in Fedora 6
        if version.memento == label:
            return version
    listing = ctx.url(ctx.target.path, "fcr:versions")
    raise NotFound(f"{ctx.target.path} has no version {label!r}: list them at {listing}")


def get_version(ctx: Context) -> Response:
    version = resolve_version(ctx)
    info = ctx.repo.info(ctx.target.path, version=version.id)
    if info.is_binary:
        resp = binaries.get_binary(ctx, info, version=version.id)
        resp.headers["Memento-Datetime"] = _http_date(version)
        if ctx.config.dialect in memento.DIALECTS:
            memento.memento_headers(resp, ctx)
        return resp
    return _version_rdf(ctx, info, version, description=False)


def get_version_metadata(ctx: Context) -> Response:
    version = resolve_version(ctx)
    info = ctx.repo.info(ctx.target.path, version=version.id)
    if not info.is_binary and ctx.config.dialect != "fedora4":  # 4.7: a container's version, as reads.binary_info
        raise NotFound(f"{ctx.target.path} is a container: only binaries have fcr:metadata")
    return _version_rdf(ctx, info, version, description=info.is_binary)


def _version_rdf(ctx: Context, info: ResourceInfo, version: Version, *, description: bool) -> Response:
    mime = _negotiated(ctx)
    graph = None if ctx.request.method == "HEAD" else ctx.repo.get_rdf(info.path, version=version.id)
    resp = r.rdf_response(ctx, graph, mime, info, applied=None, description=description)  # type: ignore[arg-type]
    resp.headers["Memento-Datetime"] = _http_date(version)
    if ctx.config.dialect in memento.DIALECTS:
        memento.memento_headers(resp, ctx)
    return resp


def _http_date(version: Version) -> str:
    from werkzeug.http import http_date

    return http_date(version.created)


def revert_version(ctx: Context) -> Response:
    """PATCH {path}/fcr:versions/LABEL reverts the resource to that version (Fedora 4)."""
    if ctx.config.dialect in memento.DIALECTS:
        return memento.read_only(ctx)
    version = resolve_version(ctx)
    info = ctx.repo.revert(ctx.target.path, version.id)
    return r.no_content(info)


def delete_version(ctx: Context) -> Response:
    # Fedora 5.1 deleted mementos; OCFL versions are immutable, so its dialect answers as Fedora 6 does
    if ctx.config.dialect in memento.DIALECTS:
        return memento.read_only(ctx)
    version = resolve_version(ctx)
    versions = ctx.repo.versions(ctx.target.path)
    if versions and versions[-1].id == version.id:  # Fedora 4.7 keeps the base version
        raise BadInput(f"{ctx.target.label!r} is the most recent version of {ctx.target.path}: it cannot be removed")
    allow = "GET,HEAD,PATCH,OPTIONS"
    if not ctx.repo.capabilities.delete_versions:
        return r.method_not_allowed("DELETE", allow)
    try:
        ctx.repo.delete_version(ctx.target.path, version.id)
    except Unsupported as err:
        return r.text(405, err.message, Allow=allow)
    return r.no_content()


# -- fcr:fixity ----------------------------------------------------------------------------------


def fixity(ctx: Context) -> Response:
    """PREMIS fixity report (Fedora 4/5), judged by the repository with its strongest stored digest."""
    mime = _negotiated(ctx)
    info = ctx.repo.info(ctx.target.path)
    if not info.is_binary:
        raise NotFound(f"{ctx.target.path} is a container: fixity applies to binaries")
    graph = _premis(ctx, info, ctx.repo.fixity(info))
    body = b"" if ctx.request.method == "HEAD" else rdf.serialize(graph, mime)
    resp = Response(body, content_type=mime)
    resp.vary.add("Accept")
    return resp


def _premis(ctx: Context, info: ResourceInfo, result: FixityResult) -> Graph:
    from rdflib import Graph, Literal, URIRef

    premis, rdf_type = rdf.PREMIS, URIRef(rdf.RDF_NS + "type")
    subject = URIRef(ctx.url(info.path))
    node = URIRef(f"{ctx.url(info.path)}#fixity/{int(time.time() * 1000)}")
    graph = Graph()
    graph.bind("premis", premis)
    graph.add((subject, URIRef(premis + "hasFixity"), node))
    graph.add((node, rdf_type, URIRef(premis + "Fixity")))
    graph.add((node, rdf_type, URIRef(premis + "EventOutcomeDetail")))
    outcome = result.outcome
    graph.add((node, URIRef(premis + "hasEventOutcome"), Literal(outcome)))
    if outcome != "SUCCESS":  # Fedora 4 clients read the status predicate
        graph.add((node, URIRef(rdf.FEDORA + "status"), Literal(outcome)))
    algorithm = result.algorithm
    graph.add((node, URIRef(premis + "hasMessageDigestAlgorithm"), Literal(FIXITY_NAMES.get(algorithm, algorithm))))
    digest = result.actual or result.expected
    if digest:
        graph.add((node, URIRef(premis + "hasMessageDigest"), URIRef(rdf.digest_urn(algorithm, digest))))
    size = result.size if result.size is not None else info.size
    if size is not None:
        graph.add((node, URIRef(premis + "hasSize"), Literal(size, datatype=URIRef(rdf.XSD + "long"))))
    return graph


# -- fcr:acl -----------------------------------------------------------------------------------
