"""The requests.Session a repository talks through: keep-alive, a pool sized for parallel
work, timeouts, and retries that never repeat a non-idempotent request.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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
