"""What one transaction has touched, kept in the transaction's own ``index.sqlite``.

``touched`` has a row per object the transaction wrote: the committed head it was based on
(None: the object did not exist), whether it was purged, and for an object NEW in the
transaction its whole staged head state (logical path -> sha512). New objects are never built
as OCFL folders while the transaction is open (7-9 mkdirs and ~11 file creates each, ~2 ms on
slow disks): their content goes to ``blobs`` (small content inline, spooled uploads as files
``blobs/<sha512>`` beside it) and the OCFL object is built once, at commit. Objects that exist
in ``ocfl-root`` are still staged as OCFL copies under ``root/`` (see transactions.py).

``history`` keeps what a commit must not fold into one version: once an object has a dated write
(``LocalRepository.dated``, as `fcrctl import` writes a source's versions), each of its staged
versions, with its date: a new object's every state, an existing object's staged version ids.

The index rows of a staged new object name their content files ``@blob/<sha512>``; readers
get a real file through :meth:`Staging.blob_path`, which writes inline content out on first use.
Rows, touched records and blobs of one write change in one SQLite transaction, so another
process writing in the same transaction never sees half of a write.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index

SCHEMA = """
CREATE TABLE IF NOT EXISTS touched (
    object_id TEXT PRIMARY KEY, object_rel TEXT NOT NULL, base TEXT, purge INTEGER NOT NULL DEFAULT 0,
    state TEXT, created TEXT, message TEXT
);
CREATE INDEX IF NOT EXISTS touched_rel ON touched(object_rel);
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, object_id TEXT NOT NULL, version TEXT, state TEXT, created TEXT,
    message TEXT
);
CREATE INDEX IF NOT EXISTS history_object ON history(object_id);
"""
BLOB = "@blob"  # content_file prefix in the index rows of staged new objects


@dataclass
class Staged:
    """One staged version kept apart for the commit (see ``history``)."""

    version: str | None  # its id in the staged copy of an existing object
    state: dict[str, str] | None  # a new object's state (logical -> sha512)
    created: str | None  # its date; None: the commit's
    message: str | None


@dataclass
class Touched:
    object_id: str
    base: str | None  # committed head when first touched; None: the object did not exist
    purge: bool = False
    state: dict[str, str] | None = None  # staged head state of a new object (logical -> sha512)
    created: str | None = None
    message: str | None = None

    @property
    def is_new(self) -> bool:
        """Staged as a record (not an OCFL copy): the object did not exist and is not purged."""
        return self.state is not None and not self.purge


_COLUMNS = "object_id, base, purge, state, created, message"


def _touched(r: tuple) -> Touched:
    return Touched(r[0], r[1], bool(r[2]), json.loads(r[3]) if r[3] else None, r[4], r[5])


class Staging:
    """The touched objects and staged blobs of one transaction (``tx_dir``), over its index."""

    def __init__(self, tx_dir: Path, index: Index) -> None:
        self.dir = tx_dir
        self.index = index
        self.blobs_dir = tx_dir / "blobs"
        self._have_blobs_dir = False

    @staticmethod
    def create_schema(index: Index) -> None:
        index.conn.executescript(SCHEMA)

    # -- touched objects ----------------------------------------------------------------------
    def get(self, object_id: str) -> Touched | None:
        r = self.index.conn.execute(f"SELECT {_COLUMNS} FROM touched WHERE object_id=?", (object_id,)).fetchone()
        return _touched(r) if r else None

    def by_rel(self, object_rel: str) -> Touched | None:
        r = self.index.conn.execute(f"SELECT {_COLUMNS} FROM touched WHERE object_rel=?", (object_rel,)).fetchone()
        return _touched(r) if r else None

    def all(self) -> Iterator[Touched]:
        for r in self.index.conn.execute(f"SELECT {_COLUMNS} FROM touched ORDER BY object_id").fetchall():
            yield _touched(r)

    def put(self, t: Touched) -> None:
        self.index.conn.execute(
            "INSERT OR REPLACE INTO touched VALUES (?,?,?,?,?,?,?)",
            (t.object_id, ocfl.object_rel(t.object_id), t.base, int(t.purge),
             json.dumps(t.state) if t.state is not None else None, t.created, t.message),
        )

    # -- versions kept apart -------------------------------------------------------------------
    def history(self, object_id: str) -> list[Staged]:
        rows = self.index.conn.execute(
            "SELECT version, state, created, message FROM history WHERE object_id=? ORDER BY seq", (object_id,))
        return [Staged(r[0], json.loads(r[1]) if r[1] else None, r[2], r[3]) for r in rows.fetchall()]

    def has_history(self, object_id: str) -> bool:
        return self.index.conn.execute("SELECT 1 FROM history WHERE object_id=? LIMIT 1",
                                       (object_id,)).fetchone() is not None

    def add_history(self, object_id: str, staged: Staged) -> None:
        self.index.conn.execute(
            "INSERT INTO history (object_id, version, state, created, message) VALUES (?,?,?,?,?)",
            (object_id, staged.version, json.dumps(staged.state) if staged.state is not None else None,
             staged.created, staged.message))

    def drop_history(self, object_id: str) -> None:
        self.index.conn.execute("DELETE FROM history WHERE object_id=?", (object_id,))

    # -- blobs ------------------------------------------------------------------------------------
    def add(self, value: ocfl.NewFile) -> str:
        """Keep a NewFile's content (bytes inline, a spooled file moved under blobs/); its sha512."""
        digest = value.sha512()
        if value.data is not None:
            self.index.conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (digest, value.data))
            return digest
        assert value.source is not None
        target = self._blob_file(digest)
        if os.path.exists(target):
            os.unlink(value.source)
        else:
            os.replace(value.source, target)
        self.index.conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, NULL)", (digest,))
        return digest

    def has(self, digest: str) -> bool:
        return self.index.conn.execute("SELECT 1 FROM blobs WHERE digest=?", (digest,)).fetchone() is not None

    def data(self, digest: str) -> bytes | None:
        """Inline content, or None when the blob is a file (see :meth:`blob_path`)."""
        r = self.index.conn.execute("SELECT data FROM blobs WHERE digest=?", (digest,)).fetchone()
        if r is None:
            raise CorruptData(f"transaction staging {self.dir} lacks content {digest[:16]}…: roll it back")
        return r[0]

    def blob_path(self, digest: str) -> Path:
        """A file holding the blob (inline content is written out on first use, atomically, so
        readers in several processes may race)."""
        path = self._blob_file(digest)
        if os.path.exists(path):
            return path
        data = self.data(digest)
        if data is None:
            raise CorruptData(f"transaction staging {self.dir}: content file {path} is missing: roll it back")
        tmp = path.with_name(f".{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def new_file(self, digest: str, tmp: Path) -> ocfl.NewFile:
        """The blob as content for a commit (a file blob is linked into ``tmp``: the staging stays
        whole if that commit fails)."""
        data = self.data(digest)
        if data is not None:
            return ocfl.NewFile(data=data, digest=digest)
        link = tmp / f"tx-{uuid.uuid4().hex}"
        try:
            os.link(self._blob_file(digest), link)
        except FileNotFoundError as e:
            raise CorruptData(f"transaction staging {self.dir}: content {digest[:16]}… is missing: roll it back") from e
        return ocfl.NewFile(source=link, digest=digest)

    def _blob_file(self, digest: str) -> Path:
        if not self._have_blobs_dir:
            self.blobs_dir.mkdir(exist_ok=True)
            self._have_blobs_dir = True
        return self.blobs_dir / digest


def record_inventory(t: Touched, user: tuple[str, str] | None, content_path) -> dict:
    """A one-version inventory describing a staged new object (``content_path(digest)`` names
    each content file); nothing is written."""
    assert t.state is not None
    state: dict[str, list[str]] = {}
    for logical, digest in sorted(t.state.items()):
        state.setdefault(digest, []).append(logical)
    entry: dict = {"created": t.created or ocfl.now_iso(), "state": state}
    if t.message:
        entry["message"] = t.message
    if user:
        entry["user"] = {"name": user[0], "address": user[1]}
    return {
        "id": t.object_id, "type": ocfl.INVENTORY_TYPE, "digestAlgorithm": "sha512", "head": "v1",
        "contentDirectory": "content", "manifest": {d: [content_path(d)] for d in state}, "versions": {"v1": entry},
    }
