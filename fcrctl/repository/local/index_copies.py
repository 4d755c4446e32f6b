"""Copies of the index: a read snapshot pinned while writers go on, and SQLite's online backup"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.repository.local.index_sql import open_error


class PinnedIndex:
    """A read transaction on a connection of its own: WAL keeps showing it the index as of its
    first read, so a snapshot pins the index under the writer lock (O(1)) and copies it after
    releasing the lock, instead of holding writers back for a copy of the whole file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            self._conn.execute("BEGIN")
            self._conn.execute("SELECT count(*) FROM meta").fetchone()  # the read snapshot starts here
        except sqlite3.Error as e:
            raise open_error(path, e) from e

    def resource_count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM resources WHERE deleted=0").fetchone()[0]

    def copy_to(self, target: Path) -> None:
        """A copy of the pinned state (SQLite's online backup reads through this transaction)."""
        backup_to(self._conn, target)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> PinnedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def backup_to(conn: sqlite3.Connection, target: Path) -> None:
    """A copy of what ``conn`` sees (SQLite's online backup), synced to disk."""
    try:
        dest = sqlite3.connect(target)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        with open(target, "rb") as fh:
            os.fsync(fh.fileno())
    except (sqlite3.Error, OSError) as e:
        raise CorruptData(f"cannot copy the index to {target}: {e}") from e
