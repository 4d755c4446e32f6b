"""Manifest chains (format 2): a manifest that names a base carries only what changed since it.

A format-2 manifest's header may hold ``base``: ``{"id": <backup id>, "linesSha256": <the base's
lines' sha256>}``; its lines are then the objects changed or added since that base, and
``{"o": dir, "gone": true}`` for the objects removed, in directory order with the storage
root's line last. A reader resolves the chain, newest first, down to a manifest without a base,
and merges the links' lines as streams (every link is in directory order: a k-way merge holds
one line per link, never a whole manifest): the newest link's line for an object wins, and a
``gone`` line drops it. Each link's lines are hashed as they stream and must match its header's
and end line's ``linesSha256``, and the base a successor names must carry the sha256 it names
(or have carried it, ``was``: a prune that folds a removed base into its successor rewrites the
successor's lines, so its successors' references stay good). A base may be a retired manifest:
a deleted backup's, kept as the base of others (retired.py). A chain longer than
:data:`READ_DEPTH_MAX`, a cycle, or a missing or damaged link is refused: CorruptData, exit 8.

Header fields of format 2 (beside ``format``, ``version`` and ``backup``):
  lines   {"sha256": ..., "count": n}    the sha256 and number of this manifest's own object lines
  chain   {"depth": d, "changed": c, "full": f}   present when the lines are in directory order
          (only such a manifest may be a base): d links below it, c lines in the deltas of its
          chain (itself included), f lines in the chain's full manifest; uploads bound d and c
  base    {"id": ..., "linesSha256": ...}          absent on a full manifest
  was     [sha256, ...]                            the lines' sha256s before folds
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import zstandard

from fcrctl.errors import CorruptData, NotFound, Unsupported
from fcrctl.services.backup import validate
from fcrctl.services.backup.manifest.format import (
    FORMAT,
    HEADER_FRAME_MAX,
    READ_VERSIONS,
    manifest_key,
    retired_key,
)
from fcrctl.services.backup.snapshot import check_id
from fcrctl.services.backup.stores.base import BackupStore

READ_DEPTH_MAX = 64  # a store's data never decides how many manifests a read opens
_SHA256_HEX = 64
_LINE_MAX = 64 << 20


@dataclass
class Link:
    id: str
    head: dict[str, Any]

    @property
    def version(self) -> int:
        return int(self.head.get("version", 1))

    @property
    def base(self) -> dict[str, str] | None:
        base = self.head.get("base")
        return base if isinstance(base, dict) else None

    @property
    def chained(self) -> bool:
        """Its lines are in directory order: it may be a base, and is merged as a stream."""
        return self.version >= 2 and isinstance(self.head.get("chain"), dict)

    @property
    def lines_sha256(self) -> str | None:
        lines = self.head.get("lines")
        return lines.get("sha256") if isinstance(lines, dict) else None

    def chain_field(self, name: str) -> int:
        chain = self.head.get("chain")
        value = chain.get(name) if isinstance(chain, dict) else None
        return value if isinstance(value, int) and value >= 0 else 0


def read_head(store: BackupStore, backup_id: str) -> Link:
    """The manifest's header line, checked (format, version, the backup it names, its base), be it
    a backup's or a retired one's (kept only as a base: retired.py); :func:`read_backup` for a
    backup asked for by id."""
    check_id(backup_id)
    try:
        raw = store.get(manifest_key(backup_id))
    except NotFound:
        raise _missing(store, backup_id) from None
    try:
        lines = raw_lines(raw, backup_id)
        try:
            first = next(lines)
        except StopIteration:
            raise CorruptData(f"manifest of {backup_id} is empty: the upload did not finish; upload it again") from None
        if len(first) > HEADER_FRAME_MAX:
            raise validate.damaged(backup_id, "its header is over a megabyte")
        return Link(backup_id, _header(first, backup_id))
    finally:
        raw.close()


def read_backup(store: BackupStore, backup_id: str) -> Link:
    """The header of backup ``backup_id``: NotFound, as for a missing manifest, when it was deleted
    and its manifest is kept only as the base of others (retired.py)."""
    link = read_head(store, backup_id)
    if link.lines_sha256 is not None and store.exists(retired_key(backup_id, link.lines_sha256)):
        raise _missing(store, backup_id)
    return link


def _missing(store: BackupStore, backup_id: str) -> NotFound:
    return NotFound(f"no backup {backup_id} in store {store.location} (its manifest is missing): "
                    f"see `fcrctl list-backups --from {store.location}`")


def _header(first: bytes, backup_id: str) -> dict[str, Any]:
    try:
        head = json.loads(first)
    except (ValueError, RecursionError) as e:  # RecursionError: a line nested beyond reason
        raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise CorruptData(f"manifest of {backup_id} is not an fcrctl backup manifest")
    if head.get("version") not in READ_VERSIONS:
        raise Unsupported(f"backup {backup_id} has manifest version {head.get('version')}; this fcrctl reads "
                          f"versions {', '.join(map(str, READ_VERSIONS))}: use the fcrctl release that wrote it")
    if not isinstance(head.get("backup"), dict):
        raise validate.damaged(backup_id, "its header has no backup metadata")
    validate.header(head["backup"], backup_id)
    base = head.get("base")
    if base is not None:
        if (head["version"] < 2 or not isinstance(base, dict) or not isinstance(base.get("id"), str)
                or not _is_sha256(base.get("linesSha256")) or not isinstance(head.get("chain"), dict)):
            raise validate.damaged(backup_id, "its base reference is malformed")
        try:
            check_id(base["id"])
        except Exception:
            raise validate.damaged(backup_id, f"its base {base['id']!r} is not a backup id") from None
    return head


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == _SHA256_HEX and all(c in "0123456789abcdef" for c in value)


def resolve(store: BackupStore, backup_id: str) -> list[Link]:
    """The chain of backup ``backup_id``, newest first, down to its full manifest (headers only);
    its bases may be retired manifests, the backup itself not (NotFound)."""
    links = [read_backup(store, backup_id)]
    seen = {backup_id}
    while (base := links[-1].base) is not None:
        child = links[-1]
        if base["id"] in seen or len(links) >= READ_DEPTH_MAX:
            raise CorruptData(f"manifest of {backup_id} has a chain of bases longer than {READ_DEPTH_MAX} or "
                              f"a cycle: it is damaged; upload the backup again")
        seen.add(base["id"])
        try:
            link = read_head(store, base["id"])
        except NotFound:
            raise CorruptData(f"backup {backup_id} is stored as changes to backup {base['id']}, whose manifest "
                              f"is missing from {store.location}: it cannot be restored; upload it again") from None
        except (CorruptData, Unsupported) as e:
            raise CorruptData(f"backup {backup_id} is stored as changes to backup {base['id']}, which is damaged "
                              f"({e.message}): upload {backup_id} again") from None
        was = link.head.get("was")
        known = {link.lines_sha256, *(was if isinstance(was, list) else [])}
        if not link.chained or base["linesSha256"] not in known:
            raise CorruptData(f"backup {backup_id} is stored as changes to backup {base['id']}, but that manifest "
                              f"is not the one it was built on (its lines differ): upload {child.id} again")
        links.append(link)
    return links


def raw_lines(raw: BinaryIO, backup_id: str) -> Iterator[bytes]:
    reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    try:
        for line in reader:
            if not line.endswith(b"\n"):
                raise CorruptData(f"manifest of {backup_id} is truncated: upload the backup again")
            yield line
    except zstandard.ZstdError as e:
        raise CorruptData(f"manifest of {backup_id} is damaged ({e}): upload the backup again") from e


def rel_of(line: bytes, backup_id: str) -> tuple[str, bool]:
    """(object directory, gone) of a line, read off its start as format.line writes it."""
    if line.startswith(b'{"o":"'):
        end = line.find(b'"', 6)
        if end > 0 and b"\\" not in line[6:end]:
            return line[6:end].decode("utf-8", "replace"), line.startswith(b'","gone":true}', end)
    try:
        doc = json.loads(line)
        return str(doc["o"]), doc.get("gone") is True
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise validate.damaged(backup_id, f"a line has no object directory ({e})") from e


def link_lines(store: BackupStore, link: Link, ordered: bool,
               ends: list[dict[str, Any]] | None = None) -> Iterator[tuple[str, bool, bytes]]:
    """(object dir, gone, line) of one manifest's lines, hashed as they come: CorruptData at the
    end if they do not match its linesSha256 (end line and header), or if ``ordered`` and they are
    not in directory order (the storage root's line last)."""
    raw = store.get(manifest_key(link.id))
    hashed = hashlib.sha256()
    last: str | None = None
    try:
        lines = raw_lines(raw, link.id)
        next(lines, None)  # the header, read by read_head
        for line in lines:
            if line.startswith(b'{"end":'):
                try:
                    end = json.loads(line)
                except (ValueError, RecursionError) as e:
                    raise CorruptData(f"manifest of {link.id} is damaged ({e}): upload the backup again") from e
                digest = hashed.hexdigest()
                if not isinstance(end, dict) or end.get("linesSha256") != digest or (
                        link.version >= 2 and link.lines_sha256 != digest):
                    raise validate.damaged(link.id, "its lines do not match their linesSha256")
                if ends is not None:
                    ends.append(end)
                return
            hashed.update(line)
            rel, gone = rel_of(line, link.id)
            if ordered:
                if last == "" or (last is not None and rel and rel <= last) or (gone and not rel):
                    raise validate.damaged(link.id, "its lines are not in directory order")
                last = rel
            yield rel, gone, line
        raise CorruptData(f"manifest of {link.id} is truncated: upload the backup again")
    finally:
        raw.close()


def _order(rel: str) -> tuple[bool, str]:
    return (rel == "", rel)  # the storage root's own line sorts last


def merged(store: BackupStore, links: list[Link], *, keep_gone: bool = False,
           ends: list[dict[str, Any]] | None = None) -> Iterator[tuple[str, bool, bytes]]:
    """The lines of ``links`` (newest first) merged: each object's newest line; ``gone`` lines
    dropped unless ``keep_gone`` (folding deltas into a delta keeps them). One link: its lines
    as stored, in whatever order they are. ``ends``: gets each link's end line as it is reached."""
    if len(links) == 1:
        for rel, gone, line in link_lines(store, links[0], ordered=links[0].base is not None, ends=ends):
            if keep_gone or not gone:
                yield rel, gone, line
        return
    streams = [link_lines(store, link, ordered=True, ends=ends) for link in links]
    heap: list[tuple[tuple[bool, str], int, str, bool, bytes]] = []
    try:
        for age, stream in enumerate(streams):
            for rel, gone, line in stream:
                heap.append((_order(rel), age, rel, gone, line))
                break
        heapq.heapify(heap)
        while heap:
            key, age, rel, gone, line = heap[0]
            if keep_gone or not gone:
                yield rel, gone, line
            while heap and heap[0][0] == key:  # the same object in older links: superseded
                _, older, *_ = heap[0]
                follow = next(streams[older], None)
                if follow is None:
                    heapq.heappop(heap)
                else:
                    heapq.heapreplace(heap, (_order(follow[0]), older, *follow))
    finally:
        for stream in streams:
            stream.close()


def sound(store: BackupStore, link: Link) -> bool:
    """Whether the manifest's own lines are whole and hash to the sha256 its header and end line
    give: an upload checks the manifest it builds a delta on (a damaged one would make the new
    backup unrestorable too). In blocks, in C: no line is split or parsed."""
    hashed = hashlib.sha256()
    try:
        blocks = _LineBlocks(store, link)
        for block in blocks:
            hashed.update(block)
        end = _end(blocks.tail)
    except (CorruptData, NotFound, OSError):
        return False
    digest = hashed.hexdigest()
    return isinstance(end, dict) and end.get("end") is True and end.get("linesSha256") == digest and (
        link.version < 2 or link.lines_sha256 == digest)


class _LineBlocks:
    """A link's lines after its header, in blocks of whole lines (C-speed: nothing split or parsed);
    once spent, ``tail`` holds what followed the last newline but one: the end line when whole.
    CorruptData for a header over a megabyte, a line over _LINE_MAX, or a damaged frame."""

    def __init__(self, store: BackupStore, link: Link) -> None:
        self._store, self._link = store, link
        self.tail = b""

    def __iter__(self) -> Iterator[bytes]:
        link = self._link
        pending = b""
        header = True
        with self._store.get(manifest_key(link.id)) as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            try:
                while chunk := reader.read(1 << 20):
                    pending += chunk
                    if header:
                        cut = pending.find(b"\n") + 1
                        if cut <= 0:
                            if len(pending) > HEADER_FRAME_MAX:
                                raise validate.damaged(link.id, "its header is over a megabyte")
                            continue
                        pending, header = pending[cut:], False
                    cut = pending.rfind(b"\n", 0, len(pending) - 1) + 1  # the last whole line waits: it may be the end
                    block, pending = pending[:cut], pending[cut:]
                    if len(pending) > _LINE_MAX:  # a store's data never decides how much is held
                        raise validate.damaged(link.id, f"it has a line over {_LINE_MAX} bytes")
                    yield block
            except zstandard.ZstdError as e:
                raise CorruptData(f"manifest of {link.id} is damaged ({e}): upload the backup again") from e
        self.tail = b"" if header else pending


def _end(tail: bytes) -> Any:
    """The end line's JSON, or None when it is not a whole line of JSON."""
    try:
        return json.loads(tail) if tail.endswith(b"\n") else None
    except (ValueError, RecursionError):
        return None


def pick(blocks: Iterable[bytes], ranges: list[tuple[int, int]]) -> Iterator[bytes]:
    """The lines of ``blocks`` (whole-line blocks, in order; place 0 = the first line) whose place is in
    one of ``ranges`` (half-open), each block split only where a wanted line is; it stops reading
    ``blocks`` once past the last range."""
    last = max((hi for _, hi in ranges), default=0)
    index = 0
    if index >= last:
        return
    for block in blocks:
        n = block.count(b"\n")
        split: list[bytes] | None = None
        for lo, hi in ranges:
            if lo < index + n and hi > index:
                split = block.split(b"\n") if split is None else split
                for i in range(max(lo, index), min(hi, index + n)):
                    yield split[i - index] + b"\n"
        index += n
        if index >= last:
            return


def picked_lines(store: BackupStore, link: Link, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
    """The link's own lines whose place (0 = the first after the header) is in one of ``ranges``
    (half-open), its lines hashed whole in C-speed blocks, not split but where a wanted line is:
    CorruptData at the end if they do not match its linesSha256 (end line and header). For a
    link already checked whole with the same sha256 (verify's record): it costs its bytes, not its
    lines."""
    hashed = hashlib.sha256()
    blocks = _LineBlocks(store, link)

    def hashing() -> Iterator[bytes]:
        for block in blocks:
            hashed.update(block)
            yield block

    feed = hashing()
    yield from pick(feed, ranges)
    for _ in feed:  # the lines after the last one wanted are hashed all the same
        pass
    end = _end(blocks.tail)
    if not isinstance(end, dict) or not end.get("end"):
        raise CorruptData(f"manifest of {link.id} is truncated: upload the backup again")
    digest = hashed.hexdigest()
    if end.get("linesSha256") != digest or (link.version >= 2 and link.lines_sha256 != digest):
        raise validate.damaged(link.id, "its lines do not match their linesSha256")
