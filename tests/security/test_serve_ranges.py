"""Issue 20 item 10: byte ranges as RFC 9110 has them - If-Range honoured (a resumed download
never mixes two versions), a suffix longer than the body is all of it, unknown units ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.security.conftest import fresh
from tests.server_fixture import ServerHandle, start_server

BODY = bytes(range(256)) * 4  # 1,024 bytes


@pytest.fixture
def binary(tmp_path: Path, dialect: str) -> Iterator[tuple[ServerHandle, str]]:
    with start_server(tmp_path / "repo", dialect=dialect) as server:
        url = fresh(server.url)
        put = requests.put(url, data=BODY, headers={"Content-Type": "application/octet-stream"}, timeout=10)
        assert put.status_code == 201
        yield server, url


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def test_a_suffix_longer_than_the_body_is_the_whole_body(binary: tuple[ServerHandle, str]) -> None:
    _, url = binary
    for spec in ("bytes=-2000", "bytes=-1024", "BYTES=-5000"):
        got = get(url, Range=spec)
        assert got.status_code == 206, spec
        assert got.content == BODY and got.headers["Content-Range"] == "bytes 0-1023/1024"
    tail = get(url, Range="bytes=-24")
    assert tail.status_code == 206 and tail.content == BODY[-24:]
    assert get(url, Range="bytes=2000-").status_code == 416  # a start past the end stays unsatisfiable


def test_unknown_units_are_ignored(binary: tuple[ServerHandle, str]) -> None:
    _, url = binary
    for spec in ("items=0-1", "pages=1-2", "bytes 0-1"):
        got = get(url, Range=spec)
        assert got.status_code == 200 and got.content == BODY, spec


def test_if_range_with_the_current_etag_gives_the_range(binary: tuple[ServerHandle, str]) -> None:
    _, url = binary
    head = requests.head(url, timeout=10)
    etag, modified = head.headers["ETag"], head.headers["Last-Modified"]
    assert get(url, Range="bytes=0-9", **{"If-Range": etag}).content == BODY[:10]
    assert get(url, Range="bytes=0-9", **{"If-Range": modified}).status_code == 206


def test_if_range_after_a_change_gives_the_whole_new_body(binary: tuple[ServerHandle, str]) -> None:
    _, url = binary
    head = requests.head(url, timeout=10)
    etag = head.headers["ETag"]
    new = b"x" * 2048
    assert requests.put(url, data=new, headers={"Content-Type": "application/octet-stream"}, timeout=10).ok
    for validator in (etag, 'W/"' + etag.strip('"') + '"', '"nonsense"', "Sat, 01 Jan 2000 00:00:00 GMT"):
        got = get(url, Range="bytes=1000-", **{"If-Range": validator})
        assert got.status_code == 200 and got.content == new, validator
        assert "Content-Range" not in got.headers


def test_a_weak_etag_never_matches_if_range(binary: tuple[ServerHandle, str]) -> None:
    _, url = binary
    etag = requests.head(url, timeout=10).headers["ETag"]
    got = get(url, Range="bytes=0-9", **{"If-Range": "W/" + etag})
    assert got.status_code == 200 and got.content == BODY
