"""prune-backups: restic-style retention.

Backups are grouped by label (as restic groups by host and paths; ``group_by="none"``: one
group), and in each group a backup is kept if any rule keeps it: the newest ``last``
backups; the newest backup of each of the newest ``daily`` days, ``weekly`` ISO weeks,
``monthly`` months (UTC). The newest backup of each group is always kept, whatever the rules
say. Fail-safe backups (taken by restores) are not counted against real ones: the newest
``failsafe`` of them are kept, the rest removed. ``label``: only backups with that label are
considered (the others are neither kept nor removed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fcrctl.errors import BadInput
from fcrctl.services.backup.snapshot import BackupInfo


@dataclass(frozen=True)
class Policy:
    last: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    def empty(self) -> bool:
        return not (self.last or self.daily or self.weekly or self.monthly)


@dataclass
class Plan:
    keep: list[tuple[BackupInfo, list[str]]] = field(default_factory=list)  # with the reasons
    remove: list[BackupInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"keep": [{"id": b.id, "reasons": r} for b, r in self.keep], "remove": [b.id for b in self.remove]}


_BUCKETS: dict[str, Callable[[datetime], object]] = {
    "daily": lambda d: d.date(),
    "weekly": lambda d: d.isocalendar()[:2],
    "monthly": lambda d: (d.year, d.month),
}


GROUPINGS = ("label", "none")


def is_failsafe(b: BackupInfo) -> bool:
    return b.kind == "failsafe" or b.extra.get("failsafe") is True


def plan(backups: list[BackupInfo], policy: Policy, *, group_by: str = "label", label: str | None = None,
         failsafe: int = 1) -> Plan:
    if policy.empty():
        raise BadInput("prune-backups needs at least one of --keep-last/--keep-daily/--keep-weekly/--keep-monthly")
    for name in ("last", "daily", "weekly", "monthly"):
        if getattr(policy, name) < 0:
            raise BadInput(f"--keep-{name} must not be negative")
    if group_by not in GROUPINGS:
        raise BadInput(f"unknown --group-by {group_by!r}: use label or none")
    if failsafe < 0:
        raise BadInput("--keep-failsafe must not be negative")
    chosen = [b for b in backups if label is None or b.label == label]
    reasons: dict[str, list[str]] = {b.id: [] for b in chosen}
    groups: dict[str, list[BackupInfo]] = {}
    safes: list[BackupInfo] = []
    for b in chosen:
        if is_failsafe(b):
            safes.append(b)
        else:
            groups.setdefault(b.label if group_by == "label" else "", []).append(b)
    for members in groups.values():
        _keep(sorted(members, key=lambda b: (b.datetime, b.id), reverse=True), policy, reasons)
    for b in sorted(safes, key=lambda b: (b.datetime, b.id), reverse=True)[:failsafe]:
        reasons[b.id].append("failsafe")
    out = Plan()
    for b in sorted(chosen, key=lambda b: (b.datetime, b.id), reverse=True):
        if reasons[b.id]:
            out.keep.append((b, reasons[b.id]))
        else:
            out.remove.append(b)
    return out


def _keep(newest_first: list[BackupInfo], policy: Policy, reasons: dict[str, list[str]]) -> None:
    for i, b in enumerate(newest_first):
        if i < policy.last:
            reasons[b.id].append("last")
    for name, bucket in _BUCKETS.items():
        limit = getattr(policy, name)
        seen: list[object] = []
        for b in newest_first:
            key = bucket(b.when)
            if key in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(key)
            reasons[b.id].append(name)
    if newest_first and not reasons[newest_first[0].id]:
        reasons[newest_first[0].id].append("newest")
