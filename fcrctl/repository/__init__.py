"""open_repository(target): pick a backend by scheme, importing it lazily (as fsspec does)."""

from __future__ import annotations

import importlib
from typing import Any

from fcrctl.errors import BadInput, Unsupported
from fcrctl.repository.base import Repository

# scheme -> "module:Class"; backends are imported only when used, keeping start-up fast.
BACKENDS: dict[str, str] = {
    "file": "fcrctl.repository.local:LocalRepository",
    "http": "fcrctl.repository.http:HttpRepository",
    "https": "fcrctl.repository.http:HttpRepository",
}


def scheme_of(target: str) -> str:
    head, sep, _ = target.partition("://")
    if sep and head.isalpha():
        return head.lower()
    return "file"


def open_repository(target: str, **options: Any) -> Repository:
    """Open ``target``: a filesystem path (local) or an ``http(s)://`` Fedora REST URL.

    ``tx=ID`` opens the repository inside that transaction (reads see its changes, writes are
    staged until it commits); TransactionGone if it is not open, Unsupported without them."""
    tx = options.pop("tx", None)
    scheme = scheme_of(target)
    spec = BACKENDS.get(scheme)
    if spec is None:
        raise BadInput(f"unknown repository scheme {scheme!r}: use a path or an http(s):// URL")
    module_name, _, class_name = spec.partition(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    if scheme == "file" and target.startswith("file://"):
        target = target[len("file://") :]
    repo = backend.open(target, **options)
    if not tx:
        return repo
    if not repo.capabilities.transactions:
        repo.close()
        raise Unsupported(f"{repo.location} does not support transactions: run without --tx / FCRCTL_TX")
    try:
        return repo.in_transaction(tx, owns_main=True)  # type: ignore[attr-defined]
    except BaseException:
        repo.close()
        raise
