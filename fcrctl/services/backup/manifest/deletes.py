"""Deleting backups from a store, and the store lock that uploads share and deletes own"""

from __future__ import annotations

import contextlib
import re
from contextlib import AbstractContextManager
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.services.backup.manifest import chain, retired
from fcrctl.services.backup.manifest.format import VERSION, manifest_key, retired_key
from fcrctl.services.backup.manifest.writer import ManifestWriter
from fcrctl.services.backup.snapshot import (
    BackupInfo,
)
from fcrctl.services.backup.stores.base import BackupStore


def store_lock(store: BackupStore, *, exclusive: bool) -> AbstractContextManager[None]:
    """The store's lock, if it has one (a directory store): uploads share it, deletes own it."""
    lock = getattr(store, "lock", None)
    return lock(exclusive=exclusive) if callable(lock) else contextlib.nullcontext()



def delete_from_store(store: BackupStore, *backup_ids: str, max_unused: float | None = None,
                      home: Path | None = None, full_sweep: bool = False) -> list[BackupInfo]:
    """Remove backups' manifests (retire those of them that remaining backups are built on:
    retired.py), then every blob no remaining manifest names, repacking packs
    more than ``max_unused`` percent unused (see space.py), waiting for uploads running
    meanwhile: they may reuse blobs only a deleted manifest named. ``home``: the backups
    directory holding the store's reference cache (sweep.py), with which only what the removed
    manifests named is looked at; without one, or ``full_sweep``, every remaining manifest is read."""
    with store_lock(store, exclusive=True):
        return _delete_from_store(store, backup_ids, max_unused, home, full_sweep)


def _delete_from_store(store: BackupStore, backup_ids: tuple[str, ...], max_unused: float | None,
                       home: Path | None, full_sweep: bool) -> list[BackupInfo]:
    from fcrctl.services.backup import space, sweep
    from fcrctl.services.backup.refcache import RefCache

    for backup_id in backup_ids:
        chain.read_backup(store, backup_id)  # NotFound for a missing or retired one: nothing is changed
    found = retired.survey(store)
    heads = found.heads
    deleted = [BackupInfo.from_json(heads[backup_id].head["backup"]) for backup_id in backup_ids]
    removing = set(backup_ids)
    needed = found.needed(found.live() - removing)  # what the backups that stay are built on
    # a chain's full manifest that a backup staying is built on is retired (one put), not removed;
    # a removed delta's successor is rewritten first, on the nearest base that stays or is retired,
    # so that it no longer needs it: every manifest that stays is whole at every step (a kill
    # between any two leaves all of them restorable; the removed ones go once none is a base)
    retiring = {backup_id for backup_id in removing if backup_id in needed and heads[backup_id].base is None
                and heads[backup_id].chained and heads[backup_id].lines_sha256}  # (else no base: fold says so)
    folding = removing - retiring
    for successor in _successors(heads, folding):
        fold(store, successor, folding)
    for backup_id in sorted(retiring):
        retired.retire(store, heads[backup_id])
    dropping = sorted(found.retired - needed)  # retired, and the last backup built on it goes (or went)
    gone = [backup_id for backup_id in backup_ids if backup_id not in retiring] + dropping
    cache = RefCache.of(home, store.location)
    freed = sweep.candidates(store, cache, [BackupInfo.from_json(heads[b].head["backup"]) for b in gone],
                             full_sweep)  # recorded before any manifest goes
    for backup_id in gone:
        store.delete(manifest_key(backup_id))
    for key in [retired_key(b, str(heads[b].lines_sha256)) for b in dropping] + found.stale:
        store.delete(key)  # after its manifest: a kill between leaves a marker that retires nothing
    if gone or full_sweep or (freed is not None and freed[0]):
        sweep.sweep(store, cache, freed, space.DEFAULT_MAX_UNUSED if max_unused is None else max_unused)
    elif callable(clean := getattr(store, "clean", None)):  # a retirement alone frees nothing but
        clean()  # what killed uploads left half-written, as every prune does
    return deleted


def _successors(heads: dict[str, chain.Link], removing: set[str]) -> list[chain.Link]:
    """The manifests that stay and are stored as changes to one that goes."""
    return [link for backup_id, link in sorted(heads.items())
            if backup_id not in removing and link.base is not None and link.base["id"] in removing]


def fold(store: BackupStore, successor: chain.Link, removing: set[str]) -> None:
    """Rewrite ``successor`` as the changes since its nearest base that stays (its lines merged
    with those of the removed bases between: what they changed that it did not), or whole when
    none stays (a delete retires a chain's full manifest while a backup is built on it: one
    stays). O(the merged deltas). Its old lines' sha256
    is kept in ``was``: manifests built on it name it."""
    try:
        links = chain.resolve(store, successor.id)
    except CorruptData as e:
        raise CorruptData(f"backup {successor.id} is stored as changes to a backup being deleted, and cannot be "
                          f"rewritten without it: {e.message}; nothing was deleted") from None
    cut = 1
    while cut < len(links) and links[cut].id in removing:
        cut += 1
    kept = links[cut] if cut < len(links) else None
    head = {"format": successor.head["format"], "version": VERSION, "backup": successor.head["backup"]}
    was = successor.head.get("was")
    head["was"] = [*(was if isinstance(was, list) else []), successor.lines_sha256]
    writer = ManifestWriter(head)
    objects = files = 0
    for rel, gone, line in chain.merged(store, links[:cut], keep_gone=kept is not None):
        writer.add_line(line)
        if not gone:
            objects += 1 if rel else 0
            files += _files(line)
    if kept is None:
        writer.header["chain"] = {"depth": 0, "changed": 0, "full": writer.count}
    else:
        writer.header["base"] = {"id": kept.id, "linesSha256": kept.lines_sha256}
        full = kept.chain_field("full") or int(kept.head.get("lines", {}).get("count", 0))
        writer.header["chain"] = {"depth": kept.chain_field("depth") + 1,
                                  "changed": kept.chain_field("changed") + writer.count, "full": full}
    body = writer.finish(objects, files)
    store.put(manifest_key(successor.id), iter([body]))
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()  # durable before any manifest it needed goes


_DIGEST_ENTRY = re.compile(rb'","[0-9a-f]{128}"\]')


def _files(line: bytes) -> int:
    """The file entries of a line as format.line writes it, counted without parsing it (a fold of a
    chain's full manifest passes every line): a quote inside a JSON string is escaped, so these
    byte patterns occur only where an entry's digest or inline text starts. Only the end line's
    count depends on it."""
    return len(_DIGEST_ENTRY.findall(line)) + line.count(b'",null,"')
