"""OCFL 1.1 storage root and objects, as Fedora 6 lays them out (0004 hashed n-tuple layout).

Writes never modify a file in place: a new object or version directory is built under the
repository's ``tmp/`` (same filesystem), made durable, then renamed into place; the root
inventory and its sidecar are replaced by rename. :func:`recover_object` repairs whatever a
crash between those renames left behind, so a repository is always either at the old or the
new state of each object.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fcrctl.errors import CorruptData

INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
ROOT_NAMASTE = "0=ocfl_1.1"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
OBJECT_NAMASTE_DATA = b"ocfl_object_1.1\n"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
LAYOUT_NAME = "0004-hashed-n-tuple-storage-layout"
LAYOUT_CONFIG = {
    "extensionName": LAYOUT_NAME,
    "digestAlgorithm": "sha256",
    "tupleSize": 3,
    "numberOfTuples": 3,
    "shortObjectRoot": False,
}
CHUNK = 1024 * 1024

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc: fall back to one fsync per file
    _libc = None
HAVE_SYNCFS = _libc is not None and hasattr(_libc, "syncfs")


def object_rel(object_id: str) -> str:
    """Object root relative to the storage root: sha256 -> ``abc/def/ghi/<hex>``."""
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    return f"{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{digest}"


def is_storage_root(path: Path) -> bool:
    return any(p.name.startswith("0=ocfl_1.") for p in path.iterdir()) if path.is_dir() else False


def init_storage_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_durable(root / ROOT_NAMASTE, b"ocfl_1.1\n")
    layout = {"extension": LAYOUT_NAME, "description": "Hashed N-tuple Storage Layout (OCFL community extension 0004)"}
    write_durable(root / "ocfl_layout.json", json.dumps(layout, indent=2).encode())
    ext = root / "extensions" / LAYOUT_NAME
    ext.mkdir(parents=True, exist_ok=True)
    write_durable(ext / "config.json", json.dumps(LAYOUT_CONFIG, indent=2).encode())
    fsync_dir(ext)
    fsync_dir(root / "extensions")
    fsync_dir(root)


# -- durability helpers ---------------------------------------------------------------------


def fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(path: Path) -> None:
    """Make every file written under ``path`` durable: one syncfs() (Linux) instead of an
    fsync per file, which is what makes small creates fast (an fsync costs ~1 ms)."""
    if HAVE_SYNCFS:
        assert _libc is not None
        fd = os.open(path, os.O_RDONLY)
        try:
            if _libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for dirpath, _dirs, files in os.walk(path):
        _fsync_dir_and_files(dirpath, files)


def sync_small_tree(path: Path, *, most: int = 256) -> None:
    """As :func:`sync_tree`, for a tree of a few files: an fsync each. syncfs would also wait
    for every other dirty page of the filesystem (a 1 GB import still being written back
    costs a small snapshot seconds); past ``most`` files syncfs is cheaper after all."""
    seen = 0
    for dirpath, _dirs, files in os.walk(path):
        seen += len(files) + 1
        if seen > most:
            sync_tree(path)
            return
        _fsync_dir_and_files(dirpath, files)


def _fsync_dir_and_files(dirpath: str, files: list[str]) -> None:
    for name in files:
        fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(Path(dirpath))


def write_durable(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` crash-safely: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


# -- inventories ------------------------------------------------------------------------------


def inventory_bytes(inventory: dict) -> tuple[bytes, bytes]:
    # compact: json's C encoder, ~4x faster than indent=2 (which runs in pure Python); Fedora's
    # own inventories follow no fixed layout either, readers parse them
    data = json.dumps(inventory, separators=(",", ":")).encode("utf-8")
    digest = hashlib.sha512(data).hexdigest()
    return data, f"{digest} {INVENTORY}\n".encode()


def read_inventory(obj_dir: Path, *, check_sidecar: bool = True) -> dict:
    """Parse an inventory; CorruptData when it is missing, unparseable or fails its sidecar."""
    try:
        data = (obj_dir / INVENTORY).read_bytes()
    except OSError as e:
        raise CorruptData(f"cannot read {obj_dir / INVENTORY}: {e.strerror}") from e
    if check_sidecar:
        try:
            recorded = (obj_dir / SIDECAR).read_text("utf-8").split()[0].lower()
        except (OSError, IndexError) as e:
            raise CorruptData(f"missing or empty inventory sidecar in {obj_dir}") from e
        actual = hashlib.sha512(data).hexdigest()
        if actual != recorded:
            raise CorruptData(
                f"inventory digest mismatch in {obj_dir}: sidecar says {recorded[:16]}…, file is {actual[:16]}…"
            )
    try:
        inventory = json.loads(data)
    except ValueError as e:
        raise CorruptData(f"inventory {obj_dir / INVENTORY} is not valid JSON: {e}") from e
    for key in ("id", "head", "manifest", "versions"):
        if key not in inventory:
            raise CorruptData(f"inventory {obj_dir / INVENTORY} lacks {key!r}")
    return inventory


def version_number(version: str) -> int:
    return int(version[1:])


def manifest_paths(inventory: dict) -> dict[str, str]:
    """digest -> first content path (relative to the object root)."""
    return {digest: paths[0] for digest, paths in inventory["manifest"].items()}


def state_files(inventory: dict, version: str | None = None) -> dict[str, str]:
    """logical path -> content path (relative to the object root) for a version (default head)."""
    version = version or inventory["head"]
    manifest = manifest_paths(inventory)
    out: dict[str, str] = {}
    for digest, logicals in inventory["versions"][version]["state"].items():
        for logical in logicals:
            out[logical] = manifest[digest]
    return out


def state_digests(inventory: dict, version: str | None = None) -> dict[str, str]:
    version = version or inventory["head"]
    return {logical: d for d, logicals in inventory["versions"][version]["state"].items() for logical in logicals}


# -- writing ------------------------------------------------------------------------------------


@dataclass
class NewFile:
    """Content for a logical path: bytes, or a temp file (under tmp/) with its sha512."""

    data: bytes | None = None
    source: Path | None = None
    digest: str | None = None

    def sha512(self) -> str:
        if self.digest is None:
            assert self.data is not None
            self.digest = hashlib.sha512(self.data).hexdigest()
        return self.digest


def now_iso() -> str:
    # as strftime("%Y-%m-%dT%H:%M:%S.%fZ") (a year below 1000 aside), at a third of its cost
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


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


# Version messages fcrctl writes for `versions create` (the rest, e.g. Fedora's "Authored by
# Fedora 6", reverts, transactions, say what made the version). A memento names a second, so an
# explicit version gets a second of its own: no version of its object shares it, before or after.
LABEL_PREFIX = "label: "
VERSION_MESSAGE = "version"


def is_explicit(message: str | None) -> bool:
    return message is not None and (message == VERSION_MESSAGE or message.startswith(LABEL_PREFIX))


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
) -> PreparedVersion:
    """Build the next version of ``object_id`` whose state is ``state`` (logical path -> an
    existing digest or a NewFile) under ``tmp``. Content already in the manifest is reused.
    ``namaste``: a file written by :func:`write_object_namaste` that a new object links to
    instead of writing its own (inode allocations are what new objects cost)."""
    obj_dir = storage_root / object_rel(object_id)
    new_object = not (obj_dir / INVENTORY).exists()
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
        inventory = read_inventory(obj_dir)
    content_dir = inventory.get("contentDirectory", "content")
    version = f"v{version_number(inventory['head']) + 1}"
    # plain strings and os calls: this runs once per object of a commit (10,000s for a big
    # transaction), where pathlib and buffered file objects cost as much as the syscalls
    stage = os.path.join(tmp, uuid.uuid4().hex)
    vdir = os.path.join(stage, version) if new_object else stage
    if new_object:
        os.mkdir(stage)
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
    previous = None if new_object else inventory["versions"].get(inventory["head"])
    if created is None and previous is not None and (is_explicit(message) or is_explicit(previous.get("message"))):
        _wait_out_second(previous.get("created"))
    entry: dict = {"created": created or now_iso(), "state": new_state}
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
    prepared = PreparedVersion(obj_dir, Path(stage), new_object, inventory, inv_data, sidecar)
    if new_object:
        if namaste is not None:
            os.link(namaste, os.path.join(stage, OBJECT_NAMASTE))
        else:
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


def ensure_dir(path: Path | str) -> None:
    if not os.path.isdir(path):
        # top-down (a stat per missing level, then one mkdir each), not Path.mkdir's bottom-up
        # retries: failed mkdirs cost nearly as much as real ones here (~0.2 ms)
        os.makedirs(path, exist_ok=True)


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


def iter_object_dirs(storage_root: Path):
    """Every object directory under a storage root (any layout): dirs holding 0=ocfl_object_*."""
    for dirpath, dirs, files in os.walk(storage_root):
        if dirpath == str(storage_root):
            for skip in ("extensions",):
                if skip in dirs:
                    dirs.remove(skip)
        if any(f.startswith("0=ocfl_object_") for f in files):
            dirs[:] = []
            yield Path(dirpath)


def remove_tree(path: Path, tmp: Path) -> None:
    """Purge: rename out of the storage root first (atomic), then delete at leisure."""
    if not path.exists():
        return
    graveyard = tmp / f"purge-{uuid.uuid4().hex}"
    os.rename(path, graveyard)
    fsync_dir(path.parent)
    shutil.rmtree(graveyard, ignore_errors=True)
    # drop empty tuple directories so the storage root stays free of empty dirs (E073)
    parent = path.parent
    for _ in range(3):
        with contextlib.suppress(OSError):
            parent.rmdir()
        parent = parent.parent
