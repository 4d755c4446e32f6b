"""Transfers between a backup home and a store, recorded in ``<home>/.transfers/<id>.json``
(as ArangoDB records its uploads and downloads), so ``fcrctl transfers`` lists running,
finished, failed and aborted ones with the bytes done, and ``fcrctl transfers abort ID`` stops
one: it writes ``<id>.abort``, which the transfer notices at its next progress step and stops
with exit 130, leaving what it wrote for the next run to reuse (the manifest is written last).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fcrctl.errors import Conflict, FcrctlError, Interrupted, NotFound

DIR = ".transfers"
WRITE_EVERY = 0.5  # seconds between state writes while running
KEEP = 100  # finished transfers remembered


@dataclass
class Transfer:
    id: str
    kind: str  # upload, download
    backup: str
    store: str
    state: str = "running"  # running, done, failed, aborted, interrupted
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    bytes_done: int = 0
    bytes_total: int | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Tracker:
    def __init__(self, directory: Path, transfer: Transfer) -> None:
        self._dir = directory
        self.transfer = transfer
        self._lock = threading.Lock()
        self._written = 0.0

    @property
    def _abort_file(self) -> Path:
        return self._dir / f"{self.transfer.id}.abort"

    def save(self) -> None:
        from fcrctl.repository.local import ocfl

        self.transfer.updated = time.time()
        with contextlib.suppress(OSError):  # the record is a report; the transfer goes on without it
            ocfl.write_durable(self._dir / f"{self.transfer.id}.json", json.dumps(self.transfer.to_json()).encode())

    def advance(self, n: int) -> None:
        """A progress step (from any worker thread): counts, saves now and then, honours an abort."""
        with self._lock:
            self.transfer.bytes_done += n
            now = time.monotonic()
            if now - self._written < WRITE_EVERY:
                return
            self._written = now
            self.save()
        if self._abort_file.exists():
            raise Interrupted(f"transfer {self.transfer.id} was aborted (`fcrctl transfers abort`): run the same "
                              f"command again to resume; what was sent is reused")


def _dir(home_root: Path) -> Path:
    path = home_root / DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def track(home_root: Path, kind: str, backup_id: str, store: str, total: int | None = None) -> Iterator[Tracker]:
    directory = _dir(home_root)
    tracker = Tracker(directory, Transfer(uuid.uuid4().hex[:12], kind, backup_id, store, bytes_total=total))
    tracker.save()
    try:
        yield tracker
    except Interrupted as e:
        tracker.transfer.state, tracker.transfer.error = "aborted", e.message
        raise
    except KeyboardInterrupt:
        tracker.transfer.state, tracker.transfer.error = "interrupted", "interrupted (Ctrl-C): run it again to resume"
        raise
    except FcrctlError as e:
        tracker.transfer.state, tracker.transfer.error = "failed", e.message
        raise
    except BaseException as e:
        tracker.transfer.state, tracker.transfer.error = "failed", type(e).__name__
        raise
    else:
        tracker.transfer.state = "done"
    finally:
        tracker.save()
        with contextlib.suppress(OSError):
            tracker._abort_file.unlink(missing_ok=True)  # noqa: SLF001
        _trim(directory)


def _alive(t: Transfer) -> bool:
    if t.host != socket.gethostname():
        return True  # cannot tell: believe the record
    try:
        os.kill(t.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load(path: Path) -> Transfer | None:
    try:
        doc = json.loads(path.read_bytes()[:1 << 20])
        return Transfer(**doc)
    except (OSError, ValueError, TypeError):
        return None


def list_transfers(home_root: Path) -> list[Transfer]:
    directory = home_root / DIR
    if not directory.is_dir():
        return []
    out = []
    for path in directory.glob("*.json"):
        t = _load(path)
        if t is None:
            continue
        if t.state == "running" and not _alive(t):
            t.state, t.error = "failed", "its process ended without finishing (killed?): run it again to resume"
        out.append(t)
    out.sort(key=lambda t: t.started)
    return out


def abort(home_root: Path, transfer_id: str, wait: float = 10.0) -> Transfer:
    """Ask a running transfer to stop, and wait (up to ``wait`` s) until it has."""
    found = {t.id: t for t in list_transfers(home_root)}
    t = found.get(transfer_id)
    if t is None or "/" in transfer_id:
        raise NotFound(f"no transfer {transfer_id} in {home_root}: see `fcrctl transfers`")
    if t.state != "running":
        raise Conflict(f"transfer {transfer_id} is not running (it is {t.state})")
    directory = home_root / DIR
    (directory / f"{transfer_id}.abort").touch()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        now = _load(directory / f"{transfer_id}.json")
        if now is not None and now.state != "running":
            return now
        time.sleep(0.1)
    return _load(directory / f"{transfer_id}.json") or t  # asked; it stops at its next step


def _trim(directory: Path) -> None:
    records = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for path in records[:-KEEP]:
        with contextlib.suppress(OSError):
            path.unlink()
