"""Request path -> Target: which resource, and which Fedora endpoint (fcr:...) of it.

``{base}/a/b``                        resource /a/b
``{base}/a/b/fcr:metadata``           description of binary /a/b
``{base}/a/b/fcr:versions[/LABEL]``   versions (list / one version; ``/fcr:metadata`` after it)
``{base}/a/b/fcr:fixity``             fixity report;  ``/fcr:tombstone``, ``/fcr:acl``
``{base}/fcr:tx``, ``/fcr:backup``, ``/fcr:restore``   repository services (root only)
``{base}/tx:ID/...``                  the same, inside a transaction
``{base}/fcr:tx/ID``                  a transaction, Fedora 6 style

Anything else with an ``fcr:`` segment, dot segments, or a path outside ``base`` is refused
(BadInput -> 400, OutsideBase -> 404) before a handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fcrctl import paths
from fcrctl.errors import BadInput, NotFound

RESOURCE = "resource"
METADATA = "metadata"
VERSIONS = "versions"
VERSION = "version"
VERSION_METADATA = "version_metadata"
FIXITY = "fixity"
TOMBSTONE = "tombstone"
ACL = "acl"
TX = "tx"
TX_COMMIT = "tx_commit"
TX_ROLLBACK = "tx_rollback"
TX_ID = "tx_id"  # Fedora 6: {base}/fcr:tx/ID (the id is in Target.label)
BACKUP = "backup"
RESTORE = "restore"

# endpoint segment(s) after the resource path -> endpoint name (LABEL matches one segment)
_SUFFIXES: dict[tuple[str, ...], str] = {
    ("fcr:metadata",): METADATA,
    ("fcr:versions",): VERSIONS,
    ("fcr:versions", "LABEL"): VERSION,
    ("fcr:versions", "LABEL", "fcr:metadata"): VERSION_METADATA,
    # Fedora 6 names a binary description's mementos (and TimeMap) below its fcr:metadata
    ("fcr:metadata", "fcr:versions"): VERSIONS,
    ("fcr:metadata", "fcr:versions", "LABEL"): VERSION_METADATA,
    ("fcr:fixity",): FIXITY,
    ("fcr:tombstone",): TOMBSTONE,
    ("fcr:acl",): ACL,
}
_ROOT_SERVICES: dict[tuple[str, ...], str] = {
    ("fcr:tx",): TX,
    ("fcr:tx", "fcr:commit"): TX_COMMIT,
    ("fcr:tx", "fcr:rollback"): TX_ROLLBACK,
    ("fcr:commit",): TX_COMMIT,
    ("fcr:rollback",): TX_ROLLBACK,
    ("fcr:backup",): BACKUP,
    ("fcr:restore",): RESTORE,
}


@dataclass(frozen=True)
class Target:
    path: str  # repository path of the resource
    endpoint: str = RESOURCE
    label: str | None = None  # version label for VERSION / VERSION_METADATA
    tx: str | None = None  # transaction id from a /tx:ID prefix


def request_path(environ: dict[str, Any]) -> str:
    """The request's decoded path, refused (400) when its bytes are not UTF-8: werkzeug would
    replace them with U+FFFD, and %ff and %fe would then name the same resource."""
    raw = environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8") or "/"
    except UnicodeError:
        raise BadInput("the request path is not UTF-8 once percent-decoded: encode names as UTF-8") from None


def parse_target(request_path: str, base_path: str) -> Target:
    """Map a decoded request path to a Target; NotFound outside ``base_path``, BadInput when malformed."""
    base = base_path.rstrip("/")
    if request_path != base and not request_path.startswith(base + "/"):
        raise NotFound(f"{request_path} is outside the repository API at {base or '/'}/")
    rest = request_path[len(base) :]
    segments = rest.split("/")[1:] if rest else []
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash names the same resource
    tx = None
    if segments and segments[0].startswith("tx:"):
        tx = segments.pop(0)[3:]
        if not tx:
            raise BadInput("empty transaction id in /tx: prefix")
    cut = next((i for i, s in enumerate(segments) if s.startswith("fcr:")), len(segments))
    head, tail = segments[:cut], tuple(segments[cut:])
    path = paths.normalize("/" + "/".join(head))
    if not tail:
        return Target(path, tx=tx)
    if path == "/" and tail in _ROOT_SERVICES:
        return Target(path, _ROOT_SERVICES[tail], tx=tx)
    if path == "/" and len(tail) == 2 and tail[0] == "fcr:tx" and not tail[1].startswith("fcr:"):
        return Target(path, TX_ID, label=tail[1], tx=tx)
    label = None
    key = tail
    versions_at = 1 if tail[:2] == ("fcr:metadata", "fcr:versions") else 0
    if len(tail) >= 2 + versions_at and tail[versions_at] == "fcr:versions":
        label = tail[versions_at + 1]
        key = (*tail[:versions_at], "fcr:versions", "LABEL", *tail[versions_at + 2 :])
        if not label or label.startswith("fcr:") or label in (".", ".."):
            raise BadInput(f"bad version label {label!r} in {request_path}")
    endpoint = _SUFFIXES.get(key)
    if endpoint is None:
        raise BadInput(f"{'/'.join(tail)!r} in {request_path} is not a Fedora endpoint this server offers")
    return Target(path, endpoint, label=label, tx=tx)
