"""Helpers for the hostile-RDF tests: a served repository per dialect, a CLI runner, and a
listener that records every connection made to it (to prove nothing was fetched)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from tests.server_fixture import ServerHandle, start_server

DIALECTS = ["fedora4", "fedora6"]


class Listener:
    """A TCP socket on 127.0.0.1 that accepts and counts connections (and answers nothing)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


@pytest.fixture(params=DIALECTS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerHandle]:
    with start_server(tmp_path / "repo", dialect=request.param) as handle:
        yield handle


def cli(*args: str, input: bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input)


def stored_files(repo: Path) -> list[str]:
    """Every file under the OCFL root (to show a refused request stored nothing)."""
    return sorted(str(p.relative_to(repo)) for p in (repo / "ocfl-root").rglob("*") if p.is_file())
