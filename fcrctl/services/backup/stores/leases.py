"""Leases: the lock of a store that is not a local directory (no flock across machines).

Protocol (docs/backup-store.md, "Concurrent uploads and deletes"): a process that uploads puts
``locks/<random>.shared.json``, one that deletes (delete-backup, prune-backups) puts
``locks/<random>.exclusive.json``; each then lists ``locks/``. An upload that sees a live
exclusive lease, or a delete that sees any other live lease, removes its own, waits and tries
again. Both write before they look, and every store kind here reads its own writes (S3, Azure
Blob, WebDAV are strongly consistent), so of two racing processes at least one sees the other:
a delete never runs while an upload that counts on finding a blob is running.

A lease holds ``expires`` (its holder's clock + TTL) and is re-put every TTL/3 while held; a
lease past its expiry is a crashed holder's and is ignored (and removed by deletes). Partial
writes a store keeps (WebDAV tmp/ files, named for their writer's lease; S3 multipart uploads,
which name no writer) are a killed writer's when their lease is not live (:func:`live_ids`), or
when no other lease is (:func:`others_live`); the next upload or prune removes them once stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fcrctl.errors import FcrctlError, Locked
from fcrctl.services.backup.stores.base import BackupStore

PREFIX = "locks/"
TTL = 300.0  # seconds a lease lives without being refreshed
DEFAULT_WAIT = 900.0  # seconds a process waits for others' leases to go
STALE_AGE = TTL  # a partial write of no live lease, untouched this long, is a killed writer's
LEGACY_AGE = 86_400.0  # a partial write that names no lease (an older fcrctl's): stale after a day


def _doc(exclusive: bool, now: float) -> bytes:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "exclusive": exclusive,
                       "created": now, "expires": now + TTL}).encode()


def lease_id(key: str) -> str:
    """The id of lease ``locks/<id>.<kind>.json`` (what a holder's partial writes are named by)."""
    return key[len(PREFIX):].split(".", 1)[0]


def live_ids(store: BackupStore, own: str | None) -> set[str]:
    """Ids of every live lease, ``own`` (a key) included."""
    now = time.time()
    found = {lease_id(k) for k, _ in _live_others(store, own or "", now)}
    return found | ({lease_id(own)} if own else set())


def others_live(store: BackupStore, own: str | None) -> bool:
    """Whether a live lease other than ``own`` (a key) is held."""
    return bool(_live_others(store, own or "", time.time()))


def _live_others(store: BackupStore, own: str, now: float) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key in store.list(PREFIX):
        if key == own or not key.endswith((".shared.json", ".exclusive.json")):
            continue
        try:
            with store.get(key) as fh:
                doc = json.loads(fh.read(4096))
            expires = float(doc["expires"])
        except FcrctlError:
            continue  # released meanwhile
        except (ValueError, KeyError, TypeError, RecursionError):
            doc, expires = {}, 0.0  # unreadable: a foreign or broken object, not a lease anyone holds
        if expires > now:
            out.append((key, doc))
    return out


@contextlib.contextmanager
def lease(store: BackupStore, *, exclusive: bool, wait: float = DEFAULT_WAIT) -> Iterator[str]:
    """Hold a lease while the block runs; yields its key."""
    key = f"{PREFIX}{uuid.uuid4().hex}.{'exclusive' if exclusive else 'shared'}.json"
    deadline = time.monotonic() + wait
    delay = 0.2
    while True:
        now = time.time()
        store.put(key, iter([_doc(exclusive, now)]))
        others = _live_others(store, key, now)
        blocking = others if exclusive else [(k, d) for k, d in others if k.endswith(".exclusive.json")]
        if not blocking:
            break
        store.delete(key)
        if time.monotonic() >= deadline:
            k, d = blocking[0]
            what = "a delete" if d.get("exclusive") else "an upload"
            who = f"{what} on {d.get('host', '?')} (pid {d.get('pid', '?')})"
            raise Locked(f"backup store {store.location} is in use by {who}, lease {k}: try again when it is done "
                         f"(a lease of a process that died expires {int(TTL)} s after its last refresh)")
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 5.0)
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(TTL / 3):
            with contextlib.suppress(FcrctlError):  # the next refresh tries again; expiry is far
                store.put(key, iter([_doc(exclusive, time.time())]))

    refresher = threading.Thread(target=refresh, name="fcrctl-lease", daemon=True)
    refresher.start()
    try:
        if exclusive:
            _remove_expired(store, key)
        yield key
    finally:
        stop.set()
        refresher.join(5)
        with contextlib.suppress(FcrctlError):
            store.delete(key)


@contextlib.contextmanager
def recorded(store: Any, *, exclusive: bool, wait: float = DEFAULT_WAIT) -> Iterator[None]:
    """:func:`lease`, its key kept as ``store._lease`` while held: a store that cleans up after
    killed writers (``clean``) must know which lease is its own, to spare what it is writing."""
    with lease(store, exclusive=exclusive, wait=wait) as key:
        store._lease = key  # noqa: SLF001 - the store's own field, set for it here
        try:
            yield
        finally:
            store._lease = None  # noqa: SLF001


def _remove_expired(store: BackupStore, own: str) -> None:
    """Leases of crashed holders (held exclusively: nobody else is running)."""
    live = {k for k, _ in _live_others(store, own, time.time())}
    for key in list(store.list(PREFIX)):
        if key != own and key not in live and key.endswith((".shared.json", ".exclusive.json")):
            with contextlib.suppress(FcrctlError):
                store.delete(key)
