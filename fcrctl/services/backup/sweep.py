"""Freeing what deleted backups held: by candidates when the reference cache can be trusted, else
by the full mark (space.py) of every remaining manifest.

The candidates are the digests the removed manifests' own lines (and their index blobs) name:
nothing else can have lost its last name by their removal (a fold only adds lines to the
successor it rewrites). Each is freed only if no remaining manifest names it, asked of the cache
(refcache.py), whose entries for manifests uploaded since its last use are built first by reading
them. So a prune costs what the removed backups name plus what was uploaded since, not objects x
backups. What a candidate sweep does not free, the full sweep (``--full-sweep``) does: blobs of
killed uploads that no manifest ever named, and pack space left unused by earlier sweeps below
``--max-unused`` (a candidate sweep counts only this sweep's candidates as a pack's unused space).
"""

from __future__ import annotations

import json
import re

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup import packs, space
from fcrctl.services.backup.manifest.chain import read_head
from fcrctl.services.backup.refcache import RefCache, Refs, prefix
from fcrctl.services.backup.snapshot import INDEX_BLOBS, BackupInfo
from fcrctl.services.backup.stores.base import BackupStore

_DIGEST = re.compile(r"[0-9a-f]{128}")


def candidates(store: BackupStore, cache: RefCache | None, removing: list[BackupInfo],
               full_sweep: bool) -> tuple[set[str], set[str]] | None:
    """(removed ids, candidate digests) for :func:`sweep`, recorded as pending before any manifest
    goes; None: the full sweep (asked for, no cache yet, or a removed manifest unreadable)."""
    if full_sweep or cache is None or not cache.exists():
        return None
    pending = cache.pending()
    if pending is None:
        return None
    ids, digests = pending
    for info in removing:
        if read_head(store, info.id).base is None:
            return None  # a full manifest names every object: the mark costs no more, and frees more
        try:
            space._scan(store, info.id, digests)
        except FcrctlError:
            return None  # what it named is unknown: only the mark can tell what is free
        digests.update(_index_blobs(info))
        ids.add(info.id)
    cache.set_pending(ids, digests)
    return ids, digests


def sweep(store: BackupStore, cache: RefCache | None, found: tuple[set[str], set[str]] | None,
          max_unused: float) -> space.SpaceReport:
    """Free what the removed manifests (already deleted) held; the caller holds the store exclusively."""
    if cache is not None and found is not None:
        report = _by_candidates(store, cache, *found, max_unused)
        if report is not None:
            cache.clear_pending()
            return report
    seen: set[tuple[str, str]] = set()

    def each(backup_id: str, lines_sha256: str, digests: set[str]) -> None:
        assert cache is not None
        cache.put_manifest(backup_id, lines_sha256, digests)
        seen.add((backup_id, lines_sha256))

    keep = space.referenced(store, each if cache is not None else None)
    partial: set[str] = set()
    report = space.collect(store, keep, max_unused, partial)
    if cache is not None:
        cache.retain(seen, None)
        cache.set_partial(partial)
        cache.clear_pending()
    return report


def _index_blobs(info: BackupInfo) -> set[str]:
    return {str(info.extra[key]) for key, _ in INDEX_BLOBS if info.extra.get(key)}


def _by_candidates(store: BackupStore, cache: RefCache, removed: set[str], digests: set[str],
                   max_unused: float) -> space.SpaceReport | None:
    """None when the cache is doubtful: the caller marks every manifest instead."""
    entries: list[Refs] = []
    live: set[str] = set()  # the remaining backups' index blobs, named by their headers
    present: set[tuple[str, str]] = set()
    for key in store.list("manifests/"):
        name = key.rsplit("/", 1)[-1]
        if not name.endswith(".jsonl.zst"):
            continue
        try:  # as list_store and the full mark: a manifest whose header is unreadable names nothing
            link = read_head(store, name[: -len(".jsonl.zst")])
        except FcrctlError:
            continue
        sha = link.lines_sha256
        if sha is None:
            return None  # format 1: nothing keys its entry
        live |= _index_blobs(BackupInfo.from_json(link.head["backup"]))
        refs = cache.manifest(link.id, sha)
        if refs is None:
            own: set[str] = set()
            if space._scan(store, link.id, own) != sha:
                return None
            refs = cache.put_manifest(link.id, sha, own)
        entries.append(refs)
        present.add((link.id, sha))
    ids = {bid for bid, _ in present}
    if any(bid not in ids and bid not in removed for bid in cache.manifests().values()):
        return None  # a manifest went that no delete of this cache removed: its blobs are unknown
    keys = {prefix(d) for d in digests if d not in live and _DIGEST.fullmatch(d)}
    for refs in entries:
        refs.discard_from(keys)
    dead = {d for d in digests if d not in live and _DIGEST.fullmatch(d) and prefix(d) in keys}
    report = space.SpaceReport()
    clean = getattr(store, "clean", None)
    if callable(clean):
        clean()
    for folder in sorted({d[:2] for d in dead}):
        for key, n in list(space._sizes(store, f"blobs/{folder}/")):
            if key.rsplit("/", 1)[-1] in dead:
                store.delete(key)
                report.blobs_deleted += 1
                report.bytes_freed += n
    _packs(store, cache, dead, keys, entries, live, max_unused, report)
    cache.retain(present, {k[len("index/"):-len(".json")] for k in store.list("index/")})
    return report


def _packs(store: BackupStore, cache: RefCache, dead: set[str], keys: set[int], entries: list[Refs],
           live: set[str], max_unused: float, report: space.SpaceReport) -> None:
    """Drop the packs whose frames are all dead, repack those more than ``max_unused`` percent dead,
    delete packs no index names. The packs holding a candidate have all their frames looked up:
    what earlier sweeps left unused in them counts too."""
    touched: list[tuple[str, list[tuple[str, int, int]]]] = []
    indexed = [k[len("index/"):-len(".json")] for k in store.list("index/")]
    partial = cache.partial()
    for pack in indexed:
        refs = cache.pack(pack)
        blobs = None
        if refs is None:
            blobs = _index(store, pack)
            if blobs is None:
                continue
            refs = cache.put_pack(pack, [d for d, _, _ in blobs])
        if pack not in partial and (not keys or not refs.meets(keys)):
            continue
        blobs = blobs if blobs is not None else _index(store, pack)
        if blobs is not None:
            touched.append((pack, blobs))
    others = {prefix(d) for _, blobs in touched for d, _, _ in blobs if d not in dead and d not in live}
    for refs in entries:
        refs.discard_from(others)
    repack: list[tuple[str, list[tuple[str, int, int]], int]] = []
    left = partial - {pack for pack, _ in touched}
    for pack, blobs in touched:
        unnamed = {d for d, _, _ in blobs if d in dead or (d not in live and prefix(d) in others)}
        used = [b for b in blobs if b[0] not in unnamed]
        free = sum(n for d, _, n in blobs if d in unnamed)
        total = free + sum(n for _, _, n in used)
        if not used:
            space._drop(store, pack)
            report.packs_deleted += 1
            report.bytes_freed += free
        elif free and free * 100 > max_unused * total:
            repack.append((pack, used, free))
        elif free:
            left.add(pack)
    if repack:
        packer = packs.Packer(store)
        for pack, used, _ in repack:
            for digest, offset, length in used:
                packer.add(digest, store.get_range(packs.pack_key(pack), offset, length))
        packer.close()  # the new packs and their indexes are in: only now may the old ones go
        for pack, _, free in repack:
            space._drop(store, pack)
            report.packs_repacked += 1
            report.bytes_freed += free
    now = {k[len("index/"):-len(".json")] for k in store.list("index/")}
    cache.set_partial(left & now)
    for key, n in list(space._sizes(store, "packs/")):
        if key.rsplit("/", 1)[-1] not in now:
            store.delete(key)
            report.packs_deleted += 1
            report.bytes_freed += n
    packs.forget(store)


def _index(store: BackupStore, pack: str) -> list[tuple[str, int, int]] | None:
    key = packs.index_key(pack)
    try:
        with store.get(key) as fh:
            doc = json.load(fh)
        return [(str(d), int(o), int(n)) for d, o, n in doc["blobs"]]
    except FcrctlError:
        return None  # deleted meanwhile
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptData(f"pack index {key} in {store.location} is damaged ({e})") from e
