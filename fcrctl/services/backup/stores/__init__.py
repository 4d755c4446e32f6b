"""Backup stores, picked by URL scheme and imported lazily (as open_repository does).

    store = open_store("/mnt/backups")               # or file:///mnt/backups
    store = open_store("s3://bucket/prefix")         # stores/s3.py (boto3)
    store = open_store("azure://container/prefix")   # stores/azure.py (azure-storage-blob)
    store = open_store("https://host/dav/backups")   # stores/webdav.py (requests; http:// on loopback only)

Any other ``NAME://`` is refused: a store an operator believes is off the machine must never
quietly become a local directory named ``NAME:``.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from fcrctl.errors import BadInput
from fcrctl.services.backup.stores.base import BackupStore, StoreCapabilities

__all__ = ["BackupStore", "StoreCapabilities", "open_store", "STORES", "scheme_of"]

# scheme -> "module:Class"; each class has a classmethod open(url, *, create, **options)
STORES: dict[str, str] = {
    "file": "fcrctl.services.backup.stores.directory:DirectoryStore",
    "s3": "fcrctl.services.backup.stores.s3:S3Store",
    "azure": "fcrctl.services.backup.stores.azure:AzureStore",
    "https": "fcrctl.services.backup.stores.webdav:WebDavStore",
    "http": "fcrctl.services.backup.stores.webdav:WebDavStore",
}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def scheme_of(url: str) -> str:
    """The store kind a URL names: its scheme, or ``file`` for a plain path."""
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else "file"


def open_store(url: str, *, create: bool = False, **options: Any) -> BackupStore:
    scheme = scheme_of(url)
    spec = STORES.get(scheme)
    if spec is None:
        known = ", ".join(f"{s}://" for s in sorted(STORES))
        raise BadInput(f"unknown backup store scheme {scheme}://: use one of {known} or a directory path")
    module_name, _, class_name = spec.partition(":")
    store_class = getattr(importlib.import_module(module_name), class_name)
    return store_class.open(url, create=create, **options)
