"""Issue 20: fuzzing serve's paths and headers over real sockets. Whatever a client sends,
the answer is never a 500, and no file appears outside the repository's root. Bounded: a few
hundred requests per dialect (FCRCTL_FUZZ_EXAMPLES=5000 for a deeper run), derandomised so CI
runs the same cases every time."""

from __future__ import annotations

import http.client as httpclient
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_fixture import ServerHandle, start_server

EXTERNAL = "http://fedora.info/definitions/fcrepo#ExternalContent"
METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE", "MOVE", "COPY"]
# ".fcrepo" found the 500 of issue 20 item 8 (PUT /rest/.fcrepo with a body)
SEGMENTS = [
    ".fcrepo", ".FCREPO",
    "a", "b", "x y", ".", "..", "%2e%2e", "%2E%2e", ".%2e", "%2f", "%2F..", "%00", "%ff", "%fe", "%c3%a9", "é",
    "fcr:metadata", "fcr:versions", "fcr:tx", "fcr:acl", "fcr:fixity", "fcr:tombstone", "fcr:backup", "tx:",
    "tx:abc", "fcr-root", "a~fcr-desc", "%23x", "q%3Fx", "%25", "pc%2525", "\\..\\", "%5c..%5c",
    "..%2f..%2f..%2fetc", "ocfl-root", "index.sqlite", "%0d%0aX-Injected:%20yes", "A" * 300,
]
OUTSIDE_URLS = ["file:///etc/passwd", "FILE:///etc/shadow", "file://localhost/proc/self/environ",
                "file:/etc/hosts", "http://127.0.0.1:1/x", "http://169.254.169.254/", "//evil.com/rest/x",
                "gopher://x", "", "not a url", "http://[::1]/x", "http://evil.com/rest/a", "//EVIL.com/rest/a",
                "https://user:pw@evil.com/", "http://127.0.0.1:1/rest/fcr:tx/x"]


@pytest.fixture(scope="module", params=["fedora4", "fedora6"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerHandle, Path]]:
    work = tmp_path_factory.mktemp("fuzz")
    (work / "outside").mkdir()
    with start_server(work / "repo", dialect=str(request.param)) as server:
        yield server, work


@pytest.fixture
def seeded(served: tuple[ServerHandle, Path]) -> tuple[ServerHandle, Path]:
    """/a a container and /b a binary, so requests reach existing resources as often as not."""
    server, _ = served
    for path, body, kind in (("/a", b"", "text/turtle"), ("/b", b"0123456789" * 300, "application/octet-stream")):
        if requests.head(server.url + path, timeout=10).status_code != 200:
            requests.delete(server.url + path + "/fcr:tombstone", timeout=10)
            requests.put(server.url + path, data=body, headers={"Content-Type": kind}, timeout=10)
    return served


def listing(root: Path) -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files} | {
        os.path.join(d, s) for d, subs, _ in os.walk(root) for s in subs
    }


def header_values(base: str) -> st.SearchStrategy[dict[str, str]]:
    text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=40)
    url = st.sampled_from(OUTSIDE_URLS + [f"{base}/{p}" for p in SEGMENTS[:12]])
    link = st.builds(
        lambda u, handling: f'<{u}>; rel="{EXTERNAL}"; handling="{handling}"',
        url, st.sampled_from(["proxy", "copy", "redirect", "PROXY", "", "teleport"]),
    ) | st.builds(lambda u: f'<{u}>; rel="type"', url) | text
    return st.fixed_dictionaries({}, optional={
        "Link": link,
        "Destination": url,
        "Atomic-ID": url | text,
        "Range": st.sampled_from(["bytes=0-1", "bytes=-2000", "items=0-1", "bytes=5-1", "bytes=0-0,2-3",
                                  "bytes=99999999999999999999-"]) | text,
        "If-Range": st.sampled_from(['"x"', 'W/"x"', "Sat, 01 Jan 2000 00:00:00 GMT"]) | text,
        "Content-Type": st.sampled_from(["application/octet-stream", "text/plain", "application/sparql-update",
                                         "text/turtle", "multipart/form-data; boundary=x"]) | text,
        "Slug": st.sampled_from(SEGMENTS) | text,
        "Digest": st.sampled_from(["sha=abc", "sha-256=" + "0" * 64, "md5", "crc32=1"]) | text,
        "Want-Digest": st.sampled_from(["sha", "sha-512;q=0.3", "nonsense"]) | text,
        "Prefer": st.sampled_from(['return=representation; include="http://x"', "handling=lenient"]) | text,
        "Accept": st.sampled_from(["text/turtle", "application/ld+json", "*/*", "image/png"]) | text,
        "If-Match": st.sampled_from(["*", '"x"', 'W/"x"']) | text,
        "Authorization": st.sampled_from(["Basic Zm9vOmJhcg==", "Basic !!!", "Bearer x"]) | text,
    })


BASE = "http://base.invalid/rest"  # replaced with the server's URL when sent
HEADERS = header_values(BASE)
BODIES = st.sampled_from([b"", b"hello", b"\x00\xff" * 8, b'<> <http://purl.org/dc/elements/1.1/title> "t" .',
                          b'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "t" }'])


def send(server: ServerHandle, method: str, path: str, headers: dict[str, str], body: bytes) -> int | None:
    parts = urlsplit(server.url)
    conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value.encode("latin-1"))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status
    except (ValueError, httpclient.InvalidURL):
        return None  # not even sendable as HTTP: http.client refused it on our side
    finally:
        conn.close()


@settings(
    max_examples=int(os.environ.get("FCRCTL_FUZZ_EXAMPLES", "120")), deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_makes_a_500_or_a_file_outside_the_root(
    seeded: tuple[ServerHandle, Path], data: st.DataObject
) -> None:
    server, work = seeded
    base_path = urlsplit(server.url).path
    before = listing(work / "outside") | {str(p) for p in work.iterdir()}
    method = data.draw(st.sampled_from(METHODS))
    segments = data.draw(st.lists(st.sampled_from(["a", "b"]), max_size=1)) + data.draw(
        st.lists(st.sampled_from(SEGMENTS), max_size=3)
    )
    trailing = data.draw(st.sampled_from(["", "/", "?checksum=urn:sha1:xyz", "?timeout=abc", "//"]))
    path = base_path + "/" + "/".join(segments) + trailing
    headers = {k: v.replace(BASE, server.url) for k, v in data.draw(HEADERS).items()}
    status = send(server, method, path, headers, data.draw(BODIES))
    assert status is None or status < 500 or status in (501, 502, 503), (method, path, headers, status)
    assert listing(work / "outside") | {str(p) for p in work.iterdir()} == before
