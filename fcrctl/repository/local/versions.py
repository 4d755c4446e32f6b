"""Versions of local resources: their OCFL object's versions listed, created (with a label) and reverted to"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from fcrctl import paths
from fcrctl.errors import NotFound, Unsupported
from fcrctl.repository.base import ResourceInfo, Version
from fcrctl.repository.local import headers as hdr
from fcrctl.repository.local import ocfl
from fcrctl.repository.local.entries import headers_json
from fcrctl.repository.local.store import Change
from fcrctl.repository.local.support import (
    check_label,
    label_message,
    label_of,
    read_headers,
    resolve_version,
    to_version,
    version_ids,
)

if TYPE_CHECKING:
    from fcrctl.repository.local.dates import Clock
    from fcrctl.repository.local.resources import Resources


class Versions:
    """A resource's versions are its OCFL object's: a new one is a commit of the unchanged head state."""

    def __init__(self, resources: Resources, clock: Clock,
                 writing: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self.resources = resources
        self.store = resources.store
        self.clock = clock
        self.writing = writing

    def versions(self, path: str) -> list[Version]:
        """Oldest first; a deleted resource's too, its deletion the last (as Fedora 6.5 lists a tombstone's TimeMap).
        A member of an archival group lists the versions of its group that changed it (or carry a label), as
        Fedora 6 lists a resource's own (its headers' change history); the group lists them all."""
        path, _ = paths.split_metadata(path)
        row = self.resources.row(path, allow_deleted=True)
        inventory = self.store.inventory(row.object_rel)
        ids = version_ids(inventory)
        rid = paths.to_id(path)
        if row.object_id != rid:
            ids = _changed(inventory, ids, hdr.headers_path(row.object_id, rid))
        return [to_version(vid, inventory["versions"][vid]) for vid in ids]

    def create_version(self, path: str, *, label: str | None = None) -> Version:
        path, _ = paths.split_metadata(path)
        with self.writing():
            row = self.resources.row(path)
            inventory = self.store.inventory(row.object_rel)
            if label is not None:
                check_label(label, inventory, path)
            state = self.store.head_state(row.object_id)
            self.store.commit([Change(row.object_id, state=dict(state), message=label_message(label))])
            if row.object_id != paths.to_id(path) and label is None:
                # a group's member the new version did not change: its TimeMap's last, as Fedora 6 answers
                # (FedoraVersioning.addVersion)
                return self.versions(path)[-1]
            inventory = self.store.inventory(row.object_rel)
            return to_version(inventory["head"], inventory["versions"][inventory["head"]])

    def revert(self, path: str, version: str) -> ResourceInfo:
        path, _ = paths.split_metadata(path)
        with self.writing():
            row = self.resources.row(path)
            inventory = self.store.inventory(row.object_rel)
            vid = resolve_version(inventory, version, path)
            state: dict[str, str | ocfl.NewFile] = dict(ocfl.state_digests(inventory, vid))
            rid = paths.to_id(path)
            hl = hdr.headers_path(row.object_id, rid)
            if hl not in state:
                raise NotFound(f"{path} did not exist in version {version}", path=path)
            files = ocfl.state_files(inventory, vid)
            h = read_headers(self.resources.root / row.object_rel / files[hl])
            now = self.clock.now()
            h.update({"stateToken": hdr.new_state_token(), "lastModifiedDate": now, "mementoCreatedDate": now})
            state[hl] = ocfl.NewFile(data=headers_json(h))
            change = Change(row.object_id, state=state, message=f"revert to {vid}")
            self.store.commit([change])
            return self.resources.info(self.resources.row(path).headers, path)

    def delete_version(self, path: str, version: str) -> None:
        raise Unsupported("the local repository keeps OCFL versions immutable; versions cannot be deleted")


def _changed(inventory: dict, ids: list[str], logical: str) -> list[str]:
    """The versions among ``ids`` whose ``logical`` file differs from the one before (and labelled ones where it
    exists: a label names a version made on purpose)."""
    out: list[str] = []
    previous = None
    for vid in ids:
        entry = inventory["versions"][vid]
        digest = next((d for d, names in entry["state"].items() if logical in names), None)
        if digest is not None and (digest != previous or label_of(entry) is not None):
            out.append(vid)
        previous = digest
    return out
