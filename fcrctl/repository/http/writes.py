"""Writing over HTTP: create, replace (RDF, binary or external content), patch, delete, purge, move, copy

Long because Fedora 4.7 needs the most care (no If-None-Match, models typed in the body, lenient
PUTs): each such step says so where it happens.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, ChecksumMismatch, Conflict, CorruptData, FcrctlError, Gone, NotFound
from fcrctl.repository.base import (
    CONTAINER_MODELS,
    MODEL_NAMES,
    NON_RDF_SOURCE,
    Conditions,
    ResourceInfo,
    ResourceSpec,
)
from fcrctl.repository.http import dialect as dialects
from fcrctl.repository.http import wire
from fcrctl.repository.http.errors import error_for
from fcrctl.repository.http.facts import BASIC
from fcrctl.repository.http.made_here import MadeHere, external_lines
from fcrctl.repository.http.remote import LENIENT, Remote

if TYPE_CHECKING:
    import requests
    from rdflib import Graph

    from fcrctl.repository.http.reads import Reads

SPARQL_UPDATE = "application/sparql-update"
N_TRIPLES = "application/n-triples"


class Writes:
    """Every change to a resource's current state; answers are described through ``reads``."""

    def __init__(self, remote: Remote, reads: Reads) -> None:
        self._remote = remote
        self._reads = reads
        self._made = MadeHere()
        self.written: Callable[[str, str | None], None] | None = None  # HttpAcls.written: a PUT's Link header

    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        path = paths.normalize(path)
        self._create(path, spec, parents=parents)
        if spec.is_binary and spec.graph is not None and len(spec.graph):
            return self._reads.info(path)  # the description was PUT after the binary
        return self._reads.describe(path, container=not spec.is_binary)

    def write_only(self, path: str, spec: ResourceSpec, *, new: bool, ntriples: bytes | None = None) -> None:
        """``create`` (``new``) or ``replace`` for a bulk writer that reads nothing back (import): no
        GET of what was written, and one request for a resource whose parent this client made
        itself, since nothing but what this client put there can be in it (so there is nothing to
        HEAD: not the parent, not the path). ``ntriples``: the user triples as stored N-Triples
        lines (ids internal), sent as they are once rewritten to URLs, instead of ``spec.graph``.
        The caller creates each path once (an import's are distinct): the record of what this
        client made is bounded, and a path dropped from it is not asked about again."""
        path = paths.normalize(path)
        if not new:
            headers: dict[str, str] = {}
            if spec.lenient or (self._remote.dialect.name == "fedora4" and not spec.is_binary):
                headers["Prefer"] = LENIENT  # see replace()
            self._put(path, spec, headers, ntriples=ntriples)
            return
        self._create(path, spec, parents=True, checked=self._made.free_under_made(path), ntriples=ntriples)

    def _create(self, path: str, spec: ResourceSpec, *, parents: bool, checked: bool = False,
                ntriples: bytes | None = None) -> None:
        """``checked``: the parent is there and the path free as far as this client knows (``write_only``)."""
        if path == "/":
            raise Conflict("the root container always exists: create something under it", path=path)
        if not checked:
            self._ensure_parent(path, parents)
        # Fedora 6 honours If-None-Match: * (412 when the path is taken); Fedora 4/5 ignore it and
        # would silently replace, so ask first there.
        fedora6 = self._remote.dialect.name == "fedora6"
        status = "missing" if checked or fedora6 else self._exists(path)
        if status == "exists":
            raise Conflict(f"{path} already exists: use `fcrctl put` to replace it, or pick another path", path=path)
        if status == "gone":
            raise Gone(
                f"{path} was deleted and a tombstone remains: purge it (fcrctl purge {path}) to reuse it", path=path
            )
        # over a tombstone (a path found deleted; 410 before 6.5): no If-None-Match (6.5 matches the deleted one)
        headers = {"Overwrite-Tombstone": "true"} if spec.overwrite_tombstone and fedora6 else {"If-None-Match": "*"}
        response = self._put(path, spec, headers, created_only=True, ntriples=ntriples)
        if response.status_code == 412:
            raise Conflict(f"{path} already exists: use `fcrctl put` to replace it, or pick another path", path=path)
        self._made.remember(path)
        if spec.is_binary and spec.graph is not None and len(spec.graph):
            # a binary's description triples go to its fcr:metadata, as the local backend stores them
            self._put_description(path, spec.graph, Conditions(), spec.lenient)

    def _exists(self, path: str) -> str:
        try:
            self._remote.send("HEAD", self._remote.url(path), path=path, allow_redirects=False)
        except NotFound:
            return "missing"
        except Gone:
            return "gone"
        return "exists"

    def _ensure_parent(self, path: str, parents: bool) -> None:
        parent = paths.parent(path)
        if parent is None or parent == "/":
            return
        status = self._exists(parent)
        if status == "exists":
            return
        if status == "gone":
            raise Gone(f"parent {parent} was deleted (tombstone): purge it first (fcrctl purge {parent})", path=parent)
        if not parents:
            raise NotFound(f"parent {parent} does not exist: create it first, or use --parents", path=parent)
        for ancestor in paths.ancestors(path)[1:]:
            if self._exists(ancestor) == "missing":
                url = self._remote.url(ancestor)
                self._remote.send("PUT", url, path=ancestor, headers={"If-None-Match": "*"}, ok=(412,))
        self._made.forget()  # made ancestors may have been made by someone else meanwhile: trust none

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        parent = paths.normalize(parent)
        if slug is not None:
            paths.join(parent, slug)  # validate it as a path segment
        headers: dict[str, str] = {}
        if not slug and self._remote.dialect.name == "fedora4" and spec.model not in (None, BASIC, "basic"):
            slug = uuid.uuid4().hex  # the body's rdf:type must name the new resource (see _write)
        if slug:
            headers["Slug"] = slug
        response = self.write("POST", self._remote.url(parent), parent, spec, headers)
        location = response.headers.get("Location") or response.text.strip()
        new_path = self._remote.path_of(location) if location else None
        if new_path is None:
            raise CorruptData(f"{self._remote.location} created a child of {parent} but did not say where", path=parent)
        return self._reads.describe(new_path, container=not spec.is_binary)

    def replace(
        self, path: str, spec: ResourceSpec, *, conditions: Conditions = Conditions()
    ) -> tuple[ResourceInfo, bool]:
        path = paths.normalize(path)
        headers = wire.condition_headers(conditions)
        if spec.lenient or (self._remote.dialect.name == "fedora4" and not spec.is_binary):
            # Fedora 4.7 refuses (409) a PUT whose body leaves out the server-managed triples
            # unless told the client received a minimal representation
            headers["Prefer"] = LENIENT
        response = self._put(path, spec, headers)
        return self._reads.describe(path, container=not spec.is_binary), response.status_code == 201

    def _put(
        self, path: str, spec: ResourceSpec, headers: dict[str, str], created_only: bool = False,
        ntriples: bytes | None = None,
    ) -> requests.Response:
        ok = (412,) if created_only else ()
        return self.write("PUT", self._remote.url(path), path, spec, headers, ok=ok, created_only=created_only,
                          ntriples=ntriples)

    def write(
        self,
        method: str,
        url: str,
        path: str,
        spec: ResourceSpec,
        headers: dict[str, str],
        *,
        ok: tuple[int, ...] = (),
        created_only: bool = False,
        ntriples: bytes | None = None,
    ) -> requests.Response:
        """PUT or POST a resource described by ``spec`` (container RDF, binary stream, or external);
        ``ntriples``: a container's user triples as stored N-Triples, instead of ``spec.graph``."""
        links: list[str] = []
        body: Any = None
        reader: wire.HashingReader | None = None
        local_only: list[str] = []
        if spec.archival_group:
            links.append(wire.link_header(dialects.ARCHIVAL_GROUP, "type"))
        if spec.is_binary:
            links.append(wire.link_header(NON_RDF_SOURCE, "type"))
            if spec.filename:
                headers["Content-Disposition"] = wire.content_disposition(spec.filename)
            if spec.external_url:
                params = {"handling": spec.external_handling or "proxy"}
                if spec.mime_type:
                    params["type"] = spec.mime_type
                links.append(wire.link_header(spec.external_url, wire.EXTERNAL_CONTENT_REL, **params))
                if spec.mime_type:
                    headers["Content-Type"] = spec.mime_type
            else:
                headers["Content-Type"] = spec.mime_type or "application/octet-stream"
                expected = {a: h.lower() for a, h in spec.digests.items()}
                unknown = sorted(set(expected) - set(dialects.WIRE_DIGESTS))
                if unknown:
                    raise BadInput(
                        f"unknown digest algorithm {unknown[0]!r}: use sha512, sha256, sha1 or md5", path=path
                    )
                digest = wire.digest_header(expected, self._remote.dialect.digest_algorithms)
                if digest:
                    headers["Digest"] = digest
                local_only = [a for a in expected if a not in self._remote.dialect.digest_algorithms]
                body, reader = self._binary_body(spec, path, expected, local_only)
        else:
            lines = None if ntriples is None or spec.graph is not None else external_lines(
                ntriples, self._remote.base_uri)
            if ntriples is not None and spec.graph is None and lines is None:  # not in the form handled
                spec = ResourceSpec(graph=rdf.read_ntriples(ntriples), model=spec.model,
                                    archival_group=spec.archival_group, lenient=spec.lenient)
            model = spec.model
            graph = spec.graph
            if graph is not None and self._remote.dialect.name == "fedora4" and spec.lenient:
                # 4.7's lenient handling does not drop server-managed triples: drop them here (before
                # the model's rdf:type goes in, which is server-managed too)
                graph = rdf.check_user_triples(graph, subject_id=paths.to_id(path), lenient=True)
            if model is not None:
                model = MODEL_NAMES.get(model, model)
                if model not in CONTAINER_MODELS:
                    raise BadInput(f"unknown container model {spec.model!r}: use basic, direct or indirect", path=path)
                if self._remote.dialect.name != "fedora4":
                    links.append(wire.link_header(model, "type"))
                elif model != BASIC:  # Fedora 4.7 takes the model from an rdf:type in the body
                    subject = path if method == "PUT" else paths.join(path, headers["Slug"])
                    if lines is not None:
                        typed = rdf.id_to_url(paths.to_id(subject), self._remote.base_uri)
                        lines.append(f"<{typed}> <{rdf.RDF_NS}type> <{model}> .")
                    else:
                        graph = typed_as(graph, paths.to_id(subject), model)
            # Fedora 4.7 answers a PUT with no body onto an existing container 409: send empty Turtle
            replacing = self._remote.dialect.name == "fedora4" and method == "PUT" and not created_only
            if lines is not None:
                if lines or replacing:
                    headers["Content-Type"] = N_TRIPLES
                    body = "".join(line + "\n" for line in lines).encode("utf-8")
            elif (graph is not None and len(graph)) or replacing:
                graph = graph if graph is not None else rdf.new_graph()
                headers["Content-Type"] = "text/turtle"
                body = rdf.serialize(rdf.to_external(graph, self._remote.base_uri), "text/turtle")
        if links:
            headers["Link"] = ", ".join(links)
        response = self._remote.send(
            method, url, path=path, headers=headers, data=body, ok=ok, upload=reader is not None
        )
        if reader is not None and local_only:
            actual = reader.hexdigests()
            bad = [a for a in local_only if actual.get(a) != spec.digests[a].lower()]
            if bad:
                self._undo_upload(response, path, created_only or method == "POST")
                raise ChecksumMismatch(
                    f"{path}: {bad[0]} of the content is {actual[bad[0]]}, not {spec.digests[bad[0]].lower()}",
                    path=path,
                )
        if method == "PUT" and self.written is not None:
            self.written(path, response.headers.get("Link"))
        return response

    def _binary_body(
        self, spec: ResourceSpec, path: str, expected: dict[str, str], local_only: list[str]
    ) -> tuple[Any, wire.HashingReader | None]:
        content = spec.content
        if content is None:
            return b"", None
        length = wire.remaining_length(content)
        if local_only and length is not None:
            # The server cannot check these algorithms: check before sending anything, so a
            # mismatch stores nothing.
            actual = wire.hash_stream(content, local_only)
            for algorithm in local_only:
                if actual[algorithm] != expected[algorithm]:
                    raise ChecksumMismatch(
                        f"{path}: {algorithm} of the content is {actual[algorithm]}, not {expected[algorithm]}: "
                        "nothing was stored",
                        path=path,
                    )
            local_only.clear()
        reader = wire.HashingReader(content, local_only, length)
        if length is None:
            return iter(lambda: reader.read(1 << 20), b""), reader  # chunked transfer
        return (reader if length else b""), reader

    def _undo_upload(self, response: requests.Response, path: str, created: bool) -> None:
        if not created:
            return
        location = response.headers.get("Location") or response.text.strip()
        new_path = self._remote.path_of(location) if location else path
        if new_path is None:
            return
        try:
            self._remote.send("DELETE", self._remote.url(new_path), path=new_path)
            tombstone = self._remote.url(new_path) + "/fcr:tombstone"
            self._remote.send("DELETE", tombstone, path=new_path, ok=(404, 405, 410))
        except FcrctlError:
            pass  # best effort: the mismatch is what the caller must hear about

    def replace_description(
        self, path: str, graph: Graph, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        path = paths.normalize(path)
        self._put_description(path, graph, conditions, lenient)
        return self._reads.info(path)

    def _put_description(self, path: str, graph: Graph, conditions: Conditions, lenient: bool) -> None:
        headers = wire.condition_headers(conditions)
        headers["Content-Type"] = "text/turtle"
        if lenient or self._remote.dialect.name == "fedora4":
            headers["Prefer"] = LENIENT  # see replace()
        if lenient and self._remote.dialect.name == "fedora4":
            graph = rdf.check_user_triples(graph, subject_id=paths.to_id(path), lenient=True)
        body = rdf.serialize(rdf.to_external(graph, self._remote.base_uri), "text/turtle")
        self._remote.send("PUT", self._remote.url(path) + "/fcr:metadata", path=path, headers=headers, data=body)

    def patch(
        self, path: str, update: str, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        path = paths.normalize(path)
        url = self._remote.url(path)
        head = self._remote.head(url, path)
        target = url
        if head.model == NON_RDF_SOURCE:
            target = self._remote.own_link(head, "describedby", url, path) or url + "/fcr:metadata"
        headers = wire.condition_headers(conditions)
        headers["Content-Type"] = SPARQL_UPDATE
        if lenient:
            headers["Prefer"] = LENIENT
        body = external_update(update, self._remote.base_uri).encode("utf-8")
        self._remote.send("PATCH", target, path=path, headers=headers, data=body)
        return self._reads.info(path)

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        path = paths.normalize(path)
        if path == "/":
            raise BadInput("the root container cannot be deleted: delete its children instead", path=path)
        self._made.forget()
        self._remote.send("DELETE", self._remote.url(path), path=path, headers=wire.condition_headers(conditions))

    def purge(self, path: str) -> None:
        path = paths.normalize(path)
        self._made.forget()
        # 4.7 and 5.x delete whatever the path names on DELETE fcr:tombstone, a live resource too: ask there first
        live = self._remote.dialect.name != "fedora6" and self._exists(path) == "exists"
        response = None if live else self._remote.send("DELETE", self._remote.url(path) + "/fcr:tombstone",
                                                       path=path, ok=(404, 405, 410))
        if response is not None and response.status_code == 410:  # 4.7 and 5.x: one tombstone, the ancestor's
            raise Gone(f"{path} is below a deleted resource: purge that ancestor's tombstone", path=path)
        if response is None or response.status_code in (404, 405):
            status = "exists" if live else self._exists(path)
            if status == "exists":
                raise Conflict(f"{path} is not deleted: delete it before purging its tombstone", path=path)
            if status == "gone":  # Fedora 6: a tombstone inside an archival group goes with the group's
                raise Conflict(f"the server keeps {path}'s tombstone (in an archival group?): purge that", path=path)
            raise NotFound(f"no tombstone at {path}: nothing to purge", path=path)

    def move(self, source: str, destination: str) -> ResourceInfo:
        return self._relocate("MOVE", source, destination)

    def copy(self, source: str, destination: str) -> ResourceInfo:
        return self._relocate("COPY", source, destination)

    def _relocate(self, method: str, source: str, destination: str) -> ResourceInfo:
        source = paths.normalize(source)
        destination = paths.normalize(destination)
        self._made.forget()
        if source == "/" or paths.is_within(destination, source):
            raise BadInput(f"cannot {method.lower()} {source} into {destination}: it is inside the source", path=source)
        if self._exists(source) != "exists":
            self._remote.send("HEAD", self._remote.url(source), path=source)  # raises NotFound / Gone
        if self._exists(destination) == "exists":
            raise Conflict(f"{destination} already exists: pick another destination", path=destination)
        headers = {"Destination": self._remote.url(destination)}
        response = self._remote.send(method, self._remote.url(source), path=source, headers=headers, ok=(409, 412, 502))
        if response.status_code == 412:
            raise Conflict(f"{destination} already exists: pick another destination", path=destination)
        if response.status_code == 409:
            raise error_for(response, path=source, secrets=self._remote.secrets)
        if response.status_code == 502:
            raise BadInput(f"the server refused destination {destination} for {method}", path=destination)
        return self._reads.info(destination)


def external_update(update: str, base_uri: str) -> str:
    """Internal ids in a SPARQL Update become URLs; ``<>`` stays (the server resolves it)."""

    def to_url(match: re.Match[str]) -> str:
        rest = match.group(1) or ""
        return "<" + (base_uri + (rest if rest not in ("", "/") else "/")) + ">"

    return re.sub(r"<info:fedora(/[^>\s]*)?>", to_url, update)


def typed_as(graph: Graph | None, subject_id: str, model: str) -> Graph:
    """A copy of ``graph`` typing its resource ``subject_id`` as ``model``."""
    from rdflib import URIRef

    out = rdf.new_graph()
    for triple in graph if graph is not None else ():
        out.add(triple)
    out.add((URIRef(subject_id), URIRef(rdf.RDF_NS + "type"), URIRef(model)))
    return out
