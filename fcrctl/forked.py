"""Worker processes forked for CPU-bound walks (snapshot scans, checks)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def pool(processes: int) -> ProcessPoolExecutor:
    """Forked workers (they inherit the loaded modules: spawn would re-import the CLI, ~0.3 s)
    that die with the process that forked them."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


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
