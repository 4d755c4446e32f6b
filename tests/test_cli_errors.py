"""Errors that say what happened: timeouts bound the whole request, transport failures are told
apart (connect failed / no answer / connection dropped), and messages name real commands."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode, Unavailable
from fcrctl.repository.http import HttpRepository
from fcrctl.repository.http.errors import transport_error
from fcrctl.repository.http.session import make_session


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose server accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_timeout_bounds_the_whole_request_and_says_no_answer(silent_server: int) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(app, ["--timeout", "1", "--repo", f"http://127.0.0.1:{silent_server}/rest", "ls"])
    elapsed = time.monotonic() - started
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert elapsed < 2.0, f"took {elapsed:.1f} s for --timeout 1 (retries must stay within the budget)"
    assert f"no answer from 127.0.0.1:{silent_server} within 1 s" in result.stderr
    assert "cannot connect" not in result.stderr


def test_refused_connection_says_cannot_connect() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable, match=rf"cannot connect to 127\.0\.0\.1:{port}: connection refused"):
        HttpRepository.open(f"http://127.0.0.1:{port}/rest", retries=0)


def _drop_after_headers(sock: socket.socket) -> None:
    conn, _ = sock.accept()
    with conn:
        conn.recv(65536)  # the request line and headers, some of the body: then the server dies
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_server_dying_mid_upload_is_a_dropped_connection(method: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/rest/x"
        server = threading.Thread(target=_drop_after_headers, args=(sock,), daemon=True)
        server.start()
        session = make_session(retries=0, streaming_body=True)
        with pytest.raises(requests.RequestException) as caught:
            session.request(method, url, data=iter([b"y" * (1 << 20)] * 64), timeout=(5, 5))
        server.join(5)
    error = transport_error(caught.value, url, timeout=5.0)
    assert isinstance(error, Unavailable)
    assert error.message.startswith("connection to 127.0.0.1:")
    assert "dropped" in error.message and "cannot connect" not in error.message


def test_create_on_an_existing_path_names_fcrctl_put(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    runner = CliRunner()
    assert runner.invoke(app, ["init", repo]).exit_code == 0
    assert runner.invoke(app, ["--repo", repo, "create", "/a"]).exit_code == 0
    again = runner.invoke(app, ["--repo", repo, "create", "/a"])
    assert again.exit_code == ExitCode.CONFLICT
    assert "fcrctl put /a" in again.stderr and "replace (PUT)" not in again.stderr


def test_verify_backup_names_the_path_once_and_counts_in_english(tmp_path: Path) -> None:
    from tests.backup_helpers import make_repo, ok_json, run

    repo, store = tmp_path / "repo", tmp_path / "store"
    make_repo(repo, binaries=1)
    bid = ok_json(repo, "backup", "--to", str(store))["id"]
    files = (p for p in store.rglob("*") if p.is_file() and p.stat().st_size > 0)
    blobs = sorted(files, key=lambda p: p.stat().st_size)
    damaged = [p for p in blobs if "blob" in str(p.relative_to(store)) or "pack" in str(p.relative_to(store))][-1]
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    result = run(repo, "verify-backup", bid, "--from", str(store), "--read-data")
    assert result.exit_code == ExitCode.CORRUPT, result.stderr
    assert " 1 problem" in result.stdout + result.stderr and "1 problems" not in result.stdout + result.stderr
    [error] = result.stderr.splitlines()
    where = error.split("(first: ", 1)[1].split(":", 1)[0]
    assert error.count(where) == 1, error
