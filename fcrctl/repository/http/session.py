"""The requests.Session a repository talks through: keep-alive, a pool sized for parallel
work, timeouts, and retries that never repeat a non-idempotent request. (QuickHead, the
http.client path, is plain.py's: a command that needs no more imports no requests.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from fcrctl.repository.http.plain import DEFAULT_TIMEOUT, USER_AGENT, QuickHead, QuickResponse, timeout_of

__all__ = ["DEFAULT_TIMEOUT", "QuickHead", "QuickResponse", "make_session", "pool_stats", "timeout_of"]

POOL_MAXSIZE = 32
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (502, 503, 504)


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
    session.headers["User-Agent"] = USER_AGENT
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
