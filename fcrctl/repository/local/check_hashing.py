"""`fcrctl check --read-data`'s content hashing: sha512 of content files on a few threads

hashlib releases the GIL, so a checking process hashes on threads while its main thread checks
the structure of the next objects.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from fcrctl.repository.base import Problem


class Hashing:
    """Content hashes on a few threads; mismatches come back as problems. Files are handed
    over in batches across objects: a future per object cost as much as hashing its files."""

    BATCH = 8  # files: few enough that the queue a chunk waits for at its end stays short

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="fcrctl-check-hash")
        self.pending: list[Future[list[Problem]]] = []
        self.batch: list[tuple[str, str, str, str]] = []

    def submit(self, base: str, where: str, files: list[tuple[str, str]]) -> None:
        self.batch.extend((base, where, rel, digest) for rel, digest in files)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.pending.append(self.pool.submit(_hash_batch, self.batch))
            self.batch = []

    def drain(self, *, block: bool) -> Iterator[Problem]:
        if block:
            self._flush()
        # keep at most a few batches per worker queued: bounded memory, workers never idle
        while self.pending and (block or self.pending[0].done() or len(self.pending) > self.jobs * 2):
            yield from self.pending.pop(0).result()

    def close(self) -> None:
        for f in self.pending:
            f.cancel()
        self.pool.shutdown(wait=True)


def _hash_batch(files: list[tuple[str, str, str, str]]) -> list[Problem]:
    out: list[Problem] = []
    for base, where, rel, digest in files:
        try:
            ok = _sha512(f"{base}/{rel}") == digest
        except OSError as exc:
            out.append(Problem(where, f"content file {rel} is unreadable: {exc.strerror}"))
            continue
        if not ok:
            out.append(Problem(where, f"content file {rel} does not match its sha512 in the inventory"))
    return out


_buffers = threading.local()


def _sha512(file: str) -> str:
    # one read buffer per thread: a fresh 1 MB buffer per file costs its page faults again
    # (~1 CPU s per GB of 500 KB files, a third of the hashing itself)
    buf = getattr(_buffers, "buf", None)
    if buf is None:
        buf = _buffers.buf = bytearray(1 << 20)
    view = memoryview(buf)
    digest = hashlib.sha512()
    with open(file, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()
