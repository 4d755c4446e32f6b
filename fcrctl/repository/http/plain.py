"""Requests sent through the standard library's http.client, where requests' machinery costs more than
the request (QuickHead): importing requests and urllib3 costs a process ~0.07 s of CPU, a third of an
``ls`` over http to its first line; urllib3's pool, retries and response machinery cost twice what
http.client does per request.

Only a request whose every part this path does as requests' session would goes this way: http, or
https verified as the session verifies (--ca-bundle, else certifi's bundle, requests' default; a
client certificate), credentials as one Authorization header (auth.py), no proxy named in the
environment. Anything else, and any answer the caller did not ask for (a redirect, a retried status,
a connection that failed before the request was sent), is left to the ordinary path through
requests (None), which retries and explains as it always has. A read that times out after the
request was sent is the error requests would give (its retries stop at the same time budget).
"""

from __future__ import annotations

import http.client
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from fcrctl.repository.http.errors import PlainTransportError, transport_error

if TYPE_CHECKING:
    import ssl

    import requests

    from fcrctl.repository.http.auth import AuthConfig

DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
USER_AGENT = "fcrctl"
# the variables a proxy is named in (either case): requests' session decides what to make of them
PROXY_VARIABLES = {"http": ("http_proxy", "all_proxy"), "https": ("https_proxy", "all_proxy")}


def timeout_of(value: float | tuple[float, float] | str | None) -> tuple[float, float]:
    """``--timeout`` as one number (read; connect stays short) or a (connect, read) pair."""
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    if isinstance(value, tuple | list):
        return float(value[0]), float(value[1])
    seconds = float(value)
    return min(DEFAULT_TIMEOUT[0], seconds), seconds


def proxied(scheme: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment names a proxy a request of ``scheme`` might go through."""
    return any(environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES.get(scheme, ()))


class Headers(Mapping[str, str]):
    """A response's headers by case-insensitive name, a repeated one joined with ", " as requests joins them."""

    def __init__(self, message: http.client.HTTPMessage) -> None:
        self._values: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for name, value in message.items():  # one pass (get_all per name scans them all)
            key = name.lower()
            if key in self._values:
                self._values[key] = f"{self._values[key]}, {value}"
            else:
                self._values[key], self._names[key] = value, name

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)


class _Carrier:
    """What an auth callable sets its header on (requests hands it a PreparedRequest)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


_UNSET: Any = object()


class QuickHead:
    """HEAD and GET requests for hot loops (fixity's HEAD of thousands of binaries, export's GET of each
    container) and for the first request of a short command (`ls` over http imports no requests), with
    the session's headers and credentials merged once per header set.

    Over http, and for a GET over https, the request goes over a kept-alive ``http.client`` connection
    of our own pool. A HEAD over https goes through the very urllib3 pool requests uses (same TLS
    settings, retries, keep-alive): fixity has loaded requests anyway, and TLS costs more than the
    difference there.

    ``head`` returns the response headers of a 2xx answer and None for anything else (an error,
    a redirect, a transport failure, a connection the server closed while idle): the caller
    then repeats the request the ordinary way, which retries and explains the failure.

    ``session``: requests' session, or a function making it when first needed (Remote's: a command
    that sends nothing through requests never imports it); ``config``: the repository's credentials
    and TLS settings (auth.py), else the session's are read.
    """

    def __init__(self, session: requests.Session | Callable[[], requests.Session], timeout: tuple[float, float],
                 config: AuthConfig | None = None) -> None:
        self._session_of: Callable[[], requests.Session] = session if callable(session) else (lambda: session)
        self._config = config
        self._connect_timeout, self._read_timeout = timeout
        self._templates: dict[tuple[str, ...], _Template | None] = {}
        self._plain: dict[tuple[str, ...], dict[str, str] | None] = {}  # request headers -> what is sent
        self._context: ssl.SSLContext | None = _UNSET
        self._lock = threading.Lock()
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}  # kept-alive connections by scheme://netloc
        self._closed = False
        self.opened = 0  # connections opened so far (keep-alive makes this small)

    def head(self, url: str, headers: dict[str, str]) -> Mapping[str, str] | None:
        parts = urlsplit(url)
        if proxied(parts.scheme):
            return None
        if parts.scheme == "http":
            return self._plain_head(parts, url, headers)
        key = (parts.scheme, parts.netloc, *(f"{k}: {v}" for k, v in headers.items()))
        template = self._templates.get(key)
        if template is None:
            template = self._template(key, url, headers)
            if template is None:
                return None
        from urllib3.exceptions import HTTPError

        try:
            response = template.pool.urlopen(
                "HEAD",
                _target(parts),
                headers=template.headers,
                redirect=False,
                assert_same_host=False,
                preload_content=True,  # no body: the connection goes straight back to the pool
                retries=template.retries,
                timeout=template.timeout,
            )
        except HTTPError:
            return None
        if not 200 <= response.status < 300:
            return None
        return response.headers

    def _plain_head(self, parts: SplitResult, url: str, headers: dict[str, str]) -> Mapping[str, str] | None:
        sent = self._send("HEAD", parts, url, headers)
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
            self._put_back(f"{parts.scheme}://{parts.netloc}", conn)
        if not 200 <= response.status < 300:
            return None
        return Headers(response.msg)

    def get(self, url: str, headers: dict[str, str], also: tuple[int, ...] = ()) -> QuickResponse | None:
        """A GET as ``head`` sends a HEAD over http (and over https verified as the session verifies): the
        response of a 2xx answer whose body is not content-encoded (or of a status in ``also``), to be read
        (``raw.read1``) and closed, else None (the caller sends it the ordinary way). Export sends one per
        container, `ls` its listing: requests' own preparation and urllib3's response machinery cost more
        than the rest of a small container's export, and importing them a third of an `ls`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or proxied(parts.scheme):
            return None
        sent = self._send("GET", parts, url, headers)
        if sent is None:
            return None
        conn, response = sent
        if ((not 200 <= response.status < 300 and response.status not in also)
                or response.getheader("Content-Encoding", "identity") != "identity"):
            conn.close()
            return None
        return QuickResponse(self, f"{parts.scheme}://{parts.netloc}", conn, response, url)

    def _send(self, method: str, parts: SplitResult, url: str,
              headers: dict[str, str]) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse] | None:
        """The request on a kept-alive connection (else a new one) and its response, body unread; None
        when this path does not apply or the connection failed (closed; nothing was answered). A read
        that times out is the error requests gives it."""
        sending = self._headers(headers)
        context = self._tls() if parts.scheme == "https" else None
        if sending is None or (parts.scheme == "https" and context is None):
            return None
        where = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            idle = self._idle.get(where)
            conn = idle.pop() if idle else None
        if conn is None:
            try:
                if context is not None:
                    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port or 443,
                                                       timeout=self._connect_timeout, context=context)
                else:
                    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80,
                                                      timeout=self._connect_timeout)
                conn.connect()
                conn.sock.settimeout(self._read_timeout)
                with self._lock:
                    self.opened += 1
            except (OSError, http.client.HTTPException, ValueError):  # (ValueError: a port out of range)
                if conn is not None:
                    conn.close()
                return None  # nothing was sent: the ordinary way retries, and explains a failure
        try:
            conn.request(method, _target(parts), headers=sending)
            return conn, conn.getresponse()
        except TimeoutError as exc:  # sent, and no answer within the read timeout: requests would not retry
            conn.close()
            raise transport_error(PlainTransportError(exc), url, timeout=self._read_timeout) from None
        except (OSError, http.client.HTTPException):  # (a kept-alive connection the server had closed)
            conn.close()
            return None

    def _headers(self, headers: dict[str, str]) -> dict[str, str] | None:
        """What a request of ``headers`` sends: the session's headers and credentials merged in (None:
        credentials this path cannot send)."""
        key = tuple(f"{k}: {v}" for k, v in headers.items())
        if key in self._plain:
            return self._plain[key]
        config = self._config
        if config is None:
            session = self._session_of()
            base, auth = dict(session.headers), session.auth
        else:
            base, auth = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "keep-alive"}, config.auth
        base["Accept-Encoding"] = "identity"  # (a compressed body goes the ordinary way all the same)
        merged: dict[str, str] | None = {**base, **headers}
        if isinstance(auth, tuple):
            from fcrctl.repository.http.auth import BasicAuth

            auth = BasicAuth(*auth)
        if auth is not None:
            try:
                auth(_Carrier(merged))  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - an auth that wants requests' whole request: requests sends
                merged = None
        with self._lock:
            self._plain[key] = merged
        return merged

    def _tls(self) -> ssl.SSLContext | None:
        """What requests' session verifies servers with: --ca-bundle's file (or directory), else certifi's
        bundle (requests' default: the session reads no REQUESTS_CA_BUNDLE, trust_env being off), and
        the client certificate. None with verification off (--insecure): requests sends those."""
        if self._context is not _UNSET:
            return self._context
        import ssl

        if self._config is None:
            session = self._session_of()
            verify, cert = session.verify, session.cert
        else:
            verify, cert = self._config.verify, self._config.cert
        context = None
        if verify is not False:
            try:
                if verify is True:
                    import certifi

                    context = ssl.create_default_context(cafile=certifi.where())
                elif os.path.isdir(verify):
                    context = ssl.create_default_context(capath=verify)
                else:
                    context = ssl.create_default_context(cafile=verify)
                if cert:
                    context.load_cert_chain(*((cert,) if isinstance(cert, str) else cert))
            except (OSError, ssl.SSLError, ImportError):  # requests explains it
                context = None
        self._context = context
        return context

    def _put_back(self, where: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.setdefault(where, []).append(conn)
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
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.timeout import Timeout

        with self._lock:
            if key in self._templates:
                return self._templates[key]
            session = self._session_of()
            adapter = session.get_adapter(url)
            template = None
            if isinstance(adapter, HTTPAdapter) and not session.proxies:
                prepared = session.prepare_request(requests.Request("HEAD", url, headers=headers))
                pool = adapter.get_connection_with_tls_context(prepared, session.verify, None, session.cert)
                template = _Template(pool, dict(prepared.headers), adapter.max_retries,
                                     Timeout(connect=self._connect_timeout, read=self._read_timeout))
            self._templates[key] = template
            return template


def _target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class QuickResponse:
    """QuickHead.get's answer, read as the listing readers read a requests response: ``status_code``,
    ``headers`` (case-insensitive, repeated headers joined as requests joins them), ``url``,
    ``raw.read1`` and ``raw.read`` (a transport failure raised as PlainTransportError, which
    errors.transport_error explains), ``close`` (the connection goes back to the idle pool when the
    body was read to its end)."""

    _content_consumed = False  # (errors.excerpt reads a bounded start of an error's body through raw.read)

    def __init__(self, owner: QuickHead, where: str, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse, url: str) -> None:
        self._owner, self._where, self._conn, self._response = owner, where, conn, response
        self.status_code = response.status
        self.headers = Headers(response.msg)
        self.url = url
        self.raw = self

    def read1(self, size: int, decode_content: bool = True) -> bytes:
        try:
            return self._response.read1(size)
        except (OSError, http.client.HTTPException) as exc:
            raise PlainTransportError(exc) from exc

    def read(self, size: int, decode_content: bool = True) -> bytes:
        try:
            return self._response.read(size)
        except (OSError, http.client.HTTPException) as exc:
            raise PlainTransportError(exc) from exc

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
            self._owner._put_back(self._where, conn)
        else:
            conn.close()

    def __enter__(self) -> QuickResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Template:
    pool: Any  # urllib3 HTTPSConnectionPool
    headers: dict[str, str]  # the session's headers and auth, merged once
    retries: Any  # urllib3 Retry
    timeout: Any  # urllib3 Timeout
