"""The local repository inside one transaction: reads see its staged changes, writes are staged

Imported only when a transaction is entered (``LocalRepository.in_transaction``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from fcrctl.errors import Unsupported
from fcrctl.repository.local.index import Index
from fcrctl.repository.local.repository import LocalRepository
from fcrctl.repository.local.resources import Resources, State
from fcrctl.repository.local.staging import BLOB
from fcrctl.repository.local.txdir import TxDir, check_id
from fcrctl.repository.local.txstore import TxStore


class TxResources(Resources):
    """Resources as the transaction sees them: staged files first, then the repository's."""

    store: TxStore

    def __init__(self, root: Path, index: Index, store: TxStore, main: Resources) -> None:
        super().__init__(root, index, store)
        self.main = main

    def abs(self, rel: str | None) -> Path | None:
        if not rel:
            return None
        if rel.startswith(BLOB + "/"):
            return self.store.file(rel)
        staged = self.root / rel
        return staged if os.path.exists(staged) else self.main.root / rel

    def state(self, path: str, version: str | None = None) -> State:
        if version is not None:
            row = self.row(path, allow_deleted=True)
            if self.store.staging.by_rel(row.object_rel) is None:
                return self.main.state(path, version)  # untouched here
        return super().state(path, version)


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
        store = TxStore(tx, self._index, self._main_root, self._main_index, main._user or "fcrctl")  # noqa: SLF001
        self._wire(store, TxResources(self._root, self._index, store, main._resources))  # noqa: SLF001
        self._transactions = main._txs()  # noqa: SLF001 - transaction calls go to the repository itself
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

    def close(self) -> None:
        super().close()
        self._main_index.close()
        if self._owns_main:
            self._main.close()

    def reindex(self, *, _locked: bool = True, progress: Any = None) -> int:
        raise Unsupported("reindex works on the repository, not inside a transaction: run it without --tx")

    def check(self, *, read_data: bool = False, progress: Any = None) -> Iterator[Any]:
        raise Unsupported("check works on the repository, not inside a transaction: run it without --tx")

    def in_transaction(self, tx_id: str) -> Any:
        if check_id(tx_id) == self.transaction_id:
            return self
        return self._main.in_transaction(tx_id)
