"""The local backend: a Fedora 6 OCFL storage root plus a rebuildable SQLite index."""

from fcrctl.repository.local.repository import LocalRepository

__all__ = ["LocalRepository"]
