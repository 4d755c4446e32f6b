"""Whether two OCFL storage roots hold the same files with the same bytes (dates of writing aside).

    .venv/bin/python bench/_ocfl_compare.py A/ocfl-root B/ocfl-root

For checking that a change to the write path (issue 17's import CPU work) writes the very objects it
wrote before: import the same export with both trees and compare. Files must match byte for byte,
except for what a write makes anew each time: ISO timestamps of the moment of writing (the root
container, replaced on import, and anything undated) and a headers file's random stateToken are masked,
and so an inventory's digests (the headers files' change with their tokens; every other file is
compared byte for byte itself); an inventory's ``.sha512`` sidecar is excused when its inventory
matched masked. Exit 0 when equal, 1 (with the first differences) when not.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

STAMP = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"')
TOKEN = re.compile(rb'"stateToken":"[0-9A-F]+"')  # random per write (a uuid), as Fedora 6's
DIGEST = re.compile(rb'"[0-9a-f]{128}"')  # in an inventory: a headers file's changes with its token
SIDECAR = "inventory.json.sha512"


def files(root: Path) -> dict[str, Path]:
    out = {}
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = Path(base, name)
            out[path.relative_to(root).as_posix()] = path
    return out


def differences(a: Path, b: Path) -> tuple[list[str], int, int]:
    """(differences, files compared, files equal only with timestamps masked)."""
    left, right = files(a), files(b)
    problems = [f"only in {a}: {rel}" for rel in sorted(left.keys() - right.keys())]
    problems += [f"only in {b}: {rel}" for rel in sorted(right.keys() - left.keys())]
    masked: set[str] = set()
    for rel in sorted(left.keys() & right.keys()):
        one, two = left[rel].read_bytes(), right[rel].read_bytes()
        if one == two:
            continue
        if _masked(rel, one) == _masked(rel, two):
            masked.add(rel)
        elif not rel.endswith(SIDECAR):
            problems.append(f"bytes differ: {rel}")
    for rel in sorted(left.keys() & right.keys()):
        if rel.endswith(SIDECAR) and left[rel].read_bytes() != right[rel].read_bytes() \
                and rel[: -len(".sha512")] not in masked:
            problems.append(f"bytes differ: {rel}")
    return problems, len(left.keys() & right.keys()), len(masked)


def _masked(rel: str, data: bytes) -> bytes:
    data = TOKEN.sub(b'"stateToken":"S"', STAMP.sub(b'"T"', data))
    return DIGEST.sub(b'"D"', data) if rel.endswith("inventory.json") else data


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    problems, compared, masked = differences(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{compared} files in both, {masked} equal with write-time timestamps masked, {len(problems)} differences")
    for problem in problems[:20]:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
