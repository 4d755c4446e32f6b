"""prune-backups: restic-style retention.

A backup is kept if any rule keeps it: the newest ``last`` backups; the newest backup of each
of the newest ``daily`` days, ``weekly`` ISO weeks, ``monthly`` months (UTC). The newest
backup is always kept, whatever the rules say. Fail-safe snapshots count like any other.
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


def plan(backups: list[BackupInfo], policy: Policy) -> Plan:
    if policy.empty():
        raise BadInput("prune-backups needs at least one of --keep-last/--keep-daily/--keep-weekly/--keep-monthly")
    for name in ("last", "daily", "weekly", "monthly"):
        if getattr(policy, name) < 0:
            raise BadInput(f"--keep-{name} must not be negative")
    newest_first = sorted(backups, key=lambda b: (b.datetime, b.id), reverse=True)
    reasons: dict[str, list[str]] = {b.id: [] for b in newest_first}
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
    out = Plan()
    for b in newest_first:
        if reasons[b.id]:
            out.keep.append((b, reasons[b.id]))
        else:
            out.remove.append(b)
    return out
