"""fcrctl serve under load and at the edges: concurrency, streaming, disconnects, auth, the CLI guard."""

from __future__ import annotations

import hashlib
import io
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import typer
from typer.testing import CliRunner

from fcrctl.cli.serve import register
from fcrctl.errors import BadInput
from fcrctl.server.auth import add_user, read_auth_file
from tests.server_fixture import ServerHandle, start_server

MB = 1024 * 1024
OCTETS = {"Content-Type": "application/octet-stream"}  # Fedora 4.7 refuses (415) bytes without a type


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    with start_server(tmp_path / "repo") as handle:
        yield handle


def generated(total: int, block: int = MB) -> Iterator[bytes]:
    """Deterministic content produced on the fly (never held whole in memory)."""
    chunk = hashlib.sha256(b"seed").digest() * (block // 32)
    sent = 0
    while sent < total:
        piece = chunk[: min(block, total - sent)]
        sent += len(piece)
        yield piece


def digest_of(total: int) -> str:
    hasher = hashlib.sha256()
    for piece in generated(total):
        hasher.update(piece)
    return hasher.hexdigest()


def test_concurrent_creates(server: ServerHandle) -> None:
    requests.put(server.url + "/many")

    def create(n: int) -> list[str]:
        with requests.Session() as session:
            out = []
            for i in range(8):
                response = session.post(server.url + "/many", headers={"Slug": f"w{n}-{i}"})
                assert response.status_code == 201, response.text
                out.append(response.headers["Location"])
            return out

    with ThreadPoolExecutor(16) as pool:
        locations = [url for batch in pool.map(create, range(16)) for url in batch]
    assert len(set(locations)) == 16 * 8
    listing = requests.get(server.url + "/many", headers={"Accept": "application/n-triples"}).text
    assert listing.count("<http://www.w3.org/ns/ldp#contains>") == 16 * 8


def test_chunked_upload_and_streamed_download(server: ServerHandle) -> None:
    size = 20 * MB
    response = requests.put(server.url + "/big", data=generated(size), headers={"Content-Type": "application/x-big"})
    assert response.status_code == 201  # a generator body goes out with Transfer-Encoding: chunked
    hasher = hashlib.sha256()
    received = 0
    with requests.get(server.url + "/big", stream=True) as download:
        assert download.headers["Content-Length"] == str(size)
        for piece in download.iter_content(MB):
            hasher.update(piece)
            received += len(piece)
    assert received == size and hasher.hexdigest() == digest_of(size)


def _rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_large_binary_streams_at_constant_server_memory(tmp_path: Path) -> None:
    size = 200 * MB
    with start_server(tmp_path / "repo", subprocess=True) as handle:
        assert handle.pid is not None
        assert requests.put(handle.url + "/huge", data=generated(size), headers=OCTETS).status_code == 201
        hasher = hashlib.sha256()
        with requests.get(handle.url + "/huge", stream=True) as download:
            for piece in download.iter_content(MB):
                hasher.update(piece)
        peak_mb = _rss_peak_kb(handle.pid) / 1024
    assert hasher.hexdigest() == digest_of(size)
    assert peak_mb < 100, f"server peak RSS {peak_mb:.0f} MB while streaming {size // MB} MB"


def test_io_loop_leaves_a_socket_alone_while_a_task_thread_sends(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stock waitress turned its loop ~28 times per HEAD while a task thread sent the headers."""
    from fcrctl.server import channel

    assert requests.put(server.url + "/small", data=b"x" * 1000, headers=OCTETS).status_code == 201
    turns: list[int] = []
    handle_write = channel.Channel.handle_write
    monkeypatch.setattr(channel.Channel, "handle_write", lambda self: (turns.append(1), handle_write(self))[1])
    with requests.Session() as session:
        for _ in range(200):
            assert session.head(server.url + "/small").status_code == 200
    assert len(turns) < 20, f"{len(turns)} write turns of the I/O loop for 200 HEAD requests"


def test_client_disconnect_mid_upload_stores_nothing(server: ServerHandle) -> None:
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /rest/partial HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 10485760\r\n\r\n" + b"x" * MB
        )
    time.sleep(0.3)
    assert requests.get(server.url + "/partial").status_code == 404
    assert requests.put(server.url + "/partial", data=b"whole", headers=OCTETS).status_code == 201


def test_malformed_http_is_refused_without_traceback(server: ServerHandle) -> None:
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"PUT /rest/x HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and b"Traceback" not in reply


# -- authentication ---------------------------------------------------------------------------------------


def test_basic_auth(tmp_path: Path) -> None:
    auth_file = tmp_path / "users"
    add_user(auth_file, "alice", "s3cret-pw", admin=True)  # ACLs: tests/test_acl_server.py
    assert "s3cret-pw" not in auth_file.read_text()
    assert (auth_file.stat().st_mode & 0o077) == 0
    with start_server(tmp_path / "repo", auth_file=auth_file) as handle:
        anonymous = requests.get(handle.root)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        wrong = requests.get(handle.root, auth=("alice", "guess"))
        assert wrong.status_code == 401 and "guess" not in wrong.text
        assert requests.get(handle.root, auth=("mallory", "s3cret-pw")).status_code == 401
        with requests.Session() as session:
            session.auth = ("alice", "s3cret-pw")
            assert session.get(handle.root).status_code == 200
            assert session.put(handle.url + "/mine").status_code == 201


# -- the CLI command -----------------------------------------------------------------------------------------


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Stand-in for fcrctl's main callback."""

    register(app)
    return app


def test_serve_refuses_public_address_without_auth(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert isinstance(result.exception, BadInput)
    assert "--auth-file" in result.exception.message
    result = CliRunner().invoke(_cli(), ["serve", "--host", "::", "--port", "0"])
    assert isinstance(result.exception, BadInput)


def test_serve_add_user_reads_password_from_stdin(tmp_path: Path) -> None:
    auth_file = tmp_path / "users"
    result = CliRunner().invoke(
        _cli(), ["serve", "--auth-file", str(auth_file), "--add-user", "bob"], input="pw-from-stdin\n"
    )
    assert result.exit_code == 0, result.output
    assert "pw-from-stdin" not in result.output
    users = read_auth_file(auth_file)
    assert set(users) == {"bob"} and "pw-from-stdin" not in users["bob"].hashed and not users["bob"].admin


def test_fedora6_dialect_advertises_memento_and_tx_endpoint(tmp_path: Path) -> None:
    with start_server(tmp_path / "repo", dialect="fedora6") as handle:
        response = requests.head(handle.root)
        found = {(i["url"], i.get("rel")) for i in requests.utils.parse_header_links(response.headers["Link"])}
        assert (handle.url + "/fcr:tx", "http://fedora.info/definitions/v4/transaction#endpoint") in found
        assert ("http://mementoweb.org/ns#TimeGate", "type") in found
        assert b"hasTransactionProvider" not in requests.get(handle.root).content


def test_upload_stream_is_not_buffered_by_the_app(server: ServerHandle) -> None:
    data = io.BytesIO(b"y" * (3 * MB))
    response = requests.post(server.root, data=data, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201
    assert requests.head(response.headers["Location"]).headers["Content-Length"] == str(3 * MB)


def test_add_user_admin_marks_the_user_and_survives_rewrites(tmp_path: Path) -> None:
    auth_file = tmp_path / "users"
    runner = CliRunner()
    args = ["serve", "--auth-file", str(auth_file), "--add-user"]
    assert runner.invoke(_cli(), [*args, "root", "--admin"], input="pw1\n").exit_code == 0
    assert runner.invoke(_cli(), [*args, "bob"], input="pw2\n").exit_code == 0
    users = read_auth_file(auth_file)
    assert users["root"].admin and not users["bob"].admin
    refused = runner.invoke(_cli(), ["serve", "--auth-file", str(auth_file), "--admin"])
    assert isinstance(refused.exception, BadInput) and "--add-user" in str(refused.exception)


def test_auth_file_with_an_unknown_role_is_refused(tmp_path: Path) -> None:
    auth_file = tmp_path / "users"
    auth_file.write_text("# users\nbob:scrypt:32768:8:1$salt$hash superuser\n")
    with pytest.raises(BadInput, match="line 2"):
        read_auth_file(auth_file)
