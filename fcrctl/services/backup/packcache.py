"""Which blobs a store's packs hold, cached beside the backups so that an upload or a verify asks the
store only for the pack indexes written since the last one (issue 14), not every index.

Reading every ``index/*.json`` to learn what a store holds cost an upload after 100 changes and a
verify --from of an unchanged snapshot O(packed blobs) of JSON each. A pack is named by the sha256
of its bytes and its index is written once, so what an index says never changes: this keeps it, in
SQLite (``packs.sqlite`` in the store's reference cache directory, refcache.py), and brings it up to
the store's listing of ``index/`` (with sizes) on each use: the indexes listed and not cached are
read and added, the cached ones no longer listed, or listed with another size (rewritten: damage or
tampering), are forgotten (read again if listed), all in one transaction. So it answers for exactly
the packs the store's listing names, as reading them all would. A cache that cannot be opened or
read is not used: the indexes are read as before.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

from fcrctl.services.backup import packs
from fcrctl.services.backup.refcache import RefCache
from fcrctl.services.backup.stores.base import BackupStore

FILE = "packs.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (pack TEXT PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (digest BLOB NOT NULL, pack TEXT NOT NULL, offset INTEGER NOT NULL,
    length INTEGER NOT NULL, PRIMARY KEY (digest, pack)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_pack ON blobs (pack);
"""


class Packed:
    """``digest in packed`` and ``packed.locate(digest)`` for the packs the store lists now."""

    def __init__(self, db: sqlite3.Connection, present: set[str]) -> None:
        self._db = db
        self._present = present
        self._lock = threading.Lock()

    def locate(self, digest: str) -> packs.Location | None:
        try:
            key = bytes.fromhex(digest)
        except ValueError:
            return None
        with self._lock:
            rows = self._db.execute("SELECT pack, offset, length FROM blobs WHERE digest = ?", (key,)).fetchall()
        for pack, offset, length in rows:
            if pack in self._present:
                return packs.Location(pack, int(offset), int(length))
        return None

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.locate(digest) is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def packed(store: BackupStore, home: Path | None) -> Packed | dict[str, packs.Location]:
    """What the store's packs hold: from the cache in ``home`` brought up to date, or (no home, or
    a cache that cannot be used) every index read."""
    cache = RefCache.of(home, store.location)
    if cache is not None:
        with contextlib.suppress(sqlite3.Error, OSError, ValueError):  # a damaged index: read_index says so
            return _synced(store, cache.root / FILE)
    return packs.read_index(store)


def note(store: BackupStore, home: Path | None, written: list[tuple[str, list[tuple[str, int, int]], int]]) -> None:
    """Add packs this process wrote (and indexed) to an existing cache; the next sync need not read
    their indexes. Never creates a cache, and a failure only leaves them to be read."""
    cache = RefCache.of(home, store.location)
    if cache is None or not written or not (cache.root / FILE).exists():
        return
    with contextlib.suppress(sqlite3.Error, OSError, ValueError):
        db = sqlite3.connect(cache.root / FILE, timeout=60, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            for pack, blobs, size in written:
                if db.execute("SELECT 1 FROM packs WHERE pack = ?", (pack,)).fetchone():
                    continue
                db.executemany("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)",
                               ((bytes.fromhex(d), pack, o, n) for d, o, n in blobs))
                db.execute("INSERT INTO packs VALUES (?, ?)", (pack, size))
            db.execute("COMMIT")
        finally:
            db.close()


def _synced(store: BackupStore, path: Path) -> Packed:
    from fcrctl.services.backup.sweep import _index

    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
    try:
        db.executescript(_SCHEMA)
        sized = getattr(store, "list_sizes", None)
        keys = sized("index/") if callable(sized) else ((k, -1) for k in store.list("index/"))
        listed = {k[len("index/"):-len(".json")]: n for k, n in keys if k.endswith(".json")}
        db.execute("BEGIN IMMEDIATE")
        cached = {pack for pack, n in db.execute("SELECT pack, size FROM packs") if listed.get(pack) == n}
        for pack in {row[0] for row in db.execute("SELECT pack FROM packs")} - cached:
            db.execute("DELETE FROM blobs WHERE pack = ?", (pack,))
            db.execute("DELETE FROM packs WHERE pack = ?", (pack,))
        present = set(listed) & cached
        for pack in sorted(set(listed) - cached):
            blobs = _index(store, pack)
            if blobs is None:
                continue  # deleted since the listing
            db.executemany("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)",
                           ((bytes.fromhex(d), pack, o, n) for d, o, n in blobs))
            db.execute("INSERT INTO packs VALUES (?, ?)", (pack, listed[pack]))
            present.add(pack)
        db.execute("COMMIT")
        return Packed(db, present)
    except BaseException:
        db.close()
        raise
