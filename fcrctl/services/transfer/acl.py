"""ACLs (``PATH/fcr:acl``) in an export: the one place export and import handle them.

The Repository protocol has no ACL calls yet (the access-control work adds them). Until a
backend says ``capabilities.acls`` and offers ``get_acl(path) -> Graph | None`` and
``put_acl(path, graph)``, ACL files are reported as skipped, never dropped silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.base import Repository


def supported(repo: Repository) -> bool:
    return bool(getattr(repo.capabilities, "acls", False))


def read(repo: Repository, path: str) -> Graph | None:
    """The ACL of ``path`` (internal ids), or None when it has none."""
    from fcrctl.errors import NotFound

    getter: Any = getattr(repo, "get_acl")  # noqa: B009 (present when capabilities.acls)
    try:
        return getter(path)
    except NotFound:  # the backends answer NotFound for a resource without an ACL of its own
        return None


def write(repo: Repository, path: str, graph: Graph) -> None:
    putter: Any = getattr(repo, "put_acl")  # noqa: B009
    putter(path, graph)
