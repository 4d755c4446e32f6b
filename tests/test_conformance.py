"""Rows of docs/conformance.md: each test checks one observable behaviour of `fcrctl serve` in the
dialect the row names, as Fedora 4.7.5 (fcrepo4 tag fcrepo-4.7.5) or Fedora 6 (fcrepo) shows it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from rdflib import Graph, Literal, URIRef

from fcrctl import rdf
from tests.server_fixture import ServerHandle, start_server

DC_TITLE = "http://purl.org/dc/elements/1.1/title"
LDP = "http://www.w3.org/ns/ldp#"
XSD = "http://www.w3.org/2001/XMLSchema#"
TURTLE = {"Content-Type": "text/turtle"}
LENIENT = {**TURTLE, "Prefer": 'handling=lenient; received="minimal"'}


@pytest.fixture(scope="module")
def f4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("f4") / "repo", dialect="fedora4") as handle:
        yield handle


@pytest.fixture(scope="module")
def f6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("f6") / "repo", dialect="fedora6") as handle:
        yield handle


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def fresh(server: ServerHandle) -> str:
    return f"{server.url}/c{uuid.uuid4().hex[:12]}"


def container(http: requests.Session, url: str, title: str = "t") -> requests.Response:
    response = http.put(url, data=f'<> <{DC_TITLE}> "{title}" .', headers=TURTLE)
    assert response.status_code == 201, response.text
    return response


def graph_of(response: requests.Response, url: str) -> Graph:
    return Graph().parse(data=response.content, format="turtle", publicID=url)


def rels(response: requests.Response) -> set[tuple[str, str]]:
    return {(i["url"], i.get("rel", "")) for i in requests.utils.parse_header_links(response.headers.get("Link", ""))}


# -- Fedora 4.7: the numbered deviations of issue 15 --------------------------------------------------


@pytest.mark.parametrize("dialect", ["fedora4", "fedora6"])
def test_201_body_is_exactly_the_uri(tmp_path, dialect: str) -> None:  # type: ignore[no-untyped-def]
    with start_server(tmp_path / "repo", dialect=dialect) as server, requests.Session() as http:
        response = http.post(server.root, data=f'<> <{DC_TITLE}> "x" .', headers=TURTLE)
        assert response.status_code == 201
        assert response.text == response.headers["Location"]  # no newline: clients use it as the URI
        assert response.headers["Content-Type"].startswith("text/plain")
        minimal = http.post(server.root, headers={"Prefer": "return=minimal"})
        assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["Location"]
        representation = {**TURTLE, "Prefer": "return=representation"}
        full = http.post(server.root, data=f'<> <{DC_TITLE}> "full" .', headers=representation)
        assert full.status_code == 201 and full.headers["Content-Type"].startswith("text/turtle")
        assert Literal("full") in {Literal(str(o)) for o in graph_of(full, full.headers["Location"]).objects()}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"])
def test_fcr_metadata_of_a_container_is_the_container(f4: ServerHandle, http: requests.Session, method: str) -> None:
    url = fresh(f4)
    container(http, url, "meta")
    meta = url + "/fcr:metadata"
    if method in ("GET", "HEAD", "OPTIONS"):
        response = http.request(method, meta)
        assert response.status_code == 200
        assert (LDP + "BasicContainer", "type") in rels(response)
        if method == "GET":
            assert Literal("meta", datatype=URIRef(XSD + "string")) in set(graph_of(response, url).objects())
    elif method == "PUT":
        assert http.put(meta, data=f'<> <{DC_TITLE}> "put" .', headers=LENIENT).status_code == 204
        assert (URIRef(url), URIRef(DC_TITLE), Literal("put", datatype=URIRef(XSD + "string"))) in graph_of(
            http.get(url), url
        )
    elif method == "PATCH":
        update = f'INSERT DATA {{ <> <{DC_TITLE}> "patched" }}'
        response = http.patch(meta, data=update, headers={"Content-Type": "application/sparql-update"})
        assert response.status_code == 204
        assert "patched" in http.get(url).text
    else:
        assert http.delete(meta).status_code == 204
        assert http.get(url).status_code == 410


def test_fcr_metadata_of_a_container_is_404_in_fedora6(f6: ServerHandle, http: requests.Session) -> None:
    url = fresh(f6)
    container(http, url)
    assert http.get(url + "/fcr:metadata").status_code == 404


@pytest.mark.parametrize("model", ["DirectContainer", "IndirectContainer"])
def test_container_model_from_rdf_type_in_body(f4: ServerHandle, http: requests.Session, model: str) -> None:
    target = fresh(f4)
    container(http, target)
    body = (
        f"<> a <{LDP}{model}> ; <{LDP}membershipResource> <{target}> ; "
        f"<{LDP}hasMemberRelation> <http://pcdm.org/models#hasMember> ."
    )
    if model == "IndirectContainer":
        body = body[:-1] + f"; <{LDP}insertedContentRelation> <http://www.openarchives.org/ore/terms/proxyFor> ."
    response = http.post(target, data=body, headers=TURTLE)
    assert response.status_code == 201, response.text
    assert (LDP + model, "type") in rels(http.head(response.text))


def test_membership_resource_must_exist(f4: ServerHandle, http: requests.Session) -> None:
    parent = fresh(f4)
    container(http, parent)
    body = f"<> a <{LDP}DirectContainer> ; <{LDP}membershipResource> <{parent}/nothing-here> ."
    response = http.post(parent, data=body, headers=TURTLE)
    assert response.status_code == 400 and "does not exist" in response.text
    assert "--" not in response.text  # HTTP terms, never a CLI flag


def test_ldp_resource_link_is_refused(f4: ServerHandle, http: requests.Session) -> None:
    response = http.post(f4.root, headers={"Link": f'<{LDP}Resource>; rel="type"'})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("mime", "typed"),
    [
        ("text/turtle", True),
        ("application/n-triples", True),
        ("text/n3", True),
        ("application/rdf+xml", True),
        ("application/ld+json", False),
    ],
)
def test_string_and_boolean_literals_are_typed(
    f4: ServerHandle, http: requests.Session, mime: str, typed: bool
) -> None:
    url = fresh(f4)
    body = f'<> <{DC_TITLE}> "title" ; <http://example.org/flag> true .'
    assert http.put(url, data=body, headers=TURTLE).status_code == 201
    response = http.get(url, headers={"Accept": mime})
    graph = rdf.parse(response.content, mime, base=url)
    string = Literal("title", datatype=URIRef(XSD + "string")) if typed else Literal("title")
    assert (URIRef(url), URIRef(DC_TITLE), string) in graph
    if mime in ("text/turtle", "text/n3", "application/n-triples"):
        assert "true\"^^" in response.text  # not the abbreviated `true`
        assert '"title"^^' in response.text


def test_typed_literals_sent_back_are_the_stored_ones(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url, "round")
    # a GET-modify-PUT round trip sends xsd:string literals: accepted, and nothing doubles
    assert http.put(url, data=http.get(url).text, headers=TURTLE).status_code == 204
    titles = list(graph_of(http.get(url), url).objects(URIRef(url), URIRef(DC_TITLE)))
    assert titles == [Literal("round", datatype=URIRef(XSD + "string"))]


def test_post_fcr_versions_is_201_with_location(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    response = http.post(url + "/fcr:versions", headers={"Slug": "v1"})
    assert response.status_code == 201 and response.content == b""
    assert response.headers["Location"] == url + "/fcr:versions/v1"
    assert http.post(url + "/fcr:versions", headers={"Slug": "v1"}).status_code == 409


@pytest.mark.parametrize("slug", [None, "", "a#b", "x~", "50%", "123", "v 12", 'q"'])
def test_post_fcr_versions_label_rules(f4: ServerHandle, http: requests.Session, slug: str | None) -> None:
    url = fresh(f4)
    container(http, url)
    headers = {"Slug": slug} if slug is not None else {}
    before = http.get(url + "/fcr:versions").text
    response = http.post(url + "/fcr:versions", headers=headers)
    assert response.status_code == 400 and "--" not in response.text
    assert http.get(url + "/fcr:versions").text == before
    assert http.post(url + "/fcr:versions", headers={"Slug": "a b"}).status_code == 201  # text, not digits


def test_delete_latest_version_is_400_unknown_404(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    assert http.post(url + "/fcr:versions", headers={"Slug": "one"}).status_code == 201
    assert http.delete(url + "/fcr:versions/one").status_code == 400
    assert http.delete(url + "/fcr:versions/nope").status_code == 404


def test_put_must_carry_server_managed_triples(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url, "one")
    bare = f'<> <{DC_TITLE}> "two" .'
    refused = http.put(url, data=bare, headers=TURTLE)
    assert refused.status_code == 409 and "handling=lenient" in refused.text and "--" not in refused.text
    assert http.put(url, data=bare, headers=LENIENT).status_code == 204
    round_trip = http.get(url).text.replace('"two"', '"three"')
    assert http.put(url, data=round_trip, headers=TURTLE).status_code == 204
    assert '"three"' in http.get(url).text


def test_put_without_body_onto_existing_is_409(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    assert http.put(url).status_code == 409
    assert http.put(url + "-new").status_code == 201  # a new one is a container


# -- Fedora 4.7: other behaviours a client observes ---------------------------------------------------


def test_taken_slug_mints_a_new_id(f4: ServerHandle, http: requests.Session) -> None:
    slug = uuid.uuid4().hex
    first = http.post(f4.root, headers={"Slug": slug})
    second = http.post(f4.root, headers={"Slug": slug})
    assert first.status_code == second.status_code == 201
    assert first.text.endswith("/" + slug) and second.text != first.text


@pytest.mark.parametrize(
    ("headers", "data", "status", "binary"),
    [
        ({}, None, 201, False),
        ({"Content-Type": "text/turtle"}, b"", 201, False),
        ({"Content-Type": "text/plain"}, b"x", 201, True),
        ({"Content-Type": "application/pdf"}, b"%PDF", 201, True),
        ({}, b"bytes", 415, False),
    ],
)
def test_content_type_decides_container_or_binary(
    f4: ServerHandle, http: requests.Session, headers: dict[str, str], data: bytes | None, status: int, binary: bool
) -> None:
    response = http.post(f4.root, data=data, headers=headers)
    assert response.status_code == status
    if status == 201:
        kind = LDP + ("NonRDFSource" if binary else "BasicContainer")
        assert (kind, "type") in rels(http.head(response.text))


def test_etags_weak_for_rdf_strong_for_binaries(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    assert http.head(url).headers["ETag"].startswith('W/"')
    binary = http.post(url, data=b"b", headers={"Content-Type": "text/plain"}).text
    assert http.head(binary).headers["ETag"].startswith('"')


@pytest.mark.parametrize("accept", [None, "*/*", "text/turtle"])
def test_rdf_default_type_is_turtle_with_charset(f4: ServerHandle, http: requests.Session, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    for method in ("HEAD", "GET"):
        response = http.request(method, f4.root, headers=headers)
        assert response.headers["Content-Type"] == "text/turtle;charset=utf-8"


def test_datetimes_are_written_with_z(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    text = http.get(url, headers={"Accept": "application/n-triples"}).text
    created = next(line for line in text.splitlines() if "#created>" in line)
    assert 'Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>' in created and "+00:00" not in created


def test_tombstones_answer_410_below_and_block_put(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    container(http, url + "/child")
    assert http.delete(url).status_code == 204
    gone = http.get(url)
    assert gone.status_code == 410 and (url + "/fcr:tombstone", "hasTombstone") in rels(gone)
    below = http.get(url + "/child")  # 4.7 keeps no tombstone below the deleted one: 410 without a link
    assert below.status_code == 410 and not [rel for rel in rels(below) if rel[1] == "hasTombstone"]
    assert http.put(url, data=f'<> <{DC_TITLE}> "again" .', headers=TURTLE).status_code == 410
    assert http.delete(url + "/fcr:tombstone").status_code == 204
    assert http.put(url, data=f'<> <{DC_TITLE}> "again" .', headers=TURTLE).status_code == 201


# -- Fedora 6: Memento -------------------------------------------------------------------------------


def test_post_fcr_versions_makes_a_memento(f6: ServerHandle, http: requests.Session) -> None:
    url = fresh(f6)
    container(http, url, "m1")
    response = http.post(url + "/fcr:versions")
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.startswith(url + "/fcr:versions/") and len(location.rsplit("/", 1)[1]) == 14
    memento = http.get(location)
    assert memento.status_code == 200 and memento.headers["Memento-Datetime"].endswith("GMT")
    found = rels(memento)
    assert {(url, "original"), (url, "timegate"), (url + "/fcr:versions", "timemap")} <= found
    assert ("http://mementoweb.org/ns#Memento", "type") in found
    assert http.post(url + "/fcr:versions", headers={"Slug": "label"}).status_code == 400
    dated = http.post(url + "/fcr:versions", headers={"Memento-Datetime": "Tue, 03 Jun 2008 11:05:30 GMT"})
    assert dated.status_code == 400


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_mementos_are_read_only(f6: ServerHandle, http: requests.Session, method: str) -> None:
    url = fresh(f6)
    container(http, url)
    location = http.post(url + "/fcr:versions").headers["Location"]
    response = http.request(method, location, data=b"", headers={"Content-Type": "text/turtle"})
    assert response.status_code == 405


def test_timemap_link_format_and_rdf(f6: ServerHandle, http: requests.Session) -> None:
    url = fresh(f6)
    container(http, url)
    first = http.post(url + "/fcr:versions").headers["Location"]
    second = http.post(url + "/fcr:versions").headers["Location"]
    links = http.get(url + "/fcr:versions", headers={"Accept": "application/link-format"})
    assert links.headers["Content-Type"].startswith("application/link-format")
    parsed = requests.utils.parse_header_links(" ".join(links.text.split()))
    mementos = {item["url"] for item in parsed if item.get("rel") == "memento"}
    assert {first, second} <= mementos
    assert all(item.get("datetime", "").endswith("GMT") for item in parsed if item.get("rel") == "memento")
    assert any(item.get("rel") == "self" and "from" in item and "until" in item for item in parsed)
    timemap = graph_of(http.get(url + "/fcr:versions"), url + "/fcr:versions")
    assert {URIRef(first), URIRef(second)} <= set(timemap.objects(None, URIRef(LDP + "contains")))


def test_accept_datetime_redirects_to_the_memento(f6: ServerHandle, http: requests.Session) -> None:
    url = fresh(f6)
    container(http, url)
    first = http.post(url + "/fcr:versions")
    when = first.headers["Memento-Datetime"]
    found = http.get(url, headers={"Accept-Datetime": when}, allow_redirects=False)
    assert found.status_code == 302 and found.headers["Location"] == first.headers["Location"]
    assert "Accept-Datetime" in found.headers["Vary"]
    early = http.get(url, headers={"Accept-Datetime": "Tue, 03 Jun 2008 11:05:30 GMT"}, allow_redirects=False)
    timemap = graph_of(http.get(url + "/fcr:versions"), url + "/fcr:versions")
    earliest = min(str(o) for o in timemap.objects(None, URIRef(LDP + "contains")))
    assert early.status_code == 302 and early.headers["Location"] == earliest  # none before: the earliest
    assert http.get(url, headers={"Accept-Datetime": "yesterday"}).status_code == 400
    assert "Accept-Datetime" in http.get(url).headers["Vary"]


def test_http_backend_versions_over_fedora6(f6: ServerHandle) -> None:
    from fcrctl.repository import open_repository
    from tests.contract.helpers import container as spec
    from tests.contract.helpers import titles

    with open_repository(f6.url, api="fedora6") as repo:
        repo.create("/mv", spec("/mv", "old"))
        version = repo.create_version("/mv")
        time.sleep(0.01)
        repo.patch("/mv", f'DELETE DATA {{ <> <{DC_TITLE}> "old" }} ; INSERT DATA {{ <> <{DC_TITLE}> "new" }}')
        listed = repo.versions("/mv")
        assert version.id in [v.id for v in listed] and len(version.id) == 14
        assert titles(repo.get_rdf("/mv", version=version.id), "/mv") == {"old"}
        assert titles(repo.get_rdf("/mv"), "/mv") == {"new"}


# -- Fedora API specification (fedora6 dialect) ---------------------------------------------------------


def test_spec_options_of_timemap_and_memento(f6: ServerHandle, http: requests.Session) -> None:
    url = fresh(f6)
    container(http, url)
    location = http.post(url + "/fcr:versions").headers["Location"]
    assert set(http.options(location).headers["Allow"].split(",")) == {"GET", "HEAD", "OPTIONS"}  # ldprm-options
    assert {"GET", "HEAD", "OPTIONS"} <= set(http.options(url + "/fcr:versions").headers["Allow"].split(","))
    assert ("http://mementoweb.org/ns#TimeMap", "type") in rels(http.get(url + "/fcr:versions"))  # ldpcv-get


def test_spec_original_resource_links(f6: ServerHandle, http: requests.Session) -> None:  # ldprv-get
    url = fresh(f6)
    container(http, url)
    found = rels(http.get(url))
    assert {(url, "original"), (url, "timegate"), (url + "/fcr:versions", "timemap")} <= found
    memento = "http://mementoweb.org/ns#"
    assert {(memento + "TimeGate", "type"), (memento + "OriginalResource", "type")} <= found


@pytest.mark.parametrize("dialect_server", ["f4", "f6"])
def test_spec_head_sends_the_digest_get_sends(
    request: pytest.FixtureRequest, http: requests.Session, dialect_server: str
) -> None:  # http-head
    server: ServerHandle = request.getfixturevalue(dialect_server)
    url = fresh(server)
    assert http.put(url, data=b"digest me", headers={"Content-Type": "text/plain"}).status_code == 201
    want = {"Want-Digest": "sha-256"}
    got, head = http.get(url, headers=want), http.head(url, headers=want)
    assert got.headers["Digest"] == head.headers["Digest"] and head.content == b""


@pytest.mark.parametrize("dialect_server", ["f4", "f6"])
def test_spec_patch_refuses_containment_and_model_changes(
    request: pytest.FixtureRequest, http: requests.Session, dialect_server: str
) -> None:  # http-patch-containment-triples, http-patch-ixn-models
    server: ServerHandle = request.getfixturevalue(dialect_server)
    url = fresh(server)
    container(http, url)
    sparql = {"Content-Type": "application/sparql-update"}
    for triple in (f"<> <{LDP}contains> <{url}/x>", f"<> a <{LDP}NonRDFSource>"):
        response = http.patch(url, data=f"INSERT DATA {{ {triple} }}", headers=sparql)
        assert response.status_code == 409 and response.text.strip() and "--" not in response.text


def test_spec_describes_link_and_preference_applied(f6: ServerHandle, http: requests.Session) -> None:
    url = fresh(f6)
    assert http.put(url, data=b"x", headers={"Content-Type": "text/plain"}).status_code == 201
    assert (url, "describes") in rels(http.get(url + "/fcr:metadata"))  # http-get-ldprs
    minimal = http.get(url + "/fcr:metadata", headers={"Prefer": "return=minimal"})
    assert minimal.headers["Preference-Applied"] == "return=minimal"
    assert "Preference-Applied" not in http.get(url + "/fcr:metadata").headers


@pytest.mark.parametrize(
    "link",
    [
        '<http://example.org/a>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"; handling="copy", '
        '<http://example.org/b>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"; handling="copy"',
        '<http://example.org/a>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"',
        '<http://example.org/a>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"; handling="teleport"',
    ],
)
def test_spec_external_content_links_refused(f6: ServerHandle, http: requests.Session, link: str) -> None:
    response = http.put(fresh(f6), headers={"Link": link})  # external-content
    assert 400 <= response.status_code < 500


def test_every_test_the_conformance_table_names_exists() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent
    table = (root.parent / "docs" / "conformance.md").read_text()
    defined = set()
    for source in root.rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", source.read_text(), re.MULTILINE))
    named = {name for name in re.findall(r"`(test_\w+)", table)}
    assert named and named <= defined, sorted(named - defined)


def test_binaries_take_no_children_nor_patch(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    assert http.put(url, data=b"b", headers={"Content-Type": "text/plain"}).status_code == 201
    assert http.post(url).status_code == 409  # FedoraLdp.createObject: "Object cannot have child nodes"
    update = {"Content-Type": "application/sparql-update"}
    assert http.patch(url, data="INSERT DATA { <> <http://e.org/p> 1 }", headers=update).status_code == 400


def test_allow_headers_as_fedora4(f4: ServerHandle, http: requests.Session) -> None:
    url = fresh(f4)
    container(http, url)
    binary = http.post(url, data=b"b", headers={"Content-Type": "text/plain"}).text
    assert http.options(url).headers["Allow"] == "MOVE,COPY,DELETE,POST,HEAD,GET,PUT,PATCH,OPTIONS"
    assert http.options(binary).headers["Allow"] == "DELETE,HEAD,GET,PUT,OPTIONS"
    assert http.options(binary + "/fcr:metadata").headers["Allow"] == "HEAD,GET,DELETE,PUT,PATCH,OPTIONS"


def test_a_memento_second_names_the_last_version_made_in_it(f6: ServerHandle, http: requests.Session) -> None:
    """Every write is a version; several in one second share a memento URL, which names the last
    of them (Fedora 6's resolveVersionNumber matches the most recent), as `fcrctl versions get`
    does locally: the TimeMap lists it once and the TimeGate and the memento give its state."""
    url = fresh(f6)
    for attempt in range(5):
        path = f"{url}-{attempt}"
        for title in ("one", "two", "three"):
            http.put(path, data=f'<> <{DC_TITLE}> "{title}" .', headers=LENIENT)
        versions = f6.repo.versions("/" + path.rsplit("/", 1)[1])  # type: ignore[union-attr]
        if len({v.memento for v in versions}) == 1:
            break
    else:
        pytest.skip("the machine is too slow to make three versions in one second")
    memento = versions[-1].memento
    timemap = graph_of(http.get(path + "/fcr:versions"), path + "/fcr:versions")
    assert list(timemap.objects(None, URIRef(LDP + "contains"))) == [URIRef(f"{path}/fcr:versions/{memento}")]
    got = http.get(f"{path}/fcr:versions/{memento}", headers={"Accept": "text/turtle"})
    assert got.status_code == 200
    assert set(graph_of(got, path).objects(URIRef(path), URIRef(DC_TITLE))) == {Literal("three")}
    when = got.headers["Memento-Datetime"]
    gate = http.get(path, headers={"Accept-Datetime": when}, allow_redirects=False)
    assert gate.status_code == 302 and gate.headers["Location"] == f"{path}/fcr:versions/{memento}"
