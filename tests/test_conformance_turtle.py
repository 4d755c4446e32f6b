"""Turtle request bodies read as Fedora's Jena (non-strict) reads them: an ``@prefix`` or ``@base``
directive without its closing ``.`` is taken (fcrctl/rdf/jena_turtle.py says why); nothing else is
relaxed, and the CLI's own files keep the Turtle grammar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fcrctl import rdf
from fcrctl.errors import BadInput
from tests.server_fixture import ServerHandle, start_server

TURTLE = {"Content-Type": "text/turtle"}
DC = "http://purl.org/dc/terms/"
# WebACDefaultACLs (5.9-A) and LdprvHttpPut (4.1.2-B) of the Fedora API Test Suite send these shapes
NO_DOT = f'@prefix dc: <{DC}> \n<> dc:title "Test".'
TWO_NO_DOTS = f'@prefix dc: <{DC}>\n@prefix ex: <http://example.org/>\n\n<> dc:title "T" ; ex:p ex:o .'


@pytest.fixture(scope="module", params=["fedora4", "fedora5", "fedora6"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("turtle") / "repo", dialect=request.param) as handle:
        yield handle


@pytest.mark.parametrize("body", [NO_DOT, TWO_NO_DOTS])
def test_prefix_without_its_dot_is_taken(server: ServerHandle, body: str) -> None:
    created = requests.post(server.root, data=body.encode(), headers=TURTLE)
    assert created.status_code == 201, created.text
    got = requests.get(created.headers["Location"], headers={"Accept": "application/n-triples"})
    assert f'<{created.headers["Location"]}> <{DC}title> "T' in got.text


def test_base_without_its_dot_is_taken(server: ServerHandle) -> None:
    url = f"{server.url}/based"
    body = f'@base <{server.url}/>\n<based> <{DC}title> "B" .'  # <based> against the base is the resource
    created = requests.put(url, data=body.encode(), headers=TURTLE)
    assert created.status_code == 201, created.text
    got = requests.get(url, headers={"Accept": "application/n-triples"})
    assert f'<{url}> <{DC}title> "B' in got.text


def test_a_triple_still_needs_its_dot(server: ServerHandle) -> None:
    """Only the directive's dot is optional: two triples run together are refused, naming the line."""
    body = f'@prefix dc: <{DC}>\n<> dc:title "A"\n<> dc:title "B" .'
    refused = requests.post(server.root, data=body.encode(), headers=TURTLE)
    assert refused.status_code == 400 and "line 3" in refused.text, refused.text


def test_the_cli_keeps_the_turtle_grammar(tmp_path: Path) -> None:
    """fcrctl's own parse of a file (put, import) is not a Fedora request body: the grammar holds."""
    with pytest.raises(BadInput, match="line 2"):
        rdf.parse(NO_DOT.encode(), "text/turtle", base="info:fedora/x")
    graph = rdf.parse(NO_DOT.encode(), "text/turtle", base="info:fedora/x", jena_turtle=True)
    assert len(graph) == 1
