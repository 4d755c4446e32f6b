"""Keeping transactions alive while work runs, and running a command inside one.

KeepAlive refreshes a transaction from a background thread, on its own repository handle
(an HTTP session is not shared across threads), a third of the way to each expiry.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from fcrctl.errors import BadInput, FcrctlError
from fcrctl.repository.base import Repository, TransactionInfo

DEFAULT_INTERVAL = 60.0


class KeepAlive:
    """Refresh ``tx_id`` every third of its remaining time until stopped (a context manager)."""

    def __init__(self, open_repo: Callable[[], Repository], tx_id: str, *, interval: float | None = None) -> None:
        self._open = open_repo
        self.tx_id = tx_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"keepalive-{tx_id}", daemon=True)
        self.error: FcrctlError | None = None

    def start(self) -> KeepAlive:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> KeepAlive:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, info: TransactionInfo) -> float:
        if self._interval is not None:
            return self._interval
        if info.expires is None:
            return DEFAULT_INTERVAL
        left = (info.expires - datetime.now(UTC)).total_seconds()
        return max(0.2, min(DEFAULT_INTERVAL, left / 3))

    def _run(self) -> None:
        repo: Repository | None = None
        try:
            repo = self._open()
            wait = self._next(repo.transaction_status(self.tx_id))  # type: ignore[attr-defined]
            while not self._stop.wait(wait):
                wait = self._next(repo.keepalive_transaction(self.tx_id))  # type: ignore[attr-defined]
        except FcrctlError as err:
            self.error = err  # the work itself will meet the same error, with its own message
        finally:
            if repo is not None:
                repo.close()


def run_in_transaction(
    repo: Repository,
    open_repo: Callable[[], Repository],
    command: list[str],
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, TransactionInfo]:
    """Begin, run ``command`` with FCRCTL_TX set (kept alive meanwhile), commit on exit 0 and roll
    back otherwise. Returns (the command's exit status, the transaction's final info)."""
    if not command:
        raise BadInput("tx run needs a command: fcrctl tx run -- COMMAND [ARGS...]")
    info = repo.begin_transaction(timeout=timeout)  # type: ignore[attr-defined]
    child_env = {**os.environ, **(env or {}), "FCRCTL_TX": info.id}
    try:
        with KeepAlive(open_repo, info.id):
            try:
                status = subprocess.call(command, env=child_env)
            except OSError as e:
                status = 127 if isinstance(e, FileNotFoundError) else 126
    except BaseException:
        repo.rollback_transaction(info.id)  # type: ignore[attr-defined]
        raise
    if status == 0:
        return status, repo.commit_transaction(info.id)  # type: ignore[attr-defined]
    return status, repo.rollback_transaction(info.id)  # type: ignore[attr-defined]

