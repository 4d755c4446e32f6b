"""The requests.Session a repository talks through: keep-alive, a pool sized for parallel
work, timeouts, and retries that never repeat a non-idempotent request.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, MaxRetryError, ResponseError
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

POOL_MAXSIZE = 32
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (502, 503, 504)


def timeout_of(value: float | tuple[float, float] | str | None) -> tuple[float, float]:
    """``--timeout`` as one number (read; connect stays short) or a (connect, read) pair."""
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    if isinstance(value, tuple | list):
        return float(value[0]), float(value[1])
    seconds = float(value)
    return min(DEFAULT_TIMEOUT[0], seconds), seconds


_budget = threading.local()  # the deadline of the request this thread is sending (see BoundedAdapter)


class DeadlineRetry(Retry):
    """Retries that stop once the request's time budget is spent: ``--timeout 2`` against a server
    that accepts but never answers fails after ~2 s, not after four 2 s attempts plus backoff."""

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Retry:
        new = super().increment(method, url, *args, **kwargs)
        deadline = getattr(_budget, "deadline", None)
        if deadline is not None and time.monotonic() + new.get_backoff_time() >= deadline:
            error = kwargs.get("error") or (args[1] if len(args) > 1 else None)
            raise MaxRetryError(kwargs.get("_pool"), url or "", error or ResponseError("no time left to retry"))
        return new


class BoundedAdapter(HTTPAdapter):
    """Gives each request (retries included) the read timeout as its time budget."""

    def send(self, request: Any, stream: bool = False, timeout: Any = None, *args: Any, **kwargs: Any) -> Any:
        seconds = timeout[1] if isinstance(timeout, tuple) else timeout
        previous = getattr(_budget, "deadline", None)
        _budget.deadline = time.monotonic() + seconds if isinstance(seconds, int | float) else None
        try:
            return super().send(request, stream, timeout, *args, **kwargs)
        finally:
            _budget.deadline = previous


def make_retry(retries: int, backoff: float, *, streaming_body: bool = False) -> Retry:
    """Retry policy. POST/PATCH/MOVE/COPY are never re-sent once they may have reached the
    server (only failures to connect, which send nothing, are retried for them).

    ``streaming_body``: a PUT whose body is a one-shot stream cannot be replayed, so it is
    retried only when the connection was never made.
    """
    if streaming_body:
        return DeadlineRetry(total=retries, connect=retries, read=0, status=0, other=0, redirect=5,
                             raise_on_status=False)
    return DeadlineRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=5,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=IDEMPOTENT,
        raise_on_status=False,  # the last 503 comes back as a response: errors.check explains it
        respect_retry_after_header=True,
    )


def make_session(
    *,
    retries: int = 3,
    backoff: float = 0.2,
    pool_maxsize: int = POOL_MAXSIZE,
    streaming_body: bool = False,
) -> requests.Session:
    session = requests.Session()
    # Credentials, CAs and proxies are resolved once by the repository (auth.py), not per
    # request from the environment: requests would otherwise re-read ~/.netrc every call.
    session.trust_env = False
    adapter = BoundedAdapter(
        pool_connections=4,
        pool_maxsize=pool_maxsize,
        pool_block=True,  # more threads than connections wait instead of opening throwaway sockets
        max_retries=make_retry(retries, backoff, streaming_body=streaming_body),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "fcrctl"
    return session


def pool_stats(session: requests.Session) -> dict[str, int]:
    """New connections opened so far per pool (to prove keep-alive in tests and the bench)."""
    total = 0
    unique = {id(a): a for a in session.adapters.values()}  # http:// and https:// share one adapter
    for adapter in unique.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is None:
            continue
        for key in list(manager.pools.keys()):
            pool = manager.pools.get(key)
            if pool is not None:
                total += pool.num_connections
    return {"new_connections": total}


class QuickHead:
    """HEAD requests for hot loops (fixity over thousands of binaries) without requests' per-call
    preparation: headers, cookies and auth are merged once per header set.

    Over plain http the request goes over a kept-alive ``http.client`` connection of our own
    pool: urllib3's pool, retry and response machinery cost twice what http.client does per
    HEAD (~0.45 against ~0.22 ms of CPU), which is as much as the server spends answering.
    Over https the request goes through the very urllib3 pool requests uses (same TLS settings,
    retries, keep-alive): certificate handling stays in one place, and TLS costs more than the
    difference there.

    ``head`` returns the response headers of a 2xx answer and None for anything else (an error,
    a redirect, a transport failure, a connection the server closed while idle): the caller
    then repeats the request the ordinary way, which retries and explains the failure.
    """

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session = session
        self._connect_timeout, self._read_timeout = timeout
        self._timeout = Timeout(connect=timeout[0], read=timeout[1])
        self._templates: dict[tuple[str, ...], _Template | None] = {}
        self._lock = threading.Lock()
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}  # kept-alive plain connections
        self._closed = False
        self.opened = 0  # plain connections opened so far (keep-alive makes this small)

    def head(self, url: str, headers: dict[str, str]) -> Mapping[str, str] | None:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, *(f"{k}: {v}" for k, v in headers.items()))
        template = self._templates.get(key)
        if template is None:
            template = self._template(key, url, headers)
            if template is None:
                return None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "http":
            return self._plain_head(parts.hostname or "", parts.port or 80, parts.netloc, target, template)
        try:
            response = template.pool.urlopen(
                "HEAD",
                target,
                headers=template.headers,
                redirect=False,
                assert_same_host=False,
                preload_content=True,  # no body: the connection goes straight back to the pool
                retries=template.retries,
                timeout=self._timeout,
            )
        except HTTPError:
            return None
        if not 200 <= response.status < 300:
            return None
        return response.headers

    def _plain_head(
        self, host: str, port: int, netloc: str, target: str, template: _Template
    ) -> Mapping[str, str] | None:
        sent = self._send("HEAD", host, port, netloc, target, template)
        if sent is None:
            return None
        conn, response = sent
        try:
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return None
        if response.will_close:
            conn.close()
        else:
            self._put_back(netloc, conn)
        if not 200 <= response.status < 300:
            return None
        return response.headers

    def get(self, url: str, headers: dict[str, str], also: tuple[int, ...] = ()) -> QuickResponse | None:
        """A GET over plain http as ``head`` sends a HEAD: the response of a 2xx answer whose body
        is not content-encoded (or of a status in ``also``), to be read (``raw.read1``) and closed,
        else None (the caller sends it the ordinary way). Export sends one per container: requests' own preparation and
        urllib3's response machinery cost more than the rest of a small container's export."""
        parts = urlsplit(url)
        if parts.scheme != "http":
            return None
        key = (parts.scheme, parts.netloc, *(f"{k}: {v}" for k, v in headers.items()))
        template = self._templates.get(key) or self._template(key, url, headers)
        if template is None:
            return None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = self._send("GET", parts.hostname or "", parts.port or 80, parts.netloc, target, template)
        if sent is None:
            return None
        conn, response = sent
        if ((not 200 <= response.status < 300 and response.status not in also)
                or response.getheader("Content-Encoding", "identity") != "identity"):
            conn.close()
            return None
        return QuickResponse(self, parts.netloc, conn, response)

    def _send(self, method: str, host: str, port: int, netloc: str, target: str,
              template: _Template) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse] | None:
        """The request on a kept-alive connection (else a new one) and its response, body unread;
        None on a transport failure (that connection closed)."""
        with self._lock:
            idle = self._idle.get(netloc)
            conn = idle.pop() if idle else None
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
                with self._lock:
                    self.opened += 1
                conn.connect()
                conn.sock.settimeout(self._read_timeout)
            conn.request(method, target, headers=template.headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            return None

    def _put_back(self, netloc: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.setdefault(netloc, []).append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def _template(self, key: tuple[str, ...], url: str, headers: dict[str, str]) -> _Template | None:
        with self._lock:
            if key in self._templates:
                return self._templates[key]
            adapter = self._session.get_adapter(url)
            template = None
            if isinstance(adapter, HTTPAdapter) and not self._session.proxies:
                prepared = self._session.prepare_request(requests.Request("HEAD", url, headers=headers))
                pool = adapter.get_connection_with_tls_context(
                    prepared, self._session.verify, None, self._session.cert
                )
                template = _Template(pool, dict(prepared.headers), adapter.max_retries)
            self._templates[key] = template
            return template


class QuickResponse:
    """QuickHead.get's answer, read as the listing readers read a requests response: ``status_code``,
    ``headers`` (case-insensitive, repeated headers joined as requests joins them), ``raw.read1``
    (transport errors raised as requests' ConnectionError), ``close`` (the connection goes back to
    the idle pool when the body was read to its end)."""

    def __init__(self, owner: QuickHead, netloc: str, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        from requests.structures import CaseInsensitiveDict

        self._owner, self._netloc, self._conn, self._response = owner, netloc, conn, response
        self.status_code = response.status
        joined: dict[str, str] = {}
        for name, value in response.msg.items():  # one pass (get_all per name scans them all)
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(joined)
        self.raw = self

    def read1(self, size: int, decode_content: bool = True) -> bytes:
        try:
            return self._response.read1(size)
        except (OSError, http.client.HTTPException) as exc:
            raise requests.exceptions.ConnectionError(exc) from exc

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        while block := self.read1(chunk_size):
            yield block

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        response = self._response
        # read to its end: a chunked body closes itself there; a sized one is left at length 0
        if (response.isclosed() or response.length == 0) and not response.will_close:
            response.close()
            self._owner._put_back(self._netloc, conn)
        else:
            conn.close()

    def __enter__(self) -> QuickResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Template:
    pool: Any  # urllib3 HTTP(S)ConnectionPool
    headers: dict[str, str]  # the session's headers and auth, merged once
    retries: Retry
