"""verify-backup --from STORE: a stored backup's manifest chain checked and every blob it names looked up
(read and hashed with ``read_data``); a record of the last sound verify lets the next check what changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

from fcrctl.errors import CorruptData, FcrctlError, NotFound
from fcrctl.repository.base import Problem
from fcrctl.services.backup import packcache
from fcrctl.services.backup.manifest import known as known_sound
from fcrctl.services.backup.manifest.downloads import _run_entries, blob_exists, read_blob
from fcrctl.services.backup.manifest.fds import Discard
from fcrctl.services.backup.manifest.format import Entry, TransferReport
from fcrctl.services.backup.manifest.reading import check_manifest
from fcrctl.services.backup.manifest.reading import read_manifest as _read_manifest
from fcrctl.services.backup.space import measure
from fcrctl.services.backup.stores.base import BackupStore
from fcrctl.services.backup.verify import VerifyReport


def verify_store(store: BackupStore, backup_id: str, *, read_data: bool = False, jobs: int = 4,
                 progress: Callable[[int], None] | None = None, home: Path | None = None) -> VerifyReport:
    """A stored backup: its manifest chain checked and every blob it names looked up (read and
    re-hashed with ``read_data``). ``home``: the backups directory whose record of the last
    sound verify of this store (manifest/verified.py) lets this one check only what changed."""
    from fcrctl.services.backup.manifest import chain
    from fcrctl.services.backup.manifest import verified as store_record

    started = time.monotonic()
    report = VerifyReport(chain.read_backup(store, backup_id).id, store.location, read_data)
    record = None if read_data else store_record.load(home, store.location)
    links: list[chain.Link] = []
    try:
        links = chain.resolve(store, backup_id)
    except FcrctlError as err:
        report.problems.append(Problem("manifest", err.message))
    tee = known_sound.Tee(store)  # the manifests read whole, recorded sound if no problem is found
    if record is not None and links and all(link.chained for link in links) and \
            any(record["links"].get(link.id) == link.lines_sha256 for link in links):
        _verify_changed(store, tee, backup_id, links, record, report, home)
    elif links:
        _verify_whole(store, tee, backup_id, read_data, jobs, progress, report, home)
    if report.ok and links:
        tee.note(home, links)
        store_record.save(home, store.location, {link.id: str(link.lines_sha256) for link in links if
                                                 link.lines_sha256}, record["sweep"] if record else ["", 0])
    elif home is not None:
        store_record.forget(home, store.location)
    report.seconds = time.monotonic() - started
    return report


def _blob_lookup(store: BackupStore, home: Path | None) -> Callable[[str], bool]:
    """What the store holds, listed once (not a lookup per blob); its packs' indexes through the
    cache beside the backups (packcache.py), which reads only those written since it was last used."""
    lock = threading.Lock()
    present: list[tuple[set[str], set[str], Any]] = []

    def stored(digest: str) -> bool:
        with lock:
            if not present:
                held = {k.rsplit("/", 1)[-1] for k in store.list("packs/")}
                loose = {k.rsplit("/", 1)[-1] for k in store.list("blobs/")}
                present.append((held, loose, packcache.packed(store, home)))
            held, loose, packed = present[0]
        at = None if digest in loose else packed.get(digest) if isinstance(packed, dict) else packed.locate(digest)
        return digest in loose or (at is not None and at.pack in held) or blob_exists(store, digest)

    return stored


def _verify_whole(store: BackupStore, tee: known_sound.Tee, backup_id: str, read_data: bool, jobs: int,
                  progress: Callable[[int], None] | None, report: VerifyReport, home: Path | None) -> None:
    lock = threading.Lock()
    seen: set[str] = set()
    stored = _blob_lookup(store, home)

    def check(e: Entry, where: str) -> None:
        if e.digest is None:
            return
        with lock:
            if e.digest in seen:
                return
            seen.add(e.digest)
        try:
            if read_data:
                n = read_blob(store, e.digest, cast(BinaryIO, Discard()), where)
                with lock:
                    report.bytes += n
                if progress is not None:
                    progress(n)
            elif not stored(e.digest):
                raise NotFound(f"blob of {e.rel} is missing")
        except FcrctlError as err:
            with lock:
                report.problems.append(Problem(where, f"{e.rel}: {err.message.removeprefix(where + ': ')}"))

    counts = TransferReport(report.id, store.location)
    try:
        checked = check_manifest(tee, backup_id)  # type: ignore[arg-type]  # the placement of its objects, and its linesSha256
        _, objects = _read_manifest(store, backup_id, checked)  # the same lines, not validated twice
        try:
            if read_data:
                _run_entries(objects, check, jobs, counts)
            else:  # a set lookup a file: a worker task each would cost more than the check
                for obj in objects:
                    counts.objects += 1 if obj.object_rel else 0
                    counts.files += len(obj.files)
                    for e in obj.files:
                        check(e, obj.where)
        finally:
            objects.close()
    except FcrctlError as err:  # a damaged manifest: report it with the rest
        report.problems.append(Problem("manifest", err.message))
    report.objects, report.files = counts.objects, counts.files
    try:
        space = measure(store)
        report.unreferenced_blobs, report.unreferenced_bytes = space.unreferenced_blobs, space.unreferenced_bytes
    except FcrctlError:  # another backup's manifest is damaged: its own verify says so, not this one's
        pass


def _verify_changed(store: BackupStore, tee: known_sound.Tee, backup_id: str, links: list[Any], record: dict[str, Any],
                    report: VerifyReport, home: Path | None) -> None:
    """Only what changed since the recorded sound verify: the links it did not check, whole; the
    ones it did, hashed (their bytes unchanged; or, when this home read them back sound, their size
    and a sweep of their stored bytes: known.py) and a sweep of their blobs (manifest/verified.py)."""
    import json

    from fcrctl.services.backup import validate
    from fcrctl.services.backup.manifest import chain
    from fcrctl.services.backup.manifest import verified as store_record
    from fcrctl.services.backup.manifest.format import ObjectFiles

    stored = _blob_lookup(store, home)
    seen: set[str] = set()
    layout = validate.LayoutCheck()
    checked = 0

    def check_line(line: bytes, link_id: str, place: bool) -> None:
        nonlocal checked
        try:
            obj = ObjectFiles.from_json(json.loads(line), backup_id)
        except (ValueError, RecursionError) as e:
            raise CorruptData(f"manifest of {link_id} is damaged ({e}): upload the backup again") from e
        if place:
            if obj.object_rel:
                layout.object(obj.object_rel, obj.object_id)
            else:
                layout.root((e.rel, e.digest, e.inline) for e in obj.files)
        checked += 1 if obj.object_rel else 0
        report.files += len(obj.files)
        for e in obj.files:
            if e.digest is not None and e.digest not in seen:
                seen.add(e.digest)
                if not stored(e.digest):
                    report.problems.append(Problem(obj.where, f"{e.rel}: blob of {e.rel} is missing"))

    known = [link for link in links if record["links"].get(link.id) == link.lines_sha256]
    fresh = [link for link in links if link not in known]
    try:
        for link in fresh:  # uploaded or folded since: every line
            for _rel, gone, line in chain.link_lines(tee, link, ordered=True):  # type: ignore[arg-type]
                if not gone:
                    check_line(line, link.id, True)
        layout.finish(backup_id)
        known.sort(key=lambda link: link.id)
        counts = [int(link.head["lines"].get("count", 0)) for link in known]
        total = sum(counts)
        at, line_no = record["sweep"]
        start = 0
        for link, n in zip(known, counts, strict=True):
            if link.id == at:
                start += min(line_no, n)
                break
            start += n
        else:
            start = 0
        window = min(store_record.SWEEP_LINES, total)
        spans = [(start, min(start + window, total)), (0, max(0, start + window - total))]
        offset = 0
        for link, n in zip(known, counts, strict=True):  # hashed whole in C (or as recorded); the sweep's lines checked
            ranges = [(max(lo, offset) - offset, min(hi, offset + n) - offset) for lo, hi in spans
                      if max(lo, offset) < min(hi, offset + n)]
            same = known_sound.recorded(store, home, link, read=True)
            lines = (known_sound.window(store, home, link, ranges) if same
                     else chain.picked_lines(tee, link, ranges))  # type: ignore[arg-type]
            for line in lines:
                if not chain.rel_of(line, link.id)[1]:
                    check_line(line, link.id, False)
            offset += n
        end = (start + window) % total if total else 0
        record["sweep"] = ["", 0]
        offset = 0
        for link, n in zip(known, counts, strict=True):
            if end < offset + n:
                record["sweep"] = [link.id, end - offset]
                break
            offset += n
    except FcrctlError as err:
        report.problems.append(Problem("manifest", err.message))
    report.objects = report.checked = checked
