"""Response bodies as files: ResponseStream (a streamed download) and Window (a byte range of one)"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, BinaryIO

from fcrctl.errors import Unavailable

if TYPE_CHECKING:
    import requests


class ResponseStream(io.RawIOBase):
    """A streamed response body as a file; transport failures become fcrctl errors."""

    def __init__(self, response: requests.Response, location: str) -> None:
        self._response = response
        self._raw = response.raw
        self._location = location

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(None if size is None or size < 0 else size) or b""
        except Exception as exc:  # urllib3 raises several unrelated types mid-body
            raise Unavailable(f"download from {self._location} broke off: {type(exc).__name__}: retry") from None

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class Window(io.RawIOBase):
    """Bytes [start, start+length) of a stream that starts at 0 (for servers ignoring Range)."""

    def __init__(self, source: BinaryIO, start: int, length: int | None) -> None:
        self._source = source
        self._skip = start
        self._left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self._skip:
            skipped = self._source.read(min(self._skip, 1 << 20))
            if not skipped:
                return b""
            self._skip -= len(skipped)
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._source.read(size)
        if self._left is not None:
            self._left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()
