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

Slow readers (issue 20): a worker whose response outgrows waitress's output buffer waits for
the client to read. Waitress waits forever, so eight clients that never read froze eight
workers. Here a worker waits at most ``send_timeout`` seconds without the client taking a byte,
and never when all the other workers are already waiting on clients: one worker always stays
free for short requests. Either way the connection is closed and the worker moves on. (Binaries
stored in files do not get here at all: they go out through ``wsgi.file_wrapper``, sent by the
I/O loop without a worker, and an idle connection is closed after ``channel_timeout``.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from waitress.channel import ClientDisconnected, HTTPChannel

DEFAULT_SEND_TIMEOUT = 60.0


class _Waiters:
    """How many workers of one server are waiting on slow clients right now."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()


class Channel(HTTPChannel):  # type: ignore[misc]
    _flushing = False  # set while some thread is inside _flush_some
    send_timeout = DEFAULT_SEND_TIMEOUT
    waiters: _Waiters | None = None  # set per server by install()

    def writable(self) -> bool:
        return bool(super().writable()) and not self._flushing

    def _flush_some(self, do_close: bool = True) -> Any:
        self._flushing = True
        try:
            return super()._flush_some(do_close=do_close)
        finally:
            self._flushing = False

    def _flush_outbufs_below_high_watermark(self) -> None:
        """waitress's wait for the client to drain the buffer, bounded (see the module doc)."""
        high = self.adj.outbuf_high_watermark
        if self.total_outbufs_len <= high:
            return
        with self.outbuf_lock:
            _, exception = self._flush_exception(self._flush_some, do_close=False)
            if exception:  # as waitress: let the loop close the socket
                self.server.pull_trigger()
                self.outbuf_lock.wait()
                return
            if not (self.connected and self.total_outbufs_len > high):
                return
            waiters = self.waiters or _Waiters()
            with waiters.lock:
                if waiters.count >= max(self.adj.threads - 1, 1):
                    self._give_up("every other worker is already waiting on a slow client")
                waiters.count += 1
            try:
                self._wait_for_reader(high)
            finally:
                with waiters.lock:
                    waiters.count -= 1

    def _wait_for_reader(self, high: int) -> None:
        left, progress_at = self.total_outbufs_len, time.monotonic()
        while self.connected and self.total_outbufs_len > high:
            self.server.pull_trigger()
            self.outbuf_lock.wait(timeout=min(1.0, self.send_timeout))
            now = time.monotonic()
            if self.total_outbufs_len < left:
                left, progress_at = self.total_outbufs_len, now
            elif now - progress_at >= self.send_timeout:
                self._give_up(f"the client read nothing for {self.send_timeout:g} s")

    def _give_up(self, why: str) -> None:
        self.logger.info("closing a connection to free a worker: %s", why)
        self.will_close = True
        self.server.pull_trigger()
        raise ClientDisconnected(why)


def install(server: Any, *, send_timeout: float = DEFAULT_SEND_TIMEOUT) -> None:
    """Make ``server`` (what waitress.server.create_server returned) accept with Channel."""
    bound = type("Channel", (Channel,), {"send_timeout": send_timeout, "waiters": _Waiters()})
    listeners = getattr(server, "_map", None) or getattr(server, "map", None) or {}
    for listener in [server, *listeners.values()]:
        if getattr(listener, "channel_class", None) is HTTPChannel:
            listener.channel_class = bound
