"""Issue 20 item 3: neither serve nor the CLI fetches a URL a request names: SPARQL SERVICE (in
any spelling), LOAD, USING / USING NAMED / WITH naming another graph, and JSON-LD remote
contexts or @import. A listener on 127.0.0.1 shows that no connection was even attempted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from fcrctl.errors import ExitCode
from tests.security import rdf_hostile
from tests.security.rdf_hostile import Listener, cli
from tests.server_fixture import ServerHandle

listener, served = rdf_hostile.listener, rdf_hostile.served  # fixtures

SPARQL = "application/sparql-update"


def updates(url: str) -> list[str]:
    where = "{ ?s ?p ?o }"
    return [
        f"INSERT {{ <> <http://x/p> ?o }} WHERE {{ SERVICE <{url}/sparql> {where} }}",
        f"INSERT {{ <> <http://x/p> ?o }} WHERE {{ SERVI\\u0043E <{url}/sparql> {where} }}",
        f"INSERT {{ <> <http://x/p> ?o }} WHERE {{ service silent <{url}/sparql> {where} }}",
        f"INSERT {{ <> <http://x/p> ?o }} WHERE {{ OPTIONAL {{ SERVICE <{url}/sparql> {where} }} }}",
        f"INSERT {{ <> <http://x/p> ?o }} WHERE {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{url}/s> {where} }} }}",
        f"INSERT {{ <> <http://x/p> ?o }} USING <{url}/g> WHERE {where}",
        f"INSERT {{ <> <http://x/p> ?o }} USING NAMED <{url}/g> WHERE {where}",
        f"INSERT {{ <> <http://x/p> ?o }} U\\u0053ING <{url}/g> WHERE {where}",
        f"WITH <{url}/g> INSERT {{ <> <http://x/p> ?o }} WHERE {where}",
        f"LOAD <{url}/data.ttl>",
        f"LOAD SILENT <{url}/data.ttl> INTO GRAPH <{url}/g>",
    ]


def jsonld_bodies(url: str) -> list[dict]:
    return [
        {"@context": f"{url}/ctx", "@id": "", "http://x/p": "v"},
        {"@context": [{"x": "http://x/"}, f"{url}/ctx"], "@id": "", "http://x/p": "v"},
        {"@context": {"@import": f"{url}/ctx"}, "@id": "", "http://x/p": "v"},
        {"@context": {"@version": 1.1, "p": {"@id": "http://x/p", "@context": f"{url}/scoped"}}, "@id": "", "p": {}},
        {"@id": "", "http://x/p": {"@context": {"@import": f"{url}/ctx"}, "@id": "http://x/o"}},
    ]


def _count(listener: Listener) -> int:
    import time

    time.sleep(0.1)  # let the accept loop see a connection made just before
    return listener.connections


@pytest.mark.parametrize("case", range(len(updates("u"))))
def test_serve_refuses_sparql_that_would_fetch(served: ServerHandle, listener: Listener, case: int) -> None:
    requests.put(served.url + "/r", data=b'<> <http://x/q> "kept" .', headers={"Content-Type": "text/turtle"})
    before = requests.get(served.url + "/r", headers={"Accept": "application/n-triples"}).text
    update = updates(listener.url)[case].encode()
    resp = requests.patch(served.url + "/r", data=update, headers={"Content-Type": SPARQL})
    assert resp.status_code == 400, resp.text
    assert _count(listener) == 0
    assert requests.get(served.url + "/r", headers={"Accept": "application/n-triples"}).text == before


@pytest.mark.parametrize("case", range(len(jsonld_bodies("u"))))
def test_serve_refuses_jsonld_that_would_fetch(served: ServerHandle, listener: Listener, case: int) -> None:
    body = json.dumps(jsonld_bodies(listener.url)[case]).encode()
    resp = requests.put(served.url + "/j", data=body, headers={"Content-Type": "application/ld+json"})
    assert resp.status_code == 400, resp.text
    assert "not fetched" in resp.text
    assert _count(listener) == 0
    assert requests.head(served.url + "/j").status_code == 404


@pytest.mark.parametrize("case", range(len(updates("u"))))
def test_cli_refuses_sparql_that_would_fetch(tmp_path: Path, listener: Listener, case: int) -> None:
    repo = str(tmp_path / "repo")
    assert cli("init", repo).exit_code == 0
    assert cli("--repo", repo, "create", "/r").exit_code == 0
    result = cli("--repo", repo, "patch", "/r", "--update", updates(listener.url)[case])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "not allowed" in result.stderr and "\n" not in result.stderr.strip()
    assert _count(listener) == 0


@pytest.mark.parametrize("case", range(len(jsonld_bodies("u"))))
def test_cli_refuses_jsonld_that_would_fetch(tmp_path: Path, listener: Listener, case: int) -> None:
    repo = str(tmp_path / "repo")
    assert cli("init", repo).exit_code == 0
    body = tmp_path / "x.jsonld"
    body.write_text(json.dumps(jsonld_bodies(listener.url)[case]))
    result = cli("--repo", repo, "create", "/j", "--file", str(body))
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "not fetched" in result.stderr
    assert _count(listener) == 0
    assert cli("--repo", repo, "info", "/j").exit_code == ExitCode.NOT_FOUND


def test_using_and_with_naming_the_resource_itself_still_work(served: ServerHandle) -> None:
    requests.put(served.url + "/r", data=b'<> <http://x/p> "v" .', headers={"Content-Type": "text/turtle"})
    for update in (
        "WITH <> DELETE { <> <http://x/p> ?o } INSERT { <> <http://x/q> ?o } WHERE { <> <http://x/p> ?o }",
        f"DELETE {{ <> <http://x/q> ?o }} INSERT {{ <> <http://x/r> ?o }} USING <{served.url}/r> "
        "WHERE { <> <http://x/q> ?o }",
    ):
        resp = requests.patch(served.url + "/r", data=update.encode(), headers={"Content-Type": SPARQL})
        assert resp.status_code == 204, resp.text
    body = requests.get(served.url + "/r", headers={"Accept": "application/n-triples"}).text
    assert '<http://x/r> "v"' in body


def rdfxml_bodies(url: str) -> list[str]:
    rdf_open = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    description = '<rdf:Description rdf:about=""><dc:title>{}</dc:title></rdf:Description></rdf:RDF>'
    return [
        f'<?xml version="1.0"?><!DOCTYPE rdf:RDF SYSTEM "{url}/x.dtd">{rdf_open}{description.format("t")}',
        f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY e SYSTEM "{url}/e">]>{rdf_open}{description.format("&e;")}',
        f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY % p SYSTEM "{url}/p"> %p;]>{rdf_open}'
        f'{description.format("t")}',
    ]


@pytest.mark.parametrize("case", range(len(rdfxml_bodies("u"))))
def test_serve_fetches_nothing_an_rdfxml_body_names(served: ServerHandle, listener: Listener, case: int) -> None:
    body = rdfxml_bodies(listener.url)[case].encode()
    resp = requests.put(served.url + "/x", data=body, headers={"Content-Type": "application/rdf+xml"})
    assert resp.status_code in (201, 400), resp.text  # a DOCTYPE alone is harmless; entities are refused
    assert _count(listener) == 0
