"""Transactions over HTTP in the server's style: Fedora 4/5 ``tx:ID`` URLs or Fedora 6 ``Atomic-ID``

Which style is dialect.transactions:

``url`` (Fedora 4/5): ``POST fcr:tx`` -> ``Location: {base}/tx:ID``; inside it every URL is
``{base}/tx:ID/path``, so a view simply uses that as its base: rdf.to_external/to_internal then
rewrite resource URIs between the transaction's URL space and internal ids in request and
response bodies (serve also accepts normal-space URIs in bodies inside tx:ID). Keepalive ``POST
tx:ID/fcr:tx``, commit/rollback ``POST tx:ID/fcr:tx/fcr:commit|fcr:rollback``.

``atomic`` (Fedora 6): ``POST fcr:tx`` -> ``Location: {base}/fcr:tx/ID``; a view sends
``Atomic-ID: {that URL}`` on every request (Remote.send adds ``tx_headers``). GET/POST
the URL for status/refresh (``Atomic-Expires``), PUT commits (409 conflict), DELETE rolls back.
A closed or unknown transaction answers 410 (or 404 on some servers): TransactionGone.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fcrctl.errors import BadInput, Gone, NotFound, TransactionGone, Unsupported
from fcrctl.repository.base import TransactionInfo, check_tx_id
from fcrctl.repository.http import wire
from fcrctl.repository.http.remote import Remote

if TYPE_CHECKING:
    import requests

ATOMIC_ID = "Atomic-ID"


class Transactions:
    """begin / status / keepalive / commit / rollback / list, and the Remote a transaction's view uses."""

    def __init__(self, remote: Remote) -> None:
        self._remote = remote

    def _atomic(self) -> bool:
        return self._remote.dialect.transactions == "atomic"

    def tx_url(self, tx_id: str) -> str:
        """The transaction's own URL (Fedora 6: also the Atomic-ID value)."""
        base = self._remote.plain_base
        return f"{base}/fcr:tx/{tx_id}" if self._atomic() else f"{base}/tx:{tx_id}/fcr:tx"

    def _request(self, method: str, url: str, tx_id: str, **kwargs: Any) -> requests.Response:
        try:
            return self._remote.send(method, url, what=f"transaction {tx_id}", **kwargs)
        except (Gone, NotFound) as err:
            if isinstance(err, TransactionGone):
                raise
            raise TransactionGone(
                f"transaction {tx_id} is gone at {self._remote.location} (unknown there, expired, committed or "
                "rolled back): begin a new one with `fcrctl tx begin`"
            ) from None

    def begin(self, timeout: float | None) -> TransactionInfo:
        if timeout is not None and not timeout > 0:
            raise BadInput(f"transaction timeout {timeout:g} s: give a positive number of seconds")
        url = self._remote.plain_base + "/fcr:tx"
        if timeout is not None:
            url += f"?timeout={timeout:g}"  # fcrctl serve honours it; Fedora keeps its own
        response = self._remote.send("POST", url, what="begin transaction")
        location = response.headers.get("Location")
        if not location:
            raise Unsupported(f"{self._remote.location} answered POST fcr:tx without a Location: no transactions there")
        return TransactionInfo(_id_from_location(location), "open", _expires(response), [])

    def status(self, tx_id: str) -> TransactionInfo:
        tx_id = check_tx_id(tx_id)
        response = self._request("GET", self.tx_url(tx_id), tx_id, ok=(404, 405))
        if response.status_code in (404, 405) and not self._atomic():
            # Fedora 4/5 have no status endpoint: the root inside the transaction answers while it is open
            response = self._request("GET", f"{self._remote.plain_base}/tx:{tx_id}/", tx_id)
        elif response.status_code in (404, 405):
            raise TransactionGone(
                f"transaction {tx_id} is unknown at {self._remote.location}: begin one with `fcrctl tx begin`"
            )
        body = _body(response)
        changed = body.get("changed") if isinstance(body, dict) else None
        return TransactionInfo(tx_id, "open", _expires(response), changed)

    def keepalive(self, tx_id: str) -> TransactionInfo:
        tx_id = check_tx_id(tx_id)
        response = self._request("POST", self.tx_url(tx_id), tx_id)
        return TransactionInfo(tx_id, "open", _expires(response))

    def commit(self, tx_id: str) -> TransactionInfo:
        return self._finish(tx_id, "PUT", "/fcr:commit", "committed")

    def rollback(self, tx_id: str) -> TransactionInfo:
        return self._finish(tx_id, "DELETE", "/fcr:rollback", "rolled_back")

    def _finish(self, tx_id: str, atomic_method: str, url_suffix: str, outcome: str) -> TransactionInfo:
        """Commit or roll back: Fedora 6 by the method on the transaction's URL, 4/5 by POST to a sub-URL."""
        tx_id = check_tx_id(tx_id)
        if self._atomic():
            self._request(atomic_method, self.tx_url(tx_id), tx_id)
        else:
            self._request("POST", self.tx_url(tx_id) + url_suffix, tx_id)
        return TransactionInfo(tx_id, outcome)

    def listing(self) -> list[TransactionInfo]:
        url = self._remote.plain_base + "/fcr:tx"
        response = self._remote.send("GET", url, what="transaction list", ok=(404, 405, 501))
        body = _body(response)
        if response.status_code >= 400 or not isinstance(body, list):
            raise Unsupported(f"{self._remote.location} does not list its transactions (only fcrctl serve does)")
        return [TransactionInfo(t["id"], t.get("status", "open"), _iso(t.get("expires")))
                for t in body if isinstance(t, dict) and "id" in t]

    def view(self, tx_id: str, *, owns_main: bool) -> Remote:
        """A copy of the Remote whose every request runs inside the transaction."""
        tx_id = check_tx_id(tx_id)
        self.status(tx_id)  # TransactionGone now rather than at the first write
        if self._atomic():
            return self._remote.inside(tx_headers={ATOMIC_ID: self.tx_url(tx_id)}, owns_session=owns_main)
        return self._remote.inside(base_uri=f"{self._remote.plain_base}/tx:{tx_id}", owns_session=owns_main)


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


def _iso(value: Any) -> Any:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
