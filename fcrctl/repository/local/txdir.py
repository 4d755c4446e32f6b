"""One local transaction's staging directory (``REPO/staging/<id>/``): its record, activity, lock and cleanup

A transaction directory holds:

``tx.json``       id, status (open / committing / committed / rolled_back / expired), timeout;
                  written durably at every status change. Its presence makes the transaction exist.
``alive``         its mtime is the last activity; expiry = mtime + timeout.
``lock``          the transaction's writer lock (writes inside it, commit and rollback take it).
``index.sqlite``  a copy of the repository index taken at begin, updated by the staged writes:
                  reads inside the transaction see its own changes on top of that snapshot. Its
                  ``touched`` and ``blobs`` tables (staging.py) record every object the transaction
                  wrote: the committed head it was based on, and for objects new in it, their
                  whole staged state (content inline or under ``blobs/``).
``root/``         staged copies of objects that exist in ``ocfl-root``: the first write hard-links
                  the committed object here (files are immutable, so links are safe copies), later
                  writes add versions to the copy. Untouched objects are read from ``ocfl-root/``.
``tmp/``          uploads being spooled.

Closing a transaction writes its final record to ``REPO/staging/closed/<id>.json`` (kept a day, to
answer "already committed") and moves its directory away in one rename: opening the repository
then scans only the transactions still open, however many were committed that day.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl.errors import CorruptData, TransactionGone
from fcrctl.repository.base import check_tx_id
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index
from fcrctl.repository.local.lock import WriterLock

TX_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ORPHAN_GRACE = 60.0  # a staging dir without tx.json younger than this may be a begin in progress
CLOSED_KEEP = 24 * 3600.0  # closed transactions answer "already committed" for a day
CLOSED = "closed"  # staging/closed/<id>.json: records of closed transactions
TRASH = ".trash-"  # staging/.trash-*: directories of closed transactions being deleted
CRASH_ENV = "FCRCTL_TEST_CRASH_AT"  # tests: kill -9 this process at a named point of commit


def check_id(tx_id: str) -> str:
    return check_tx_id(tx_id)


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class TxDir:
    """One transaction's staging directory."""

    def __init__(self, staging: Path, tx_id: str) -> None:
        self.id = tx_id
        self.dir = staging / tx_id
        self.meta_path = self.dir / "tx.json"
        self.closed_path = staging / CLOSED / f"{tx_id}.json"
        self._meta: tuple[tuple[int, int, int], dict] | None = None
        self._touched = 0.0  # when this process last set ``alive`` (time.time())

    # -- state ------------------------------------------------------------------------------
    def meta(self) -> dict:
        try:
            # the closed record wins: a crash may leave the directory of a closed transaction behind
            path = self.closed_path if os.path.exists(self.closed_path) else self.meta_path
            # tx.json is only ever replaced by rename: the same inode and mtime mean the same content
            st = os.stat(path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._meta is not None and self._meta[0] == key:
                return dict(self._meta[1])
            data = json.loads(path.read_text("utf-8"))
            self._meta = (key, data)
            data = dict(data)
        except FileNotFoundError:
            raise TransactionGone(
                f"no transaction {self.id} here: it never existed in this repository, belongs to another one, "
                "or was cleaned up; begin a new one with `fcrctl tx begin`"
            ) from None
        except (OSError, ValueError) as e:
            raise CorruptData(f"transaction {self.id}: unreadable {self.meta_path}: {e}") from e
        return data

    def write_meta(self, data: dict) -> None:
        ocfl.write_durable(self.meta_path, json.dumps(data).encode())

    def last_activity(self) -> float:
        try:
            return os.stat(self.dir / "alive").st_mtime
        except OSError:
            return 0.0

    def status(self, meta: dict | None = None) -> str:
        meta = meta or self.meta()
        status = meta["status"]
        if status == "open":
            # ``alive`` is never older than our own last touch: within the timeout of it, no stat
            now, timeout = time.time(), float(meta["timeout"])
            if now > self._touched + timeout and now > self.last_activity() + timeout:
                return "expired"
        return status

    def expires(self, meta: dict) -> datetime | None:
        if meta["status"] != "open":
            return None
        return datetime.fromtimestamp(self.last_activity() + float(meta["timeout"]), UTC)

    def require_open(self) -> dict:
        meta = self.meta()
        status = self.status(meta)
        if status == "open":
            return meta
        what = {
            "expired": f"expired after {float(meta['timeout']):g} s without activity; its changes were discarded",
            "committed": "was already committed",
            "rolled_back": "was rolled back",
            "committing": "is being committed",
        }.get(status, status)
        raise TransactionGone(f"transaction {self.id} {what}: begin a new one with `fcrctl tx begin`")

    def touch(self, timeout: float | None = None) -> None:
        """Record activity. With the ``timeout``, a touch this process made less than a
        hundredth of it ago (at most 1 s) is recent enough: staging thousands of writes a second
        need not set the mtime each time (expiry comes at most that much earlier)."""
        now = time.time()
        if timeout is not None and now - self._touched < min(1.0, timeout / 100):
            return
        try:
            os.utime(self.dir / "alive")
        except FileNotFoundError:
            self.require_open()  # closed meanwhile: say so
            raise
        self._touched = now

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[WriterLock]:
        if not self.dir.is_dir():
            self.require_open()  # closed: its lock went with its directory
        lock = WriterLock(self.dir / "lock", timeout)
        try:
            with lock.held():
                yield lock
        finally:
            lock.close()

    def close(self, status: str, **extra: Any) -> None:
        """Record the final status under closed/, then drop the transaction's directory."""
        meta = self.meta()
        meta.update(status=status, closed=time.time(), **extra)
        meta.pop("expected", None)
        self.closed_path.parent.mkdir(exist_ok=True)
        ocfl.write_durable(self.closed_path, json.dumps(meta).encode())
        self.drop()

    def drop(self) -> None:
        """Remove the directory (its record is under closed/)."""
        if self.dir.is_dir():
            delete_later([_to_trash(self.dir)])


def _to_trash(path: Path) -> str:
    """Move a transaction's directory out of the way in one rename (deleting it costs ~0.2 ms per
    entry on slow disks: seconds for a big transaction), to ``staging/.trash-*``: the next open's
    sweep deletes what a process that exited first did not get to."""
    trash = path.parent / f"{TRASH}{uuid.uuid4().hex}"
    try:
        os.rename(path, trash)
    except OSError:
        return str(path)  # delete in place
    return str(trash)


def delete_later(trees: list[str]) -> None:
    """Delete trees in a background thread: nothing reads them; a process that exits first
    leaves them to the next open's sweep of ``staging/.trash-*``."""
    if not trees:
        return

    def run() -> None:
        for tree in trees:
            shutil.rmtree(tree, ignore_errors=True)

    threading.Thread(target=run, name="fcrctl-trash", daemon=True).start()


def open_tx_index(tx: TxDir) -> Index:
    """The transaction's index (never a new empty one: that would read as "nothing staged")."""
    path = tx.dir / "index.sqlite"
    if not path.exists():
        raise CorruptData(f"transaction {tx.id} has lost its staging ({path}): roll it back and redo the work")
    refuse_old_staging(tx)
    return Index(path, readonly=True)


def refuse_old_staging(tx: TxDir) -> None:
    """A transaction begun by an fcrctl that listed its objects in touched.jsonl: this one would
    not see them, so it would commit only part of the work."""
    if (tx.dir / "touched.jsonl").exists():
        raise CorruptData(f"transaction {tx.id} was begun by an older fcrctl: roll it back and redo the work")


def object_head(obj_dir: Path) -> str | None:
    if not os.path.exists(os.path.join(obj_dir, ocfl.INVENTORY)):
        return None  # one stat: most objects a big transaction touches are new
    try:
        return ocfl.read_inventory(obj_dir)["head"]
    except (CorruptData, OSError):
        return None if not (obj_dir / ocfl.INVENTORY).exists() else "?"
