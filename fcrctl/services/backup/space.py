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

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import zstandard

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


def referenced(store: BackupStore, each: Callable[[str, str, set[str]], None] | None = None) -> set[str]:
    """Every digest some manifest of the store names (its files and its index blobs), retired ones'
    (manifest/retired.py) too.

    What a delete must keep, so a superset is safe and a subset is not: each manifest is scanned
    for quoted sha512s in C (zstd, a regex) rather than parsed a line at a time in Python, which
    cost prune and verify --from seconds per 100k objects per backup. Its lines are still hashed
    against their ``linesSha256``: a damaged or truncated manifest stops the delete (CorruptData)
    as a parsed one would. ``each(backup_id, lines_sha256, digests)`` is told what each names."""
    from fcrctl.services.backup.manifest.reading import list_store
    from fcrctl.services.backup.snapshot import INDEX_BLOBS

    keep: set[str] = set()
    for other in list_store(store, retired=True):  # a retired manifest is a base: what it names is used
        if each is None:
            _scan(store, other.id, keep)
        else:
            own: set[str] = set()
            each(other.id, _scan(store, other.id, own), own)
            keep |= own
        keep.update(str(other.extra[key]) for key, _ in INDEX_BLOBS if other.extra.get(key))
    return keep


_QUOTED_DIGEST = re.compile(rb'"([0-9a-f]{128})"')
_SCAN_BLOCK = 1 << 20
_LINE_MAX = 64 << 20


def _scan(store: BackupStore, backup_id: str, into: set[str]) -> str:
    """Add the sha512s manifest ``backup_id`` names to ``into``, its lines checked whole; returns
    their sha256."""
    from fcrctl.services.backup import validate
    from fcrctl.services.backup.manifest.format import manifest_key

    hashed = hashlib.sha256()
    with store.get(manifest_key(backup_id)) as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        pending = b""
        header = True
        try:
            while chunk := reader.read(_SCAN_BLOCK):
                pending += chunk
                cut = pending.rfind(b"\n", 0, len(pending) - 1) + 1  # the last whole line waits: it may be the end
                if cut <= 0:
                    if len(pending) > _LINE_MAX:  # a store's data never decides how much is held
                        raise CorruptData(f"manifest of {backup_id} has a line over {_LINE_MAX} bytes: it is damaged")
                    continue
                block, pending = pending[:cut], pending[cut:]
                if header:  # the header line: the backup's metadata, read by list_store
                    block = block[block.index(b"\n") + 1:]
                    header = False
                hashed.update(block)
                into.update(m.decode("ascii") for m in _QUOTED_DIGEST.findall(block))
        except zstandard.ZstdError as e:
            raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e
    try:
        end = json.loads(pending) if pending.endswith(b"\n") and not header else None
    except (ValueError, RecursionError):
        end = None
    if not isinstance(end, dict) or not end.get("end"):
        raise CorruptData(f"manifest of {backup_id} is truncated: upload the backup again")
    if end.get("linesSha256") != hashed.hexdigest():
        raise validate.damaged(backup_id, "its lines do not match their linesSha256")
    return hashed.hexdigest()


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


def collect(store: BackupStore, keep: set[str], max_unused: float = DEFAULT_MAX_UNUSED,
            partial: set[str] | None = None) -> SpaceReport:
    """Free what ``keep`` does not name; the caller holds the store exclusively. ``partial`` gets
    the packs left partly unused (below ``max_unused``)."""
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
        elif free and partial is not None:
            partial.add(pack)
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
