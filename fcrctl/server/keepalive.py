"""Small streamed responses sent with a Content-Length, so waitress keeps their connection open

waitress (3.0) closes the connection after every HTTP/1.1 response that has no Content-Length
(it sends those chunked, then ``Connection: close``). Our RDF GETs are written as they are read,
so each one cost its client a new TCP connection: an export over serve of 10,000 resources made
39,123 connections for 40,391 requests (~3 ms client CPU each, and the server's accept). A
resource's own RDF is a few hundred bytes: its body is read here, up to a limit, and sent whole
with its length; a listing bigger than that still streams (its first line goes out at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from werkzeug.wrappers import Response

SMALL = 16 << 10  # bytes read ahead (~150 children of a listing: its first line waits a few ms)


def sized(response: Response, limit: int | None = None) -> Response:
    """``response`` with its body read ahead up to ``limit`` bytes: whole with a Content-Length
    when it ended there, else streamed as before (the bytes read go first). Errors the body
    raises while read ahead are raised here, where the caller still answers with an error
    status (streamed, they cut the connection off mid-body)."""
    if (not response.is_streamed or "Content-Length" in response.headers or response.status_code in (204, 304)
            or response.direct_passthrough):
        return response
    limit = SMALL if limit is None else limit
    body = response.response
    assert body is not None
    chunks = iter(body)
    read: list[bytes] = []
    size = 0
    try:
        while size < limit:
            chunk = next(chunks, None)
            if chunk is None:
                _close(body)
                response.set_data(b"".join(read))  # sets Content-Length
                return response
            chunk = chunk.encode() if isinstance(chunk, str) else chunk
            read.append(chunk)
            size += len(chunk)
    except BaseException:
        _close(body)
        raise
    response.response = _rest(read, chunks, body)
    return response


def _rest(read: list[bytes], chunks: Iterator[bytes], body: Iterable[bytes]) -> Iterator[bytes]:
    try:
        yield from read
        read.clear()
        yield from chunks
    finally:
        _close(body)


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
