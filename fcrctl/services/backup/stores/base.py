"""The BackupStore protocol: a flat key -> bytes store, nothing more.

Keys are '/'-separated relative names (``blobs/ab/ab12...``, ``manifests/<id>.jsonl.zst``).
Backup logic (manifest.py) decides what the keys and bytes mean; a store only keeps them.

Contract (every store, tested by tests/test_backup_store_contract.py):
- ``put(key, chunks)`` stores the bytes atomically: a reader sees the whole value or no key.
  Re-putting a key replaces it. A failure (disk full...) leaves no key and raises.
- ``get(key)`` streams the value (NotFound if absent). ``exists(key)`` asks without reading.
  ``get_range(key, offset, length)`` returns those bytes of the value (a blob inside a pack).
- ``list(prefix)`` yields the keys under ``prefix`` (any order). ``delete(key)`` is idempotent.
- Optional: ``list_sizes(prefix)`` yields (key, size) pairs; ``lock(exclusive=...)`` a context
  manager that uploads hold shared and deletes exclusive (flock, or stores/leases.py remotely).
- Errors: NotFound, BadInput (not a store / bad key), Unavailable (I/O, space, network),
  Unsupported (another store format version). Never OSError or a client library's errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

FORMAT = "fcrctl-backup-store"
VERSION = 2  # 2: small blobs live in packs (packs.py); version 1 stores are read, and upgraded on upload
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class StoreCapabilities:
    local: bool = False  # keys are files on this machine (rename is atomic, listing is cheap)
    parallel_writes: int = 4  # how many puts the caller may run at once


@runtime_checkable
class BackupStore(Protocol):
    location: str  # how to show the store (never with credentials)
    capabilities: StoreCapabilities

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the bytes under ``key`` atomically; returns bytes written."""

    def get(self, key: str) -> BinaryIO:
        """Open the value of ``key`` for streaming (NotFound if absent)."""

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the value of ``key`` from ``offset`` (NotFound if absent)."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def delete(self, key: str) -> None: ...

    def close(self) -> None: ...
