"""ACLs (``PATH/fcr:acl``) in an export: the one place export and import handle them, through the
Repository protocol's ``get_acl``/``put_acl`` where the backend says ``capabilities.acls``
(elsewhere ACL files are reported as skipped, never dropped silently)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcrctl.errors import NotFound

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.base import Repository


def supported(repo: Repository) -> bool:
    return bool(getattr(repo.capabilities, "acls", False))


def read(repo: Repository, path: str) -> Graph | None:
    """The ACL of ``path`` (internal ids), or None when it has none of its own (the export
    lists ``path`` before asking, so NotFound here is about the ACL)."""
    try:
        return repo.get_acl(path)
    except NotFound:
        return None


def write(repo: Repository, path: str, graph: Graph) -> None:
    repo.put_acl(path, graph)
