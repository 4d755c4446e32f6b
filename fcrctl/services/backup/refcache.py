"""What each manifest and pack of a store names, cached beside the backups, so that a prune frees
what the removed backups held without reading every remaining manifest (issue 14).

A cache, never the truth: every entry is keyed by what the store holds now and rebuilt from it
when missing. In ``<home>/.store-refs/<sha256 of the store's location>/``:

``m-<backup id>-<lines sha256>``  the digests a manifest's lines name, by that lines' sha256
``p-<pack>``                        the digests pack ``p``'s index names (a pack is named by its bytes)
``partial.json``                    packs a sweep left partly unused (below --max-unused)
``pending.json``                    what a delete that has not finished its sweep removed: the
                                    manifests' ids and the digests they named, written before
                                    the first manifest goes, so the next delete frees them

Each entry is the sorted first 8 bytes of each digest (a uint64), with a sha256 trailer checked on
every load. A prefix shared by a live and a dead digest keeps the dead one: a collision can only
keep a blob, never free one. A manifest is looked up by its header's lines' sha256, which every
writer (upload, fold) changes with the lines; an entry is built by reading the manifest whole and
hashing its lines. The cache is doubtful, and the delete marks every manifest instead (the full
sweep), when it is absent, when it names a manifest the store no longer has that no delete of
this cache removed (another machine deleted it: its blobs are not in ``pending``), or when a
manifest has no lines' sha256 (format 1). Entries are written to a temp file, synced, renamed.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import sys
from array import array
from collections.abc import Iterable
from pathlib import Path

DIR = ".store-refs"
_PENDING = "pending.json"
_PARTIAL = "partial.json"
_MAGIC = b"fcrctl-refs-1\n"
_TRAILER = 32


def prefix(digest: str) -> int:
    return int(digest[:16], 16)


class Refs:
    """One entry: a sorted array of digest prefixes."""

    def __init__(self, values: array) -> None:
        self.values = values

    def __contains__(self, key: int) -> bool:
        i = bisect.bisect_left(self.values, key)
        return i < len(self.values) and self.values[i] == key

    def discard_from(self, keys: set[int]) -> None:
        """Remove from ``keys`` every prefix this entry holds: by lookup when ``keys`` is small,
        else by one pass in C over the entry."""
        if len(keys) * 24 < len(self.values):
            keys.difference_update([k for k in keys if k in self])
        else:
            keys.difference_update(self.values)


    def meets(self, keys: set[int]) -> bool:
        """Whether this entry holds any of ``keys``."""
        if len(keys) * 24 < len(self.values):
            return any(k in self for k in keys)
        return not keys.isdisjoint(self.values)


class RefCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, home: Path | None, location: str) -> RefCache | None:
        """The cache of the store at ``location`` in the backups directory ``home`` (None: no home)."""
        if home is None or not home.is_dir():
            return None
        return cls(home / DIR / hashlib.sha256(location.encode()).hexdigest()[:32])

    def exists(self) -> bool:
        return self.root.is_dir()

    # -- entries ------------------------------------------------------------------------------
    def manifest(self, backup_id: str, lines_sha256: str) -> Refs | None:
        return self._load(f"m-{backup_id}-{lines_sha256}")

    def put_manifest(self, backup_id: str, lines_sha256: str, digests: Iterable[str]) -> Refs:
        return self._store(f"m-{backup_id}-{lines_sha256}", digests)

    def pack(self, pack: str) -> Refs | None:
        return self._load(f"p-{pack}")

    def put_pack(self, pack: str, digests: Iterable[str]) -> Refs:
        return self._store(f"p-{pack}", digests)

    def manifests(self) -> dict[str, str]:
        """The cached manifests: {file name: backup id}."""
        out = {}
        for name in self._names():
            if name.startswith("m-") and len(name) > 67:
                out[name] = name[2:-65]
        return out

    def retain(self, manifests: set[tuple[str, str]], packs: set[str] | None) -> None:
        """Drop the entries of manifests and packs no longer in the store (``packs`` None: keep them)."""
        keep = {f"m-{bid}-{sha}" for bid, sha in manifests}
        for name in self._names():
            gone = (name.startswith("m-") and name not in keep) or (
                packs is not None and name.startswith("p-") and name[2:] not in packs)
            if gone:
                with contextlib.suppress(OSError):
                    (self.root / name).unlink()

    def _names(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.root) if not n.endswith(".tmp")]
        except OSError:
            return []

    def _load(self, name: str) -> Refs | None:
        try:
            data = (self.root / name).read_bytes()
        except OSError:
            return None
        body, trailer = data[:-_TRAILER], data[-_TRAILER:]
        if not body.startswith(_MAGIC) or hashlib.sha256(body).digest() != trailer or \
                (len(body) - len(_MAGIC)) % 8:
            return None  # damaged: rebuilt from the store
        values = array("Q")
        values.frombytes(body[len(_MAGIC):])
        if sys.byteorder != "little":
            values.byteswap()
        return Refs(values)

    def _store(self, name: str, digests: Iterable[str]) -> Refs:
        values = array("Q", sorted({prefix(d) for d in digests}))
        stored = array("Q", values)
        if sys.byteorder != "little":
            stored.byteswap()
        body = _MAGIC + stored.tobytes()
        with contextlib.suppress(OSError):  # a cache that cannot be written is rebuilt next time
            _write(self.root / name, body + hashlib.sha256(body).digest())
        return Refs(values)

    # -- a delete's removed manifests, until its sweep is done -------------------------------
    def pending(self) -> tuple[set[str], set[str]] | None:
        """(removed ids, candidate digests) left by deletes that did not finish their sweep;
        None if the record is unreadable (the cache is then doubtful)."""
        try:
            with open(self.root / _PENDING, encoding="utf-8") as fh:
                doc = json.load(fh)
            return {str(i) for i in doc["ids"]}, {str(d) for d in doc["digests"]}
        except FileNotFoundError:
            return set(), set()
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def set_pending(self, ids: set[str], digests: set[str]) -> None:
        """Unwritten (no space), a delete killed before its sweep leaves the cache naming manifests
        the store lacks: doubtful, so the next delete marks every manifest."""
        with contextlib.suppress(OSError):
            _write(self.root / _PENDING, json.dumps({"ids": sorted(ids), "digests": sorted(digests)}).encode())

    def partial(self) -> set[str]:
        """The packs a candidate sweep left with unused frames (below --max-unused): looked at again
        by the next sweep, so a lower --max-unused frees them."""
        try:
            with open(self.root / _PARTIAL, encoding="utf-8") as fh:
                return {str(p) for p in json.load(fh)}
        except (OSError, ValueError, TypeError):
            return set()

    def set_partial(self, packs: set[str]) -> None:
        with contextlib.suppress(OSError):
            _write(self.root / _PARTIAL, json.dumps(sorted(packs)).encode())

    def clear_pending(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / _PENDING).unlink()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
