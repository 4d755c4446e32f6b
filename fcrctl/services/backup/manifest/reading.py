"""Reading manifests from a store: streamed and checked line by line; a store's backups listed"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup import validate
from fcrctl.services.backup.manifest import chain
from fcrctl.services.backup.manifest.format import ObjectFiles
from fcrctl.services.backup.snapshot import BackupInfo
from fcrctl.services.backup.stores.base import BackupStore


# -- reading manifests --------------------------------------------------------------------------
def read_manifest(store: BackupStore, backup_id: str,
                  checked: list[bytes] | None = None) -> tuple[BackupInfo, Iterator[ObjectFiles]]:
    """The backup's metadata and a stream of its objects, each line checked as it comes
    (validate.py); a manifest stored as changes to a base is merged with its chain as it streams
    (chain.py). CorruptData if truncated, damaged, a link of its chain is missing or damaged, or
    its lines do not hash to the ``linesSha256`` its end line gives (raised at the end: a reader
    that writes calls :func:`check_manifest` first, or writes only into a staging directory it
    drops on any error, as downloads.download_into does). ``checked``: what check_manifest returned;
    each line must then be the one it checked (a store cannot change the manifest between the
    two reads), and is not checked again."""
    links = chain.resolve(store, backup_id)
    info = BackupInfo.from_json(links[0].head["backup"])

    def objects() -> Iterator[ObjectFiles]:
        n = 0
        lines = chain.merged(store, links)
        try:
            for _rel, _gone, line in lines:
                try:
                    doc = json.loads(line)
                except (ValueError, RecursionError) as e:
                    raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e
                if checked is None:
                    obj = ObjectFiles.from_json(doc, backup_id)
                    obj.line_id = hashlib.sha256(line).digest()[:_LINE_ID]
                    yield obj
                    continue
                if n >= len(checked) or hashlib.sha256(line).digest()[:_LINE_ID] != checked[n]:
                    raise validate.damaged(backup_id, "it changed while it was read")
                n += 1
                yield ObjectFiles._checked_before(doc)
            if checked is not None and n != len(checked):
                raise validate.damaged(backup_id, "it changed while it was read")
        finally:
            lines.close()

    return info, objects()


_LINE_ID = 12  # bytes of a line's sha256 kept between the two reads: 12 bytes an object


def check_manifest(store: BackupStore, backup_id: str) -> list[bytes]:
    """Read the whole manifest once, checking every line, its object placement and its
    ``linesSha256``, before anything is written from it. Returns what identifies each line,
    for the second, streaming read that writes (``read_manifest(..., checked=)``)."""
    info, objects = read_manifest(store, backup_id)
    layout = validate.LayoutCheck()
    lines: list[bytes] = []
    for obj in objects:
        lines.append(obj.line_id)
        if obj.object_rel:
            layout.object(obj.object_rel, obj.object_id)
        else:
            layout.root((e.rel, e.digest, e.inline) for e in obj.files)
    layout.finish(backup_id)
    return lines


_lines = chain.raw_lines


def list_store(store: BackupStore, *, retired: bool = False) -> list[BackupInfo]:
    """The store's backups, oldest first; ``retired``: with the manifests kept only as bases
    (retired.py), which every sweep must count as used."""
    from fcrctl.services.backup.manifest.retired import parse

    out = []
    names = [key.rsplit("/", 1)[-1] for key in store.list("manifests/")]
    markers = set() if retired else {found for name in names if (found := parse(name)) is not None}
    for name in names:
        if not name.endswith(".jsonl.zst"):
            continue
        backup_id = name[: -len(".jsonl.zst")]
        try:  # its header only: a backup whose base is damaged is listed (verify-backup says what is wrong)
            link = chain.read_head(store, backup_id)
        except FcrctlError:
            continue
        if (backup_id, link.lines_sha256) in markers:
            continue
        out.append(BackupInfo.from_json(link.head["backup"]))
    out.sort(key=lambda b: (b.datetime, b.id))
    return out
