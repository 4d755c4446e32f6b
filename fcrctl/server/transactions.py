"""Transactions over HTTP, both styles, on any repository with ``capabilities.transactions``.

Fedora 4/5 (URL style)                          Fedora 6 (Atomic-ID)
``POST fcr:tx``             201, Location tx:ID  ``POST fcr:tx``            201, Location fcr:tx/ID
``POST tx:ID/fcr:tx``       204 keepalive        ``POST fcr:tx/ID``         204 refresh
``GET  tx:ID/fcr:tx``       200 status (JSON)    ``GET  fcr:tx/ID``         200 status (JSON)
``POST tx:ID/fcr:tx/fcr:commit``   204           ``PUT  fcr:tx/ID``         204 commit (409 conflict)
``POST tx:ID/fcr:tx/fcr:rollback`` 204           ``DELETE fcr:tx/ID``       204 rollback
``{any} tx:ID/path``        inside it            ``Atomic-ID: <url or id>`` header on any request

Begin and refresh answer with ``Expires`` (URL style) or ``Atomic-Expires`` (Fedora 6); a closed
or unknown transaction is 410. ``GET fcr:tx`` lists open transactions (fcrctl's own addition).
Both styles are accepted whatever dialect the server advertises; the dialect only picks the
form of the Location that begin returns.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.http import http_date
from werkzeug.wrappers import Response

from fcrctl.errors import BadInput, TransactionGone
from fcrctl.repository.base import TransactionInfo
from fcrctl.server import routing as rt
from fcrctl.server.context import Context

Route = Callable[[str, str, Callable[[Context], Response]], None]

ATOMIC_ID = "Atomic-ID"


class Views:
    """Open transaction views, kept between requests (opening one per request costs a few ms)."""

    def __init__(self) -> None:
        self._views: dict[str, Any] = {}
        self._owners: dict[str, str | None] = {}  # tx id -> the user who began it through this server
        self._lock = threading.Lock()

    def own(self, tx_id: str, user: str | None) -> None:
        with self._lock:
            self._owners[tx_id.lower()] = user

    def check_owner(self, ctx: Context, tx_id: str) -> None:
        """A transaction belongs to the user who began it (admins excepted), as in Fedora 6.
        Anyone else is told it does not exist (410), so transaction ids cannot be probed.
        Transactions begun elsewhere (the CLI, before a restart) have no known owner: admins only."""
        if ctx.user is None or ctx.admin:
            return  # no --auth-file: every client is the operator
        with self._lock:
            owner = self._owners.get(tx_id.lower())
        if owner != ctx.user:
            raise TransactionGone(f"transaction {tx_id} is not open for user {ctx.user}")

    def visible(self, ctx: Context, infos: list[TransactionInfo]) -> list[TransactionInfo]:
        if ctx.user is None or ctx.admin:
            return infos
        with self._lock:
            return [i for i in infos if self._owners.get(i.id.lower()) == ctx.user]

    def get(self, repo: Any, tx_id: str) -> Any:
        try:
            repo.keepalive_transaction(tx_id)  # TransactionGone unless open; a request is activity
        except TransactionGone:
            self.drop(tx_id)
            raise
        with self._lock:
            view = self._views.get(tx_id.lower())
            if view is None:
                view = self._views[tx_id.lower()] = repo.in_transaction(tx_id)
            return view

    def drop(self, tx_id: str, *, closed: bool = False) -> None:
        with self._lock:
            view = self._views.pop(tx_id.lower(), None)
            if closed:
                self._owners.pop(tx_id.lower(), None)
        if view is not None:
            view.close()


def register(route: Route) -> Callable[[Context], Context]:
    """Add the transaction endpoints through ``route`` (the app's); returns the binder that runs a
    request inside the transaction it names (tx:ID prefix or Atomic-ID header)."""
    views = Views()
    route(rt.TX, "POST", lambda ctx: _begin_or_refresh(ctx, views))
    route(rt.TX, "GET", lambda ctx: _status_or_list(ctx, views))
    route(rt.TX_COMMIT, "POST", lambda ctx: _close(ctx, views, commit=True))
    route(rt.TX_ROLLBACK, "POST", lambda ctx: _close(ctx, views, commit=False))
    route(rt.TX_ID, "GET", lambda ctx: _status(ctx, views))
    route(rt.TX_ID, "HEAD", lambda ctx: _status(ctx, views))
    route(rt.TX_ID, "POST", lambda ctx: _refresh(ctx, views))
    route(rt.TX_ID, "PUT", lambda ctx: _close(ctx, views, commit=True))
    route(rt.TX_ID, "DELETE", lambda ctx: _close(ctx, views, commit=False))
    return lambda ctx: _bind(ctx, views)


def atomic_id(value: str, base_url: str) -> str:
    """The transaction id of an Atomic-ID header: Fedora 6 sends the transaction's URL, which
    must then be this server's ``{base}/fcr:tx/ID`` (an id on another host is not ours)."""
    value = value.strip().rstrip("/")
    if "/" in value or ":" in value:
        parts, base = urlsplit(value), urlsplit(base_url)
        same = (parts.scheme.lower(), parts.netloc.lower()) == (base.scheme.lower(), base.netloc.lower())
        if not same or not parts.path.startswith(base.path.rstrip("/") + "/fcr:tx/") or parts.query:
            raise BadInput(f"{ATOMIC_ID} {value[:200]} is not a transaction of this server ({base_url}/fcr:tx/ID)")
        value = parts.path.rsplit("/", 1)[-1]
    if not value:
        raise BadInput(f"empty {ATOMIC_ID} header")
    return value


def _bind(ctx: Context, views: Views) -> Context:
    """Run the request inside its transaction (URL prefix or Atomic-ID header)."""
    tx_id = ctx.target.tx
    header = ctx.request.headers.get(ATOMIC_ID)
    if tx_id is None and header:
        tx_id = atomic_id(header, ctx.plain_base_url or ctx.base_url)
    if tx_id is None or ctx.target.endpoint in (rt.TX, rt.TX_COMMIT, rt.TX_ROLLBACK, rt.TX_ID):
        return ctx  # transaction control requests act on the repository itself
    views.check_owner(ctx, tx_id)
    view = views.get(ctx.repo, tx_id)
    if ctx.target.tx is None:
        return dataclasses.replace(ctx, repo=view)
    plain = ctx.base_url
    return dataclasses.replace(ctx, repo=view, base_url=f"{plain}/tx:{tx_id}", plain_base_url=plain)


def _tx_of(ctx: Context) -> str:
    tx_id = ctx.target.tx if ctx.target.endpoint != rt.TX_ID else ctx.target.label
    if tx_id is None and ctx.request.headers.get(ATOMIC_ID):
        tx_id = atomic_id(ctx.request.headers[ATOMIC_ID], ctx.plain_base_url or ctx.base_url)
    if tx_id is None:
        raise BadInput("no transaction named: use /tx:ID/fcr:tx, /fcr:tx/ID or an Atomic-ID header")
    return tx_id


def _expiry_headers(ctx: Context, info: TransactionInfo, resp: Response) -> None:
    if info.expires is None:
        return
    if ctx.target.tx is not None or (ctx.config.dialect != "fedora6" and ctx.target.endpoint != rt.TX_ID):
        resp.headers["Expires"] = http_date(info.expires)
    else:
        resp.headers["Atomic-Expires"] = http_date(info.expires)


def _location(ctx: Context, tx_id: str, *, url_style: bool) -> str:
    return f"{ctx.base_url}/tx:{tx_id}" if url_style else f"{ctx.base_url}/fcr:tx/{tx_id}"


def _json(info: TransactionInfo | list[TransactionInfo], status: int = 200) -> Response:
    body = [i.to_json() for i in info] if isinstance(info, list) else info.to_json()
    return Response(json.dumps(body) + "\n", status=status, content_type="application/json")


def _begin_or_refresh(ctx: Context, views: Views) -> Response:
    if ctx.target.tx is not None:
        return _refresh(ctx, views)
    timeout = ctx.request.args.get("timeout")
    try:
        seconds = float(timeout) if timeout else None
    except ValueError:
        raise BadInput(f"timeout={timeout!r} is not a number of seconds") from None
    info = ctx.repo.begin_transaction(timeout=seconds)  # type: ignore[attr-defined]
    views.own(info.id, ctx.user)
    url_style = ctx.config.dialect != "fedora6"
    resp = _json(info, 201)
    resp.headers["Location"] = _location(ctx, info.id, url_style=url_style)
    _expiry_headers(ctx, info, resp)
    return resp


def _refresh(ctx: Context, views: Views) -> Response:
    tx_id = _tx_of(ctx)
    views.check_owner(ctx, tx_id)
    info = ctx.repo.keepalive_transaction(tx_id)  # type: ignore[attr-defined]
    resp = Response(status=204)
    resp.headers["Location"] = _location(ctx, tx_id, url_style=ctx.target.tx is not None)
    _expiry_headers(ctx, info, resp)
    return resp


def _status(ctx: Context, views: Views) -> Response:
    tx_id = _tx_of(ctx)
    views.check_owner(ctx, tx_id)
    info = ctx.repo.transaction_status(tx_id)  # type: ignore[attr-defined]
    if info.status != "open":
        raise TransactionGone(f"transaction {info.id} is {info.status.replace('_', ' ')}")
    resp = _json(info)
    _expiry_headers(ctx, info, resp)
    return resp


def _status_or_list(ctx: Context, views: Views) -> Response:
    if ctx.target.tx is not None or ctx.request.headers.get(ATOMIC_ID):
        return _status(ctx, views)
    return _json(views.visible(ctx, ctx.repo.transactions()))  # type: ignore[attr-defined]


def _close(ctx: Context, views: Views, *, commit: bool) -> Response:
    tx_id = _tx_of(ctx)
    views.check_owner(ctx, tx_id)
    views.drop(tx_id)
    if commit:
        ctx.repo.commit_transaction(tx_id)  # type: ignore[attr-defined]
    else:
        ctx.repo.rollback_transaction(tx_id)  # type: ignore[attr-defined]
    views.drop(tx_id, closed=True)  # only now: a commit refused (409) leaves it open, still its owner's
    return Response(status=204)
