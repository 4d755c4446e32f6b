"""Retired manifests: a deleted backup's full manifest, kept as the base of the backups built on it (issue 14)

Removing a chain's full manifest used to mean rewriting a backup built on it whole: O(objects) for
a delete of one backup. Instead the backup is **retired**: one put of a marker,
``manifests/<id>.<lines sha256>.retired`` (format.retired_key; a line of JSON saying the same), and
its manifest stays, unchanged, as a base. A retired backup is gone for every command that names
backups: listing, prune's selection, restore, download, verify and delete by id (NotFound, as for a missing manifest:
chain.read_backup); readers of chains read through it as through any base, and every sweep counts
what it names as used (space.referenced, sweep.py: it is a manifest of the store). The delete
that removes the last backup built on it deletes it too (its manifest, then its marker), and
frees its blobs: O(objects) once per chain, which the uploads' chain rule (merge.py) bounds to
one per objects/8 changes, as it bounds the full manifests they write.

The marker names the lines' sha256 its manifest has, so one listing of ``manifests/`` tells
which manifests are retired, and a marker left behind (an older fcrctl, which knows no markers,
deleted the manifest; a delete killed between the two deletes) retires nothing but a manifest
with those very lines; deletes remove such markers. Every store kind offers what this needs:
put, list, delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fcrctl.errors import CorruptData, NotFound, Unsupported
from fcrctl.services.backup.manifest import chain
from fcrctl.services.backup.manifest.format import RETIRED, line, retired_key
from fcrctl.services.backup.stores.base import BackupStore

_MANIFEST = ".jsonl.zst"
_SHA256_HEX = 64


@dataclass
class Survey:
    """A store's manifests as one listing and their headers give them."""

    heads: dict[str, chain.Link] = field(default_factory=dict)  # every manifest whose header reads
    retired: set[str] = field(default_factory=set)  # of those, the retired ones
    stale: list[str] = field(default_factory=list)  # markers that retire no manifest there is
    unreadable: set[str] = field(default_factory=set)  # manifests whose header does not read: their
    # bases are unknown (damaged, or of a newer fcrctl): any full manifest may be one

    def needed(self, staying: set[str]) -> set[str]:
        """What the backups ``staying`` are built on; every manifest while one is unreadable."""
        return set(self.heads) if self.unreadable else bases(self.heads, staying)

    def live(self) -> set[str]:
        return set(self.heads) - self.retired


def survey(store: BackupStore) -> Survey:
    out = Survey()
    listed: set[str] = set()
    markers: list[tuple[str, str]] = []
    for key in store.list("manifests/"):
        name = key.rsplit("/", 1)[-1]
        if name.endswith(_MANIFEST):
            listed.add(name[: -len(_MANIFEST)])
        elif (found := parse(name)) is not None:
            markers.append(found)
    for backup_id in sorted(listed):
        try:
            out.heads[backup_id] = chain.read_head(store, backup_id)
        except (CorruptData, NotFound, Unsupported):
            out.unreadable.add(backup_id)  # (a store that cannot answer stops the delete: Unavailable)
    for backup_id, sha in markers:
        link = out.heads.get(backup_id)
        if link is not None and link.lines_sha256 == sha:
            out.retired.add(backup_id)
        elif backup_id not in listed or link is not None:
            out.stale.append(retired_key(backup_id, sha))  # (an unreadable manifest's marker stays)
    return out


def parse(name: str) -> tuple[str, str] | None:
    """(backup id, lines sha256) of a marker's file name; None for any other name."""
    if not name.endswith(RETIRED):
        return None
    backup_id, _, sha = name[: -len(RETIRED)].rpartition(".")
    if len(sha) != _SHA256_HEX or any(c not in "0123456789abcdef" for c in sha) or not backup_id:
        return None
    return backup_id, sha


def bases(heads: dict[str, chain.Link], ids: set[str]) -> set[str]:
    """Every manifest that the chain of one of ``ids`` passes through (by the base ids the headers
    name: a chain this cannot resolve keeps what it names)."""
    out: set[str] = set()
    for backup_id in ids:
        link = heads.get(backup_id)
        for _ in range(chain.READ_DEPTH_MAX):
            if link is None or link.base is None or link.base["id"] in out:
                break
            out.add(link.base["id"])
            link = heads.get(link.base["id"])
    return out


def retire(store: BackupStore, link: chain.Link) -> None:
    """Retire the manifest ``link`` holds: one atomic put, durable before anything is deleted."""
    assert link.lines_sha256 is not None  # a base has its lines' sha256 (format 2)
    doc = {"retired": link.id, "linesSha256": link.lines_sha256}
    store.put(retired_key(link.id, link.lines_sha256), iter([line(doc)]))
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()


def stored(store: BackupStore, backup_id: str) -> chain.Link | None:
    """The header of the manifest an earlier upload of ``backup_id`` left in the store, if it reads."""
    try:
        return chain.read_head(store, backup_id)
    except (CorruptData, NotFound, Unsupported):
        return None


def revive(store: BackupStore, link: chain.Link, state_digest: object) -> bool:
    """An upload of a backup the store keeps retired: its manifest, a base of others, is not
    rewritten (whatever is built on it names its lines), only its marker deleted; the backup is
    listed again, its blobs all kept meanwhile. False when it is not retired there. CorruptData,
    nothing changed, when the store's manifest of that id holds another state."""
    if link.head["backup"].get("stateDigest") != state_digest:
        raise CorruptData(f"backup {link.id} in store {store.location} is not the backup of that id here (another "
                          f"state): other backups may be built on it; nothing was uploaded")
    if link.lines_sha256 is None or not store.exists(retired_key(link.id, link.lines_sha256)):
        return False
    store.delete(retired_key(link.id, link.lines_sha256))
    return True


def was(link: chain.Link) -> list[str]:
    """The ``was`` of a manifest written again over ``link`` for the same backup (revive checked the
    state): its lines' sha256s, so the manifests built on it still name it."""
    before = link.head.get("was")
    return [*(before if isinstance(before, list) else []), *([link.lines_sha256] if link.lines_sha256 else [])]
