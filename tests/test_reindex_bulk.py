"""A reindex appends rows with every index dropped and sorts the indexes once at the end
(index_bulk.py): the index it leaves is the one objects applied one at a time leave (a path met
twice, an id met twice), an index whose table is unique by its PRIMARY KEY is made again in the
form whose unique index can be dropped, and a reindex killed midway leaves the old index as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local.index import Index, ObjectEntries, Row

TABLES = ("resources", "membership", "refs", "invalid", "acls")
INDEXES = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
# the resources table as schema 5 made it: unique by its PRIMARY KEY (its index cannot be dropped)
KEYED = """CREATE TABLE resources (
    path TEXT PRIMARY KEY, parent TEXT, object_id TEXT NOT NULL, object_rel TEXT NOT NULL,
    model TEXT, deleted INTEGER NOT NULL DEFAULT 0, headers TEXT NOT NULL,
    content_file TEXT, desc_headers TEXT, desc_file TEXT, sort_key TEXT NOT NULL)"""


def _dump(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        conn.close()


def _entries(object_id: str, *paths: str, ref: str | None = None) -> ObjectEntries:
    rows = [Row(p, "/c", object_id, f"rel/{object_id}", "ldp:BasicContainer", False, {"id": p}) for p in paths]
    return ObjectEntries(object_id, rows, refs=[(paths[0], "p", ref)] if ref else [])


def test_a_path_or_an_id_met_twice_in_a_bulk_load_ends_as_one_at_a_time(tmp_path: Path) -> None:
    """Before ``key`` (no lookup index), a path met twice keeps its later row, as INSERT OR REPLACE
    does; after it, an id met again forgets the earlier object's rows, also one replaced already."""
    first = [_entries("a", "/c/p", "/c/a", ref="/c"), _entries("b", "/c/p", "/c/b"), _entries("c", "/c/c", "/c/c")]
    then = [_entries("b", "/c/b2"), _entries("d", "/c/a")]
    bulk, single = Index(tmp_path / "bulk.sqlite"), Index(tmp_path / "single.sqlite")
    try:
        with bulk.bulk_load() as load:
            bulk.add(first, unseen=True)
            load.key()
            for e in then:
                bulk.add([e])
        with single.transaction():
            for e in first + then:
                single.apply([e])
        assert bulk.conn.execute(INDEXES).fetchall() == single.conn.execute(INDEXES).fetchall()
    finally:
        bulk.close()
        single.close()
    ended = _dump(tmp_path / "bulk.sqlite")
    assert ended == _dump(tmp_path / "single.sqlite")
    # /c/p: b's row replaced a's, then b's rows were forgotten; /c/a: d's replaced a's
    assert sorted(r[0] for r in ended["resources"]) == ["/c/a", "/c/b2", "/c/c"]
    assert len(ended["refs"]) == 1


def _keyed_by_table(repo_dir: Path) -> None:
    """The index's resources table made again as schema 5 made it, rows and indexes kept."""
    db = repo_dir / "index.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        indexes = [sql for name, sql in conn.execute(INDEXES) if name.startswith("resources_") and
                   name != "resources_path"]
        conn.execute("BEGIN")
        conn.execute("ALTER TABLE resources RENAME TO old")
        conn.execute(KEYED)
        conn.execute("INSERT INTO resources SELECT * FROM old")
        conn.execute("DROP TABLE old")
        for sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _repo(where: Path, children: int) -> None:
    repo = open_repository(str(where), create=True)
    try:
        repo.create("/c", ResourceSpec())
        for i in range(children):
            repo.create(f"/c/x{i}", ResourceSpec())
    finally:
        repo.close()


def _schema(db: Path) -> tuple[str, list[tuple]]:
    """(the resources table's CREATE statement, every index's name and CREATE statement)"""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'resources'").fetchone()[0], \
            conn.execute(INDEXES).fetchall()
    finally:
        conn.close()


def test_a_reindex_makes_a_table_unique_by_its_primary_key_again_in_the_droppable_form(tmp_path: Path) -> None:
    where = tmp_path / "r"
    _repo(where, 20)
    db = where / "index.sqlite"
    fresh, fresh_schema = _dump(db), _schema(db)
    _keyed_by_table(where)
    assert "PRIMARY KEY" in _schema(db)[0] and _dump(db) == fresh
    repo = open_repository(str(where))
    try:  # read as it is, until a reindex
        assert [i.path for i in repo.children("/c")][:2] == ["/c/x0", "/c/x1"]
        assert repo.info("/c/x3").path == "/c/x3"
        assert repo.reindex() == len(fresh["resources"])
    finally:
        repo.close()
    assert _schema(db) == fresh_schema and "PRIMARY KEY" not in fresh_schema[0]
    assert _dump(db) == fresh


KILLED = textwrap.dedent("""
    import os, signal, sys
    from fcrctl.repository import open_repository
    from fcrctl.repository.local import index, reindex
    reindex.BATCH = 4
    added = [0]
    real = index.Index.add

    def add(self, entries, **kw):
        real(self, entries, **kw)
        added[0] += 1
        if added[0] == 3:  # rows of 12 objects in, the old ones gone and its indexes dropped
            os.kill(os.getpid(), signal.SIGKILL)

    index.Index.add = add
    repo = open_repository(sys.argv[1])
    repo.reindex()
""")


def test_a_reindex_killed_midway_leaves_the_old_index_as_it_was(tmp_path: Path) -> None:
    where = tmp_path / "r"
    _repo(where, 30)
    _keyed_by_table(where)  # the kill also undoes the table's making again
    db = where / "index.sqlite"
    before, schema = _dump(db), _schema(db)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", KILLED, str(where)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert _dump(db) == before and _schema(db) == schema
    repo = open_repository(str(where))
    try:
        assert len(list(repo.children("/c"))) == 30
        assert repo.reindex() == len(before["resources"])
    finally:
        repo.close()
    assert _dump(db) == before
