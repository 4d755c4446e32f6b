"""What the off-machine stores (s3, azure, webdav) share: key checks, a chunk iterator as a
file, the credentials file, and the lease lock (see :mod:`leases`)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fcrctl.errors import BadInput, FcrctlError, NotFound, Unsupported

MARKER = "fcrctl-backup-store.json"
MAX_SMALL = 8 << 20  # values up to this size are sent in one request; larger ones in parts
CREDENTIALS_MAX = 64 << 10


def retries() -> int:
    """How often a request that met throttling, a 5xx or a lost connection is tried again
    (FCRCTL_STORE_RETRIES; for s3:// boto3's own AWS_MAX_ATTEMPTS)."""
    try:
        return max(0, int(os.environ.get("FCRCTL_STORE_RETRIES", "6")))
    except ValueError:
        raise BadInput("FCRCTL_STORE_RETRIES must be a whole number") from None


def marker_body() -> bytes:
    from fcrctl.services.backup.stores.base import FORMAT, VERSION

    return (json.dumps({"format": FORMAT, "version": VERSION}) + "\n").encode()


def check_marker(location: str, read: Callable[[], bytes], is_empty: Callable[[], bool],
                 put_marker: Callable[[], None], *, create: bool) -> None:
    """The store-format marker every kind keeps at its root: read and judged (a foreign or newer
    store is refused), or written into an empty store when ``create``. ``read`` raises NotFound
    when there is none (MissingContainer, a NotFound, when the bucket itself is missing)."""
    from fcrctl.services.backup.stores.base import FORMAT, READABLE_VERSIONS, VERSION

    try:
        doc = json.loads(read())
    except MissingContainer:
        raise
    except NotFound:
        if not create:
            raise NotFound(f"{location} is not an fcrctl backup store (no {MARKER}): upload a backup "
                           f"to create one") from None
        if not is_empty():
            raise BadInput(f"{location} is not empty and not an fcrctl backup store: "
                           f"give an empty or new prefix") from None
        put_marker()
        return
    except (ValueError, RecursionError) as e:  # RecursionError: nested beyond reason
        raise BadInput(f"{location}/{MARKER} is unreadable ({e}): is it an fcrctl backup store?") from e
    if not isinstance(doc, dict):
        raise BadInput(f"{location}/{MARKER} is unreadable (not a JSON object): is it an fcrctl backup store?")
    if doc.get("format") != FORMAT:
        raise BadInput(f"{location} is not an fcrctl backup store (format {doc.get('format')!r})")
    if doc.get("version") not in READABLE_VERSIONS:
        raise Unsupported(f"backup store {location} has format version {doc.get('version')}; this fcrctl "
                          f"reads versions {', '.join(map(str, READABLE_VERSIONS))}: use the release that wrote it")
    if create and doc.get("version") != VERSION:
        put_marker()


def check_key(key: str) -> str:
    if (not key or key.startswith("/") or ".." in key.split("/") or key.startswith("tmp/") or key == MARKER
            or "//" in key or key.endswith("/")):
        raise BadInput(f"bad store key {key!r}")
    return key


def split_url(url: str, scheme: str, what: str) -> tuple[str, str]:
    """``scheme://name/prefix`` -> (name, prefix without slashes at either end)."""
    rest = url[len(scheme) + 3:]
    name, _, prefix = rest.partition("/")
    if not name:
        raise BadInput(f"{url}: name the {what}, as in {scheme}://{what}/prefix")
    prefix = prefix.strip("/")
    if ".." in prefix.split("/"):
        raise BadInput(f"{url}: the prefix must not hold '..'")
    return name, prefix


def read_credentials_file(path: str | Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments), as a shell environment file holds them: a secret
    named by a file, never given on the command line."""
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as fh:
            data = fh.read(CREDENTIALS_MAX + 1)
    except OSError as e:
        raise BadInput(f"cannot read credentials file {p}: {e.strerror or e}") from e
    if len(data) > CREDENTIALS_MAX:
        raise BadInput(f"credentials file {p} is larger than {CREDENTIALS_MAX} bytes: is it the right file?")
    out: dict[str, str] = {}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise BadInput(f"credentials file {p}, line {n}: expected NAME=value")  # never echo the line: a secret
        out[name.strip()] = value.strip().strip('"').strip("'")
    return out


class ChunkReader(io.RawIOBase):
    """An iterator of byte chunks as a readable stream (what client libraries take to upload)."""

    def __init__(self, chunks: Iterable[bytes], head: bytes = b"") -> None:
        self._chunks = iter(chunks)
        self._buf = memoryview(head)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = memoryview(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def read_head(chunks: Iterator[bytes], limit: int = MAX_SMALL) -> tuple[bytes, bool]:
    """Up to about ``limit`` bytes from ``chunks``; True if that was all of them."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(parts), False
    return b"".join(parts), True


class ErrorMappingStream(io.RawIOBase):
    """A client library's response body whose read errors become fcrctl errors."""

    def __init__(self, raw: Any, translate: Callable[[Exception], FcrctlError], close: Callable[[], None]) -> None:
        self._raw = raw
        self._translate = translate
        self._close = close

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._raw.read(len(b))
        except FcrctlError:
            raise
        except Exception as e:  # noqa: BLE001 - the client library's errors, whatever their type
            raise self._translate(e) from e
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._close()
        super().close()


class MissingContainer(NotFound):
    """The bucket, container or collection itself is missing (not one key in it)."""


class IteratorReader:
    """An iterator of chunks with a ``read(n)``, for :class:`ErrorMappingStream`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int) -> bytes:
        while not self._buf:
            nxt = next(self._chunks, None)
            if nxt is None:
                return b""
            self._buf = nxt
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def not_found(key: str, location: str) -> NotFound:
    return NotFound(f"{key} is missing from backup store {location}")


class PackCache:
    """Whole packs, fetched once and kept (a few, least recently used first out): a restore reads
    a pack's small files one after another, and a ranged request per file would cost a round
    trip each. Other keys, and packs over ``MAX_PACK``, are read by range."""

    MAX_PACK = 32 << 20

    def __init__(self, open_value: Callable[[str], BinaryIO], slots: int = 6) -> None:
        import collections
        import threading

        self._open = open_value
        self._slots = slots
        self._packs: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Event] = {}

    def get(self, key: str) -> bytes | None:
        """The whole value of pack ``key`` (None: not a pack; read it by range)."""
        import threading

        if not key.startswith("packs/"):
            return None
        while True:
            with self._lock:
                data = self._packs.get(key)
                if data is not None:
                    self._packs.move_to_end(key)
                    return data
                waiting = self._loading.get(key)
                if waiting is None:
                    self._loading[key] = threading.Event()
                    break
            waiting.wait()  # another thread is fetching it
        try:
            with self._open(key) as fh:
                data = fh.read(self.MAX_PACK + 1)  # the bound: a hostile store cannot fill memory
        finally:
            with self._lock:
                self._loading.pop(key).set()
        if len(data) > self.MAX_PACK:
            return None  # at most MAX_PACK + 1 bytes were read: a bigger pack (or an endless answer) goes by range
        with self._lock:
            self._packs[key] = data
            while len(self._packs) > self._slots:
                self._packs.popitem(last=False)
        return data

    def slice(self, key: str, offset: int, length: int, location: str) -> bytes | None:
        """``length`` bytes at ``offset`` of pack ``key`` from the cache (None: read it by range)."""
        whole = self.get(key)
        if whole is None:
            return None
        if offset + length > len(whole):
            raise truncated(key, location)
        return whole[offset:offset + length]

    def forget(self, key: str) -> None:
        with self._lock:
            self._packs.pop(key, None)


def truncated(key: str, location: str) -> NotFound:
    return NotFound(f"{key} in backup store {location} is shorter than its index says (truncated)")
