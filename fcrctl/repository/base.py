"""The Repository protocol: the one client abstraction every backend implements.

A repository holds resources addressed by repository paths (``/`` is the root container,
``/a/b`` a child of ``/a``). Every backend (local OCFL, HTTP) implements exactly these
methods and raises only the errors in :mod:`fcrctl.errors`. Differences between backends
are expressed by :class:`Capabilities`, never by ``isinstance`` checks in callers.

RDF crosses the protocol as rdflib ``Graph`` objects whose repository resources are named
by their *internal ids* (``info:fedora/a/b``; the root is ``info:fedora``). Backends and the
server translate to and from URLs with :mod:`fcrctl.rdf`. rdflib is imported lazily so that
commands which never touch RDF start fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rdflib import Graph

# Interaction models (LDP / Fedora URIs, as stored in Fedora 6 headers).
LDP = "http://www.w3.org/ns/ldp#"
FEDORA = "http://fedora.info/definitions/v4/repository#"
BASIC_CONTAINER = LDP + "BasicContainer"
DIRECT_CONTAINER = LDP + "DirectContainer"
INDIRECT_CONTAINER = LDP + "IndirectContainer"
NON_RDF_SOURCE = LDP + "NonRDFSource"
NON_RDF_DESCRIPTION = FEDORA + "NonRdfSourceDescription"
CONTAINER_MODELS = frozenset({BASIC_CONTAINER, DIRECT_CONTAINER, INDIRECT_CONTAINER})
MODEL_NAMES = {"basic": BASIC_CONTAINER, "direct": DIRECT_CONTAINER, "indirect": INDIRECT_CONTAINER}

EXTERNAL_HANDLINGS = ("copy", "redirect", "proxy")
DIGEST_ALGORITHMS = ("sha512", "sha256", "sha1", "md5")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do. Callers check these instead of the backend's type."""

    writable: bool = True
    delete_versions: bool = False
    label_versions: bool = True
    transactions: bool = False
    reindex: bool = False
    server_side_backup: bool = False
    external_content: bool = True
    archival_groups: bool = False
    check: bool = False  # whole-repository structural validation (`fcrctl check`)
    acls: bool = False  # get_acl/put_acl/patch_acl/delete_acl (Web Access Control at PATH/fcr:acl)
    dated_writes: bool = False  # `with repo.dated(created, modified):` writes carry those dates (import)
    exact_has_children: bool = False  # ResourceInfo.has_children is exact: a leaf need not be listed (export)
    grouped_listings: bool = False  # rdf_triples writes a listing's children grouped, in path order (docs/listings.md)
    overwrite_tombstones: bool = False  # ResourceSpec.overwrite_tombstone is honoured (else: Gone, purge first)


@dataclass
class ResourceInfo:
    """The headers view of one resource (what HEAD / ``fcrctl info`` shows)."""

    path: str
    model: str
    etag: str
    created: datetime
    modified: datetime
    created_by: str | None = None
    modified_by: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    size: int | None = None
    digests: dict[str, str] = field(default_factory=dict)  # algorithm -> lowercase hex
    external_url: str | None = None
    external_handling: str | None = None
    archival_group: bool = False
    has_children: bool = False
    group: str | None = None  # a member of an archival group: the group's path

    @property
    def is_binary(self) -> bool:
        return self.model == NON_RDF_SOURCE

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] or "/"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "model": self.model,
            "etag": self.etag,
            "created": self.created.isoformat(),
            "modified": self.modified.isoformat(),
        }
        for key in ("created_by", "modified_by", "mime_type", "filename", "size", "external_url", "external_handling"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.digests:
            out["digests"] = dict(self.digests)
        if self.archival_group:
            out["archival_group"] = True
        if self.group:
            out["group"] = self.group
        return out


@dataclass(frozen=True)
class Version:
    """One version (OCFL version / Fedora memento) of a resource."""

    id: str  # backend's opaque id ("v3" locally, a memento timestamp over HTTP)
    created: datetime
    label: str | None = None

    @property
    def memento(self) -> str:
        """The Memento-Datetime form Fedora uses in URLs: YYYYMMDDHHMMSS (UTC)."""
        return self.created.strftime("%Y%m%d%H%M%S")

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "created": self.created.isoformat(), "label": self.label, "memento": self.memento}


@dataclass(frozen=True)
class Conditions:
    """Preconditions of a write (If-Match / If-None-Match / If-Unmodified-Since)."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_unmodified_since: datetime | None = None


@dataclass(frozen=True)
class RdfPrefs:
    """Read preferences (the Prefer header's include/omit URIs)."""

    containment: bool = True  # ldp:contains triples
    membership: bool = True  # triples generated by direct/indirect containers
    server_managed: bool = True  # created, lastModified, types, ...
    inbound: bool = False  # triples of other resources that point at this one
    embed_children: bool = False  # children's triples as well


@dataclass
class ResourceSpec:
    """What to write: an RDF source (graph) or a binary (content stream or external URL)."""

    graph: Graph | None = None
    content: BinaryIO | None = None
    binary: bool = False
    mime_type: str | None = None
    filename: str | None = None
    digests: dict[str, str] = field(default_factory=dict)  # expected: algorithm -> hex
    model: str | None = None  # container interaction model; None means basic (or binary)
    external_url: str | None = None
    external_handling: str | None = None  # copy | redirect | proxy
    lenient: bool = False  # ignore server-managed triples instead of refusing them
    archival_group: bool = False
    overwrite_tombstone: bool = False  # a create may write over a tombstone, after its versions (Fedora 6.5)

    @property
    def is_binary(self) -> bool:
        return self.binary or self.content is not None or self.external_url is not None


@dataclass
class BinaryContent:
    """An open binary: read ``stream``, then close (or use as a context manager)."""

    info: ResourceInfo
    stream: BinaryIO
    start: int = 0
    end: int | None = None  # inclusive; None means to the end
    length: int | None = None  # bytes the stream will yield

    def __enter__(self) -> BinaryContent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stream.close()


@dataclass(frozen=True)
class Problem:
    """One finding of ``Repository.check``: where (a path or storage location) and what."""

    where: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message}


FIXITY_OUTCOMES = ("SUCCESS", "BAD_CHECKSUM", "BAD_SIZE", "MISSING", "UNVERIFIABLE")


@dataclass
class FixityResult:
    """The outcome of re-verifying one binary's stored content."""

    path: str
    outcome: str  # one of FIXITY_OUTCOMES
    algorithm: str
    expected: str | None = None  # the stored digest (hex)
    actual: str | None = None  # the recomputed digest (hex)
    expected_size: int | None = None
    size: int | None = None  # bytes actually read
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "SUCCESS"

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@runtime_checkable
class Repository(Protocol):
    """Operations every backend implements. Paths are normalised repository paths.

    Errors: NotFound (no such path), Gone (tombstone), Conflict (exists / model change /
    server-managed triples), PreconditionFailed (Conditions not met), ChecksumMismatch
    (declared digest differs; nothing stored), BadInput, Unsupported (see capabilities).
    """

    location: str  # how to show the repository (never with credentials)
    base_uri: str  # what internal ids are shown as: "info:fedora" locally, the REST URL remotely
    capabilities: Capabilities

    def close(self) -> None: ...

    # -- reading ---------------------------------------------------------------
    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        """Headers of a resource. A binary's description is reached through its binary path."""

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        """Triples of a container, or of a binary's description (fcr:metadata)."""

    def open_binary(
        self, path: str, *, version: str | None = None, byte_range: tuple[int, int | None] | None = None
    ) -> BinaryContent:
        """Stream a binary's content (NotFound/BadInput if path is not a binary)."""

    def children(self, path: str, *, recursive: bool = False, after: str | None = None) -> Iterator[ResourceInfo]:
        """Direct children (or all descendants, depth first), tombstones excluded; streams. ``after``
        (a name, not with ``recursive``): only the children whose names sort after it (paths.after_bound)."""

    # -- writing ---------------------------------------------------------------
    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        """Create at an exact path. Conflict if it exists, Gone if a tombstone is there."""

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        """Create under ``parent``; the repository picks the name (``slug`` when free)."""

    def replace(
        self, path: str, spec: ResourceSpec, *, conditions: Conditions = Conditions()
    ) -> tuple[ResourceInfo, bool]:
        """PUT: replace content (or create when absent). Returns (info, created)."""

    def replace_description(
        self, path: str, graph: Graph, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        """PUT on fcr:metadata: replace a binary's description triples."""

    def patch(
        self, path: str, update: str, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        """SPARQL Update on a container, or on a binary's description."""

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        """Delete a resource and its subtree, leaving tombstones."""

    def purge(self, path: str) -> None:
        """Remove the tombstone at ``path`` (and below) so the path can be reused."""

    def move(self, source: str, destination: str) -> ResourceInfo:
        """Move a subtree; the source becomes a tombstone."""

    def copy(self, source: str, destination: str) -> ResourceInfo:
        """Copy a subtree to a new path."""

    # -- versions --------------------------------------------------------------
    def versions(self, path: str) -> list[Version]: ...

    def create_version(self, path: str, *, label: str | None = None) -> Version: ...

    def revert(self, path: str, version: str) -> ResourceInfo:
        """Make a new version whose state is that of ``version``."""

    def delete_version(self, path: str, version: str) -> None:
        """Unsupported unless ``capabilities.delete_versions``."""

    # -- fixity ------------------------------------------------------------------
    def fixity(self, info: ResourceInfo, *, algorithm: str | None = None, client_side: bool = False) -> FixityResult:
        """Recompute a binary's digest where its content is stored and compare with the stored one.

        ``algorithm`` None means the strongest digest the binary has. External redirect/proxy
        content is UNVERIFIABLE. ``client_side`` downloads and hashes locally (remote backends).
        """

    # -- maintenance -------------------------------------------------------------
    def check(self, *, read_data: bool = False) -> Iterator[Problem]:
        """Every structural problem of the repository (Unsupported unless ``capabilities.check``)."""

    def reindex(self) -> int:
        """Rebuild derived indexes from the source of truth; returns resources indexed."""

    # -- access control (issue 12) -------------------------------------------------------------
    # A resource's own ACL (``PATH/fcr:acl``): a graph of acl:Authorization nodes named by
    # internal ids (``info:fedora/a/fcr:acl#auth``). Unsupported unless ``capabilities.acls``.
    def get_acl(self, path: str, *, prefs: RdfPrefs = RdfPrefs()) -> Graph:
        """The resource's own ACL (NotFound when it has none; Gone/NotFound for the resource)."""

    def put_acl(self, path: str, graph: Graph, *, conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        """Create or replace the resource's ACL. Returns (the ACL's info, created)."""

    def patch_acl(self, path: str, update: str, *, conditions: Conditions = Conditions()) -> ResourceInfo:
        """SPARQL Update on the resource's ACL (NotFound when it has none)."""

    def delete_acl(self, path: str) -> None:
        """Remove the resource's ACL (NotFound when it has none): it then inherits again."""


# -- transactions (issue 4) ------------------------------------------------------------------
# Backends with ``capabilities.transactions`` also implement :class:`Transactional`. A
# transaction groups writes across calls (and processes): ``in_transaction(id)`` returns a view
# of the repository whose reads see the transaction's own changes and whose writes are staged
# until ``commit_transaction(id)`` applies them all at once (or ``rollback_transaction`` drops
# them). Ids are UUIDs. Errors: TransactionGone (unknown, expired, committed or rolled back),
# Conflict on commit (names the resources changed outside the transaction; nothing applied),
# BadInput for an id that is not a UUID.

TX_STATUSES = ("open", "expired", "committed", "rolled_back")
_TX_ID_CHARS = frozenset("0123456789abcdef-")
DEFAULT_TX_TIMEOUT = 180.0  # seconds of inactivity, as Fedora


def check_tx_id(tx_id: str) -> str:
    """The canonical (lower-case) form of a transaction id; BadInput unless it is a UUID."""
    from fcrctl.errors import BadInput

    value = (tx_id or "").strip().lower()
    groups = value.split("-")
    if set(value) - _TX_ID_CHARS or [len(g) for g in groups] != [8, 4, 4, 4, 12]:
        raise BadInput(f"{tx_id!r} is not a transaction id (a UUID as printed by `fcrctl tx begin`)")
    return value


@dataclass
class TransactionInfo:
    """One transaction as its repository sees it."""

    id: str
    status: str  # one of TX_STATUSES
    expires: datetime | None = None  # None: closed, or the server did not say
    changed: list[str] | None = None  # paths changed so far; None when the backend cannot tell

    @property
    def open(self) -> bool:
        return self.status == "open"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "status": self.status,
                                  "expires": self.expires.isoformat() if self.expires else None}
        if self.changed is not None:
            out["changed"] = list(self.changed)
        return out


@runtime_checkable
class Transactional(Protocol):
    """Transaction calls of a repository (see the section comment above)."""

    def begin_transaction(self, *, timeout: float | None = None) -> TransactionInfo:
        """Open a transaction that expires after ``timeout`` seconds without activity."""

    def transaction_status(self, tx_id: str) -> TransactionInfo:
        """Status of a transaction; TransactionGone when the repository does not know it."""

    def keepalive_transaction(self, tx_id: str) -> TransactionInfo:
        """Push the expiry of an open transaction back by its timeout."""

    def commit_transaction(self, tx_id: str) -> TransactionInfo:
        """Apply every staged change atomically (Conflict: nothing applied, transaction stays open)."""

    def rollback_transaction(self, tx_id: str) -> TransactionInfo:
        """Discard the staged changes and close the transaction."""

    def transactions(self) -> list[TransactionInfo]:
        """Open transactions (cheap: restore uses it to refuse while any is open)."""

    def in_transaction(self, tx_id: str) -> Repository:
        """A view of this repository inside the transaction (TransactionGone if it is not open)."""
