"""The fast paths a first snapshot takes over every object write what the plain ones write: an
object's state line is json.dumps of its dict, and the digest sum a scan's workers compute is
the sum of each line's vector (masked late, past many lines, without a lane carrying over)."""

from __future__ import annotations

import json
import random

import pytest

from fcrctl.services.backup.rootstate import digest
from fcrctl.services.backup.rootstate.state import ObjectState


def test_a_state_line_is_what_json_dumps_writes() -> None:
    rng = random.Random(14)
    alphabet = 'ab"\\/\n\t\x00\x1f\x7fé€😀 '

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

    for i in range(2000):
        o = ObjectState(text(), text(), None if i % 5 == 0 else text(), text(), text(), text(),
                        (rng.randint(0, 2**63), rng.randint(0, 9), rng.randint(0, 2**62), 0),
                        rng.randint(0, 10**6), rng.randint(0, 2**40))
        assert o.line() == json.dumps(o.to_json(), separators=(",", ":"))
        assert ObjectState.from_json(json.loads(o.line())) == o


@pytest.mark.parametrize("pending_max", [1, 3, 1 << 15])
def test_summing_many_lines_at_once_equals_adding_them_one_by_one(monkeypatch: pytest.MonkeyPatch,
                                                                  pending_max: int) -> None:
    monkeypatch.setattr(digest, "_PENDING_MAX", pending_max)
    lines = [digest.object_line(f"{i:03x}/{i:064x}", f"v{i % 9 + 1}", f"{i:0128x}") for i in range(500)]
    one_by_one = digest.ZERO
    for line in lines:
        one_by_one = digest.add(one_by_one, digest.vector(line))
    assert digest.sum_lines(lines) == one_by_one
    assert digest.sum_lines([]) == digest.ZERO
    # lanes at their largest: the late mask still drops every carry
    monkeypatch.setattr(digest.hashlib, "shake_256", lambda data: type("X", (), {"digest": lambda s, n: b"\xff" * n})())
    assert digest.to_hex(digest.sum_lines([b"x"] * 7)) == ((0x10000 - 7) & 0xFFFF).to_bytes(2, "little").hex() * 1024
