"""File-descriptor helpers: a file's head, its whole bytes or sha512 in few system calls; fd sinks"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from fcrctl.services.backup import frames


def read_head(file: Path | str, n: int, dir_fd: int | None = None) -> bytes:
    """A file's first ``n`` bytes, in one read (os.open: open() adds an fstat, an ioctl and a
    seek per file; ``dir_fd``: ``file`` is relative to it, which spares the kernel the path
    walk). A short read is taken for the end of the file: every use hashes what it read, or
    is a sidecar or NAMASTE file, far smaller than a page."""
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def read_all(file: str, dir_fd: int | None = None) -> bytes:
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return frames.read_all(fd)
    finally:
        os.close(fd)


def sha512_file(file: Path | str, dir_fd: int | None = None) -> str:
    h = hashlib.sha512()
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        while chunk := os.read(fd, frames.CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


class FdWriter:
    """A file descriptor as a sink (no buffered file object per restored file)."""

    __slots__ = ("fd", "kept")

    def __init__(self, fd: int, kept: list[bytes] | None = None) -> None:
        self.fd = fd
        self.kept = kept  # a copy of what is written, when the caller reads it back (inventories)

    def write(self, data: bytes | memoryview) -> int:
        if self.kept is not None:
            self.kept.append(bytes(data))
        done = os.write(self.fd, data)
        while done < len(data):  # a short write (rare on a local disk): the rest
            done += os.write(self.fd, memoryview(data)[done:])
        return done


class Discard:
    """A sink that keeps nothing (verification reads blobs only to hash them)."""

    def write(self, data: bytes) -> int:
        return len(data)



def mkdirs_at(at: int, path: str, made: set[str]) -> None:
    """``path`` and its missing parents, relative to directory ``at``; ``made`` remembers them."""
    if path in made:
        return
    todo = [path]  # a loop, not a call per level: this runs for every directory a restore makes
    parent = path.rpartition("/")[0]
    while parent and parent not in made:
        todo.append(parent)
        parent = parent.rpartition("/")[0]
    for folder in reversed(todo):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, dir_fd=at)
        made.add(folder)
