"""Issue 20 item 6: clients that GET a large binary and never read must not freeze serve.
Stored files go out through the WSGI file wrapper (the I/O loop sends them, no worker waits);
other streams wait at most --send-timeout on a client, and never with every worker at once."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from fcrctl.repository import open_repository
from fcrctl.repository.base import BinaryContent, Repository, ResourceSpec
from tests.server_fixture import ServerHandle, start_server

BIG = 40 * 1024 * 1024  # beyond waitress's 16 MB output buffer and the socket buffers


class Unbuffered(io.RawIOBase):
    """A stream that is not a file (as a remote backend's): the worker must write it itself."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)

    def close(self) -> None:
        self._inner.close()
        super().close()


class NotFiles:
    """A repository whose binaries do not come out as files."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def open_binary(self, path: str, **kwargs: Any) -> BinaryContent:
        content = self._repo.open_binary(path, **kwargs)
        content.stream = Unbuffered(content.stream)  # type: ignore[assignment]
        return content


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    repository = open_repository(str(tmp_path / "repo"), create=True)
    chunk = bytes(range(256)) * 4096
    repository.create("/big", ResourceSpec(content=io.BytesIO(chunk * (BIG // len(chunk))), binary=True))
    yield repository
    repository.close()


def stalled_get(server: ServerHandle, path: str) -> socket.socket:
    """Ask for ``path`` and never read the answer (a tiny receive buffer, as a slow link)."""
    parts = urlsplit(server.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.sendall(f"GET {parts.path}{path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    return sock


def quick_get(server: ServerHandle) -> float:
    start = time.monotonic()
    assert requests.get(server.url + "/", timeout=30).status_code == 200
    return time.monotonic() - start


def channels(server: ServerHandle, stalled: list[socket.socket]) -> list[Any]:
    """The server's connections of the ``stalled`` clients (waitress's channels)."""
    ours = {sock.getsockname() for sock in stalled}
    return [channel for channel in list(server.server.active_channels.values()) if channel.addr in ours]


def let_go(server: ServerHandle, stalled: list[socket.socket]) -> int:
    """How many of the ``stalled`` connections no worker serves any more, their answer cut off (the
    I/O loop closes each when its socket next takes a byte)."""
    return sum(1 for channel in channels(server, stalled) if channel.will_close and not channel.requests)


def left_to_the_loop(server: ServerHandle, stalled: list[socket.socket]) -> int:
    """How many of the ``stalled`` connections are answered whole and left to the I/O loop to send."""
    return sum(1 for c in channels(server, stalled) if c.total_outbufs_len and not c.requests and not c.will_close)


def wait_until(done: Callable[[], bool], within: float) -> bool:
    """Polls ``done`` up to ``within`` seconds: a deadline far beyond what the server needs even on a
    loaded machine, so that only a server that never does it fails (no fixed sleep to outlast)."""
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read_to_the_end(sock: socket.socket) -> int:
    sock.settimeout(30)
    received = 0
    while block := sock.recv(1 << 20):
        received += len(block)
    return received


def test_stalled_downloads_of_a_stored_binary_hold_no_worker(repo: Repository, dialect: str) -> None:
    with start_server(repo=repo, dialect=dialect, threads=2) as server:  # send timeout 60 s: a held worker stays held
        stalled = [stalled_get(server, "/big") for _ in range(8)]
        try:
            # every one was answered with its file, which the I/O loop sends as the socket takes it: no worker
            # waits on any (were they sent by workers, all but one would be cut off, one worker held 60 s)
            assert wait_until(lambda: left_to_the_loop(server, stalled) == len(stalled), within=30)
            assert quick_get(server) < 30.0
            assert requests.head(server.url + "/big", timeout=30).status_code == 200
        finally:
            for sock in stalled:
                sock.close()


def test_one_worker_is_always_left_for_short_requests(repo: Repository, dialect: str) -> None:
    with start_server(repo=NotFiles(repo), dialect=dialect, threads=2) as server:  # type: ignore[arg-type]
        stalled = [stalled_get(server, "/big") for _ in range(4)]
        try:
            # one worker waits on its slow client (60 s, the default send timeout); the others were let go
            assert wait_until(lambda: let_go(server, stalled) == len(stalled) - 1, within=30)
            assert quick_get(server) < 30.0  # were both workers waiting, it would wait the 60 s send timeout
        finally:
            for sock in stalled:
                sock.close()


def test_other_streams_wait_on_a_client_only_so_long(repo: Repository, dialect: str) -> None:
    with start_server(repo=NotFiles(repo), dialect=dialect, threads=2, send_timeout=1.0) as server:  # type: ignore[arg-type]
        stalled = [stalled_get(server, "/big") for _ in range(4)]
        try:
            assert quick_get(server) < 30.0  # one worker is always left for short requests
            # the worker waiting on a client that reads nothing gives up after the 1 s send timeout: it
            # must have before the client reads a byte, which would be progress
            assert wait_until(lambda: let_go(server, stalled) == len(stalled), within=30)
            for sock in stalled:
                assert read_to_the_end(sock) < BIG  # cut off, not served whole
            assert quick_get(server) < 30.0
        finally:
            for sock in stalled:
                sock.close()


def test_a_reader_that_keeps_reading_is_served_whole(repo: Repository) -> None:
    with start_server(repo=NotFiles(repo), threads=2, send_timeout=1.0) as server:  # type: ignore[arg-type]
        got = requests.get(server.url + "/big", timeout=60)
        assert got.status_code == 200 and len(got.content) == BIG
