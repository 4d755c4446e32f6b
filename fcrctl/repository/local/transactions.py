"""Transactions of the local backend: changes staged under ``REPO/staging/<id>/``, applied
together by one Store.commit.

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

Commit (under the repository writer lock): every touched object whose committed head moved
since the transaction based its copy on it is a conflict (nothing applied). Otherwise each
object's staged head state becomes ONE new version in ``ocfl-root`` through Store.commit, which
journals multi-object changes and rolls them forward after a crash; the expected heads are
written to ``tx.json`` first, so a commit cut off by a crash is later judged applied or not.
New objects are built there for the first time. Staged data is made durable by that commit's
sync, not per write (a crash loses an open transaction's staging, which the client must redo).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl import paths
from fcrctl.errors import BadInput, Conflict, CorruptData, TransactionGone, Unsupported
from fcrctl.repository.base import DEFAULT_TX_TIMEOUT, TransactionInfo, check_tx_id
from fcrctl.repository.local import ocfl, ocfl_write
from fcrctl.repository.local.index import Index
from fcrctl.repository.local.lock import WriterLock
from fcrctl.repository.local.staging import BLOB, SCHEMA, Staging, Touched, record_inventory
from fcrctl.repository.local.store import Change, Store, known_content

if TYPE_CHECKING:
    from fcrctl.repository.local.repository import LocalRepository

log = logging.getLogger("fcrctl.local")

TX_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ORPHAN_GRACE = 60.0  # a staging dir without tx.json younger than this may be a begin in progress
CLOSED_KEEP = 24 * 3600.0  # closed transactions answer "already committed" for a day
CRASH_ENV = "FCRCTL_TEST_CRASH_AT"  # tests: kill -9 this process at a named point of commit


def check_id(tx_id: str) -> str:
    return check_tx_id(tx_id)


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class TxDir:
    """One transaction's staging directory."""

    def __init__(self, staging: Path, tx_id: str) -> None:
        self.id = tx_id
        self.dir = staging / tx_id
        self.meta_path = self.dir / "tx.json"
        self._meta: tuple[tuple[int, int, int], dict] | None = None
        self._touched = 0.0  # when this process last set ``alive`` (time.time())

    # -- state ------------------------------------------------------------------------------
    def meta(self) -> dict:
        try:
            # tx.json is only ever replaced by rename: the same inode and mtime mean the same content
            st = os.stat(self.meta_path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._meta is not None and self._meta[0] == key:
                return dict(self._meta[1])
            data = json.loads(self.meta_path.read_text("utf-8"))
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
        os.utime(self.dir / "alive")
        self._touched = now

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[WriterLock]:
        lock = WriterLock(self.dir / "lock", timeout)
        try:
            with lock.held():
                yield lock
        finally:
            lock.close()

    def close(self, status: str, **extra: Any) -> None:
        """Record the final status, then drop the staged data (tx.json stays as the record)."""
        meta = self.meta()
        meta.update(status=status, closed=time.time(), **extra)
        meta.pop("expected", None)
        self.write_meta(meta)
        trash: list[str] = []
        for name in ("root", "tmp", "blobs", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "touched.jsonl"):
            target = self.dir / name
            if target.is_dir():
                trash.append(_to_trash(target))
            else:
                target.unlink(missing_ok=True)
        _delete_later(trash)


def _to_trash(path: Path) -> str:
    """Move a staged tree out of the way in one rename (deleting it costs ~0.2 ms per entry on
    slow disks: seconds for a big transaction). It goes to the repository's tmp/, which is never
    taken for a transaction and is emptied on the next open or write recovery if we do not get to it."""
    trash = path.parent.parent.parent / "tmp" / f"trash-{uuid.uuid4().hex}"
    try:
        os.rename(path, trash)
    except OSError:
        return str(path)  # no tmp/ (or another filesystem): delete in place
    return str(trash)


def _delete_later(trees: list[str]) -> None:
    """Delete trees in a background thread: nothing reads them; a process that exits first
    leaves them to tmp/'s cleanup."""
    if not trees:
        return

    def run() -> None:
        for tree in trees:
            shutil.rmtree(tree, ignore_errors=True)

    threading.Thread(target=run, name="fcrctl-trash", daemon=True).start()


def _open_tx_index(tx: TxDir) -> Index:
    """The transaction's index (never a new empty one: that would read as "nothing staged")."""
    path = tx.dir / "index.sqlite"
    if not path.exists():
        raise CorruptData(f"transaction {tx.id} has lost its staging ({path}): roll it back and redo the work")
    _refuse_old_staging(tx)
    return Index(path, readonly=True)


def _refuse_old_staging(tx: TxDir) -> None:
    """A transaction begun by an fcrctl that listed its objects in touched.jsonl: this one would
    not see them, so it would commit only part of the work."""
    if (tx.dir / "touched.jsonl").exists():
        raise CorruptData(f"transaction {tx.id} was begun by an older fcrctl: roll it back and redo the work")


def _head(obj_dir: Path) -> str | None:
    if not os.path.exists(os.path.join(obj_dir, ocfl.INVENTORY)):
        return None  # one stat: most objects a big transaction touches are new
    try:
        return ocfl.read_inventory(obj_dir)["head"]
    except (CorruptData, OSError):
        return None if not (obj_dir / ocfl.INVENTORY).exists() else "?"


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link copy of an OCFL object (its files are never modified in place)."""
    if dst.exists():
        shutil.rmtree(dst)  # left by a write that failed before recording the object as touched
    for dirpath, _dirs, files in os.walk(src):
        target = dst / os.path.relpath(dirpath, src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(os.path.join(dirpath, name), target / name)


class TxStore(Store):
    """A Store whose commits land in the transaction's staging: new objects as records (see
    staging.py), existing ones as versions of their staged OCFL copies under ``root/``."""

    def __init__(self, tx: TxDir, index: Index, main_root: Path, main_index: Index, user: str) -> None:
        super().__init__(tx.dir / "root", tx.dir / "tmp", index, user)
        self.tx = tx
        self.main_root = main_root
        self.main_index = main_index
        self.staging = Staging(tx.dir, index)
        Staging.create_schema(index)  # a transaction begun by an older fcrctl has no such tables

    def file(self, rel: str) -> Path:
        if rel.startswith(BLOB + "/"):
            return self.staging.blob_path(rel[len(BLOB) + 1:])
        return super().file(rel)

    def _obj(self, object_rel: str, touched: Touched | None) -> Path:
        if touched is None:
            return self.main_root / object_rel
        return self.root / object_rel  # the staged copy (absent when purged inside the transaction)

    def inventory(self, object_rel: str) -> dict:
        touched = self.staging.by_rel(object_rel)
        if touched is not None and touched.is_new:
            # absolute content paths: callers join them to the object dir, which does not exist
            return record_inventory(touched, self.user, lambda d: str(self.staging.blob_path(d)))
        return ocfl.read_inventory(self._obj(object_rel, touched))

    def head_state(self, object_id: str) -> dict[str, str]:
        touched = self.staging.get(object_id)
        if touched is not None and touched.state is not None:
            return {} if touched.purge else dict(touched.state)
        obj = self._obj(ocfl.object_rel(object_id), touched)
        if not (obj / ocfl.INVENTORY).exists():
            return {}
        return ocfl.state_digests(ocfl.read_inventory(obj))

    def _first_touch(self, object_id: str) -> tuple[Touched, bool]:
        """The object's touched record (a new one on its first write in the transaction, after
        checking for a conflict), and whether the transaction's index has no rows for it."""
        touched = self.staging.get(object_id)
        if touched is not None:
            return touched, False
        rel = ocfl.object_rel(object_id)
        main_obj = self.main_root / rel
        base = _head(main_obj)
        mine = self._rows(self.index, object_id)
        theirs = self._rows(self.main_index, object_id)
        if mine != theirs:
            changed = sorted({path for path, _ in mine ^ theirs})
            raise Conflict(
                f"{', '.join(changed[:5]) or object_id} changed outside transaction {self.tx.id} after it began: "
                "roll it back and redo the work in a new transaction"
            )
        if base is not None:
            _link_tree(main_obj, self.root / rel)
        return Touched(object_id, base), not mine

    @staticmethod
    def _rows(index: Index, object_id: str) -> set[tuple[str, str]]:
        return {(r[0], r[1]) for r in index.conn.execute(
            "SELECT path, headers FROM resources WHERE object_id=?", (object_id,))}

    def commit(self, changes: list[Change]) -> None:
        entries = []
        removed: list[str] = []
        fresh: set[str] = set()
        try:
            # rows, touched records and blobs of this write land together or not at all
            with self.index.transaction():
                for change in changes:
                    touched, rowless = self._first_touch(change.object_id)
                    if rowless:
                        fresh.add(change.object_id)
                    if change.purge:
                        if touched.base is not None:
                            shutil.rmtree(self.root / ocfl.object_rel(change.object_id), ignore_errors=True)
                        touched.purge, touched.state = True, None
                        self.staging.put(touched)
                        removed.append(change.object_id)
                    elif touched.base is None:
                        entries.append(self._stage_new(change, touched))
                    else:
                        touched.purge = False
                        self.staging.put(touched)
                        entries.append(self._stage_version(change))
                self.index.apply(entries, removed, fresh=fresh)
        except OSError as e:
            raise CorruptData(f"staging in transaction {self.tx.id} failed: {e}") from e

    def _stage_new(self, change: Change, touched: Touched) -> Any:
        """An object new in the transaction: its head state is recorded, no OCFL folder built."""
        state: dict[str, str] = {}
        for logical, value in change.state.items():
            if isinstance(value, str):
                if not self.staging.has(value):
                    raise CorruptData(f"object {change.object_id}: content {value[:16]}… is not staged")
                state[logical] = value
            else:
                state[logical] = self.staging.add(value)
        touched.purge, touched.state = False, state
        touched.created, touched.message = ocfl.now_iso(), change.message
        self.staging.put(touched)
        known_headers, known_data = known_content(change)
        return self.entries(change.object_id, ocfl.object_rel(change.object_id),
                            record_inventory(touched, self.user, lambda d: d), known_headers,
                            change.known_graphs, known_data, content_prefix=BLOB)

    def _stage_version(self, change: Change) -> Any:
        """A new version of the staged copy of an object that exists in ocfl-root."""
        p = ocfl_write.prepare_version(self.root, self.tmp, change.object_id, change.state,
                                 message=change.message, user=self.user)
        ocfl_write.install_version(p, set())
        known_headers, known_data = known_content(change)
        return self.entries(change.object_id, ocfl.object_rel(change.object_id), p.inventory, known_headers,
                            change.known_graphs, known_data)

    def needs_recovery(self) -> bool:
        # staging never marks objects pending (Store.commit, which does, is not used here) nor
        # journals, so there is nothing for recovery to act on (one query less per staged write)
        return False


def _view_class() -> type:
    from fcrctl.repository.local.repository import LocalRepository

    class TxView(LocalRepository):
        """The repository inside one transaction: reads see its changes, writes are staged."""

        def __init__(self, main: LocalRepository, tx: TxDir, *, owns_main: bool) -> None:
            self._main = main
            self._owns_main = owns_main
            self._txdir = tx
            self._main_index = Index(main._index.path, readonly=True)  # noqa: SLF001 - same backend
            super().__init__(tx.dir, tx.dir / "root", tx.dir / "index.sqlite", writable=True,
                             lock_timeout=main._lock.timeout if main._lock else 30.0,  # noqa: SLF001
                             user=main._user)  # noqa: SLF001
            self.location = main.location
            self.transaction_id = tx.id
            self._main_root = main._root  # noqa: SLF001
            self._store = TxStore(tx, self._index, self._main_root, self._main_index, main._user or "fcrctl")  # noqa: SLF001
            # staging need not survive an OS crash (an open transaction is lost then anyway); each
            # staged write saves the WAL checkpoints' fsyncs (~0.1 ms a write on average)
            self._index.conn.execute("PRAGMA synchronous=OFF")
            self.capabilities = replace(main.capabilities, transactions=True)

        @contextlib.contextmanager
        def _writing(self) -> Iterator[None]:
            with super()._writing():
                meta = self._txdir.require_open()
                self._txdir.touch(float(meta["timeout"]))
                yield

        def _abs(self, rel: str | None) -> Path | None:
            if not rel:
                return None
            if rel.startswith(BLOB + "/"):
                return self._store.file(rel)
            staged = self._root / rel
            return staged if os.path.exists(staged) else self._main_root / rel

        def _state(self, path: str, version: str | None = None) -> Any:
            if version is not None:
                row = self._row(path)
                if self._store.staging.by_rel(row.object_rel) is None:
                    return self._main._state(path, version)  # noqa: SLF001 - untouched here
            return super()._state(path, version)

        def info(self, path: str, *, version: str | None = None) -> Any:
            if version is not None:
                return super().info(path, version=version)
            # headers only: no content file is looked up (staged content may not be a file yet)
            path, _ = paths.split_metadata(path)
            return self._info(self._row(path).headers, path)

        def close(self) -> None:
            super().close()
            self._main_index.close()
            if self._owns_main:
                self._main.close()

        def reindex(self, *, _locked: bool = True, progress: Any = None) -> int:
            raise Unsupported("reindex works on the repository, not inside a transaction: run it without --tx")

        def check(self, *, read_data: bool = False, progress: Any = None) -> Iterator[Any]:
            raise Unsupported("check works on the repository, not inside a transaction: run it without --tx")

        # transaction calls go to the repository itself
        def begin_transaction(self, *, timeout: float | None = None) -> TransactionInfo:
            return self._main.begin_transaction(timeout=timeout)

        def transaction_status(self, tx_id: str) -> TransactionInfo:
            return self._main.transaction_status(tx_id)

        def keepalive_transaction(self, tx_id: str) -> TransactionInfo:
            return self._main.keepalive_transaction(tx_id)

        def commit_transaction(self, tx_id: str) -> TransactionInfo:
            return self._main.commit_transaction(tx_id)

        def rollback_transaction(self, tx_id: str) -> TransactionInfo:
            return self._main.rollback_transaction(tx_id)

        def transactions(self) -> list[TransactionInfo]:
            return self._main.transactions()

        def in_transaction(self, tx_id: str) -> Any:
            if check_id(tx_id) == self.transaction_id:
                return self
            return self._main.in_transaction(tx_id)

    return TxView


_TXVIEW: type | None = None


class TransactionsMixin:
    """Transaction calls of LocalRepository (mixed in; uses its _dir, _writing, _store, _index)."""

    _dir: Path
    _writable: bool

    def _staging(self) -> Path:
        return self._dir / "staging"

    def _txdir(self, tx_id: str) -> TxDir:
        return TxDir(self._staging(), check_id(tx_id))

    def _tx_info(self, tx: TxDir, *, changed: bool = True) -> TransactionInfo:
        meta = tx.meta()
        status = tx.status(meta)
        if status == "committing":
            meta = self._resolve(tx)
            status = tx.status(meta)
        if status == "expired" and meta["status"] == "open":
            self._expire(tx)
        return TransactionInfo(tx.id, "expired" if status == "expired" else status, tx.expires(meta) if
                               status == "open" else None, self._changed(tx) if changed and status == "open" else None)

    def _changed(self, tx: TxDir) -> list[str]:
        out: set[str] = set()
        tx_index = _open_tx_index(tx)
        main_index: Index = self._index  # type: ignore[attr-defined]
        try:
            for t in Staging(tx.dir, tx_index).all():
                for index in (tx_index, main_index) if t.purge or t.base else (tx_index,):
                    out.update(r[0] for r in index.conn.execute(
                        "SELECT path FROM resources WHERE object_id=?", (t.object_id,)))
        finally:
            tx_index.close()
        return sorted(out)

    # -- the protocol -----------------------------------------------------------------------------
    def begin_transaction(self, *, timeout: float | None = None) -> TransactionInfo:
        timeout = DEFAULT_TX_TIMEOUT if timeout is None else float(timeout)
        if not timeout > 0:
            raise BadInput(f"transaction timeout {timeout:g} s: give a positive number of seconds")
        with self._writing():  # type: ignore[attr-defined]  # refuses read-only repositories
            pass
        self.sweep_transactions()
        tx = TxDir(self._staging(), str(uuid.uuid4()))
        try:
            self._staging().mkdir(exist_ok=True)
            tx.dir.mkdir()
            (tx.dir / "root").mkdir()
            (tx.dir / "tmp").mkdir()
            (tx.dir / "lock").touch()
            (tx.dir / "alive").touch()
            self._copy_index(tx.dir / "index.sqlite")
            tx.write_meta({"id": tx.id, "status": "open", "timeout": timeout, "created": time.time()})
        except OSError as e:
            shutil.rmtree(tx.dir, ignore_errors=True)
            raise CorruptData(f"cannot create transaction staging under {self._staging()}: {e.strerror or e}") from e
        return self._tx_info(tx)

    def _copy_index(self, target: Path) -> None:
        src_path = self._index.path  # type: ignore[attr-defined]
        try:
            src = sqlite3.connect(src_path, timeout=60)
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                dst.execute("DELETE FROM pending")
                dst.commit()
                dst.executescript(SCHEMA)
            finally:
                src.close()
                dst.close()
        except sqlite3.Error as e:
            raise CorruptData(f"cannot snapshot the index for a transaction: {e}; run `fcrctl reindex`") from e

    def transaction_status(self, tx_id: str) -> TransactionInfo:
        return self._tx_info(self._txdir(tx_id))

    def keepalive_transaction(self, tx_id: str) -> TransactionInfo:
        tx = self._txdir(tx_id)
        info = self._tx_info(tx, changed=False)
        if info.status != "open":
            tx.require_open()
        tx.touch()
        return self._tx_info(tx, changed=False)

    def commit_transaction(self, tx_id: str) -> TransactionInfo:
        tx = self._txdir(tx_id)
        self._tx_info(tx, changed=False)  # resolves a crashed commit, expires a stale one
        with self._writing(), tx.locked(self._lock.timeout):  # type: ignore[attr-defined]
            tx.require_open()
            tx_index = _open_tx_index(tx)
            try:
                staging = Staging(tx.dir, tx_index)
                touched = list(staging.all())
                self._check_conflicts(tx, touched)
                changes, expected = self._changes(tx, staging, touched)
                meta = tx.meta()
                meta.update(status="committing", expected=expected)
                tx.write_meta(meta)
                _crash_point("before-apply")
                if changes:
                    self._store.commit(changes)  # type: ignore[attr-defined]
                _crash_point("after-apply")
            finally:
                tx_index.close()
            tx.close("committed")
        return self._tx_info(tx)

    def _check_conflicts(self, tx: TxDir, touched: list[Touched]) -> None:
        root: Path = self._root  # type: ignore[attr-defined]

        def moved_since(t: Touched) -> bool:
            obj = root / ocfl.object_rel(t.object_id)
            if t.base is None:  # one stat, not an inventory read: most touched objects are new
                return os.path.exists(obj / ocfl.INVENTORY)
            return _head(obj) != t.base

        moved = [t.object_id for t in touched if moved_since(t)]
        if moved:
            names = sorted(paths.from_id(oid) if oid.startswith(paths.ROOT_ID) else oid for oid in moved)
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            raise Conflict(
                f"transaction {tx.id} conflicts: {shown} changed outside it since it touched them; nothing was "
                "applied: roll it back (`fcrctl tx rollback`) and redo the work"
            )

    def _changes(self, tx: TxDir, staging: Staging,
                 touched: list[Touched]) -> tuple[list[Change], dict[str, str | None]]:
        root: Path = self._root  # type: ignore[attr-defined]
        tmp: Path = self._tmp  # type: ignore[attr-defined]
        changes: list[Change] = []
        expected: dict[str, str | None] = {}
        message = f"transaction {tx.id}"
        for t in touched:
            oid = t.object_id
            if t.purge:
                if t.base is not None:
                    changes.append(Change(oid, purge=True))
                    expected[oid] = None
                continue
            if t.is_new:
                assert t.state is not None
                # built for the first time, in ocfl-root's tmp/, by Store.commit
                state: dict[str, str | ocfl.NewFile] = {
                    logical: staging.new_file(digest, tmp) for logical, digest in t.state.items()}
                changes.append(Change(oid, state=state, message=message))
                expected[oid] = "v1"
                continue
            if t.base is None:
                raise CorruptData(f"transaction {tx.id}: object {oid} is touched but not staged: roll it back")
            staged = tx.dir / "root" / ocfl.object_rel(oid)
            inventory = ocfl.read_inventory(staged)
            manifest = ocfl.manifest_paths(inventory)
            have = set(ocfl.read_inventory(root / ocfl.object_rel(oid))["manifest"])
            state = {}
            for logical, digest in ocfl.state_digests(inventory).items():
                if digest in have:
                    state[logical] = digest
                else:
                    # a link, so the staged copy stays whole if this commit fails before applying
                    link = tmp / f"tx-{uuid.uuid4().hex}"
                    os.link(staged / manifest[digest], link)
                    state[logical] = ocfl.NewFile(source=link, digest=digest)
            changes.append(Change(oid, state=state, message=message))
            expected[oid] = f"v{ocfl.version_number(t.base) + 1}"
        return changes, expected

    def _resolve(self, tx: TxDir) -> dict:
        """A commit was cut off: after the repository's own recovery, it either applied or not."""
        with self._writing():  # type: ignore[attr-defined]  # repairs the repository first
            meta = tx.meta()
            if meta["status"] != "committing":
                return meta
            root: Path = self._root  # type: ignore[attr-defined]
            expected: dict[str, str | None] = meta.get("expected") or {}
            applied = all(_head(root / ocfl.object_rel(oid)) == head for oid, head in expected.items())
            if applied:
                tx.close("committed")
            else:
                log.warning("transaction %s: its commit was interrupted before applying; rolled back", tx.id)
                tx.close("rolled_back", note="commit interrupted before it applied")
            return tx.meta()

    def rollback_transaction(self, tx_id: str) -> TransactionInfo:
        tx = self._txdir(tx_id)
        self._tx_info(tx, changed=False)
        with tx.locked(self._lock.timeout if self._lock else 30.0):  # type: ignore[attr-defined]
            tx.require_open()
            tx.close("rolled_back")
        return self._tx_info(tx)

    def transactions(self) -> list[TransactionInfo]:
        out = []
        for tx in self._tx_dirs():
            with contextlib.suppress(TransactionGone, CorruptData):
                info = self._tx_info(tx, changed=False)
                if info.status == "open":
                    out.append(info)
        return out

    def _tx_dirs(self) -> Iterator[TxDir]:
        try:
            entries = list(os.scandir(self._staging()))
        except OSError:
            return
        for entry in entries:
            if entry.is_dir() and TX_ID.match(entry.name):
                yield TxDir(self._staging(), entry.name)

    def in_transaction(self, tx_id: str, *, owns_main: bool = False) -> Any:
        global _TXVIEW
        tx = self._txdir(tx_id)
        if self._tx_info(tx, changed=False).status != "open":
            tx.require_open()
        if not self._writable:
            raise BadInput(f"{self._dir} is read-only here: transactions need a writable repository")
        _refuse_old_staging(tx)
        tx.touch()
        if _TXVIEW is None:
            _TXVIEW = _view_class()
        return _TXVIEW(self, tx, owns_main=owns_main)

    # -- cleanup ----------------------------------------------------------------------------------
    def _expire(self, tx: TxDir) -> None:
        lock = WriterLock(tx.dir / "lock", 0)
        try:
            if not lock.try_acquire():
                return  # a write is running inside it: not inactive after all
            meta = tx.meta()
            if meta["status"] == "open" and tx.status(meta) == "expired":
                tx.close("expired")
        except (OSError, TransactionGone, CorruptData) as e:
            log.warning("cannot clean up expired transaction %s: %s", tx.id, e)
        finally:
            lock.close()

    def sweep_transactions(self) -> None:
        """Drop expired transactions' staging, orphans of crashed begins, and old closed records."""
        now = time.time()
        for tx in self._tx_dirs():
            try:
                meta = tx.meta()
            except TransactionGone:
                with contextlib.suppress(OSError):
                    if now - os.stat(tx.dir).st_mtime > ORPHAN_GRACE:
                        shutil.rmtree(tx.dir, ignore_errors=True)
                continue
            except CorruptData:
                continue
            status = tx.status(meta)
            if status == "expired" and meta["status"] == "open":
                self._expire(tx)
            elif status != "open" and now - float(meta.get("closed", now)) > CLOSED_KEEP:
                shutil.rmtree(tx.dir, ignore_errors=True)

