"""Describing a snapshot tree as manifest object lines, digests taken from the OCFL inventories"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.manifest import fds
from fcrctl.services.backup.manifest.format import INLINE_MAX, Entry, ObjectFiles


# -- describing a snapshot tree ---------------------------------------------------------------
def describe_tree(root: Path) -> Iterator[ObjectFiles]:
    """Every file under an OCFL storage root, grouped by object, digests from the inventories."""
    for found in walk_tree(root):
        yield found if isinstance(found, ObjectFiles) else describe_object(root, root / found, found)


def recorded_state(snapshot: Path) -> rootstate.RootState | None:
    """The state the snapshot recorded (objects.jsonl); None for snapshots taken before it existed."""
    if not (snapshot / rootstate.STATE_FILE).exists():
        return None
    return rootstate.RootState.load(snapshot / rootstate.STATE_FILE)


def walk_state(root: Path, state: rootstate.RootState) -> Iterator[str | ObjectFiles]:
    """As :func:`walk_tree`, from the recorded state: no directory is listed."""
    yield from sorted(state.objects)
    yield root_line(root, state.root_files)


def root_line(root: Path, root_files: list[str]) -> ObjectFiles:
    """The storage root's own files (namaste, layout, extensions/): the last line of a manifest."""
    top = ObjectFiles("", None)
    top.files = [_hashed_entry(root / rel, rel) for rel in sorted(root_files)]
    return top


def walk_tree(root: Path) -> Iterator[str | ObjectFiles]:
    """Each object's directory (relative to ``root``), then the storage root's own files.
    One scandir per directory and no stat: metadata calls are the cost of an unchanged upload."""
    top = ObjectFiles("", None)
    stack = [""]
    base = str(root)
    while stack:
        rel = stack.pop()
        with os.scandir(f"{base}/{rel}" if rel else base) as it:
            entries = list(it)
        if rel and any(e.name.startswith("0=ocfl_object_") for e in entries):
            yield rel
            continue
        for e in entries:
            child = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir(follow_symlinks=False):
                stack.append(child)
            else:
                top.files.append(_hashed_entry(Path(e.path), child))
    yield top


def _hashed_entry(file: Path | str, rel: str, dir_fd: int | None = None) -> Entry:
    head = fds.read_head(file, INLINE_MAX + 1, dir_fd)
    if len(head) <= INLINE_MAX:
        with contextlib.suppress(UnicodeDecodeError):
            return Entry(rel, None, head.decode("utf-8"))
    return Entry(rel, fds.sha512_file(file, dir_fd))



def describe_object(root: Path, obj_path: Path | str, rel: str, namaste: str | None = None, *,
                     dir_fd: int | None = None, read: dict[str, bytes] | None = None,
                     head: str | None = None, inventory_bytes: bytes | None = None) -> ObjectFiles:
    """The object's files from its inventory (string paths: this runs once per object).
    ``dir_fd``: the object directory, open; ``read``: gets the inventory's bytes by path, for
    the upload to store without reading them again; ``head``: the object as of that version
    (a snapshot's object that has moved on in the live root), whose inventory and sidecar
    stand for the root ones (see :func:`in_object`); ``inventory_bytes``: that inventory,
    already read (and checked against the recorded digest) by whoever found the object."""
    obj = str(obj_path)
    at = dir_fd  # paths below are relative to the object with it, else absolute
    prefix = "" if at is not None else f"{obj}/"
    try:
        data = inventory_bytes or fds.read_all(f"{prefix}{in_object('inventory.json', head)}", at)
        inventory = json.loads(data)
        algorithm = inventory.get("digestAlgorithm")
        versions = list(inventory["versions"])
        manifest = inventory["manifest"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CorruptData(f"object {rel}: unreadable inventory ({e}); run `fcrctl verify-backup`") from e
    out = ObjectFiles(rel, str(inventory.get("id")))
    files = out.files
    if read is not None:
        read[f"{rel}/inventory.json"] = data

    def inventory_file(version: str) -> None:
        name = f"{version}inventory.json"
        source = in_object(name, head)
        sidecar = _hashed_entry(f"{prefix}{source}.sha512", f"{rel}/{name}.sha512", at)
        digest = None
        if algorithm == "sha512" and sidecar.inline is not None:
            with contextlib.suppress(IndexError):
                digest = sidecar.inline.split()[0].lower()
        files.append(Entry(f"{rel}/{name}", digest or fds.sha512_file(f"{prefix}{source}", at)))
        files.append(sidecar)

    found = None
    if namaste is not None:
        with contextlib.suppress(FileNotFoundError):
            found = _hashed_entry(f"{prefix}{namaste}", f"{rel}/{namaste}", at)
    if found is None:
        namaste = next((e.name for e in os.scandir(obj) if e.name.startswith("0=ocfl_object_")), None)
        if namaste is not None:
            found = _hashed_entry(f"{prefix}{namaste}", f"{rel}/{namaste}", at)
    if found is not None:
        files.append(found)
    inventory_file("")
    for v in versions:
        inventory_file(f"{v}/")
    for digest, content_paths in manifest.items():
        for content in content_paths:
            d = digest.lower() if algorithm == "sha512" else fds.sha512_file(f"{prefix}{content}", at)
            files.append(Entry(f"{rel}/{content}", d))
    # An object is what its inventory says (plus extensions/, which Fedora never writes): walking
    # every object dir again would cost a syscall per file, the bulk of an unchanged upload.
    if os.path.isdir(f"{obj}/extensions"):
        for dirpath, _dirs, names in os.walk(f"{obj}/extensions"):
            sub = os.path.relpath(dirpath, obj)
            for name in names:
                files.append(_hashed_entry(f"{dirpath}/{name}", f"{rel}/{sub}/{name}"))
    return out


def in_object(name: str, head: str | None) -> str:
    """Where a file of the object as of ``head`` is, relative to its directory: the root
    inventory and sidecar are ``v{head}``'s (a later commit replaced the root ones); every
    other file is where its name says."""
    if head is not None and name.startswith("inventory.json"):
        return f"{head}/{name}"
    return name
