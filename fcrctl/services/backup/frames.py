"""A big file as one blob: read once, hashed (sha512) and compressed into one zstd frame.

Each chunk is hashed by one C call and compressed by another, both of which release the GIL, so
two workers keep two cores busy while the Python per chunk stays negligible (the old path, a
1 MiB ``read_to_iter`` through two Python reader layers per file, spent its time handing the
GIL around).

Incompressible data (random bytes, media that is compressed already) is written as *raw*
zstd blocks: still one valid zstd frame that any zstd reader decodes, but without spending
level-3 search time on bytes that would come out the same size. The choice is made once per
blob, from a level-1 trial of the first 64 KiB.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator

import zstandard

LEVEL = 3
CHUNK = 1 << 20  # per read: one hash and one compress (or decompress) call each
SAMPLE = 64 << 10
RAW_BLOCK = 128 << 10  # the largest block a frame with a 128 KiB window may hold
# magic number; frame header descriptor 0 (no content size, not single-segment, no checksum, no
# dictionary); window descriptor 0x38 = 2**17 bytes, enough for raw blocks
RAW_FRAME_HEADER = b"\x28\xb5\x2f\xfd\x00\x38"
RAW_LAST_BLOCK = b"\x01\x00\x00"  # an empty raw block flagged last, as zstd itself ends a frame

_local = threading.local()


def compressor() -> zstandard.ZstdCompressor:
    """This thread's level-3 compressor (a context is not thread-safe; creating one per blob
    costs more than compressing a small file)."""
    cctx = getattr(_local, "cctx", None)
    if cctx is None:
        cctx = _local.cctx = zstandard.ZstdCompressor(level=LEVEL)
    return cctx


def decompressor() -> zstandard.ZstdDecompressor:
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx


def buffers() -> tuple[memoryview, memoryview]:
    """This thread's two reusable CHUNK-byte buffers: a fresh buffer per read would cost a page
    fault and a zeroed page per 4 KiB read."""
    pair = getattr(_local, "buffers", None)
    if pair is None:
        pair = _local.buffers = (memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK)))
    return pair


def read_into(fd: int, view: memoryview) -> int:
    """Fill ``view`` from ``fd``; less only at the end of the file. Returns the bytes read."""
    done = 0
    while done < len(view) and (n := os.readv(fd, [view[done:]])):
        done += n
    return done


def incompressible(data: bytes | memoryview) -> bool:
    """True when a fast trial on the first bytes gains under 3%."""
    sample = memoryview(data)[:SAMPLE]
    fast = getattr(_local, "fast", None)
    if fast is None:
        fast = _local.fast = zstandard.ZstdCompressor(level=1)
    return len(fast.compress(sample)) >= len(sample) * 0.97


def raw_blocks(data: bytes | memoryview) -> bytes:
    """``data`` as raw zstd blocks (none flagged last), to go after RAW_FRAME_HEADER."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    for start in range(0, len(view), RAW_BLOCK):
        block = view[start:start + RAW_BLOCK]
        parts.append((len(block) << 3).to_bytes(3, "little"))  # block type 0 (raw), not last
        parts.append(block)
    return b"".join(parts)


def read_all(fd: int, size_hint: int = 1 << 16) -> bytes:
    """The rest of the file: reads until one returns nothing (a short read is not the end)."""
    parts = []
    while data := os.read(fd, size_hint):
        parts.append(data)
        size_hint = max(size_hint, 1 << 20)
    return b"".join(parts)


def encode(fd: int, head: bytes, digest: str, mismatch: Callable[[], Exception], counter: list[int]) -> Iterator[bytes]:
    """The frame of the file open at ``fd``, whose first bytes ``head`` (at most CHUNK) were
    read already (``fd`` is positioned after them). Raises ``mismatch()`` if the bytes do not
    hash to ``digest``, before the first chunk for a file of one chunk, else after the last: a
    store drops a value whose chunks raise, so nothing bad is kept. ``counter[0]`` counts the
    bytes. Runs on one thread (its buffers are that thread's)."""
    hasher = hashlib.sha512()
    current, spare = buffers()
    current[:len(head)] = head
    chunk = current[:len(head) + read_into(fd, current[len(head):])]
    following = spare[:read_into(fd, spare)] if len(chunk) == CHUNK else spare[:0]
    raw = incompressible(chunk)
    if not following:  # the whole file: one-shot, with its size in the frame header
        hasher.update(chunk)
        counter[0] += len(chunk)
        if hasher.hexdigest() != digest:
            raise mismatch()
        yield RAW_FRAME_HEADER + raw_blocks(chunk) + RAW_LAST_BLOCK if raw else compressor().compress(chunk)
        return
    cobj = None if raw else compressor().compressobj()
    if raw:
        yield RAW_FRAME_HEADER
    while chunk:
        hasher.update(chunk)
        counter[0] += len(chunk)
        if cobj is None:
            yield raw_blocks(chunk)
        elif out := cobj.compress(chunk):
            yield out
        current, spare = spare, current
        chunk = following
        following = spare[:read_into(fd, spare)] if len(chunk) == CHUNK else spare[:0]
    yield RAW_LAST_BLOCK if cobj is None else cobj.flush()
    if hasher.hexdigest() != digest:
        raise mismatch()
