"""The manifest format: its store keys, the files of an object line, and the transfer report

See the package docstring for the layout of a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fcrctl import paths
from fcrctl.services.backup import validate

FORMAT = "fcrctl-backup-manifest"
VERSION = 2  # 2: a manifest may carry only the changes since a base (chain.py)
READ_VERSIONS = (1, 2)
INLINE_MAX = 512  # sidecars, namaste files: cheaper inline than as blobs
HEADER_FRAME_MAX = 1 << 20  # a manifest's header frame (one backup's JSON) is a few KB
LEVEL = 3
SMALL_BATCH = 256 << 10  # small files handed to an upload worker at once

Progress = Callable[[int], None]


def blob_key(digest: str) -> str:
    return f"blobs/{digest[:2]}/{digest}"


def manifest_key(backup_id: str) -> str:
    return f"manifests/{backup_id}.jsonl.zst"


RETIRED = ".retired"


def retired_key(backup_id: str, lines_sha256: str) -> str:
    """The marker that retires the manifest of ``backup_id`` whose lines hash to ``lines_sha256``
    (retired.py): named, not filled, so one listing of manifests/ finds every one."""
    return f"manifests/{backup_id}.{lines_sha256}{RETIRED}"


@dataclass
class Entry:
    """One file of a snapshot: by digest (a blob) or inline."""

    rel: str  # relative to the storage root
    digest: str | None
    inline: str | None = None


@dataclass
class ObjectFiles:
    object_rel: str  # "" for the storage root's own files
    object_id: str | None
    files: list[Entry] = field(default_factory=list)
    line_id: bytes = b""  # read from a manifest: what identifies its line (check_manifest)

    @property
    def where(self) -> str:
        if self.object_id and self.object_id.startswith(paths.ROOT_ID):
            return paths.from_id(self.object_id)
        return self.object_rel or "storage root"

    def to_json(self) -> dict[str, Any]:
        out: list[list[str | None]] = []
        for e in self.files:
            rel = e.rel[len(self.object_rel) + 1:] if self.object_rel else e.rel
            out.append([rel, e.digest] if e.inline is None else [rel, None, e.inline])
        return {"o": self.object_rel, "id": self.object_id, "f": out}

    @classmethod
    def from_json(cls, doc: dict[str, Any], backup_id: str = "") -> ObjectFiles:
        """A manifest line, its paths and digests checked (validate.py): it is outside data."""
        rel, object_id, checked = validate.object_line(doc, backup_id)
        files = [Entry(f"{rel}/{name}" if rel else name, d, inline) for name, d, inline in checked]
        return cls(rel, object_id, files)

    @classmethod
    def _checked_before(cls, doc: dict[str, Any]) -> ObjectFiles:
        """A line known to be byte for byte one that :func:`check_manifest` checked."""
        rel = doc["o"]
        files = [Entry(f"{rel}/{f[0]}" if rel else f[0], f[1], f[2] if len(f) > 2 else None) for f in doc["f"]]
        return cls(rel, doc.get("id"), files)



@dataclass
class TransferReport:
    id: str
    store: str
    objects: int = 0
    files: int = 0
    blobs_sent: int = 0
    blobs_reused: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    manifest_copied: bool = False  # the state was unchanged: the previous manifest's objects were reused whole
    base: str | None = None  # the manifest holds only the changes since this backup's (chain.py)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}



def line(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
