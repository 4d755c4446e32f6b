"""ocfl.read_small: the whole file, whatever size its reads come back in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fcrctl.repository.local import ocfl


def test_a_file_is_read_whole_in_one_read(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    path.write_bytes(b"x" * 5000)
    data, st = ocfl.read_small(path)
    assert data == b"x" * 5000 and st.st_size == 5000


def test_a_short_read_before_the_end_reads_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some filesystems (FUSE in direct I/O) answer a read with less than asked before the end."""
    path = tmp_path / "inventory.json"
    path.write_bytes(bytes(range(256)) * 40)
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: real(fd, min(n, 1000)))
    data, _ = ocfl.read_small(path)
    assert data == bytes(range(256)) * 40


def test_a_file_grown_since_its_fstat_is_read_to_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "inventory.json"
    path.write_bytes(b"a" * 100)
    real = os.fstat

    def fstat(fd: int) -> os.stat_result:
        st = real(fd)
        with open(path, "ab") as f:
            f.write(b"b" * 50)
        return st

    monkeypatch.setattr(os, "fstat", fstat)
    data, _ = ocfl.read_small(path)
    assert data == b"a" * 100 + b"b" * 50
