"""The states an upload's re-read check compares: a snapshot's objects.jsonl as a delta over its base.

A snapshot's ``objects.jsonl`` holds only the objects changed since its ``objects.base.sqlite``
(rootstate/stored.py). The check keeps the last state it was brought up to as hard links, and
compares states as cheaply as they allow: the same file, nothing; the same base, the two deltas;
a new base, both whole (once per base).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.services.backup import rootstate
from fcrctl.services.backup.rootstate import stored


class State:
    """A recorded state's file and, when it is a delta over a base (stored.py), that base opened."""

    def __init__(self, state_file: Path, base_file: Path) -> None:
        self.file = state_file
        self.base_file: Path | None = None
        self.base: sqlite3.Connection | None = None
        try:
            header = stored.read_header(state_file)
            if "base" in header and "lthash" in header:  # else a whole state (older, or a fail-safe)
                self.base_file = base_file
                self.base = stored.open_base(base_file)
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as e:
            raise CorruptData(f"{state_file} is unreadable ({e}): the backup is damaged") from e

    def file_lines(self) -> Iterator[bytes]:
        """The lines after the header: the whole state, or the delta over the base."""
        with open(self.file, "rb") as fh:
            fh.readline()
            for line in fh:
                yield line.rstrip(b"\n")

    def lines(self) -> Iterator[bytes]:
        """Every object's line sorted by directory: the base's rows merged with the delta."""
        if self.base is None:
            yield from self.file_lines()
            return
        delta = ((rel_of(line), line) for line in self.file_lines())
        pending = next(delta, None)
        for rel, doc in self.base.execute("SELECT rel, doc FROM objects ORDER BY rel"):
            while pending is not None and pending[0] < rel:
                if not gone(pending[1]):
                    yield pending[1]
                pending = next(delta, None)
            if pending is not None and pending[0] == rel:
                if not gone(pending[1]):
                    yield pending[1]
                pending = next(delta, None)
                continue
            yield doc.encode()
        while pending is not None:
            if not gone(pending[1]):
                yield pending[1]
            pending = next(delta, None)

    def in_base(self, rel: str) -> bytes | None:
        assert self.base is not None
        row = self.base.execute("SELECT doc FROM objects WHERE rel = ?", (rel,)).fetchone()
        return None if row is None else row[0].encode()

    def close(self) -> None:
        if self.base is not None:
            self.base.close()


def rel_of(line: bytes) -> str:
    return str(json.loads(line)["o"])


def gone(line: bytes | None) -> bool:
    """A delta's ``{"o": rel, "gone": true}`` (or no line at all): the object is not in the state."""
    return line is None or (b'"gone"' in line and bool(json.loads(line).get("gone")))


def objects(state: State) -> Iterator[rootstate.ObjectState]:
    """A recorded state's objects, one line at a time (never the whole state in memory)."""
    try:
        for line in state.lines():
            yield rootstate.ObjectState.from_json(json.loads(line))
    except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as e:
        raise CorruptData(f"{state.file} is unreadable ({e}): the backup is damaged") from e


def changes(old: State, new: State, was: dict[str, rootstate.ObjectState] | None = None,
            ) -> tuple[list[rootstate.ObjectState], list[str]]:
    """(objects whose line in ``new`` is not in ``old``, objects of ``old`` gone from ``new``);
    ``was`` given: the changed objects' states in ``old``, of those it holds, by directory.
    Both states list objects sorted by directory, one line each, and an object's line is the
    same bytes while it is unchanged: equal lines are skipped without being parsed. On one
    base only the deltas are walked (an object in one of them only is looked up in the base);
    on different bases the whole states are."""
    same_base = (old.base_file is not None and new.base_file is not None
                 and os.path.samestat(os.stat(old.base_file), os.stat(new.base_file)))
    changed: list[rootstate.ObjectState] = []
    removed: list[str] = []

    def settle(rel: str, before: bytes | None, after: bytes | None) -> None:
        if gone(after):
            if not gone(before):
                removed.append(rel)
        elif before != after:
            changed.append(rootstate.ObjectState.from_json(json.loads(after)))  # type: ignore[arg-type]
            if was is not None and not gone(before):
                was[rel] = rootstate.ObjectState.from_json(json.loads(before))  # type: ignore[arg-type]

    try:
        if same_base:
            a, b = old.file_lines(), new.file_lines()
            missing_a, missing_b = old.in_base, new.in_base
        else:
            a, b = old.lines(), new.lines()
            missing_a = missing_b = lambda rel: None  # noqa: E731 - not in a whole state
        la, lb = next(a, None), next(b, None)
        while la is not None or lb is not None:
            if la == lb:
                la, lb = next(a, None), next(b, None)
                continue
            ra = rel_of(la) if la is not None else None
            rb = rel_of(lb) if lb is not None else None
            if rb is None or (ra is not None and ra < rb):
                settle(str(ra), la, missing_b(str(ra)))
                la = next(a, None)
            elif ra is None or rb < ra:
                settle(rb, missing_a(rb), lb)
                lb = next(b, None)
            else:
                settle(ra, la, lb)
                la, lb = next(a, None), next(b, None)
    except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as e:
        raise CorruptData(f"{new.file} is unreadable ({e}): the backup is damaged") from e
    return changed, removed
