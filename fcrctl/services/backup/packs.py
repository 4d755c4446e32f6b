"""Small blobs packed together: one store value per ~8 MB instead of one file per blob.

Most files of a repository are small (headers, descriptions, inventories), and a store value
per file costs a create and a rename each: on a local disk that, not compression, bounded the
first upload. Files up to ``PACKED_MAX`` bytes are therefore compressed into packs:

``packs/<p[:2]>/<p>``   concatenated zstd frames, one per blob; p = sha256 of the pack's bytes
``index/<p>.json``      ``{"pack": p, "blobs": [[sha512, offset, length], ...]}``, written
                        after its pack, so an index never names a pack that is not there

A blob is found by its sha512 in the union of the index files. Packs are deleted when no
manifest names any of their blobs; partly used ones are repacked by delete and prune (space.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup.stores.base import BackupStore

PACK_TARGET = 8 << 20  # compressed bytes per pack
PACKED_MAX = 128 << 10  # files up to this size are packed; larger ones stay blobs/<sha512>


@dataclass(frozen=True)
class Location:
    pack: str
    offset: int
    length: int


def pack_key(pack: str) -> str:
    return f"packs/{pack[:2]}/{pack}"


def index_key(pack: str) -> str:
    return f"index/{pack}.json"


def read_index(store: BackupStore) -> dict[str, Location]:
    """Every packed blob of the store, by sha512."""
    out: dict[str, Location] = {}
    for key in store.list("index/"):
        try:
            with store.get(key) as fh:
                doc = json.load(fh)
            pack = str(doc["pack"])
            for digest, offset, length in doc["blobs"]:
                out[str(digest)] = Location(pack, int(offset), int(length))
        except FcrctlError:
            continue  # deleted meanwhile
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptData(f"pack index {key} in {store.location} is damaged ({e}): its blobs cannot be "
                              f"found; upload the backups again to a new store") from e
    return out


_cache: weakref.WeakKeyDictionary[BackupStore, dict[str, Location]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def locate(store: BackupStore, digest: str) -> Location | None:
    """Where a packed blob is (None: not packed), the store's index read once per store object."""
    found = _cache.get(store)  # no lock once read: a restore asks once per small file
    if found is None:
        with _cache_lock:
            found = _cache.get(store)
            if found is None:
                found = _cache[store] = read_index(store)
    return found.get(digest)


def forget(store: BackupStore) -> None:
    with _cache_lock:
        _cache.pop(store, None)


class Packer:
    """Collects compressed blobs from several threads; writes a pack (then its index) whenever
    ``PACK_TARGET`` bytes are pending, and the rest on ``close``."""

    def __init__(self, store: BackupStore, on_written: Callable[[int], None] | None = None) -> None:
        self._store = store
        self._on_written = on_written
        self._lock = threading.Lock()
        self._data = bytearray()
        self._blobs: list[tuple[str, int, int]] = []
        self.written: list[tuple[str, list[tuple[str, int, int]], int]] = []  # (pack, its blobs, index size)

    def add(self, digest: str, frame: bytes) -> None:
        with self._lock:
            self._blobs.append((digest, len(self._data), len(frame)))
            self._data += frame
            if len(self._data) < PACK_TARGET:
                return
            data, blobs = bytes(self._data), self._blobs
            self._data, self._blobs = bytearray(), []
        self._write(data, blobs)  # outside the lock: other threads keep packing

    def close(self) -> None:
        with self._lock:
            data, blobs = bytes(self._data), self._blobs
            self._data, self._blobs = bytearray(), []
        if blobs:
            self._write(data, blobs)

    def _write(self, data: bytes, blobs: list[tuple[str, int, int]]) -> None:
        pack = hashlib.sha256(data).hexdigest()
        written = self._store.put(pack_key(pack), iter([data]))
        doc = {"pack": pack, "blobs": [list(b) for b in blobs]}
        index = json.dumps(doc, separators=(",", ":")).encode()
        written += self._store.put(index_key(pack), iter([index]))
        with self._lock:
            self.written.append((pack, blobs, len(index)))
        if self._on_written is not None:
            self._on_written(written)
