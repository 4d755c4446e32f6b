"""What `fcrctl check` tests across objects, on every resource it met kept in a temporary SQLite
database: each live resource's parent exists and is live, and the index agrees with the root

A repository of a million resources held in a dict is ~1 GB: here they go to a private temporary
database (on disk past a bounded cache, deleted on close), appended as the walk meets them, and
the tests are joins over indexes built once at the end (SQLite sorts them: no per-object cost
that grows with the repository).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from fcrctl.errors import CorruptData, FcrctlError, NoSpace
from fcrctl.repository.base import Problem
from fcrctl.repository.local.check_object import Resource, path_of

# the temporary database's page cache (and sorter memory): beyond it, disk. 8 MB filled up only
# past ~50k resources, so a check's memory grew with the repository (31 MB at 10k objects, 44 MB at
# 100k); 1 MB keeps it flat, for no CPU the bench can see (the joins read the file through the OS cache)
_CACHE_KIB = 1024


class FoundResources:
    """Every resource a check met; a later resource of the same id replaces an earlier one."""

    def __init__(self) -> None:
        try:
            # "": a private temporary database, in memory up to its cache, then in a file SQLite
            # deletes when the connection closes (however the process ends)
            self._db = sqlite3.connect("", isolation_level=None)
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", f"cache_size=-{_CACHE_KIB}"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE found (rid TEXT NOT NULL, path TEXT NOT NULL, parent TEXT, "
                             "deleted INTEGER NOT NULL, token TEXT, trusted INTEGER NOT NULL)")
            self._db.execute("BEGIN")
        except sqlite3.Error as e:
            raise _failed(e) from e
        self._indexed = False

    def add(self, resources: dict[str, Resource]) -> None:
        with _working():
            self._db.executemany("INSERT INTO found VALUES (?,?,?,?,?,?)",
                                 [(rid, path_of(rid), r.parent, int(r.deleted), r.state_token, int(r.trusted))
                                  for rid, r in resources.items()])

    def _by_id(self) -> None:
        """The index the joins need, sorted once; then only the last row of each id kept."""
        if self._indexed:
            return
        self._indexed = True
        self._db.execute("CREATE INDEX found_rid ON found(rid, deleted)")
        if self._db.execute("SELECT 1 FROM found GROUP BY rid HAVING count(*) > 1 LIMIT 1").fetchone():
            self._db.execute("DELETE FROM found WHERE rowid NOT IN (SELECT max(rowid) FROM found GROUP BY rid)")

    def parent_problems(self) -> Iterator[Problem]:
        """Live resources whose parent is missing or deleted, by id."""
        with _working():
            self._by_id()
            found = self._db.execute(
                "SELECT f.rid, f.parent, p.deleted FROM found f LEFT JOIN found p ON p.rid = f.parent "
                "WHERE f.parent IS NOT NULL AND f.deleted = 0 AND (p.rid IS NULL OR p.deleted != 0) "
                "ORDER BY f.rid").fetchall()  # problems only: few, but read before any is yielded
        for rid, parent, deleted in found:
            if deleted is None:
                yield Problem(path_of(rid), f"parent {path_of(parent)} does not exist")
            else:
                yield Problem(path_of(rid), f"parent {path_of(parent)} is deleted but this resource is not")

    def index_disagreements(self, index_file: Path) -> int:
        """Resources on which the index at ``index_file`` and the root disagree: indexed but not
        found, or found in a sound object (trusted) with another deleted flag or state token."""
        with _working():
            self._by_id()
            self._db.execute("COMMIT")  # ATTACH cannot run inside a transaction
        try:
            self._db.execute("ATTACH DATABASE ? AS idx", (str(index_file),))
        except sqlite3.Error as e:
            raise CorruptData(f"cannot read the index {index_file}: {e}: run `fcrctl reindex`") from e
        try:
            # one sequential read of each side, sorted together by path (SQLite's sorter: runs
            # merged from temporary files), each path's rows then compared: no lookup per resource
            # into an index grown past the page cache, whose misses made the cost per resource grow
            return self._db.execute(_DISAGREEMENTS).fetchone()[0]
        except sqlite3.Error as e:
            raise CorruptData(f"cannot read the index {index_file}: {e}: run `fcrctl reindex`") from e
        finally:
            self._db.execute("DETACH DATABASE idx")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FoundResources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# per path, the found row (side 0: one per id once _by_id ran; its state, or NULL when its object
# is not sound) and the indexed one (side 1: the index's paths are unique), their states compared:
# a path counts when only indexed, only found (sound), or found sound and indexed otherwise
_STATE = "(deleted != 0) || coalesce('T' || {token}, 'N')"
_DISAGREEMENTS = f"""
SELECT coalesce(sum(CASE WHEN n = 1 THEN side = 1 OR hi IS NOT NULL ELSE lo != hi END), 0)
FROM (SELECT count(*) AS n, max(side) AS side, min(state) AS lo, max(state) AS hi
      FROM (SELECT path, 0 AS side, CASE WHEN trusted THEN {_STATE.format(token="token")} END AS state FROM main.found
            UNION ALL SELECT path, 1, {_STATE.format(token="json_extract(headers, '$.stateToken')")}
            FROM idx.resources)
      GROUP BY path)
"""


@contextlib.contextmanager
def _working() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        raise _failed(e) from e


def _failed(e: sqlite3.Error) -> FcrctlError:
    """The temporary database failed: on a full temporary directory, say so (the repository is untouched)."""
    cls = NoSpace if isinstance(e, sqlite3.OperationalError) and "full" in str(e) else CorruptData
    return cls(f"the temporary database `fcrctl check` works in failed ({e}): free space in the temporary "
               "directory (TMPDIR) and run the check again; the repository was not changed")
