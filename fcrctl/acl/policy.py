"""WebAC evaluation: the Policy that finds a resource's effective ACL and decides whether a request may proceed

Fedora's rules it follows are listed in the package's docstring (fcrctl/acl/__init__.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fcrctl import paths
from fcrctl.acl.graphs import acl_id_of, authorizations, update_deletes
from fcrctl.acl.model import (
    APPEND,
    AUTHENTICATED,
    AUTHENTICATED_AGENT,
    CACHE_SECONDS,
    CONTROL,
    EVERYONE,
    FOAF_AGENT,
    METHODS,
    READ,
    VCARD,
    WRITE,
    Authorization,
    Effective,
    Request,
    agent_modes,
)
from fcrctl.errors import BadInput, Gone, NotFound
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, LDP, RdfPrefs, Repository


@dataclass
class _Node:
    exists: bool
    binary: bool = False
    model: str = ""


@dataclass
class Policy:
    """Decides who may do what; reads ACLs, types and groups through a Repository.

    Parsed ACLs are cached for ``CACHE_SECONDS`` (Fedora caches them for minutes): writes made
    through the same Policy (``invalidate``) take effect at once, others within the TTL."""

    root_default: tuple[Authorization, ...] = ()
    user_base_uri: str | None = None
    cache_seconds: float = CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    root_graph: Any = None  # the root default as given (an rdflib Graph, ids info:fedora/...); None: none
    _cache: dict[str, tuple[float, tuple[Authorization, ...]]] = field(default_factory=dict)
    _roles: dict[str, tuple[float, Effective, dict[str, set[str]]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_root_acl(cls, data: bytes | None, *, user_base_uri: str | None = None, source: str = "root ACL",
                      fmt: str = "text/turtle") -> Policy:
        """A policy whose root default is the ACL in ``data`` (Fedora's root-authorization.ttl
        form, ids as ``info:fedora/...``); None: nobody but admins may do anything."""
        from fcrctl import rdf

        if data is None:
            return cls(user_base_uri=user_base_uri)
        graph = rdf.parse(data, fmt, base=acl_id_of("/"), source=source)
        return cls(tuple(authorizations(graph, user_base_uri=user_base_uri, typed=False)), user_base_uri,
                   root_graph=graph)

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._roles.clear()

    # -- reading through the repository -------------------------------------------------------
    def own(self, repo: Repository, path: str, *, cached: bool = True) -> tuple[Authorization, ...]:
        """The authorizations of the resource's own ACL (empty when it has none)."""
        now = self.clock()
        if cached:
            with self._lock:
                hit = self._cache.get(path)
            if hit is not None and hit[0] > now:
                return hit[1]
        try:
            graph = repo.get_acl(path, prefs=RdfPrefs(server_managed=False))
        except (NotFound, Gone):
            found: tuple[Authorization, ...] = ()
        else:
            found = tuple(authorizations(graph, user_base_uri=self.user_base_uri))
        if cached:
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[path] = (now + self.cache_seconds, found)
        return found

    def effective(self, repo: Repository, path: str, *, cached: bool = True) -> Effective:
        """The ACL governing an existing resource (see the module docstring)."""
        own = self.own(repo, path, cached=cached)
        if own:
            return Effective(path, own)
        for ancestor in reversed(paths.ancestors(path)):
            defaults = tuple(a for a in self.own(repo, ancestor, cached=cached) if a.default)
            if defaults:
                return Effective(ancestor, defaults, inherited=True)
        return Effective(None, self.root_default, inherited=True)

    def roles(self, repo: Repository, path: str, *, exists: bool = True, cached: bool = True
              ) -> tuple[Effective, dict[str, set[str]]]:
        """(effective ACL, agent -> modes) at ``path``. Agents are names/URIs, ``foaf:Agent``
        and ``acl:AuthenticatedAgent``. ``exists`` False: judged as Fedora judges a resource
        about to be created (its nearest existing ancestor's ACL, all of it)."""
        key = f"{int(exists)}{path}"
        if cached:
            with self._lock:
                hit = self._roles.get(key)
            if hit is not None and hit[0] > self.clock():
                return hit[1], hit[2]
        eff, roles, pure = self._compute_roles(repo, path, exists, cached)
        if cached and pure:  # a function of cached ACLs only (no types, no groups): as fresh as they are
            with self._lock:
                if len(self._roles) > 100_000:
                    self._roles.clear()
                self._roles[key] = (self.clock() + self.cache_seconds, eff, roles)
        return eff, roles

    def _compute_roles(self, repo: Repository, path: str, exists: bool, cached: bool
                       ) -> tuple[Effective, dict[str, set[str]], bool]:
        if exists:
            eff = self.effective(repo, path, cached=cached)
            targets = {paths.to_id(path)}
            if eff.path is not None:
                targets.add(paths.to_id(eff.path))
            else:
                targets.update(paths.to_id(a) for a in paths.ancestors(path))
        else:
            anchor = self._nearest_existing(repo, path)
            eff = self.effective(repo, anchor, cached=cached)
            targets = {paths.to_id(path)} | {paths.to_id(a) for a in paths.ancestors(path)}
            if eff.path is not None:
                targets.add(paths.to_id(eff.path))
        types: set[str] | None = None
        roles: dict[str, set[str]] = {}
        for auth in eff.authorizations:
            applies = bool(auth.access_to & targets)
            if not applies and auth.access_to_class and exists:
                if types is None:
                    types = self._types(repo, path) | (self._types(repo, eff.path) if eff.path not in (None, path)
                                                       else set())
                applies = bool(auth.access_to_class & types)
            if not applies:
                continue
            for agent in auth.agents | self._members(repo, auth.agent_groups):
                if agent not in (FOAF_AGENT, AUTHENTICATED_AGENT):
                    roles.setdefault(agent, set()).update(auth.modes)
            for cls in auth.agent_classes:
                if cls == FOAF_AGENT:
                    roles.setdefault(EVERYONE, set()).update(auth.modes)
                elif cls == AUTHENTICATED_AGENT:
                    roles.setdefault(AUTHENTICATED, set()).update(auth.modes)
        pure = not any(a.access_to_class or a.agent_groups for a in eff.authorizations)
        return eff, roles, pure

    def modes(self, repo: Repository, path: str, user: str | None, *, exists: bool = True,
              cached: bool = True) -> set[str]:
        """The modes ``user`` (None: anonymous) has at ``path``."""
        _eff, roles = self.roles(repo, path, exists=exists, cached=cached)
        return agent_modes(roles, user)

    def _types(self, repo: Repository, path: str | None) -> set[str]:
        from rdflib import RDF, URIRef

        if path is None:
            return set()
        try:
            graph = repo.get_rdf(path, prefs=RdfPrefs(containment=False, membership=False))
        except (NotFound, Gone):
            return set()
        return {str(o) for o in graph.objects(URIRef(paths.to_id(path)), RDF.type)}

    def _members(self, repo: Repository, groups: Iterable[str]) -> set[str]:
        from rdflib import RDF, URIRef

        out: set[str] = set()
        for group in groups:
            base, _, fragment = group.partition("#")
            try:
                graph = repo.get_rdf(paths.from_id(base), prefs=RdfPrefs(containment=False, membership=False))
            except (NotFound, Gone, BadInput):
                continue  # not a resource of this repository (Fedora ignores those too)
            subjects = [s for s in graph.subjects(RDF.type, URIRef(VCARD + "Group"))
                        if not fragment or str(s).endswith("#" + fragment)]
            for s in subjects:
                for member in graph.objects(s, URIRef(VCARD + "hasMember")):
                    value = str(member)
                    if self.user_base_uri and value.startswith(self.user_base_uri):
                        value = value[len(self.user_base_uri):]
                    out.add(value)
        return out

    @staticmethod
    def _nearest_existing(repo: Repository, path: str) -> str:
        for ancestor in reversed(paths.ancestors(path)):
            if _node(repo, ancestor).exists:
                return ancestor
        return "/"

    # -- decisions ----------------------------------------------------------------------------
    def allowed(self, repo: Repository, user: str | None, req: Request, *, cached: bool = True) -> bool:
        """Whether ``user`` may make ``req`` (admins are not asked: they bypass ACLs)."""
        method = req.method
        if req.acl or method in ("GET", "HEAD", "OPTIONS"):
            # Reads are judged as on an existing resource without asking whether it exists (the
            # commonest request saves a look-up): for a missing one that can only allow what its
            # parent's rules would, and the answer is then 404 where Fedora might say 403.
            if req.acl:
                return CONTROL in self.modes(repo, req.path, user, cached=cached)
            if READ not in self.modes(repo, req.path, user, cached=cached):
                return False
            return not req.embed or self._all_below(repo, user, req.path, READ, deep=False, cached=cached)
        repo = _Nodes(repo)  # type: ignore[assignment]  # one look-up per path and decision
        node = _node(repo, req.path)

        def has(mode: str, path: str = req.path, exists: bool = node.exists) -> bool:
            return mode in self.modes(repo, path, user, exists=exists, cached=cached)

        if req.membership is not None and not has(WRITE, req.membership, _node(repo, req.membership).exists):
            return False  # a new direct/indirect container would add triples to that resource
        if method == "PUT":
            if not (has(WRITE) or (not node.exists and has(APPEND))):
                return False
            return self._membership_ok(repo, user, paths.parent(req.path), cached)
        if method == "POST":
            if req.version_write:
                return has(WRITE) or (node.exists and not node.binary and has(APPEND))
            if not node.exists or not (has(WRITE) or (not node.binary and has(APPEND))):
                return False
            return self._membership_ok(repo, user, req.path, cached)
        if method == "PATCH":
            if has(WRITE):
                return True
            return has(APPEND) and req.update is not None and not update_deletes(req.update)
        if method in ("DELETE", "MOVE"):
            if not node.exists:
                return has(WRITE)  # a tombstone: Fedora asks for Write on its URL
            if not has(WRITE) or not self._all_below(repo, user, req.path, WRITE, deep=True, cached=cached):
                return False
            if not (self._membership_ok(repo, user, req.path, cached)
                    and self._membership_ok(repo, user, paths.parent(req.path), cached)):
                return False
            return method == "DELETE" or (self._may_create(repo, user, req.destination, cached)
                                          and self._acls_may_go(repo, user, req.path, req.destination, cached))
        if method == "COPY":
            return (has(READ) and self._may_create(repo, user, req.destination, cached)
                    and self._acls_may_go(repo, user, req.path, req.destination, cached))
        return False

    def _acls_may_go(self, repo: Repository, user: str | None, source: str, destination: str | None,
                     cached: bool) -> bool:
        """A MOVE or COPY carries the ACLs in the source's tree along: placing them at the
        destination is writing an ACL there, which needs Control there (Write is not enough)."""
        if destination is None:
            return False
        try:
            tree = [source, *(child.path for child in repo.children(source, recursive=True))]
        except (NotFound, Gone):
            tree = [source]
        if not any(self.own(repo, path, cached=cached) for path in tree):
            return True
        return self.allowed(repo, user, Request("PUT", destination, acl=True), cached=cached)

    def methods(self, repo: Repository, user: str | None, path: str, *, destination: str | None = None,
                cached: bool = False) -> dict[str, bool]:
        """Each of METHODS on ``path`` as ``allowed`` decides it (what ``acl effective`` shows).
        MOVE and COPY are judged with ``destination`` (default: PATH-copy beside the resource)."""
        dest = destination or (None if path == "/" else path + "-copy")
        out: dict[str, bool] = {}
        for method in METHODS:
            verb, _, variant = method.partition(":")
            update = "INSERT DATA {}" if variant == "insert" else "DELETE DATA {}"
            req = Request(verb, path, update=update if verb == "PATCH" else None,
                          destination=dest if verb in ("MOVE", "COPY") else None)
            out[method] = False if verb in ("MOVE", "COPY") and dest is None else self.allowed(
                repo, user, req, cached=cached)
        return out

    def _may_create(self, repo: Repository, user: str | None, destination: str | None, cached: bool) -> bool:
        if destination is None:
            return False
        return self.allowed(repo, user, Request("PUT", destination), cached=cached)

    def _all_below(self, repo: Repository, user: str | None, path: str, mode: str, *, deep: bool,
                   cached: bool) -> bool:
        try:
            below = repo.children(path, recursive=deep)
            return all(mode in self.modes(repo, child.path, user, cached=cached) for child in below)
        except (NotFound, Gone):
            return True

    def _membership_ok(self, repo: Repository, user: str | None, container: str | None, cached: bool) -> bool:
        """Writes into a direct/indirect container change its membership resource: Write there too."""
        from rdflib import URIRef

        if container is None:
            return True
        node = _node(repo, container)
        if not node.exists or node.model not in (DIRECT_CONTAINER, INDIRECT_CONTAINER):
            return True
        graph = repo.get_rdf(container, prefs=RdfPrefs(containment=False, membership=False))
        target = graph.value(URIRef(paths.to_id(container)), URIRef(LDP + "membershipResource"))
        try:
            member_path = paths.from_id(str(target)) if target is not None else container
        except BadInput:
            return True  # outside the repository: nothing of ours to protect
        return WRITE in self.modes(repo, member_path, user, exists=_node(repo, member_path).exists, cached=cached)


def _node(repo: Repository, path: str) -> _Node:
    if isinstance(repo, _Nodes):
        return repo.node(path)
    try:
        info = repo.info(path)
    except (NotFound, Gone):
        return _Node(False)
    return _Node(True, info.is_binary, info.model)


class _Nodes:
    """A repository whose existence answers are remembered for one decision (a PUT asks about
    the parent twice: for the rules, and for its membership resource)."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._nodes: dict[str, _Node] = {}

    def node(self, path: str) -> _Node:
        found = self._nodes.get(path)
        if found is None:
            found = self._nodes[path] = _node(self._repo, path)
        return found

    def __getattr__(self, name: str) -> object:
        return getattr(self._repo, name)
