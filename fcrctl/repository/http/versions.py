"""Versions over HTTP: Fedora 4's labelled fcr:versions or a Memento timemap; create, delete, revert

Either listing form is read whatever the dialect says (servers emulating Fedora 4 may answer
with a timemap). A user names a version by label, id or memento datetime, as locally.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote

from fcrctl import paths, rdf
from fcrctl.errors import CorruptData, Unsupported
from fcrctl.repository.base import LDP, RdfPrefs, ResourceInfo, ResourceSpec, Version
from fcrctl.repository.http import wire
from fcrctl.repository.http.facts import FEDORA, MEMENTO_ID, Facts
from fcrctl.repository.http.remote import LENIENT, RDF_ACCEPT, Remote
from fcrctl.repository.version_names import find_version, given_label, invented_label, no_such_version

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.http.reads import Reads
    from fcrctl.repository.http.writes import Writes


class Versions:
    """list / create / delete versions of a resource, and resolve the version a user names."""

    def __init__(self, remote: Remote) -> None:
        self._remote = remote

    def named(self, path: str, version: str | None) -> str | None:
        """The listed id of the version a user named by label, id or memento (as the local backend
        resolves them), so every server answers alike and a missing version says so."""
        if version is None:
            return None
        listed = self.versions(path)
        found = find_version(listed, self._remote.version_segment(version)) or find_version(listed, version)
        if found is None:
            raise no_such_version(path, version)
        return found.id

    def versions(self, path: str) -> list[Version]:
        """Read either listing form: Fedora 4's labelled ``fedora:hasVersion`` graph or a
        Memento timemap (link-format or RDF ``ldp:contains``)."""
        from rdflib import URIRef

        remote = self._remote
        path = paths.normalize(path)
        url = remote.url(path) + "/fcr:versions"
        accept = ("application/link-format, " if remote.dialect.versions == "memento" else "") + RDF_ACCEPT
        what = f"versions of {path}"
        with remote.send("GET", url, path=path, headers={"Accept": accept}, what=what, stream=True) as response:
            body = remote.read_body(response, url, path)  # a resource's every version: bounded all the same
        if rdf.mime_of(response.headers.get("Content-Type")) == "application/link-format":
            found: dict[str, Version] = {}
            text = body.decode(response.encoding or "utf-8", "replace")
            for link in wire.parse_links(" ".join(text.split())).get("memento", []):
                segment = link["url"].rstrip("/").rsplit("/", 1)[-1]
                if MEMENTO_ID.match(segment):
                    when = wire.parse_http_date(link.get("datetime", "")) or _memento_time(segment)
                    found[segment] = Version(id=segment, created=when)
            return sorted(found.values(), key=lambda v: (v.created, v.id))
        graph, _ = remote.parse_graph(response, url, path, body)
        if any(True for _ in graph.objects(None, URIRef(FEDORA + "hasVersion"))):
            return _labelled_versions(graph)
        mementos = {}
        for obj in graph.objects(None, URIRef(LDP + "contains")):
            segment = str(obj).rstrip("/").rsplit("/", 1)[-1]
            if MEMENTO_ID.match(segment):
                mementos[segment] = Version(id=segment, created=_memento_time(segment))
        return sorted(mementos.values(), key=lambda v: (v.created, v.id))

    def create_version(self, path: str, *, label: str | None = None) -> Version:
        remote = self._remote
        path = paths.normalize(path)
        url = remote.url(path) + "/fcr:versions"
        if label and not remote.dialect.capabilities().label_versions:
            raise Unsupported(f"{remote.dialect.name} versions (Memento) have no labels: omit --label", path=path)
        if remote.dialect.versions == "labels" and not label:
            label = invented_label()  # Fedora 4 requires a Slug
        headers = {"Slug": label} if label else {}
        response = remote.send("POST", url, path=path, headers=headers, what=f"new version of {path}")
        location = response.headers.get("Location") or ""
        segment = unquote(location.rstrip("/").rsplit("/", 1)[-1]) if "fcr:versions/" in location else None
        if segment and MEMENTO_ID.match(segment) and segment != label:
            when = wire.parse_http_date(response.headers.get("Memento-Datetime", "")) or _memento_time(segment)
            return Version(id=segment, created=when)
        wanted = {x for x in (segment, label) if x}
        listed = self.versions(path)
        for version in reversed(listed):
            if version.id in wanted or version.label in wanted:
                return version
        if listed and not wanted:
            return listed[-1]
        raise CorruptData(f"{remote.location} accepted a new version of {path} but does not list it", path=path)

    def delete_version(self, path: str, version: str) -> None:
        remote = self._remote
        path = paths.normalize(path)
        if remote.dialect.versions == "memento":
            raise Unsupported(
                f"{remote.dialect.name} servers keep every version (Memento): versions cannot be deleted", path=path
            )
        version = self.named(path, version) or version
        remote.send("DELETE", remote.url(path, version), path=path, what=f"version {version} of {path}")

    def revert(self, path: str, version: str, reads: Reads, writes: Writes) -> ResourceInfo:
        """Fedora 4 PATCHes the version; Memento has no revert verb, so its state is written back."""
        remote = self._remote
        path = paths.normalize(path)
        version = self.named(path, version) or version
        if remote.dialect.versions == "labels":
            remote.send("PATCH", remote.url(path, version), path=path, what=f"version {version} of {path}")
            return reads.info(path)
        info = reads.info(path, version=version)
        if info.is_binary:
            with reads.open_binary(path, version=version) as content:
                spec = ResourceSpec(
                    content=content.stream,
                    binary=True,
                    mime_type=info.mime_type,
                    filename=info.filename,
                )
                writes.write("PUT", remote.url(path), path, spec, {}, created_only=False)
        else:
            graph = reads.get_rdf(
                path, version=version, prefs=RdfPrefs(containment=False, membership=False, server_managed=False)
            )
            writes.write("PUT", remote.url(path), path, ResourceSpec(graph=graph, lenient=True), {"Prefer": LENIENT})
        return reads.info(path)


def _labelled_versions(graph: Graph) -> list[Version]:
    from rdflib import URIRef

    out: list[Version] = []
    for version_url in set(graph.objects(None, URIRef(FEDORA + "hasVersion"))):
        facts = Facts(graph, [version_url])
        label = facts.text(FEDORA + "hasVersionLabel")
        created = facts.datetime(FEDORA + "created") or datetime.fromtimestamp(0, UTC)
        segment = unquote(str(version_url).rstrip("/").rsplit("/", 1)[-1])
        out.append(Version(id=segment, created=created, label=given_label(label)))
    return sorted(out, key=lambda v: (v.created, v.id))


def _memento_time(segment: str) -> datetime:
    return datetime.strptime(segment, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
