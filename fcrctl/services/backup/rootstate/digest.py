"""An order-free digest of a recorded state that a change updates in O(1): LtHash over per-object lines

Each object contributes the vector of 1,024 16-bit lanes that SHAKE-256 expands its line
(``rel, head, inventory sha512``) to; the state's vector is their lane-wise sum mod 2^16
(Bellare-Micciancio's additive hashing, as Facebook's LtHash16 for database digests). Adding
or removing an object adds or subtracts its vector, so a snapshot after N changes updates the
digest with N vectors instead of hashing every object again. Lanes sit in 32-bit slots of one
Python int: a sum carries into the slot's spare bits, which the mask drops, never into the
next lane.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

LANES = 1024
_SLOT = 4  # bytes a lane takes inside the int
MASK = int.from_bytes(b"\xff\xff\x00\x00" * LANES, "little")
_BORROW = int.from_bytes(b"\x00\x00\x01\x00" * LANES, "little")  # 2^16 per lane: subtraction never borrows across
ZERO = 0


def vector(line: bytes) -> int:
    lanes = hashlib.shake_256(line).digest(2 * LANES)
    slots = bytearray(_SLOT * LANES)
    slots[0::4] = lanes[0::2]
    slots[1::4] = lanes[1::2]
    return int.from_bytes(slots, "little")


def add(total: int, v: int) -> int:
    return (total + v) & MASK


def sub(total: int, v: int) -> int:
    return ((total | _BORROW) - v) & MASK


def to_hex(total: int) -> str:
    slots = total.to_bytes(_SLOT * LANES, "little")
    lanes = bytearray(2 * LANES)
    lanes[0::2] = slots[0::4]
    lanes[1::2] = slots[1::4]
    return lanes.hex()


def from_hex(text: str) -> int:
    lanes = bytes.fromhex(text)
    if len(lanes) != 2 * LANES:
        raise ValueError(f"a state hash has {2 * LANES} bytes, not {len(lanes)}")
    slots = bytearray(_SLOT * LANES)
    slots[0::4] = lanes[0::2]
    slots[1::4] = lanes[1::2]
    return int.from_bytes(slots, "little")


def object_line(rel: str, head: str | None, digest: str) -> bytes:
    return f"{rel}\t{head}\t{digest}\n".encode()


def state_digest(total: int, root_files: Iterable[str]) -> str:
    """The state's identity (stateDigest in backup.json): its objects' sum and its root file names."""
    h = hashlib.sha256(b"fcrctl-state/2\n")
    h.update(total.to_bytes(_SLOT * LANES, "little"))
    for rel in sorted(root_files):
        h.update(f"root\t{rel}\n".encode())
    return h.hexdigest()
