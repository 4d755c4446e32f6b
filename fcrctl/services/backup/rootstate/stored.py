"""A recorded state on disk as an immutable base plus the changes since it, so a snapshot costs what changed

``objects.jsonl`` starts with a header line::

    {"root": [...], "base": "objects.base.sqlite", "lthash": "<hex>", "files": N, "bytes": B, "asFound": [...]}

and goes on with one line per object changed since the base: its :class:`ObjectState`, or
``{"o": rel, "gone": true}``. A file without ``base`` holds the whole state (fail-safes, and
snapshots from before this format). The base is a SQLite table of every object's line, keyed by
its directory: a snapshot looks up only the objects the change journal names. It is never
written again once made; each snapshot using it holds a hard link to it, so deleting snapshots
needs no reference counting. ``lthash``, ``files`` and ``bytes`` are the whole state's
(digest.py), updated per change. When the changes outgrow an eighth of the base, the snapshot
writes a new base instead of a longer delta: O(size) once per size/8 changes, O(1) a change
amortised.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

from fcrctl.errors import CorruptData
from fcrctl.services.backup.rootstate import digest
from fcrctl.services.backup.rootstate.state import STATE_FILE, ObjectState, RootState

BASE_FILE = "objects.base.sqlite"
COMPACT_MIN = 4096  # changes always kept as a delta: a new base for fewer costs more than it saves
COMPACT_SHARE = 8  # past COMPACT_MIN, a new base once the changes exceed 1/8 of the base


def contribution(o: ObjectState) -> int:
    return digest.vector(digest.object_line(o.rel, o.head, o.digest))


def _line(o: ObjectState) -> str:
    return o.line()


def _gone(rel: str) -> str:
    return json.dumps({"o": rel, "gone": True}, separators=(",", ":"))


def open_base(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.execute("SELECT count(*) FROM meta").fetchone()  # a missing or foreign file fails here
    return conn


def read_header(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        header = json.loads(fh.readline())
    if not isinstance(header, dict) or not isinstance(header.get("root"), list):
        raise ValueError("its first line is not a state header")
    if "base" in header and header["base"] != BASE_FILE:  # a name from the file: never a path elsewhere
        raise ValueError(f"its base is {header['base']!r}, not {BASE_FILE}")
    return header


class _Objects:
    """The state's objects as a mapping: the delta over the base, looked up one at a time."""

    def __init__(self, owner: DeltaState) -> None:
        self._owner = owner

    def get(self, rel: str, default: ObjectState | None = None) -> ObjectState | None:
        found = self._owner.lookup(rel)
        return default if found is None else found

    def __getitem__(self, rel: str) -> ObjectState:
        found = self._owner.lookup(rel)
        if found is None:
            raise KeyError(rel)
        return found

    def __contains__(self, rel: object) -> bool:
        return isinstance(rel, str) and self._owner.lookup(rel) is not None

    def __setitem__(self, rel: str, o: ObjectState) -> None:
        self._owner.put(rel, o)

    def pop(self, rel: str, default: ObjectState | None = None) -> ObjectState | None:
        found = self._owner.remove(rel)
        return default if found is None else found


class DeltaState:
    """A recorded state opened for the next snapshot: the previous snapshot's base (read by
    key) plus its delta in memory, with the whole state's digest, counts and as-found objects
    kept up to date as objects change. Costs what changed, not what there is."""

    def __init__(self, root_files: list[str], base: sqlite3.Connection | None, base_path: Path | None,
                 delta: dict[str, ObjectState | None], total: int, files: int, size: int,
                 as_found: set[str]) -> None:
        self.root_files = root_files
        self._base = base
        self._base_path = base_path
        self._delta = delta
        self._total = total
        self._files = files
        self._bytes = size
        self._as_found = as_found
        self._looked_up: dict[str, ObjectState | None] = {}  # base entries read (the base never changes)
        self.objects = _Objects(self)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, where: Path) -> DeltaState:
        """The state a snapshot directory recorded; CorruptData if it is unreadable."""
        path = where / STATE_FILE
        try:
            header = read_header(path)
            if "base" not in header or "lthash" not in header:  # a whole state (older, or a fail-safe)
                return cls.of(RootState.load(path))
            base_path = where / BASE_FILE
            base = open_base(base_path)
            delta: dict[str, ObjectState | None] = {}
            with open(path, encoding="utf-8") as fh:
                fh.readline()
                for line in fh:
                    doc = json.loads(line)
                    delta[doc["o"]] = None if doc.get("gone") else ObjectState.from_json(doc)
            return cls(list(header["root"]), base, base_path, delta, digest.from_hex(header["lthash"]),
                       int(header["files"]), int(header["bytes"]), set(header.get("asFound", [])))
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as e:
            raise CorruptData(f"{path} is unreadable ({e}): the backup is damaged") from e

    @classmethod
    def of(cls, state: RootState) -> DeltaState:
        """A whole state in memory, with no base yet (its next save writes one)."""
        total = state.lthash
        if total is None:
            total = digest.sum_lines(digest.object_line(o.rel, o.head, o.digest) for o in state.objects.values())
        files = sum(o.files for o in state.objects.values())
        size = sum(o.bytes for o in state.objects.values())
        as_found = {o.rel for o in state.objects.values() if o.head is None}
        return cls(list(state.root_files), None, None, dict(state.objects), total, files, size, as_found)

    # -- reading and changing ----------------------------------------------------------------------
    def lookup(self, rel: str) -> ObjectState | None:
        if rel in self._delta:
            return self._delta[rel]
        return self._from_base(rel)

    def _from_base(self, rel: str) -> ObjectState | None:
        if self._base is None:
            return None
        if rel not in self._looked_up:
            row = self._base.execute("SELECT doc FROM objects WHERE rel=?", (rel,)).fetchone()
            self._looked_up[rel] = ObjectState.from_json(json.loads(row[0])) if row is not None else None
        return self._looked_up[rel]

    def prefetch(self, rels: Iterable[str]) -> None:
        """Read the base entries of ``rels`` now (before the writer lock is taken: under it only
        objects changed meanwhile are read from the base)."""
        if self._base is None:
            return
        wanted = sorted(rel for rel in set(rels) if rel not in self._looked_up and rel not in self._delta)
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            found = dict(self._base.execute(
                f"SELECT rel, doc FROM objects WHERE rel IN ({','.join('?' * len(part))})", part).fetchall())
            for rel in part:
                doc = found.get(rel)
                self._looked_up[rel] = ObjectState.from_json(json.loads(doc)) if doc is not None else None

    def put(self, rel: str, o: ObjectState) -> None:
        self._forget(self.lookup(rel))
        self._total = digest.add(self._total, contribution(o))
        self._files += o.files
        self._bytes += o.bytes
        if o.head is None:
            self._as_found.add(rel)
        self._delta[rel] = o

    def remove(self, rel: str) -> ObjectState | None:
        old = self.lookup(rel)
        if old is not None:
            self._forget(old)
            self._delta[rel] = None
        return old

    def _forget(self, old: ObjectState | None) -> None:
        if old is None:
            return
        self._total = digest.sub(self._total, contribution(old))
        self._files -= old.files
        self._bytes -= old.bytes
        self._as_found.discard(old.rel)

    def as_found(self) -> set[str]:
        return set(self._as_found)

    def size(self, own: str | None) -> tuple[int, int]:
        """(files, bytes) of the state, the root's own files read from ``own`` (as RootState.size)."""
        size = self._bytes
        if own is not None:
            size += sum(os.lstat(f"{own}/{rel}").st_size for rel in self.root_files)
        return self._files + len(self.root_files), size

    def digest(self) -> str:
        return digest.state_digest(self._total, self.root_files)

    def changes(self) -> tuple[list[str], list[str]]:
        """(directories of objects changed since the base, ids of base objects gone since): what
        a restore re-indexes over the base's index copy."""
        changed, gone = [], []
        for rel, o in sorted(self._delta.items()):
            if o is not None:
                changed.append(rel)
            else:
                old = self._from_base(rel)
                if old is not None and old.id:
                    gone.append(old.id)
        return changed, gone

    def changed_ids(self) -> set[str]:
        """Ids of the objects changed since the base, as they are now and as the base has them
        (what a count of resources over the base's index looks at again)."""
        ids: set[str] = set()
        for rel, o in self._delta.items():
            if o is not None:
                ids.add(o.id)
            old = self._from_base(rel)
            if old is not None:
                ids.add(old.id)
        ids.discard("")
        return ids

    @property
    def needs_base(self) -> bool:
        """Whether the next save writes a new base (and the snapshot a new index copy)."""
        if self._base is None:
            return True
        count = self._base.execute("SELECT value FROM meta WHERE key='count'").fetchone()
        return len(self._delta) > max(COMPACT_MIN, int(count[0] if count else 0) // COMPACT_SHARE)

    def items(self) -> Iterator[tuple[str, ObjectState]]:
        """Every object, sorted by directory: the base merged with the delta."""
        delta = sorted(self._delta.items())
        i = 0
        rows = self._base.execute("SELECT rel, doc FROM objects ORDER BY rel") if self._base is not None else ()
        for rel, doc in rows:
            while i < len(delta) and delta[i][0] < rel:
                if delta[i][1] is not None:
                    yield delta[i]  # type: ignore[misc]
                i += 1
            if i < len(delta) and delta[i][0] == rel:
                if delta[i][1] is not None:
                    yield delta[i]  # type: ignore[misc]
                i += 1
                continue
            yield rel, ObjectState.from_json(json.loads(doc))
        for rel, o in delta[i:]:
            if o is not None:
                yield rel, o

    def whole(self) -> RootState:
        return RootState(dict(self.items()), list(self.root_files))

    # -- saving ------------------------------------------------------------------------------------
    def save(self, where: Path, *, new_base: bool = False) -> bool:
        """Write the state into snapshot directory ``where``: the delta over the same base
        (linked), or a new base when :attr:`needs_base` or ``new_base`` (the snapshot copied
        the index whole: the next one's index base is that copy). True when a new base was written."""
        fresh = new_base or self.needs_base
        if fresh:
            write_base(where / BASE_FILE, ((rel, _line(o)) for rel, o in self.items()))
            delta: list[tuple[str, ObjectState | None]] = []
        else:
            assert self._base_path is not None
            link_or_copy(self._base_path, where / BASE_FILE)
            delta = sorted(self._delta.items())
        header = {"root": sorted(self.root_files), "base": BASE_FILE, "lthash": digest.to_hex(self._total),
                  "files": self._files, "bytes": self._bytes, "asFound": sorted(self._as_found)}
        with open(where / STATE_FILE, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            for rel, o in delta:
                fh.write((_line(o) if o is not None else _gone(rel)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return fresh

    def close(self) -> None:
        if self._base is not None:
            with contextlib.suppress(sqlite3.Error):
                self._base.close()


def write_base(path: Path, rows: Iterator[tuple[str, str]]) -> None:
    """A new base: every object's line by directory, written once and synced."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")  # fsync'd whole below, before the snapshot is installed
        conn.execute("CREATE TABLE objects (rel TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        count = 0
        batch: list[tuple[str, str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 10_000:
                conn.executemany("INSERT INTO objects VALUES (?,?)", batch)
                count += len(batch)
                batch.clear()
        conn.executemany("INSERT INTO objects VALUES (?,?)", batch)
        count += len(batch)
        conn.execute("INSERT INTO meta VALUES ('count', ?)", (str(count),))
        conn.commit()
    finally:
        conn.close()
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
