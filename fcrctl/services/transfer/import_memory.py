"""Keeping an import's memory flat with its size: glibc's malloc told not to grow its mmap threshold

glibc serves a block above its mmap threshold (128 KiB) with its own mmap, and when such a block
is freed it raises the threshold to that block's size, and the amount of free memory each arena
keeps at its top to twice that (up to 32/64 MiB). An import copies binaries in 1 MiB chunks
(bytes objects, freed at once): after the first one, blocks up to 1 MiB come from the arenas, and
every arena - the main one, and one per thread of each batch commit - may keep ~2 MiB it no
longer uses. Measured at 100,000 resources: malloc's free memory grew from 3 to 10 MB over the
import while the memory in use stayed at 9 MB, so peak RSS grew with the import's length, not
with what it holds. Setting the threshold explicitly turns the adjustment off (mallopt(3)).
"""

from __future__ import annotations

import ctypes
import platform

M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)
THRESHOLD = 128 << 10  # glibc's default: a chunk of a binary is always mapped and unmapped


def fixed_mmap_threshold() -> bool:
    """Pin glibc's mmap threshold for this process (False where the C library is not glibc)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
