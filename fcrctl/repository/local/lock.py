"""The writer lock: an exclusive flock on REPO/lock.

flock locks die with their process, so a writer killed with -9 never blocks the next one;
the file itself is never deleted (deleting it would let two writers lock different inodes).
The holder writes its PID and command into it, so that a writer kept waiting more than a
second can say who it waits for (the content is only a hint: the flock is the lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fcrctl.errors import Locked

NOTICE_AFTER = 1.0  # seconds of waiting before saying so


def _stderr(text: str) -> None:
    print(f"fcrctl: {text}", file=sys.stderr, flush=True)


# where the waiting notice goes (the CLI's stderr; tests replace it)
notice: Callable[[str], None] = _stderr


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
        if self._depth == 1:
            with contextlib.suppress(OSError):  # a hint for waiters, never worth failing a write over
                note = f"{os.getpid()} {_command()}\n".encode()
                os.pwrite(fd, note, 0)
                os.ftruncate(fd, len(note))
        return True

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it ("PID, command"), or "another process"."""
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            pid, _, command = os.pread(self._open(), 512, 0).decode("utf-8").strip().partition(" ")
            if pid.isdigit():
                return f"held by {pid}, {command or 'unknown command'}"
        return "held by another process"

    def acquire(self) -> None:
        if self._depth:  # re-entrant within one repository object
            self._depth += 1
            return
        started = time.monotonic()
        deadline = started + self.timeout
        delay = 0.001
        told = False
        while not self.try_acquire():
            if not told and time.monotonic() - started >= NOTICE_AFTER:
                told = True
                notice(f"waiting for the writer lock ({self.holder()}), at most {self.timeout:g} s")
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


def _command() -> str:
    """The fcrctl command this process runs (``fcrctl restore``): never its arguments, which
    may name what others should not read in a shared lock file."""
    with contextlib.suppress(Exception):
        import click

        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            return ctx.command_path
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "unknown command"
