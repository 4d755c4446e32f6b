"""What a backup store says is outside data: every path, digest and id a manifest holds is
checked here before anything is written from it, whatever kind of store it came from.

A manifest line names an object directory and files relative to it (docs/backup-store.md). Each
must stay inside the storage root being rebuilt: relative, no ``..`` or ``.`` segment, no empty
segment, no backslash or NUL, and shaped as OCFL lays files out (an object holds its NAMASTE
file, inventories and sidecars, ``v<n>/...`` and ``extensions/...``; the root holds files and
``extensions/...``). With the layout fcrctl and Fedora 6 write (0004 hashed n-tuple, default
parameters), an object's directory must be the one its id maps to. After an object is written,
its inventory is compared with what the manifest said of its files (:func:`check_object`): a
manifest pointing a content file at another valid blob fails there, before the live repository
is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from fcrctl.errors import CorruptData
from fcrctl.repository.local import ocfl

DIGEST_RE = re.compile(r"^[0-9a-f]{128}$")
_VERSION_RE = re.compile(r"^v\d{1,9}$")
_SIDECAR_RE = re.compile(r"^inventory\.json\.(sha512|sha256|sha1|md5|blake2b-512)$")
MAX_PATH = 4096
_DEFAULT_0004 = {"digestAlgorithm": "sha256", "tupleSize": 3, "numberOfTuples": 3, "shortObjectRoot": False}
LAYOUT_CONFIG = f"extensions/{ocfl.LAYOUT_NAME}/config.json"


def damaged(backup_id: str, what: str) -> CorruptData:
    return CorruptData(f"manifest of {backup_id} is damaged or was tampered with: {what}; nothing was written "
                       f"(upload the backup again from a sound copy)")


def relative_path(value: object, backup_id: str, what: str) -> str:
    """``value`` if it is a path that stays under the directory it is relative to."""
    if type(value) is not str or not value or len(value) > MAX_PATH:
        raise damaged(backup_id, f"{what} {value!r} is not a relative path")
    wrapped = f"/{value}/"  # every segment between slashes: substring tests (C) instead of a split per path
    if "//" in wrapped or "/./" in wrapped or "/../" in wrapped or "\\" in value or "\0" in value:
        raise damaged(backup_id, f"{what} {value!r} leaves its directory (absolute, '..' or empty segment)")
    return value


def digest(value: object, backup_id: str, what: str) -> str:
    if not isinstance(value, str) or not DIGEST_RE.match(value):
        raise damaged(backup_id, f"{what} names {value!r}, which is not a sha512 digest")
    return value


def object_line(doc: object, backup_id: str) -> tuple[str, str | None, list[tuple[str, str | None, str | None]]]:
    """(object dir, id, [(file relative to the object dir, digest, inline text)]) of a checked line."""
    if not isinstance(doc, dict) or not isinstance(doc.get("f"), list):
        raise damaged(backup_id, "an object line is not an object with a file list")
    rel = doc.get("o")
    if rel != "":
        rel = relative_path(rel, backup_id, "object directory")
    object_id = doc.get("id")
    if object_id is not None and not isinstance(object_id, str):
        raise damaged(backup_id, f"object {rel} has a malformed id")
    files: list[tuple[str, str | None, str | None]] = []
    for f in doc["f"]:
        if not isinstance(f, list) or len(f) not in (2, 3):
            raise damaged(backup_id, f"object {rel or 'storage root'} has a malformed file entry")
        name = relative_path(f[0], backup_id, "file")
        _in_layout(name, bool(rel), backup_id)
        if f[1] is None:
            if len(f) != 3 or not isinstance(f[2], str):
                raise damaged(backup_id, f"file {name} has neither a digest nor inline text")
            files.append((name, None, f[2]))
        else:
            files.append((name, digest(f[1], backup_id, f"file {name}"), None))
    return rel, object_id, files


def _in_layout(name: str, in_object: bool, backup_id: str) -> None:
    first, _, rest = name.partition("/")
    if first == "extensions" and rest:
        return
    if in_object:
        if not rest and (first.startswith("0=ocfl_object_") or first == "inventory.json" or _SIDECAR_RE.match(first)):
            return
        if rest and _VERSION_RE.match(first):
            return
    elif not rest:
        return
    where = "an OCFL object" if in_object else "the storage root"
    raise damaged(backup_id, f"file {name} has no place in {where}")


class LayoutCheck:
    """Objects placed where their id maps to, when the root declares fcrctl's (and Fedora 6's)
    layout: the root's line may come last, so every object is compared and the verdict given
    at the end."""

    def __init__(self) -> None:
        self.misplaced: str | None = None
        self.layout: str | None = None
        self.config: str | None = None

    def object(self, rel: str, object_id: str | None) -> None:
        if rel and self.misplaced is None and (object_id is None or ocfl.object_rel(object_id) != rel):
            self.misplaced = rel

    def root(self, files: Iterable[tuple[str, str | None, str | None]]) -> None:
        for name, _digest, inline in files:
            if name == "ocfl_layout.json":
                self.layout = inline
            elif name == LAYOUT_CONFIG:
                self.config = inline

    def finish(self, backup_id: str) -> None:
        if self.misplaced is None or self.layout is None:
            return
        try:
            declared = json.loads(self.layout).get("extension")
            config = json.loads(self.config) if self.config is not None else {}
        except (ValueError, AttributeError):
            return  # a layout we cannot read: structure alone was checked
        if declared == ocfl.LAYOUT_NAME and all(config.get(k, v) == v for k, v in _DEFAULT_0004.items()):
            raise damaged(backup_id, f"object directory {self.misplaced} is not where its id maps to in the "
                                     f"{ocfl.LAYOUT_NAME} layout")


def header(doc: dict[str, Any], backup_id: str) -> None:
    """The manifest's metadata names the backup asked for, and a well-formed index blob."""
    if doc.get("id") != backup_id:
        raise damaged(backup_id, f"it describes backup {doc.get('id')!r}")
    for key in ("indexSha512", "indexBaseSha512", "indexDeltaSha512"):  # snapshot.INDEX_BLOBS
        if doc.get(key) is not None:
            digest(doc[key], backup_id, "the index copy")


def check_object(at: int, where: str, rel: str, files: list[tuple[str, str | None, str | None]],
                 backup_id: str, inventory_bytes: bytes | None = None) -> None:
    """After an object is written (``at``: its directory, open): its root inventory holds exactly
    the content files the manifest gave it, with the same digests, and every inventory matches
    its sidecar. ``files``: (name relative to the object, sha512, inline text);
    ``inventory_bytes``: the root inventory as written (verified against its digest), if kept."""
    by_name = {name: (d, inline) for name, d, inline in files}

    def fail(what: str) -> CorruptData:
        return CorruptData(f"{where}: the backup's manifest disagrees with the object's inventory ({what}); "
                           f"the store is damaged or was tampered with: nothing was restored", path=where)

    if "inventory.json" not in by_name:
        return  # an object recorded without a readable inventory: copied as it was
    try:
        data = inventory_bytes
        if data is None:
            fd = os.open("inventory.json", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=at)
            try:
                data = _read_all(fd)
            finally:
                os.close(fd)
        inventory = json.loads(data)
        algorithm = str(inventory.get("digestAlgorithm", "sha512"))
        manifest = inventory["manifest"]
        if not isinstance(manifest, dict):
            raise TypeError("manifest is not a map")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise fail(f"unreadable inventory: {e}") from None
    # every inventory (root and versions) against its sidecar, by the digests already verified
    for name, (d, _inline) in by_name.items():
        if not name.endswith("inventory.json"):
            continue
        sidecar = by_name.get(f"{name}.{algorithm}")
        if sidecar is None or sidecar[1] is None:
            continue  # a version without a sidecar: `check` reports it
        said = sidecar[1].split()[0].lower() if sidecar[1].split() else ""
        actual = d if algorithm == "sha512" else _hash_at(at, name, algorithm)
        if said != actual:
            raise fail(f"{name} does not match its sidecar")
    listed: set[str] = set()
    for expected, content_paths in manifest.items():
        if not isinstance(content_paths, list):
            raise fail("malformed inventory manifest")
        for content in content_paths:
            listed.add(content)
            given = by_name.get(content)
            if given is None:
                raise fail(f"content file {content} is missing")
            actual = given[0] if algorithm == "sha512" and given[0] is not None else _hash_at(at, content, algorithm)
            if actual != str(expected).lower():
                raise fail(f"content file {content} is not the one its inventory names")
    for name in by_name:
        first, _, rest = name.partition("/")
        if rest and _VERSION_RE.match(first) and not name.endswith("inventory.json") \
                and not _SIDECAR_RE.match(name.rpartition("/")[2]) and name not in listed:
            raise fail(f"content file {name} is not in the inventory")


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _hash_at(at: int, name: str, algorithm: str) -> str:
    try:
        h = hashlib.new(algorithm.replace("blake2b-512", "blake2b"))
    except ValueError:
        return ""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=at)
    try:
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()
