"""What verify-backup (without --read-data) last found sound, so the next one costs what changed.

A snapshot of this home records its objects as (directory, id, head version, sha512 of the head
inventory) lines (rootstate/stored.py), and OCFL never changes a version once written. So an
object whose line equals one a verify checked without a problem is the same bytes that verify
read, unless something outside fcrctl damaged them since. The record of the last snapshot
verified whole without a problem is:

- ``.verified.state`` and ``.verified.base.sqlite``: hard links to that snapshot's
  ``objects.jsonl`` and the base it is a delta over (both immutable once written);
- ``.verified.json``: their inode, size and mtime, the sha256 of ``.verified.state``, the
  retention generations the objects could be read from, and where the sweep goes on.

The next verify of a snapshot of the same home checks whole every object whose line is not in
that state (reread_states.changes: the two deltas on one base, both states once per new base),
the parent objects those name, and a sweep of ``SWEEP_OBJECTS`` objects of the rest, taken in
directory order from where the last sweep stopped. Damage at rest to an object nothing changed
is therefore found within ``objects / SWEEP_OBJECTS`` verifies; ``--read-data`` checks
everything at once (and ``fixity`` the repository itself).

The record can only make a verify look at less, never make it accept something different: it is
used only when every stat and the state's sha256 still match, when no retention generation it
read from is gone, and only for lines byte for byte equal to the ones it checked. Anything else
(a damaged, stale, foreign or half-written record) means a whole verify. Only a verify that found
no problem writes it (the .json last: a crash in between leaves a record that does not match).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.reread import link_atomically
from fcrctl.services.backup.reread_states import State, changes, gone, rel_of

RECORD = ".verified.json"
STATE = ".verified.state"
BASE = ".verified.base.sqlite"
SWEEP_OBJECTS = 1_024  # unchanged objects re-checked per verify (~0.2 CPU s)
_FORMAT = 1
FileId = list[int]  # inode, size, mtime_ns


def _id(path: Path) -> FileId | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Record:
    """The last state verified sound, opened; None from :func:`load` when there is none usable."""

    def __init__(self, home: Path, state: State, cursor: str) -> None:
        self.home = home
        self.state = state
        self.cursor = cursor

    def close(self) -> None:
        self.state.close()


def load(home: Path, generations: list[str]) -> Record | None:
    """The record, if every part of it still matches what it says (else None: verify whole)."""
    try:
        doc = json.loads((home / RECORD).read_text("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            return None
        if _id(home / STATE) != doc["state"] or _sha256(home / STATE) != doc["stateSha256"]:
            return None
        if doc["base"] is not None and _id(home / BASE) != doc["base"]:
            return None
        if not set(doc["generations"]) <= set(generations):  # objects it read there may be gone
            return None
        state = State(home / STATE, home / BASE)
        if (state.base_file is None) != (doc["base"] is None):
            state.close()
            return None
        return Record(home, state, str(doc.get("cursor", "")))
    except (OSError, ValueError, KeyError, TypeError, CorruptData):
        return None


def changed_since(record: Record, new: State) -> list[rootstate.ObjectState]:
    """Objects of ``new`` whose line the record's state does not hold (gone ones need no check)."""
    if os.path.samestat(os.stat(record.state.file), os.stat(new.file)):
        return []
    found, _removed = changes(record.state, new)
    return found


def sweep(new: State, cursor: str, skip: set[str],
          limit: int | None = None) -> tuple[list[rootstate.ObjectState], str]:
    """Up to ``limit`` (SWEEP_OBJECTS) objects of ``new`` after ``cursor`` in directory order (wrapping round once),
    and the cursor to go on from next time."""
    delta: dict[str, bytes] = {}
    if new.base is not None:
        for line in new.file_lines():
            delta[rel_of(line)] = line
    limit = SWEEP_OBJECTS if limit is None else limit
    out: list[rootstate.ObjectState] = []
    last = cursor
    if limit <= 0:
        return out, last
    for start, wrapped in ((cursor, False), ("", True)):
        for rel, line in _from(new, delta, start):
            if wrapped and rel > cursor:
                return out, last
            last = rel
            if rel not in skip:
                out.append(rootstate.ObjectState.from_json(json.loads(line)))
            if len(out) >= limit:
                return out, last
    return out, last


def _from(new: State, delta: dict[str, bytes], after: str) -> Iterator[tuple[str, bytes]]:
    """The state's object lines after directory ``after``, in order (the base's rows read in pages)."""
    if new.base is None:  # a whole state: one file
        for line in new.file_lines():
            rel = rel_of(line)
            if rel > after:
                yield rel, line
        return
    pending = sorted((rel, line) for rel, line in delta.items() if rel > after)
    i = 0
    while True:
        rows = new.base.execute("SELECT rel, doc FROM objects WHERE rel > ? ORDER BY rel LIMIT 256",
                                (after,)).fetchall()
        for rel, doc in rows:
            while i < len(pending) and pending[i][0] < rel:
                if not gone(pending[i][1]):
                    yield pending[i]
                i += 1
            if i < len(pending) and pending[i][0] == rel:
                if not gone(pending[i][1]):
                    yield pending[i]
                i += 1
                continue
            yield rel, doc.encode()
        if len(rows) < 256:
            break
        after = rows[-1][0]
    for rel, line in pending[i:]:
        if not gone(line):
            yield rel, line


def count(new: State) -> int:
    """How many objects the state holds (the base's count, with the delta's additions and removals)."""
    if new.base is None:
        return sum(1 for line in new.file_lines() if not gone(line))
    row = new.base.execute("SELECT value FROM meta WHERE key = 'count'").fetchone()
    total = int(row[0]) if row else 0
    for line in new.file_lines():
        before = new.in_base(rel_of(line)) is not None
        total += (0 if before else 1) if not gone(line) else (-1 if before else 0)
    return total


def save(home: Path, new: State, generations: list[str], cursor: str) -> None:
    """Record ``new`` as verified sound: the links first, the .json (what makes them count) last."""
    if new.base_file is not None:
        link_atomically(new.base_file, home / BASE)
    else:
        with contextlib.suppress(FileNotFoundError):
            (home / BASE).unlink()
    link_atomically(new.file, home / STATE)
    doc = {"format": _FORMAT, "state": _id(home / STATE), "stateSha256": _sha256(home / STATE),
           "base": _id(home / BASE) if new.base_file is not None else None,
           "generations": sorted(generations), "cursor": cursor}
    tmp = home / f"{RECORD}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, home / RECORD)


def forget(home: Path) -> None:
    """No record: after a verify that found a problem the next one checks everything, and
    reports every problem there is, not only those in what changed."""
    with contextlib.suppress(FileNotFoundError):
        (home / RECORD).unlink()

