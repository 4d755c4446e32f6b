"""Where a recorded object is read from: a snapshot's own tree, the live root, or a retention generation"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from fcrctl.services.backup.rootstate.state import ObjectState


# -- where a recorded object is read from ---------------------------------------------------------
class Sources:
    """Where each object of a recorded state is read from, first match wins: the snapshot's
    own tree (a linked or downloaded snapshot, or the odd objects a recording copied), then the
    live root, then the retention generations newer than the state (purged objects, and roots
    swapped out by restores). Outside its own tree an object counts only if its ``v{head}``
    inventory is byte for byte the recorded one."""

    def __init__(self, own: Path | None, live: Path | None = None,
                 generations: Callable[[], list[Path]] | None = None) -> None:
        self.own = str(own) if own is not None else None
        # with a live root, the own tree holds only objects recorded without a head (copied)
        self._own_has_all = live is None
        self.live = str(live) if live is not None else None
        self._list_generations = generations
        self._generations: list[str] = []
        self._lock = threading.Lock()

    def locate(self, o: ObjectState) -> tuple[str, bytes] | None:
        """(object directory, its recorded head inventory's bytes), or None if none holds it."""
        if self.own is not None and (self._own_has_all or o.head is None) and os.path.isdir(f"{self.own}/{o.rel}"):
            obj = f"{self.own}/{o.rel}"
            if o.head is None:
                return obj, b""
            return _holding(obj, o)
        if o.head is None:
            return None
        for base in [self.live] if self.live is not None else []:
            found = _holding(f"{base}/{o.rel}", o)
            if found is not None:
                return found
        tried: set[str] = set()
        for _ in range(2):  # a purge or restore may have made a new generation since we listed them
            for base in self._generations:
                if base not in tried:
                    tried.add(base)
                    found = _holding(f"{base}/{o.rel}", o)
                    if found is not None:
                        return found
            if self._list_generations is None:
                break
            with self._lock:
                self._generations = [str(p) for p in self._list_generations()]
        return None


def _holding(obj: str, o: ObjectState) -> tuple[str, bytes] | None:
    data = _read_file(f"{obj}/{o.head}/inventory.json")
    return (obj, data) if data is not None and _sha512(data) == o.digest else None


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()
