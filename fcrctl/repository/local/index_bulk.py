"""A reindex's bulk load of the index: rows appended with the indexes dropped, the indexes sorted
once every row is in

An index updated row by row takes one random B-tree insert per row and index; once the index
outgrows the page cache each is a page read and, later, a page write, so a reindex's cost per
object grew with the repository. Appended rows and indexes built at the end (SQLite sorts them)
cost the same per object at any size.

The indexes a reindex would look up are needed only once an object is met that is not where its
id hashes to (ocfl.object_rel): objects where their ids hash to cannot share an id, so until then
no object can be indexed already and nothing is looked up or forgotten. Such an object builds
them at once (``key``), and the load goes on as row-by-row applies would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fcrctl.repository.local.index_sql import (
    BULK_CACHE_KIB,
    DEFERRED_INDEXES,
    LOOKUP_INDEXES,
    PATH_INDEX,
    RESOURCES,
    keyed_by_table,
)

if TYPE_CHECKING:
    from fcrctl.repository.local.index import Index

# the unique indexes' columns: a path met twice in the load leaves its later row, as INSERT OR
# REPLACE would have done with the index in place
_UNIQUE = {"resources_path": "path", "resources_sort": "sort_key"}


class BulkLoad:
    """The load's state: whether the lookup indexes are built yet (``keyed``)."""

    def __init__(self, index: Index, lookups: dict[str, str]) -> None:
        self._index = index
        self._lookups = lookups
        self.keyed = False

    def key(self) -> None:
        """Build the indexes lookups need now (an object id may be met twice from here on)."""
        if self.keyed:
            return
        self.keyed = True
        for name, sql in self._lookups.items():
            self._build(name, sql)

    def _build(self, name: str, sql: str) -> None:
        column = _UNIQUE.get(name)
        if column is None:
            self._index.conn.execute(sql)
            return
        if self._index.conn.execute_unless_conflict(sql):
            return
        # a path met twice: its earlier rows go, as INSERT OR REPLACE with the index in place does
        self._index.conn.execute(f"DELETE FROM resources WHERE rowid NOT IN "
                                 f"(SELECT max(rowid) FROM resources GROUP BY {column})")
        self._index.conn.execute(sql)


@contextlib.contextmanager
def bulk_load(index: Index) -> Iterator[BulkLoad]:
    """Inside one transaction, for a reindex adding every row to the emptied index: the indexes
    are dropped and built again at the end (readers in other processes keep seeing the old index,
    schema included, until the commit; a failure rolls the drop back too)."""
    conn = index._connection()  # noqa: SLF001
    with index.transaction():
        if index.conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is not None:
            raise ValueError("a bulk load needs the index emptied first")
        names = (*LOOKUP_INDEXES, *DEFERRED_INDEXES)
        found = dict(index.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ({})".format(
                ",".join("?" * len(names))), names).fetchall())
        if keyed_by_table(index.table_sql("resources")):
            # unique by its PRIMARY KEY (an index of schema 5 or earlier), whose index cannot be
            # dropped: the (empty) table is made again in the form unique by an index of its own
            index.conn.execute("DROP TABLE resources")  # (its indexes with it: their SQL is kept)
            index.conn.execute(RESOURCES)
            found["resources_path"] = PATH_INDEX
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        try:
            for name in found:
                index.conn.execute(f"DROP INDEX IF EXISTS {name}")
            load = BulkLoad(index, {name: found[name] for name in LOOKUP_INDEXES if name in found})
            yield load
            load.key()
            for name in DEFERRED_INDEXES:
                if name in found:
                    index.conn.execute(found[name])
        finally:
            conn.execute(f"PRAGMA cache_size={cache}")
