"""Worker processes forked for CPU-bound walks (snapshot scans, checks, reindex)"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any


def pool(processes: int) -> ProcessPoolExecutor:
    """Forked workers (they inherit the loaded modules: spawn would re-import the CLI, ~0.3 s)
    that die with the process that forked them."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def ordered(pool: ProcessPoolExecutor, fn: Callable[..., Any], items: Iterable[Any], *args: Any,
            ahead: int = 8) -> Iterator[Any]:
    """``fn(item, *args)`` for each item on the pool, results in the items' order, with at most
    ``ahead`` items submitted and not yet consumed: unlike ``pool.map``, which submits everything
    at once, results a slower consumer has not taken yet cannot pile up in memory."""
    pending: deque[Future[Any]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item, *args))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # the consumer stopped early or a worker failed: what has not started never will
        for f in pending:
            f.cancel()


def _die_with_parent(parent: int) -> None:
    """A worker outliving its killed parent would wait for work forever, holding what it
    inherited: locks (backups/.lock: retained objects would never be collected again), open
    files."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    if os.getppid() != parent:  # it died before that took effect
        os._exit(1)
