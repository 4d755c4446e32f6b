"""Backup stores, picked by URL scheme and imported lazily (as open_repository does).

    store = open_store("/mnt/backups")        # or file:///mnt/backups
    store = open_store("s3://bucket/prefix")  # later: fcrctl.services.backup.stores.s3
"""

from __future__ import annotations

import importlib
from typing import Any

from fcrctl.errors import BadInput
from fcrctl.services.backup.stores.base import BackupStore, StoreCapabilities

__all__ = ["BackupStore", "StoreCapabilities", "open_store", "STORES"]

# scheme -> "module:Class"; each class has a classmethod open(url, *, create, **options)
STORES: dict[str, str] = {
    "file": "fcrctl.services.backup.stores.directory:DirectoryStore",
}


def open_store(url: str, *, create: bool = False, **options: Any) -> BackupStore:
    head, sep, _ = url.partition("://")
    scheme = head.lower() if sep and head.isalpha() else "file"
    spec = STORES.get(scheme)
    if spec is None:
        known = ", ".join(sorted(STORES))
        raise BadInput(f"unknown backup store scheme {scheme!r}: use a directory path (stores known: {known})")
    module_name, _, class_name = spec.partition(":")
    store_class = getattr(importlib.import_module(module_name), class_name)
    return store_class.open(url, create=create, **options)
