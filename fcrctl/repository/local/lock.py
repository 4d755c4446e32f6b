"""The writer lock: an exclusive flock on REPO/lock.

flock locks die with their process, so a writer killed with -9 never blocks the next one;
the file itself is never deleted (deleting it would let two writers lock different inodes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from fcrctl.errors import Locked


class WriterLock:
    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._depth = 0

    @property
    def depth(self) -> int:
        return self._depth

    def try_acquire(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._depth += 1
        return True

    def acquire(self) -> None:
        if self._depth:  # re-entrant within one repository object
            self._depth += 1
            return
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise Locked(
                    f"another process is writing to the repository ({self.path} is locked) and did not finish "
                    f"within {self.timeout:g} s: retry later or raise --lock-timeout"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._depth = 0
