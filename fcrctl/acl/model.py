"""The WebAC vocabulary and the policy model: authorizations, the effective ACL, a request to decide on"""

from __future__ import annotations

from dataclasses import dataclass

ACL = "http://www.w3.org/ns/auth/acl#"
READ, WRITE, APPEND, CONTROL = ACL + "Read", ACL + "Write", ACL + "Append", ACL + "Control"
MODES = {"read": READ, "write": WRITE, "append": APPEND, "control": CONTROL}
MODE_NAMES = {uri: name for name, uri in MODES.items()}
AUTHORIZATION = ACL + "Authorization"
FOAF_AGENT = "http://xmlns.com/foaf/0.1/Agent"
AUTHENTICATED_AGENT = ACL + "AuthenticatedAgent"
WEBAC_ACL = "http://fedora.info/definitions/v4/webac#Acl"
VCARD = "http://www.w3.org/2006/vcard/ns#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
ACL_SUFFIX = "fcr:acl"
EVERYONE = "foaf:Agent"  # how agent classes are shown
AUTHENTICATED = "acl:AuthenticatedAgent"
# what `acl effective` reports per method (PATCH: an update with a DELETE; PATCH:insert: without)
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "PATCH:insert", "DELETE", "MOVE", "COPY")
CACHE_SECONDS = 2.0  # ACLs changed by other processes (the CLI) take effect within this


@dataclass(frozen=True)
class Authorization:
    """One ``acl:Authorization`` (values as strings: URIs, or literals' lexical forms)."""

    id: str
    modes: frozenset[str] = frozenset()
    agents: frozenset[str] = frozenset()
    agent_classes: frozenset[str] = frozenset()
    agent_groups: frozenset[str] = frozenset()
    access_to: frozenset[str] = frozenset()
    access_to_class: frozenset[str] = frozenset()
    default: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "modes": sorted(MODE_NAMES.get(m, m) for m in self.modes)}
        for key in ("agents", "agent_classes", "agent_groups", "access_to", "access_to_class", "default"):
            values = getattr(self, key)
            if values:
                out[key] = sorted(values)
        return out


@dataclass(frozen=True)
class Effective:
    """Which ACL governs a resource: ``path`` of the ACL-bearing resource (None: the root default)."""

    path: str | None
    authorizations: tuple[Authorization, ...]
    inherited: bool = False

    def to_json(self) -> dict[str, object]:
        source = "default" if self.path is None else ("inherited" if self.inherited else "own")
        acl = None if self.path is None else ("" if self.path == "/" else self.path) + "/" + ACL_SUFFIX
        return {"acl": acl, "from": source, "authorizations": [a.to_json() for a in self.authorizations]}


@dataclass
class Request:
    """What an authorization decision needs to know about a request."""

    method: str
    path: str
    acl: bool = False  # the request is on PATH/fcr:acl
    update: str | None = None  # PATCH body (SPARQL Update), when known
    embed: bool = False  # GET asking for the children's triples (PreferContainedDescriptions)
    destination: str | None = None  # MOVE / COPY
    version_write: bool = False  # POST on fcr:versions (a version is created): Fedora's POST rule
    membership: str | None = None  # PUT/POST creating a direct/indirect container: its membership resource


def agent_modes(roles: dict[str, set[str]], user: str | None) -> set[str]:
    """An agent's modes from a roles map: its own, the signed-in users', everyone's."""
    out = set(roles.get(EVERYONE, ()))
    if user is not None:
        out |= roles.get(user, set()) | roles.get(AUTHENTICATED, set())
    return out
