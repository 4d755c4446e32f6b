"""A listing's triples: in memory up to SPILL_AT, then in a private temporary SQLite file

A container of a million children arrives as ~10 million triples: held as Python objects that
is gigabytes, so past SPILL_AT triples they move to SQLite's private temporary database (the
empty filename: on disk once its cache fills, deleted when closed), and the children's paths
with them, read back sorted. Only the predicates a listing reads are kept at all (WANTED).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fcrctl.repository.base import LDP
from fcrctl.repository.http.facts import EBUCORE, FEDORA, PREMIS, RDF_TYPE, About

if TYPE_CHECKING:
    import sqlite3

CONTAINS = LDP + "contains"
WANTED = frozenset({
    CONTAINS, RDF_TYPE,
    FEDORA + "created", FEDORA + "lastModified", FEDORA + "createdBy", FEDORA + "lastModifiedBy",
    EBUCORE + "hasMimeType", EBUCORE + "filename", PREMIS + "hasSize", PREMIS + "hasMessageDigest",
})
SPILL_AT = 50_000  # triples (~5,000 children) kept as Python objects before spilling to SQLite
BATCH = 10_000  # rows written to SQLite at a time
# CROSS JOIN keeps SQLite's loops in this order: a lookup per resource asked, not a scan of t per chunk
ABOUT_EACH = "SELECT asked.i, t.s, t.p, t.o FROM asked CROSS JOIN t ON t.s = asked.s ORDER BY asked.i, t.rowid"


class ListingTriples:
    """The rdflib parser's sink for a listing; then the container's children and each one's facts."""

    def __init__(self, spill_at: int | None = None) -> None:
        self._spill_at = SPILL_AT if spill_at is None else spill_at
        self._memory: dict[str, dict[str, list[str]]] = {}
        self._count = 0
        self._db: sqlite3.Connection | None = None
        self._rows: list[tuple[str, str, str]] = []

    @property
    def spilled(self) -> bool:
        return self._db is not None

    def triple(self, s: Any, p: Any, o: Any) -> None:
        predicate = str(p)
        if predicate not in WANTED:
            return
        if self._db is not None:
            self._rows.append((str(s), predicate, str(o)))
            if len(self._rows) >= BATCH:
                self._flush()
            return
        self._memory.setdefault(str(s), {}).setdefault(predicate, []).append(str(o))
        self._count += 1
        if self._count > self._spill_at:
            self._spill()

    def _spill(self) -> None:
        import sqlite3  # (only a listing this big needs it)

        db = sqlite3.connect("", check_same_thread=False)  # "": private, on disk past its cache, deleted on close
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE t (s TEXT NOT NULL, p TEXT NOT NULL, o TEXT NOT NULL)")
        self._db = db
        self._rows = [(s, p, o) for s, by in self._memory.items() for p, objects in by.items() for o in objects]
        self._memory = {}
        self._flush()

    def _flush(self) -> None:
        assert self._db is not None
        self._db.executemany("INSERT INTO t VALUES (?, ?, ?)", self._rows)
        self._rows = []

    def children(self, subjects: list[str], child_path: Callable[[str], str | None]) -> Iterator[str]:
        """The paths ``subjects`` (one resource's spellings) contain, sorted, each once; call after parsing.

        ``child_path`` maps an object URL to a child's path, None for anything else."""
        if self._db is None:
            found = {child_path(o) for by in self.about(subjects) for o in by.get(CONTAINS, ())}
            yield from sorted(p for p in found if p is not None)
            return
        self._flush()
        db = self._db
        db.execute("CREATE INDEX t_s ON t (s, p)")
        db.execute("CREATE TABLE kids (path TEXT PRIMARY KEY) WITHOUT ROWID")
        marks = ",".join("?" * len(subjects))
        objects = db.execute(f"SELECT o FROM t WHERE p = ? AND s IN ({marks})", [CONTAINS, *subjects])  # noqa: S608
        while batch := objects.fetchmany(BATCH):
            kids = [(p,) for p in (child_path(o) for (o,) in batch) if p is not None]
            db.executemany("INSERT OR IGNORE INTO kids VALUES (?)", kids)
        # SQLite compares TEXT as UTF-8 bytes: the same order as Python's sorted() of the paths
        cursor = db.execute("SELECT path FROM kids ORDER BY path")
        while batch := cursor.fetchmany(BATCH):
            yield from (path for (path,) in batch)

    def about(self, subjects: list[str]) -> About:
        """What the listing says about one resource, under each of its spellings found."""
        if self._db is None:
            return [self._memory[s] for s in subjects if s in self._memory]
        marks = ",".join("?" * len(subjects))
        found: dict[str, dict[str, list[str]]] = {}
        for s, p, o in self._db.execute(f"SELECT s, p, o FROM t WHERE s IN ({marks}) ORDER BY rowid", subjects):  # noqa: S608
            found.setdefault(s, {}).setdefault(p, []).append(o)
        return [found[s] for s in subjects if s in found]

    def about_each(self, resources: list[list[str]]) -> list[About]:
        """``about`` of each resource (its spellings), in one query once spilled, not one per resource."""
        if self._db is None:
            return [self.about(subjects) for subjects in resources]
        db = self._db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS asked (s TEXT PRIMARY KEY, i INTEGER NOT NULL) WITHOUT ROWID")
        db.execute("DELETE FROM asked")
        db.executemany("INSERT OR IGNORE INTO asked VALUES (?, ?)",
                       ((s, i) for i, subjects in enumerate(resources) for s in subjects))
        found: list[dict[str, dict[str, list[str]]]] = [{} for _ in resources]
        for i, s, p, o in db.execute(ABOUT_EACH):
            found[i].setdefault(s, {}).setdefault(p, []).append(o)
        return [[by[s] for s in subjects if s in by] for subjects, by in zip(resources, found, strict=True)]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._memory = {}

    def __enter__(self) -> ListingTriples:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
