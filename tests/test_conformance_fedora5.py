"""``fcrctl serve --dialect fedora5`` against Fedora 5.1's HTTP layer (fcrepo tag ``fcrepo-5.1.1``:
``FedoraLdp``, ``FedoraVersioning``, ``ContentExposingResource``), each behaviour where 5.1 differs from 4.7 or 6,
against a real server on 127.0.0.1 (docs/conformance.md, "Fedora 5.1")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from rdflib import Graph, URIRef

from tests.api_suite import allow, links
from tests.server_fixture import ServerHandle, start_server

LDP = "http://www.w3.org/ns/ldp#"
MEMENTO = "http://mementoweb.org/ns#"
CONSTRAINED_BY = LDP + "constrainedBy"
SPARQL = {"Content-Type": "application/sparql-update"}


@pytest.fixture(scope="module")
def f5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("fedora5") / "repo", dialect="fedora5") as handle:
        yield handle


def container(server: ServerHandle) -> str:
    made = requests.post(server.root)
    assert made.status_code == 201
    return made.headers["Location"]


def binary(server: ServerHandle) -> str:
    made = requests.post(server.root, data=b"bytes", headers={"Content-Type": "text/plain"})
    assert made.status_code == 201
    return made.headers["Location"]


def test_versions_are_mementos(f5: ServerHandle) -> None:
    """FedoraVersioning.addVersion: no Slug (400 "no longer supported"); a POST makes a memento of now at
    fcr:versions/YYYYMMDDhhmmss with Memento-Datetime; the TimeMap lists it (RDF and link-format), takes POST
    (Allow, Accept-Post, Vary-Post: Memento-Datetime); the memento is typed Memento and read only."""
    url = container(f5)
    assert requests.post(url + "/fcr:versions", headers={"Slug": "v1"}).status_code == 400
    made = requests.post(url + "/fcr:versions")
    assert made.status_code == 201 and "Memento-Datetime" in made.headers
    memento = made.headers["Location"]
    assert re.fullmatch(re.escape(url) + r"/fcr:versions/\d{14}", memento)
    timemap = requests.get(url + "/fcr:versions", headers={"Accept": "text/turtle"})
    assert timemap.status_code == 200
    graph = Graph().parse(data=timemap.text, format="turtle")
    assert URIRef(memento) in set(graph.objects(URIRef(url + "/fcr:versions"), URIRef(LDP + "contains")))
    assert allow(timemap) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert timemap.headers["Vary-Post"] == "Memento-Datetime" and "Accept-Post" in timemap.headers
    assert f"{MEMENTO}TimeMap" in links(timemap, "type")
    link_format = requests.get(url + "/fcr:versions", headers={"Accept": "application/link-format"})
    assert f'<{memento}>; rel="memento"' in link_format.text
    got = requests.get(memento)
    assert got.status_code == 200 and "Memento-Datetime" in got.headers
    assert f"{MEMENTO}Memento" in links(got, "type") and allow(got) == {"GET", "HEAD", "OPTIONS"}
    update = 'INSERT DATA { <> <http://purl.org/dc/terms/title> "t" }'
    assert requests.patch(memento, data=update, headers=SPARQL).status_code == 405
    # 5.1 deleted mementos; OCFL versions cannot be: 405, as Fedora 6 answers
    assert requests.delete(memento).status_code == 405


def test_a_dated_memento_is_refused_with_a_constraint(f5: ServerHandle) -> None:
    """5.1 wrote a POST's body as a memento of its Memento-Datetime; serve's versions are OCFL versions made in
    order, so it refuses (400 with constrainedBy) and stores nothing."""
    url = container(f5)
    before = requests.get(url + "/fcr:versions", headers={"Accept": "application/link-format"}).text
    refused = requests.post(url + "/fcr:versions", data=f"<{url}> <http://purl.org/dc/terms/title> \"old\" .",
                            headers={"Memento-Datetime": "Tue, 3 Jun 2008 11:05:30 GMT",
                                     "Content-Type": "application/n-triples"})
    assert refused.status_code == 400 and links(refused, CONSTRAINED_BY)
    assert requests.get(url + "/fcr:versions", headers={"Accept": "application/link-format"}).text == before


def test_resources_link_their_timegate_and_answer_accept_datetime(f5: ServerHandle) -> None:
    url = container(f5)
    got = requests.get(url)
    assert links(got, "timegate") == [url] and links(got, "original") == [url]
    assert links(got, "timemap") == [url + "/fcr:versions"]
    assert {f"{MEMENTO}OriginalResource", f"{MEMENTO}TimeGate"} <= set(links(got, "type"))
    redirect = requests.get(url, headers={"Accept-Datetime": "Thu, 01 Jan 1970 00:00:00 GMT"},
                            allow_redirects=False)
    assert redirect.status_code == 302 and "/fcr:versions/" in redirect.headers["Location"]


def test_binaries_take_no_children_nor_patch(f5: ServerHandle) -> None:
    """FedoraLdp.createObject: 409 "Object cannot have child nodes" (no constraint link); updateSparql: 400."""
    url = binary(f5)
    posted = requests.post(url, data=b"x", headers={"Content-Type": "text/plain"})
    assert posted.status_code == 409 and not links(posted, CONSTRAINED_BY)
    patched = requests.patch(url, data='INSERT DATA { <> <http://purl.org/dc/terms/title> "t" }', headers=SPARQL)
    assert patched.status_code == 400
    assert allow(requests.head(url)) == {"DELETE", "HEAD", "GET", "PUT", "OPTIONS"}
    assert requests.delete(url + "/fcr:metadata").status_code == 405  # FedoraLdp.deleteObject on a description
    assert {"MOVE", "COPY", "POST", "PATCH"} <= allow(requests.head(container(f5)))


@pytest.mark.parametrize("model", [LDP + "RDFSource", LDP + "Container", LDP + "Resource",
                                   "http://fedora.info/definitions/v4/repository#ArchivalGroup"])
def test_a_type_that_is_no_interaction_model_is_refused(f5: ServerHandle, model: str) -> None:
    """FedoraLdp.checkInteractionModel (POST and PUT): 400 with constrainedBy; 5.x has no archival groups."""
    link = {"Link": f'<{model}>; rel="type"', "Content-Type": "text/turtle"}
    posted = requests.post(f5.root, headers=link)
    assert posted.status_code == 400 and links(posted, CONSTRAINED_BY)
    put = requests.put(container(f5), headers=link)
    assert put.status_code == 400 and links(put, CONSTRAINED_BY)


def test_the_versioning_type_is_taken(f5: ServerHandle) -> None:
    created = requests.post(f5.root, headers={"Link": f'<{MEMENTO}OriginalResource>; rel="type"'})
    assert created.status_code == 201


def test_an_acl_link_is_refused_on_every_post_and_put(f5: ServerHandle) -> None:
    """FedoraLdp.checkAclLinkHeader runs on every POST and PUT in 5.1 (Fedora 6: on creation only): 400."""
    acl = {"Link": f'<{container(f5)}>; rel="acl"', "Content-Type": "text/turtle"}
    posted = requests.post(f5.root, headers=acl)
    assert posted.status_code == 400 and links(posted, CONSTRAINED_BY)
    replaced = requests.put(container(f5), headers=acl)
    assert replaced.status_code == 400 and links(replaced, CONSTRAINED_BY)


@pytest.mark.parametrize(("dialect", "kept"), [("fedora4", True), ("fedora5", False), ("fedora6", False)])
def test_omitting_server_managed_omits_containment_after_4_7(tmp_path_factory: pytest.TempPathFactory,
                                                             dialect: str, kept: bool) -> None:
    """LdpPreferTag: containment triples are server-managed in 5.1 and 6, so ``omit`` of ServerManaged drops
    ldp:contains there (4.7 kept it); an explicit ``include`` of PreferContainment brings it back, over
    PreferMinimalContainer too (every version)."""
    with start_server(tmp_path_factory.mktemp(dialect) / "repo", dialect=dialect) as handle:
        parent = container(handle)
        assert requests.put(parent + "/child").status_code == 201
        contains = f"<{parent}> <{LDP}contains> <{parent}/child>"
        nt = {"Accept": "application/n-triples"}
        for managed in ("http://fedora.info/definitions/v4/repository#ServerManaged",
                        "http://fedora.info/definitions/fcrepo#ServerManaged"):
            omitted = requests.get(parent, headers={**nt, "Prefer": f'return=representation; omit="{managed}"'})
            assert (contains in omitted.text) is kept
            both = f'return=representation; include="{LDP}PreferContainment"; omit="{managed}"'
            assert contains in requests.get(parent, headers={**nt, "Prefer": both}).text
        minimal = f'return=representation; include="{LDP}PreferMinimalContainer {LDP}PreferContainment"'
        assert contains in requests.get(parent, headers={**nt, "Prefer": minimal}).text
