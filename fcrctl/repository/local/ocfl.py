"""OCFL 1.1 as Fedora 6 lays it out: storage root and 0004 layout, inventories, durable writes

The names here are the format (what an inventory holds, where an object lives) and the
durability primitives every writer uses (fsync, syncfs, write-then-rename); building and
installing new versions is in ocfl_write.py.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl.errors import CorruptData

INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
ROOT_NAMASTE = "0=ocfl_1.1"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
OBJECT_NAMASTE_DATA = b"ocfl_object_1.1\n"
OBJECT_NAMASTE_PREFIX = "0=ocfl_object_"  # any 1.x
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
LAYOUT_NAME = "0004-hashed-n-tuple-storage-layout"
LAYOUT_CONFIG = {
    "extensionName": LAYOUT_NAME,
    "digestAlgorithm": "sha256",
    "tupleSize": 3,
    "numberOfTuples": 3,
    "shortObjectRoot": False,
}
CHUNK = 1024 * 1024


@functools.cache
def _syncfs() -> Any:
    """libc's syncfs, or None (not glibc: one fsync per file instead). Loaded on the first sync,
    not at import: ctypes and libc cost every command ~2 ms of start-up, reads included."""
    import ctypes

    try:
        return getattr(ctypes.CDLL("libc.so.6", use_errno=True), "syncfs", None)
    except OSError:
        return None


def __getattr__(name: str) -> Any:
    if name == "HAVE_SYNCFS":  # whether sync_tree is one syncfs (computed on first use, see _syncfs)
        return _syncfs() is not None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def object_rel(object_id: str) -> str:
    """Object root relative to the storage root: sha256 -> ``abc/def/ghi/<hex>``."""
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    return f"{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{digest}"


def is_storage_root(path: Path) -> bool:
    return any(p.name.startswith("0=ocfl_1.") for p in path.iterdir()) if path.is_dir() else False


def init_storage_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_durable(root / ROOT_NAMASTE, b"ocfl_1.1\n")
    layout = {"extension": LAYOUT_NAME, "description": "Hashed N-tuple Storage Layout (OCFL community extension 0004)"}
    write_durable(root / "ocfl_layout.json", json.dumps(layout, indent=2).encode())
    ext = root / "extensions" / LAYOUT_NAME
    ext.mkdir(parents=True, exist_ok=True)
    write_durable(ext / "config.json", json.dumps(LAYOUT_CONFIG, indent=2).encode())
    fsync_dir(ext)
    fsync_dir(root / "extensions")
    fsync_dir(root)


# -- durability helpers ---------------------------------------------------------------------


def fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(path: Path) -> None:
    """Make every file written under ``path`` durable: one syncfs() (Linux) instead of an
    fsync per file, which is what makes small creates fast (an fsync costs ~1 ms)."""
    syncfs = _syncfs()
    if syncfs is not None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for dirpath, _dirs, files in os.walk(path):
        _fsync_dir_and_files(dirpath, files)


def sync_small_tree(path: Path, *, most: int = 256) -> None:
    """As :func:`sync_tree`, for a tree of a few files: an fsync each. syncfs would also wait
    for every other dirty page of the filesystem (a 1 GB import still being written back
    costs a small snapshot seconds); past ``most`` files syncfs is cheaper after all."""
    seen = 0
    for dirpath, _dirs, files in os.walk(path):
        seen += len(files) + 1
        if seen > most:
            sync_tree(path)
            return
        _fsync_dir_and_files(dirpath, files)


def _fsync_dir_and_files(dirpath: str, files: list[str]) -> None:
    for name in files:
        fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(Path(dirpath))


def write_durable(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` crash-safely: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


# -- inventories ------------------------------------------------------------------------------


def inventory_bytes(inventory: dict) -> tuple[bytes, bytes]:
    # compact: json's C encoder, ~4x faster than indent=2 (which runs in pure Python); Fedora's
    # own inventories follow no fixed layout either, readers parse them
    data = json.dumps(inventory, separators=(",", ":")).encode("utf-8")
    digest = hashlib.sha512(data).hexdigest()
    return data, f"{digest} {INVENTORY}\n".encode()


def read_inventory(obj_dir: Path | str, *, check_sidecar: bool = True) -> dict:
    """Parse an inventory; CorruptData when it is missing, unparseable or fails its sidecar."""
    # plain strings and os calls: a reindex or check reads one inventory per object (millions)
    inv = f"{obj_dir}/{INVENTORY}"
    try:
        data = read_small(inv)[0]
    except OSError as e:
        raise CorruptData(f"cannot read {inv}: {e.strerror}") from e
    if check_sidecar:
        try:
            recorded = read_small(f"{obj_dir}/{SIDECAR}")[0].decode("utf-8").split()[0].lower()
        except (OSError, IndexError) as e:
            raise CorruptData(f"missing or empty inventory sidecar in {obj_dir}") from e
        actual = hashlib.sha512(data).hexdigest()
        if actual != recorded:
            raise CorruptData(
                f"inventory digest mismatch in {obj_dir}: sidecar says {recorded[:16]}…, file is {actual[:16]}…"
            )
    try:
        inventory = json.loads(data)
    except ValueError as e:
        raise CorruptData(f"inventory {inv} is not valid JSON: {e}") from e
    for key in ("id", "head", "manifest", "versions"):
        if key not in inventory:
            raise CorruptData(f"inventory {inv} lacks {key!r}")
    return inventory


def read_small(path: str | Path) -> tuple[bytes, os.stat_result]:
    """A small file's bytes and its stat, with no buffered file object around them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        first = os.read(fd, st.st_size + 1)
        if len(first) == st.st_size:  # all fstat saw and no more: its end, without a read to see it
            return first, st
        chunks = [first]
        while chunks[-1]:  # the file has grown since fstat, or a filesystem read short (FUSE direct I/O)
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks), st
    finally:
        os.close(fd)


def version_number(version: str) -> int:
    return int(version[1:])


def manifest_paths(inventory: dict) -> dict[str, str]:
    """digest -> first content path (relative to the object root)."""
    return {digest: paths[0] for digest, paths in inventory["manifest"].items()}


def state_files(inventory: dict, version: str | None = None) -> dict[str, str]:
    """logical path -> content path (relative to the object root) for a version (default head)."""
    version = version or inventory["head"]
    manifest = manifest_paths(inventory)
    out: dict[str, str] = {}
    for digest, logicals in inventory["versions"][version]["state"].items():
        for logical in logicals:
            out[logical] = manifest[digest]
    return out


def state_digests(inventory: dict, version: str | None = None) -> dict[str, str]:
    version = version or inventory["head"]
    return {logical: d for d, logicals in inventory["versions"][version]["state"].items() for logical in logicals}


# -- content and version messages ---------------------------------------------------------------


@dataclass
class NewFile:
    """Content for a logical path: bytes, or a temp file (under tmp/) with its sha512."""

    data: bytes | None = None
    source: Path | None = None
    digest: str | None = None

    def sha512(self) -> str:
        if self.digest is None:
            assert self.data is not None
            self.digest = hashlib.sha512(self.data).hexdigest()
        return self.digest


def now_iso() -> str:
    # as strftime("%Y-%m-%dT%H:%M:%S.%fZ") (a year below 1000 aside), at a third of its cost
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


# Version messages fcrctl writes for `versions create` (the rest, e.g. Fedora's "Authored by
# Fedora 6", reverts, transactions, say what made the version). A memento names a second, so an
# explicit version gets a second of its own: no version of its object shares it, before or after.
LABEL_PREFIX = "label: "
VERSION_MESSAGE = "version"


def is_explicit(message: str | None) -> bool:
    return message is not None and (message == VERSION_MESSAGE or message.startswith(LABEL_PREFIX))


def ensure_dir(path: Path | str) -> None:
    if not os.path.isdir(path):
        # top-down (a stat per missing level, then one mkdir each), not Path.mkdir's bottom-up
        # retries: failed mkdirs cost nearly as much as real ones here (~0.2 ms)
        os.makedirs(path, exist_ok=True)


def iter_object_dirs(storage_root: Path):
    """Every object directory under a storage root (any layout): dirs holding 0=ocfl_object_*."""
    for dirpath, dirs, files in os.walk(storage_root):
        if dirpath == str(storage_root):
            for skip in ("extensions",):
                if skip in dirs:
                    dirs.remove(skip)
        if any(f.startswith("0=ocfl_object_") for f in files):
            dirs[:] = []
            yield Path(dirpath)


def object_dirs(top: str, top_rel: str, *, listed: bool = True) -> Iterator[tuple[str, str, dict[str, bool]]]:
    """(object dir, its path relative to the root, its entries: name -> is a directory) for
    every directory under ``top`` (itself included) holding an object declaration, in a stable
    order. One listing per directory: the object's own listing also serves the namaste,
    version and stray-directory checks. ``listed=False``: a directory named as the 0004 layout
    names objects (64 characters) is not listed when its declaration of OCFL 1.1 or 1.0 is there
    (its entries are then {}): one stat instead of five calls a listing makes (reindex)."""
    stack = [(top, top_rel)]
    while stack:
        path, rel = stack.pop()
        if not listed and rel[-65:-64] in ("/", "") and len(rel) >= 64 and _declared(path):
            yield path, rel, {}
            continue
        try:
            with os.scandir(path) as it:
                entries = {e.name: e.is_dir() for e in it}
        except OSError:
            continue
        if any(name.startswith(OBJECT_NAMASTE_PREFIX) for name in entries):
            yield path, rel, entries
            continue
        for name in sorted((name for name, is_dir in entries.items() if is_dir), reverse=True):
            stack.append((f"{path}/{name}", f"{rel}/{name}"))


def _declared(path: str) -> bool:
    for version in ("1.1", "1.0"):
        try:
            os.stat(f"{path}/{OBJECT_NAMASTE_PREFIX}{version}")
        except OSError:
            continue
        return True
    return False


def remove_tree(path: Path, tmp: Path) -> None:
    """Purge: rename out of the storage root first (atomic), then delete at leisure."""
    if not path.exists():
        return
    graveyard = tmp / f"purge-{uuid.uuid4().hex}"
    os.rename(path, graveyard)
    fsync_dir(path.parent)
    shutil.rmtree(graveyard, ignore_errors=True)
    # drop empty tuple directories so the storage root stays free of empty dirs (E073)
    parent = path.parent
    for _ in range(3):
        with contextlib.suppress(OSError):
            parent.rmdir()
        parent = parent.parent
