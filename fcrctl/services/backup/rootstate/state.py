"""The recorded state of a storage root: each object's head inventory, and the root's own files"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fcrctl.errors import CorruptData

STATE_FILE = "objects.jsonl"
_quote = json.encoder.encode_basestring_ascii  # (C) how json.dumps writes a str
Stamp = tuple[int, int, int, int]


class StateMoved(Exception):  # noqa: N818 - a signal to retry, not an error users see
    """An object changed between the recorded instant and linking (purged, or replaced)."""


class Damaged(StateMoved):
    """An object holds its recorded head but has lost files it had when recorded."""


@dataclass(slots=True)
class ObjectState:
    rel: str  # object directory, relative to the storage root
    id: str
    head: str | None  # None: no readable inventory; the directory is copied as it is
    digest: str  # sha512 of the head inventory's bytes ("" without one)
    sidecar: str = "inventory.json.sha512"
    namaste: str = "0=ocfl_object_1.1"
    stamp: Stamp = (0, 0, 0, 0)  # the root inventory's stat when recorded
    files: int = 0  # the object's files and bytes at its head
    bytes: int = 0

    def to_json(self) -> dict[str, object]:
        return {"o": self.rel, "id": self.id, "head": self.head, "sha512": self.digest,
                "sidecar": self.sidecar, "namaste": self.namaste, "st": list(self.stamp),
                "n": self.files, "b": self.bytes}

    def line(self) -> str:
        """``to_json()`` as ``json.dumps(..., separators=(",", ":"))`` writes it, without building
        the dict and walking it (a new base writes one per object)."""
        st = self.stamp
        head = "null" if self.head is None else _quote(self.head)
        return (f'{{"o":{_quote(self.rel)},"id":{_quote(self.id)},"head":{head},"sha512":{_quote(self.digest)},'
                f'"sidecar":{_quote(self.sidecar)},"namaste":{_quote(self.namaste)},'
                f'"st":[{int(st[0])},{int(st[1])},{int(st[2])},{int(st[3])}],"n":{int(self.files)},'
                f'"b":{int(self.bytes)}}}')

    @classmethod
    def from_json(cls, doc: dict) -> ObjectState:
        stamp = doc.get("st")
        return cls(doc["o"], doc["id"], doc["head"], doc["sha512"], doc["sidecar"], doc["namaste"],
                   tuple(stamp) if isinstance(stamp, list) and len(stamp) == 4 else (0, 0, 0, 0),  # type: ignore[arg-type]
                   int(doc.get("n", 0)), int(doc.get("b", 0)))


@dataclass
class RootState:
    objects: dict[str, ObjectState] = field(default_factory=dict)
    root_files: list[str] = field(default_factory=list)  # outside objects: namaste, layout, extensions/
    lthash: int | None = None  # the sum of the objects' digest vectors, when a scan computed it with them

    def size(self, own: str | None) -> tuple[int, int]:
        """(files, bytes) of the recorded state, the root's own files read from ``own``."""
        files = sum(o.files for o in self.objects.values()) + len(self.root_files)
        size = sum(o.bytes for o in self.objects.values())
        if own is not None:
            size += sum(os.lstat(f"{own}/{rel}").st_size for rel in self.root_files)
        return files, size

    def digest(self) -> str:
        """Identifies the state: equal digests, equal object inventories and root file names
        (digest.py: the one a :class:`~.stored.DeltaState` keeps up to date change by change)."""
        from fcrctl.services.backup.rootstate import digest

        total = digest.ZERO
        for o in self.objects.values():
            total = digest.add(total, digest.vector(digest.object_line(o.rel, o.head, o.digest)))
        return digest.state_digest(total, self.root_files)

    def as_found(self) -> set[str]:
        """Objects recorded without a readable inventory (copied as they are)."""
        return {o.rel for o in self.objects.values() if o.head is None}

    def save(self, path: Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"root": sorted(self.root_files)}) + "\n")
            for rel in sorted(self.objects):
                fh.write(self.objects[rel].line() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path) -> RootState:
        """The whole state a snapshot recorded, whether saved whole or as a base and a delta (stored.py)."""
        state = cls()
        try:
            with open(path, encoding="utf-8") as fh:
                header = json.loads(fh.readline())
                if isinstance(header, dict) and "base" in header:
                    from fcrctl.services.backup.rootstate import stored

                    return stored.DeltaState.open(path.parent).whole()
                state.root_files = list(header["root"])
                for line in fh:
                    o = ObjectState.from_json(json.loads(line))
                    state.objects[o.rel] = o
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CorruptData(f"{path} is unreadable ({e}): the backup is damaged") from e
        return state
