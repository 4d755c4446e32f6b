"""What a restore re-indexes over a snapshot's base index copy: the objects changed since the base

A snapshot built on an older state base (rootstate/stored.py) links the index as of that base
(``index.base.sqlite``) instead of copying the index whole, and writes ``index.delta.jsonl``:
one line per object directory changed since the base, ``{"changed": rel}``, and per object gone
since, ``{"gone": id}``. Both go to stores as blobs (``indexBaseSha512``, ``indexDeltaSha512``
in backup.json and the manifest): the base blob is the base snapshot's own index blob, sent once.
A restore, from the snapshot or from a store's copy of it, loads the base index and re-indexes
only what the delta names: O(changes), not O(objects).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from fcrctl.errors import CorruptData
from fcrctl.services.backup.snapshot.info import INDEX, INDEX_BASE, INDEX_KEY

INDEX_DELTA = "index.delta.jsonl"
INDEX_BASE_KEY = "indexBaseSha512"  # in backup.json and manifests: the sha512 of the base index copy (its blob)
INDEX_DELTA_KEY = "indexDeltaSha512"  # and of the delta file
BASE_RESOURCES_KEY = "indexBaseResources"  # in backup.json: live resources in the base's index (counts go from it)
# (backup.json key, file in the snapshot): the index copies a store keeps as blobs beside the
# objects, each written back by a download (a base index is the same blob for every snapshot on it)
INDEX_BLOBS = ((INDEX_KEY, INDEX), (INDEX_BASE_KEY, INDEX_BASE), (INDEX_DELTA_KEY, INDEX_DELTA))
LINE_MAX = 16 * 1024  # an object directory or id is at most a few hundred bytes


def write(path: Path, changed: Iterable[str], gone: Iterable[str]) -> str:
    """The delta file, synced; returns its sha512."""
    h = hashlib.sha512()
    with open(path, "wb") as fh:
        for key, values in (("changed", changed), ("gone", gone)):
            for value in values:
                line = (json.dumps({key: value}, separators=(",", ":")) + "\n").encode()
                h.update(line)
                fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return h.hexdigest()


def read(path: Path, backup_id: str) -> tuple[list[str], list[str]]:
    """(object directories changed since the base, ids of objects gone since). A file from a
    store was verified against its digest; still, every line is bounded and every directory
    must stay under the storage root: CorruptData otherwise."""
    from fcrctl.services.backup.validate import relative_path

    changed: list[str] = []
    gone: list[str] = []

    def damaged(what: str) -> CorruptData:
        return CorruptData(f"backup {backup_id}: {INDEX_DELTA} is damaged ({what}); nothing was changed "
                           f"(download the backup again, or restore another one)")

    try:
        with open(path, "rb") as fh:
            for number, line in enumerate(iter(lambda: fh.readline(LINE_MAX + 1), b""), 1):
                if len(line) > LINE_MAX:
                    raise damaged(f"line {number} is longer than {LINE_MAX} bytes")
                try:
                    doc = json.loads(line)
                except ValueError:
                    raise damaged(f"line {number} is not JSON") from None
                if not isinstance(doc, dict) or len(doc) != 1:
                    raise damaged(f"line {number} is not one change")
                if isinstance(doc.get("changed"), str):
                    try:
                        changed.append(relative_path(doc["changed"], backup_id, "a changed object"))
                    except CorruptData:
                        raise damaged(f"line {number} names a directory outside the storage root") from None
                elif isinstance(doc.get("gone"), str) and doc["gone"]:
                    gone.append(doc["gone"])
                else:
                    raise damaged(f"line {number} names neither a changed nor a gone object")
    except OSError as e:
        raise damaged(e.strerror or str(e)) from e
    return changed, gone
