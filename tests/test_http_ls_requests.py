"""`ls` over HTTP sends its listing's GET first, with no HEAD before it (issue 14: a request fewer
before the first line; serve's HEAD of a big container builds the start of its body). What a HEAD
told (a binary: nothing to list; missing, deleted) comes from that GET; a redirect (external
content) is never followed by it, and a 406 falls back to HEAD then GET."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.http import HttpRepository

server_fixture = pytest.importorskip("tests.server_fixture")

LDP = "http://www.w3.org/ns/ldp#"
# a binary whose bytes read as a listing of /c: only its type says it is not one
TRICK = b"<{b}/c> <http://www.w3.org/ns/ldp#contains> <{b}/c/ghost> .\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where = tmp_path_factory.mktemp("ls") / "repo"
    local = open_repository(str(where), create=True)
    try:
        local.create("/c", ResourceSpec())
        for name in ("a", "b"):
            local.create(f"/c/{name}", ResourceSpec())
        local.create("/c/trick.nt", ResourceSpec(content=io.BytesIO(TRICK), mime_type="application/n-triples"))
        local.create("/gone", ResourceSpec())
        local.delete("/gone")
    finally:
        local.close()
    with server_fixture.start_server(where, dialect="fedora6") as handle:
        yield handle.url


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each request's method and path, as the served app gets it (through requests or http.client)."""
    from fcrctl.server.app import FedoraApp

    seen: list[str] = []
    dispatch = FedoraApp.dispatch

    def counted(self: FedoraApp, request: Any) -> Any:
        seen.append(f"{request.method} {request.script_root}{request.path}")
        return dispatch(self, request)

    monkeypatch.setattr(FedoraApp, "dispatch", counted)
    return seen


def ls(base: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--repo", base, "ls", *args])


def test_ls_of_a_container_sends_the_root_s_get_and_its_listing_s_get_only(served: str, sent: list[str]) -> None:
    result = ls(served, "/c")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["/c/a", "/c/b", "/c/trick.nt"]
    assert sent == ["GET /rest/", "GET /rest/c"]


def test_ls_of_a_binary_lists_the_binary_not_its_bytes(served: str, sent: list[str]) -> None:
    """Its bytes are N-Triples naming a child: its type, from the GET's headers, says it is no listing."""
    result = ls(served, "/c/trick.nt")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["/c/trick.nt"]
    # the GET said what it is (no HEAD before it, none after it); then `ls` describes the binary (info)
    assert sent == ["GET /rest/", "GET /rest/c/trick.nt", "HEAD /rest/c/trick.nt", "GET /rest/c/trick.nt/fcr:metadata"]


@pytest.mark.parametrize(("path", "code", "says"), [("/nothing", ExitCode.NOT_FOUND, "not found: /nothing"),
                                                    ("/gone", ExitCode.GONE, "tombstone")])
def test_ls_of_a_missing_or_deleted_path_fails_as_before(served: str, path: str, code: ExitCode, says: str) -> None:
    result = ls(served, path)
    assert result.exit_code == code, result.output
    assert says in result.output


class Odd(http.server.BaseHTTPRequestHandler):
    """A binary at /rest/bin that a listing's GET gets as ``STATUS`` (a redirect off the repository,
    or 406), and whose HEAD says what it is; every request is recorded in ``SEEN``."""

    STATUS = 307
    SEEN: list[str] = []

    def log_message(self, *_: object) -> None:
        pass

    def _answer(self, get: bool) -> None:
        self.SEEN.append(f"{self.command} {self.path}")
        if self.path.startswith("/elsewhere"):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b""
        if self.path in ("/rest", "/rest/"):
            self.send_response(200)
            self.send_header("Content-Type", "application/n-triples")
            body = f"<http://{self.headers['Host']}/rest/> <{LDP}x> <{LDP}y> .\n".encode() if get else b""
        elif get and self.path == "/rest/bin":
            self.send_response(self.STATUS)
            if self.STATUS == 307:
                self.send_header("Location", f"http://{self.headers['Host']}/elsewhere")
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Link", f'<{LDP}NonRDFSource>;rel="type"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)


@pytest.mark.parametrize("status", [307, 406])
def test_a_listing_s_get_answered_otherwise_falls_back_to_head_and_follows_no_redirect(status: int,
                                                                                      monkeypatch: pytest.MonkeyPatch
                                                                                      ) -> None:
    monkeypatch.setattr(Odd, "STATUS", status)
    monkeypatch.setattr(Odd, "SEEN", [])
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        repo = HttpRepository.open(f"http://127.0.0.1:{httpd.server_address[1]}/rest", retries=0)
        try:
            assert list(repo.children("/bin")) == []
        finally:
            repo.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert Odd.SEEN[1:] == ["GET /rest/bin", "HEAD /rest/bin"]  # and never GET /elsewhere


def test_a_recursive_listing_sends_one_get_per_container(served: str, sent: list[str]) -> None:
    result = ls(served, "-R", "/c")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["/c/a", "/c/b", "/c/trick.nt"]
    assert sent == ["GET /rest/", "GET /rest/c", "GET /rest/c/a", "GET /rest/c/b"]
