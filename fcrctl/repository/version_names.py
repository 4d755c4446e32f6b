"""A version named the way a user names one, on any backend: by label, by id, or by memento."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from fcrctl.errors import NotFound
from fcrctl.repository.base import Version

MEMENTO = re.compile(r"\d{14}")
# Fedora 4 wants a label (Slug) on every new version: when the user gives none the HTTP client
# invents one of this shape, which neither it nor serve reports (or stores) as a label.
_INVENTED = re.compile(r"v\d{20}")


def invented_label() -> str:
    return "v" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")


def given_label(label: str | None) -> str | None:
    """``label`` unless it is absent or one the client invented."""
    return None if label is None or _INVENTED.fullmatch(label) else label


def find_version(versions: Sequence[Version], name: str) -> Version | None:
    """Label first (a label may look like another version's id: Fedora 4 clients label theirs ``v1``),
    then id, then a memento (YYYYMMDDHHMMSS: the last version made at or before that second, as a
    Memento TimeGate answers; the local backend's resolve_version follows the same rule)."""
    for field in ("label", "id"):
        for version in versions:
            if getattr(version, field) == name:
                return version
    if MEMENTO.fullmatch(name):
        at = datetime.strptime(name, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        earlier = [v for v in versions if v.created.replace(microsecond=0) <= at]
        return earlier[-1] if earlier else None  # listings run oldest first
    return None


def no_such_version(path: str, name: str) -> NotFound:
    return NotFound(f"{path} has no version {name!r} (by id, label or memento): "
                    f"list them with `fcrctl versions list {path}`", path=path)
