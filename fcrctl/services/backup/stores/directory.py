"""DirectoryStore: a backup store that is a plain directory (local disk, NFS, USB drive).

Layout: ``fcrctl-backup-store.json`` (format name and version), one file per key, written to
``tmp/`` and renamed into place (so a key is whole or absent), and synced in one syncfs at the
end of an upload (see :meth:`flush`) rather than one fsync per blob.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fcrctl.errors import BadInput, FcrctlError, NotFound, Unavailable, Unsupported
from fcrctl.services.backup.stores.base import FORMAT, READABLE_VERSIONS, VERSION, StoreCapabilities
from fcrctl.services.backup.tree import start_writeback

MARKER = "fcrctl-backup-store.json"
LOCK = ".lock"  # flock()ed: see DirectoryStore.lock


def _io_error(e: OSError, what: str) -> FcrctlError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return Unavailable(f"{what}: no space left on the store's disk; free space and run again "
                           f"(what was written is kept and not sent again)")
    return Unavailable(f"{what}: {e.strerror or e}")


def _write_marker(marker: Path) -> None:
    from fcrctl.repository.local import ocfl

    ocfl.write_durable(marker, (json.dumps({"format": FORMAT, "version": VERSION}) + "\n").encode())


class _OpenFile:
    """A descriptor closed when the last reference goes (a reader may still hold an evicted one)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    # os and contextlib bound now: at interpreter exit, module globals may already be None
    def __del__(self, _close: Callable[[int], None] = os.close, _suppress: Any = contextlib.suppress) -> None:
        with _suppress(OSError):
            _close(self.fd)


class DirectoryStore:
    capabilities = StoreCapabilities(local=True, parallel_writes=4)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        self._tmp = root / "tmp"
        self._open: dict[str, _OpenFile] = {}
        self._open_lock = threading.Lock()
        self._made: set[Path] = set()  # directories known to exist: not made again per put
        self._names = itertools.count()  # tmp names: unique within this object, the prefix across processes
        self._prefix = uuid.uuid4().hex

    @classmethod
    def open(cls, url: str, *, create: bool = False, **_: Any) -> DirectoryStore:
        root = Path(url[len("file://"):] if url.startswith("file://") else url).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise BadInput(f"backup store {root} is a file, not a directory: give a directory path")
        marker = root / MARKER
        if marker.exists():
            try:
                doc = json.loads(marker.read_text("utf-8"))
            except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested beyond reason
                raise BadInput(f"{marker} is unreadable ({e}): is {root} an fcrctl backup store?") from e
            if not isinstance(doc, dict):
                raise BadInput(f"{marker} is unreadable (not a JSON object): is {root} an fcrctl backup store?")
            if doc.get("format") != FORMAT:
                raise BadInput(f"{root} is not an fcrctl backup store (format {doc.get('format')!r})")
            if doc.get("version") not in READABLE_VERSIONS:
                raise Unsupported(
                    f"backup store {root} has format version {doc.get('version')}; this fcrctl reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))}: use the fcrctl release that wrote it"
                )
            if create and doc.get("version") != VERSION:
                # about to write packs, which older readers would miss: they must refuse the store now
                try:
                    _write_marker(marker)
                except OSError as e:
                    raise _io_error(e, f"cannot upgrade backup store {root}") from e
        elif create:
            if root.exists() and any(root.iterdir()):
                raise BadInput(f"{root} is not empty and not an fcrctl backup store: give an empty or new directory")
            try:
                root.mkdir(parents=True, exist_ok=True)
                _write_marker(marker)
            except OSError as e:
                raise _io_error(e, f"cannot create backup store {root}") from e
        else:
            raise NotFound(f"{root} is not an fcrctl backup store (no {MARKER}): upload a backup to create one")
        return cls(root)

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/") or key.startswith("tmp/") or key == MARKER:
            raise BadInput(f"bad store key {key!r}")
        return self.root / key

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        target = self._path(key)
        tmp = self._tmp / f"{self._prefix}-{next(self._names)}.part"
        written = 0
        try:
            self._makedir(self._tmp)
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    written += len(chunk)
                fh.flush()
                start_writeback(fh.fileno())
            self._makedir(target.parent)
            os.replace(tmp, target)
            with self._open_lock:  # a descriptor kept open for ranges would read the replaced value
                self._open.pop(key, None)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _io_error(e, f"cannot write {key} to {self.root}") from e
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return written

    def _makedir(self, path: Path) -> None:
        if path not in self._made:
            path.mkdir(parents=True, exist_ok=True)
            self._made.add(path)

    def get(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes the stream
        except FileNotFoundError:
            raise NotFound(f"{key} is missing from backup store {self.root}") from None
        except OSError as e:
            raise _io_error(e, f"cannot read {key} from {self.root}") from e

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            opened = self._file(key)  # held while read: closed only once no thread uses it
            data = os.pread(opened.fd, length, offset)
        except FileNotFoundError:
            raise NotFound(f"{key} is missing from backup store {self.root}") from None
        except OSError as e:
            raise _io_error(e, f"cannot read {key} from {self.root}") from e
        if len(data) != length:
            raise NotFound(f"{key} in backup store {self.root} is shorter than its index says (truncated)")
        return data

    def _file(self, key: str) -> _OpenFile:
        """An open descriptor per pack, kept: a restore reads thousands of blobs from each
        (pread needs no seek, so threads share it)."""
        opened = self._open.get(key)  # no lock for one already open: this runs per small blob
        if opened is not None:
            return opened
        with self._open_lock:
            opened = self._open.get(key)
            if opened is None:
                if len(self._open) >= 64:
                    self._open.pop(next(iter(self._open)))  # closed when its last reader is done
                opened = self._open[key] = _OpenFile(os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC))
            return opened

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirs, files in os.walk(base):
            if Path(dirpath) == self.root:
                dirs[:] = [d for d in dirs if d != "tmp"]
            rel = os.path.relpath(dirpath, self.root)
            for name in files:
                key = name if rel == "." else f"{rel}/{name}"
                if key not in (MARKER, LOCK):
                    yield key

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """As :meth:`list`, with each value's size (what space.py reports and frees)."""
        for key in self.list(prefix):
            with contextlib.suppress(FileNotFoundError):
                yield key, os.stat(self.root / key).st_size

    def delete(self, key: str) -> None:
        with self._open_lock:
            self._open.pop(key, None)
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as e:
            raise _io_error(e, f"cannot delete {key} from {self.root}") from e

    @contextlib.contextmanager
    def lock(self, *, exclusive: bool) -> Iterator[None]:
        """Uploads hold the store shared and deletes exclusive, so a delete never frees a blob
        or pack that an upload running meanwhile has counted on finding."""
        try:
            fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise _io_error(e, f"cannot lock {self.root}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def flush(self) -> None:
        """Make every put so far durable (one syncfs)."""
        from fcrctl.repository.local import ocfl

        try:
            ocfl.sync_tree(self.root)
        except OSError as e:
            raise _io_error(e, f"cannot sync {self.root}") from e

    def clean(self) -> None:
        """Remove partial writes a killed upload left in tmp/."""
        if self._tmp.is_dir():
            stale = time.time() - 3600  # an upload running right now keeps its fresh parts
            for entry in os.scandir(self._tmp):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < stale:
                        os.unlink(entry.path)

    def close(self) -> None:
        with self._open_lock:
            self._open.clear()
