"""waitress's HTTP channel without its busy loop while a task thread sends.

A task thread sends its own output (``write_soon`` flushes at once). While it is inside that
send, the output buffer is not empty, so the I/O loop finds the socket writable, fails to take
the buffer's lock, and goes round again: ~28 useless loop turns per HEAD request, each one
fighting the task thread for the GIL (0.3 ms of the loop thread's CPU per request, a third of
what the server spent on a Want-Digest HEAD beyond the hashing).

Here the loop leaves the socket alone while a thread is flushing it. Nothing is lost: whenever
a task thread stops with output left (a full socket, a write error, the high-watermark wait,
the end of the task), waitress pulls the loop's trigger after that flush has returned, and the
loop looks again.
"""

from __future__ import annotations

from typing import Any

from waitress.channel import HTTPChannel


class Channel(HTTPChannel):  # type: ignore[misc]
    _flushing = False  # set while some thread is inside _flush_some

    def writable(self) -> bool:
        return bool(super().writable()) and not self._flushing

    def _flush_some(self, do_close: bool = True) -> Any:
        self._flushing = True
        try:
            return super()._flush_some(do_close=do_close)
        finally:
            self._flushing = False


def install(server: Any) -> None:
    """Make ``server`` (what waitress.server.create_server returned) accept with Channel."""
    listeners = getattr(server, "_map", None) or getattr(server, "map", None) or {}
    for listener in [server, *listeners.values()]:
        if getattr(listener, "channel_class", None) is HTTPChannel:
            listener.channel_class = Channel
