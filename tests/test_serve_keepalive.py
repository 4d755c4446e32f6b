"""serve keeps a client's connection open across GETs of RDF (waitress closes it after a body
with no Content-Length): fcrctl/server/keepalive.py."""

from __future__ import annotations

import http.client as httpclient
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.wrappers import Response

from fcrctl.errors import NotFound
from fcrctl.server.keepalive import sized
from tests.server_fixture import start_server


def test_rdf_gets_share_one_connection(tmp_path: Path) -> None:
    with start_server(tmp_path / "repo") as server:
        parts = urlsplit(server.url)
        conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            conn.request("PUT", parts.path + "/a", body=b"", headers={"Content-Type": "text/turtle"})
            assert conn.getresponse().read() is not None
            sockets = []
            lengths = {}
            for method, accept in (("GET", "application/n-triples"), ("HEAD", "text/turtle"),
                                   ("GET", "text/turtle"), ("HEAD", "application/n-triples")):
                conn.request(method, parts.path + "/a", headers={"Accept": accept})
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200 and (body if method == "GET" else body == b"")
                lengths.setdefault(accept, set()).add(response.getheader("Content-Length"))
                if method == "GET":
                    assert response.getheader("Content-Length") == str(len(body))
                assert response.getheader("Connection") != "close"
                sockets.append(conn.sock)
            assert sockets[0] is not None and all(sock is sockets[0] for sock in sockets)
            assert all(len(seen) == 1 for seen in lengths.values())  # HEAD gives GET's length, as clients HEAD first
        finally:
            conn.close()


def _body(*chunks: bytes, fail: Exception | None = None, closed: list[bool] | None = None):  # noqa: ANN202
    try:
        yield from chunks
        if fail is not None:
            raise fail
    finally:
        if closed is not None:
            closed.append(True)


def test_a_body_bigger_than_the_limit_still_streams_whole_and_is_closed() -> None:
    closed: list[bool] = []
    response = sized(Response(_body(b"a" * 10, b"b" * 10, b"c" * 10, closed=closed)), limit=15)
    assert response.is_streamed and "Content-Length" not in response.headers
    assert b"".join(response.response) == b"a" * 10 + b"b" * 10 + b"c" * 10
    response.close()
    assert closed == [True]


def test_a_small_body_gets_its_length_and_its_source_is_closed() -> None:
    closed: list[bool] = []
    response = sized(Response(_body(b"x" * 10, b"y", closed=closed)), limit=15)
    assert response.headers["Content-Length"] == "11" and response.get_data() == b"x" * 10 + b"y"
    assert closed == [True]


def test_an_error_in_the_body_read_ahead_is_raised_for_an_error_status() -> None:
    closed: list[bool] = []
    with pytest.raises(NotFound):
        sized(Response(_body(b"x", fail=NotFound("gone meanwhile"), closed=closed)))
    assert closed == [True]
