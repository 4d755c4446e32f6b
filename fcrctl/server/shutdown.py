"""Graceful stop on SIGTERM (what service managers and ``docker stop`` send).

On SIGTERM the server stops listening at once (new connections are refused), lets every request
already received run to its end and its response reach the client, then closes. A grace period
bounds the wait (a client that stopped reading must not hold the stop forever). Work the
repository had not committed stays as it would after any stop: transactions are journaled in
staging/ and recovered on the next open. Ctrl-C (SIGINT) keeps stopping at once.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

GRACE_SECONDS = 30.0


def run_until_terminated(server: Any, *, grace: float = GRACE_SECONDS) -> None:
    """``server.run()`` (waitress), which returns once SIGTERM came and the requests in flight ended."""
    from waitress import wasyncore

    if not hasattr(server, "del_channel"):  # several listening sockets: waitress's own loop
        server.run()
        return
    stopping = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    timeout = server.adj.asyncore_loop_timeout
    use_poll = server.adj.asyncore_use_poll
    socket_map = server._map
    try:
        while not stopping.is_set():
            wasyncore.loop(timeout=timeout, map=socket_map, use_poll=use_poll, count=1)
        server.accepting = False
        server.del_channel()  # stop listening: the socket map keeps the connections, not the listener
        server.socket.close()
        deadline = time.monotonic() + grace
        while busy(server) and time.monotonic() < deadline:
            wasyncore.loop(timeout=min(timeout, 0.05), map=socket_map, use_poll=use_poll, count=1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def busy(server: Any) -> bool:
    """A request is queued, running, or has output the client has not taken yet."""
    dispatcher = server.task_dispatcher
    if dispatcher.active_count or dispatcher.queue:
        return True
    for channel in list(server._map.values()):
        if channel is server:
            continue
        if getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0):
            return True
    return False
