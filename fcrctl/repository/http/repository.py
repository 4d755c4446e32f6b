"""HttpRepository: the Repository protocol over the Fedora REST API (Fedora 4/5 and 6), by delegation

Paths map to ``{base}{path}``. RDF crosses the wire in URL form and the protocol in internal
id form (fcrctl.rdf.to_external / to_internal). The work is done by components that share one
Remote (remote.py: session, URLs, one request): reads, listings, writes, versions, fixity,
acls and transactions, each in the module named for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fcrctl import paths
from fcrctl.errors import Unsupported
from fcrctl.repository.base import (
    BinaryContent,
    Conditions,
    FixityResult,
    Problem,
    RdfPrefs,
    ResourceInfo,
    ResourceSpec,
    TransactionInfo,
    Version,
)
from fcrctl.repository.http import auth as auth_module
from fcrctl.repository.http import dialect as dialects
from fcrctl.repository.http.listings import Listings, OpenedContainer
from fcrctl.repository.http.reads import Reads
from fcrctl.repository.http.remote import Remote
from fcrctl.repository.http.versions import Versions

if TYPE_CHECKING:
    import requests
    from rdflib import Graph

    from fcrctl.repository.http.acls import HttpAcls
    from fcrctl.repository.http.fixity import Fixity
    from fcrctl.repository.http.transactions import Transactions
    from fcrctl.repository.http.writes import Writes


class HttpRepository:
    """A remote Fedora repository (or ``fcrctl serve``) reached over its REST API."""

    transaction_id: str | None = None  # set on the view in_transaction() returns

    def __init__(
        self,
        base_url: str,
        config: auth_module.AuthConfig,
        *,
        api: str | None = None,
        timeout: Any = None,
        retries: int = 3,
    ) -> None:
        self._assemble(Remote(base_url, config, api=api, timeout=timeout, retries=retries))

    def _assemble(self, remote: Remote, fixity_endpoint: bool | None = None) -> None:
        self._remote = remote
        self._versions = Versions(remote)
        self._reads = Reads(remote, self._versions)
        self._listings = Listings(remote, self._reads.describe)
        self._fixity_endpoint = fixity_endpoint

    # The other components are made (their modules imported) when first used: `ls` and `info` use none.
    @cached_property
    def _writes(self) -> Writes:
        from fcrctl.repository.http.writes import Writes

        writes = Writes(self._remote, self._reads)
        writes.written = self._acls.written
        return writes

    @cached_property
    def _fixity(self) -> Fixity:
        from fcrctl.repository.http.fixity import Fixity

        return Fixity(self._remote, self._reads.open_binary, self._fixity_endpoint)

    @cached_property
    def _acls(self) -> HttpAcls:
        from fcrctl.repository.http.acls import HttpAcls

        return HttpAcls(self._remote, self._reads)

    @cached_property
    def _transactions(self) -> Transactions:
        from fcrctl.repository.http.transactions import Transactions

        return Transactions(self._remote)

    @property
    def base_uri(self) -> str:
        return self._remote.base_uri

    @property
    def location(self) -> str:
        return self._remote.location

    @property
    def dialect(self) -> dialects.Dialect:
        return self._remote.dialect

    @property
    def capabilities(self) -> dialects.HttpCapabilities:
        return self._remote.dialect.capabilities()

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        target: str,
        *,
        api: str | None = None,
        user: str | None = None,
        password_file: str | None = None,
        token_file: str | None = None,
        ca_bundle: str | None = None,
        insecure: bool = False,
        cert: str | tuple[str, str] | None = None,
        key: str | None = None,
        timeout: Any = None,
        retries: int = 3,
        **_: Any,
    ) -> HttpRepository:
        """Open a Fedora REST endpoint, e.g. ``https://host/rest``. Unknown options are ignored
        (the CLI passes its whole option set)."""
        clean, config = auth_module.resolve(
            target,
            user=user,
            password_file=password_file,
            token_file=token_file,
            ca_bundle=ca_bundle,
            insecure=insecure,
            cert=cert,
            key=key,
        )
        return cls(clean, config, api=api, timeout=timeout, retries=retries)

    def close(self) -> None:
        self._remote.close()

    def __enter__(self) -> HttpRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpRepository({self.location!r}, dialect={self.dialect.name!r})"

    def connection_stats(self) -> dict[str, int]:
        """TCP connections opened so far (keep-alive makes this small)."""
        return self._remote.connection_stats()

    def _send(self, method: str, url: str, **options: Any) -> requests.Response:
        """One request through the repository's session (services/backup/server_side.py posts its own endpoints)."""
        return self._remote.send(method, url, **options)

    # -- transactions (transactions.py) -------------------------------------------
    def begin_transaction(self, *, timeout: float | None = None) -> TransactionInfo:
        return self._transactions.begin(timeout)

    def transaction_status(self, tx_id: str) -> TransactionInfo:
        return self._transactions.status(tx_id)

    def keepalive_transaction(self, tx_id: str) -> TransactionInfo:
        return self._transactions.keepalive(tx_id)

    def commit_transaction(self, tx_id: str) -> TransactionInfo:
        return self._transactions.commit(tx_id)

    def rollback_transaction(self, tx_id: str) -> TransactionInfo:
        return self._transactions.rollback(tx_id)

    def transactions(self) -> list[TransactionInfo]:
        return self._transactions.listing()

    def in_transaction(self, tx_id: str, *, owns_main: bool = False) -> HttpRepository:
        """A repository whose every request runs inside the transaction (sharing this one's session)."""
        inside = object.__new__(HttpRepository)
        inside._assemble(self._transactions.view(tx_id, owns_main=owns_main), self._fixity.endpoint)
        inside.transaction_id = tx_id
        return inside

    # -- reading (reads.py, listings.py) -------------------------------------------
    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        return self._reads.info(path, version=version)

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        return self._reads.get_rdf(path, prefs=prefs, version=version)

    def open_binary(
        self, path: str, *, version: str | None = None, byte_range: tuple[int, int | None] | None = None
    ) -> BinaryContent:
        return self._reads.open_binary(path, version=version, byte_range=byte_range)

    def memento(self, path: str, version: str, *, binary: bool,
                prefs: RdfPrefs) -> tuple[ResourceInfo, Graph, BinaryContent | None]:
        """A listed version's info, RDF and content (export): see Reads.memento."""
        return self._reads.memento(path, version, binary=binary, prefs=prefs)

    def children(self, path: str, *, recursive: bool = False, after: str | None = None) -> Iterator[ResourceInfo]:
        return self._listings.children(path, recursive=recursive, after=after)

    def open_container(self, path: str) -> OpenedContainer | None:
        """A container's own triples and its children in one GET, where the server groups listings (export)."""
        opened = self._listings.open_container(path)
        if opened is not None:
            self._acls.seen(paths.normalize(path), opened.headers)
        return opened

    # -- writing (writes.py) ---------------------------------------------------------
    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        return self._writes.create(path, spec, parents=parents)

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        return self._writes.create_child(parent, spec, slug=slug)

    def write_only(self, path: str, spec: ResourceSpec, *, new: bool, ntriples: bytes | None = None) -> None:
        """create (``new``) or replace, reading nothing back, in as few requests as can be (import)."""
        self._writes.write_only(path, spec, new=new, ntriples=ntriples)

    def replace(
        self, path: str, spec: ResourceSpec, *, conditions: Conditions = Conditions()
    ) -> tuple[ResourceInfo, bool]:
        return self._writes.replace(path, spec, conditions=conditions)

    def replace_description(
        self, path: str, graph: Graph, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        return self._writes.replace_description(path, graph, conditions=conditions, lenient=lenient)

    def patch(
        self, path: str, update: str, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        return self._writes.patch(path, update, conditions=conditions, lenient=lenient)

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        self._writes.delete(path, conditions=conditions)

    def purge(self, path: str) -> None:
        self._writes.purge(path)

    def move(self, source: str, destination: str) -> ResourceInfo:
        return self._writes.move(source, destination)

    def copy(self, source: str, destination: str) -> ResourceInfo:
        return self._writes.copy(source, destination)

    # -- versions (versions.py) ------------------------------------------------------
    def versions(self, path: str) -> list[Version]:
        return self._versions.versions(path)

    def create_version(self, path: str, *, label: str | None = None) -> Version:
        return self._versions.create_version(path, label=label)

    def revert(self, path: str, version: str) -> ResourceInfo:
        return self._versions.revert(path, version, self._reads, self._writes)

    def delete_version(self, path: str, version: str) -> None:
        self._versions.delete_version(path, version)

    # -- fixity (fixity.py) and ACLs (acls.py) ---------------------------------------
    def fixity(self, info: ResourceInfo, *, algorithm: str | None = None, client_side: bool = False) -> FixityResult:
        return self._fixity.fixity(info, algorithm=algorithm, client_side=client_side)

    def get_acl(self, path: str, *, prefs: RdfPrefs = RdfPrefs()) -> Graph:
        return self._acls.get_acl(path, prefs=prefs)

    def put_acl(self, path: str, graph: Graph, *,
                conditions: Conditions = Conditions()) -> tuple[ResourceInfo, bool]:
        return self._acls.put_acl(path, graph, conditions=conditions)

    def patch_acl(self, path: str, update: str, *, conditions: Conditions = Conditions()) -> ResourceInfo:
        return self._acls.patch_acl(path, update, conditions=conditions)

    def delete_acl(self, path: str) -> None:
        self._acls.delete_acl(path)

    # -- maintenance -----------------------------------------------------------------
    def check(self, *, read_data: bool = False) -> Iterator[Problem]:
        raise Unsupported(
            f"`fcrctl check` validates a local repository's storage; {self.location} is remote: run "
            "`fcrctl fixity -R /` to verify its binaries"
        )

    def reindex(self) -> int:
        raise Unsupported(
            f"reindex runs inside the server for {self.location}: use the server's own tools (e.g. Fedora's "
            "rebuild-on-start), or run `fcrctl reindex` on a local repository"
        )
