"""Space in a backup store: what no backup uses any more, freed as restic's prune frees it.

After a delete (or prune) removes manifests, :func:`collect`, holding the store exclusively:
- deletes ``blobs/`` no remaining manifest names;
- deletes packs none of whose blobs is named (index first, so an index never names a missing pack);
- repacks packs of which more than ``max_unused`` percent is unused: their used frames are copied
  (as stored, no recompression) into new packs whose indexes are written, then the old index
  and pack are deleted, so every named blob is in some indexed pack at every instant;
- deletes packs that no index names (left by an upload killed between a pack and its index);
- removes partial writes killed uploads left (the store's ``clean``: tmp/ files, multipart uploads).
A blob packed twice (two uploads that raced) counts as used in one pack, unused in the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup import packs
from fcrctl.services.backup.stores.base import BackupStore

DEFAULT_MAX_UNUSED = 5.0


@dataclass
class SpaceReport:
    blobs_deleted: int = 0
    packs_deleted: int = 0
    packs_repacked: int = 0
    bytes_freed: int = 0
    unreferenced_blobs: int = 0  # what verify reports: unused, still stored
    unreferenced_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def referenced(store: BackupStore) -> set[str]:
    """Every digest some manifest of the store names (its files and its index blobs)."""
    from fcrctl.services.backup.manifest.downloads import iter_entries
    from fcrctl.services.backup.manifest.reading import list_store, read_manifest
    from fcrctl.services.backup.snapshot import INDEX_BLOBS

    keep: set[str] = set()
    for other in list_store(store):
        _, objs = read_manifest(store, other.id)
        for e, _where in iter_entries(objs):
            if e.digest:
                keep.add(e.digest)
        keep.update(str(other.extra[key]) for key, _ in INDEX_BLOBS if other.extra.get(key))
    return keep


def _indexes(store: BackupStore) -> Iterator[tuple[str, list[tuple[str, int, int]]]]:
    for key in list(store.list("index/")):
        try:
            with store.get(key) as fh:
                doc = json.load(fh)
            yield str(doc["pack"]), [(str(d), int(o), int(n)) for d, o, n in doc["blobs"]]
        except FcrctlError:
            continue
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptData(f"pack index {key} in {store.location} is damaged ({e})") from e


def _sizes(store: BackupStore, prefix: str) -> Iterator[tuple[str, int]]:
    sized = getattr(store, "list_sizes", None)
    yield from sized(prefix) if callable(sized) else ((k, 0) for k in store.list(prefix))


def _plan(store: BackupStore, keep: set[str]) -> tuple[list[tuple[str, int]], dict[str, list[tuple[str, int, int]]],
                                                     dict[str, list[tuple[str, int, int]]]]:
    """(unused blob files with sizes, used frames per pack, unused frames per pack)."""
    loose = [(k, n) for k, n in _sizes(store, "blobs/") if k.rsplit("/", 1)[-1] not in keep]
    used: dict[str, list[tuple[str, int, int]]] = {}
    unused: dict[str, list[tuple[str, int, int]]] = {}
    placed: set[str] = set()
    for pack, blobs in _indexes(store):
        used.setdefault(pack, [])
        unused.setdefault(pack, [])
        for digest, offset, length in blobs:
            if digest in keep and digest not in placed:
                placed.add(digest)
                used[pack].append((digest, offset, length))
            else:
                unused[pack].append((digest, offset, length))
    return loose, used, unused


def measure(store: BackupStore, keep: set[str] | None = None) -> SpaceReport:
    """What the store holds that no backup uses (nothing is changed)."""
    keep = referenced(store) if keep is None else keep
    loose, used, unused = _plan(store, keep)
    report = SpaceReport()
    report.unreferenced_blobs = len(loose) + sum(len(v) for v in unused.values())
    report.unreferenced_bytes = sum(n for _, n in loose) + sum(n for v in unused.values() for _, _, n in v)
    indexed = set(used)
    for key, n in _sizes(store, "packs/"):
        if key.rsplit("/", 1)[-1] not in indexed:
            report.unreferenced_bytes += n
    return report


def collect(store: BackupStore, keep: set[str], max_unused: float = DEFAULT_MAX_UNUSED) -> SpaceReport:
    """Free what ``keep`` does not name; the caller holds the store exclusively."""
    report = SpaceReport()
    clean = getattr(store, "clean", None)
    if callable(clean):
        clean()  # partial writes killed uploads left (tmp/ files, multipart uploads)
    loose, used, unused = _plan(store, keep)
    for key, n in loose:
        store.delete(key)
        report.blobs_deleted += 1
        report.bytes_freed += n
    repack = []
    for pack in list(used):
        free = sum(n for _, _, n in unused[pack])
        total = free + sum(n for _, _, n in used[pack])
        if not used[pack]:
            _drop(store, pack)
            report.packs_deleted += 1
            report.bytes_freed += free
        elif free and free * 100 > max_unused * total:
            repack.append(pack)
    if repack:
        packer = packs.Packer(store)
        for pack in repack:
            for digest, offset, length in used[pack]:
                packer.add(digest, store.get_range(packs.pack_key(pack), offset, length))
        packer.close()  # the new packs and their indexes are in: only now may the old ones go
        for pack in repack:
            _drop(store, pack)
            report.packs_repacked += 1
            report.bytes_freed += sum(n for _, _, n in unused[pack])
    indexed = {k[len("index/"):-len(".json")] for k in store.list("index/")}
    for key, n in list(_sizes(store, "packs/")):
        if key.rsplit("/", 1)[-1] not in indexed:
            store.delete(key)
            report.packs_deleted += 1
            report.bytes_freed += n
    packs.forget(store)
    return report


def _drop(store: BackupStore, pack: str) -> None:
    store.delete(packs.index_key(pack))  # first: an index never names a missing pack
    store.delete(packs.pack_key(pack))
