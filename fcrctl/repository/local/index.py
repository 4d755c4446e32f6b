"""The SQLite index: a rebuildable cache of what the OCFL storage root holds, its reads and writes

Its schema and connection are in index_sql.py, its copies (pinned, backed up) in index_copies.py.

Tables: resources (one row per resource, tombstones included), membership (direct/indirect
container configs), refs (triples whose object is a repository resource, for inbound reads),
pending (objects a writer was about to change: recovery work after a crash), changes (the
change journal: every object a writer was about to change, in order, so a snapshot re-reads
only those since the last one), invalid
(objects that could not be read, reported to the user), acls (each resource's own ACL: the
headers and content file of ``PATH/fcr:acl``, so access checks need no inventory read).

Long because every read, write, journal entry and bulk load of the index goes through one
class: they share its per-thread connections and its transactions (a reindex nests in one).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from fcrctl.errors import FcrctlError, ReadOnly
from fcrctl.repository.base import NON_RDF_SOURCE
from fcrctl.repository.local.index_bulk import BulkLoad, bulk_load
from fcrctl.repository.local.index_copies import PinnedIndex, backup_to
from fcrctl.repository.local.index_sql import (
    DATA_TABLES,
    INDEXES_KEY,
    INDEXES_REVISION,
    MODIFIED,
    PATH_INDEX,
    REDEFINED,
    SCHEMA,
    SCHEMA_VERSION,
    UPGRADABLE,
    Conn,
    keyed_by_table,
    open_error,
    statements,
)
from fcrctl.repository.local.ocfl import object_rel

JOURNAL_KEY = "journal"  # meta: this journal's identity; a new one whenever its history is cut off
# without snapshots to trim it the journal would grow forever: past this many entries its oldest
# half is dropped (a snapshot older than that then scans), looked at every JOURNAL_CHECK entries
JOURNAL_CAP = 1_000_000
JOURNAL_CHECK = 10_000
FIRST_PAGE = 16  # rows of a listing's first page: `ls | head -1` waits for it (500 rows: 2-15 ms, 16: ~0.2 ms)


@dataclass
class Row:
    path: str
    parent: str | None
    object_id: str
    object_rel: str
    model: str
    deleted: bool
    headers: dict
    content_file: str | None = None  # relative to the storage root
    desc_headers: dict | None = None
    desc_file: str | None = None


@dataclass
class ObjectEntries:
    """Everything the index holds about one OCFL object."""

    object_id: str
    rows: list[Row] = field(default_factory=list)
    membership: list[tuple[str, str, str | None, str | None, str | None, str | None]] = field(default_factory=list)
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # (subject path, predicate, target path)
    acls: list[tuple[str, dict, str | None]] = field(default_factory=list)  # (resource path, headers, content file)


class Values(NamedTuple):
    """One object's entries as the index's rows: strings, not dicts (a reindex's forked readers
    send these: pickled and unpickled ~10x cheaper than ObjectEntries, and the one process
    writing the index has no JSON to make)."""

    object_id: str
    resources: list[tuple]
    membership: list[tuple]
    refs: list[tuple]
    acls: list[tuple]


def values_of(e: ObjectEntries | Values) -> Values:
    if isinstance(e, Values):
        return e
    return Values(
        e.object_id,
        [(r.path, r.parent, r.object_id, r.object_rel, r.model, int(r.deleted), json.dumps(r.headers), r.content_file,
          json.dumps(r.desc_headers) if r.desc_headers else None, r.desc_file, sort_key(r.path)) for r in e.rows],
        [(m[0], e.object_id, m[1], m[2], m[3], m[4], m[5]) for m in e.membership],
        [(s, e.object_id, p, t) for s, p, t in e.refs],
        [(path, e.object_id, json.dumps(h), content) for path, h, content in e.acls])


class Index:
    def __init__(self, db_path: Path, *, readonly: bool = False) -> None:
        self.path = db_path
        self.readonly = readonly
        # one connection per thread: the server may call us from several threads
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        if self._schema_version() != (SCHEMA_VERSION, INDEXES_REVISION):
            # only then: a write on every open would change the file (and its backup copies) for nothing
            self._migrate()

    def _migrate(self) -> None:
        """Bring the index to this schema in one transaction: killed midway, it is left as it
        was (the next open migrates again); a migration by another process is seen inside it."""
        with self.transaction():
            found, revision = self._schema_version()
            if (found, revision) == (SCHEMA_VERSION, INDEXES_REVISION):
                return
            if found not in (None, SCHEMA_VERSION, *UPGRADABLE):
                # an index from another fcrctl version: it is only a cache, start afresh
                for table in (*DATA_TABLES, "meta", "changes"):
                    self.conn.execute(f"DROP TABLE IF EXISTS {table}")
            for name in REDEFINED:  # (made again below, as SCHEMA defines it now)
                self.conn.execute(f"DROP INDEX IF EXISTS {name}")
            for statement in statements(SCHEMA):
                self.conn.execute(statement)
            if not keyed_by_table(self.table_sql("resources")):
                self.conn.execute(PATH_INDEX)
            self.set_meta("schema", SCHEMA_VERSION)
            self.set_meta(INDEXES_KEY, INDEXES_REVISION)

    def _schema_version(self) -> tuple[str | None, str | None]:
        """(schema version, revision of its indexes); (None, None) without a readable meta table."""
        try:
            found = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN ('schema', ?)",
                                           (INDEXES_KEY,)).fetchall())
        except FcrctlError:
            return None, None
        return found.get("schema"), found.get(INDEXES_KEY)

    @property
    def conn(self) -> Conn:
        wrapped = getattr(self._local, "wrapped", None)  # made once per thread: used ~20 times a write
        if wrapped is None:
            wrapped = self._local.wrapped = Conn(self._connection(), self.path)
        return wrapped

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                # Durability comes from the syncfs/fsync calls of the write protocol (store.py).
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as e:
                raise open_error(self.path, e) from e
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def table_sql(self, table: str) -> str:
        """The CREATE statement of a table of the index."""
        return self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (table,)).fetchone()[0]

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- reads ----------------------------------------------------------------------------
    def get(self, path: str) -> Row | None:
        r = self.conn.execute("SELECT * FROM resources WHERE path=?", (path,)).fetchone()
        return _row(r) if r else None

    def has_children(self, path: str) -> bool:
        r = self.conn.execute("SELECT 1 FROM resources WHERE parent=? AND deleted=0 LIMIT 1", (path,)).fetchone()
        return r is not None

    def children(self, path: str, *, recursive: bool = False, include_deleted: bool = False,
                 batch: int = 500, after: str | None = None) -> Iterator[Row]:
        """Rows below ``path``, depth first, fetched in keyset-paginated batches so that huge
        containers stream and callers may write while iterating; ``after`` (a path among the direct
        children, there or not): only those that sort after it, the first page sought to it."""
        live = "" if include_deleted else " AND deleted=0"
        if recursive:
            low = "" if path == "/" else sort_key(path)
            sql = f"SELECT * FROM resources WHERE sort_key > ? AND sort_key < ? AND path != '/'{live} " \
                  "ORDER BY sort_key LIMIT ?"
            args: tuple = (low + "\x02",)
            last = low + "\x01"
        else:  # (with tombstones, each page sorts all of them: resources_parent orders the live ones; no caller asks)
            sql = f"SELECT * FROM resources WHERE sort_key > ? AND parent = ?{live} ORDER BY sort_key LIMIT ?"
            args = (path,)
            last = sort_key(after) if after is not None else ""
        size = min(batch, FIRST_PAGE)
        while True:
            rows = self.conn.execute(sql, (last, *args, size)).fetchall()
            for r in rows:
                yield _row(r)
            if len(rows) < size:
                return
            last, size = rows[-1][10], batch

    def modified_since(self, path: str, model: str, second: str, *, batch: int = 500) -> Iterator[Row]:
        """Live binaries below ``path`` whose lastModifiedDate is at or after ``second``
        (``YYYY-MM-DDTHH:MM:SS``, UTC), in order of that date: read from an index of binaries by
        date, so the cost is what changed since, not the repository's size. Dates not in UTC's
        Z form are kept for the caller to judge. Only binaries are indexed by date."""
        if model != NON_RDF_SOURCE:
            raise ValueError(f"only binaries are indexed by date, not {model}")
        low = "" if path == "/" else sort_key(path)
        # keyset pages over (date, sort_key): each starts with a range search of the index
        sql = (f"SELECT *, {MODIFIED} FROM resources WHERE model = '{NON_RDF_SOURCE}' AND deleted = 0 "
               f"AND {MODIFIED} >= ? AND ({MODIFIED}, sort_key) > (?, ?) "
               f"AND +sort_key > ? AND +sort_key < ? AND path != '/' ORDER BY {MODIFIED}, sort_key LIMIT ?")
        last = (second, "")
        while True:
            rows = self.conn.execute(sql, (last[0], *last, low + "\x01", low + "\x02", batch)).fetchall()
            for r in rows:
                yield _row(r)
            if len(rows) < batch:
                return
            last = (rows[-1][11], rows[-1][10])

    def memberships_for(self, resource: str) -> list[tuple]:
        return self.conn.execute(
            "SELECT container, model, resource, has_member, is_member_of, inserted FROM membership WHERE resource=?",
            (resource,),
        ).fetchall()

    def membership_of(self, container: str) -> tuple | None:
        return self.conn.execute(
            "SELECT container, model, resource, has_member, is_member_of, inserted FROM membership WHERE container=?",
            (container,),
        ).fetchone()

    def refs_to(self, target: str) -> list[tuple[str, str]]:
        return self.conn.execute("SELECT subject, predicate FROM refs WHERE target=?", (target,)).fetchall()

    def deleted(self, path: str) -> bool | None:
        """Whether the resource at ``path`` is a tombstone; None when there is none (no row read)."""
        r = self.conn.execute("SELECT deleted FROM resources WHERE path=?", (path,)).fetchone()
        return None if r is None else bool(r[0])

    def acl(self, path: str) -> tuple[dict, str | None] | None:
        """(headers, content file) of the ACL of the resource at ``path``, if it has one."""
        r = self.conn.execute("SELECT headers, content_file FROM acls WHERE path=?", (path,)).fetchone()
        return (json.loads(r[0]), r[1]) if r else None

    def all_acls(self) -> Iterator[tuple[str, dict, str | None]]:
        for r in self.conn.execute("SELECT path, headers, content_file FROM acls"):
            yield r[0], json.loads(r[1]), r[2]

    def invalid(self) -> list[tuple[str, str | None, str]]:
        return self.conn.execute("SELECT object_rel, object_id, reason FROM invalid ORDER BY object_rel").fetchall()

    def pending(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT object_id FROM pending")]

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM resources").fetchone()[0]

    # -- writes ---------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.readonly:
            raise ReadOnly("the index is read-only")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested uses join the outer one (reindex commits once)."""
        if self._connection().in_transaction:
            yield
            return
        with self.conn as conn:
            conn.execute("BEGIN IMMEDIATE")
            yield

    def mark_pending(self, object_ids: list[str]) -> None:
        """Record write intent. Made durable by the caller's sync before OCFL is touched."""
        self._check_writable()
        with self.transaction():
            self.conn.executemany("INSERT OR IGNORE INTO pending(object_id) VALUES (?)", [(o,) for o in object_ids])
            # journaled with the intent, before OCFL is touched: a crash after the write can
            # never leave a change the journal does not name
            self.conn.executemany("INSERT INTO changes(object_rel) VALUES (?)",
                                  [(object_rel(o),) for o in object_ids])
            seq = self.conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            if seq // JOURNAL_CHECK != (seq - len(object_ids)) // JOURNAL_CHECK:
                floor = int(self.get_meta(JOURNAL_KEY + ".floor") or 0)
                if seq - floor > JOURNAL_CAP:
                    self.trim_journal(seq - JOURNAL_CAP // 2)

    # -- the change journal ------------------------------------------------------------------
    def journal_position(self) -> tuple[str, int]:
        """(this journal's identity, its last sequence number). Positions of two identities
        are not comparable: the history between them is unknown."""
        token = self.get_meta(JOURNAL_KEY)
        if token is None:
            token = self.new_journal()
        row = self.conn.execute("SELECT max(seq) FROM changes").fetchone()
        floor = int(self.get_meta(JOURNAL_KEY + ".floor") or 0)
        return token, max(int(row[0] or 0), floor)

    def changed_since(self, token: str, seq: int) -> set[str] | None:
        """Object directories changed after position (token, seq), or None when the journal
        cannot say (another identity, or trimmed past ``seq``): scan everything."""
        if token != self.get_meta(JOURNAL_KEY) or seq < int(self.get_meta(JOURNAL_KEY + ".floor") or 0):
            return None
        return {r[0] for r in self.conn.execute("SELECT object_rel FROM changes WHERE seq > ?", (seq,))}

    def trim_journal(self, seq: int) -> None:
        """Forget entries up to ``seq`` (a snapshot recorded them); older positions then scan."""
        with self.transaction():
            self.conn.execute("DELETE FROM changes WHERE seq <= ?", (seq,))
            if seq > int(self.get_meta(JOURNAL_KEY + ".floor") or 0):
                self.set_meta(JOURNAL_KEY + ".floor", str(seq))

    def new_journal(self) -> str:
        """Start a new journal identity (the root was rebuilt, swapped, or reindexed: what
        changed is unknown), dropping the old entries."""
        token = uuid.uuid4().hex
        with self.transaction():
            self.conn.execute("DELETE FROM changes")
            self.set_meta(JOURNAL_KEY, token)
            self.set_meta(JOURNAL_KEY + ".floor", "0")
        return token

    def apply(self, entries: list[ObjectEntries] | list[Values], removed: list[str] = (), *,
              clear_pending: list[str] = (), fresh: set[str] = frozenset()) -> None:
        """Replace the rows of the given objects and clear their pending marks, atomically.
        ``fresh``: objects the caller found without resource rows (so without membership or refs
        rows either, which come with them): only an ``invalid`` mark of theirs may be left."""
        with self.transaction():
            for object_id in list(removed) + [e.object_id for e in entries]:
                if object_id in fresh:
                    self.conn.execute("DELETE FROM invalid WHERE object_id=?", (object_id,))
                else:
                    self._forget(object_id)
            self._insert(entries)
            if clear_pending:
                self.conn.executemany("DELETE FROM pending WHERE object_id=?", [(o,) for o in clear_pending])

    def _forget(self, object_id: str) -> None:
        for table in ("resources", "membership", "refs", "acls"):
            self.conn.execute(f"DELETE FROM {table} WHERE object_id=?", (object_id,))
        self.conn.execute("DELETE FROM invalid WHERE object_id=?", (object_id,))

    def add(self, entries: list[ObjectEntries] | list[Values], *, unseen: bool = False) -> None:
        """apply() for many objects read by a reindex, one statement per table for all: only
        the few objects indexed already (an id found in two directories) are forgotten first;
        ``unseen``: the caller knows none is (nothing is looked up)."""
        with self.transaction():
            if unseen:
                self._insert(entries)
                return
            ids = [e.object_id for e in entries]
            marks = ",".join("?" * len(ids))
            for (object_id,) in self.conn.execute(
                    f"SELECT object_id FROM resources WHERE object_id IN ({marks}) UNION "
                    f"SELECT object_id FROM acls WHERE object_id IN ({marks}) UNION "
                    f"SELECT object_id FROM invalid WHERE object_id IN ({marks})", ids * 3).fetchall():
                self._forget(object_id)
            self._insert(entries)

    def _insert(self, entries: list[ObjectEntries] | list[Values]) -> None:
        values = [values_of(e) for e in entries]
        self.conn.executemany("INSERT OR REPLACE INTO resources VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                              [row for v in values for row in v.resources])
        for table, marks, replace in (("membership", 7, " OR REPLACE"), ("refs", 4, ""), ("acls", 4, " OR REPLACE")):
            rows = [row for v in values for row in getattr(v, table)]
            if rows:
                self.conn.executemany(f"INSERT{replace} INTO {table} VALUES ({','.join('?' * marks)})", rows)

    def bulk_load(self) -> contextlib.AbstractContextManager[BulkLoad]:
        """One transaction in which a reindex adds every row to the emptied index (index_bulk.py)."""
        return bulk_load(self)

    def mark_invalid(self, object_rel: str, object_id: str | None, reason: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO invalid VALUES (?,?,?)", (object_rel, object_id, reason))

    def clear_all(self) -> None:
        with self.transaction():
            for table in DATA_TABLES:
                self.conn.execute(f"DELETE FROM {table}")
            self.new_journal()  # a reindex: whatever changed the root outside fcrctl is not journaled

    def copy_to(self, target: Path) -> None:
        """A consistent copy of the whole database (SQLite's online backup), synced to disk."""
        backup_to(self._connection(), target)

    def pin(self) -> PinnedIndex:
        """The index as of now, readable (and copyable) later while writers go on."""
        return PinnedIndex(self.path)

    def load_from(self, source: Path) -> int | None:
        """Replace every table's rows with those of a copy, in one transaction. None (nothing
        changed) when the copy is of another schema version or unreadable."""
        conn = self._connection()
        try:
            conn.execute("ATTACH DATABASE ? AS snap", (str(source),))
        except sqlite3.Error:
            return None
        try:
            row = conn.execute("SELECT value FROM snap.meta WHERE key='schema'").fetchone()
            if row is None or row[0] not in (SCHEMA_VERSION, *UPGRADABLE):
                return None
            with self.transaction():
                for table in DATA_TABLES:
                    self.conn.execute(f"DELETE FROM main.{table}")
                    self.conn.execute(f"INSERT INTO main.{table} SELECT * FROM snap.{table}")
                self.new_journal()  # the root was swapped: the journal describes the old one
                self.set_meta("built", datetime.now(UTC).isoformat())
            return self.count()
        except sqlite3.Error:
            return None
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("DETACH DATABASE snap")


def sort_key(path: str) -> str:
    return "" if path == "/" else path.replace("/", "\x01")


def _row(r: tuple) -> Row:
    return Row(
        path=r[0], parent=r[1], object_id=r[2], object_rel=r[3], model=r[4], deleted=bool(r[5]),
        headers=json.loads(r[6]), content_file=r[7], desc_headers=json.loads(r[8]) if r[8] else None, desc_file=r[9],
    )
