"""The Fedora API Test Suite's versioning checks (fcrepo/Fedora-API-Test-Suite, src/main/java/org/fcrepo/spec/
testsuite/versioning/), each against a real ``fcrctl serve --dialect fedora6`` on 127.0.0.1, as the suite sends them.

Each test names the suite's test id (and its class) in its docstring. Where the spec leaves room (POST to a
TimeMap with Memento-Datetime, DELETE of a TimeMap or a memento), the answer expected is Fedora 6's
(fcrepo/fcrepo: FedoraVersioning, FedoraLdp, ContentExposingResource).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from rdflib import Graph

from tests.api_suite import allow, links
from tests.server_fixture import ServerHandle, start_server

LDP = "http://www.w3.org/ns/ldp#"
MEMENTO = "http://mementoweb.org/ns#"
ORIGINAL = f'<{MEMENTO}OriginalResource>; rel="type"'
PLAIN = "text/plain; charset=ISO-8859-1"  # what RestAssured sends with a String body
SPARQL = "application/sparql-update"


@pytest.fixture(scope="module")
def f6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("suite-versions") / "repo", dialect="fedora6") as handle:
        yield handle


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def versioned(http: requests.Session, f6: ServerHandle) -> requests.Response:
    """AbstractVersioningTest.createVersionedResource: POST, Link OriginalResource, text/turtle, no body."""
    response = http.post(f6.root, headers={"Link": ORIGINAL, "Content-Type": "text/turtle"})
    assert response.status_code == 201, response.text
    return response


def versioned_binary(http: requests.Session, f6: ServerHandle) -> requests.Response:
    """AbstractVersioningTest.createVersionedNonRDFResource."""
    headers = {
        "Link": ORIGINAL,
        "Content-Disposition": 'attachment; filename="postNonRDFSource.txt"',
        "Content-Type": "text/plain",
    }
    response = http.post(f6.root, data="Test String.", headers=headers)
    assert response.status_code == 201, response.text
    return response


def memento_of(http: requests.Session, url: str) -> str:
    """AbstractVersioningTest.createMemento: POST to the TimeMap (which says Allow: POST)."""
    timemap = links(http.get(url), "timemap")[0]
    assert "POST" in allow(http.get(timemap))
    response = http.post(timemap)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def ntriples(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip())


# -- ResourceVersioning, LdprvHttpGet, LdprvHttpPut -------------------------------------------


def test_created_resource_is_versioned(f6: ServerHandle, http: requests.Session) -> None:
    """4.0-A (ResourceVersioning.postLdprWithType): the 201 of a POST says OriginalResource and TimeGate
    and links a TimeMap that GET answers."""
    response = versioned(http, f6)
    types = links(response, "type")
    assert f"{MEMENTO}OriginalResource" in types and f"{MEMENTO}TimeGate" in types
    assert http.get(links(response, "timemap")[0]).status_code == 200


def test_put_with_original_resource_link_onto_a_container(f6: ServerHandle, http: requests.Session) -> None:
    """4.0-B (ResourceVersioning.convertToLDPRViaPutWithType): PUT with no body and Link OriginalResource onto
    a container: Fedora 6 replaces its triples with none (204) and, as on every create or update, answers with
    the Links GET gives: OriginalResource, TimeGate, a TimeMap that GETs 200."""
    url = versioned(http, f6).headers["Location"]
    response = http.put(url, headers={"Link": ORIGINAL})
    assert response.status_code == 204
    assert {f"{MEMENTO}OriginalResource", f"{MEMENTO}TimeGate"} <= set(links(response, "type"))
    assert http.get(links(response, "timemap")[0]).status_code == 200


@pytest.mark.parametrize("what", ["put-binary", "put-description"])
def test_updates_answer_with_the_resources_links(f6: ServerHandle, http: requests.Session, what: str) -> None:
    """4.0-B's check on other updates: a 204 of PUT onto a binary and onto its description carries the type,
    timemap and (description) describes Links, as Fedora 6's createUpdateResponse; a PATCH's 204 only its
    ETag and Last-Modified (FedoraLdp.updateSparql)."""
    url = versioned_binary(http, f6).headers["Location"]
    expected = f"{LDP}NonRDFSource"
    if what == "put-binary":
        response = http.put(url, data="new", headers={"Content-Type": "text/plain"})
    else:
        body = '<> <http://purl.org/dc/terms/title> "t" .'
        response = http.put(f"{url}/fcr:metadata", data=body, headers={"Content-Type": "text/turtle"})
        expected = f"{LDP}RDFSource"
        assert links(response, "describes") == [url]
    assert response.status_code == 204, response.text
    assert expected in links(response, "type") and f"{MEMENTO}OriginalResource" in links(response, "type")
    assert links(response, "timemap") == [f"{url}/fcr:versions"]
    body = 'INSERT { <> <http://purl.org/dc/terms/title> "t" } WHERE { }'
    patched = http.patch(f"{url}/fcr:metadata", data=body, headers={"Content-Type": SPARQL})
    assert patched.status_code == 204 and patched.headers["ETag"] and "Link" not in patched.headers


def test_timegate_406_or_302_by_mementos(f6: ServerHandle, http: requests.Session) -> None:
    """4.1.1-A-1, 4.1.1-A-2 (LdprvHttpGet.shouldReturn406WhenNoLdprm, shouldReturn302WhenLdprmFromTimeGate):
    Accept-Datetime of 1970 on the TimeGate: 302 to the first memento (the one POSTed) when there is one."""
    url = versioned(http, f6).headers["Location"]
    got = http.get(url)
    assert len(links(got, "timegate")) == 1
    timemap = http.get(links(got, "timemap")[0], headers={"Accept": "application/link-format"})
    has_memento = 'rel="memento"' in timemap.text
    gate = http.get(
        links(got, "timegate")[0], headers={"Accept-Datetime": "Thu, 1 Jan 1970 00:00:00 GMT"}, allow_redirects=False
    )
    assert gate.status_code == (302 if has_memento else 406)
    memento = memento_of(http, url)
    gate = http.get(url, headers={"Accept-Datetime": "Thu, 1 Jan 1970 00:00:00 GMT"}, allow_redirects=False)
    assert gate.status_code == 302
    if not has_memento:
        assert gate.headers["Location"] == memento


def test_original_resource_links(f6: ServerHandle, http: requests.Session) -> None:
    """4.1.1-B, -C, -D, -E, -F, -G (LdprvHttpGet.ldpvGetMustReturn*): rel=original and rel=timegate are the
    resource itself; type OriginalResource and TimeGate; one rel=timemap; Vary names Accept-Datetime once."""
    url = versioned(http, f6).headers["Location"]
    got = http.get(url)
    assert links(got, "original") == [url] and links(got, "timegate") == [url]
    types = links(got, "type")
    assert f"{MEMENTO}OriginalResource" in types and f"{MEMENTO}TimeGate" in types
    assert len(links(got, "timemap")) == 1
    vary = [v.strip().lower() for v in got.headers["Vary"].split(",")]
    assert vary.count("accept-datetime") == 1


def test_put_creates_versioned_resources(f6: ServerHandle, http: requests.Session) -> None:
    """4.1.2-A, 4.1.2-C (LdprvHttpPut.ldprvMustSupportPUT, ldpnrvMustSupportPUT): PUT with Link OriginalResource
    creates a versioned container (no body) or LDP-NR (a String body: text/plain)."""
    response = http.put(f"{f6.url}/{uuid.uuid4().hex}", headers={"Link": ORIGINAL})
    assert response.status_code == 201
    got = http.get(response.headers["Location"])
    assert {f"{MEMENTO}OriginalResource", f"{MEMENTO}TimeGate"} <= set(links(got, "type"))
    response = http.put(f"{f6.url}/{uuid.uuid4().hex}", data="test", headers={"Link": ORIGINAL, "Content-Type": PLAIN})
    assert response.status_code == 201
    got = http.get(response.headers["Location"])
    assert {f"{LDP}NonRDFSource", f"{MEMENTO}OriginalResource", f"{MEMENTO}TimeGate"} <= set(links(got, "type"))


def test_put_updates_versioned_resources(f6: ServerHandle, http: requests.Session) -> None:
    """4.1.2-B, 4.1.2-D (LdprvHttpPut.ldprvMustSupportPUTForExistingResources, ldpnrv...): Allow has PUT;
    the GET body (server-managed omitted) plus a triple PUT back with Link OriginalResource: 204; an LDP-NR's
    new bytes: 204. The suite appends ``@prefix dc: <...>`` without its closing dot, which every Fedora's Jena
    (non-strict) takes: so does serve (fcrctl/rdf/jena_turtle.py)."""
    url = http.put(f"{f6.url}/{uuid.uuid4().hex}", headers={"Link": ORIGINAL}).headers["Location"]
    prefer = (
        f'return=representation; include="{LDP}PreferMinimalContainer"; '
        'omit="http://fedora.info/definitions/fcrepo#ServerManaged"'
    )
    got = http.get(url, headers={"Prefer": prefer})
    assert "PUT" in allow(got)
    triple = f'<{url}> <http://purl.org/dc/elements/1.1/title> "title test" .'
    headers = {"Content-Type": "text/turtle", "Link": ORIGINAL}
    body = got.text + "@prefix dc: <http://purl.org/dc/elements/1.1/>\n\n" + triple
    response = http.put(url, data=body.encode(), headers=headers)
    assert response.status_code == 204, response.text
    assert "title test" in http.get(url, headers={"Accept": "text/turtle"}).text
    nr = http.put(f"{f6.url}/{uuid.uuid4().hex}", data="test", headers={"Link": ORIGINAL, "Content-Type": PLAIN})
    nr_url = nr.headers["Location"]
    assert "PUT" in allow(http.get(nr_url))
    assert http.put(nr_url, data="test2", headers={"Link": ORIGINAL, "Content-Type": PLAIN}).status_code == 204
    got = http.get(nr_url)
    assert "test2" in got.text
    assert {f"{LDP}NonRDFSource", f"{MEMENTO}OriginalResource", f"{MEMENTO}TimeGate"} <= set(links(got, "type"))


# -- LdprmHttpGet, LdprmHttpOptions, LdprmHttpDelete ---------------------------------------------


@pytest.mark.parametrize("kind", ["rdf", "binary"])
def test_memento_get(f6: ServerHandle, http: requests.Session, kind: str) -> None:
    """4.2.1-A..F (LdprmHttpGet.*): a memento GETs 200, its rel=timegate is the original, its type Memento."""
    original = (versioned if kind == "rdf" else versioned_binary)(http, f6).headers["Location"]
    memento = memento_of(http, original)
    got = http.get(memento)
    assert got.status_code == 200
    assert links(got, "timegate") == [original]
    assert f"{MEMENTO}Memento" in links(got, "type")


def test_memento_methods(f6: ServerHandle, http: requests.Session) -> None:
    """4.2.2-A, 4.2.2-B, 4.2.3, 4.2.4, 4.2.5, 4.2.6 (LdprmHttpOptions.*, LdprmHttpDelete): a memento's Allow is
    GET, HEAD, OPTIONS (as Fedora 6; 4.2.2-C's DELETE is a MAY, so 4.2.6 is skipped); POST, PUT, PATCH and
    DELETE 405."""
    memento = memento_of(http, versioned(http, f6).headers["Location"])
    methods = allow(http.get(memento))
    assert {"GET", "HEAD", "OPTIONS"} <= methods
    assert not methods & {"POST", "PUT", "PATCH", "DELETE"}
    assert allow(http.options(memento)) == methods
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert http.request(method, memento).status_code == 405, method


# -- LdpcvHttpGet, LdpcvHttpOptions ------------------------------------------------------------


def test_timemap_get(f6: ServerHandle, http: requests.Session) -> None:
    """4.3.1-A..G (LdpcvHttpGet.*): the TimeMap GETs 200 (also as application/link-format), has type TimeMap
    and Container, Allow GET, HEAD, OPTIONS, and Accept-Post with its Allow: POST."""
    response = versioned(http, f6)
    timemap = links(http.get(response.headers["Location"]), "timemap")[0]
    got = http.get(timemap)
    assert got.status_code == 200
    assert http.get(timemap, headers={"Accept": "application/link-format"}).status_code == 200
    types = links(got, "type")
    assert f"{MEMENTO}TimeMap" in types and f"{LDP}Container" in types
    methods = allow(got)
    assert {"GET", "HEAD", "OPTIONS", "POST"} <= methods
    assert "Accept-Post" in got.headers
    assert "PATCH" not in methods or "Accept-Patch" in got.headers


def test_timemap_options(f6: ServerHandle, http: requests.Session) -> None:
    """4.3.2-A, -B, -E, -F, -G (LdpcvHttpOptions.*): OPTIONS of the TimeMap: Allow GET, HEAD, OPTIONS, POST;
    Accept-Post; no PATCH (so no Accept-Patch); no DELETE (4.3.2-C, 4.3.6-A/B skipped, as Fedora 6)."""
    timemap = links(versioned(http, f6), "timemap")[0]
    options = http.options(timemap)
    assert options.status_code == 200
    assert allow(options) == {"POST", "HEAD", "GET", "OPTIONS"}
    assert "Accept-Post" in options.headers


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_timemap_refuses_put_patch_delete(f6: ServerHandle, http: requests.Session, method: str) -> None:
    """4.3.4, 4.3.5, 4.3.6-A (LdpcvHttpPost.ldpcvMayDisallowPut/Patch, LdpcvHttpDelete): 405 (Fedora 6:
    "Timemaps are deleted with their associated resource")."""
    timemap = links(versioned(http, f6), "timemap")[0]
    assert http.request(method, timemap).status_code == 405


# -- LdpcvHttpPost ------------------------------------------------------------------------------


def test_post_to_timemap_makes_a_memento_of_an_rdf_source(f6: ServerHandle, http: requests.Session) -> None:
    """4.3.3.1-A, 4.3.3.1-C (LdpcvHttpPost.ldpcvOfLdprsShouldSupportPost..., postToldpcvOfLdprs...MustIgnoreBody):
    POST (with a body, which is ignored) to the TimeMap: 201, Location in fcr:versions, the memento's
    N-Triples those of the original, type Memento."""
    url = versioned(http, f6).headers["Location"]
    nt = {"Accept": "application/n-triples"}
    original = http.get(url, headers=nt)
    timemap = links(original, "timemap")[0]
    for body in (None, '<> dc:title "HelloThere".'):
        response = http.post(timemap, data=body, headers={"Content-Type": PLAIN} if body else {})
        assert response.status_code == 201, response.text
        assert "fcr:versions" in response.headers["Location"]
        memento = http.get(response.headers["Location"], headers=nt)
        mementos_triples = ntriples(memento.text.replace(response.headers["Location"], url))
        assert mementos_triples == ntriples(original.text)
        assert f"{MEMENTO}Memento" in links(memento, "type")
        assert "HelloThere" not in memento.text


def test_post_to_timemap_makes_a_memento_of_a_binary(f6: ServerHandle, http: requests.Session) -> None:
    """4.3.3.1-B, 4.3.3.1-D (LdpcvHttpPost.ldpcvOfLdpnrsShouldSupportPost..., postToldpcvOfLdpnr...MustIgnoreBody)."""
    url = versioned_binary(http, f6).headers["Location"]
    original = http.get(url)
    timemap = links(original, "timemap")[0]
    for body in (None, "Send some random data here"):
        response = http.post(timemap, data=body, headers={"Content-Type": PLAIN} if body else {})
        assert response.status_code == 201, response.text
        assert "fcr:versions" in response.headers["Location"]
        memento = http.get(response.headers["Location"])
        assert memento.content == original.content
        assert f"{MEMENTO}Memento" in links(memento, "type")


def test_post_to_timemap_with_memento_datetime_is_refused(f6: ServerHandle, http: requests.Session) -> None:
    """4.3.3.2 (LdpcvHttpPost.ldpcvDoesNotSupportPost), 4.3.3.1-E/F skipped: no Vary-Post: Memento-Datetime;
    a POST with Memento-Datetime: 4xx (Fedora 6: 400, CannotCreateMementoException), linking an
    ldp#constrainedBy document that GET answers."""
    url = versioned(http, f6).headers["Location"]
    timemap = links(http.get(url), "timemap")[0]
    got = http.get(timemap)
    assert "memento-datetime" not in got.headers.get("Vary-Post", "").lower()
    response = http.post(timemap, headers={"Memento-Datetime": "Sat, 1 Jan 2000 00:00:00 GMT"})
    assert response.status_code == 400
    constrained = links(response, f"{LDP}constrainedBy")
    assert constrained and http.get(constrained[0]).status_code == 200


def test_post_to_timemap_of_a_graph_parses(f6: ServerHandle, http: requests.Session) -> None:
    """4.3.1-A with Turtle: the TimeMap's RDF lists the memento with ldp:contains (LdprmHttpDelete's check)."""
    url = versioned(http, f6).headers["Location"]
    memento = memento_of(http, url)
    timemap = links(http.get(url), "timemap")[0]
    graph = Graph().parse(
        data=http.get(timemap, headers={"Accept": "text/turtle"}).text, format="turtle", publicID=timemap
    )
    assert any(str(o) == memento for o in graph.objects(None, None))
