"""The requests.Session a repository talks through: keep-alive, a pool sized for parallel
work, timeouts, and retries that never repeat a non-idempotent request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError
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


def make_retry(retries: int, backoff: float, *, streaming_body: bool = False) -> Retry:
    """Retry policy. POST/PATCH/MOVE/COPY are never re-sent once they may have reached the
    server (only failures to connect, which send nothing, are retried for them).

    ``streaming_body``: a PUT whose body is a one-shot stream cannot be replayed, so it is
    retried only when the connection was never made.
    """
    if streaming_body:
        return Retry(total=retries, connect=retries, read=0, status=0, other=0, redirect=5, raise_on_status=False)
    return Retry(
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
    adapter = HTTPAdapter(
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
    preparation: headers, cookies and auth are merged once per header set, then urllib3 sends
    each request through the very pool requests uses (same TLS settings, retries, keep-alive).
    Saves ~0.5 ms of CPU per request, as much as the server needs to answer one.

    ``head`` returns the response headers of a 2xx answer and None for anything else (an error,
    a redirect, a transport failure): the caller then repeats the request the ordinary way,
    which explains the failure.
    """

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session = session
        self._timeout = Timeout(connect=timeout[0], read=timeout[1])
        self._templates: dict[tuple[str, ...], _Template | None] = {}
        self._lock = threading.Lock()

    def head(self, url: str, headers: dict[str, str]) -> Mapping[str, str] | None:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, *(f"{k}: {v}" for k, v in headers.items()))
        template = self._templates.get(key)
        if template is None:
            template = self._template(key, url, headers)
            if template is None:
                return None
        try:
            response = template.pool.urlopen(
                "HEAD",
                (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
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


@dataclass(frozen=True)
class _Template:
    pool: Any  # urllib3 HTTP(S)ConnectionPool
    headers: dict[str, str]  # the session's headers and auth, merged once
    retries: Retry
