"""Fixity of one locally stored binary: its content file against the headers and the OCFL inventory.

Both records are checked because they can disagree after tampering or a botched manual repair:
the headers hold what Fedora reports (size, digests), the inventory holds what OCFL validators
check (sha512 of every content file).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from fcrctl.errors import BadInput, CorruptData
from fcrctl.repository.base import FixityResult, ResourceInfo
from fcrctl.repository.local import ocfl

if TYPE_CHECKING:
    from fcrctl.repository.local.resources import Resources

_BUFFER = 1 << 20
_STRENGTH = ("sha512", "sha256", "sha1", "md5")


def verify_resource(resources: Resources, info: ResourceInfo, algorithm: str | None) -> FixityResult:
    """Hash the content file where it lies; compare with the headers and the OCFL inventory."""
    st = resources.state(info.path)
    if not st.binary:
        raise BadInput(f"{info.path} is a container: fixity applies to binaries", path=info.path)
    current = resources.info(st.headers, info.path)
    if st.content is None:
        return FixityResult(path=info.path, outcome="UNVERIFIABLE", algorithm=algorithm or "sha512",
                            detail=f"external content at {current.external_url} is not stored here")
    return verify_file(current, st.content, resources.root / st.row.object_rel, algorithm)


def verify_file(
    info: ResourceInfo, content: Path, object_dir: Path, algorithm: str | None
) -> FixityResult:
    """Hash ``content`` once (the requested algorithm plus sha512 for the inventory) and judge it."""
    algorithm = algorithm or next((a for a in _STRENGTH if a in info.digests), "sha512")
    expected = info.digests.get(algorithm)
    result = FixityResult(path=info.path, outcome="SUCCESS", algorithm=algorithm, expected=expected,
                          expected_size=info.size)
    inventory_digest = _inventory_digest(object_dir, content)
    hashers = {algorithm: hashlib.new(algorithm)}
    if inventory_digest is not None:
        hashers.setdefault("sha512", hashlib.sha512())
    try:
        size = _hash_into(content, list(hashers.values()))
    except FileNotFoundError:
        result.outcome = "MISSING"
        result.detail = f"content file {content.name} is gone"
        return result
    except OSError as e:
        result.outcome = "MISSING"
        result.detail = f"content file unreadable: {e.strerror}"
        return result
    result.size = size
    result.actual = hashers[algorithm].hexdigest()
    if info.size is not None and size != info.size:
        result.outcome = "BAD_SIZE"
    elif expected is not None and expected != result.actual:
        result.outcome = "BAD_CHECKSUM"
    elif inventory_digest is not None and hashers["sha512"].hexdigest() != inventory_digest:
        result.outcome = "BAD_CHECKSUM"
        result.detail = "content differs from the sha512 in the OCFL inventory"
    elif expected is None:
        result.detail = f"no stored {algorithm} digest; the computed one is reported"
    return result


def _hash_into(path: Path, hashers: list) -> int:  # type: ignore[type-arg]
    """Stream the file through every hasher; hashlib releases the GIL, so threads scale."""
    buffer = bytearray(_BUFFER)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            chunk = view[:n]
            for h in hashers:
                h.update(chunk)
            size += n
    return size


def _inventory_digest(object_dir: Path, content: Path) -> str | None:
    """The sha512 the head inventory records for ``content`` (None if it records none)."""
    try:
        inventory = ocfl.read_inventory(object_dir)
    except CorruptData:
        return None  # `fcrctl check` reports broken inventories; fixity judges the content
    relative = content.relative_to(object_dir).as_posix()
    for digest, content_paths in inventory["manifest"].items():
        if relative in content_paths:
            return digest.lower() if inventory.get("digestAlgorithm", "sha512") == "sha512" else None
    return None
