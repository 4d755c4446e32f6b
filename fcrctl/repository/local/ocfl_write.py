"""Writing OCFL object versions crash-safely: build under tmp/, sync, rename into place, recover

A new object or version directory is built under the repository's ``tmp/`` (same filesystem),
made durable, then renamed into place; the root inventory and its sidecar are replaced by
rename. :func:`recover_object` repairs whatever a crash between those renames left behind, so
a repository is always either at the old or the new state of each object.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.ocfl import (
    INVENTORY,
    INVENTORY_TYPE,
    OBJECT_NAMASTE,
    OBJECT_NAMASTE_DATA,
    SIDECAR,
    NewFile,
    ensure_dir,
    fsync_dir,
    inventory_bytes,
    is_explicit,
    object_rel,
    read_inventory,
    version_number,
)


@dataclass
class PreparedVersion:
    """A version built in tmp/, ready to be renamed into the storage root."""

    obj_dir: Path
    staged: Path  # tmp dir: a whole object (new) or a vN dir (existing object)
    new_object: bool
    inventory: dict
    inv_data: bytes
    sidecar: bytes
    root_inv_tmp: Path | None = None
    root_sidecar_tmp: Path | None = None


def _wait_out_second(created: str | None) -> None:
    if not created:
        return
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return
    wait = then.replace(microsecond=0).timestamp() + 1.001 - time.time()
    if 0 < wait <= 1.001:  # never for a clock that went backwards
        time.sleep(wait)


def prepare_version(
    storage_root: Path,
    tmp: Path,
    object_id: str,
    state: dict[str, str | NewFile],
    *,
    message: str | None = None,
    user: tuple[str, str] | None = None,
    created: str | None = None,
    namaste: Path | None = None,
    earlier: Sequence[tuple[dict[str, str | NewFile], str | None, str | None]] = (),
) -> PreparedVersion:
    """Build the next version of ``object_id`` whose state is ``state`` (logical path -> an
    existing digest or a NewFile) under ``tmp``. Content already in the manifest is reused.
    ``namaste``: a file written by :func:`write_object_namaste` that a new object links to
    instead of writing its own (inode allocations are what new objects cost). ``earlier``: the
    (state, message, created) of versions before this one, oldest first, for a NEW object only:
    v1..vN are built in the one staged object, installed by one rename (an import's history)."""
    # plain strings and os calls: this runs once per object of a commit (10,000s for a big
    # transaction), where pathlib and buffered file objects cost as much as the syscalls
    obj_path = os.path.join(storage_root, object_rel(object_id))
    new_object = not os.path.exists(os.path.join(obj_path, INVENTORY))
    if earlier and not new_object:
        raise CorruptData(f"object {object_id} exists: earlier versions can only be written with a new object")
    if new_object:
        inventory: dict = {
            "id": object_id,
            "type": INVENTORY_TYPE,
            "digestAlgorithm": "sha512",
            "head": "v0",
            "contentDirectory": "content",
            "manifest": {},
            "versions": {},
        }
    else:
        inventory = read_inventory(obj_path)
    stage = os.path.join(tmp, os.urandom(16).hex())  # as uuid4().hex, at a fifth of its cost
    if new_object:
        os.mkdir(stage)
    try:
        for version_state, version_message, version_created in (*earlier, (state, message, created)):
            inventory, inv_data, sidecar, vdir = _build_version(
                stage, new_object, object_id, inventory, version_state, version_message, user, version_created)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    prepared = PreparedVersion(Path(obj_path), Path(stage), new_object, inventory, inv_data, sidecar)
    if new_object:
        if namaste is None or not _linked(namaste, os.path.join(stage, OBJECT_NAMASTE)):
            _write_file(os.path.join(stage, OBJECT_NAMASTE), OBJECT_NAMASTE_DATA)
        # the root copies are links to the version's (identical by OCFL; never modified in place)
        os.link(os.path.join(vdir, INVENTORY), os.path.join(stage, INVENTORY))
        os.link(os.path.join(vdir, SIDECAR), os.path.join(stage, SIDECAR))
    else:
        prepared.root_inv_tmp = tmp / f"{uuid.uuid4().hex}.inv"
        prepared.root_sidecar_tmp = tmp / f"{uuid.uuid4().hex}.sidecar"
        _write_file(str(prepared.root_inv_tmp), inv_data)
        _write_file(str(prepared.root_sidecar_tmp), sidecar)
    return prepared


def _build_version(stage: str, new_object: bool, object_id: str, inventory: dict, state: dict[str, str | NewFile],
                   message: str | None, user: tuple[str, str] | None,
                   created: str | None) -> tuple[dict, bytes, bytes, str]:
    """Write the version after ``inventory``'s head (its new content and its own inventory) into
    ``stage`` (the object, when new; else the version dir itself): (inventory, its bytes, sidecar, dir)."""
    content_dir = inventory.get("contentDirectory", "content")
    version = f"v{version_number(inventory['head']) + 1}"
    vdir = os.path.join(stage, version) if new_object else stage
    os.mkdir(vdir)
    made: set[str] = {vdir}
    manifest: dict[str, list[str]] = {d: list(p) for d, p in inventory["manifest"].items()}
    new_state: dict[str, list[str]] = {}
    for logical, value in sorted(state.items()):
        if isinstance(value, str):
            digest = value
            if digest not in manifest:
                raise CorruptData(f"object {object_id}: digest {digest[:16]}… is not in its manifest")
        else:
            digest = value.sha512()
            if digest not in manifest:
                content_path = f"{version}/{content_dir}/{logical}"
                target = os.path.join(vdir, content_dir, logical)
                _make_dirs(os.path.dirname(target), made)
                if value.data is not None:
                    _write_file(target, value.data)
                else:
                    assert value.source is not None
                    os.replace(value.source, target)
                manifest[digest] = [content_path]
            elif value.source is not None:
                value.source.unlink(missing_ok=True)
        new_state.setdefault(digest, []).append(logical)
    previous = inventory["versions"].get(inventory["head"])
    if created is None and previous is not None and (is_explicit(message) or is_explicit(previous.get("message"))):
        _wait_out_second(previous.get("created"))
    entry: dict = {"created": created or ocfl.now_iso(), "state": new_state}
    if message:
        entry["message"] = message
    if user:
        entry["user"] = {"name": user[0], "address": user[1]}
    inventory = dict(inventory)
    inventory["type"] = inventory.get("type") or INVENTORY_TYPE
    inventory["head"] = version
    inventory["manifest"] = manifest
    inventory["versions"] = {**inventory["versions"], version: entry}
    inv_data, sidecar = inventory_bytes(inventory)
    _write_file(os.path.join(vdir, INVENTORY), inv_data)
    _write_file(os.path.join(vdir, SIDECAR), sidecar)
    return inventory, inv_data, sidecar, vdir


def _linked(source: Path, target: str) -> bool:
    """Link ``target`` to ``source``; False when the file system has no more links to give it
    (ext4 allows 65,000 a file: a commit of more new objects than that writes the rest)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno != errno.EMLINK:
            raise
        return False
    return True


def write_object_namaste(path: Path) -> None:
    """The content of every object's ``0=ocfl_object_1.1`` (see prepare_version's ``namaste``)."""
    _write_file(str(path), OBJECT_NAMASTE_DATA)


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _make_dirs(path: str, made: set[str]) -> None:
    """mkdir -p below a directory in ``made``, remembering what exists (mkdir calls dominate
    small writes)."""
    if path in made:
        return
    _make_dirs(os.path.dirname(path), made)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path)
    made.add(path)


def ensure_dirs_below(root: str, rel: str, known: set[str]) -> None:
    """mkdir -p ``root/rel``, level by level from ``root``. ``known`` holds directories known to
    exist (shared by the threads of one commit: its objects share tuple directories); below a
    directory made here, nothing can exist yet, so no stat is needed before the mkdir."""
    path = root
    made_above = False
    for part in rel.split("/"):
        path = f"{path}/{part}"
        if path in known:
            continue
        if made_above or not os.path.isdir(path):
            try:
                os.mkdir(path)
                made_above = True
            except FileExistsError:  # another thread of the commit made it meanwhile
                made_above = False
        known.add(path)


def install_version(prepared: PreparedVersion, dirs_to_sync: set[str]) -> None:
    """Rename a prepared version into place (after the caller made tmp/ durable); the
    directories whose entries changed are added to ``dirs_to_sync`` (strings: hashing Paths
    costs more than the rename, for 10,000s of objects).

    Order matters for recovery: the vN directory (with its own complete inventory) lands
    first, then the sidecar and inventory at the object root are replaced."""
    obj_dir = prepared.obj_dir
    if prepared.new_object:
        # tuple directories were created before the caller's sync_tree (see Store.commit), so
        # only the rename itself has to be made durable
        parent = os.path.dirname(obj_dir)
        ensure_dir(parent)
        os.rename(prepared.staged, obj_dir)
        dirs_to_sync.add(parent)
    else:
        os.rename(prepared.staged, obj_dir / prepared.inventory["head"])
        assert prepared.root_inv_tmp is not None and prepared.root_sidecar_tmp is not None
        os.replace(prepared.root_inv_tmp, obj_dir / INVENTORY)
        os.replace(prepared.root_sidecar_tmp, obj_dir / SIDECAR)
        dirs_to_sync.add(os.fspath(obj_dir))


def recover_object(obj_dir: Path) -> bool:
    """Repair one object after a crash. Returns True if the object (still) exists.

    A vN directory newer than the root inventory is rolled forward when its own inventory
    is complete (sidecar matches), else deleted. A root inventory whose sidecar disagrees
    is replaced by the newest complete version inventory."""
    if not obj_dir.exists():
        return False
    if not (obj_dir / OBJECT_NAMASTE).exists() and not any(obj_dir.glob("0=ocfl_object_*")):
        shutil.rmtree(obj_dir, ignore_errors=True)
        return False
    versions = sorted(
        (p for p in obj_dir.iterdir() if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit()),
        key=lambda p: version_number(p.name),
    )
    newest_complete: Path | None = None
    for vdir in reversed(versions):
        try:
            inv = read_inventory(vdir)
        except CorruptData:
            shutil.rmtree(vdir)  # a partial version that never became visible
            continue
        if inv.get("head") != vdir.name:
            shutil.rmtree(vdir)
            continue
        newest_complete = vdir
        break
    if newest_complete is None:
        return True
    try:
        root_inv = read_inventory(obj_dir)
        up_to_date = root_inv["head"] == newest_complete.name
    except CorruptData:
        up_to_date = False
    if not up_to_date:
        for name in (INVENTORY, SIDECAR):
            tmp = obj_dir / f".{name}.{uuid.uuid4().hex}.tmp"
            shutil.copyfile(newest_complete / name, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, obj_dir / name)
        fsync_dir(obj_dir)
    return True
