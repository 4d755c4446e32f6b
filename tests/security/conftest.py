"""Shared pieces of the hostile-input suite: every test runs against a real ``fcrctl serve`` on
127.0.0.1, once per dialect (fedora4 and fedora6)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

DIALECTS = ("fedora4", "fedora6")
EXTERNAL = "http://fedora.info/definitions/fcrepo#ExternalContent"


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def fresh(url: str) -> str:
    return f"{url}/s{uuid.uuid4().hex[:10]}"


def external_link(target: str, handling: str) -> dict[str, str]:
    return {"Link": f'<{target}>; rel="{EXTERNAL}"; handling="{handling}"; type="text/plain"'}


class Origin:
    """A tiny HTTP server on 127.0.0.1 standing for 'some other server': ``/secret`` answers
    a secret, ``/public`` a public text, ``/go?to=URL`` redirects there."""

    def __init__(self) -> None:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                origin.hits.append(self.path)
                if self.path.startswith("/go?to="):
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/go?to=") :])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = {"/secret": b"internal secret", "/ok/public": b"public text"}.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.hits: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.close()


USERS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}


@pytest.fixture(scope="session")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """alice and bob are ordinary users, root an admin (scrypt hashing is slow: made once)."""
    from fcrctl.server.auth import add_user

    path = tmp_path_factory.mktemp("auth") / "users"
    for name, password in USERS.items():
        add_user(path, name, password, admin=name == "root")
    return str(path)


def session_of(user: str) -> requests.Session:
    session = requests.Session()
    session.auth = (user, USERS[user])
    return session
