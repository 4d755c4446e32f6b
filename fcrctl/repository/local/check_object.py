"""`fcrctl check`'s checks of one OCFL object: declaration, inventory, versions, headers, content

Each object: namaste, inventory and sidecar, version sequence, the head version's inventory
equal to the root one, every manifest file present (and, with ``read_data``, its sha512), no
stray content files. Each resource: headers JSON well formed and consistent with the
inventory (content present, sha512 agreeing).

This runs once per object of a repository (10,000s): it works on plain strings and os calls,
reads each small file once, and lists each directory once, because pathlib and buffered file
objects cost more here than the syscalls themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from fcrctl.repository.base import Problem
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.check_hashing import Hashing

_INVENTORY = ocfl.INVENTORY
_SIDECAR = ocfl.SIDECAR


@dataclass
class Resource:
    parent: str | None
    deleted: bool
    state_token: str | None
    trusted: bool  # False when its object failed inventory checks: the index rightly skips it


class _Corrupt(Exception):
    """An inventory that cannot be used; its message is the problem to report."""


def path_of(resource_id: str) -> str:
    return resource_id[len("info:fedora") :] or "/"


def check_object(
    obj: str, rel: str, entries: dict[str, bool], resources: dict[str, Resource], hashing: Hashing | None,
    head: str | None = None, servable: bool = True,
) -> Iterator[Problem]:
    where = rel
    if not any(name.startswith("0=ocfl_object_1.") for name in entries):
        yield Problem(where, "object declaration 0=ocfl_object_1.x is missing")
    try:
        data, stat, inventory, sidecar_error = _read_inventory(f"{obj}/{head}" if head else obj)
    except _Corrupt as exc:
        yield Problem(where, str(exc))
        return
    trusted = sidecar_error is None
    try:
        where = _where(inventory, where)
        if sidecar_error is not None:  # a wrong sidecar still leaves a readable inventory: keep checking
            yield Problem(where, sidecar_error)
        if ocfl.object_rel(inventory["id"]) != rel:
            yield Problem(where, f"object is stored at {rel}, not where its id hashes to")
        yield from _check_versions(obj, entries, inventory, data, stat, where)
        header_problems: list[Problem] = []
        hashed = _check_headers(obj, inventory, where, resources, trusted, hashing is not None, header_problems,
                                servable)
        yield from _check_files(obj, inventory, where, hashing, hashed)
        yield from header_problems
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        yield Problem(where, f"inventory is malformed ({type(exc).__name__}: {exc}): check it against the OCFL spec")


def _read_inventory(obj: str) -> tuple[bytes, os.stat_result, dict, str | None]:
    """(bytes, stat, parsed inventory, sidecar problem or None); _Corrupt when unusable.
    Same rules and messages as ocfl.read_inventory, reading the file once."""
    inv_path = f"{obj}/{_INVENTORY}"
    try:
        data, stat = ocfl.read_small(inv_path)
    except OSError as e:
        raise _Corrupt(f"cannot read {inv_path}: {e.strerror}") from e
    sidecar_error = None
    try:
        recorded = ocfl.read_small(f"{obj}/{_SIDECAR}")[0].decode("utf-8").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError):
        sidecar_error = f"missing or empty inventory sidecar in {obj}"
    else:
        actual = hashlib.sha512(data).hexdigest()
        if actual != recorded:
            sidecar_error = (
                f"inventory digest mismatch in {obj}: sidecar says {recorded[:16]}…, file is {actual[:16]}…"
            )
    try:
        inventory = json.loads(data)
    except ValueError as e:
        raise _Corrupt(sidecar_error or f"inventory {inv_path} is not valid JSON: {e}") from e
    if not isinstance(inventory, dict):
        raise _Corrupt(sidecar_error or f"inventory {inv_path} is not a JSON object")
    for key in ("id", "head", "manifest", "versions"):
        if key not in inventory:
            raise _Corrupt(sidecar_error or f"inventory {inv_path} lacks {key!r}")
    return data, stat, inventory, sidecar_error


def _where(inventory: dict, fallback: str) -> str:
    identifier = str(inventory["id"])
    return path_of(identifier) if identifier.startswith("info:fedora") else fallback


def _check_versions(
    obj: str, entries: dict[str, bool], inventory: dict, data: bytes, stat: os.stat_result, where: str
) -> Iterator[Problem]:
    versions = inventory["versions"]
    names = list(versions)
    expected = [f"v{n}" for n in range(1, len(names) + 1)]
    if sorted(names, key=ocfl.version_number) != expected:
        yield Problem(where, f"version sequence {names} is not v1..v{len(names)}")
    head = inventory["head"]
    if head != (expected[-1] if expected else None):
        yield Problem(where, f"head {head} is not the last version {expected[-1] if expected else ''}")
    for name in names:
        if not entries.get(name):
            yield Problem(where, f"version directory {name} is missing")
    yield from _check_head_inventory(f"{obj}/{head}/{_INVENTORY}", data, stat, head, where)
    for name in sorted(name for name, is_dir in entries.items() if is_dir and name not in versions):
        if name != "extensions":
            yield Problem(where, f"unexpected directory {name} in the object root")


def _check_head_inventory(path: str, data: bytes, stat: os.stat_result, head: str, where: str) -> Iterator[Problem]:
    try:
        head_stat = os.stat(path)
        # fcrctl hard-links the head inventory to the root one: the same inode holds the same
        # bytes, so only a separate file (Fedora writes two) needs reading and comparing
        if (head_stat.st_ino, head_stat.st_dev) == (stat.st_ino, stat.st_dev):
            return
        same = ocfl.read_small(path)[0] == data
    except OSError:
        yield Problem(where, f"inventory of {head} is missing")
        return
    if not same:
        yield Problem(where, f"inventory of {head} differs from the root inventory")


def _check_headers(
    obj: str,
    inventory: dict,
    where: str,
    resources: dict[str, Resource],
    trusted: bool,
    read_data: bool,
    problems: list[Problem],
    servable: bool = True,
) -> dict[str, str]:
    """Check the head version's headers JSON into ``problems``; returns {content path: sha512}
    of the headers files it read and (with read_data) hashed, so they are not read again."""
    head = inventory["head"]
    manifest = inventory["manifest"]
    content_of: dict[str, str] = {digest: paths[0] for digest, paths in manifest.items()}
    hashed: dict[str, str] = {}
    found: list[tuple[str, str, str]] = []  # (logical, content path, digest)
    for digest, logicals in inventory["versions"][head]["state"].items():
        for logical in logicals:
            found.append((logical, content_of[digest], digest))
    files = {logical: rel for logical, rel, _ in found}
    digests = {logical: digest for logical, _, digest in found}
    for logical, rel, _digest in sorted(found):
        if not (logical.startswith(".fcrepo/") and logical.endswith(".json")):
            continue
        try:
            raw = ocfl.read_small(f"{obj}/{rel}")[0]
            if read_data:
                hashed[rel] = hashlib.sha512(raw).hexdigest()
            headers = json.loads(raw)
        except (OSError, ValueError) as exc:
            problems.append(Problem(where, f"headers {logical} are not readable JSON: {exc}"))
            continue
        if not isinstance(headers, dict) or "id" not in headers or "interactionModel" not in headers:
            problems.append(Problem(where, f"headers {logical} lack id or interactionModel"))
            continue
        if read_data and servable and not headers.get("deleted") and headers.get("contentPath") in files \
                and not headers["interactionModel"].endswith("#NonRDFSource"):
            unreadable = _unreadable_rdf(f"{obj}/{files[headers['contentPath']]}")
            if unreadable:
                problems.append(Problem(path_of(str(headers["id"])), f"its triples cannot be served: {unreadable}"))
        if hdr.is_acl(headers):
            if not headers.get("deleted"):
                problems.extend(_check_acl(obj, headers, files, digests, where))
            continue
        if hdr.is_description(headers):
            continue
        rid = headers["id"]
        deleted = bool(headers.get("deleted"))
        resources[rid] = Resource(headers.get("parent"), deleted, headers.get("stateToken"), trusted)
        if deleted:
            continue
        content = headers.get("contentPath")
        if content and content not in files and not headers.get("externalUrl"):
            problems.append(Problem(path_of(rid), f"headers name content {content} that the inventory does not hold"))
        stored = hdr.parse_digests(headers.get("digests")).get("sha512")
        binary = headers.get("interactionModel", "").endswith("NonRDFSource")
        if binary and content in digests and stored and stored != digests[content].lower():
            problems.append(Problem(path_of(rid), "sha512 in the headers differs from the inventory's"))
    return hashed


def _unreadable_rdf(file: str) -> str | None:
    """Why the stored N-Triples in ``file`` cannot be read back and served, or None (older
    versions accepted bodies, such as N3 formulas, that no GET could then serve)."""
    from fcrctl import rdf
    from fcrctl.errors import BadInput

    try:
        rdf.check_storable(rdf.read_ntriples(ocfl.read_small(file)[0]), "stored N-Triples")
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    except BadInput as exc:
        return exc.message
    return None


def _check_acl(obj: str, headers: dict, files: dict[str, str], digests: dict[str, str], where: str
               ) -> Iterator[Problem]:
    """An ACL's headers against its content (path, size, sha512) and its content as RDF."""
    from fcrctl import rdf
    from fcrctl.errors import BadInput

    rid = str(headers["id"])[: -len("/fcr:acl")]
    content = headers.get("contentPath")
    if not content or content not in files:
        yield Problem(path_of(rid), f"ACL headers name content {content} that the inventory does not hold")
        return
    try:
        data = ocfl.read_small(f"{obj}/{files[content]}")[0]
    except OSError as exc:
        yield Problem(path_of(rid), f"ACL content {content} is unreadable: {exc.strerror or exc}")
        return
    if headers.get("contentSize") not in (None, len(data)):
        yield Problem(path_of(rid), f"ACL content {content} has {len(data)} bytes, its headers say "
                                  f"{headers.get('contentSize')}")
    stored = hdr.parse_digests(headers.get("digests")).get("sha512")
    if stored and stored != digests[content].lower():
        yield Problem(path_of(rid), "sha512 in the ACL headers differs from the inventory's")
    try:
        rdf.read_ntriples(data)
    except (BadInput, ValueError) as exc:
        yield Problem(path_of(rid), f"ACL content {content} is not N-Triples: {getattr(exc, 'message', exc)}")


def _check_files(
    obj: str, inventory: dict, where: str, hashing: Hashing | None, hashed: dict[str, str]
) -> Iterator[Problem]:
    present: set[str] = set()  # one listing of the content dirs instead of a stat per manifest path
    content_dir = inventory.get("contentDirectory", "content")
    for version in inventory["versions"]:
        _list_files(obj, f"{version}/{content_dir}", present)
    listed: set[str] = set()
    to_hash: list[tuple[str, str]] = []
    for digest, content_paths in inventory["manifest"].items():
        for rel in content_paths:
            listed.add(rel)
            if rel not in present and not os.path.isfile(f"{obj}/{rel}"):
                yield Problem(where, f"content file {rel} is missing")
            elif hashing is not None:
                done = hashed.get(rel)
                if done is None:
                    to_hash.append((rel, digest.lower()))
                elif done != digest.lower():
                    yield Problem(where, f"content file {rel} does not match its sha512 in the inventory")
    for rel in sorted(present - listed):
        yield Problem(where, f"content file {rel} is not in the manifest")
    if hashing is not None and to_hash:
        hashing.submit(obj, where, to_hash)


def _list_files(obj: str, rel_dir: str, into: set[str]) -> None:
    try:
        with os.scandir(f"{obj}/{rel_dir}") as it:
            entries = [(e.name, e.is_dir()) for e in it]
    except OSError:
        return
    for name, is_dir in entries:
        if is_dir:
            _list_files(obj, f"{rel_dir}/{name}", into)
        else:
            into.add(f"{rel_dir}/{name}")
