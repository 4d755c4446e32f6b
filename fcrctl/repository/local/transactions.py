"""Local transactions: begun, listed, committed (staged objects applied together by Store.commit), rolled back

A transaction's writes go through its view (txview.py) into its staging directory (txdir.py,
txstore.py); this component, held by LocalRepository, handles the transaction calls themselves.

Commit (under the repository writer lock): every touched object whose committed head moved
since the transaction based its copy on it is a conflict (nothing applied). Otherwise each
object's staged head state becomes ONE new version in ``ocfl-root`` through Store.commit, which
journals multi-object changes and rolls them forward after a crash; the expected heads are
written to ``tx.json`` first, so a commit cut off by a crash is later judged applied or not.
New objects are built there for the first time. Staged data is made durable by that commit's
sync, not per write (a crash loses an open transaction's staging, which the client must redo).

Long because begin, commit (with its rounds of dated versions) and rollback keep one set of crash rules.

Dated writes (``LocalRepository.dated``: `fcrctl import --tx` writing a source's versions) are
not folded: each becomes its own version with its date (staging.py keeps them apart). Such a
commit applies in rounds, the k-th kept version of every object in round k, each round one
Store.commit; a commit cut off between rounds is rolled forward, never left half done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fcrctl import paths
from fcrctl.errors import BadInput, Conflict, CorruptData, TransactionGone
from fcrctl.repository.base import DEFAULT_TX_TIMEOUT, TransactionInfo
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.lock import WriterLock
from fcrctl.repository.local.staging import SCHEMA, Staging, Touched
from fcrctl.repository.local.store import Change
from fcrctl.repository.local.txdir import (
    CLOSED,
    CLOSED_KEEP,
    ORPHAN_GRACE,
    TRASH,
    TX_ID,
    TxDir,
    check_id,
    crash_point,
    delete_later,
    object_head,
    open_tx_index,
    refuse_old_staging,
)

if TYPE_CHECKING:
    from fcrctl.repository.base import Repository
    from fcrctl.repository.local.index import Index
    from fcrctl.repository.local.store import Store

log = logging.getLogger("fcrctl.local")


@dataclass
class _Step:
    """One version a commit makes of one object: a purge, a new object's staged state, or a
    version of an existing object's staged copy (``version``; None: its head)."""

    object_id: str
    purge: bool = False
    state: dict[str, str] | None = None
    version: str | None = None
    created: str | None = None  # its date; None: the commit's
    message: str | None = None


class Transactions:
    """The transaction calls of LocalRepository. It is given the repository's parts: its storage
    root, tmp/ and staging/, index and store, its writer lock and the context that takes it,
    and ``view(tx, owns_main)``, which opens the repository as seen inside a transaction."""

    def __init__(self, location: Path, root: Path, tmp: Path, index: Index, store: Store,
                 writing: Callable[[], contextlib.AbstractContextManager[None]], lock: WriterLock | None,
                 writable: bool, view: Callable[[TxDir, bool], Repository]) -> None:
        self.location = location
        self.staging = location / "staging"
        self.root = root
        self.tmp = tmp
        self.index = index
        self.store = store
        self.writing = writing
        self.lock = lock
        self.writable = writable
        self.view = view

    def lock_timeout(self) -> float:
        return self.lock.timeout if self.lock else 30.0

    def _txdir(self, tx_id: str) -> TxDir:
        return TxDir(self.staging, check_id(tx_id))

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
        tx_index = open_tx_index(tx)
        main_index = self.index
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
        with self.writing():  # refuses read-only repositories
            pass
        self.sweep_transactions()
        tx = TxDir(self.staging, str(uuid.uuid4()))
        try:
            self.staging.mkdir(exist_ok=True)
            tx.dir.mkdir()
            (tx.dir / "root").mkdir()
            (tx.dir / "tmp").mkdir()
            (tx.dir / "lock").touch()
            (tx.dir / "alive").touch()
            self._copy_index(tx.dir / "index.sqlite")
            tx.write_meta({"id": tx.id, "status": "open", "timeout": timeout, "created": time.time()})
        except OSError as e:
            shutil.rmtree(tx.dir, ignore_errors=True)
            raise CorruptData(f"cannot create transaction staging under {self.staging}: {e.strerror or e}") from e
        return self._tx_info(tx)

    def _copy_index(self, target: Path) -> None:
        src_path = self.index.path
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
        with self.writing(), tx.locked(self.lock_timeout()):
            tx.require_open()
            tx_index = open_tx_index(tx)
            try:
                staging = Staging(tx.dir, tx_index)
                touched = list(staging.all())
                self._check_conflicts(tx, touched)
                steps, expected = self._plan(tx, staging, touched)
                rounds = self._rounds(tx, staging, list(steps.values()))  # lost staged content fails here
                meta = tx.meta()
                meta.update(status="committing", expected=expected)
                tx.write_meta(meta)
                crash_point("before-apply")
                self._apply(rounds)
                crash_point("after-apply")
            finally:
                tx_index.close()
            tx.close("committed")
        return self._tx_info(tx)

    def _check_conflicts(self, tx: TxDir, touched: list[Touched]) -> None:
        root = self.root

        def moved_since(t: Touched) -> bool:
            obj = root / ocfl.object_rel(t.object_id)
            if t.base is None:  # one stat, not an inventory read: most touched objects are new
                return os.path.exists(obj / ocfl.INVENTORY)
            return object_head(obj) != t.base

        moved = [t.object_id for t in touched if moved_since(t)]
        if moved:
            names = sorted(paths.from_id(oid) if oid.startswith(paths.ROOT_ID) else oid for oid in moved)
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            raise Conflict(
                f"transaction {tx.id} conflicts: {shown} changed outside it since it touched them; nothing was "
                "applied: roll it back (`fcrctl tx rollback`) and redo the work"
            )

    def _plan(self, tx: TxDir, staging: Staging,
              touched: list[Touched]) -> tuple[dict[str, list[_Step]], dict[str, str | None]]:
        """The versions to commit per object, and the heads they leave: one version per object
        (its staged head), except the versions a dated write made, each committed as its own."""
        steps: dict[str, list[_Step]] = {}
        expected: dict[str, str | None] = {}
        message = f"transaction {tx.id}"
        for t in touched:
            oid = t.object_id
            if t.purge:
                if t.base is not None:
                    steps[oid] = [_Step(oid, purge=True)]
                    expected[oid] = None
                continue
            apart = staging.history(oid)
            if t.is_new:
                assert t.state is not None
                # built for the first time, in ocfl-root's tmp/, by Store.commit
                steps[oid] = ([_Step(oid, state=h.state, created=h.created, message=h.message) for h in apart]
                              or [_Step(oid, state=t.state, message=message)])
                expected[oid] = f"v{len(steps[oid])}"
                continue
            if t.base is None:
                raise CorruptData(f"transaction {tx.id}: object {oid} is touched but not staged: roll it back")
            if apart:
                versions = ocfl.read_inventory(tx.dir / "root" / ocfl.object_rel(oid))["versions"]
                dated = {h.version: h.created for h in apart}
                base = ocfl.version_number(t.base)
                steps[oid] = [_Step(oid, version=vid, created=dated.get(vid), message=versions[vid].get("message"))
                              for vid in sorted(versions, key=ocfl.version_number) if ocfl.version_number(vid) > base]
            else:
                steps[oid] = [_Step(oid, message=message)]
            expected[oid] = f"v{ocfl.version_number(t.base) + len(steps[oid])}"
        return steps, expected

    def _rounds(self, tx: TxDir, staging: Staging, steps: list[list[_Step]]) -> list[list[Change]]:
        """The changes to commit together: the k-th version of every object in round k (one
        round in all unless dated writes kept versions apart)."""
        return [[self._change(tx, staging, s[k]) for s in steps if k < len(s)]
                for k in range(max(map(len, steps), default=0))]

    def _apply(self, rounds: list[list[Change]]) -> None:
        for k, changes in enumerate(rounds):
            if k:
                crash_point("between-versions")
            self.store.commit(changes)

    def _change(self, tx: TxDir, staging: Staging, step: _Step) -> Change:
        oid = step.object_id
        if step.purge:
            return Change(oid, purge=True)
        state: dict[str, str | ocfl.NewFile]
        if step.state is not None:
            state = {logical: staging.new_file(digest, self.tmp) for logical, digest in step.state.items()}
            return Change(oid, state=state, message=step.message, created=step.created)
        staged = tx.dir / "root" / ocfl.object_rel(oid)
        inventory = ocfl.read_inventory(staged)
        manifest = ocfl.manifest_paths(inventory)
        have = set(ocfl.read_inventory(self.root / ocfl.object_rel(oid))["manifest"])
        state = {}
        for logical, digest in ocfl.state_digests(inventory, step.version).items():
            if digest in have:
                state[logical] = digest
            else:
                # a link, so the staged copy stays whole if this commit fails before applying
                link = self.tmp / f"tx-{uuid.uuid4().hex}"
                os.link(staged / manifest[digest], link)
                state[logical] = ocfl.NewFile(source=link, digest=digest)
        return Change(oid, state=state, message=step.message, created=step.created)

    def _resolve(self, tx: TxDir) -> dict:
        """A commit was cut off: after the repository's own recovery, it applied, or not at all,
        or some of its versions (dated writes kept apart): those are rolled forward."""
        with self.writing():  # repairs the repository first
            meta = tx.meta()
            if meta["status"] != "committing":
                return meta
            root = self.root
            expected: dict[str, str | None] = meta.get("expected") or {}
            applied = all(object_head(root / ocfl.object_rel(oid)) == head for oid, head in expected.items())
            if applied:
                tx.close("committed")
            elif self._roll_forward(tx):
                log.warning("transaction %s: its commit was interrupted after some versions; rolled forward", tx.id)
                tx.close("committed")
            else:
                log.warning("transaction %s: its commit was interrupted before applying; rolled back", tx.id)
                tx.close("rolled_back", note="commit interrupted before it applied")
            return tx.meta()

    def _roll_forward(self, tx: TxDir) -> bool:
        """Commit the versions a cut-off commit did not get to; False when it got to none."""
        try:
            tx_index = open_tx_index(tx)
        except CorruptData:
            return False  # no staging to roll forward from: judged as before, by the heads alone
        try:
            staging = Staging(tx.dir, tx_index)
            touched = list(staging.all())
            steps, _ = self._plan(tx, staging, touched)
            rest: list[list[_Step]] = []
            for t in touched:
                todo = steps.get(t.object_id)
                if not todo:
                    continue
                head = object_head(self.root / ocfl.object_rel(t.object_id))
                if todo[0].purge:
                    done = int(head is None)
                else:
                    at = 0 if head in (None, "?") else ocfl.version_number(head)
                    done = max(0, at - (ocfl.version_number(t.base) if t.base is not None else 0))
                rest.append(todo[done:])
            if sum(map(len, rest)) == sum(map(len, steps.values())):
                return False  # nothing was applied
            self._apply(self._rounds(tx, staging, rest))
            return True
        finally:
            tx_index.close()

    def rollback_transaction(self, tx_id: str) -> TransactionInfo:
        tx = self._txdir(tx_id)
        self._tx_info(tx, changed=False)
        with tx.locked(self.lock_timeout()):
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
            entries = list(os.scandir(self.staging))
        except OSError:
            return
        for entry in entries:
            if entry.is_dir() and TX_ID.match(entry.name):
                yield TxDir(self.staging, entry.name)

    def in_transaction(self, tx_id: str, *, owns_main: bool = False) -> Repository:
        tx = self._txdir(tx_id)
        if self._tx_info(tx, changed=False).status != "open":
            tx.require_open()
        if not self.writable:
            raise BadInput(f"{self.location} is read-only here: transactions need a writable repository")
        refuse_old_staging(tx)
        tx.touch()
        return self.view(tx, owns_main)

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
            elif os.path.exists(tx.closed_path):
                tx.drop()  # closed, but a crash kept its directory
            elif "closed" in meta:  # a record kept in place by an older fcrctl: moved under closed/
                if now - float(meta["closed"]) <= CLOSED_KEEP:
                    with contextlib.suppress(OSError):
                        tx.closed_path.parent.mkdir(exist_ok=True)
                        os.rename(tx.meta_path, tx.closed_path)
                shutil.rmtree(tx.dir, ignore_errors=True)  # its staged data went at close: a few files
        self._prune_closed(now)
        with contextlib.suppress(OSError), os.scandir(self.staging) as entries:
            delete_later([entry.path for entry in entries if entry.name.startswith(TRASH)])  # left by exits

    def _prune_closed(self, now: float) -> None:
        """Drop closed records older than a day; looked at once an hour (one stat per open)."""
        closed = self.staging / CLOSED
        marker = closed / ".pruned"
        try:
            if now - os.stat(marker).st_mtime < 3600:
                return
        except FileNotFoundError:
            if not closed.is_dir():
                return
        with contextlib.suppress(OSError):
            marker.touch()
            for entry in os.scandir(closed):
                if entry.name.endswith(".json") and now - entry.stat().st_mtime > CLOSED_KEEP:
                    os.unlink(entry.path)
