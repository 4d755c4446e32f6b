"""`fcrctl check`: validate a local repository as a whole (restic's `check`, for OCFL).

Each object: namaste, inventory and sidecar, version sequence, version inventories, the head
version's inventory equal to the root one, every manifest file present (and, with
``read_data``, its sha512), no stray content files. Each resource: headers JSON well formed
and consistent with the inventory (content present, sha512 agreeing). Across the repository:
every resource's parent exists, and the index agrees with the OCFL root.
Problems are collected, never raised: one run reports all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.repository.base import Problem
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Index


@dataclass
class _Resource:
    parent: str | None
    deleted: bool
    state_token: str | None
    trusted: bool  # False when its object failed inventory checks: the index rightly skips it


def check_storage_root(
    root: Path, index: Index | None, *, read_data: bool = False, on_object: Callable[[], None] | None = None
) -> Iterator[Problem]:
    """Yield every problem found under ``root`` (and between it and ``index``)."""
    resources: dict[str, _Resource] = {}
    for obj in ocfl.iter_object_dirs(root):
        yield from _check_object(root, obj, resources, read_data)
        if on_object is not None:
            on_object()
    for rid, res in sorted(resources.items()):
        if res.parent is None or res.deleted:
            continue
        parent = resources.get(res.parent)
        if parent is None:
            yield Problem(_path(rid), f"parent {_path(res.parent)} does not exist")
        elif parent.deleted:
            yield Problem(_path(rid), f"parent {_path(res.parent)} is deleted but this resource is not")
    if index is not None:
        yield from _check_index(index, resources)


def _path(resource_id: str) -> str:
    return resource_id[len("info:fedora") :] or "/"


def _check_object(root: Path, obj: Path, resources: dict[str, _Resource], read_data: bool) -> Iterator[Problem]:
    where = obj.relative_to(root).as_posix()
    if not any(name.startswith("0=ocfl_object_1.") for name in os.listdir(obj)):
        yield Problem(where, "object declaration 0=ocfl_object_1.x is missing")
    trusted = True
    try:
        inventory = ocfl.read_inventory(obj)
    except CorruptData as exc:
        trusted = False
        try:  # a wrong sidecar still leaves a readable inventory: keep checking the rest
            inventory = ocfl.read_inventory(obj, check_sidecar=False)
        except CorruptData:
            yield Problem(where, exc.message)
            return
        yield Problem(_where(inventory, where), exc.message)
    where = _where(inventory, where)
    if ocfl.object_rel(inventory["id"]) != obj.relative_to(root).as_posix():
        yield Problem(where, f"object is stored at {obj.relative_to(root)}, not where its id hashes to")
    yield from _check_versions(obj, inventory, where)
    yield from _check_files(obj, inventory, where, read_data)
    yield from _check_headers(obj, inventory, where, resources, trusted)


def _where(inventory: dict, fallback: str) -> str:
    identifier = str(inventory["id"])
    return _path(identifier) if identifier.startswith("info:fedora") else fallback


def _check_versions(obj: Path, inventory: dict, where: str) -> Iterator[Problem]:
    names = list(inventory["versions"])
    expected = [f"v{n}" for n in range(1, len(names) + 1)]
    if sorted(names, key=ocfl.version_number) != expected:
        yield Problem(where, f"version sequence {names} is not v1..v{len(names)}")
    if inventory["head"] != (expected[-1] if expected else None):
        yield Problem(where, f"head {inventory['head']} is not the last version {expected[-1] if expected else ''}")
    for name in names:
        if not (obj / name).is_dir():
            yield Problem(where, f"version directory {name} is missing")
    head_inventory = obj / inventory["head"] / ocfl.INVENTORY
    try:
        if head_inventory.read_bytes() != (obj / ocfl.INVENTORY).read_bytes():
            yield Problem(where, f"inventory of {inventory['head']} differs from the root inventory")
    except OSError:
        yield Problem(where, f"inventory of {inventory['head']} is missing")
    extra = sorted(
        e.name for e in os.scandir(obj) if e.is_dir() and e.name not in inventory["versions"] and e.name != "extensions"
    )
    for name in extra:
        yield Problem(where, f"unexpected directory {name} in the object root")


def _check_files(obj: Path, inventory: dict, where: str, read_data: bool) -> Iterator[Problem]:
    listed: set[str] = set()
    for digest, content_paths in inventory["manifest"].items():
        for rel in content_paths:
            listed.add(rel)
            file = obj / rel
            if not file.is_file():
                yield Problem(where, f"content file {rel} is missing")
            elif read_data and _sha512(file) != digest.lower():
                yield Problem(where, f"content file {rel} does not match its sha512 in the inventory")
    for version in inventory["versions"]:
        content = obj / version / inventory.get("contentDirectory", "content")
        for dirpath, _, files in os.walk(content):
            for name in files:
                rel = (Path(dirpath) / name).relative_to(obj).as_posix()
                if rel not in listed:
                    yield Problem(where, f"content file {rel} is not in the manifest")


def _check_headers(
    obj: Path, inventory: dict, where: str, resources: dict[str, _Resource], trusted: bool
) -> Iterator[Problem]:
    files = ocfl.state_files(inventory)
    digests = ocfl.state_digests(inventory)
    for logical, rel in sorted(files.items()):
        if not (logical.startswith(".fcrepo/") and logical.endswith(".json")):
            continue
        try:
            headers = json.loads((obj / rel).read_bytes())
        except (OSError, ValueError) as exc:
            yield Problem(where, f"headers {logical} are not readable JSON: {exc}")
            continue
        if not isinstance(headers, dict) or "id" not in headers or "interactionModel" not in headers:
            yield Problem(where, f"headers {logical} lack id or interactionModel")
            continue
        if hdr.is_description(headers) or hdr.is_acl(headers):
            continue
        rid = headers["id"]
        resources[rid] = _Resource(
            headers.get("parent"), bool(headers.get("deleted")), headers.get("stateToken"), trusted
        )
        if headers.get("deleted"):
            continue
        content = headers.get("contentPath")
        if content and content not in files and not headers.get("externalUrl"):
            yield Problem(_path(rid), f"headers name content {content} that the inventory does not hold")
        stored = hdr.parse_digests(headers.get("digests")).get("sha512")
        binary = headers.get("interactionModel", "").endswith("NonRDFSource")
        if binary and content in digests and stored and stored != digests[content].lower():
            yield Problem(_path(rid), "sha512 in the headers differs from the inventory's")


def _check_index(index: Index, resources: dict[str, _Resource]) -> Iterator[Problem]:
    indexed: dict[str, tuple[bool, str | None]] = {}
    for row in index.all_rows():
        indexed[row.path] = (row.deleted, row.headers.get("stateToken"))
    stale = 0
    for rid, res in resources.items():
        found = indexed.pop(_path(rid), None)
        if res.trusted and found != (res.deleted, res.state_token):
            stale += 1
    stale += len(indexed)
    if stale:
        yield Problem("index", f"the index disagrees with the OCFL root on {stale} resources: run `fcrctl reindex`")


def _sha512(file: Path) -> str:
    digest = hashlib.sha512()
    with open(file, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
