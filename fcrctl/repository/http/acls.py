"""ACLs over HTTP: Fedora 5/6 WebAC at a resource's rel="acl" link, else Fedora 4's fcr:accessroles

Fedora 5/6 Web Access Control lives at the URL a resource links as ``rel="acl"``
(``PATH/fcr:acl``); Fedora 4's ``fcr:accessroles`` (principal -> admin/writer/reader roles, JSON)
mapped onto WebAC authorizations where the server offers no ``acl`` link; else Unsupported.

Role mapping (both ways): reader = Read; writer = Read, Write, Append; admin = those and
Control. Fedora 4 roles are inherited by the children of the resource, so they read as
authorizations with ``acl:default``. An ACL with anything roles cannot say (agent classes,
groups, accessToClass, a mode set that is no role) is refused rather than half applied.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fcrctl import acl as webac
from fcrctl import paths, rdf
from fcrctl.errors import BadInput, NotFound, Unsupported
from fcrctl.repository.base import Conditions, RdfPrefs, ResourceInfo
from fcrctl.repository.http import wire
from fcrctl.repository.http.remote import RDF_ACCEPT, Remote
from fcrctl.repository.http.writes import external_update

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.http.reads import Reads

ACCESS_ROLES = "fcr:accessroles"
ROLE_MODES = {
    "reader": frozenset({webac.READ}),
    "writer": frozenset({webac.READ, webac.WRITE, webac.APPEND}),
    "admin": frozenset({webac.READ, webac.WRITE, webac.APPEND, webac.CONTROL}),
}
MAX_ROLES_BYTES = 4 * 1024 * 1024
MAX_SEEN = 4096  # acl links kept for a get_acl to come: export's pool lags its walk by a few dozen at most
NO_OWN_ACL = ""  # seen: the server said the resource has no ACL of its own (Fcrctl-Own-Acl: none)
MAX_WRITTEN = 256  # Link headers of PUTs kept for a put_acl to come: an import writes the ACL right after


class HttpAcls:
    """get_acl / put_acl / patch_acl / delete_acl, sent through the repository's Remote."""

    def __init__(self, remote: Remote, reads: Reads) -> None:
        self._remote = remote
        self._reads = reads
        self._seen: dict[str, str | None] = {}  # path -> its acl link, from a GET just made (see seen)
        self._written: dict[str, str] = {}  # path -> the Link header its PUT was answered with (see written)
        self._lock = threading.Lock()  # export's workers read ACLs while its walk adds links

    def seen(self, path: str, head: wire.Headers) -> None:
        """Keeps the ``rel="acl"`` link of a response about ``path`` for its next get_acl, once
        (export reads each container's ACL right after its GET: this spares a HEAD each)."""
        link = self._remote.own_link(head, "acl", self._remote.url(path), path)
        if link is not None and head.no_own_acl:  # serve says it has none: no GET for its 404
            link = NO_OWN_ACL
        with self._lock:
            if len(self._seen) >= MAX_SEEN:
                self._seen.pop(next(iter(self._seen)))
            self._seen[path] = link

    def written(self, path: str, link_header: str | None) -> None:
        """Keeps the Link header a PUT of ``path`` was answered with, for a put_acl to come (an import writes
        a resource, then its ACL). Fedora 5.1 and 6 answer with the resource's ``rel="acl"``
        (``ContentExposingResource.createUpdateResponse``); kept unparsed: most resources get no ACL."""
        if not link_header or 'rel="acl"' not in link_header:
            return  # 4.7 answers with no links: put_acl asks with a HEAD
        with self._lock:
            if len(self._written) >= MAX_WRITTEN:
                self._written.pop(next(iter(self._written)))
            self._written[path] = link_header

    def _written_acl_url(self, path: str) -> str | None:
        with self._lock:
            link_header = self._written.pop(path, None)
        if link_header is None:
            return None
        return self._remote.own_link(wire.Headers(links=wire.parse_links(link_header)), "acl",
                                     self._remote.url(path), path)

    def _acl_url(self, path: str) -> str | None:
        """The resource's ACL URL from its ``rel="acl"`` link; None when the server has no WebAC."""
        url = self._remote.url(path)
        head = self._remote.head(url, path)
        return self._remote.own_link(head, "acl", url, path)

    def get_acl(self, path: str, *, prefs: RdfPrefs = RdfPrefs()) -> Graph:
        path = paths.normalize(path)
        with self._lock:
            known = path in self._seen
            acl_url = self._seen.pop(path) if known else None
        if not known:
            acl_url = self._acl_url(path)
        if acl_url is None:
            return self._roles_graph(path)
        if acl_url == NO_OWN_ACL:
            raise NotFound(f"{path} has no ACL of its own", path=path)
        graph = self._quick_acl(acl_url, path, prefs) if known else None
        if graph is None:
            graph, _ = self._remote.get_graph(acl_url, path, prefs=prefs, what=f"the ACL of {path}")
        return rdf.to_internal(graph, self._remote.base_uri)

    def _quick_acl(self, acl_url: str, path: str, prefs: RdfPrefs) -> Graph | None:
        """Export's read of each resource's ACL (most have none: a 404) through QuickHead.get; None
        when that path does not apply (the ordinary GET then explains any error)."""
        remote = self._remote
        headers = {**remote.tx_headers, "Accept": RDF_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        response = remote.quick_head.get(acl_url, headers, also=(404,))
        if response is None:
            return None
        with response:
            body = remote.read_body(response, acl_url, path)  # type: ignore[arg-type]
            if response.status_code == 404:
                raise NotFound(f"{path} has no ACL of its own", path=path)
            graph, _ = remote.parse_graph(response, acl_url, path, body=body)  # type: ignore[arg-type]
        return graph

    def put_acl(self, path: str, graph: Graph, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        path = paths.normalize(path)
        acl_url = self._written_acl_url(path) or self._acl_url(path)
        if acl_url is None:
            created = self._post_roles(path, graph)
            return self._roles_info(path), created
        headers = wire.condition_headers(conditions)
        headers["Content-Type"] = "text/turtle"
        body = rdf.serialize(rdf.to_external(graph, self._remote.base_uri), "text/turtle")
        response = self._remote.send("PUT", acl_url, path=path, headers=headers, data=body,
                              what=f"the ACL of {path}")
        # 5.1 and 6 answer with the ACL's ETag and Last-Modified (FedoraAcl: addCacheControlHeaders)
        answered = wire.parse_headers(response.headers)
        if answered.etag and answered.last_modified is not None:
            return self._info_of(path, answered), response.status_code == 201
        return self._acl_info(acl_url, path), response.status_code == 201

    def patch_acl(self, path: str, update: str, *, conditions: Conditions = Conditions()) -> ResourceInfo:
        path = paths.normalize(path)
        acl_url = self._acl_url(path)
        if acl_url is None:
            current = self._roles_graph(path)
            new = rdf.apply_update(current, update, base=webac.acl_id_of(path))
            self._post_roles(path, new)
            return self._roles_info(path)
        headers = wire.condition_headers(conditions)
        headers["Content-Type"] = "application/sparql-update"
        body = external_update(update, self._remote.base_uri).encode("utf-8")
        self._remote.send("PATCH", acl_url, path=path, headers=headers, data=body,
                   what=f"the ACL of {path}")
        return self._acl_info(acl_url, path)

    def delete_acl(self, path: str) -> None:
        path = paths.normalize(path)
        acl_url = self._acl_url(path)
        if acl_url is None:
            self._roles_graph(path)  # NotFound when there are none, as for WebAC
            acl_url = self._remote.url(path) + "/" + ACCESS_ROLES
        self._remote.send("DELETE", acl_url, path=path, what=f"the ACL of {path}")

    def _acl_info(self, acl_url: str, path: str) -> ResourceInfo:
        return self._info_of(path, self._remote.head(acl_url, path))

    def _info_of(self, path: str, head: wire.Headers) -> ResourceInfo:
        when = head.last_modified or datetime.now(UTC)
        return ResourceInfo(path=("" if path == "/" else path) + "/" + webac.ACL_SUFFIX, model=webac.WEBAC_ACL,
                            etag=head.etag, created=when, modified=when)

    # -- Fedora 4: fcr:accessroles -----------------------------------------------------------
    def _roles_url(self, path: str) -> str:
        return self._remote.url(path) + "/" + ACCESS_ROLES

    def _roles_info(self, path: str) -> ResourceInfo:
        now = datetime.now(UTC)
        return ResourceInfo(path=("" if path == "/" else path) + "/" + ACCESS_ROLES, model=webac.WEBAC_ACL,
                            etag="", created=now, modified=now)

    def _roles(self, path: str) -> dict[str, list[str]] | None:
        """The resource's own role assignments; None when it has none (204)."""
        response = self._remote.send("GET", self._roles_url(path), path=path, ok=(404, 405, 501),
                              headers={"Accept": "application/json"}, what=f"the access roles of {path}")
        if response.status_code in (404, 405, 501):
            response.close()
            if response.status_code == 404:
                self._reads.info(path)  # the resource itself missing: NotFound
            where = self._remote.location
            raise Unsupported(f"{where} has neither WebAC (no rel=\"acl\" link on {path}) nor Fedora 4 "
                              "access roles (fcr:accessroles): this server does not support access control",
                              path=path)
        if response.status_code == 204 or not response.content.strip():
            return None
        if len(response.content) > MAX_ROLES_BYTES:
            raise BadInput(f"the access roles of {path} are over {MAX_ROLES_BYTES} bytes", path=path)
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):  # RecursionError: nested beyond reason
            raise BadInput(f"the server's access roles of {path} are not JSON", path=path) from None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise BadInput(f"the server's access roles of {path} are not a principal -> roles map", path=path)
        return {str(k): [str(r) for r in v] for k, v in data.items()}

    def _roles_graph(self, path: str) -> Graph:
        roles = self._roles(path)
        if not roles:
            raise NotFound(f"{path} has no access roles of its own", path=path)
        return roles_to_graph(path, roles)

    def _post_roles(self, path: str, graph: Graph) -> bool:
        roles = graph_to_roles(path, graph)
        created = self._roles(path) is None
        self._remote.send("POST", self._roles_url(path), path=path,
                   headers={"Content-Type": "application/json"}, data=json.dumps(roles).encode("utf-8"),
                   what=f"the access roles of {path}")
        return created


def roles_to_graph(path: str, roles: dict[str, list[str]]) -> Graph:
    """Fedora 4 role assignments as WebAC authorizations (one per principal and role)."""
    from rdflib import RDF, Literal, URIRef

    graph = rdf.new_graph()
    acl = URIRef(webac.acl_id_of(path))
    graph.add((acl, RDF.type, URIRef(webac.WEBAC_ACL)))
    resource = URIRef(paths.to_id(path))
    for n, (principal, names) in enumerate(sorted(roles.items())):
        for role in names:
            modes = ROLE_MODES.get(role)
            if modes is None:
                continue  # a role of some other enforcement point: WebAC has no word for it
            node = URIRef(f"{webac.acl_id_of(path)}#{role}-{n}")
            graph.add((node, RDF.type, URIRef(webac.AUTHORIZATION)))
            graph.add((node, URIRef(webac.ACL + "agent"), Literal(principal)))
            graph.add((node, URIRef(webac.ACL + "accessTo"), resource))
            graph.add((node, URIRef(webac.ACL + "default"), resource))
            for mode in modes:
                graph.add((node, URIRef(webac.ACL + "mode"), URIRef(mode)))
    return graph


def graph_to_roles(path: str, graph: Graph) -> dict[str, list[str]]:
    """The Fedora 4 roles an ACL graph says; BadInput for what roles cannot express."""
    by_agent: dict[str, set[str]] = {}
    for auth in webac.authorizations(graph):
        unsupported = [k for k in ("agent_classes", "agent_groups", "access_to_class") if getattr(auth, k)]
        if unsupported:
            raise Unsupported(f"{auth.id}: Fedora 4 access roles cannot express {', '.join(unsupported)}: "
                              "name each principal with acl:agent", path=path)
        for agent in auth.agents:
            by_agent.setdefault(agent, set()).update(auth.modes)
    out: dict[str, list[str]] = {}
    for agent, modes in by_agent.items():
        role = next((r for r in ("admin", "writer", "reader") if ROLE_MODES[r] == modes), None)
        if role is None:
            names = ", ".join(sorted(webac.MODE_NAMES.get(m, m) for m in modes))
            raise Unsupported(f"{agent} has modes {names}, which is no Fedora 4 role (reader: read; writer: read, "
                              "write, append; admin: all four)", path=path)
        out[agent] = [role]
    return out
