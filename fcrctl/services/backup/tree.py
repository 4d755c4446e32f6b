"""Filesystem plumbing for snapshots: hard-link trees, atomic directory exchange, staging dirs.

Hard links are safe because nothing under an OCFL root is modified in place (files are
replaced by rename), so a linked copy never sees later writes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from fcrctl.repository.local.ocfl import fsync_dir as fsync_dir  # one implementation, used by snapshot/restore

TMP_PREFIX = ".tmp-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_SYNC_FILE_RANGE_WRITE = 2
try:
    _sync_file_range = _libc.sync_file_range
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
except (OSError, AttributeError):  # not Linux/glibc: the final sync does all the writing
    _sync_file_range = None


def start_writeback(fd: int) -> None:
    """Start writing the file to disk now, without waiting (as git's batched fsync does): the
    disk works while the upload or download goes on, and the one sync at the end has little
    left to do."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def link_tree(src: Path, dst: Path) -> tuple[int, int]:
    """Recreate ``src`` at ``dst`` (new; its parent exists) with hard links (copies across
    filesystems). Returns (files, bytes)."""
    files = size = 0
    can_link = True
    stack = [(str(src), str(dst))]
    while stack:
        s, d = stack.pop()
        os.mkdir(d)
        with os.scandir(s) as it:
            for entry in it:
                target = d + "/" + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, target))
                    continue
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
                if can_link:
                    try:
                        os.link(entry.path, target)
                        continue
                    except OSError as e:
                        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                            raise
                        can_link = e.errno == errno.EMLINK  # EXDEV etc.: copy from now on
                shutil.copy2(entry.path, target)
    return files, size


def tree_size(root: Path) -> tuple[int, int]:
    """(files, bytes) under ``root``."""
    files = size = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    files += 1
                    size += entry.stat(follow_symlinks=False).st_size
    return files, size


def exchange(a: Path, b: Path) -> None:
    """Swap two directories in one atomic step (renameat2 RENAME_EXCHANGE)."""
    if _libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def remove_tree(path: Path) -> None:
    """Delete a directory tree: renamed out of sight first so that a half-deleted tree never
    looks like a backup."""
    if not path.exists():
        return
    if not path.name.startswith(TMP_PREFIX):
        hidden = path.with_name(f"{TMP_PREFIX}del-{uuid.uuid4().hex}")
        os.rename(path, hidden)
        path = hidden
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def home_lock(home: Path, *, exclusive: bool) -> Iterator[bool]:
    """Snapshots being recorded hold ``home/.lock`` shared; collecting retained objects needs it
    exclusive and never waits for it (yields False when others hold it: collect next time)."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging_dir(home: Path) -> Iterator[Path]:
    """A fresh ``home/.tmp-*`` directory, locked while in use (so cleaners skip it) and removed
    on exit unless the caller renamed it away."""
    home.mkdir(parents=True, exist_ok=True)
    clean_debris(home)
    name = f"{TMP_PREFIX}{uuid.uuid4().hex}"
    path = home / name
    # lock first, then create: a cleaner never sees an unlocked staging dir that is in use
    fd = os.open(home / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path.mkdir()
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(home / f"{name}.lock")
        os.close(fd)


def clean_debris(home: Path) -> int:
    """Remove what killed backups left behind (staging dirs nobody holds a lock on)."""
    removed = 0
    try:
        entries = list(os.scandir(home))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX) or entry.name.endswith(".lock"):
            continue
        lock = home / f"{entry.name}.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running backup owns it
            shutil.rmtree(entry.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(lock)
            removed += 1
        finally:
            os.close(fd)
    for entry in os.scandir(home):  # locks whose directory is gone and whose owner is dead
        if entry.name.startswith(TMP_PREFIX) and entry.name.endswith(".lock"):
            if (home / entry.name[: -len(".lock")]).exists():
                continue
            with contextlib.suppress(OSError):
                fd = os.open(entry.path, os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.unlink(entry.path)
                except BlockingIOError:
                    pass
                finally:
                    os.close(fd)
    return removed
