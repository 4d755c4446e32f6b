"""What verify-backup --from last found sound in a store, so the next one costs what changed.

A stored backup is a chain of manifests (chain.py); a manifest's lines never change while it
keeps its lines' sha256 (a fold that rewrites one changes it). After a verify --from that found no
problem, the backups directory records, per store location, the links of that chain by id and
lines' sha256 (``.verified-stores.json``). The next verify --from of a backup of that store:

- checks whole (every line validated, every blob it names looked up) each link of its chain
  that the record does not name with the sha256 it has now: what was uploaded (or folded) since;
- reads every recorded link whole too, in C-speed blocks, hashing its lines: a link whose lines
  no longer hash to its recorded sha256 is checked whole (damage or tampering in a manifest is
  always found at once);
- checks the blobs of ``SWEEP_LINES`` lines of the recorded links, from where the last sweep
  stopped, so a blob lost from the store under an unchanged manifest is found within
  lines / SWEEP_LINES verifies (every verify below that many lines); ``--read-data`` reads
  every blob at once.

A record can only make a verify look at fewer blobs, never accept a manifest other than the
one it checked: a link is skipped only if its lines hash, now, to the sha256 recorded for it.
A stale or forged record (another store's, an older chain's, a damaged file) means a whole
verify. It is as trustworthy as the backups directory it lives in.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

RECORD = ".verified-stores.json"
SWEEP_LINES = 4_096  # recorded manifest lines whose blobs are looked up again per verify
_FORMAT = 1
_MAX_STORES = 64  # a record names at most this many stores (the newest verified kept)


def load(home: Path | None, location: str) -> dict[str, Any] | None:
    """The record for ``location``: {"links": {id: sha256}, "sweep": [id, line]}; None if none
    or unreadable."""
    if home is None:
        return None
    try:
        with open(home / RECORD, encoding="utf-8") as fh:
            doc = json.load(fh)
        entry = doc["stores"][location] if doc.get("format") == _FORMAT else None
        if not isinstance(entry, dict) or not isinstance(entry.get("links"), dict):
            return None
        links = {str(k): str(v) for k, v in entry["links"].items()}
        sweep = entry.get("sweep")
        if not (isinstance(sweep, list) and len(sweep) == 2 and isinstance(sweep[0], str)
                and isinstance(sweep[1], int) and sweep[1] >= 0):
            sweep = ["", 0]
        return {"links": links, "sweep": sweep}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(home: Path | None, location: str, links: dict[str, str], sweep: list[Any]) -> None:
    """Record a verify that found no problem (temp file, fsync, rename)."""
    if home is None or not home.is_dir():
        return
    stores: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        with open(home / RECORD, encoding="utf-8") as fh:
            doc = json.load(fh)
        if doc.get("format") == _FORMAT and isinstance(doc.get("stores"), dict):
            stores = dict(doc["stores"])
    stores.pop(location, None)
    stores[location] = {"links": links, "sweep": sweep}
    while len(stores) > _MAX_STORES:
        stores.pop(next(iter(stores)))
    tmp = home / f"{RECORD}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"format": _FORMAT, "stores": stores}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, home / RECORD)
    except OSError:  # a record is an optimisation: a verify that cannot write one still verified
        with contextlib.suppress(OSError):
            tmp.unlink()


def forget(home: Path | None, location: str) -> None:
    """A verify that found a problem: the next one checks everything."""
    record = load(home, location)
    if record is not None:
        save(home, location, {}, ["", 0])
