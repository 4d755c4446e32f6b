"""What an upload re-reads of the files a store already has (``backup --to``, ``upload-backup``).

A blob the store lacks is read, hashed and checked against its inventory as it is sent. A blob
the store has costs nothing to send, and would otherwise never be read: a content file damaged
in place since it was first uploaded would go on being "backed up" as sound. So after an upload
content files of the snapshot are compared, as restic does, with what fcrctl saw when it last
read them in full: inode, size, mtime and ctime. A file that differs, or that fcrctl never read,
is read and hashed against its inventory (exit 8 naming the resources if it does not match).

What it costs is what changed, not the size of the repository (issue 14):

- Every object whose recorded line differs from the state checked last time (the previous
  ``objects.jsonl``, kept as a hard link ``.read-stats.state``, and the base it is a delta over,
  ``.read-stats.base.sqlite``: rootstate/stored.py) is checked whole, as are objects that failed
  before. An unchanged snapshot links the same file, so nothing is even compared; on the same
  base only the two deltas are compared; a new base is compared whole, once per base.
- Beyond those, content files of unchanged objects are re-stat'ed per upload, those checked
  longest ago first: up to ``SWEEP_FILES``, and past ``SWEEP_MIN`` only while the sweep has
  taken under ``SWEEP_SECONDS``. A stat whose inode is cached costs ~10 us (~15 us a file with
  the rows read and written); one that is not waits on the disk (~150 us wall here, measured at
  100k objects), which made a fixed 8,192 the upload's one cost that grew with the repository
  (issue 14). So in-place damage to a file nothing changed is found within ``files / ~6,000``
  uploads while the inodes are cached (20k files, 10k objects: every 3-4 uploads) and within
  ``files / SWEEP_MIN`` on the coldest disk (2M files, 1M objects: ~4,000); ``fixity`` and
  ``--read-data`` (every file read and hashed, whatever it looks like) find it at once at any size.

The stats live in ``<home>/.read-stats.sqlite``, one row per object (its inventory digest and
each content file's path and stat), read and written only for the objects looked at. What this
does not catch: damage that keeps a file's inode, size, mtime and ctime (ctime cannot be set
back short of changing the clock); ``--read-data`` and ``verify-backup --read-data`` do.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fcrctl import paths
from fcrctl.errors import CorruptData, Locked
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.manifest.fds import sha512_file
from fcrctl.services.backup.reread_states import State, changes, objects
from fcrctl.services.backup.snapshot import BackupHome, BackupInfo

STATS = ".read-stats.sqlite"
BASE = ".read-stats.state"  # a hard link to the objects.jsonl the stats were last brought up to
BASE_OBJECTS = ".read-stats.base.sqlite"  # a hard link to the objects.base.sqlite that state is a delta over
OLD_STATS = ".read-stats.jsonl"  # the one-file form of earlier releases (read whole each time)
SWEEP_FILES = 8_192  # content files of unchanged objects re-stat'ed per upload at most (~0.1 CPU s, cached)
SWEEP_MIN = 512  # and at least, however long their stats take (~0.08 s wall uncached)
SWEEP_SECONDS = 0.1  # past SWEEP_MIN the sweep stops after this long (stats of uncached inodes wait on the disk)
SWEEP_PAGE = 256  # rows read at a time
BUSY_WAIT = 600.0  # seconds an upload waits for another one's comparison (one writer at a time)
Stat = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns
Files = list[tuple[str, Stat]]
_BAD = -1  # the "checked" run of an object that failed: looked at again every time until it passes
_STALE = -2  # during a whole check: a row not written again by its end is of an object gone
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (rel TEXT PRIMARY KEY, id TEXT NOT NULL, head TEXT NOT NULL,
    digest TEXT NOT NULL, files TEXT NOT NULL, checked INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_checked ON objects (checked);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass
class Checked:
    objects: int = 0  # objects looked at (changed, failed before, or swept)
    files_statted: int = 0
    files_read: int = 0
    bytes_read: int = 0


def _stat(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class _Stats:
    """The stats database: rows by object, the run counter, and which state they describe."""

    def __init__(self, file: Path) -> None:
        self.db = self._open(file)
        row = self.db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        self.run = int(row[0]) + 1 if row else 1
        base = self.db.execute("SELECT value FROM meta WHERE key = 'base'").fetchone()
        self.base_inode = int(base[0]) if base else None
        objects = self.db.execute("SELECT value FROM meta WHERE key = 'objectsBase'").fetchone()
        self.objects_inode = int(objects[0]) if objects and objects[0] else None

    @staticmethod
    def _open(file: Path) -> sqlite3.Connection:
        for attempt in range(2):
            db = sqlite3.connect(file, timeout=BUSY_WAIT, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                db.execute("SELECT rel, id, head, digest, files, checked FROM objects LIMIT 1").fetchall()
                return db
            except sqlite3.DatabaseError as e:  # damaged: it is a cache, everything is checked again
                db.close()
                if attempt or "locked" in str(e) or "busy" in str(e):
                    raise  # another upload holds it: never taken for damage
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{file}{suffix}")
        raise AssertionError("unreachable")

    def get(self, rel: str) -> tuple[str, Files] | None:
        row = self.db.execute("SELECT digest, files FROM objects WHERE rel = ?", (rel,)).fetchone()
        files = None if row is None else _files(row[1])
        return None if row is None or files is None else (row[0], files)

    def oldest(self, after: tuple[int, str], limit: int) -> list[tuple[rootstate.ObjectState, Files | None, int]]:
        """Up to ``limit`` rows after ``after`` (checked, rel), those that failed first, then those
        checked longest ago; none checked in this run (a sweep goes on from its last row)."""
        return [(rootstate.ObjectState(rel, oid, head, digest), _files(files), checked)
                for rel, oid, head, digest, files, checked in self.db.execute(
                    "SELECT rel, id, head, digest, files, checked FROM objects WHERE checked < ? "
                    "AND (checked, rel) > (?, ?) ORDER BY checked, rel LIMIT ?", (self.run, *after, limit))]

    def put(self, rows: list[tuple[str, str, str, str, str, int]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()


def _files(text: str) -> Files | None:
    """A row's files; None for an object that failed, or a damaged row: its files are read again."""
    try:
        return [(str(f[0]), (int(f[1]), int(f[2]), int(f[3]), int(f[4]))) for f in json.loads(text)]
    except (ValueError, TypeError, IndexError):
        return None


def _row(o: rootstate.ObjectState, files: Files | None, checked: int) -> tuple[str, str, str, str, str, int]:
    """A row; ``files`` None: the object failed, and nothing of it is trusted next time."""
    text = "null" if files is None else json.dumps([[p, *st] for p, st in files], separators=(",", ":"))
    return o.rel, o.id, o.head or "", o.digest, text, checked


def check_snapshot(home: BackupHome, info: BackupInfo, *, read_data: bool = False,
                   sent: Iterable[str] = ()) -> Checked:
    """Compare content files of snapshot ``info`` with what fcrctl last read of them (those of
    objects changed since the last check, those that failed then, and a sweep of the rest),
    reading and hashing those that differ (every file of every object with ``read_data``).
    ``sent``: digests this upload read and verified already (their files are not read again).
    CorruptData if any file does not hold its recorded digest. A snapshot without a recorded
    state (crawled, downloaded) owns its files: nothing to compare (verify-backup --read-data
    reads them)."""
    where = home.path(info.id)
    state_file = where / rootstate.STATE_FILE
    if not state_file.exists() or info.epoch is None:
        return Checked()
    with contextlib.suppress(OSError):
        (home.root / OLD_STATS).unlink(missing_ok=True)
    state = State(state_file, where / rootstate.BASE_FILE)
    try:
        stats = _Stats(home.root / STATS)
        try:
            return _check(home, info, stats, state, read_data, set(sent) if not read_data else set())
        finally:
            stats.close()
            state.close()
    except sqlite3.OperationalError as e:  # another upload of this repository holds it past the timeout
        raise Locked(f"{home.root / STATS} is busy ({e}): another upload from this repository is comparing its "
                     f"files; try again when it is done") from None


def _last_checked(base: Path, objects_base: Path, stats: _Stats) -> State | None:
    """The state the rows describe, None if it cannot be read as the rows say (its base link
    lost or out of step with them: a crash between the rows and the links)."""
    try:
        old = State(base, objects_base)
    except CorruptData:
        return None
    found = _stat(str(objects_base)) if old.base_file is not None else None
    if old.base_file is not None and (found is None or found[0] != stats.objects_inode):
        old.close()
        return None
    return old


def _check(home: BackupHome, info: BackupInfo, stats: _Stats, state: State, read_data: bool,
           verified: set[str]) -> Checked:
    state_file = state.file
    base = home.root / BASE
    objects_base = home.root / BASE_OBJECTS
    base_stat = _stat(str(base))
    whole = read_data or base_stat is None or stats.base_inode != base_stat[0]
    changed: Iterable[rootstate.ObjectState] = []
    removed: list[str] = []
    if not whole and not os.path.samestat(os.stat(base), os.stat(state_file)):  # (unchanged: the same state linked)
        old = _last_checked(base, objects_base, stats)
        if old is None:
            whole = True
        else:
            try:
                changed, removed = changes(old, state)
            finally:
                old.close()
    if whole:  # no state to compare with (or --read-data): every object, streamed
        changed = objects(state)
        removed = []
    sources = home.sources_of(info)
    done = Checked()
    bad: list[str] = []
    looked: set[str] = set()
    rows: list[tuple[str, str, str, str, str, int]] = []
    db = stats.db
    db.execute("BEGIN IMMEDIATE")  # one writer at a time: a second upload waits, then sees these rows
    try:
        if whole:  # every object of the state is written again below; the rest goes at the end
            db.execute("UPDATE objects SET checked = ?", (_STALE,))
        db.executemany("DELETE FROM objects WHERE rel = ?", ((rel,) for rel in removed))

        def settle(o: rootstate.ObjectState, cached: tuple[str, Files] | None) -> None:
            files = _object(o, cached, sources, info, verified, read_data, done)
            if files is None:
                bad.append(paths.from_id(o.id) if o.id.startswith(paths.ROOT_ID) else o.rel)
            rows.append(_row(o, files, _BAD if files is None else stats.run))
            if len(rows) >= 1000:
                stats.put(rows)
                rows.clear()

        for o in changed:
            if o.head is None:
                continue  # copied into the snapshot as found: it has no recorded digests
            looked.add(o.rel)
            settle(o, None if read_data else stats.get(o.rel))
        stats.put(rows)
        rows.clear()
        if whole:
            db.execute("DELETE FROM objects WHERE checked = ?", (_STALE,))
        else:
            _sweep(stats, looked, settle, done)
        stats.put(rows)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('run', ?)", (str(stats.run),))
        if not bad:  # the rows now describe this state (after a failure, the next check starts from the last)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('base', ?)", (str(os.stat(state_file).st_ino),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('objectsBase', ?)",
                       (str(os.stat(state.base_file).st_ino) if state.base_file is not None else "",))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise CorruptData(f"content of {shown} no longer matches its inventory (damaged in place since it was "
                          f"recorded): backup {info.id} is not sound; restore those resources from an earlier "
                          f"backup (`fcrctl restore ID --from STORE --path PATH`)", path=bad[0])
    if whole or base_stat is None or base_stat[0] != os.stat(state_file).st_ino:
        # the base first: a crash before the state is linked leaves a state the rows do not describe
        if state.base_file is not None:
            link_atomically(state.base_file, objects_base)
        link_atomically(state_file, base)
        if state.base_file is None:
            with contextlib.suppress(OSError):
                objects_base.unlink(missing_ok=True)
    return done


def _sweep(stats: _Stats, looked: set[str],
           settle: Callable[[rootstate.ObjectState, tuple[str, Files] | None], None], done: Checked) -> None:
    """Every object that failed before, then unchanged ones checked longest ago: up to SWEEP_FILES
    files, and past SWEEP_MIN files only while the sweep has taken less than SWEEP_SECONDS."""
    started = time.monotonic()
    statted = 0
    after = (_BAD - 1, "")
    while page := stats.oldest(after, SWEEP_PAGE):  # a page at a time: rows change as they are settled
        unchanged: list[tuple[int, str]] = []
        spent = False
        for o, files, checked in page:
            after = (checked, o.rel)
            if o.rel in looked:
                continue
            if checked == _BAD or files is None:
                settle(o, None)  # read again whole, whatever the budget
                continue
            if statted >= SWEEP_FILES or (statted >= SWEEP_MIN and time.monotonic() - started >= SWEEP_SECONDS):
                spent = True
                break
            statted += len(files)
            if all(_stat(p) == st for p, st in files):
                done.objects += 1
                done.files_statted += len(files)
                unchanged.append((stats.run, o.rel))
            else:
                settle(o, (o.digest, files))
        stats.db.executemany("UPDATE objects SET checked = ? WHERE rel = ?", unchanged)
        if spent:
            break


def _object(o: rootstate.ObjectState, cached: tuple[str, Files] | None, sources: rootstate.Sources,
            info: BackupInfo, verified: set[str], read_data: bool, done: Checked) -> Files | None:
    """One object's content files compared (read where they differ); None if one is damaged."""
    done.objects += 1
    if cached is not None and cached[0] == o.digest and not read_data:
        done.files_statted += len(cached[1])
        if all(_stat(p) == st for p, st in cached[1]):
            return cached[1]
    located = sources.locate(o)
    if located is None:
        raise CorruptData(f"backup {info.id} lacks object {o.rel}: run `fcrctl verify-backup {info.id}`")
    obj_dir, inventory = located
    before = dict(cached[1]) if cached is not None and not read_data else {}
    files: Files = []
    ok = True
    for content, digest in _content(inventory, o.rel):
        path = f"{obj_dir}/{content}"
        st = _stat(path)
        done.files_statted += 1
        if st is None:
            ok = False
            continue
        if digest not in verified and before.get(path) != st:
            done.files_read += 1
            done.bytes_read += st[1]
            if sha512_file(path) != digest:
                ok = False
                continue
        files.append((path, st))
    return files if ok else None


def link_atomically(state_file: Path, base: Path) -> None:
    """Point ``base`` at ``state_file`` (a hard link, or a copy across filesystems), replacing it
    atomically: the re-read check's and verify's records of the state they last checked."""
    import shutil

    tmp = base.with_name(f"{base.name}.{os.getpid()}.tmp")
    for attempt in range(2):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(state_file, tmp)
        except OSError:
            shutil.copyfile(state_file, tmp)
        try:
            os.replace(tmp, base)
            break
        except FileNotFoundError:  # taken for a leftover by a process on another host sharing this directory
            if attempt:
                raise
    # a rename onto another link of the same file does nothing (POSIX) and leaves ``tmp``: a link
    # that would keep a pruned snapshot's base (150 MB at 300k objects) on the disk
    tmp.unlink(missing_ok=True)
    _forget_left(base)


def _forget_left(base: Path) -> None:
    """Links of ``base`` that earlier releases left behind (that no-op rename): ``<name>.<pid>.tmp``
    of a process that has ended."""
    prefix = f"{base.name}."
    with contextlib.suppress(OSError), os.scandir(base.parent) as listing:
        for entry in listing:
            pid = entry.name[len(prefix):-len(".tmp")] if entry.name.startswith(prefix) else ""
            if entry.name.endswith(".tmp") and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _content(inventory: bytes, rel: str) -> list[tuple[str, str]]:
    """(content path, sha512) of every content file the inventory's manifest lists."""
    try:
        doc = json.loads(inventory)
        if doc.get("digestAlgorithm", "sha512") != "sha512":
            return []  # digests we cannot compare with a sha512: verify-backup --read-data checks them
        return [(p, str(d).lower()) for d, ps in doc["manifest"].items() for p in ps]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CorruptData(f"object {rel}: unreadable inventory ({e}); run `fcrctl verify-backup`") from e
