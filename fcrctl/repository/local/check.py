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
from concurrent.futures import Future, ThreadPoolExecutor
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
    # Content is hashed on worker threads (hashlib releases the GIL), a batch per object, while
    # this thread checks the structure of the next objects; the window bounds what is queued.
    hashing = _Hashing() if read_data else None
    try:
        for obj in ocfl.iter_object_dirs(root):
            yield from _check_object(root, obj, resources, hashing)
            if hashing is not None:
                yield from hashing.drain(block=False)
            if on_object is not None:
                on_object()
        if hashing is not None:
            yield from hashing.drain(block=True)
    finally:
        if hashing is not None:
            hashing.close()
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


def _check_object(
    root: Path, obj: Path, resources: dict[str, _Resource], hashing: _Hashing | None
) -> Iterator[Problem]:
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
    yield from _check_files(obj, inventory, where, hashing)
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


def _check_files(obj: Path, inventory: dict, where: str, hashing: _Hashing | None) -> Iterator[Problem]:
    base = str(obj)
    present: set[str] = set()  # one walk of the content dirs instead of a stat per manifest path
    for version in inventory["versions"]:
        content = f"{version}/{inventory.get('contentDirectory', 'content')}"
        for dirpath, _, files in os.walk(f"{base}/{content}"):
            rel_dir = content + dirpath[len(base) + 1 + len(content):]
            present.update(f"{rel_dir}/{name}" for name in files)
    listed: set[str] = set()
    to_hash: list[tuple[str, str]] = []
    for digest, content_paths in inventory["manifest"].items():
        for rel in content_paths:
            listed.add(rel)
            if rel not in present and not os.path.isfile(f"{base}/{rel}"):
                yield Problem(where, f"content file {rel} is missing")
            elif hashing is not None:
                to_hash.append((rel, digest.lower()))
    for rel in sorted(present - listed):
        yield Problem(where, f"content file {rel} is not in the manifest")
    if hashing is not None and to_hash:
        hashing.submit(base, where, to_hash)


class _Hashing:
    """Content hashes on a few threads; mismatches come back as problems."""

    def __init__(self) -> None:
        self.jobs = max(2, min(4, os.cpu_count() or 1))
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="fcrctl-check-hash")
        self.pending: list[Future[list[Problem]]] = []

    def submit(self, base: str, where: str, files: list[tuple[str, str]]) -> None:
        self.pending.append(self.pool.submit(_hash_batch, base, where, files))

    def drain(self, *, block: bool) -> Iterator[Problem]:
        # keep at most a few batches per worker queued: bounded memory, workers never idle
        while self.pending and (block or self.pending[0].done() or len(self.pending) > self.jobs * 8):
            yield from self.pending.pop(0).result()

    def close(self) -> None:
        for f in self.pending:
            f.cancel()
        self.pool.shutdown(wait=True)


def _hash_batch(base: str, where: str, files: list[tuple[str, str]]) -> list[Problem]:
    out: list[Problem] = []
    for rel, digest in files:
        try:
            ok = _sha512(f"{base}/{rel}") == digest
        except OSError as exc:
            out.append(Problem(where, f"content file {rel} is unreadable: {exc.strerror}"))
            continue
        if not ok:
            out.append(Problem(where, f"content file {rel} does not match its sha512 in the inventory"))
    return out


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


def _sha512(file: str) -> str:
    digest = hashlib.sha512()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(file, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()
