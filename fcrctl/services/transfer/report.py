"""The outcome of an export or import: counts by kind, what was skipped and what failed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

KEEP = 1000  # reasons kept for the report; the counts go on past it (memory stays flat)


@dataclass
class Report:
    action: str  # "export" / "import" / "dry-run"
    counts: Counter[str] = field(default_factory=Counter)  # kind -> resources done
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_count: int = 0
    failed_count: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def done(self, kind: str, size: int = 0) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.bytes += size

    def skip(self, where: str, reason: str) -> None:
        with self._lock:
            self.skipped_count += 1
            if len(self.skipped) < KEEP:
                self.skipped.append({"path": where, "reason": reason})

    def fail(self, where: str, reason: str) -> None:
        with self._lock:
            self.failed_count += 1
            if len(self.failed) < KEEP:
                self.failed.append({"path": where, "reason": reason})

    def note(self, text: str) -> None:
        with self._lock:
            if len(self.notes) < KEEP:
                self.notes.append(text)

    def finish(self) -> Report:
        self.seconds = time.monotonic() - self.started
        return self

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "action": self.action,
            "counts": dict(sorted(self.counts.items())),
            "resources": self.total,
            "bytes": self.bytes,
            "skipped": self.skipped_count,
            "failed": self.failed_count,
            "skipped_items": self.skipped,
            "failed_items": self.failed,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items())) or "nothing"
        return (f"{self.action}: {kinds}; {self.bytes / 1e6:.1f} MB; {self.skipped_count} skipped, "
                f"{self.failed_count} failed; {self.seconds:.1f} s")
