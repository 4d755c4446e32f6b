"""A binary stream that reports how far a backend has read it, for an upload's progress bar"""

from __future__ import annotations

import os
from typing import Any, BinaryIO


class ProgressReader:
    """A binary stream that reports how far it has been read (backends may rewind it: hashing first)."""

    def __init__(self, stream: BinaryIO, advance: Any) -> None:
        self._stream = stream
        self._advance = advance
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._moved(self._position + len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._stream.seek(offset, whence)
        self._moved(position)
        return position

    def _moved(self, position: int) -> None:
        self._advance(position - self._position)
        self._position = position

    def __getattr__(self, name: str) -> Any:  # tell, seekable, fileno, name, close...
        return getattr(self._stream, name)


def remaining(stream: BinaryIO) -> int | None:
    try:
        if not stream.seekable():
            return None
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, ValueError):
        return None
