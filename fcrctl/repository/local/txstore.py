"""A local transaction's Store: writes staged (new objects as records, others as versions of linked copies)"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from fcrctl.errors import Conflict, CorruptData
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index
from fcrctl.repository.local.staging import BLOB, Staging, Touched, record_inventory
from fcrctl.repository.local.store import Change, Store, known_content
from fcrctl.repository.local.txdir import TxDir, object_head


def link_tree(src: Path, dst: Path) -> None:
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
        base = object_head(main_obj)
        mine = self._rows(self.index, object_id)
        theirs = self._rows(self.main_index, object_id)
        if mine != theirs:
            changed = sorted({path for path, _ in mine ^ theirs})
            raise Conflict(
                f"{', '.join(changed[:5]) or object_id} changed outside transaction {self.tx.id} after it began: "
                "roll it back and redo the work in a new transaction"
            )
        if base is not None:
            link_tree(main_obj, self.root / rel)
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
        p = ocfl.prepare_version(self.root, self.tmp, change.object_id, change.state,
                                 message=change.message, user=self.user)
        ocfl.install_version(p, set())
        known_headers, known_data = known_content(change)
        return self.entries(change.object_id, ocfl.object_rel(change.object_id), p.inventory, known_headers,
                            change.known_graphs, known_data)

    def needs_recovery(self) -> bool:
        # staging never marks objects pending (Store.commit, which does, is not used here) nor
        # journals, so there is nothing for recovery to act on (one query less per staged write)
        return False
