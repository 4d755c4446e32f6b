"""Backup metadata (backup.json), the names of a snapshot's parts, and snapshot ids"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcrctl import __version__
from fcrctl.errors import BadInput, CorruptData, NotFound

META = "backup.json"
TREE = "ocfl-root"
LINKED = "linked-root"  # a complete tree linked on demand for a snapshot that reads the live root
INDEX = "index.sqlite"  # the repository's index at the snapshot's instant (absent when inconsistent)
INDEX_BASE = "index.base.sqlite"  # instead of INDEX: the index at the state's base instant (stale for its delta)
INDEX_KEY = "indexSha512"  # in backup.json and manifests: the sha512 of that index copy (its blob)
EPOCH_KEY = "liveEpoch"  # in backup.json of a snapshot that reads its objects from the live root
JOURNAL_KEY = "journal"  # in backup.json: [journal identity, position, storage root inode] at the instant
AS_FOUND_KEY = "objectsAsFound"  # in backup.json: objects recorded without a readable inventory (copied)
LABEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ID_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\dZ)_([A-Za-z0-9._-]{1,64})$")
STAMP = "%Y-%m-%dT%H.%M.%SZ"


@dataclass
class BackupInfo:
    id: str
    datetime: str  # ISO 8601, UTC
    label: str
    resources: int = 0
    files: int = 0
    bytes: int = 0
    repository: str = ""
    fcrctl_version: str = __version__
    potentially_inconsistent: bool = False
    kind: str = "snapshot"  # snapshot | crawl | failsafe
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. lockHeldSeconds, seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "datetime": self.datetime,
            "label": self.label,
            "resources": self.resources,
            "files": self.files,
            "bytes": self.bytes,
            "repository": self.repository,
            "fcrctlVersion": self.fcrctl_version,
            "potentiallyInconsistent": self.potentially_inconsistent,
            "kind": self.kind,
            **self.extra,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BackupInfo:
        known = {"id", "datetime", "label", "resources", "files", "bytes", "repository", "fcrctlVersion",
                 "potentiallyInconsistent", "kind"}
        try:
            return cls(
                id=str(doc["id"]), datetime=str(doc["datetime"]), label=str(doc.get("label", "")),
                resources=int(doc.get("resources", 0)), files=int(doc.get("files", 0)), bytes=int(doc.get("bytes", 0)),
                repository=str(doc.get("repository", "")), fcrctl_version=str(doc.get("fcrctlVersion", "")),
                potentially_inconsistent=bool(doc.get("potentiallyInconsistent", False)),
                kind=str(doc.get("kind", "snapshot")),
                extra={k: v for k, v in doc.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptData(
                f"backup metadata is malformed ({e}): delete the backup or download it again from a store"
            ) from e

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.datetime)

    @property
    def epoch(self) -> int | None:
        """Set for a snapshot whose objects are read from its repository's live root."""
        value = self.extra.get(EPOCH_KEY)
        return value if isinstance(value, int) else None


# -- ids ---------------------------------------------------------------------------------------
def check_label(label: str) -> str:
    if not LABEL_RE.match(label):
        raise BadInput(
            f"malformed backup label {label!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. nightly)"
        )
    return label


def make_id(label: str | None, now: datetime) -> tuple[str, str]:
    label = check_label(label) if label is not None else str(uuid.uuid4())
    return f"{now.astimezone(UTC).strftime(STAMP)}_{label}", label


def unique_id(home: Path, label: str, when: datetime) -> tuple[str, str]:
    """An id no backup in ``home`` has, for backups fcrctl names itself (fail-safes, server-side):
    the label gets a counter (previous, previous-2, ...) when the second is taken already."""
    backup_id, label = make_id(label, when)
    n = 1
    while (home / backup_id).exists():
        n += 1
        backup_id, _ = make_id(f"{label}-{n}", when)
    return backup_id, label


def check_id(backup_id: str) -> str:
    if not ID_RE.match(backup_id):
        raise NotFound(
            f"no backup {backup_id!r}: ids look like 2026-11-22T14.20.15Z_nightly (see `fcrctl list-backups`)"
        )
    return backup_id
