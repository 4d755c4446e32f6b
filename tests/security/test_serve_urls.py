"""Issue 20 item 11: names go out percent-encoded (so a URL names the resource it came from),
paths that are not UTF-8 are refused, and Destination / Atomic-ID naming another host are refused."""

from __future__ import annotations

import http.client as httpclient
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from rdflib import Graph, URIRef

from tests.server_fixture import ServerHandle, start_server

TURTLE = {"Content-Type": "text/turtle"}
CONTAINS = URIRef("http://www.w3.org/ns/ldp#contains")
TITLE = "http://purl.org/dc/elements/1.1/title"


@pytest.fixture
def server(tmp_path: Path, dialect: str) -> Iterator[ServerHandle]:
    with start_server(tmp_path / "repo", dialect=dialect) as handle:
        yield handle


def raw(server: ServerHandle, method: str, raw_path: str, **headers: str) -> httpclient.HTTPResponse:
    parts = urlsplit(server.url)
    conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest(method, raw_path, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name.replace("_", "-"), value)
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def titled(title: str) -> str:
    return f'<> <{TITLE}> "{title}" .'


def test_names_with_url_delimiters_come_back_encoded(server: ServerHandle) -> None:
    base = urlsplit(server.url).path
    made = {}
    for wire, title in [("q%3Fx", "question"), ("pc%2525", "percent"), ("caf%C3%A9", "cafe"), ("pc%25", "pc")]:
        put = requests.put(f"{server.url}/{wire}", data=titled(title), headers=TURTLE, timeout=10)
        assert put.status_code == 201, (wire, put.text)
        made[title] = put.headers["Location"]
    assert made["question"].endswith(base + "/q%3Fx")
    assert made["percent"].endswith(base + "/pc%2525")
    for title, location in made.items():  # each Location names the resource it came from
        graph = Graph().parse(data=requests.get(location, headers={"Accept": "text/turtle"}, timeout=10).content,
                              format="turtle", publicID=location)
        assert {str(o) for o in graph.objects(None, URIRef(TITLE))} == {title}, location
    for accept in ("text/turtle", "application/n-triples", "application/ld+json"):
        listing = requests.get(server.url + "/", headers={"Accept": accept}, timeout=10)
        graph = Graph().parse(data=listing.content, format=accept)
        children = {str(o) for o in graph.objects(None, CONTAINS)}
        assert f"{server.url}/q%3Fx" in children and f"{server.url}/pc%2525" in children, (accept, children)
        assert f"{server.url}/q?x" not in children and f"{server.url}/pc%25" in children  # that one is "pc%"
        for child in children:  # each listed URL names a resource that exists
            assert requests.head(child, timeout=10).status_code == 200, child


def test_a_hash_in_a_name_is_refused(server: ServerHandle) -> None:
    put = requests.put(f"{server.url}/h%23x", data=titled("h"), headers=TURTLE, timeout=10)
    assert put.status_code == 400 and "#" in put.text
    assert requests.get(f"{server.url}/h", timeout=10).status_code == 404


@pytest.mark.parametrize("segment", ["%ff", "%fe", "%c3", "a%80b", "%C3%28"])
def test_paths_that_are_not_utf8_are_refused(server: ServerHandle, segment: str) -> None:
    base = urlsplit(server.url).path
    assert raw(server, "PUT", f"{base}/{segment}").status == 400
    assert raw(server, "GET", f"{base}/{segment}").status == 400
    listing = requests.get(server.url + "/", headers={"Accept": "application/n-triples"}, timeout=10).text
    assert "\ufffd" not in listing and "ldp#contains" not in listing


@pytest.mark.parametrize("destination", ["//evil.com/rest/x", "http://evil.com/rest/x", "HTTP://EVIL.COM/rest/x",
                                         "https://{host}/rest/x", "//evil.com{base}/x"])
def test_a_destination_on_another_host_is_refused(server: ServerHandle, destination: str) -> None:
    parts = urlsplit(server.url)
    source = server.url + "/src"
    assert requests.put(source, data=titled("s"), headers=TURTLE, timeout=10).status_code == 201
    header = destination.format(host=parts.netloc, base=parts.path)
    for method in ("MOVE", "COPY"):
        resp = requests.request(method, source, headers={"Destination": header}, timeout=10)
        assert resp.status_code == 502, (method, header, resp.status_code)
    assert requests.get(source, timeout=10).status_code == 200
    assert requests.get(server.url + "/x", timeout=10).status_code == 404
    ok = requests.request("COPY", source, headers={"Destination": server.url.upper().replace("/REST", "/rest") + "/x"},
                          timeout=10)
    assert ok.status_code == 201  # scheme and host compare case-insensitively


def test_an_atomic_id_on_another_host_is_refused(server: ServerHandle) -> None:
    begun = requests.post(server.url + "/fcr:tx", timeout=10)
    tx_id = begun.headers["Location"].rstrip("/").rsplit("/", 1)[-1].removeprefix("tx:")
    for header in (f"http://evil.example/rest/fcr:tx/{tx_id}", f"//evil.example/rest/fcr:tx/{tx_id}",
                   f"{server.url}/elsewhere/{tx_id}"):
        resp = requests.put(server.url + "/in-tx", data=titled("t"), headers={**TURTLE, "Atomic-ID": header},
                            timeout=10)
        assert resp.status_code == 400, header
    for header in (f"{server.url}/fcr:tx/{tx_id}", tx_id):
        assert requests.get(server.url + "/", headers={"Atomic-ID": header}, timeout=10).status_code == 200
    assert requests.get(server.url + "/in-tx", timeout=10).status_code == 404


def test_the_http_backend_round_trips_such_names(server: ServerHandle) -> None:
    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    repo = open_repository(server.url)
    try:
        names = ["q?x", "pc%", "pc%25", "café", "a&b=c", "semi;colon", "[x]"]
        repo.create("/dir", ResourceSpec())
        for name in names:
            repo.create(f"/dir/{name}", ResourceSpec(content=__import__("io").BytesIO(name.encode()), binary=True))
        assert sorted(c.path for c in repo.children("/dir")) == sorted(f"/dir/{n}" for n in names)
        for name in names:
            with repo.open_binary(f"/dir/{name}") as content:
                assert content.stream.read() == name.encode(), name
            assert repo.info(f"/dir/{name}").path == f"/dir/{name}"
    finally:
        repo.close()
