"""What the http.client path (plain.py) reads and sends is what requests reads and sends: the Link
parser, the credentials' header, the headers' lookup (issue 14: `ls` over http imports no requests)."""

from __future__ import annotations

import http.client
import io

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from fcrctl.repository.http import wire
from fcrctl.repository.http.auth import AuthConfig, BasicAuth, BearerAuth
from fcrctl.repository.http.plain import Headers, QuickHead, proxied

LINKS = [
    "",
    '<http://www.w3.org/ns/ldp#Resource>;rel="type"',
    '<http://www.w3.org/ns/ldp#Resource>;rel="type", <http://www.w3.org/ns/ldp#BasicContainer>;rel="type"',
    "<http://x/a>; rel=describedby; type=\"text/turtle\",<http://x/b>; rel=acl",
    "  '<http://x/a>' ",
    "<http://x/a>; rel=\"a b\"; anchor=\"http://x/\", <http://x/c>",
    "<http://x/a>; broken; rel=after",
    "<http://x/a>; rel==x",
    "<http://x/a, b>; rel=odd",
]


def test_link_headers_are_read_as_requests_reads_them() -> None:
    for value in LINKS:
        assert wire.header_links(value) == requests.utils.parse_header_links(value), value


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>;=,\"' abrel:/x#")), max_size=60))
def test_any_link_header_is_read_as_requests_reads_it(value: str) -> None:
    assert wire.header_links(value) == requests.utils.parse_header_links(value)


def test_credentials_go_as_requests_sends_them() -> None:
    for user, password in (("alice", "correct horse"), ("bob", "pässwörd"), ("c", "")):
        ours = BasicAuth(user, password)(requests.Request("GET", "http://x/").prepare())
        theirs = requests.auth.HTTPBasicAuth(user, password)(requests.Request("GET", "http://x/").prepare())
        assert ours.headers["Authorization"] == theirs.headers["Authorization"]
    assert BearerAuth("tok")(requests.Request("GET", "http://x/").prepare()).headers["Authorization"] == "Bearer tok"
    assert "correct" not in repr(BasicAuth("alice", "correct horse")) and "tok" not in repr(BearerAuth("tok"))


def test_the_http_client_path_sends_the_session_s_headers_and_credentials_once_merged() -> None:
    quick = QuickHead(lambda: None, (1.0, 1.0), AuthConfig(auth=BearerAuth("tok")))  # type: ignore[arg-type,return-value]
    sent = quick._headers({"Accept": "application/n-triples"})
    assert sent == {"User-Agent": "fcrctl", "Accept": "application/n-triples", "Connection": "keep-alive",
                    "Accept-Encoding": "identity", "Authorization": "Bearer tok"}


def test_response_headers_are_looked_up_by_any_case_and_repeats_joined_as_requests_joins_them() -> None:
    message = http.client.parse_headers(io.BytesIO(b"Link: <a>;rel=x\r\nlink: <b>;rel=y\r\nContent-Type: t/n\r\n\r\n"))
    headers = Headers(message)
    assert headers["LINK"] == headers.get("link") == "<a>;rel=x, <b>;rel=y"
    assert headers.get("content-type") == "t/n" and headers.get("Etag") is None and len(headers) == 2
    assert wire.parse_headers(headers).links["y"][0]["url"] == "b"


def test_a_proxy_in_the_environment_sends_the_request_the_ordinary_way() -> None:
    assert not proxied("http", {})
    assert proxied("http", {"HTTP_PROXY": "http://p:3128"}) and proxied("https", {"all_proxy": "http://p:3128"})
    assert not proxied("http", {"https_proxy": "http://p:3128"}) and not proxied("http", {"http_proxy": ""})
