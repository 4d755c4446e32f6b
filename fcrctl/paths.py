"""Repository paths: validation and conversion to Fedora ids.

A repository path is ``/`` or ``/seg/seg``: no empty, ``.`` or ``..`` segments, no ``fcr:``
segments (reserved by Fedora), no ``.fcrepo`` segment (where OCFL objects keep their headers),
no control characters, each segment short enough to be a file name. ``/a/b/fcr:metadata``
names the description of binary ``/a/b``; ``split_metadata`` separates that suffix for the
callers that accept it.
"""

from __future__ import annotations

from fcrctl.errors import BadInput

ROOT_ID = "info:fedora"
METADATA = "fcr:metadata"
ACL = "fcr:acl"
MAX_SEGMENT_BYTES = 200  # leaves room for "~fcr-desc.nt" and temp suffixes under NAME_MAX (255)


NOT_IN_URIS = frozenset(' <>"{}|\\^`')


def normalize(path: str) -> str:
    """Validate ``path`` and return its canonical form (leading slash, no trailing slash)."""
    if not isinstance(path, str) or path == "":
        raise BadInput("empty path: give a repository path such as /collection/item")
    if not path.startswith("/"):
        path = "/" + path
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    if path == "/":
        return path
    for segment in path[1:].split("/"):
        _check_segment(segment, path)
    return path


def _check_segment(segment: str, path: str) -> None:
    if segment == "":
        raise BadInput(f"path {path!r} has an empty segment (//): remove it", path=path)
    if segment in (".", ".."):
        raise BadInput(f"path {path!r} contains {segment!r}: use an absolute path without dot segments", path=path)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in segment):
        raise BadInput(f"path {path!r} contains a control character: remove it", path=path)
    if not NOT_IN_URIS.isdisjoint(segment):  # every segment of every request passes here: no set built
        bad = sorted(set(segment) & NOT_IN_URIS)
        # a resource's path is part of its URI, and RDF cannot hold these in one
        raise BadInput(f"path {path!r} contains {' '.join(repr(c) for c in bad)}, which URIs cannot hold: "
                       f"use '-' or '_' instead", path=path)
    if "#" in segment:  # a resource's id with '#' would be a fragment of another resource's id
        raise BadInput(f"path {path!r} contains '#', which starts a fragment in a URI: use '-' or '_' instead",
                       path=path)
    if segment.startswith("fcr:") or segment.startswith("fcr-") or "~fcr-" in segment:
        raise BadInput(f"path {path!r}: segment {segment!r} is reserved by Fedora (fcr:, fcr-, ~fcr-)", path=path)
    if segment.lower() == ".fcrepo":
        # inside an OCFL object, .fcrepo/ holds the headers: a resource of that name would collide with them
        raise BadInput(f"path {path!r}: segment '.fcrepo' is reserved for Fedora's headers: choose another name",
                       path=path)
    if segment.startswith("tx:"):
        raise BadInput(f"path {path!r}: segment {segment!r} is reserved for transactions", path=path)
    try:
        size = len(segment.encode("utf-8"))
    except UnicodeEncodeError:  # bytes that are not UTF-8, carried as lone surrogates (see names.py)
        from fcrctl.names import utf8_name

        raise BadInput(f"path {utf8_name(path)!r} is not UTF-8 (shown with %XX for its other bytes): "
                       "repository paths are UTF-8 text", path=utf8_name(path)) from None
    if size > MAX_SEGMENT_BYTES:
        raise BadInput(f"path segment of {size} bytes is too long (max {MAX_SEGMENT_BYTES}): shorten it", path=path)


def split_metadata(path: str) -> tuple[str, bool]:
    """``/bin/fcr:metadata`` -> (``/bin``, True); anything else -> (normalized, False)."""
    stripped = path.rstrip("/")
    if stripped.endswith("/" + METADATA):
        return normalize(stripped[: -len(METADATA) - 1] or "/"), True
    return normalize(path), False


def split_acl(path: str) -> tuple[str, bool]:
    """``/a/fcr:acl`` -> (``/a``, True): the ACL of ``/a``; anything else -> (``path``, False), unchecked."""
    stripped = path.rstrip("/") if isinstance(path, str) else path
    if isinstance(stripped, str) and (stripped == ACL or stripped.endswith("/" + ACL)):
        return normalize(stripped[: -len(ACL)].rstrip("/") or "/"), True
    return path, False


def parent(path: str) -> str | None:
    if path == "/":
        return None
    head = path.rsplit("/", 1)[0]
    return head or "/"


def join(parent_path: str, name: str) -> str:
    return normalize(("" if parent_path == "/" else parent_path) + "/" + name)


def ancestors(path: str) -> list[str]:
    """Ancestors from the root down, excluding ``path`` itself."""
    out: list[str] = []
    p = parent(path)
    while p is not None:
        out.append(p)
        p = parent(p)
    return out[::-1]


def is_within(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


def to_id(path: str) -> str:
    return ROOT_ID if path == "/" else ROOT_ID + path


def from_id(fedora_id: str) -> str:
    """``info:fedora/a/b`` -> ``/a/b``; BadInput for ids outside the repository."""
    if fedora_id == ROOT_ID or fedora_id == ROOT_ID + "/":
        return "/"
    if not fedora_id.startswith(ROOT_ID + "/"):
        raise BadInput(f"{fedora_id!r} is not a Fedora resource id (info:fedora/...)")
    return fedora_id[len(ROOT_ID) :]


def after_bound(parent_path: str, name: str | None, *, recursive: bool = False) -> str | None:
    """The path ``ls --after NAME`` pages from: ``parent_path``'s child ``NAME``, which need not
    exist (children sort by name, in code points, and those after it are listed); None for None.
    A page is one container's children: not of a ``recursive`` listing."""
    if name is None:
        return None
    if recursive:
        raise BadInput("--after pages one container's children: leave out --recursive", path=parent_path)
    if "/" in name or name == "":
        raise BadInput(f"--after takes the name of a child of {parent_path} (the last one a page listed), "
                       f"not {name!r}: give its last path segment", path=parent_path)
    return join(parent_path, name)
