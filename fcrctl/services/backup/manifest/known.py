"""Manifests known sound, so that an upload building a delta on the store's previous manifest, and a
verify --from of a chain it checked before, need not read each of them whole again (issue 14).

An upload that writes a delta checks the manifest it builds on (a damaged base would make the new
backup unrestorable too), and a verify --from checked every recorded link's lines against their
sha256: both read the whole of a full manifest, O(objects), for a backup that changed nothing.
A manifest's bytes never change while it keeps its id and lines' sha256 (a fold that rewrites one
changes the sha256 its header gives), so this keeps, beside the backups (``sound.sqlite`` in the
store's reference cache directory, refcache.py), for each manifest this home wrote or read whole
and found sound: its lines' sha256, its stored size and the sha256 of each ``CHUNK`` of its stored
(compressed) bytes. A later use takes a manifest as sound without reading it when:

- its header (read anyway) gives the recorded lines' sha256 and the store lists it with the
  recorded size (a manifest replaced, truncated or extended is read whole again), and
- ``SWEEP_CHUNKS`` of its chunks, those compared longest ago first, read again from the store
  hash as recorded, so damage at rest that keeps the size is found within chunks / SWEEP_CHUNKS
  uses (at once for a manifest below ``SWEEP_CHUNKS`` MB: every delta of a nightly chain).

Anything else (no record, a mismatch, a store that cannot list sizes, a cache that cannot be read)
means the whole read of before, whose result is recorded when it finds the manifest sound. A
verify takes only what it read back from the store itself (``read``), never what an upload
recorded of the bytes it sent. ``verify-backup --read-data`` reads everything, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from fcrctl.errors import FcrctlError
from fcrctl.services.backup.manifest import chain
from fcrctl.services.backup.manifest.format import manifest_key
from fcrctl.services.backup.refcache import RefCache
from fcrctl.services.backup.stores.base import BackupStore

FILE = "sound.sqlite"
CHUNK = 1 << 20  # stored bytes per recorded sha256
SWEEP_CHUNKS = 8  # chunks read again and compared per use (~8 MB)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (id TEXT PRIMARY KEY, lines TEXT NOT NULL, size INTEGER NOT NULL,
    read INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (id TEXT NOT NULL, n INTEGER NOT NULL, sha256 BLOB NOT NULL,
    checked INTEGER NOT NULL, PRIMARY KEY (id, n)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frames (id TEXT NOT NULL, line INTEGER NOT NULL, offset INTEGER NOT NULL,
    PRIMARY KEY (id, line)) WITHOUT ROWID;
"""
_ERRORS = (sqlite3.Error, OSError, ValueError)


def chunk_hashes(pieces: Iterable[bytes]) -> tuple[int, list[bytes]]:
    """(size, sha256 of each CHUNK) of the bytes ``pieces`` hold, in order."""
    hasher = _Chunks()
    for piece in pieces:
        hasher.update(piece)
    return hasher.finish()


class _Chunks:
    def __init__(self) -> None:
        self.size = 0
        self.done: list[bytes] = []
        self._h = hashlib.sha256()
        self._in = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), CHUNK - self._in)
            self._h.update(view[:take])
            self._in += take
            self.size += take
            view = view[take:]
            if self._in == CHUNK:
                self.done.append(self._h.digest())
                self._h, self._in = hashlib.sha256(), 0

    def finish(self) -> tuple[int, list[bytes]]:
        return self.size, self.done + ([self._h.digest()] if self._in else [])


def _open(store: BackupStore, home: Path | None, create: bool) -> sqlite3.Connection | None:
    cache = RefCache.of(home, store.location)
    if cache is None or (not create and not (cache.root / FILE).exists()):
        return None
    cache.root.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        db = sqlite3.connect(cache.root / FILE, timeout=60, isolation_level=None)
        try:
            db.executescript(_SCHEMA)
            return db
        except sqlite3.DatabaseError as e:
            db.close()
            if attempt or not create or "locked" in str(e) or "busy" in str(e):
                raise
            (cache.root / FILE).unlink(missing_ok=True)  # damaged: a record, rebuilt by whole reads
        except BaseException:
            db.close()
            raise
    return None


def note(store: BackupStore, home: Path | None, backup_id: str, lines_sha256: str | None,
         size: int, chunks: list[bytes], *, read: bool, frames: list[tuple[int, int]] | None = None) -> None:
    """Record a manifest as sound: the bytes this home put (``read`` False), or read back from the
    store and found to hash to its lines' sha256 (``read`` True). ``frames``: where each zstd frame
    of its lines starts and the place of its first line (the writer's), kept for the same bytes
    read back. A failure only leaves it unrecorded."""
    if not lines_sha256:
        return
    with contextlib.suppress(*_ERRORS, FcrctlError):
        db = _open(store, home, create=True)
        if db is None:
            return
        try:
            if _stored_sizes(store, db).get(backup_id) != size:  # not all of it was read, or it changed since
                return
            db.execute("BEGIN IMMEDIATE")
            run = _run(db)
            same = [bytes(d) for (d,) in db.execute("SELECT sha256 FROM chunks WHERE id = ? ORDER BY n",
                                                    (backup_id,))] == chunks
            if frames is not None or not same:
                db.execute("DELETE FROM frames WHERE id = ?", (backup_id,))
            db.executemany("INSERT INTO frames VALUES (?, ?, ?)", ((backup_id, first, offset)
                                                                   for offset, first in frames or ()))
            db.execute("DELETE FROM chunks WHERE id = ?", (backup_id,))
            db.execute("INSERT OR REPLACE INTO manifests VALUES (?, ?, ?, ?)",
                       (backup_id, lines_sha256, size, int(read)))
            db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                           ((backup_id, n, digest, run) for n, digest in enumerate(chunks)))
            db.execute("COMMIT")
        finally:
            db.close()


def _run(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
    run = (int(row[0]) if row else 0) + 1
    db.execute("INSERT OR REPLACE INTO meta VALUES ('run', ?)", (run,))
    return run


def recorded(store: BackupStore, home: Path | None, link: chain.Link, *, read: bool) -> bool:
    """Whether ``link`` is as recorded sound (its lines' sha256 and stored size) and its oldest
    compared ``SWEEP_CHUNKS`` chunks still hash as recorded. ``read``: only a record of bytes
    read back from the store counts. False (read it whole) on any doubt."""
    if not link.lines_sha256:
        return False
    try:
        db = _open(store, home, create=False)
    except _ERRORS:
        return False
    if db is None:
        return False
    try:
        row = db.execute("SELECT lines, size, read FROM manifests WHERE id = ?", (link.id,)).fetchone()
        if row is None or row[0] != link.lines_sha256 or (read and not row[2]):
            return False
        size = _stored_sizes(store, db).get(link.id)
        if size is None or size != row[1]:
            return False
        db.execute("BEGIN IMMEDIATE")
        run = _run(db)
        picked = db.execute("SELECT n, sha256 FROM chunks WHERE id = ? ORDER BY checked, n LIMIT ?",
                            (link.id, SWEEP_CHUNKS)).fetchall()
        key = manifest_key(link.id)
        for n, digest in picked:
            data = store.get_range(key, n * CHUNK, min(CHUNK, size - n * CHUNK))
            if hashlib.sha256(data).digest() != digest:
                db.execute("ROLLBACK")
                return False
        db.executemany("UPDATE chunks SET checked = ? WHERE id = ? AND n = ?",
                       ((run, link.id, n) for n, _ in picked))
        db.execute("COMMIT")
        return True
    except (*_ERRORS, FcrctlError):
        return False
    finally:
        db.close()


def _stored_sizes(store: BackupStore, db: sqlite3.Connection) -> dict[str, int]:
    """The store's manifests' sizes by id (nothing when it cannot list sizes); the records of
    manifests it no longer holds are dropped."""
    sized = getattr(store, "list_sizes", None)
    if not callable(sized):
        return {}
    out = {k.rsplit("/", 1)[-1].removesuffix(".jsonl.zst"): int(n) for k, n in sized("manifests/")
           if k.endswith(".jsonl.zst")}
    gone = [bid for (bid,) in db.execute("SELECT id FROM manifests") if bid not in out]
    if gone:
        db.executemany("DELETE FROM manifests WHERE id = ?", ((b,) for b in gone))
        db.executemany("DELETE FROM chunks WHERE id = ?", ((b,) for b in gone))
        db.executemany("DELETE FROM frames WHERE id = ?", ((b,) for b in gone))
    return out


def sound(store: BackupStore, home: Path | None, link: chain.Link) -> bool:
    """chain.sound (the link's lines whole and hashing to their sha256), without reading it when it
    is recorded sound (:func:`recorded`, an upload's own record counting); a whole read that finds
    it sound is recorded."""
    if recorded(store, home, link, read=False):
        return True
    tee = Tee(store)
    if not chain.sound(tee, link):
        return False
    tee.note(home, [link])
    return True


class Tee:
    """``store``, the stored bytes of each manifest read through it hashed in CHUNKs (for
    :func:`note`): what a whole read found sound is recorded without a second read."""

    def __init__(self, store: BackupStore) -> None:
        self._store = store
        self.read: dict[str, tuple[int, list[bytes]]] = {}  # manifest key -> (size, chunk sha256s)

    def get(self, key: str) -> BinaryIO:
        raw = self._store.get(key)
        if not key.startswith("manifests/"):
            return raw
        return _Hashing(raw, lambda size, chunks: self.read.__setitem__(key, (size, chunks)))  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def note(self, home: Path | None, links: Iterable[chain.Link]) -> None:
        """Record each of ``links`` read whole through this, as read back and found sound."""
        for link in links:
            got = self.read.get(manifest_key(link.id))
            if got is not None:
                note(self._store, home, link.id, link.lines_sha256, got[0], got[1], read=True)


class _Hashing:
    """A stored value read through, hashed in CHUNKs; ``done`` called with what was read when it is closed."""

    def __init__(self, raw: BinaryIO, done: Any) -> None:
        self._raw = raw
        self._chunks = _Chunks()
        self._done = done

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._chunks.update(data)
        return data

    def close(self) -> None:
        """What was read is handed on (:func:`note` records it only if it is the whole value)."""
        if self._done is not None:
            self._done(*self._chunks.finish())
            self._done = None
        self._raw.close()

    def __enter__(self) -> _Hashing:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def window(store: BackupStore, home: Path | None, link: chain.Link,
           ranges: list[tuple[int, int]]) -> Iterator[bytes]:
    """The link's own lines whose place is in one of ``ranges`` (half-open), for a link recorded
    sound: not hashed; read from the frame holding the first wanted line when the writer's frames
    are recorded, else from its start, and never past the last wanted line."""
    wanted = sorted((lo, hi) for lo, hi in ranges if hi > lo)
    if not wanted:
        return
    starts = _frames(store, home, link.id)
    if not starts:
        yield from _from_start(store, link, wanted)
        return
    key = manifest_key(link.id)
    for lo, hi in wanted:
        first, begin = max(((line, at) for line, at in starts if line <= lo), default=starts[0])
        end = min((at for line, at in starts if line >= hi), default=None)
        yield from _in_frames(store, key, link.id, begin, end, first, lo, hi)


def _frames(store: BackupStore, home: Path | None, backup_id: str) -> list[tuple[int, int]]:
    """(place of its first line, offset) of each recorded frame of the manifest's lines."""
    try:
        db = _open(store, home, create=False)
    except _ERRORS:
        return []
    if db is None:
        return []
    try:
        return [(int(a), int(b)) for a, b in db.execute(
            "SELECT line, offset FROM frames WHERE id = ? ORDER BY line", (backup_id,))]
    except _ERRORS:
        return []
    finally:
        db.close()


def _in_frames(store: BackupStore, key: str, backup_id: str, begin: int, end: int | None, first: int,
               lo: int, hi: int) -> Iterator[bytes]:
    """Lines lo..hi-1 from the frames stored at ``begin``..``end`` (None: to the end), the first
    of them line ``first``; CorruptData if they are not whole zstd frames of whole lines."""
    import io

    import zstandard

    from fcrctl.services.backup import validate

    if end is None:
        sized = getattr(store, "list_sizes", None)
        end = dict(sized("manifests/")).get(key) if callable(sized) else None
        if end is None:
            raise validate.damaged(backup_id, "it is no longer listed")
    data = store.get_range(key, begin, end - begin)
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    index, pending = first, b""
    try:
        while index < hi and (chunk := reader.read(1 << 20)):
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            block, pending = pending[:cut], pending[cut:]
            if len(pending) > chain._LINE_MAX:  # noqa: SLF001 - a store's data never decides how much is held
                raise validate.damaged(backup_id, "it has a line over the limit")
            for line in block.split(b"\n")[:-1]:
                if lo <= index < hi:
                    yield line + b"\n"
                index += 1
    except zstandard.ZstdError as e:
        raise validate.damaged(backup_id, f"a frame of its lines is damaged ({e})") from e
    if index < hi:
        raise validate.damaged(backup_id, "it has fewer lines than its frames say")


def _from_start(store: BackupStore, link: chain.Link, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
    return chain.pick(chain._LineBlocks(store, link), ranges)  # noqa: SLF001 - the same whole-line blocks, unhashed
