"""The index's SQLite layer: its schema, and a connection whose sqlite3 errors become fcrctl errors"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from fcrctl.errors import CorruptData, FcrctlError, Locked, NoSpace, ReadOnly
from fcrctl.repository.base import NON_RDF_SOURCE

SCHEMA_VERSION = "5"
UPGRADABLE = ("4",)  # earlier versions whose tables are these: running SCHEMA adds what they lack
# indexes added to schema 5 since (meta INDEXES_KEY): 1, object_id on membership and invalid, which
# every write of an object deletes from by object_id (they were scanned); 2, resources_parent holds
# deleted (a container's live children were found by reading past its tombstones: `info` and `ls`'s
# first page of a container read every tombstone that sorts before its first live child). Not a new
# SCHEMA_VERSION: an fcrctl of schema 5 takes any other version for a foreign index and rebuilds it
# from the OCFL root (minutes at 1M objects), where SQLite keeps indexes it does not know of up to
# date for it, and its queries of resources_parent read the new one as they read the old
INDEXES_KEY = "schema.indexes"
INDEXES_REVISION = "2"
REDEFINED = ("resources_parent",)  # indexes made again by a migration from an earlier revision

# a binary's lastModifiedDate to the second when in UTC's Z form, else '~' (after every date: such
# rows are always picked, for the caller to judge); indexed for binaries, so `fixity --since`
# reads what changed, not every row
MODIFIED = ("CASE WHEN json_extract(headers, '$.lastModifiedDate') GLOB "
            "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*Z' "
            "THEN substr(json_extract(headers, '$.lastModifiedDate'), 1, 19) ELSE '~' END")


DATA_TABLES = ("resources", "membership", "refs", "invalid", "pending", "acls")

# indexes a reindex drops and builds again once every row is in (SQLite sorts them: one random
# B-tree insert per row and index costs more, and more the bigger the index grows past the page
# cache: reindex's CPU per object grew ~13% per decade of objects while three of them were kept)
DEFERRED_INDEXES = ("resources_parent", "resources_binaries_modified", "membership_resource", "refs_target")
# ... and those a reindex needs only once an object is met that is not where its id hashes to
# (so its id may be met twice: the index is then looked up by object id, and a path met twice
# replaces the earlier row): built then, or at the end
LOOKUP_INDEXES = ("resources_path", "resources_sort", "resources_object", "refs_object", "membership_object")
# a reindex's page cache (and its sorter's memory, when the indexes are built again): SQLite's
# default. 32 MB saved ~0.9 of ~30 CPU-s at 100k objects, but filled up only past ~30k objects, so a
# reindex's memory grew with the repository (44 MB at 10k, 78 MB at 100k); with 1 MB it is flat
BULK_CACHE_KIB = 1024


# path is unique by an index of its own, not the table's PRIMARY KEY, so that a reindex can drop
# it and build it once every row is in (an index of schema 4 or 5 made with the PRIMARY KEY reads
# and writes alike; its reindex makes the table again in this form)
RESOURCES = """CREATE TABLE IF NOT EXISTS resources (
    path TEXT NOT NULL, parent TEXT, object_id TEXT NOT NULL, object_rel TEXT NOT NULL,
    model TEXT, deleted INTEGER NOT NULL DEFAULT 0, headers TEXT NOT NULL,
    content_file TEXT, desc_headers TEXT, desc_file TEXT,
    sort_key TEXT NOT NULL  -- path with '/' as \\x01: sorts each subtree right after its root
);"""

# made with the schema when the table is of this form (made with the PRIMARY KEY, it would be a second such index)
PATH_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS resources_path ON resources(path)"


def keyed_by_table(sql: str) -> bool:
    """Whether a resources table (its CREATE statement) is of the form unique by its PRIMARY KEY."""
    return "PRIMARY KEY" in sql


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
{RESOURCES}
CREATE INDEX IF NOT EXISTS resources_parent ON resources(parent, deleted, sort_key);
CREATE UNIQUE INDEX IF NOT EXISTS resources_sort ON resources(sort_key);
CREATE INDEX IF NOT EXISTS resources_object ON resources(object_id);
CREATE INDEX IF NOT EXISTS resources_binaries_modified ON resources({MODIFIED}, sort_key)
    WHERE model = '{NON_RDF_SOURCE}' AND deleted = 0;
CREATE TABLE IF NOT EXISTS membership (
    container TEXT PRIMARY KEY, object_id TEXT NOT NULL, model TEXT, resource TEXT,
    has_member TEXT, is_member_of TEXT, inserted TEXT
);
CREATE INDEX IF NOT EXISTS membership_resource ON membership(resource);
CREATE INDEX IF NOT EXISTS membership_object ON membership(object_id);
CREATE TABLE IF NOT EXISTS refs (subject TEXT NOT NULL, object_id TEXT NOT NULL, predicate TEXT, target TEXT);
CREATE INDEX IF NOT EXISTS refs_target ON refs(target);
CREATE INDEX IF NOT EXISTS refs_object ON refs(object_id);
CREATE TABLE IF NOT EXISTS pending (object_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS invalid (object_rel TEXT PRIMARY KEY, object_id TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS invalid_object ON invalid(object_id);
CREATE TABLE IF NOT EXISTS acls (path TEXT PRIMARY KEY, object_id TEXT NOT NULL, headers TEXT NOT NULL,
    content_file TEXT);
CREATE INDEX IF NOT EXISTS acls_object ON acls(object_id);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, object_rel TEXT NOT NULL);
"""


def statements(script: str) -> list[str]:
    """A script's statements, one by one: run inside a transaction of ours (executescript commits first)."""
    out, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    return out


class IndexCorrupt(CorruptData):
    """The index file is not a readable SQLite database: it is a cache, so it can be rebuilt."""


def open_error(path: Path, e: sqlite3.Error) -> FcrctlError:
    """What a failure to open (or write) the index means. SQLite says "disk I/O error" when it
    cannot create its WAL files on a full disk: advising to delete a healthy index would be wrong."""
    where = path.parent
    with contextlib.suppress(OSError):
        st = os.statvfs(where)
        if st.f_bavail * st.f_frsize < 1024 * 1024 or "full" in str(e):
            return NoSpace(f"cannot use index {path}: the disk holding it is full ({e}): free some space and "
                           "run the command again (the index is intact)")
        if not os.access(where, os.W_OK) or "readonly" in str(e).replace(" ", ""):
            return ReadOnly(f"cannot use index {path}: its directory is read-only ({e})")
    if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
        return IndexCorrupt(f"index {path} is corrupt ({e}): run `fcrctl reindex` to rebuild it")
    return CorruptData(f"cannot open index {path}: {e}: check the file's permissions and the disk")


class Conn:
    """A connection whose sqlite3 errors become fcrctl errors (they never leave this module)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def _fail(self, e: sqlite3.Error) -> FcrctlError:
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
            return Locked(f"the index {self._path} stayed locked by another process: retry later")
        if isinstance(e, sqlite3.OperationalError):  # disk full, read-only, I/O: the index may be fine
            found = open_error(self._path, e)
            if type(found) is not CorruptData:
                return found
        return CorruptData(f"index {self._path} failed: {e}; run `fcrctl reindex` to rebuild it")

    def execute(self, sql: str, args: tuple | list = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as e:
            raise self._fail(e) from e

    def execute_unless_conflict(self, sql: str) -> bool:
        """execute(); False when the statement would break a UNIQUE constraint (it is undone, the
        transaction goes on)."""
        try:
            self._conn.execute(sql)
        except sqlite3.IntegrityError:
            return False
        except sqlite3.Error as e:
            raise self._fail(e) from e
        return True

    def executemany(self, sql: str, rows: list) -> sqlite3.Cursor:
        try:
            return self._conn.executemany(sql, rows)
        except sqlite3.Error as e:
            raise self._fail(e) from e

    def executescript(self, sql: str) -> sqlite3.Cursor:
        try:
            return self._conn.executescript(sql)
        except sqlite3.Error as e:
            raise self._fail(e) from e

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._conn.commit()
            else:
                self._conn.rollback()
        except sqlite3.Error as e:
            raise self._fail(e) from e
