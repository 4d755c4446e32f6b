"""Deleting backups from a store, and the store lock that uploads share and deletes own"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from fcrctl.services.backup.manifest.format import manifest_key
from fcrctl.services.backup.manifest.reading import read_manifest
from fcrctl.services.backup.snapshot import (
    BackupInfo,
)
from fcrctl.services.backup.stores.base import BackupStore


def store_lock(store: BackupStore, *, exclusive: bool) -> AbstractContextManager[None]:
    """The store's lock, if it has one (a directory store): uploads share it, deletes own it."""
    lock = getattr(store, "lock", None)
    return lock(exclusive=exclusive) if callable(lock) else contextlib.nullcontext()



def delete_from_store(store: BackupStore, *backup_ids: str, max_unused: float | None = None) -> list[BackupInfo]:
    """Remove backups' manifests, then every blob no remaining manifest names, repacking packs
    more than ``max_unused`` percent unused (see space.py), waiting for uploads running
    meanwhile: they may reuse blobs only a deleted manifest named. Several at once (a prune)
    read the remaining manifests once, not once per backup."""
    with store_lock(store, exclusive=True):
        return _delete_from_store(store, backup_ids, max_unused)


def _delete_from_store(store: BackupStore, backup_ids: tuple[str, ...], max_unused: float | None) -> list[BackupInfo]:
    from fcrctl.services.backup import space

    deleted = []
    for backup_id in backup_ids:
        info, objects = read_manifest(store, backup_id)
        objects.close()
        deleted.append(info)
    for backup_id in backup_ids:
        store.delete(manifest_key(backup_id))
    space.collect(store, space.referenced(store), space.DEFAULT_MAX_UNUSED if max_unused is None else max_unused)
    return deleted
