"""Small pure helpers of LocalRepository: preconditions, digests, versions, ranges."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from fcrctl.errors import BadInput, Conflict, CorruptData, NotFound, PreconditionFailed
from fcrctl.repository.base import (
    BASIC_CONTAINER,
    CONTAINER_MODELS,
    MODEL_NAMES,
    Conditions,
    ResourceSpec,
    Version,
)
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.index import Row

ALG_ALIASES = {"sha": "sha1", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256",
                "sha-512": "sha512", "sha512": "sha512", "md5": "md5"}


def cache_index_path(target: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(target).encode("utf-8")).hexdigest()
    return base / "fcrctl" / "index" / f"{digest}.sqlite"


def container_model(model: str | None) -> str:
    if model is None:
        return BASIC_CONTAINER
    resolved = MODEL_NAMES.get(model, model)
    if resolved not in CONTAINER_MODELS:
        raise BadInput(f"unknown container model {model!r}: use basic, direct or indirect")
    return resolved


def keep_model(spec: ResourceSpec, row: Row) -> ResourceSpec:
    if not spec.is_binary and spec.model is None and row.model in CONTAINER_MODELS:
        spec = ResourceSpec(**{**spec.__dict__, "model": row.model})
    if row.headers.get("archivalGroup") and not spec.archival_group:
        spec = ResourceSpec(**{**spec.__dict__, "archival_group": True})
    return spec


def expected_digests(digests: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for alg, value in (digests or {}).items():
        name = ALG_ALIASES.get(alg.lower())
        if name is None:
            raise BadInput(f"unsupported digest algorithm {alg!r}: use one of sha512, sha256, sha1, md5")
        out[name] = value.strip().lower()
    return out


def normalize_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').upper()


def check_conditions(row: Row, conditions: Conditions, path: str) -> None:
    etag = (row.headers.get("stateToken") or "").upper()
    if conditions.if_match is not None:
        wanted = [normalize_etag(v) for v in conditions.if_match.split(",")]
        if "*" not in wanted and etag not in wanted:
            raise PreconditionFailed(
                f"{path} has changed (ETag {etag}, expected {conditions.if_match}): re-read it and retry", path=path)
    if conditions.if_none_match is not None:
        wanted = [normalize_etag(v) for v in conditions.if_none_match.split(",")]
        if "*" in wanted or etag in wanted:
            raise PreconditionFailed(f"{path} matches If-None-Match {conditions.if_none_match}", path=path)
    if conditions.if_unmodified_since is not None:
        modified = hdr.parse_time(row.headers.get("lastModifiedDate")).replace(microsecond=0)
        since = conditions.if_unmodified_since
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if modified > since.replace(microsecond=0):
            raise PreconditionFailed(f"{path} was modified at {modified.isoformat()}, after "
                                     f"{since.isoformat()}: re-read it and retry", path=path)


def version_ids(inventory: dict) -> list[str]:
    return sorted(inventory["versions"], key=ocfl.version_number)


MAX_LABEL = 200


def label_message(label: str | None) -> str:
    return ocfl.VERSION_MESSAGE if label is None else ocfl.LABEL_PREFIX + label


def label_of(entry: dict) -> str | None:
    message = entry.get("message") or ""
    return message[len(ocfl.LABEL_PREFIX):] if message.startswith(ocfl.LABEL_PREFIX) else None


def to_version(vid: str, entry: dict) -> Version:
    return Version(id=vid, created=hdr.parse_time(entry.get("created")), label=label_of(entry))


def check_label(label: str, inventory: dict, path: str) -> None:
    """A label names one version wherever a version is named, beside its id and memento: so it is
    the only one of its kind on the resource, and not shaped like a memento. It may look like an
    id ("v1", as Fedora 4 users label versions): a label is then looked up before the ids."""
    if not label.strip() or len(label) > MAX_LABEL or any(ord(c) < 0x20 or ord(c) == 0x7F for c in label):
        raise BadInput(f"version label {label!r}: use 1 to {MAX_LABEL} printable characters", path=path)
    if re.fullmatch(r"\d{14}", label):
        raise BadInput(f"version label {label!r} looks like a memento (YYYYMMDDHHMMSS): choose another", path=path)
    for vid in version_ids(inventory):
        if label_of(inventory["versions"][vid]) == label:
            raise Conflict(f"{path} already has a version labelled {label!r} ({vid}): choose another label",
                           path=path)


def resolve_version(inventory: dict, version: str, path: str) -> str:
    """A version named by its label, its id (v3), or a memento datetime (YYYYMMDDHHMMSS: the last
    version made at or before that second, as a Memento TimeGate answers)."""
    for vid in version_ids(inventory):
        if label_of(inventory["versions"][vid]) == version:
            return vid
    if version in inventory["versions"]:
        return version
    if re.fullmatch(r"\d{14}", version):
        at = datetime.strptime(version, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        chosen = None
        for vid in version_ids(inventory):
            if hdr.parse_time(inventory["versions"][vid].get("created")).replace(microsecond=0) <= at:
                chosen = vid
        if chosen is not None:
            return chosen
    raise NotFound(f"{path} has no version {version!r} (by id, label or memento): "
                   f"list them with `fcrctl versions list {path}`", path=path)


def read_headers(path: Path) -> dict:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise CorruptData(f"headers file {path} is unreadable ({e}): run `fcrctl fixity` / `fcrctl reindex`") from e


def stream_size(stream: BinaryIO) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None


class LimitedReader(io.RawIOBase):
    """A read-only view of ``length`` bytes of a stream from its current position."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        n = self._stream.readinto(view)  # type: ignore[attr-defined]
        self._left -= n or 0
        return n or 0

    def close(self) -> None:
        self._stream.close()
        super().close()


