"""An import pins glibc's mmap threshold, so freed 1 MiB chunks of binaries go back to the system
instead of raising it (fcrctl/services/transfer/import_memory.py)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
from fcrctl.services.transfer.import_memory import fixed_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
if sys.argv[1] == "pinned":
    assert fixed_mmap_threshold()
chunk = bytes(1 << 20)  # as a binary's chunk: mapped, then freed (glibc raises its threshold unless pinned)
del chunk
chunk = bytes(1 << 20)
print(mallinfo2().hblkhd >= 1 << 20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
@pytest.mark.parametrize(("mode", "mapped"), [("pinned", "True"), ("default", "False")])
def test_a_freed_chunk_does_not_raise_the_mmap_threshold_once_pinned(mode: str, mapped: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == mapped  # default: the second chunk comes from the heap and stays there
