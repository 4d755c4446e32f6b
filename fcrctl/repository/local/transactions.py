"""Transactions of the local backend: changes staged under ``REPO/staging/<id>/``, applied
together by one Store.commit.

A transaction directory holds:

``tx.json``       id, status (open / committing / committed / rolled_back / expired), timeout;
                  written durably at every status change. Its presence makes the transaction exist.
``alive``         its mtime is the last activity; expiry = mtime + timeout.
``lock``          the transaction's writer lock (writes inside it, commit and rollback take it).
``index.sqlite``  a copy of the repository index taken at begin, updated by the staged writes:
                  reads inside the transaction see its own changes on top of that snapshot.
``root/``         staged OCFL objects: the first write to an object hard-links its committed
                  object here (files are immutable, so links are safe copies), later writes add
                  versions to the copy. Untouched objects are read from ``ocfl-root/``.
``touched.jsonl`` per object: the committed head it was based on (None: absent), purged or not.
``tmp/``          uploads being spooled.

Commit (under the repository writer lock): every touched object whose committed head moved
since the transaction based its copy on it is a conflict (nothing applied). Otherwise each
object's staged head state becomes ONE new version in ``ocfl-root`` through Store.commit, which
journals multi-object changes and rolls them forward after a crash; the expected heads are
written to ``tx.json`` first, so a commit cut off by a crash is later judged applied or not.
Staged files are made durable by that commit's sync, not per write (a crash loses an open
transaction's staging, which the client must redo anyway).
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
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index
from fcrctl.repository.local.lock import WriterLock
from fcrctl.repository.local.store import Change, Store

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


def _write_json_durable(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    ocfl.fsync_dir(path.parent)


class TxDir:
    """One transaction's staging directory."""

    def __init__(self, staging: Path, tx_id: str) -> None:
        self.id = tx_id
        self.dir = staging / tx_id
        self.meta_path = self.dir / "tx.json"

    # -- state ------------------------------------------------------------------------------
    def meta(self) -> dict:
        try:
            data = json.loads(self.meta_path.read_text("utf-8"))
        except FileNotFoundError:
            raise TransactionGone(
                f"no transaction {self.id} here: it never existed in this repository, belongs to another one, "
                "or was cleaned up; begin a new one with `fcrctl tx begin`"
            ) from None
        except (OSError, ValueError) as e:
            raise CorruptData(f"transaction {self.id}: unreadable {self.meta_path}: {e}") from e
        return data

    def write_meta(self, data: dict) -> None:
        _write_json_durable(self.meta_path, data)

    def last_activity(self) -> float:
        try:
            return os.stat(self.dir / "alive").st_mtime
        except OSError:
            return 0.0

    def status(self, meta: dict | None = None) -> str:
        meta = meta or self.meta()
        status = meta["status"]
        if status == "open" and time.time() > self.last_activity() + float(meta["timeout"]):
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

    def touch(self) -> None:
        os.utime(self.dir / "alive")

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[WriterLock]:
        lock = WriterLock(self.dir / "lock", timeout)
        try:
            with lock.held():
                yield lock
        finally:
            lock.close()

    # -- touched objects ----------------------------------------------------------------------
    def touched(self, into: dict[str, dict] | None = None, offset: int = 0) -> dict[str, dict]:
        """Touched objects; with ``into``/``offset``, only the records written after ``offset``."""
        out: dict[str, dict] = {} if into is None else into
        self.offset = offset
        try:
            with open(self.dir / "touched.jsonl", "rb") as fh:
                fh.seek(offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # a write cut off by a crash (or still being written)
                    self.offset += len(raw)
                    rec = json.loads(raw)
                    first = out.setdefault(rec["o"], {"base": rec.get("b"), "purge": False})
                    first["purge"] = bool(rec.get("p"))
        except FileNotFoundError:
            pass
        return out

    def record(self, object_id: str, base: str | None, purge: bool) -> None:
        with open(self.dir / "touched.jsonl", "ab") as fh:
            fh.write(json.dumps({"o": object_id, "b": base, "p": purge}).encode() + b"\n")

    def close(self, status: str, **extra: Any) -> None:
        """Record the final status, then drop the staged data (tx.json stays as the record)."""
        meta = self.meta()
        meta.update(status=status, closed=time.time(), **extra)
        meta.pop("expected", None)
        self.write_meta(meta)
        trash: list[str] = []
        for name in ("root", "tmp", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "touched.jsonl"):
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


def _head(obj_dir: Path) -> str | None:
    try:
        return ocfl.read_inventory(obj_dir)["head"]
    except (CorruptData, OSError):
        return None if not (obj_dir / ocfl.INVENTORY).exists() else "?"


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link copy of an OCFL object (its files are never modified in place)."""
    for dirpath, _dirs, files in os.walk(src):
        target = dst / os.path.relpath(dirpath, src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(os.path.join(dirpath, name), target / name)


class TxStore(Store):
    """A Store whose commits land in the transaction's staging root and index."""

    def __init__(self, tx: TxDir, index: Index, main_root: Path, main_index: Index, user: str) -> None:
        super().__init__(tx.dir / "root", tx.dir / "tmp", index, user)
        self.tx = tx
        self.main_root = main_root
        self.main_index = main_index
        self._touched = tx.touched()
        self._offset = tx.offset

    def refresh(self) -> None:
        """Pick up objects another process touched in this transaction since we last looked."""
        self.tx.touched(self._touched, self._offset)
        self._offset = self.tx.offset

    def _obj(self, object_rel: str) -> Path:
        staged = self.root / object_rel
        if (staged / ocfl.INVENTORY).exists():
            return staged
        if any(rec["purge"] for oid, rec in self._touched.items() if ocfl.object_rel(oid) == object_rel):
            return staged  # purged inside the transaction: absent, whatever ocfl-root holds
        return self.main_root / object_rel

    def inventory(self, object_rel: str) -> dict:
        return ocfl.read_inventory(self._obj(object_rel))

    def head_state(self, object_id: str) -> dict[str, str]:
        obj = self._obj(ocfl.object_rel(object_id))
        if not (obj / ocfl.INVENTORY).exists():
            return {}
        return ocfl.state_digests(ocfl.read_inventory(obj))

    def _first_touch(self, object_id: str) -> None:
        if object_id in self._touched:
            return
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
        self.tx.record(object_id, base, False)
        self._touched[object_id] = {"base": base, "purge": False}

    @staticmethod
    def _rows(index: Index, object_id: str) -> set[tuple[str, str]]:
        return {(r[0], r[1]) for r in index.conn.execute(
            "SELECT path, headers FROM resources WHERE object_id=?", (object_id,))}

    def commit(self, changes: list[Change]) -> None:
        entries = []
        removed: list[str] = []
        for change in changes:
            self._first_touch(change.object_id)
            rel = ocfl.object_rel(change.object_id)
            rec = self._touched[change.object_id]
            if change.purge:
                shutil.rmtree(self.root / rel, ignore_errors=True)
                self.tx.record(change.object_id, rec["base"], True)
                rec["purge"] = True
                removed.append(change.object_id)
                continue
            if rec["purge"]:
                self.tx.record(change.object_id, rec["base"], False)
                rec["purge"] = False
            try:
                p = ocfl.prepare_version(self.root, self.tmp, change.object_id, change.state,
                                         message=change.message, user=self.user)
                ocfl.install_version(p, set())
            except OSError as e:
                raise CorruptData(f"staging in transaction {self.tx.id} failed: {e}") from e
            entries.append(self.entries(change.object_id, rel, p.inventory, change.known_headers,
                                        change.known_graphs))
        self.index.apply(entries, removed)

    def recover(self, object_ids: list[str]) -> None:
        self.index.apply([], [], clear_pending=object_ids)

    def journal_exists(self) -> bool:
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
            self.capabilities = replace(main.capabilities, transactions=True)

        @contextlib.contextmanager
        def _writing(self) -> Iterator[None]:
            with super()._writing():
                self._txdir.require_open()
                self._txdir.touch()
                self._store.refresh()  # another process may have written in this transaction
                yield

        def _abs(self, rel: str | None) -> Path | None:
            if not rel:
                return None
            staged = self._root / rel
            return staged if os.path.exists(staged) else self._main_root / rel

        def _state(self, path: str, version: str | None = None) -> Any:
            if version is not None:
                row = self._row(path)
                if not (self._root / row.object_rel).exists():
                    return self._main._state(path, version)  # noqa: SLF001
            return super()._state(path, version)

        def close(self) -> None:
            super().close()
            self._main_index.close()
            if self._owns_main:
                self._main.close()

        def reindex(self, *, _locked: bool = True) -> int:
            raise Unsupported("reindex works on the repository, not inside a transaction: run it without --tx")

        def check(self, *, read_data: bool = False) -> Iterator[Any]:
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
        touched = tx.touched()
        if not touched:
            return []
        out: set[str] = set()
        tx_index = Index(tx.dir / "index.sqlite", readonly=True)
        main_index: Index = self._index  # type: ignore[attr-defined]
        try:
            for oid, rec in touched.items():
                for index in (tx_index, main_index) if rec["purge"] or rec["base"] else (tx_index,):
                    out.update(r[0] for r in index.conn.execute(
                        "SELECT path FROM resources WHERE object_id=?", (oid,)))
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
            touched = tx.touched()
            self._check_conflicts(tx, touched)
            changes, expected = self._changes(tx, touched)
            meta = tx.meta()
            meta.update(status="committing", expected=expected)
            tx.write_meta(meta)
            _crash_point("before-apply")
            if changes:
                self._store.commit(changes)  # type: ignore[attr-defined]
            _crash_point("after-apply")
            tx.close("committed")
        return self._tx_info(tx)

    def _check_conflicts(self, tx: TxDir, touched: dict[str, dict]) -> None:
        root: Path = self._root  # type: ignore[attr-defined]
        moved = [oid for oid, rec in touched.items() if _head(root / ocfl.object_rel(oid)) != rec["base"]]
        if moved:
            names = sorted(paths.from_id(oid) if oid.startswith(paths.ROOT_ID) else oid for oid in moved)
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            raise Conflict(
                f"transaction {tx.id} conflicts: {shown} changed outside it since it touched them; nothing was "
                "applied: roll it back (`fcrctl tx rollback`) and redo the work"
            )

    def _changes(self, tx: TxDir, touched: dict[str, dict]) -> tuple[list[Change], dict[str, str | None]]:
        root: Path = self._root  # type: ignore[attr-defined]
        tmp: Path = self._tmp  # type: ignore[attr-defined]
        changes: list[Change] = []
        expected: dict[str, str | None] = {}
        for oid, rec in touched.items():
            base = rec["base"]
            if rec["purge"]:
                if base is not None:
                    changes.append(Change(oid, purge=True))
                    expected[oid] = None
                continue
            staged = tx.dir / "root" / ocfl.object_rel(oid)
            inventory = ocfl.read_inventory(staged)
            if base is None and inventory["head"] == "v1":
                # new and written once: the staged copy is the object; the commit renames it
                # into place instead of building it again (the transaction is spent either way)
                changes.append(Change(oid, message=f"transaction {tx.id}", adopt=staged))
                expected[oid] = "v1"
                continue
            manifest = ocfl.manifest_paths(inventory)
            have: set[str] = set()
            if base is not None:
                have = set(ocfl.read_inventory(root / ocfl.object_rel(oid))["manifest"])
            state: dict[str, str | ocfl.NewFile] = {}
            for logical, digest in ocfl.state_digests(inventory).items():
                if digest in have:
                    state[logical] = digest
                else:
                    # a link, so the staged copy stays whole if this commit fails before applying
                    link = tmp / f"tx-{uuid.uuid4().hex}"
                    os.link(staged / manifest[digest], link)
                    state[logical] = ocfl.NewFile(source=link, digest=digest)
            changes.append(Change(oid, state=state, message=f"transaction {tx.id}"))
            expected[oid] = "v1" if base is None else f"v{ocfl.version_number(base) + 1}"
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

