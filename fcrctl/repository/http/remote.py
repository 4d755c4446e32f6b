"""Remote: one connection to a Fedora REST endpoint (session, URL mapping, one request, RDF GETs)

Every component of HttpRepository holds the same Remote and sends through :meth:`Remote.send`,
which turns transport failures and HTTP errors into fcrctl errors (errors.py). A transaction's
view is a copy of it with another base URL or ``Atomic-ID`` header (transactions.py).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, CorruptData, NotARepository
from fcrctl.repository.base import RdfPrefs
from fcrctl.repository.http import auth as auth_module
from fcrctl.repository.http import dialect as dialects
from fcrctl.repository.http import ntriples, wire
from fcrctl.repository.http.errors import check, error_for, transport_error, transport_exceptions
from fcrctl.repository.http.facts import MEMENTO_ID, plain_strings
from fcrctl.repository.http.plain import QuickHead, QuickResponse, timeout_of

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from rdflib import Graph

# N-Triples first: serialising it costs a server a tenth of Turtle (its prefixes), and we only parse.
RDF_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/ld+json;q=0.5, application/rdf+xml;q=0.5"
LENIENT = 'handling=lenient; received="minimal"'  # Prefer: the body leaves out server-managed triples
PARALLEL = 8  # concurrent HEAD+GET pairs when listing children
MAX_RDF_BODY = 256 << 20  # one resource's RDF, read whole (listings are streamed instead: ntriples.py)


class Remote:
    """The session, base URL, dialect and transaction headers every request of a repository uses."""

    def __init__(
        self, base_url: str, config: auth_module.AuthConfig, *, api: str | None, timeout: Any = None, retries: int = 3
    ) -> None:
        self.base_uri = base_url.rstrip("/")
        self.location = self.base_uri
        self.plain_base = self.base_uri  # the base outside any transaction (transactions.py)
        self.tx_headers: dict[str, str] = {}  # set on a transaction's view (Atomic-ID)
        self.owns_session = True
        self._config = config
        self.secrets = tuple(config.secrets)
        self.timeout = timeout_of(timeout)
        self._retries = retries
        self._lock = threading.Lock()
        self._sessions: dict[str, requests.Session] = {}  # made when first used; shared with transaction views
        self.quick_head = QuickHead(lambda: self.session, self.timeout, config)
        self._pool: ThreadPoolExecutor | None = None
        self.dialect = self._probe(api)

    def _probe(self, api: str | None) -> dialects.Dialect:
        """Ask the root what server this is (its links name the dialect)."""
        if api is not None and api.lower() not in dialects.API_NAMES:
            raise BadInput(f"unknown API dialect {api!r}: use one of {', '.join(dialects.API_NAMES)}")
        url = self.base_uri + "/"
        prefs = RdfPrefs(containment=False, membership=False)
        headers = {"Accept": RDF_ACCEPT, "Prefer": rdf.prefer_header(prefs)}
        response: requests.Response | QuickResponse | None = self.quick_head.get(url, headers,
                                                                                  also=(401, 403, 404, 405))
        if response is None:  # (any other answer, or a connection refused: requests retries and explains it)
            try:
                response = self.session.get(url, headers=headers, timeout=self.timeout, stream=True)
            except transport_exceptions() as exc:
                raise transport_error(exc, url, timeout=self.timeout[1]) from None
        with response:  # streamed: a root's RDF is read within MAX_RDF_BODY, and the connection freed
            if response.status_code in (404, 405):
                raise NotARepository(
                    f"not a Fedora repository: {self.location} (HTTP {response.status_code}): "
                    "check the REST base path (often /rest or /fcrepo/rest)"
                )
            if response.status_code == 403:
                # signed in, but the root's ACL does not let this user read it: resources below may
                # still be theirs, so open anyway (dialect from --api, else the default)
                return dialects.detect({}, api=api)
            check(response, secrets=self.secrets, what=self.location)  # type: ignore[arg-type]
            head = wire.parse_headers(response.headers)
            mime = rdf.mime_of(head.content_type)
            if not rdf.is_rdf_mime(mime) and mime not in ("application/x-turtle", "text/plain"):
                raise NotARepository(
                    f"not a Fedora repository: {self.location} answered with {mime or 'no content type'}, "
                    "not RDF: check the URL (the REST base, e.g. http://host:8080/rest)"
                )
            body = self.read_body(response, url, "/")  # type: ignore[arg-type]
        try:
            if mime != "application/n-triples":
                rdf.parse(body, mime or "text/turtle", base=url, source=f"root of {self.location}", storable=False)
            elif not ntriples.readable(body):  # as the listing that follows reads it: no rdflib to import
                raise BadInput("malformed N-Triples")
        except BadInput:
            raise NotARepository(f"not a Fedora repository: {self.location} sent malformed RDF for its root") from None
        link_rels = {rel: [link["url"] for link in links] for rel, links in head.links.items()}
        external = bool(response.headers.get("Accept-External-Content-Handling"))
        return dialects.detect(link_rels, api=api, external_content=external)

    def inside(self, *, base_uri: str | None = None, tx_headers: dict[str, str] | None = None,
               owns_session: bool) -> Remote:
        """A copy sending every request inside a transaction (its URL space or its header)."""
        inside = copy.copy(self)
        if base_uri is not None:
            inside.base_uri = base_uri
        if tx_headers is not None:
            inside.tx_headers = tx_headers
        inside.owns_session = owns_session
        return inside

    @property
    def session(self) -> requests.Session:
        """requests' session, made (and requests imported) when first used."""
        found = self._sessions.get("main")
        return found if found is not None else self._session("main", streaming_body=False)

    def _session(self, name: str, *, streaming_body: bool) -> requests.Session:
        from fcrctl.repository.http.session import make_session

        with self._lock:
            if name not in self._sessions:
                session = make_session(retries=self._retries, streaming_body=streaming_body)
                self._config.apply(session)
                self._sessions[name] = session
            return self._sessions[name]

    def close(self) -> None:
        if not self.owns_session:
            return  # a transaction's view: the session belongs to the repository it came from
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.quick_head.close()
        for session in self._sessions.values():
            session.close()

    def connection_stats(self) -> dict[str, int]:
        """TCP connections opened so far (keep-alive makes this small)."""
        from fcrctl.repository.http.session import pool_stats

        return {"new_connections": self.quick_head.opened + sum(
            pool_stats(session)["new_connections"] for session in self._sessions.values())}

    # -- URLs ----------------------------------------------------------------------
    def url(self, path: str, version: str | None = None) -> str:
        url = self.base_uri + quote(path, safe="/:@!$&'()*+,;=~")
        if version is not None:
            url += "/fcr:versions/" + quote(self.version_segment(version), safe="")
        return url

    def version_segment(self, version: str) -> str:
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

    def path_of(self, url: str) -> str | None:
        fedora_id = rdf.url_to_id(url.split("#", 1)[0], self.base_uri)
        if fedora_id is None:
            return None
        return paths.from_id(fedora_id)  # url_to_id decoded it

    def own_link(self, head: wire.Headers, rel: str, url: str, path: str) -> str | None:
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

    # -- one request ---------------------------------------------------------------
    def send(
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
        session = self.streaming_session() if upload else self.session
        if self.tx_headers:
            headers = {**self.tx_headers, **(headers or {})}
        try:
            response = session.request(
                method,
                url,
                headers=headers,
                data=data,
                stream=stream,
                allow_redirects=allow_redirects,
                timeout=self.timeout,
            )
        except transport_exceptions() as exc:
            raise transport_error(exc, url, timeout=self.timeout[1]) from None
        if response.status_code < 400 or response.status_code in ok:
            return response
        error = error_for(response, path=path, secrets=self.secrets, what=what)
        response.close()
        raise error

    def streaming_session(self) -> requests.Session:
        # One-shot upload bodies cannot be replayed, so they use a session whose retries stop
        # at connection failures (nothing sent yet).
        found = self._sessions.get("upload")
        return found if found is not None else self._session("upload", streaming_body=True)

    def head(self, url: str, path: str) -> wire.Headers:
        headers: dict[str, str] = {}
        response = self.send("HEAD", url, path=path, headers=headers, allow_redirects=False)
        if response.status_code in (301, 302, 303, 307, 308):
            target = response.headers.get("Location") or ""
            if target.startswith(self.base_uri + "/") and not target.startswith(url + "/"):
                response = self.send("HEAD", target, path=path, headers=headers, allow_redirects=False)
            # Otherwise: an external-content redirect; its own headers describe the binary.
        return wire.parse_headers(response.headers)

    def get_graph(
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
        with self.send("GET", url, path=path, headers=headers, what=what, stream=True) as response:
            return self.parse_graph(response, url, path)

    def parse_graph(
        self, response: requests.Response, url: str, path: str, body: bytes | None = None
    ) -> tuple[Graph, wire.Headers]:
        """The response's RDF (``body``, when the caller has read it already), in URL form."""
        head = wire.parse_headers(response.headers)
        mime = rdf.mime_of(head.content_type) or "text/turtle"
        if not rdf.is_rdf_mime(mime) and mime not in ("application/x-turtle", "text/plain"):
            raise CorruptData(
                f"{self.location} answered {path} with {mime}, not RDF: is it a Fedora server?", path=path
            )
        if body is None:
            body = self.read_body(response, url, path)
        try:
            graph = rdf.parse(body, mime, base=url, source=f"server response for {path}", storable=False)
        except BadInput as exc:
            raise CorruptData(f"{exc.message} (sent by {self.location})", path=path) from None
        return plain_strings(graph), head

    def read_body(self, response: requests.Response, url: str, path: str) -> bytes:
        """A whole response body, refused (CorruptData) past MAX_RDF_BODY bytes rather than held."""
        limit = MAX_RDF_BODY
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
                if size > limit:
                    response.close()
                    raise CorruptData(f"server response for {path} is over {limit} bytes: refused "
                                      f"(sent by {self.location})", path=path)
                chunks.append(chunk)
        except transport_exceptions() as exc:  # the connection broke while the body arrived
            raise transport_error(exc, url, timeout=self.timeout[1]) from None
        return b"".join(chunks)

    def pool_map(self, fn: Any, items: list[str]) -> Iterator[Any]:
        if len(items) <= 1:
            return iter([fn(item) for item in items])
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="fcrctl-http")
            pool = self._pool
        return pool.map(fn, items)
