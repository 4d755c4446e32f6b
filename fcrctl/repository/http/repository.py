"""HttpRepository: the Repository protocol over the Fedora REST API (Fedora 4/5 and 6).

Paths map to ``{base}{path}``. RDF crosses the wire in URL form and the protocol in internal
id form (fcrctl.rdf.to_external / to_internal). Every request goes through :meth:`_send`,
which turns transport failures and HTTP errors into fcrctl errors (errors.py).
"""

from __future__ import annotations

import io
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote, urljoin

import requests

from fcrctl import paths, rdf
from fcrctl.errors import (
    BadInput,
    ChecksumMismatch,
    Conflict,
    CorruptData,
    FcrctlError,
    Gone,
    NotARepository,
    NotFound,
    Unavailable,
    Unsupported,
)
from fcrctl.repository.base import (
    CONTAINER_MODELS,
    LDP,
    MODEL_NAMES,
    NON_RDF_SOURCE,
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
from fcrctl.repository.http import transactions as tx_calls
from fcrctl.repository.http import wire
from fcrctl.repository.http.acls import HttpAclsMixin
from fcrctl.repository.http.errors import check, error_for, transport_error
from fcrctl.repository.http.session import QuickHead, make_session, pool_stats, timeout_of
from fcrctl.repository.version_names import find_version, given_label, invented_label, no_such_version

if TYPE_CHECKING:
    from rdflib import Graph

FEDORA = "http://fedora.info/definitions/v4/repository#"
PREMIS = "http://www.loc.gov/premis/rdf/v1#"
EBUCORE = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
BASIC = LDP + "BasicContainer"
# N-Triples first: serialising it costs a server a tenth of Turtle (its prefixes), and we only parse.
RDF_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/ld+json;q=0.5, application/rdf+xml;q=0.5"
LISTING_ACCEPT = "application/n-triples, text/turtle;q=0.9"
LISTING_BLOCK = 1 << 16  # bytes of a listing parsed at a time while the rest arrives
SPARQL_UPDATE = "application/sparql-update"
LENIENT = 'handling=lenient; received="minimal"'
MEMENTO_ID = re.compile(r"^\d{14}$")
PARALLEL = 8  # concurrent HEAD+GET pairs when listing children


class HttpRepository(HttpAclsMixin):
    """A remote Fedora repository (or ``fcrctl serve``) reached over its REST API."""

    _tx_headers: dict[str, str] = {}  # noqa: RUF012 - set per view (Atomic-ID); never mutated

    def __init__(
        self,
        base_url: str,
        config: auth_module.AuthConfig,
        *,
        api: str | None = None,
        timeout: Any = None,
        retries: int = 3,
    ) -> None:
        self.base_uri = base_url.rstrip("/")
        self.location = self.base_uri
        self._config = config
        self._secrets = tuple(config.secrets)
        self._timeout = timeout_of(timeout)
        self._retries = retries
        self._session = make_session(retries=retries)
        config.apply(self._session)
        self._quick_head = QuickHead(self._session, self._timeout)
        self._upload_session: requests.Session | None = None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._fixity_endpoint: bool | None = None  # does the server offer fcr:fixity? (unknown until tried)
        self.dialect = self._probe(api)
        self.capabilities = self.dialect.capabilities()

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

    def _probe(self, api: str | None) -> dialects.Dialect:
        if api is not None and api.lower() not in dialects.API_NAMES:
            raise BadInput(f"unknown API dialect {api!r}: use one of {', '.join(dialects.API_NAMES)}")
        url = self.base_uri + "/"
        prefs = RdfPrefs(containment=False, membership=False)
        headers = {"Accept": RDF_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        try:
            response = self._session.get(url, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise transport_error(exc, url, timeout=self._timeout[1]) from None
        if response.status_code in (404, 405):
            raise NotARepository(
                f"not a Fedora repository: {self.location} (HTTP {response.status_code}): "
                "check the REST base path (often /rest or /fcrepo/rest)"
            )
        if response.status_code == 403:
            # signed in, but the root's ACL does not let this user read it: resources below may
            # still be theirs, so open anyway (dialect from --api, else the default)
            response.close()
            return dialects.detect({}, api=api)
        check(response, secrets=self._secrets, what=self.location)
        head = wire.parse_headers(response.headers)
        mime = rdf.mime_of(head.content_type)
        if not rdf.is_rdf_mime(mime) and mime not in ("application/x-turtle", "text/plain"):
            raise NotARepository(
                f"not a Fedora repository: {self.location} answered with {mime or 'no content type'}, "
                "not RDF: check the URL (the REST base, e.g. http://host:8080/rest)"
            )
        try:
            rdf.parse(response.content, mime or "text/turtle", base=url, source=f"root of {self.location}",
                      storable=False)
        except BadInput:
            raise NotARepository(f"not a Fedora repository: {self.location} sent malformed RDF for its root") from None
        link_rels = {rel: [link["url"] for link in links] for rel, links in head.links.items()}
        return dialects.detect(link_rels, api=api)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._quick_head.close()
        self._session.close()
        if self._upload_session is not None:
            self._upload_session.close()

    def __enter__(self) -> HttpRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpRepository({self.location!r}, dialect={self.dialect.name!r})"

    def connection_stats(self) -> dict[str, int]:
        """TCP connections opened so far (keep-alive makes this small)."""
        stats = pool_stats(self._session)
        stats["new_connections"] += self._quick_head.opened
        if self._upload_session is not None:
            stats["new_connections"] += pool_stats(self._upload_session)["new_connections"]
        return stats

    # -- transactions (transactions.py) -------------------------------------------
    def begin_transaction(self, *, timeout: float | None = None) -> TransactionInfo:
        return tx_calls.begin(self, timeout)

    def transaction_status(self, tx_id: str) -> TransactionInfo:
        return tx_calls.status(self, tx_id)

    def keepalive_transaction(self, tx_id: str) -> TransactionInfo:
        return tx_calls.keepalive(self, tx_id)

    def commit_transaction(self, tx_id: str) -> TransactionInfo:
        return tx_calls.commit(self, tx_id)

    def rollback_transaction(self, tx_id: str) -> TransactionInfo:
        return tx_calls.rollback(self, tx_id)

    def transactions(self) -> list[TransactionInfo]:
        return tx_calls.listing(self)

    def in_transaction(self, tx_id: str, *, owns_main: bool = False) -> HttpRepository:
        return tx_calls.view(self, tx_id, owns_main=owns_main)

    # -- URLs ----------------------------------------------------------------------
    def _url(self, path: str, version: str | None = None) -> str:
        url = self.base_uri + quote(path, safe="/:@!$&'()*+,;=~")
        if version is not None:
            url += "/fcr:versions/" + quote(self._version_segment(version), safe="")
        return url

    def _named_version(self, path: str, version: str | None) -> str | None:
        """The listed id of the version a user named by label, id or memento (as the local backend
        resolves them), so every server answers alike and a missing version says so."""
        if version is None:
            return None
        listed = self.versions(path)
        found = find_version(listed, self._version_segment(version)) or find_version(listed, version)
        if found is None:
            raise no_such_version(path, version)
        return found.id

    def _version_segment(self, version: str) -> str:
        """A version id as listed, or (Memento servers) an ISO datetime -> YYYYMMDDHHMMSS."""
        if self.dialect.versions != "memento" or MEMENTO_ID.match(version):
            return version
        try:
            moment = datetime.fromisoformat(version)
        except ValueError:
            return version  # an id the server listed (e.g. a label)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime("%Y%m%d%H%M%S")

    def _path_of(self, url: str) -> str | None:
        fedora_id = rdf.url_to_id(url.split("#", 1)[0], self.base_uri)
        if fedora_id is None:
            return None
        return paths.from_id(fedora_id)  # url_to_id decoded it

    # -- one request ---------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        allow_redirects: bool = True,
        ok: tuple[int, ...] = (),
        what: str | None = None,
        upload: bool = False,
    ) -> requests.Response:
        session = self._streaming_session() if upload else self._session
        if self._tx_headers:
            headers = {**self._tx_headers, **(headers or {})}
        try:
            response = session.request(
                method,
                url,
                headers=headers,
                data=data,
                stream=stream,
                allow_redirects=allow_redirects,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise transport_error(exc, url, timeout=self._timeout[1]) from None
        if response.status_code < 400 or response.status_code in ok:
            return response
        error = error_for(response, path=path, secrets=self._secrets, what=what)
        response.close()
        raise error

    def _streaming_session(self) -> requests.Session:
        # One-shot upload bodies cannot be replayed, so they use a session whose retries stop
        # at connection failures (nothing sent yet).
        with self._lock:
            if self._upload_session is None:
                self._upload_session = make_session(retries=self._retries, streaming_body=True)
                self._config.apply(self._upload_session)
            return self._upload_session

    def _head(self, url: str, path: str) -> wire.Headers:
        headers: dict[str, str] = {}
        response = self._send("HEAD", url, path=path, headers=headers, allow_redirects=False)
        if response.status_code in (301, 302, 303, 307, 308):
            target = response.headers.get("Location") or ""
            if target.startswith(self.base_uri + "/") and not target.startswith(url + "/"):
                response = self._send("HEAD", target, path=path, headers=headers, allow_redirects=False)
            # Otherwise: an external-content redirect; its own headers describe the binary.
        return wire.parse_headers(response.headers)

    def _get_graph(
        self,
        url: str,
        path: str,
        *,
        prefs: RdfPrefs,
        accept: str = RDF_ACCEPT,
        what: str | None = None,
    ) -> tuple[Graph, wire.Headers]:
        """GET an RDF representation, parsed in URL form."""
        headers = {"Accept": accept, "Prefer": rdf.prefer_header(prefs)}
        response = self._send("GET", url, path=path, headers=headers, what=what)
        return self._parse_graph(response, url, path)

    def _parse_graph(self, response: requests.Response, url: str, path: str) -> tuple[Graph, wire.Headers]:
        head = wire.parse_headers(response.headers)
        mime = rdf.mime_of(head.content_type) or "text/turtle"
        if not rdf.is_rdf_mime(mime) and mime not in ("application/x-turtle", "text/plain"):
            raise CorruptData(
                f"{self.location} answered {path} with {mime}, not RDF: is it a Fedora server?", path=path
            )
        try:
            graph = rdf.parse(response.content, mime, base=url, source=f"server response for {path}", storable=False)
        except BadInput as exc:
            raise CorruptData(f"{exc.message} (sent by {self.location})", path=path) from None
        return _plain_strings(graph), head

    # -- reading -------------------------------------------------------------------
    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        path = paths.normalize(path)
        return self._describe(path, self._named_version(path, version))[0]

    def _describe(
        self, path: str, version: str | None = None, *, container: bool = False
    ) -> tuple[ResourceInfo, list[str]]:
        """HEAD plus the RDF that carries created/createdBy (the description for a binary).
        ``container``: the caller knows it is one (it just wrote it), so one GET gives both.

        Returns the info and, for a container, its children's paths (sorted)."""
        from rdflib import URIRef

        url = self._url(path, version)
        children: list[str] = []
        listing = RdfPrefs(containment=True, membership=False)
        if container:
            graph, head = self._get_graph(url, path, prefs=listing, accept=LISTING_ACCEPT)
        else:
            # No Want-Digest here: the server would re-hash the whole binary; the stored digests
            # come with the description below.
            head = self._head(url, path)
        model = head.model
        if model == NON_RDF_SOURCE:
            desc_url = self._describedby(head, path, version)
            graph, _ = self._get_graph(desc_url, path, prefs=RdfPrefs(containment=False, membership=False))
        else:
            if not container:
                graph, _ = self._get_graph(url, path, prefs=listing, accept=LISTING_ACCEPT)
            contains = URIRef(LDP + "contains")
            found = {self._path_of(str(o)) for o in graph.objects(None, contains)}
            children = sorted(p for p in found if p is not None and paths.parent(p) == path)
        spellings = {url, self._url(path), url + "/", self._url(path) + "/"}
        # servers write IRIs, where non-ASCII characters stay as they are (our URLs are encoded)
        subjects = [URIRef(u) for u in spellings | {unquote(u) for u in spellings}]
        facts = _Facts(graph, subjects)
        modified = head.last_modified or facts.datetime(FEDORA + "lastModified")
        created = facts.datetime(FEDORA + "created") or modified
        modified = facts.datetime(FEDORA + "lastModified") or modified or created
        if created is None or modified is None:
            raise CorruptData(f"{self.location} gave no dates for {path}: is it a Fedora server?", path=path)
        info = ResourceInfo(
            path=path,
            model=model,
            etag=head.etag,
            created=created,
            modified=modified,
            created_by=facts.text(FEDORA + "createdBy"),
            modified_by=facts.text(FEDORA + "lastModifiedBy"),
            archival_group=head.archival_group,
            has_children=bool(children),
        )
        if model == NON_RDF_SOURCE:
            # The full Content-Type (parameters included) is the binary's stored MIME type.
            info.mime_type = head.content_type or facts.text(EBUCORE + "hasMimeType")
            info.filename = head.filename or facts.text(EBUCORE + "filename")
            size = facts.text(PREMIS + "hasSize")
            info.size = int(size) if size and size.isdigit() else head.content_length
            digests: dict[str, str] = {}
            for urn in facts.all(PREMIS + "hasMessageDigest"):
                parsed = rdf.parse_digest_urn(urn)
                if parsed:
                    digests[parsed[0]] = parsed[1]
            for algorithm, hexdigest in head.digests.items():
                digests.setdefault(algorithm, hexdigest)  # stored digests win over recomputed ones
            info.digests = digests
            external = head.links.get(wire.EXTERNAL_CONTENT_REL)
            if external:
                info.external_url = external[0]["url"]
                info.external_handling = external[0].get("handling")
            elif head.location and not head.location.startswith(self.base_uri + "/"):
                # Fedora answers a redirect binary's HEAD with 307 and its URL, and no link to say so
                info.external_url, info.external_handling = head.location, "redirect"
        return info, children

    def _own_link(self, head: wire.Headers, rel: str, url: str, path: str) -> str | None:
        """The ``rel`` link of a response, only when it is under this repository: the session
        sends the user's credentials with every request, so a link naming another host (or
        file:) is refused rather than followed."""
        found = head.link(rel)
        if found is None:
            return None
        target = urljoin(url, found)
        if target != self.base_uri and not target.startswith(self.base_uri + "/"):
            raise CorruptData(f"{self.location} links {target} as rel=\"{rel}\" of {path}, which is not under "
                              f"{self.base_uri}: not followed (credentials go only to the repository)", path=path)
        return target

    def _describedby(self, head: wire.Headers, path: str, version: str | None) -> str:
        """The description of a binary (or of one version of it)."""
        linked = self._own_link(head, "describedby", self._url(path), path)
        if version is None:
            return linked or self._url(path) + "/fcr:metadata"
        if linked and "fcr:versions" in linked:
            return linked
        segment = self._version_segment(version)
        if self.dialect.versions == "memento" and MEMENTO_ID.match(segment):
            return self._url(path) + "/fcr:metadata/fcr:versions/" + segment
        return self._url(path, version) + "/fcr:metadata"

    def get_rdf(self, path: str, *, prefs: RdfPrefs = RdfPrefs(), version: str | None = None) -> Graph:
        from rdflib import Graph, URIRef

        path = paths.normalize(path)
        version = self._named_version(path, version)
        url = self._url(path, version)
        head = self._head(url, path)
        target = url
        if head.model == NON_RDF_SOURCE:
            target = self._describedby(head, path, version)
        graph, _ = self._get_graph(target, path, prefs=prefs)
        if version is not None:
            # Labelled (Fedora 4) versions name their triples by the version URL: show them as
            # the resource's own triples.
            original = URIRef(self._url(path))
            renamed = Graph()
            for s, p, o in graph:
                renamed.add((original if str(s) in (url, target) else s, p, o))
            graph = renamed
        return rdf.to_internal(graph, self.base_uri)

    def open_binary(
        self, path: str, *, version: str | None = None, byte_range: tuple[int, int | None] | None = None
    ) -> BinaryContent:
        path = paths.normalize(path)
        version = self._named_version(path, version)
        info = self._describe(path, version)[0]
        if not info.is_binary:
            raise BadInput(f"{path} is a container, not a binary: use `fcrctl get` for its RDF", path=path)
        headers: dict[str, str] = {"Accept": "*/*", "Accept-Encoding": "identity"}
        start, end = 0, None
        if byte_range is not None:
            start, end = byte_range
            if start < 0 or (end is not None and end < start):
                raise BadInput(f"invalid byte range {start}-{end}: give START-END with START <= END", path=path)
            headers["Range"] = f"bytes={start}-{'' if end is None else end}"
        response = self._send("GET", self._url(path, version), path=path, headers=headers, stream=True)
        response.raw.decode_content = True
        stream: BinaryIO = _ResponseStream(response, self.location)
        total = info.size
        if response.status_code == 206:
            length = _int(response.headers.get("Content-Length"))
        else:
            # The server ignored Range (or none was asked): skip and cut here instead.
            if start or end is not None:
                stream = _Window(stream, start, None if end is None else end - start + 1)
            length = None if total is None else max(0, (total if end is None else min(end + 1, total)) - start)
            if byte_range is None:
                length = _int(response.headers.get("Content-Length"), total)
        if end is None and total is not None and byte_range is not None:
            end = total - 1
        return BinaryContent(info=info, stream=stream, start=start, end=end, length=length)

    def children(self, path: str, *, recursive: bool = False) -> Iterator[ResourceInfo]:
        path = paths.normalize(path)
        head = self._head(self._url(path), path)  # NotFound / Gone now, and is it a container at all?
        if head.model == NON_RDF_SOURCE:
            return
        yield from self._listing(path, recursive)

    def _listing(self, path: str, recursive: bool) -> Iterator[ResourceInfo]:
        """One GET per container, its children embedded (Fedora's EmbedResources), so a listing
        costs no request per child; children the server did not describe are asked for one by one."""

        url = self._url(path)
        prefs = RdfPrefs(containment=True, membership=False, embed_children=True)
        headers = {"Accept": LISTING_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        try:
            response = self._send("GET", url, path=path, headers=headers, stream=True)
        except (NotFound, Gone):
            return  # removed between the parent's listing and now
        with response:
            triples = self._listing_triples(response, url, path)
        contains = LDP + "contains"
        own = {**triples.get(url, {}), **triples.get(url + "/", {})}
        found = {self._path_of(str(o)) for o in own.get(contains, ())}
        kids = sorted(p for p in found if p is not None and paths.parent(p) == path)
        infos = {kid: _embedded_info(triples, kid, self._url(kid)) for kid in kids}
        for described in self._pool_map(self._describe_or_none, [k for k, i in infos.items() if i is None]):
            if described is not None:
                infos[described[0].path] = described[0]
        for kid in kids:
            info = infos.get(kid)
            if info is None:
                continue  # deleted (tombstone) or gone meanwhile
            yield info
            if recursive and not info.is_binary:
                yield from self._listing(kid, recursive)

    def _listing_triples(self, response: requests.Response, url: str, path: str) -> _Triples:
        """A listing's triples as {subject: {predicate: [objects]}} (URL form).

        N-Triples, what servers send for LISTING_ACCEPT, is parsed while it arrives (whole lines
        at a time: N-Triples has one triple per line), straight from rdflib's parser into that
        index: building an rdflib Graph and querying it per child cost a listing of 2,000
        binaries ~1 s of CPU. Other formats are read whole and parsed into a Graph first.
        """
        from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

        triples: _Triples = {}
        mime = rdf.mime_of(wire.parse_headers(response.headers).content_type)
        if mime != "application/n-triples":
            graph, _ = self._parse_graph(response, url, path)
            for s, p, o in graph:
                triples.setdefault(str(s), {}).setdefault(str(p), []).append(o)
            return triples

        class Sink:
            def triple(self, s: Any, p: Any, o: Any) -> None:
                triples.setdefault(str(s), {}).setdefault(str(p), []).append(o)

        parser = W3CNTriplesParser(sink=Sink())  # one parser: blank node labels span the document
        pending: list[bytes] = []  # the start of a line not yet complete
        try:
            for block in response.iter_content(LISTING_BLOCK):
                end = block.rfind(b"\n") + 1
                if not end:
                    pending.append(block)
                    continue
                parser.parsestring(b"".join([*pending, block[:end]]))  # type: ignore[arg-type]
                pending = [block[end:]]
            rest = b"".join(pending)
            if rest.strip():
                parser.parsestring(rest)  # type: ignore[arg-type]
        except requests.RequestException as exc:  # the connection broke while the listing arrived
            raise transport_error(exc, url, timeout=self._timeout[1]) from None
        except Exception as exc:  # rdflib's parser raises several unrelated types
            raise CorruptData(
                f"server response for {path}: malformed N-Triples ({type(exc).__name__}: {str(exc)[:200]}) "
                f"(sent by {self.location})",
                path=path,
            ) from None
        return triples

    def _describe_or_none(self, path: str) -> tuple[ResourceInfo, list[str]] | None:
        try:
            return self._describe(path)
        except (NotFound, Gone):
            return None

    def _pool_map(self, fn: Any, items: list[str]) -> Iterator[Any]:
        if len(items) <= 1:
            return iter([fn(item) for item in items])
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="fcrctl-http")
            pool = self._pool
        return pool.map(fn, items)

    # -- writing -------------------------------------------------------------------
    def create(self, path: str, spec: ResourceSpec, *, parents: bool = False) -> ResourceInfo:
        path = paths.normalize(path)
        if path == "/":
            raise Conflict("the root container always exists: create something under it", path=path)
        self._ensure_parent(path, parents)
        # Fedora 6 honours If-None-Match: * (412 when the path is taken); Fedora 4/5 ignore it and
        # would silently replace, so ask first there.
        status = "missing" if self.dialect.name == "fedora6" else self._exists(path)
        if status == "exists":
            raise Conflict(f"{path} already exists: use `fcrctl put` to replace it, or pick another path", path=path)
        if status == "gone":
            raise Gone(
                f"{path} was deleted and a tombstone remains: purge it (fcrctl purge {path}) to reuse it", path=path
            )
        headers = {"If-None-Match": "*"}
        response = self._put(path, spec, headers, created_only=True)
        if response.status_code == 412:
            raise Conflict(f"{path} already exists: use `fcrctl put` to replace it, or pick another path", path=path)
        if spec.is_binary and spec.graph is not None and len(spec.graph):
            # a binary's description triples go to its fcr:metadata, as the local backend stores them
            return self.replace_description(path, spec.graph, lenient=spec.lenient)
        return self._describe(path, container=not spec.is_binary)[0]

    def _exists(self, path: str) -> str:
        try:
            self._send("HEAD", self._url(path), path=path, allow_redirects=False)
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
                self._send("PUT", self._url(ancestor), path=ancestor, headers={"If-None-Match": "*"}, ok=(412,))

    def create_child(self, parent: str, spec: ResourceSpec, *, slug: str | None = None) -> ResourceInfo:
        parent = paths.normalize(parent)
        if slug is not None:
            paths.join(parent, slug)  # validate it as a path segment
        headers: dict[str, str] = {}
        if not slug and self.dialect.name == "fedora4" and spec.model not in (None, BASIC, "basic"):
            slug = uuid.uuid4().hex  # the body's rdf:type must name the new resource (see _write)
        if slug:
            headers["Slug"] = slug
        response = self._write("POST", self._url(parent), parent, spec, headers)
        location = response.headers.get("Location") or response.text.strip()
        new_path = self._path_of(location) if location else None
        if new_path is None:
            raise CorruptData(f"{self.location} created a child of {parent} but did not say where", path=parent)
        return self._describe(new_path, container=not spec.is_binary)[0]

    def replace(
        self, path: str, spec: ResourceSpec, *, conditions: Conditions = Conditions()
    ) -> tuple[ResourceInfo, bool]:
        path = paths.normalize(path)
        headers = wire.condition_headers(conditions)
        if spec.lenient or (self.dialect.name == "fedora4" and not spec.is_binary):
            # Fedora 4.7 refuses (409) a PUT whose body leaves out the server-managed triples
            # unless told the client received a minimal representation
            headers["Prefer"] = LENIENT
        response = self._put(path, spec, headers)
        return self._describe(path, container=not spec.is_binary)[0], response.status_code == 201

    def _put(
        self, path: str, spec: ResourceSpec, headers: dict[str, str], created_only: bool = False
    ) -> requests.Response:
        ok = (412,) if created_only else ()
        return self._write("PUT", self._url(path), path, spec, headers, ok=ok, created_only=created_only)

    def _write(
        self,
        method: str,
        url: str,
        path: str,
        spec: ResourceSpec,
        headers: dict[str, str],
        *,
        ok: tuple[int, ...] = (),
        created_only: bool = False,
    ) -> requests.Response:
        """PUT or POST a resource described by ``spec`` (container RDF, binary stream, or external)."""
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
                digest = wire.digest_header(expected, self.dialect.digest_algorithms)
                if digest:
                    headers["Digest"] = digest
                local_only = [a for a in expected if a not in self.dialect.digest_algorithms]
                body, reader = self._binary_body(spec, path, expected, local_only)
        else:
            model = spec.model
            graph = spec.graph
            if graph is not None and self.dialect.name == "fedora4" and spec.lenient:
                # 4.7's lenient handling does not drop server-managed triples: drop them here (before
                # the model's rdf:type goes in, which is server-managed too)
                graph = rdf.check_user_triples(graph, subject_id=paths.to_id(path), lenient=True)
            if model is not None:
                model = MODEL_NAMES.get(model, model)
                if model not in CONTAINER_MODELS:
                    raise BadInput(f"unknown container model {spec.model!r}: use basic, direct or indirect", path=path)
                if self.dialect.name != "fedora4":
                    links.append(wire.link_header(model, "type"))
                elif model != BASIC:  # Fedora 4.7 takes the model from an rdf:type in the body
                    subject = path if method == "PUT" else paths.join(path, headers["Slug"])
                    graph = _typed_as(graph, paths.to_id(subject), model)
            # Fedora 4.7 answers a PUT with no body onto an existing container 409: send empty Turtle
            replacing = self.dialect.name == "fedora4" and method == "PUT" and not created_only
            if (graph is not None and len(graph)) or replacing:
                graph = graph if graph is not None else rdf.new_graph()
                headers["Content-Type"] = "text/turtle"
                body = rdf.serialize(rdf.to_external(graph, self.base_uri), "text/turtle")
        if links:
            headers["Link"] = ", ".join(links)
        response = self._send(method, url, path=path, headers=headers, data=body, ok=ok, upload=reader is not None)
        if reader is not None and local_only:
            actual = reader.hexdigests()
            bad = [a for a in local_only if actual.get(a) != spec.digests[a].lower()]
            if bad:
                self._undo_upload(response, path, created_only or method == "POST")
                raise ChecksumMismatch(
                    f"{path}: {bad[0]} of the content is {actual[bad[0]]}, not {spec.digests[bad[0]].lower()}",
                    path=path,
                )
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
        new_path = self._path_of(location) if location else path
        if new_path is None:
            return
        try:
            self._send("DELETE", self._url(new_path), path=new_path)
            self._send("DELETE", self._url(new_path) + "/fcr:tombstone", path=new_path, ok=(404, 405, 410))
        except FcrctlError:
            pass  # best effort: the mismatch is what the caller must hear about

    def replace_description(
        self, path: str, graph: Graph, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        path = paths.normalize(path)
        headers = wire.condition_headers(conditions)
        headers["Content-Type"] = "text/turtle"
        if lenient or self.dialect.name == "fedora4":
            headers["Prefer"] = LENIENT  # see replace()
        if lenient and self.dialect.name == "fedora4":
            graph = rdf.check_user_triples(graph, subject_id=paths.to_id(path), lenient=True)
        body = rdf.serialize(rdf.to_external(graph, self.base_uri), "text/turtle")
        self._send("PUT", self._url(path) + "/fcr:metadata", path=path, headers=headers, data=body)
        return self.info(path)

    def patch(
        self, path: str, update: str, *, conditions: Conditions = Conditions(), lenient: bool = False
    ) -> ResourceInfo:
        path = paths.normalize(path)
        url = self._url(path)
        head = self._head(url, path)
        target = url
        if head.model == NON_RDF_SOURCE:
            target = self._own_link(head, "describedby", url, path) or url + "/fcr:metadata"
        headers = wire.condition_headers(conditions)
        headers["Content-Type"] = SPARQL_UPDATE
        if lenient:
            headers["Prefer"] = LENIENT
        body = self._external_update(update).encode("utf-8")
        self._send("PATCH", target, path=path, headers=headers, data=body)
        return self.info(path)

    def _external_update(self, update: str) -> str:
        """Internal ids in a SPARQL Update become URLs; ``<>`` stays (the server resolves it)."""

        def to_url(match: re.Match[str]) -> str:
            rest = match.group(1) or ""
            return "<" + (self.base_uri + (rest if rest not in ("", "/") else "/")) + ">"

        return re.sub(r"<info:fedora(/[^>\s]*)?>", to_url, update)

    def delete(self, path: str, *, conditions: Conditions = Conditions()) -> None:
        path = paths.normalize(path)
        if path == "/":
            raise BadInput("the root container cannot be deleted: delete its children instead", path=path)
        self._send("DELETE", self._url(path), path=path, headers=wire.condition_headers(conditions))

    def purge(self, path: str) -> None:
        path = paths.normalize(path)
        response = self._send("DELETE", self._url(path) + "/fcr:tombstone", path=path, ok=(404, 405))
        if response.status_code in (404, 405):
            if self._exists(path) == "exists":
                raise Conflict(f"{path} is not deleted: delete it before purging its tombstone", path=path)
            raise NotFound(f"no tombstone at {path}: nothing to purge", path=path)

    def move(self, source: str, destination: str) -> ResourceInfo:
        return self._relocate("MOVE", source, destination)

    def copy(self, source: str, destination: str) -> ResourceInfo:
        return self._relocate("COPY", source, destination)

    def _relocate(self, method: str, source: str, destination: str) -> ResourceInfo:
        source = paths.normalize(source)
        destination = paths.normalize(destination)
        if source == "/" or paths.is_within(destination, source):
            raise BadInput(f"cannot {method.lower()} {source} into {destination}: it is inside the source", path=source)
        if self._exists(source) != "exists":
            self._send("HEAD", self._url(source), path=source)  # raises NotFound / Gone
        if self._exists(destination) == "exists":
            raise Conflict(f"{destination} already exists: pick another destination", path=destination)
        headers = {"Destination": self._url(destination)}
        response = self._send(method, self._url(source), path=source, headers=headers, ok=(409, 412, 502))
        if response.status_code == 412:
            raise Conflict(f"{destination} already exists: pick another destination", path=destination)
        if response.status_code == 409:
            raise error_for(response, path=source, secrets=self._secrets)
        if response.status_code == 502:
            raise BadInput(f"the server refused destination {destination} for {method}", path=destination)
        return self.info(destination)

    # -- versions ------------------------------------------------------------------
    def versions(self, path: str) -> list[Version]:
        """Read either listing form: Fedora 4's labelled ``fedora:hasVersion`` graph or a
        Memento timemap (link-format or RDF ``ldp:contains``)."""
        from rdflib import URIRef

        path = paths.normalize(path)
        url = self._url(path) + "/fcr:versions"
        accept = ("application/link-format, " if self.dialect.versions == "memento" else "") + RDF_ACCEPT
        what = f"versions of {path}"
        response = self._send("GET", url, path=path, headers={"Accept": accept}, what=what)
        if rdf.mime_of(response.headers.get("Content-Type")) == "application/link-format":
            found: dict[str, Version] = {}
            for link in wire.parse_links(" ".join(response.text.split())).get("memento", []):
                segment = link["url"].rstrip("/").rsplit("/", 1)[-1]
                if MEMENTO_ID.match(segment):
                    when = wire.parse_http_date(link.get("datetime", "")) or _memento_time(segment)
                    found[segment] = Version(id=segment, created=when)
            return sorted(found.values(), key=lambda v: (v.created, v.id))
        graph, _ = self._parse_graph(response, url, path)
        if any(True for _ in graph.objects(None, URIRef(FEDORA + "hasVersion"))):
            return _labelled_versions(graph)
        mementos = {}
        for obj in graph.objects(None, URIRef(LDP + "contains")):
            segment = str(obj).rstrip("/").rsplit("/", 1)[-1]
            if MEMENTO_ID.match(segment):
                mementos[segment] = Version(id=segment, created=_memento_time(segment))
        return sorted(mementos.values(), key=lambda v: (v.created, v.id))

    def create_version(self, path: str, *, label: str | None = None) -> Version:
        path = paths.normalize(path)
        url = self._url(path) + "/fcr:versions"
        if label and not self.capabilities.label_versions:
            raise Unsupported(f"{self.dialect.name} versions (Memento) have no labels: omit --label", path=path)
        if self.dialect.versions == "labels" and not label:
            label = invented_label()  # Fedora 4 requires a Slug
        headers = {"Slug": label} if label else {}
        response = self._send("POST", url, path=path, headers=headers, what=f"new version of {path}")
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
        raise CorruptData(f"{self.location} accepted a new version of {path} but does not list it", path=path)

    def revert(self, path: str, version: str) -> ResourceInfo:
        path = paths.normalize(path)
        version = self._named_version(path, version) or version
        if self.dialect.versions == "labels":
            self._send("PATCH", self._url(path, version), path=path, what=f"version {version} of {path}")
            return self.info(path)
        # Memento has no revert verb: write the memento's state back as the current one.
        info = self.info(path, version=version)
        if info.is_binary:
            with self.open_binary(path, version=version) as content:
                spec = ResourceSpec(
                    content=content.stream,
                    binary=True,
                    mime_type=info.mime_type,
                    filename=info.filename,
                )
                self._write("PUT", self._url(path), path, spec, {}, created_only=False)
        else:
            graph = self.get_rdf(
                path, version=version, prefs=RdfPrefs(containment=False, membership=False, server_managed=False)
            )
            self._write("PUT", self._url(path), path, ResourceSpec(graph=graph, lenient=True), {"Prefer": LENIENT})
        return self.info(path)

    def delete_version(self, path: str, version: str) -> None:
        path = paths.normalize(path)
        if self.dialect.versions == "memento":
            raise Unsupported(
                f"{self.dialect.name} servers keep every version (Memento): versions cannot be deleted", path=path
            )
        version = self._named_version(path, version) or version
        self._send("DELETE", self._url(path, version), path=path, what=f"version {version} of {path}")

    # -- fixity --------------------------------------------------------------------
    def fixity(self, info: ResourceInfo, *, algorithm: str | None = None, client_side: bool = False) -> FixityResult:
        """Ask the server to recompute a digest (Want-Digest, or Fedora 4's fcr:fixity); fall back
        to downloading and hashing here when the server cannot, or when ``client_side``."""
        if not info.is_binary:
            raise BadInput(f"{info.path} is a container: fixity applies to binaries", path=info.path)
        strongest = ("sha512", "sha256", "sha1", "md5")
        default = "sha512" if "sha512" in self.dialect.digest_algorithms else "sha1"
        algorithm = algorithm or next((a for a in strongest if a in info.digests), default)
        if algorithm not in dialects.WIRE_DIGESTS:
            raise BadInput(f"unsupported digest algorithm {algorithm!r}: use sha512, sha256, sha1 or md5")
        if info.external_handling in ("redirect", "proxy") and not client_side:
            return FixityResult(
                path=info.path,
                outcome="UNVERIFIABLE",
                algorithm=algorithm,
                detail=f"external content ({info.external_handling}) is not stored by the server",
            )
        actual: str | None = None
        size = info.size
        if not client_side and self.dialect.want_digest:
            # Fast path: one HEAD, the server hashes, no RDF on either side.
            headers = {**self._tx_headers, "Want-Digest": wire.want_digest_header([algorithm])}
            url = self._url(info.path)
            answer = self._quick_head.head(url, headers)
            if answer is None:  # not a plain success: the ordinary path raises or explains it
                try:
                    answer = self._send("HEAD", url, path=info.path, headers=headers, allow_redirects=False).headers
                except (Unavailable, CorruptData):
                    answer = None  # e.g. the server cannot read the content: fcr:fixity may say why
            actual = wire.parse_digest(answer.get("Digest")).get(algorithm) if answer is not None else None
            if actual is not None and actual == info.digests.get(algorithm):
                return FixityResult(
                    path=info.path, outcome="SUCCESS", algorithm=algorithm, expected=actual, actual=actual,
                    expected_size=info.size, size=info.size,
                )
        if not client_side and self._fixity_endpoint is not False:
            # The server's own judgement tells BAD_SIZE and MISSING apart from BAD_CHECKSUM.
            report = self._fcr_fixity(info, algorithm)
            if report is not None:
                return report
        if actual is None:
            with self.open_binary(info.path) as content:
                hasher = wire.HashingReader(content.stream, [algorithm], None)
                while hasher.read(1 << 20):
                    pass
            actual, size = hasher.hexdigests()[algorithm], hasher.bytes_read
        result = FixityResult(
            path=info.path,
            outcome="SUCCESS",
            algorithm=algorithm,
            expected=info.digests.get(algorithm),
            actual=actual,
            expected_size=info.size,
            size=size,
        )
        if info.size is not None and size is not None and size != info.size:
            result.outcome = "BAD_SIZE"
        elif result.expected is not None and result.expected != actual:
            result.outcome = "BAD_CHECKSUM"
        elif result.expected is None:
            result.detail = f"no stored {algorithm} digest to compare with; computed one reported"
        return result

    def _fcr_fixity(self, info: ResourceInfo, algorithm: str) -> FixityResult | None:
        """The server's own judgement (fcr:fixity's PREMIS report: every outcome, sizes included).

        None when the server has no fcr:fixity (Fedora 6 dropped it; remembered after the first
        try) or its report uses another algorithm than the one asked for.
        """
        from rdflib import URIRef

        url = self._url(info.path) + "/fcr:fixity"
        try:
            graph, _ = self._get_graph(url, info.path, prefs=RdfPrefs(), what=f"fixity of {info.path}")
        except (NotFound, Unsupported, BadInput):
            self._fixity_endpoint = False
            return None
        self._fixity_endpoint = True
        outcomes = {str(o) for o in graph.objects(None, URIRef(PREMIS + "hasEventOutcome"))}
        names = graph.objects(None, URIRef(PREMIS + "hasMessageDigestAlgorithm"))
        reported = {{"sha": "sha1"}.get(name, name) for name in (str(n).lower().replace("-", "") for n in names)}
        if not outcomes or algorithm not in reported:
            return None
        actual = None
        for urn in graph.objects(None, URIRef(PREMIS + "hasMessageDigest")):
            parsed = rdf.parse_digest_urn(str(urn).replace("urn:shal:", "urn:sha1:"))
            if parsed and parsed[0] == algorithm:
                actual = parsed[1]
        sizes = [int(str(o)) for o in graph.objects(None, URIRef(PREMIS + "hasSize")) if str(o).isdigit()]
        outcome = next((o for o in ("MISSING", "BAD_SIZE", "BAD_CHECKSUM") if o in outcomes), "SUCCESS")
        return FixityResult(
            path=info.path,
            outcome=outcome,
            algorithm=algorithm,
            expected=info.digests.get(algorithm),
            actual=actual,
            expected_size=info.size,
            size=sizes[0] if sizes else None,
        )

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


# -- helpers ------------------------------------------------------------------------------


class _Facts:
    """Values of one resource's triples, looked up under any of its URL spellings."""

    def __init__(self, graph: Graph, subjects: list[Any]) -> None:
        self._graph = graph
        self._subjects = subjects

    def all(self, predicate: str) -> list[str]:
        from rdflib import URIRef

        out: list[str] = []
        for subject in self._subjects:
            out += [str(o) for o in self._graph.objects(subject, URIRef(predicate))]
        return out

    def text(self, predicate: str) -> str | None:
        values = self.all(predicate)
        return values[0] if values else None

    def datetime(self, predicate: str) -> datetime | None:
        value = self.text(predicate)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_Triples = dict[str, dict[str, list[Any]]]  # subject -> predicate -> objects (rdflib terms)


class _IndexFacts(_Facts):
    """_Facts over a listing's {subject: {predicate: [objects]}} index instead of a Graph."""

    def __init__(self, triples: _Triples, subjects: list[str]) -> None:
        self._found = [triples[s] for s in subjects if s in triples]

    def all(self, predicate: str) -> list[str]:
        return [str(o) for found in self._found for o in found.get(predicate, ())]


def _embedded_info(triples: _Triples, path: str, url: str) -> ResourceInfo | None:
    """A child's info from its embedded triples; None when the server did not embed them."""
    plain = unquote(url)  # servers write IRIs, where non-ASCII characters stay as they are
    facts = _IndexFacts(triples, list(dict.fromkeys([url, url + "/", plain, plain + "/"])))
    created = facts.datetime(FEDORA + "created")
    if created is None:
        return None
    types = set(facts.all(RDF_TYPE))
    if LDP + "NonRDFSource" in types or FEDORA + "Binary" in types:
        model = NON_RDF_SOURCE
    else:
        model = next((m for m in (LDP + "DirectContainer", LDP + "IndirectContainer") if m in types), BASIC)
    info = ResourceInfo(
        path=path,
        model=model,
        etag="",  # not part of the triples; `info PATH` has it
        created=created,
        modified=facts.datetime(FEDORA + "lastModified") or created,
        created_by=facts.text(FEDORA + "createdBy"),
        modified_by=facts.text(FEDORA + "lastModifiedBy"),
    )
    if model == NON_RDF_SOURCE:
        info.mime_type = facts.text(EBUCORE + "hasMimeType")
        info.filename = facts.text(EBUCORE + "filename")
        info.size = _int(facts.text(PREMIS + "hasSize"))
        info.digests = dict(filter(None, (rdf.parse_digest_urn(u) for u in facts.all(PREMIS + "hasMessageDigest"))))
    return info


def _typed_as(graph: Graph | None, subject_id: str, model: str) -> Graph:
    """A copy of ``graph`` typing its resource ``subject_id`` as ``model``."""
    from rdflib import URIRef

    out = rdf.new_graph()
    for triple in graph if graph is not None else ():
        out.add(triple)
    out.add((URIRef(subject_id), URIRef(rdf.RDF_NS + "type"), URIRef(model)))
    return out


def _plain_strings(graph: Graph) -> Graph:
    """``"x"^^xsd:string`` -> ``"x"``: the same RDF 1.1 term, which Fedora 4.7 always writes typed
    and the rest of fcrctl (and every other server) writes plain."""
    from rdflib import Literal

    xsd_string = rdf.XSD + "string"
    typed = [(s, p, o) for s, p, o in graph if isinstance(o, Literal) and o.datatype is not None
             and str(o.datatype) == xsd_string]
    for s, p, o in typed:
        graph.remove((s, p, o))
        graph.add((s, p, Literal(str(o))))
    return graph


def _labelled_versions(graph: Graph) -> list[Version]:
    from rdflib import URIRef

    out: list[Version] = []
    for version_url in set(graph.objects(None, URIRef(FEDORA + "hasVersion"))):
        facts = _Facts(graph, [version_url])
        label = facts.text(FEDORA + "hasVersionLabel")
        created = facts.datetime(FEDORA + "created") or datetime.fromtimestamp(0, UTC)
        segment = unquote(str(version_url).rstrip("/").rsplit("/", 1)[-1])
        out.append(Version(id=segment, created=created, label=given_label(label)))
    return sorted(out, key=lambda v: (v.created, v.id))


def _memento_time(segment: str) -> datetime:
    return datetime.strptime(segment, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _int(value: str | None, default: int | None = None) -> int | None:
    return int(value) if value and value.isdigit() else default


class _ResponseStream(io.RawIOBase):
    """A streamed response body as a file; transport failures become fcrctl errors."""

    def __init__(self, response: requests.Response, location: str) -> None:
        self._response = response
        self._raw = response.raw
        self._location = location

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(None if size is None or size < 0 else size) or b""
        except Exception as exc:  # urllib3 raises several unrelated types mid-body
            raise Unavailable(f"download from {self._location} broke off: {type(exc).__name__}: retry") from None

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class _Window(io.RawIOBase):
    """Bytes [start, start+length) of a stream that starts at 0 (for servers ignoring Range)."""

    def __init__(self, source: BinaryIO, start: int, length: int | None) -> None:
        self._source = source
        self._skip = start
        self._left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self._skip:
            skipped = self._source.read(min(self._skip, 1 << 20))
            if not skipped:
                return b""
            self._skip -= len(skipped)
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._source.read(size)
        if self._left is not None:
            self._left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()
