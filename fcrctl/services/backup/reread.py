"""What an upload re-reads of the files a store already has (``backup --to``, ``upload-backup``).

A blob the store lacks is read, hashed and checked against its inventory as it is sent. A blob
the store has costs nothing to send, and would otherwise never be read: a content file damaged
in place since it was first uploaded would go on being "backed up" as sound. So after every
upload each content file of the snapshot is compared, as restic does, with what fcrctl saw
when it last read it in full: inode, size, mtime and ctime. A file that differs, or that
fcrctl never read, is read and hashed against its inventory (exit 8 naming the resources if
it does not match). ``read_data``: every file is read and hashed, whatever it looks like.

The stats live in ``<home>/.read-stats.jsonl`` (one line per object: its recorded inventory
digest and each content file's path and stat). An object whose recorded inventory is the one
the line names costs a stat per content file: nothing is located, parsed or read. What this
does not catch: damage that keeps a file's inode, size, mtime and ctime (ctime cannot be set
back short of changing the clock); ``--read-data`` and ``verify-backup --read-data`` do.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fcrctl import paths
from fcrctl.errors import CorruptData
from fcrctl.services.backup import frames, rootstate
from fcrctl.services.backup.snapshot import BackupHome, BackupInfo

STATS = ".read-stats.jsonl"
Stat = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns


@dataclass
class Checked:
    objects: int = 0
    files_read: int = 0
    bytes_read: int = 0


def _stat(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _load(file: Path) -> dict[str, tuple[str, list[tuple[str, Stat]]]]:
    out: dict[str, tuple[str, list[tuple[str, Stat]]]] = {}
    with contextlib.suppress(OSError), open(file, encoding="utf-8") as fh:
        for line in fh:
            try:
                doc = json.loads(line)
                out[str(doc["o"])] = (str(doc["d"]), [(str(f[0]), (int(f[1]), int(f[2]), int(f[3]), int(f[4])))
                                                      for f in doc["f"]])
            except (ValueError, KeyError, TypeError, IndexError):
                continue  # a damaged line: that object is read again
    return out


def _save(file: Path, stats: dict[str, tuple[str, list[tuple[str, Stat]]]]) -> None:
    from fcrctl.repository.local import ocfl

    lines = (json.dumps({"o": rel, "d": d, "f": [[p, *st] for p, st in files]}, separators=(",", ":")) + "\n"
             for rel, (d, files) in sorted(stats.items()))
    ocfl.write_durable(file, "".join(lines).encode("utf-8"))


def check_snapshot(home: BackupHome, info: BackupInfo, *, read_data: bool = False,
                   sent: Iterable[str] = ()) -> Checked:
    """Compare every content file of snapshot ``info`` with what fcrctl last read of it, reading
    and hashing those that differ (all with ``read_data``). ``sent``: digests this upload read
    and verified already (their files are not read again). CorruptData if any file does not
    hold its recorded digest. A snapshot without a recorded state (crawled, downloaded) owns
    its files: nothing to compare (verify-backup --read-data reads them)."""
    where = home.path(info.id)
    if not (where / rootstate.STATE_FILE).exists() or info.epoch is None:
        return Checked()
    state = rootstate.RootState.load(where / rootstate.STATE_FILE)
    sources = home.sources_of(info)
    stats_file = home.root / STATS
    known = {} if read_data else _load(stats_file)
    verified = set(sent) if not read_data else set()
    fresh: dict[str, tuple[str, list[tuple[str, Stat]]]] = {}
    done = Checked()
    bad: list[str] = []
    for rel in sorted(state.objects):
        o = state.objects[rel]
        if o.head is None:
            continue  # copied into the snapshot as found: it has no recorded digests
        done.objects += 1
        cached = known.get(rel)
        if cached is not None and cached[0] == o.digest and all(_stat(p) == st for p, st in cached[1]):
            fresh[rel] = cached
            continue
        located = sources.locate(o)
        if located is None:
            raise CorruptData(f"backup {info.id} lacks object {rel}: run `fcrctl verify-backup {info.id}`")
        obj_dir, inventory = located
        before = {p: st for p, st in cached[1]} if cached is not None else {}
        files: list[tuple[str, Stat]] = []
        ok = True
        for content, digest in _content(inventory, rel):
            path = f"{obj_dir}/{content}"
            st = _stat(path)
            if st is None:
                ok = False
                continue
            if digest not in verified and before.get(path) != st:
                done.files_read += 1
                done.bytes_read += st[1]
                if _sha512(path) != digest:
                    ok = False
                    continue
            files.append((path, st))
        if ok:
            fresh[rel] = (o.digest, files)
        else:
            bad.append(paths.from_id(o.id) if o.id.startswith(paths.ROOT_ID) else rel)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise CorruptData(f"content of {shown} no longer matches its inventory (damaged in place since it was "
                          f"recorded): backup {info.id} is not sound; restore those resources from an earlier "
                          f"backup (`fcrctl restore ID --from STORE --path PATH`)", path=bad[0])
    if fresh != known:
        _save(stats_file, fresh)
    return done


def _content(inventory: bytes, rel: str) -> list[tuple[str, str]]:
    """(content path, sha512) of every content file the inventory's manifest lists."""
    try:
        doc = json.loads(inventory)
        if doc.get("digestAlgorithm", "sha512") != "sha512":
            return []  # digests we cannot compare with a sha512: verify-backup --read-data checks them
        return [(p, str(d).lower()) for d, ps in doc["manifest"].items() for p in ps]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CorruptData(f"object {rel}: unreadable inventory ({e}); run `fcrctl verify-backup`") from e


def _sha512(path: str) -> str:
    import hashlib

    h = hashlib.sha512()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, frames.CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()
