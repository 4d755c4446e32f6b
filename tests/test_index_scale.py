"""The index's costs that must not grow with the repository: `fixity --since` reads an index of
binaries by date (what changed, not every row), and an index of the previous schema gains it in
place instead of being rebuilt."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fcrctl.repository.base import NON_RDF_SOURCE
from fcrctl.repository.local.index import Index, ObjectEntries, Row
from fcrctl.repository.local.index_sql import SCHEMA_VERSION

CONTAINER = "http://www.w3.org/ns/ldp#BasicContainer"


def entries(path: str, model: str, modified: str | None, deleted: bool = False) -> ObjectEntries:
    oid = "info:fedora" + path
    headers = {"id": oid} if modified is None else {"id": oid, "lastModifiedDate": modified}
    row = Row(path, "/c", oid, f"rel{path}", model, deleted, headers)
    return ObjectEntries(oid, [row])


def filled(db: Path, containers: int, changed: list[ObjectEntries]) -> Index:
    index = Index(db)
    old = [entries(f"/c/old{i}", NON_RDF_SOURCE, "2020-01-01T00:00:00.5Z") for i in range(containers // 100)]
    rest = [entries(f"/c/x{i}", CONTAINER, "2030-01-01T00:00:00Z") for i in range(containers)]
    with index.transaction():
        for i in range(0, len(old + rest), 500):
            index.add((old + rest)[i:i + 500])
        index.add(changed)
    return index


def steps(index: Index, *args: str, batch: int = 500) -> tuple[list[str], int]:
    """(paths modified_since gives, SQLite VM instructions it took / 100)."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    conn = index._connection()
    conn.set_progress_handler(tick, 100)
    try:
        return [r.path for r in index.modified_since(*args, batch=batch)], counted[0]
    finally:
        conn.set_progress_handler(None, 100)


def test_fixity_since_costs_what_changed_not_the_index_size(tmp_path: Path) -> None:
    changed = [entries(f"/c/new{i}", NON_RDF_SOURCE, f"2026-05-0{i + 1}T10:00:00Z") for i in range(3)]
    small = filled(tmp_path / "small.sqlite", 1_000, changed)
    big = filled(tmp_path / "big.sqlite", 20_000, changed)
    try:
        found_small, cost_small = steps(small, "/", NON_RDF_SOURCE, "2026-01-01T00:00:00")
        found_big, cost_big = steps(big, "/", NON_RDF_SOURCE, "2026-01-01T00:00:00")
        assert found_small == found_big == ["/c/new0", "/c/new1", "/c/new2"]
        assert cost_big <= cost_small * 1.5 + 2, (cost_small, cost_big)  # a scan would be ~20x
    finally:
        small.close()
        big.close()


def test_pages_of_binaries_by_date_give_each_once(tmp_path: Path) -> None:
    same = [entries(f"/c/s{i}", NON_RDF_SOURCE, "2026-05-01T10:00:00.25Z") for i in range(5)]
    odd = [entries("/c/local", NON_RDF_SOURCE, "2026-05-01T12:00:00+02:00"),  # not Z: the caller judges
           entries("/c/undated", NON_RDF_SOURCE, None),
           entries("/c/gone", NON_RDF_SOURCE, "2026-06-01T00:00:00Z", deleted=True),
           entries("/d/other", NON_RDF_SOURCE, "2026-06-01T00:00:00Z"),
           entries("/c/early", NON_RDF_SOURCE, "2026-05-01T09:59:59Z")]
    index = filled(tmp_path / "i.sqlite", 300, same + odd)
    try:
        for batch in (1, 2, 500):
            found, _ = steps(index, "/c", NON_RDF_SOURCE, "2026-05-01T10:00:00", batch=batch)
            assert found == [*(f"/c/s{i}" for i in range(5)), "/c/local", "/c/undated"], batch
        assert "/d/other" in steps(index, "/", NON_RDF_SOURCE, "2026-05-01T10:00:00")[0]
        with pytest.raises(ValueError, match="only binaries"):
            list(index.modified_since("/", CONTAINER, "2026-05-01T10:00:00"))
    finally:
        index.close()


def test_an_index_of_the_previous_schema_gains_the_date_index_in_place(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite"
    index = filled(db, 100, [entries("/c/new", NON_RDF_SOURCE, "2026-05-01T10:00:00Z")])
    index.close()
    raw = sqlite3.connect(db)
    raw.execute("DROP INDEX resources_binaries_modified")
    raw.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    raw.commit()
    raw.close()
    index = Index(db)  # a cache of the previous version: kept (a reindex at 1M objects takes minutes)
    try:
        assert index.get_meta("schema") == SCHEMA_VERSION
        assert index.count() == 102
        found, _ = steps(index, "/", NON_RDF_SOURCE, "2026-01-01T00:00:00")
        assert found == ["/c/new"]
        assert index.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'resources_binaries_modified'").fetchone()
    finally:
        index.close()


def test_a_reindex_builds_its_deferred_indexes_again_and_a_failed_one_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    repo = open_repository(str(tmp_path / "r"), create=True)
    try:
        for i in range(4):
            repo.create(f"/c/x{i}", ResourceSpec(content=io.BytesIO(b"x") if i else None), parents=True)
        schema = "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        before = repo._index.conn.execute(schema).fetchall()  # type: ignore[attr-defined]
        assert {"resources_parent", "resources_binaries_modified"} <= {name for name, _ in before}
        assert repo.reindex() == 6
        assert repo._index.conn.execute(schema).fetchall() == before  # type: ignore[attr-defined]

        def fail(self: Index, entries: list[ObjectEntries], **options: object) -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(Index, "add", fail)
        with pytest.raises(OSError, match="disk gone"):
            repo.reindex()
        assert repo._index.conn.execute(schema).fetchall() == before  # type: ignore[attr-defined]
        assert repo._index.count() == 6  # type: ignore[attr-defined]
        assert [i.path for i in repo.children("/c")] == [f"/c/x{i}" for i in range(4)]
    finally:
        repo.close()
