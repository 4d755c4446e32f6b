"""The index's schema: every statement a one-resource read or write runs searches an index (none
scans a table that grows with the repository), and an index written before those indexes were
added gains them on open, in one transaction that a kill leaves undone."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fcrctl import acl, rdf
from fcrctl.repository.base import NON_RDF_SOURCE, ResourceSpec
from fcrctl.repository.local import LocalRepository
from fcrctl.repository.local.index import Index, ObjectEntries, Row
from fcrctl.repository.local.index_sql import INDEXES_KEY, INDEXES_REVISION, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
CONTAINER = "http://www.w3.org/ns/ldp#BasicContainer"
PCDM_HAS_MEMBER = "http://pcdm.org/models#hasMember"
# the tables that grow with the repository: a SCAN of one is O(size) per statement
GROWING = ("resources", "membership", "refs", "acls", "invalid", "changes")
# the indexes of revisions 1 and 2 (index_sql.INDEXES_REVISION): added, and made again
ADDED = ("membership_object", "invalid_object")
OLD_PARENT = "CREATE INDEX resources_parent ON resources(parent, sort_key)"


# -- query plans --------------------------------------------------------------------------------


class Traced:
    """Every statement run on any index connection opened while active, with its database."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[tuple[Path, str]] = []
        original = Index._connection

        def connection(index: Index) -> sqlite3.Connection:
            conn = original(index)
            conn.set_trace_callback(lambda sql, path=index.path: self.statements.append((path, sql)))
            return conn

        monkeypatch.setattr(Index, "_connection", connection)

    def scans(self) -> list[str]:
        """The statements whose plan scans a growing table, each with its plan."""
        found: list[str] = []
        seen: set[tuple[Path, str]] = set()
        dbs: dict[Path, sqlite3.Connection | None] = {}
        for path, sql in self.statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "DELETE", "UPDATE", "INSERT", "WITH") or (path, sql) in seen:
                continue
            seen.add((path, sql))
            if path not in dbs:
                try:
                    dbs[path] = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                    dbs[path].execute("SELECT 1 FROM sqlite_master").fetchall()
                except sqlite3.OperationalError:
                    # a transaction's staging index, deleted (in the background) since its commit:
                    # its statements on the index's tables are the main index's, checked there
                    dbs[path] = None
            db = dbs[path]
            if db is None:
                continue
            try:
                plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):  # a staging-only table (touched, history, blobs)
                    continue
                raise
            if any(step.startswith(f"SCAN {table}") and not step.startswith(f"SCAN {table} USING COVERING INDEX")
                   or step == f"SCAN {table}" for step in plan for table in GROWING):
                found.append(f"{sql}\n    {' | '.join(plan)}")
        for db in dbs.values():
            if db is not None:
                db.close()
        return found

    def clear(self) -> None:
        self.statements.clear()


def samvera_like(repo: LocalRepository) -> None:
    """A work with a direct container of members, a binary, a resource pointing at the work, an ACL."""
    repo.create("/c", ResourceSpec())
    for i in range(3):
        repo.create(f"/c/w{i}", ResourceSpec())
        direct = rdf.parse(f"<> <http://www.w3.org/ns/ldp#membershipResource> <{rdf.ROOT_ID}/c/w{i}> ; "
                           f"<http://www.w3.org/ns/ldp#hasMemberRelation> <{PCDM_HAS_MEMBER}> .".encode(),
                           "text/turtle", base=f"info:fedora/c/w{i}/members")
        repo.create(f"/c/w{i}/members", ResourceSpec(graph=direct, model="direct"))
        repo.create(f"/c/w{i}/members/m", ResourceSpec())
        repo.create(f"/c/w{i}/file", ResourceSpec(content=io.BytesIO(b"bytes"), mime_type="text/plain"))
    repo.create("/c/ref", ResourceSpec(graph=rdf.parse(b"<> <http://example.org/about> <info:fedora/c/w0> .",
                                                       "text/turtle", base="info:fedora/c/ref")))
    repo.put_acl("/c/w0", acl_graph("/c/w0"))


def acl_graph(path: str):  # type: ignore[no-untyped-def]
    body = ("@prefix acl: <http://www.w3.org/ns/auth/acl#> .\n"
            '<#a> a acl:Authorization; acl:agent "alice"; acl:mode acl:Read .')
    return rdf.parse(body.encode(), "text/turtle", base=acl.acl_id_of(path))


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalRepository, Traced]]:
    trace = Traced(monkeypatch)
    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        samvera_like(repo)
        yield repo, trace
    finally:
        repo.close()


def test_one_resource_reads_search_indexes(traced: tuple[LocalRepository, Traced]) -> None:
    repo, trace = traced
    trace.clear()
    LocalRepository.open(repo.location).close()  # opening: what every command does first
    repo.info("/c/w1")
    repo.info("/c/w1/file")
    repo.get_rdf("/c/w0", prefs=rdf_prefs_all())
    repo.get_rdf("/c/w0/members")
    with repo.open_binary("/c/w1/file") as content:
        content.stream.read()
    repo.get_acl("/c/w0")
    list(repo.children("/c/w0"))
    list(repo.binaries_modified_since("/", datetime.now(UTC) - timedelta(days=1)))
    repo.fixity(repo.info("/c/w1/file"))
    assert trace.statements, "nothing traced: the trace lost the index's connections"
    assert trace.scans() == []


def test_one_resource_writes_search_indexes(traced: tuple[LocalRepository, Traced]) -> None:
    repo, trace = traced
    trace.clear()
    repo.create("/c/w1/members/m2", ResourceSpec())  # a member: its direct container's work is read
    repo.replace("/c/w1/file", ResourceSpec(content=io.BytesIO(b"other"), mime_type="text/plain"))
    repo.patch("/c/w2", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "t" }')
    repo.patch("/c/w2/members", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "t" }')
    repo.put_acl("/c/w2", acl_graph("/c/w2"))
    repo.delete_acl("/c/w2")
    repo.delete("/c/w2/members/m")
    repo.move("/c/ref", "/c/ref2")
    repo.delete("/c/w1")
    info = repo.begin_transaction()
    with repo.in_transaction(info.id) as inside:
        inside.create("/c/w0/members/t", ResourceSpec())
        inside.patch("/c/w0", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "tx" }')
    repo.commit_transaction(info.id)
    assert any("DELETE FROM membership" in sql for _, sql in trace.statements)
    assert trace.scans() == []


def test_the_trace_finds_a_scan_when_an_index_is_dropped(traced: tuple[LocalRepository, Traced]) -> None:
    """The two tests above can fail: without membership's object_id index, a write scans it."""
    repo, trace = traced
    repo._index.conn.execute("DROP INDEX membership_object")  # type: ignore[attr-defined]
    trace.clear()
    repo.patch("/c/w2/members", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "t" }')
    assert any("DELETE FROM membership WHERE object_id" in scan for scan in trace.scans())


def rdf_prefs_all():  # type: ignore[no-untyped-def]
    from fcrctl.repository.base import RdfPrefs

    return RdfPrefs(inbound=True)


# -- the schema step ----------------------------------------------------------------------------


def entries(i: int) -> ObjectEntries:
    oid = f"info:fedora/c/x{i}"
    model = NON_RDF_SOURCE if i % 10 == 0 else CONTAINER
    row = Row(f"/c/x{i}", "/c", oid, f"rel/x{i}", model, False, {"id": oid, "lastModifiedDate": "2026-05-01T10:00:00Z"})
    members = [(f"/c/x{i}/members", "direct", f"/c/x{i}", PCDM_HAS_MEMBER, None, None)] if i % 2 else []
    refs = [(f"/c/x{i}", "http://example.org/about", f"/c/x{i - 1}")] if i else []
    acls = [(f"/c/x{i}", {"id": oid + "/fcr:acl"}, None)] if i % 5 == 0 else []
    return ObjectEntries(oid, [row], members, refs, acls)


def before_revision_1(db: Path, count: int = 200) -> None:
    """An index as fcrctl wrote it before revision 1 of schema 5: these rows, without the indexes
    revision 1 added, and resources_parent as it was before revision 2."""
    index = Index(db)
    with index.transaction():
        index.add([entries(i) for i in range(count)])
        index.mark_invalid("rel/bad", "info:fedora/bad", "unreadable")
    index.close()
    raw = sqlite3.connect(db)
    for name in ADDED:
        raw.execute(f"DROP INDEX {name}")
    raw.execute("DROP INDEX resources_parent")
    raw.execute(OLD_PARENT)
    raw.execute("DELETE FROM meta WHERE key = ?", (INDEXES_KEY,))
    raw.commit()
    raw.close()


def answers(index: Index) -> list:
    """What the index's reads give (the same before and after a migration)."""
    return [index.count(), index.get("/c/x7"), [r.path for r in index.children("/c")],
            index.memberships_for("/c/x7"), index.membership_of("/c/x7/members"), index.refs_to("/c/x6"),
            index.acl("/c/x10"), index.invalid(), [r.path for r in index.modified_since("/", NON_RDF_SOURCE, "2026")]]


def schema(db: Path) -> list[tuple[str, str]]:
    raw = sqlite3.connect(db)
    try:
        return raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "ORDER BY name").fetchall()
    finally:
        raw.close()


def versions(db: Path) -> dict[str, str]:
    raw = sqlite3.connect(db)
    try:
        return dict(raw.execute("SELECT key, value FROM meta WHERE key IN ('schema', ?)", (INDEXES_KEY,)))
    finally:
        raw.close()


def test_an_index_of_before_the_object_indexes_gains_them_on_open(tmp_path: Path) -> None:
    fresh = Index(tmp_path / "fresh.sqlite")
    fresh.close()
    db = tmp_path / "i.sqlite"
    before_revision_1(db)
    assert not {name for name, _ in schema(db)} & set(ADDED)
    assert tuple(sql for name, sql in schema(db) if name == "resources_parent") == (OLD_PARENT,)
    index = Index(db)
    try:
        # still schema 5: an fcrctl of schema 5 opens it as its own (SQLite keeps the indexes it does
        # not know of up to date), where any other version would make it rebuild the index
        assert versions(db) == {"schema": SCHEMA_VERSION, INDEXES_KEY: INDEXES_REVISION} == {
            "schema": "5", INDEXES_KEY: "2"}
        assert schema(db) == schema(tmp_path / "fresh.sqlite")
        reference = Index(tmp_path / "ref.sqlite")
        with reference.transaction():
            reference.add([entries(i) for i in range(200)])
            reference.mark_invalid("rel/bad", "info:fedora/bad", "unreadable")
        assert answers(index) == answers(reference)
        reference.close()
        # the write that scanned membership now searches it
        plan = index.conn.execute("EXPLAIN QUERY PLAN DELETE FROM membership WHERE object_id = ?", ("x",)).fetchall()
        assert "membership_object" in plan[0][3]
    finally:
        index.close()


KILL_DURING_MIGRATION = textwrap.dedent("""
    import os, signal, sys
    from fcrctl.repository.local import index_sql
    from fcrctl.repository.local.index import Index

    execute = index_sql.Conn.execute

    def killing(self, sql, args=()):
        out = execute(self, sql, args)
        if sql.startswith(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or kill -9 would, mid-transaction
        return out

    index_sql.Conn.execute = killing
    Index(sys.argv[1])
""")


@pytest.mark.parametrize("killed_after", ["DROP INDEX IF EXISTS resources_parent",
                                          "CREATE INDEX IF NOT EXISTS resources_parent",
                                          "CREATE INDEX IF NOT EXISTS membership_object",
                                          "CREATE INDEX IF NOT EXISTS invalid_object",
                                          "INSERT OR REPLACE INTO meta"])
def test_a_migration_killed_midway_is_undone_and_the_next_open_migrates(tmp_path: Path,
                                                                              killed_after: str) -> None:
    db = tmp_path / "i.sqlite"
    before_revision_1(db)
    before = schema(db)
    proc = subprocess.run([sys.executable, "-c", KILL_DURING_MIGRATION, str(db), killed_after], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert versions(db) == {"schema": "5"}  # the killed transaction's pages in the WAL are not committed
    assert schema(db) == before
    index = Index(db)
    try:
        assert versions(db) == {"schema": SCHEMA_VERSION, INDEXES_KEY: INDEXES_REVISION}
        assert set(ADDED) <= {name for name, _ in schema(db)}
        assert index.count() == 200
        assert index.memberships_for("/c/x7") == [("/c/x7/members", "direct", "/c/x7", PCDM_HAS_MEMBER, None, None)]
    finally:
        index.close()


def test_a_repository_reindexed_has_the_schema_of_a_fresh_one(tmp_path: Path) -> None:
    with LocalRepository.open(str(tmp_path / "repo"), create=True) as repo:
        samvera_like(repo)
        fresh = schema(tmp_path / "repo" / "index.sqlite")
        assert set(ADDED) <= {name for name, _ in fresh}
        repo.reindex()
        assert schema(tmp_path / "repo" / "index.sqlite") == fresh
        assert [m[0] for m in repo._index.memberships_for("/c/w0")] == ["/c/w0/members"]  # type: ignore[attr-defined]


def test_a_containers_live_children_are_found_without_reading_its_tombstones(tmp_path: Path) -> None:
    """`info` (has_children) and the first page of `ls` of a container whose first children are
    tombstones: an index of (parent, sort_key) read every tombstone before the first live child."""

    def child(i: int, deleted: bool) -> ObjectEntries:
        oid = f"info:fedora/c/x{i:05}"
        return ObjectEntries(oid, [Row(f"/c/x{i:05}", "/c", oid, f"rel/x{i}", CONTAINER, deleted, {"id": oid})])

    def cost(index: Index) -> int:
        """SQLite VM instructions / 100 of has_children and the first page of children."""
        counted = [0]

        def tick() -> int:
            counted[0] += 1
            return 0

        conn = index._connection()
        conn.set_progress_handler(tick, 100)
        try:
            assert index.has_children("/c")
            assert next(index.children("/c")).path == "/c/x03000"
        finally:
            conn.set_progress_handler(None, 100)
        return counted[0]

    costs = []
    for tombstones in (30, 3000):
        index = Index(tmp_path / f"{tombstones}.sqlite")
        with index.transaction():
            index.add([child(i, i < 3000) for i in range(3000 - tombstones, 3010)])
        costs.append(cost(index))
        index.close()
    assert costs[1] <= costs[0] + 2, costs  # reading past 3,000 tombstones was ~100x
