"""The local repository's clock: now, or the dates and users a ``dated()`` block imposes on writes"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fcrctl.repository.local import ocfl

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.local.store import Store


class Clock:
    """What a write stamps: dates for headers, users, and the OCFL version's date (on the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dated: tuple[str, str] | None = None  # (created, modified) while inside dated()
        self.by: tuple[str | None, str | None] = (None, None)  # (createdBy, lastModifiedBy) likewise
        self.acl: tuple[str, Graph] | None = None  # (path, its exported ACL) while inside dated(acl=...)
        self._lock = threading.Lock()

    def now(self) -> str:
        return self.dated[1] if self.dated is not None else ocfl.now_iso()

    @contextlib.contextmanager
    def dated_block(self, created: datetime, modified: datetime, *, version: datetime | None = None,
                    created_by: str | None = None, modified_by: str | None = None,
                    acl: tuple[str, Graph] | None = None) -> Iterator[None]:
        """Writes inside carry these dates (and users) in their headers, and ``version`` (default:
        ``modified``) as their OCFL version's date, as Fedora's migration tool keeps a source's
        (``fcrctl import``); ``acl`` (path, graph): the write of that path carries its ACL in the
        same version (see ResourceFiles.put_resource). One block at a time."""
        with self._lock:
            self.dated = (iso(created), iso(modified))
            self.by = (created_by, modified_by)
            self.acl = acl
            self.store.created = iso(version or modified)
            try:
                yield
            finally:
                self.dated = None
                self.by = (None, None)
                self.acl = None
                self.store.created = None


def iso(value: datetime) -> str:
    """A date as Fedora 6 writes them in headers and inventories (UTC, microseconds, Z)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value.year < 1000:  # strftime's %Y does not pad it to four digits; isoformat does
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # as strftime's, at a third of its cost
