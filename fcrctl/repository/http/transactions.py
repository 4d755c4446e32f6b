"""Transactions of HttpRepository, in the server's style (dialect.transactions):

``url`` (Fedora 4/5): ``POST fcr:tx`` -> ``Location: {base}/tx:ID``; inside it every URL is
``{base}/tx:ID/path``, so a view simply uses that as its base: rdf.to_external/to_internal then
rewrite resource URIs between the transaction's URL space and internal ids in request and
response bodies (serve also accepts normal-space URIs in bodies inside tx:ID). Keepalive ``POST
tx:ID/fcr:tx``, commit/rollback ``POST tx:ID/fcr:tx/fcr:commit|fcr:rollback``.

``atomic`` (Fedora 6): ``POST fcr:tx`` -> ``Location: {base}/fcr:tx/ID``; a view sends
``Atomic-ID: {that URL}`` on every request (HttpRepository._send adds ``_tx_headers``). GET/POST
the URL for status/refresh (``Atomic-Expires``), PUT commits (409 conflict), DELETE rolls back.
A closed or unknown transaction answers 410 (or 404 on some servers): TransactionGone.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import requests

from fcrctl.errors import BadInput, Gone, NotFound, TransactionGone, Unsupported
from fcrctl.repository.base import TransactionInfo, check_tx_id
from fcrctl.repository.http import wire

if TYPE_CHECKING:
    from fcrctl.repository.http.repository import HttpRepository

ATOMIC_ID = "Atomic-ID"


def _atomic(repo: HttpRepository) -> bool:
    return repo.dialect.transactions == "atomic"


def _root(repo: HttpRepository) -> str:
    return getattr(repo, "_plain_base", None) or repo.base_uri


def tx_url(repo: HttpRepository, tx_id: str) -> str:
    """The transaction's own URL (Fedora 6: also the Atomic-ID value)."""
    base = _root(repo)
    return f"{base}/fcr:tx/{tx_id}" if _atomic(repo) else f"{base}/tx:{tx_id}/fcr:tx"


def _request(repo: HttpRepository, method: str, url: str, tx_id: str, **kwargs: Any) -> requests.Response:
    try:
        return repo._send(method, url, what=f"transaction {tx_id}", **kwargs)  # noqa: SLF001 - same backend
    except (Gone, NotFound) as err:
        if isinstance(err, TransactionGone):
            raise
        raise TransactionGone(
            f"transaction {tx_id} is gone at {repo.location} (unknown there, expired, committed or rolled back): "
            "begin a new one with `fcrctl tx begin`"
        ) from None


def _expires(response: requests.Response) -> Any:
    value = response.headers.get("Atomic-Expires") or response.headers.get("Expires")
    return wire.parse_http_date(value) if value else None


def _body(response: requests.Response) -> dict | list | None:
    if "json" not in (response.headers.get("Content-Type") or ""):
        return None
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, or nested beyond reason: no body to read
        return None


def _id_from_location(location: str) -> str:
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    if tail.startswith("tx:"):
        tail = tail[3:]
    return check_tx_id(tail)


def begin(repo: HttpRepository, timeout: float | None) -> TransactionInfo:
    if timeout is not None and not timeout > 0:
        raise BadInput(f"transaction timeout {timeout:g} s: give a positive number of seconds")
    url = _root(repo) + "/fcr:tx"
    if timeout is not None:
        url += f"?timeout={timeout:g}"  # fcrctl serve honours it; Fedora keeps its own
    response = repo._send("POST", url, what="begin transaction")  # noqa: SLF001
    location = response.headers.get("Location")
    if not location:
        raise Unsupported(f"{repo.location} answered POST fcr:tx without a Location: no transactions there")
    return TransactionInfo(_id_from_location(location), "open", _expires(response), [])


def status(repo: HttpRepository, tx_id: str) -> TransactionInfo:
    tx_id = check_tx_id(tx_id)
    response = _request(repo, "GET", tx_url(repo, tx_id), tx_id, ok=(404, 405))
    if response.status_code in (404, 405) and not _atomic(repo):
        # Fedora 4/5 have no status endpoint: the root inside the transaction answers while it is open
        response = _request(repo, "GET", f"{_root(repo)}/tx:{tx_id}/", tx_id)
    elif response.status_code in (404, 405):
        raise TransactionGone(f"transaction {tx_id} is unknown at {repo.location}: begin one with `fcrctl tx begin`")
    body = _body(response)
    changed = body.get("changed") if isinstance(body, dict) else None
    return TransactionInfo(tx_id, "open", _expires(response), changed)


def keepalive(repo: HttpRepository, tx_id: str) -> TransactionInfo:
    tx_id = check_tx_id(tx_id)
    response = _request(repo, "POST", tx_url(repo, tx_id), tx_id)
    return TransactionInfo(tx_id, "open", _expires(response))


def commit(repo: HttpRepository, tx_id: str) -> TransactionInfo:
    tx_id = check_tx_id(tx_id)
    if _atomic(repo):
        _request(repo, "PUT", tx_url(repo, tx_id), tx_id)
    else:
        _request(repo, "POST", tx_url(repo, tx_id) + "/fcr:commit", tx_id)
    return TransactionInfo(tx_id, "committed")


def rollback(repo: HttpRepository, tx_id: str) -> TransactionInfo:
    tx_id = check_tx_id(tx_id)
    if _atomic(repo):
        _request(repo, "DELETE", tx_url(repo, tx_id), tx_id)
    else:
        _request(repo, "POST", tx_url(repo, tx_id) + "/fcr:rollback", tx_id)
    return TransactionInfo(tx_id, "rolled_back")


def listing(repo: HttpRepository) -> list[TransactionInfo]:
    response = repo._send("GET", _root(repo) + "/fcr:tx", what="transaction list", ok=(404, 405, 501))  # noqa: SLF001
    body = _body(response)
    if response.status_code >= 400 or not isinstance(body, list):
        raise Unsupported(f"{repo.location} does not list its transactions (only fcrctl serve does)")
    return [TransactionInfo(t["id"], t.get("status", "open"), _iso(t.get("expires")))
            for t in body if isinstance(t, dict) and "id" in t]


def _iso(value: Any) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def view(repo: HttpRepository, tx_id: str, *, owns_main: bool) -> HttpRepository:
    """A copy of ``repo`` whose every request runs inside the transaction."""
    tx_id = check_tx_id(tx_id)
    status(repo, tx_id)  # TransactionGone now rather than at the first write
    inside = copy.copy(repo)
    inside.transaction_id = tx_id  # type: ignore[attr-defined]
    inside._plain_base = _root(repo)  # type: ignore[attr-defined]  # noqa: SLF001
    if _atomic(repo):
        inside._tx_headers = {ATOMIC_ID: tx_url(repo, tx_id)}  # noqa: SLF001
    else:
        inside.base_uri = f"{_root(repo)}/tx:{tx_id}"
    if not owns_main:
        inside.close = lambda: None  # type: ignore[method-assign]  # the session belongs to repo
    return inside

