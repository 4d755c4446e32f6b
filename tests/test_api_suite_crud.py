"""The Fedora API Test Suite's CRUD checks (fcrepo/Fedora-API-Test-Suite, src/main/java/org/fcrepo/spec/
testsuite/crud/), each against a real ``fcrctl serve --dialect fedora6`` on 127.0.0.1, as the suite sends them.

Each test names the suite's test id (and its class) in its docstring; where the spec leaves room, the
expected answer is Fedora 6's (fcrepo/fcrepo's fcrepo-http-api). The suite's bodies are sent as it sends
them: RestAssured gives a String body with no Content-Type ``text/plain; charset=ISO-8859-1``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from rdflib import Graph, Literal, URIRef

from tests.api_suite import allow, links
from tests.server_fixture import ServerHandle, start_server

LDP = "http://www.w3.org/ns/ldp#"
BASIC = f'<{LDP}BasicContainer>; rel="type"'
NON_RDF = f'<{LDP}NonRDFSource>; rel="type"'
RDF_SOURCE = f'<{LDP}RDFSource>; rel="type"'
PLAIN = "text/plain; charset=ISO-8859-1"  # what RestAssured sends with a String body
# the suite's Constants.BASIC_CONTAINER_BODY and RDF_BODY
BASIC_BODY = (
    f"@prefix ldp: <{LDP}> .@prefix dcterms: <http://purl.org/dc/terms/> ."
    "<> dcterms:title 'Container class Container' ;"
    "dcterms:description 'This is a crud container for the Fedora API Test Suite.' . "
)
RDF_BODY = (
    "@prefix dc: <http://purl.org/dc/terms/> . @prefix foaf: <http://xmlns.com/foaf/0.1/> . <> a foaf:Person; "
    'foaf:name "Pythagoras" ; foaf:based_near "Croton" ; foaf:interest [ dc:title "Geometry" ] .'
)
SPARQL = "application/sparql-update"
LENIENT = {"Content-Type": "text/turtle", "Prefer": 'handling=lenient; received="minimal"'}


@pytest.fixture(scope="module")
def f6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("suite-crud") / "repo", dialect="fedora6") as handle:
        yield handle


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def assert_constrained_by(http: requests.Session, response: requests.Response, name: str | None = None) -> None:
    """AbstractTest.confirmPresenceOfConstrainedByLink: a rel=ldp#constrainedBy Link that GETs 200 (Fedora's
    CONTEXT/static/constraints/NAME.rdf, an OWL ontology in RDF/XML)."""
    found = links(response, f"{LDP}constrainedBy")
    assert len(found) == 1, response.headers.get("Link")
    if name is not None:
        assert found[0].endswith(f"/static/constraints/{name}.rdf")
    document = http.get(found[0])
    assert document.status_code == 200 and document.headers["Content-Type"].startswith("application/rdf+xml")
    graph = Graph().parse(data=document.content, format="xml")
    assert (
        URIRef(found[0]),
        URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        URIRef("http://www.w3.org/2002/07/owl#Ontology"),
    ) in graph


def basic_container(http: requests.Session, parent: str, body: str = BASIC_BODY, slug: str | None = None) -> str:
    headers = {"Content-Type": "text/turtle", "Link": BASIC, "Slug": slug or f"c{uuid.uuid4().hex[:10]}"}
    response = http.post(parent, data=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def binary(http: requests.Session, parent: str, data: str = "TestString.", **extra: str) -> requests.Response:
    headers = {
        "Content-Disposition": 'attachment; filename="test.txt"',
        "Slug": f"b{uuid.uuid4().hex[:10]}",
        "Content-Type": PLAIN,
        **extra,
    }
    return http.post(parent, data=data, headers=headers)


def made_binary(http: requests.Session, parent: str, data: str = "TestString.") -> str:
    response = binary(http, parent, data)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


# -- HttpGet ------------------------------------------------------------------------------------


def test_prefer_inbound_references(f6: ServerHandle, http: requests.Session) -> None:
    """3.2.1-A (HttpGet.additionalValuesForPreferHeader): PreferInboundReferences on GET of an LDPC."""
    target = basic_container(http, f6.root)
    referrer = basic_container(http, f6.root, f"<> <http://purl.org/dc/terms/isPartOf> <{target}> .")
    prefer = 'return=representation; include="http://fedora.info/definitions/fcrepo#PreferInboundReferences"'
    response = http.get(target, headers={"Prefer": prefer})
    assert response.status_code == 200
    assert "return=representation" in response.headers["Preference-Applied"]
    graph = Graph().parse(data=response.content, format="turtle", publicID=target)
    assert (URIRef(referrer), URIRef("http://purl.org/dc/terms/isPartOf"), URIRef(target)) in graph


def test_prefer_contained_descriptions(f6: ServerHandle, http: requests.Session) -> None:
    """3.2.1-B (HttpGet.additionalValuesForPreferHeaderContainedDescriptions): a child's triples in its
    parent's GET with oa:PreferContainedDescriptions (a MAY Fedora 6 does)."""
    parent = basic_container(http, f6.root)
    child = basic_container(http, parent, RDF_BODY, slug="child")
    prefer = 'return=representation; include="http://www.w3.org/ns/oa#PreferContainedDescriptions"'
    response = http.get(parent, headers={"Prefer": prefer})
    assert "return=representation" in response.headers["Preference-Applied"]
    graph = Graph().parse(data=response.content, format="turtle", publicID=parent)
    assert (URIRef(child), URIRef("http://xmlns.com/foaf/0.1/name"), Literal("Pythagoras")) in graph


def test_preference_applied(f6: ServerHandle, http: requests.Session) -> None:
    """3.2.2-A (HttpGet.responsePreferenceAppliedHeader): a GET that applies a Prefer says so."""
    url = basic_container(http, f6.root)
    prefer = f'return=representation; include="{LDP}PreferMinimalContainer"'
    response = http.get(url, headers={"Prefer": prefer})
    assert response.status_code == 200
    assert "return=representation" in response.headers["Preference-Applied"]


def test_description_describes_its_binary(f6: ServerHandle, http: requests.Session) -> None:
    """3.2.2-B (HttpGet.responseDescribesHeader): the describedby description links rel=describes back."""
    url = made_binary(http, f6.root, "TestString")
    description = links(http.get(url), "describedby")
    assert len(description) == 1
    assert url in links(http.get(description[0]), "describes")


@pytest.mark.parametrize(
    ("test_id", "want", "expect"),
    [
        ("3.2.3-A-1", "md5", "md5"),
        ("3.2.3-A-2", "sha", "sha"),
        ("3.2.3-A-3", "sha-256", "sha-256"),
        ("3.2.3-B", "md5,sha", "md5|sha"),
        ("3.2.3-C", "md5;q=0.3,sha;q=1", "md5|sha"),
        ("3.2.3-D", "md5;q=0.3,sha;q=0", "md5"),
        ("3.2.3-E", "md5,abc", "md5"),
    ],
)
def test_want_digest(f6: ServerHandle, http: requests.Session, test_id: str, want: str, expect: str) -> None:
    """3.2.3-A-1, -A-2, -A-3, -B, -C, -D, -E (HttpGet.respondWantDigest*): GET of an LDP-NR answers
    Want-Digest with a Digest of a named, supported algorithm (q=0 excluded, unknown ones ignored)."""
    url = made_binary(http, f6.root, "TestString")
    response = http.get(url, headers={"Want-Digest": want})
    assert response.status_code == 200, test_id
    names = {part.split("=", 1)[0].strip().lower() for part in response.headers["Digest"].split(",")}
    assert names & set(expect.split("|")), (test_id, response.headers["Digest"])
    if test_id == "3.2.3-D":
        assert "sha" not in names


def test_want_digest_unsupported_is_400(f6: ServerHandle, http: requests.Session) -> None:
    """3.2.3-F (HttpGet.respondWantDigestNonSupported): only an unsupported algorithm: 400."""
    url = made_binary(http, f6.root, "TestString")
    assert http.get(url, headers={"Want-Digest": "abc"}).status_code == 400


# -- HttpHead -----------------------------------------------------------------------------------


def test_head_has_no_body(f6: ServerHandle, http: requests.Session) -> None:
    """3.3-A (HttpHead.httpHeadResponseNoBody)."""
    url = basic_container(http, f6.root)
    response = http.head(url)
    assert response.status_code == 200 and response.content == b""


def test_head_sends_the_digest_get_sends(f6: ServerHandle, http: requests.Session) -> None:
    """3.3-B (HttpHead.httpHeadResponseDigest): HEAD of an LDP-NR has a Digest iff GET has one."""
    url = made_binary(http, f6.root)
    got, head = http.get(url), http.head(url)
    assert got.status_code == head.status_code == 200
    assert ("Digest" in got.headers) == ("Digest" in head.headers)


@pytest.mark.parametrize("kind", ["container", "binary", "description"])
def test_head_headers_are_get_headers(f6: ServerHandle, http: requests.Session, kind: str) -> None:
    """3.3-C (HttpHead.httpHeadResponseHeadersSameAsHttpGet): HEAD's headers are GET's (but Date,
    Set-Cookie and payload headers), the same number of each."""
    url = basic_container(http, f6.root) if kind == "container" else made_binary(http, f6.root)
    if kind == "description":
        url = links(http.get(url), "describedby")[0]
    payload = {"content-length", "content-range", "transfer-encoding", "date", "set-cookie"}

    def comparable(response: requests.Response) -> list[tuple[str, str]]:
        raw = response.raw.headers  # each header line, repeated names kept
        return sorted((k.lower(), v) for k, v in raw.items() if k.lower() not in payload)

    assert comparable(http.get(url)) == comparable(http.head(url))


# -- HttpOptions --------------------------------------------------------------------------------


def test_options_of_the_root(f6: ServerHandle, http: requests.Session) -> None:
    """3.4-A, 3.4-B (HttpOptions.httpOptionsSupport, httpOptionsSupportAllow): OPTIONS answers, Allow has GET."""
    response = http.options(f6.root)
    assert response.status_code == 200
    assert "GET" in allow(response)


# -- HttpPost -----------------------------------------------------------------------------------


def test_post_creates_containers_and_binaries(f6: ServerHandle, http: requests.Session) -> None:
    """3.5-A, 3.5.1-A, 3.5.1-B (HttpPost.httpPost, postNonRDFSource, postResourceAndCheckAssociatedResource):
    POST makes a container and an LDP-NR; the LDP-NR's 201 links its description (describedby)."""
    basic_container(http, f6.root)
    response = binary(http, f6.root)
    assert response.status_code == 201
    assert len(links(response, "describedby")) >= 1


def test_post_digest_mismatch_is_409(f6: ServerHandle, http: requests.Session) -> None:
    """3.5.1-C (HttpPost.postDigestResponseHeaderAuthentication): a Digest that does not match: 409."""
    assert binary(http, f6.root, Digest="md5=1234").status_code == 409


def test_post_unsupported_digest_is_400(f6: ServerHandle, http: requests.Session) -> None:
    """3.5.1-D (HttpPost.postDigestResponseHeaderVerification): an unsupported Digest algorithm: 400."""
    assert binary(http, f6.root, Digest="abc=abc").status_code == 400


# -- HttpPut ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel_type", [f"{LDP}RDFSource", f"{LDP}Container", f"{LDP}Resource", "http://example.org/T"])
def test_link_type_that_is_no_interaction_model_is_400(f6: ServerHandle, http: requests.Session, rel_type: str) -> None:
    """3.6-A, 3.6-B (HttpPut.httpPutChangeTypeAllowed/NotAllowed): the suite first POSTs Link rel=type
    ldp:RDFSource; Fedora 6 refuses any type but the four interaction models (FedoraLdp.checkInteractionModel,
    400 "Invalid interaction model"), so both are skipped against it: as here, on POST and PUT."""
    link = f'<{rel_type}>; rel="type"'
    response = http.post(f6.root, headers={"Link": link, "Slug": f"r{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 400 and "interaction model" in response.text
    assert_constrained_by(http, response, "CannotCreateResourceException")
    url = basic_container(http, f6.root)
    assert http.put(url, data=b"", headers={"Link": link, **LENIENT}).status_code == 400
    assert http.put(f"{url}/new", headers={"Link": link}).status_code == 400
    assert http.get(f"{url}/new").status_code == 404


def test_put_cannot_change_container_to_binary(f6: ServerHandle, http: requests.Session) -> None:
    """3.6-B (HttpPut.httpPutChangeTypeNotAllowed), with a model Fedora 6 creates: a PUT asking a
    container to become a NonRDFSource: 409."""
    url = basic_container(http, f6.root)
    assert http.put(url, headers={"Link": NON_RDF}).status_code == 409


def test_original_resource_and_archival_group_links_are_taken(f6: ServerHandle, http: requests.Session) -> None:
    """4.1.2-A's createVersionedResource and Fedora 6 clients: Link rel=type memento:OriginalResource (and
    fedora:ArchivalGroup) are no interaction models but are accepted."""
    for rel_type in (
        "http://mementoweb.org/ns#OriginalResource",
        "http://fedora.info/definitions/v4/repository#ArchivalGroup",
    ):
        headers = {"Link": f'<{rel_type}>; rel="type"', "Content-Type": "text/turtle"}
        assert http.post(f6.root, headers=headers).status_code == 201


def test_put_updates_triples(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.1-A (HttpPut.httpPutUpdateTriples): PUT of the GET body (PreferMinimalContainer), changed."""
    url = basic_container(
        http, f6.root, body="@prefix dcterms: <http://purl.org/dc/terms/> . <> dcterms:title 'Put class Container' ."
    )
    prefer = f'return=representation; include="{LDP}PreferMinimalContainer"'
    body = http.get(url, headers={"Prefer": prefer}).text.replace("Put class Container", "some-title")
    response = http.put(url, data=body.encode(), headers={"Content-Type": "text/turtle"})
    assert response.status_code == 204, response.text
    assert "some-title" in http.get(url).text


def test_put_changing_containment_is_409_naming_it(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.1-B, 3.6.1-C, 3.6.1-D (HttpPut.httpPutUpdateDisallowedTriples, ...Response, ...ConstrainedByHeader):
    a PUT whose ldp:contains names another child: 4xx, 409 with a body naming the contains triple and a
    constrainedBy Link."""
    url = basic_container(http, f6.root)
    basic_container(http, url, slug="containedFolderSlug")
    body = http.get(url).text.replace("containedFolderSlug", "conflicting-contained-resource")
    response = http.put(url, data=body.encode(), headers={"Content-Type": "text/turtle"})
    assert response.status_code == 409
    assert "contains" in response.text
    assert_constrained_by(http, response, "ServerManagedPropertyException")


def test_put_replaces_binary_content(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.2-A (HttpPut.httpPutNR): PUT to an LDP-NR with If-Match of its strong ETag replaces it."""
    url = made_binary(http, f6.root)
    etag = http.get(url).headers["ETag"]
    assert not etag.startswith("W/")
    headers = {"Content-Disposition": 'attachment; filename="putUpdate.txt"', "If-Match": etag, "Content-Type": PLAIN}
    response = http.put(url, data="TestString2.", headers=headers)
    assert response.status_code == 204, response.text
    got = http.get(url)
    assert got.text == "TestString2." and 'filename="putUpdate.txt"' in got.headers["Content-Disposition"]


def test_put_binary_digest_mismatch_is_409(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.2-B (HttpPut.nonRDFSourcePutDigestResponseHeaderAuthentication): upper-case ``MD5=`` that
    does not match: 409, content unchanged."""
    url = made_binary(http, f6.root)
    headers = {"Digest": "MD5=97c4627dc7734f65f5195f1d5f556d7a", "Content-Type": PLAIN}
    assert http.put(url, data="TestString.", headers=headers).status_code == 409


def test_put_binary_unsupported_digest_is_400(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.2-C (HttpPut.nonRDFSourcePutDigestResponseHeaderVerification)."""
    url = made_binary(http, f6.root)
    response = http.put(url, data="TestString2.", headers={"Digest": "abc=abc", "Content-Type": PLAIN})
    assert response.status_code == 400
    assert http.get(url).text == "TestString."


def test_put_creates_rdf_source(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.3-A (HttpPut.putCreateRDFSource): PUT with no body creates a container (HEAD then 200)."""
    parent = basic_container(http, f6.root)
    response = http.put(f"{parent}/{uuid.uuid4().int % 10**9}")
    assert response.status_code == 201
    assert http.head(response.headers["Location"]).status_code == 200


def test_put_creates_binary_with_description(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.3-B, 3.6.3-C (HttpPut.putCreateNonRDFSource, putNonRDFSourceCreateLDPRS): PUT with Link
    NonRDFSource (no body) creates an LDP-NR; a PUT-created LDP-NR has a description as a POSTed one."""
    parent = basic_container(http, f6.root)
    response = http.put(f"{parent}/{uuid.uuid4().int % 10**9}", headers={"Link": NON_RDF})
    assert response.status_code == 201, response.text
    assert http.head(response.headers["Location"]).status_code == 200
    put = http.put(
        f"{parent}/3.6.3-C",
        data="content",
        headers={"Content-Disposition": 'attachment; filename="putCreate.txt"', "Content-Type": PLAIN},
    )
    assert put.status_code == 201
    assert http.get(links(put, "describedby")[0]).status_code == 200


# -- HttpPatch ----------------------------------------------------------------------------------


def test_patch_sparql_update(f6: ServerHandle, http: requests.Session) -> None:
    """3.7-A, 3.7-F (HttpPatch.supportPatch, successfulPatchStatusCode): SPARQL Update PATCH: 2xx."""
    url = basic_container(http, f6.root)
    body = 'PREFIX dcterms: <http://purl.org/dc/terms/> INSERT { <> dcterms:description "Patch Updated Description" .}'
    body += " WHERE { }"
    response = http.patch(url, data=body, headers={"Content-Type": SPARQL})
    assert 200 <= response.status_code < 300


def test_patch_ldpatch_is_415(f6: ServerHandle, http: requests.Session) -> None:
    """3.7-B (HttpPatch.ldpPatchContentTypeSupport, a MAY): Fedora 6 takes only SPARQL Update: 415."""
    url = basic_container(http, f6.root)
    response = http.patch(
        url, data="Add { <#> <http://example.org/p> 'x' } .", headers={"Content-Type": "text/ldpatch"}
    )
    assert response.status_code == 415


# the suite's src/main/resources/constraint-error-generator.sparql
CONSTRAINT_ERROR = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX ldp: <http://www.w3.org/ns/ldp#>
PREFIX pcdm: <http://pcdm.org/models#>
INSERT  {
 <>  rdf:type "a literal" .
 <>  ldp:insertedContentRelation pcdm:memberOf .
 <>  ldp:contains </test> .
 <>  ldp:isMemberOfRelation pcdm:memberOf .
 <>  ldp:hasMemberRelation pcdm:hasMember .
 <>  ldp:membershipResource <http://outofdomainresource/test> .

} WHERE {}"""


def test_patch_of_server_managed_triple_is_409_with_a_body(f6: ServerHandle, http: requests.Session) -> None:
    """3.7-C, 3.7-D, 3.7-E (HttpPatch.serverManagedPropertiesModification, statementNotPersistedResponseBody,
    statementNotPersistedConstrainedBy): the suite's constraint-error-generator is refused 4xx, with a body
    and a constrainedBy Link, and nothing of it is kept."""
    url = basic_container(http, f6.root)
    response = http.patch(url, data=CONSTRAINT_ERROR, headers={"Content-Type": SPARQL})
    assert 400 <= response.status_code < 500 and response.text.strip()
    assert "a literal" not in http.get(url).text
    assert_constrained_by(http, response)


def test_patch_of_containment_and_type_is_409(f6: ServerHandle, http: requests.Session) -> None:
    """3.7.1, 3.7.2 (HttpPatch.disallowPatchContainmentTriples, disallowChangeResourceType), with the
    constraint documents Fedora 6 links (ServerManagedPropertyException, ServerManagedTypeException)."""
    url = basic_container(http, f6.root)
    basic_container(http, url)
    contains = f'PREFIX ldp: <{LDP}>\n INSERT {{   \n  <> ldp:contains "some-url" .\n}}\n WHERE {{ }}'
    response = http.patch(url, data=contains, headers={"Content-Type": SPARQL})
    assert response.status_code == 409
    assert_constrained_by(http, response, "ServerManagedPropertyException")
    retype = "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> PREFIX ldp: <http://www.w3.org/ns/ldp#>"
    retype += " INSERT { <> rdf:type ldp:NonRDFSource .} WHERE { }"
    response = http.patch(url, data=retype, headers={"Content-Type": SPARQL})
    assert response.status_code == 409
    assert_constrained_by(http, response, "ServerManagedTypeException")


# -- HttpDelete ---------------------------------------------------------------------------------


def test_delete_is_recursive_and_leaves_410(f6: ServerHandle, http: requests.Session) -> None:
    """3.8.1-A, 3.8.1-C, 3.8.1-D (HttpDelete.*): Allow has DELETE; a DELETE of a container 2xx, then
    it, its child container and binaries at both levels: 410."""
    top = basic_container(http, f6.root)
    son = basic_container(http, top)
    below = [made_binary(http, top), made_binary(http, son), made_binary(http, son)]
    assert "DELETE" in allow(http.options(top))
    assert http.delete(top).status_code == 204
    for url in [top, son, *below]:
        assert http.get(url).status_code == 410, url


# -- Ldpnr --------------------------------------------------------------------------------------


def test_ldpnr_from_link_type(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.4-A (Ldpnr.ldpnrCreationLinkType): POST with Link NonRDFSource: GET says NonRDFSource."""
    url = binary(http, f6.root, "TestString", Link=NON_RDF).headers["Location"]
    assert f"{LDP}NonRDFSource" in links(http.get(url), "type")


def test_ldpnr_body_with_rdf_source_link_is_4xx(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.4-B (Ldpnr.ldpnrCreationWrongLinkType): text/plain bytes with Link RDFSource: 4xx, nothing made
    (Fedora 6: 400, ldp:RDFSource is no interaction model)."""
    slug = f"b{uuid.uuid4().hex[:10]}"
    response = binary(http, f6.root, "TestString", Link=RDF_SOURCE, Slug=slug)
    assert response.status_code == 400, response.status_code
    assert http.get(f6.root + slug).status_code == 404


# -- ExternalBinaryContent ------------------------------------------------------------------------


@pytest.mark.parametrize("handling", [None, "unsupported"])
def test_external_content_without_a_known_handling(
    f6: ServerHandle, http: requests.Session, handling: str | None
) -> None:
    """3.9-E-2, 3.9-E-3 (ExternalBinaryContent.externalBinaryContentHandlingStatus,
    unsupportedBinaryContentHandlingAttribute): an ExternalContent Link with no handling or an unknown
    one: 4xx, linking a constrainedBy document (Fedora 6: ExternalMessageBodyException), nothing made."""
    assert http.options(f6.root).headers["Accept-External-Content-Handling"] == "copy,redirect,proxy"
    link = '<http://example.org/file.txt>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"'
    if handling:
        link += f'; handling="{handling}"'
    slug = f"e{uuid.uuid4().hex[:10]}"
    response = http.post(f6.root, headers={"Link": link, "Slug": slug})
    assert response.status_code == 400
    assert_constrained_by(http, response, "ExternalMessageBodyException")
    assert http.get(f6.root + slug).status_code == 404


def test_external_content_redirect(f6: ServerHandle, http: requests.Session) -> None:
    """3.9-A-2, 3.9-B-2, 3.9.3-B-1, 3.9.3-B-2, 3.9-G-1 in part (ExternalBinaryContent.*Redirect*): POST and
    PUT with handling=redirect make an LDP-NR whose GET and HEAD redirect (302 or 307) to the URL, with its
    describedby description and type NonRDFSource."""
    link = '<http://example.org/file.txt>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"'
    link += '; handling="redirect"; type="text/plain"'
    posted = http.post(f6.root, headers={"Link": link, "Slug": f"e{uuid.uuid4().hex[:10]}"})
    put = http.put(f"{f6.url}/e{uuid.uuid4().hex[:10]}", headers={"Link": link})
    for response in (posted, put):
        assert response.status_code == 201, response.text
        url = response.headers["Location"]
        for method in ("GET", "HEAD"):
            got = http.request(method, url, allow_redirects=False)
            assert got.status_code in (302, 307)
            assert got.headers["Location"] == "http://example.org/file.txt"
            assert f"{LDP}NonRDFSource" in links(got, "type") and links(got, "describedby")


# -- Container ----------------------------------------------------------------------------------

DCTERMS = "http://purl.org/dc/terms/"
DIRECT = f'<{LDP}DirectContainer>; rel="type"'
INDIRECT = f'<{LDP}IndirectContainer>; rel="type"'


def container_of(http: requests.Session, parent: str, link: str, body: str = "") -> requests.Response:
    headers = {"Content-Type": "text/turtle", "Link": link, "Slug": f"d{uuid.uuid4().hex[:10]}"}
    return http.post(parent, data=body, headers=headers)


def graph_at(http: requests.Session, url: str, prefer: str | None = None) -> Graph:
    response = http.get(url, headers={"Prefer": prefer} if prefer else {})
    assert response.status_code == 200
    return Graph().parse(data=response.content, format="turtle", publicID=url)


def test_containers_of_every_model(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.1-A-1, -A-2, -A-3 (Container.createLDPC, createLDPDirectContainer, createLDPIndirectContainer)."""
    for link in (BASIC, DIRECT, INDIRECT):
        response = container_of(http, f6.root, link)
        assert response.status_code == 201
        assert link.split(">")[0][1:] in links(http.head(response.headers["Location"]), "type")


def test_containment_and_minimal_container_preferences(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.1-B, 3.1.1-D (Container.ldpcContainmentTriples, ldpcMinimalContainerTriples): omitting
    PreferMembership and PreferMinimalContainer leaves ldp:contains without the title; omitting
    PreferContainment and PreferMembership leaves the title without ldp:contains."""
    url = basic_container(http, f6.root)
    child = basic_container(http, url)
    contains, title = URIRef(f"{LDP}contains"), URIRef(f"{DCTERMS}title")
    only_containment = graph_at(
        http, url, f'return=representation; omit="{LDP}PreferMembership {LDP}PreferMinimalContainer"'
    )
    assert (URIRef(url), contains, URIRef(child)) in only_containment
    assert not list(only_containment.objects(URIRef(url), title))
    minimal = graph_at(http, url, f'return=representation; omit="{LDP}PreferContainment {LDP}PreferMembership"')
    assert not list(minimal.objects(URIRef(url), contains))
    assert list(minimal.objects(URIRef(url), title))


def test_ldp_contains_as_member_relation_is_refused(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.1-C (Container.ldpcMembershipTriples): a direct container whose hasMemberRelation is ldp:contains:
    409 with a constrainedBy Link (Fedora 6: ServerManagedPropertyException), nothing made."""
    base = basic_container(http, f6.root)
    target = basic_container(http, base)
    body = (
        f"@prefix ldp: <{LDP}> .@prefix dcterms: <{DCTERMS}> .<> dcterms:title 'A Direct Container' ; "
        f"ldp:membershipResource <{target}> ; ldp:hasMemberRelation ldp:contains ."
    )
    response = container_of(http, base, DIRECT, body)
    assert response.status_code == 409, response.text
    assert_constrained_by(http, response, "ServerManagedPropertyException")
    assert graph_at(http, base).value(URIRef(base), URIRef(f"{LDP}contains")) == URIRef(target)


def test_direct_container_membership_and_preferences(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.1-C with dcterms:hasPart, 3.1.2-A, 3.1.2-G-1 (Container.ldpDirectContainerMustAllowMembershipConstantURI
    ToBeSet, ...HasMemberRelationPredicateToBeSetOnCreate): the member triple shows on the membership resource,
    with PreferMembership and without PreferContainment's triples."""
    base = basic_container(http, f6.root)
    target = basic_container(http, base)
    body = (
        f"@prefix ldp: <{LDP}> .@prefix dcterms: <{DCTERMS}> .<> dcterms:title 'A Direct Container' ; "
        f"ldp:membershipResource <{target}> ; ldp:hasMemberRelation dcterms:hasPart ."
    )
    direct = container_of(http, base, DIRECT, body).headers["Location"]
    member = basic_container(http, direct)
    child = basic_container(http, target)
    stored = graph_at(http, direct)
    assert stored.value(URIRef(direct), URIRef(f"{LDP}membershipResource")) == URIRef(target)
    assert stored.value(URIRef(direct), URIRef(f"{LDP}hasMemberRelation")) == URIRef(f"{DCTERMS}hasPart")
    has_part = (URIRef(target), URIRef(f"{DCTERMS}hasPart"), URIRef(member))
    contained = (URIRef(target), URIRef(f"{LDP}contains"), URIRef(child))
    assert has_part in graph_at(http, target) and contained in graph_at(http, target)
    membership = graph_at(http, target, f'return=representation; include="{LDP}PreferMembership"')
    assert has_part in membership
    containment = graph_at(http, target, f'return=representation; include="{LDP}PreferContainment"')
    assert contained in containment


@pytest.mark.parametrize("link", [DIRECT, INDIRECT])
def test_membership_defaults(f6: ServerHandle, http: requests.Session, link: str) -> None:
    """3.1.2-B, -C, -H, -I; 3.1.3-B, -C, -H, -I, -O, -P (Container.ld*ContainerMustSetLdpMembershipResourceByDefault,
    ...ValueToLDPCByDefault, ...ShouldUseLdpMemberByDefault, ...ShouldUseLdpMemberSubjectByDefault): a direct or
    indirect container created without them has ldp:membershipResource itself, ldp:hasMemberRelation ldp:member and
    (indirect) ldp:insertedContentRelation ldp:MemberSubject, stored as Fedora 6 stores them; a direct one's
    children are then its ldp:member."""
    url = container_of(http, f6.root, link).headers["Location"]
    stored = graph_at(http, url)
    subject = URIRef(url)
    assert stored.value(subject, URIRef(f"{LDP}membershipResource")) == subject
    assert stored.value(subject, URIRef(f"{LDP}hasMemberRelation")) == URIRef(f"{LDP}member")
    inserted = stored.value(subject, URIRef(f"{LDP}insertedContentRelation"))
    assert inserted == (URIRef(f"{LDP}MemberSubject") if link == INDIRECT else None)
    if link == DIRECT:
        child = basic_container(http, url)
        assert (subject, URIRef(f"{LDP}member"), URIRef(child)) in graph_at(http, url)
    # a PUT replacing its triples keeps the defaults (ReplacePropertiesServiceImpl applies them too)
    body = f"<> <{DCTERMS}title> 'replaced' ."
    headers = {"Content-Type": "text/turtle", "Prefer": 'handling=lenient; received="minimal"'}
    assert http.put(url, data=body, headers=headers).status_code == 204
    assert graph_at(http, url).value(subject, URIRef(f"{LDP}hasMemberRelation")) == URIRef(f"{LDP}member")


def test_membership_is_kept_when_given(f6: ServerHandle, http: requests.Session) -> None:
    """3.1.2-G-2, 3.1.3-G, 3.1.3-N (Container.*IsMemberOfRelationPredicateToBeSetOnCreate,
    ...InsertedContentRelationPredicateToBeSetOnCreate): a given isMemberOfRelation stands in for
    hasMemberRelation (no ldp:member default added) and a given insertedContentRelation is kept."""
    target = basic_container(http, f6.root)
    body = (
        f"<> <{LDP}membershipResource> <{target}> ; <{LDP}isMemberOfRelation> <{DCTERMS}isPartOf> ;"
        f" <{LDP}insertedContentRelation> <{DCTERMS}relation> ."
    )
    url = container_of(http, f6.root, INDIRECT, body).headers["Location"]
    stored = graph_at(http, url)
    assert stored.value(URIRef(url), URIRef(f"{LDP}hasMemberRelation")) is None
    assert stored.value(URIRef(url), URIRef(f"{LDP}isMemberOfRelation")) == URIRef(f"{DCTERMS}isPartOf")
    assert stored.value(URIRef(url), URIRef(f"{LDP}insertedContentRelation")) == URIRef(f"{DCTERMS}relation")


# -- WebACLinking -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_acl_link_on_creation_is_refused(f6: ServerHandle, http: requests.Session, method: str) -> None:
    """5.4-A (skipped, a MAY), 5.4-B (WebACLinking.conflictIfNotSupportingAclLink): a creation with
    Link rel="acl" naming another resource: 4xx with a constrainedBy Link (Fedora 6: 400,
    RequestWithAclLinkHeaderException), nothing made; the ACL link of an existing resource is its fcr:acl."""
    acl = basic_container(http, f6.root)
    target = f"{f6.url}/n{uuid.uuid4().hex[:10]}"
    headers = {"Link": f'<{acl}>; rel="acl"', "Content-Type": PLAIN}
    if method == "POST":
        response = http.post(f6.root, data="test body", headers={**headers, "Slug": target.rsplit("/", 1)[1]})
    else:
        response = http.put(target, data="test body", headers=headers)
    assert response.status_code == 400
    assert_constrained_by(http, response, "RequestWithAclLinkHeaderException")
    assert http.get(target).status_code == 404
    assert links(http.get(acl), "acl") == [f"{acl}/fcr:acl"]


# -- conditional requests, 415, as Fedora 6 answers them (fcrepo FedoraLdpIT) ----------------------


def test_if_match_takes_the_rdf_etag_weak_or_stripped(f6: ServerHandle, http: requests.Session) -> None:
    """3.6.1-A's If-Match (sent only for strong ETags) and Fedora 6's FedoraLdpIT, which strips the W/ of an
    RDF source's weak ETag to send it in If-Match: both forms match (204), another ETag 412, * matches."""
    url = basic_container(http, f6.root)
    update = 'INSERT { <> <http://purl.org/dc/terms/title> "b" } WHERE { }'
    for strip in (False, True, False):
        etag = http.get(url).headers["ETag"]
        assert etag.startswith('W/"')
        sent = etag[2:] if strip else etag
        assert http.patch(url, data=update, headers={"Content-Type": SPARQL, "If-Match": sent}).status_code == 204
    stale = http.patch(url, data=update, headers={"Content-Type": SPARQL, "If-Match": '"doesnt-match"'})
    assert stale.status_code == 412
    assert http.patch(url, data=update, headers={"Content-Type": SPARQL, "If-Match": "*"}).status_code == 204
    etag = http.get(url).headers["ETag"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert http.put(url, data=b"", headers={"If-None-Match": "*", "Content-Type": "text/turtle"}).status_code == 412


def test_put_of_bytes_onto_a_container_is_415(f6: ServerHandle, http: requests.Session) -> None:
    """Fedora 6 parses a PUT onto an existing container as RDF: a Content-Type that is no RDF type is 415
    (HttpRdfService.parseBodyAsModel), and the container is unchanged; a NonRDFSource Link is 409."""
    url = basic_container(http, f6.root)
    before = http.get(url).headers["ETag"]
    assert http.put(url, data=b"bytes", headers={"Content-Type": "application/x-bogus"}).status_code == 415
    assert http.put(url, data=b"bytes", headers={"Content-Type": "text/plain", "Link": NON_RDF}).status_code == 409
    assert http.get(url).headers["ETag"] == before


# -- the same checks in the fedora4 dialect, and the constraint documents under other base paths -----------


def test_fedora4_links_constraint_documents_too(tmp_path, http: requests.Session) -> None:  # type: ignore[no-untyped-def]
    """Fedora 4.7's ConstraintExceptionMapper links the same documents: a PUT changing fedora:created is 409
    with ServerManagedPropertyException's; its 201s carry no memento Links (4.7 has no mementos)."""
    with start_server(tmp_path / "repo", dialect="fedora4") as f4:
        url = f"{f4.url}/c"
        created = http.put(url, data=b"", headers={"Content-Type": "text/turtle"})
        assert created.status_code == 201 and not links(created, "timegate") and not links(created, "type")
        xsd_datetime = "http://www.w3.org/2001/XMLSchema#dateTime"
        created_by = "http://fedora.info/definitions/v4/repository#created"
        changed = f'<> <{created_by}> "2001-01-01T00:00:00Z"^^<{xsd_datetime}> .'
        response = http.put(url, data=changed, headers=LENIENT)
        assert response.status_code == 409
        assert_constrained_by(http, response, "ServerManagedPropertyException")
        response = container_of(
            http, f4.root, f'<{LDP}RDFSource>; rel="type"', "<> <http://purl.org/dc/terms/title> 'x' ."
        )
        assert response.status_code == 201  # the fedora6 dialect's 400 is Fedora 6's, not 4.7's


@pytest.mark.parametrize(
    ("base_path", "documents"), [("/fcrepo/rest", "/fcrepo/static/constraints/"), ("/", "/static/constraints/")]
)
def test_constraint_documents_beside_the_api(tmp_path, http: requests.Session, base_path: str, documents: str) -> None:  # type: ignore[no-untyped-def]
    """The documents are served where Fedora serves them, beside the REST API (its base path's parent); under
    a root base path only their exact names are taken, so a resource at static/... stays reachable; an unknown
    name is the repository's (404 here)."""
    with start_server(tmp_path / "repo", dialect="fedora6", base_path=base_path) as server:
        root = server.url.rstrip("/") + "/"
        response = http.post(root, headers={"Link": f'<{LDP}RDFSource>; rel="type"'})
        found = links(response, f"{LDP}constrainedBy")
        host = root.split("/", 3)[:3]
        assert found == ["/".join(host) + documents + "CannotCreateResourceException.rdf"]
        assert http.get(found[0]).status_code == 200
        assert http.head(found[0]).status_code == 200 and http.head(found[0]).content == b""
        assert http.get("/".join(host) + documents + "NoSuchException.rdf").status_code == 404
        if base_path == "/":
            assert (
                http.put(
                    root + "static/constraints/mine", data=b"", headers={"Content-Type": "text/turtle"}
                ).status_code
                == 201
            )
            assert http.get(root + "static/constraints/mine").status_code == 200


def test_binaries_take_no_children_nor_patch_as_fedora6(f6: ServerHandle, http: requests.Session) -> None:
    """Fedora 6 on a binary: POST 409 with constrainedBy (CreateResourceServiceImpl.checkParent,
    InteractionModelViolationException); PATCH 400 (FedoraLdp.updateSparql), its description takes PATCH;
    a PUT asking a binary to become a container 409 with the same document."""
    url = made_binary(http, f6.root)
    posted = http.post(url, data=b"x", headers={"Content-Type": "text/plain"})
    assert posted.status_code == 409
    assert_constrained_by(http, posted, "InteractionModelViolationException")
    update = 'INSERT { <> <http://purl.org/dc/terms/title> "t" } WHERE { }'
    assert http.patch(url, data=update, headers={"Content-Type": SPARQL}).status_code == 400
    assert http.patch(f"{url}/fcr:metadata", data=update, headers={"Content-Type": SPARQL}).status_code == 204
    retyped = http.put(url, data=b"", headers={"Content-Type": "text/turtle", "Link": BASIC})
    assert retyped.status_code == 409
    assert_constrained_by(http, retyped, "InteractionModelViolationException")
    assert http.get(url).text == "TestString."


class _Origin(BaseHTTPRequestHandler):
    """The suite's WireMock: /file.txt as text/plain, /notype with no Content-Type."""

    BODIES = {"/file.txt": (b"binary content", "text/plain"), "/notype": (b"other content", None)}

    def _answer(self, body: bool) -> None:
        found = self.BODIES.get(self.path)
        if found is None:
            self.send_error(404)
            return
        data, mime = found
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if mime:
            self.send_header("Content-Type", mime)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fetching(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerHandle, str]]:
    """serve --allow-external-fetch with the origin allow-listed (a private address is refused otherwise)."""
    origin = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{origin.server_address[1]}/"
    where = tmp_path_factory.mktemp("suite-external")
    (where / "allowed").write_text(base + "\n")
    try:
        with start_server(
            where / "repo", dialect="fedora6", external_allowed=str(where / "allowed"), allow_external_fetch=True
        ) as server:
            yield server, base
    finally:
        origin.shutdown()


def external(url: str, handling: str, mime: str | None = None) -> str:
    link = f'<{url}>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"; handling="{handling}"'
    return link + (f'; type="{mime}"' if mime else "")


@pytest.mark.parametrize("handling", ["copy", "proxy"])
def test_external_content_fetched(fetching: tuple[ServerHandle, str], http: requests.Session, handling: str) -> None:
    """3.9-A-1, 3.9-A-3, 3.9-B-1, 3.9-B-3, 3.9-C-1, 3.9-C-3, 3.9-G-1, 3.9.3-A-2 (ExternalBinaryContent.*): POST,
    PUT to create and PUT to replace with handling=copy or proxy; GET gives the content as text/plain with a
    Content-Length, type NonRDFSource, a describedby Link, and answers Want-Digest."""
    server, origin = fetching
    link = external(origin + "file.txt", handling)
    posted = http.post(server.root, headers={"Link": link, "Slug": f"x{uuid.uuid4().hex[:10]}"})
    put = http.put(f"{server.url}/x{uuid.uuid4().hex[:10]}", headers={"Link": link})
    replaced = made_binary(http, server.root)
    assert http.put(replaced, headers={"Link": link}).status_code == 204
    for url in (posted.headers["Location"], put.headers["Location"], replaced):
        got = http.get(url, headers={"Want-Digest": "md5;q=0.3,sha;q=1"})
        assert got.status_code == 200 and got.content == b"binary content"
        assert got.headers["Content-Type"].startswith("text/plain") and got.headers["Content-Length"] == "14"
        assert f"{LDP}NonRDFSource" in links(got, "type") and links(got, "describedby")
        assert "sha=" in got.headers["Digest"] or "md5=" in got.headers["Digest"]


@pytest.mark.parametrize(
    ("test_id", "path", "link_type", "content_type", "expected"),
    [
        ("3.9-F-1", "notype", "text/special", None, "text/special"),
        ("3.9-F-2", "file.txt", None, None, "text/plain"),
        ("3.9-F-5", "file.txt", "text/special", "text/plain", "text/special"),
        ("3.9-F-6", "notype", "text/special", "text/plain", "text/special"),
    ],
)
def test_external_content_media_type(
    fetching: tuple[ServerHandle, str],
    http: requests.Session,
    test_id: str,
    path: str,
    link_type: str | None,
    content_type: str | None,
    expected: str,
) -> None:
    """3.9-F-1, -F-2, -F-5, -F-6 (ExternalBinaryContent.binaryContent*): the Link's type wins over the request's
    Content-Type and the origin's; without either, the origin's; HEAD says it."""
    server, origin = fetching
    headers = {"Link": external(origin + path, "proxy", link_type), "Slug": f"m{uuid.uuid4().hex[:10]}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = http.post(server.root, headers=headers)
    assert response.status_code == 201, (test_id, response.text)
    assert http.head(response.headers["Location"]).headers["Content-Type"].startswith(expected), test_id


def test_external_content_want_digest(fetching: tuple[ServerHandle, str], http: requests.Session) -> None:
    """3.9.3-A-1, 3.9.3-A-2 (ExternalBinaryContent.binaryContentRedirectWantDigest, ...ProxyWantDigest): a GET
    with Want-Digest of redirected and proxied content answers with the digest of the external bytes."""
    import hashlib

    server, origin = fetching
    sha1 = hashlib.sha1(b"binary content").hexdigest()  # noqa: S324 (the algorithm asked for)
    for handling in ("redirect", "proxy"):
        link = external(origin + "file.txt", handling)
        url = http.post(server.root, headers={"Link": link}).headers["Location"]
        got = http.get(url, headers={"Want-Digest": "md5;q=0.3,sha;q=1"}, allow_redirects=False)
        assert f"sha={sha1}" in got.headers["Digest"], handling
        assert http.get(url, headers={"Want-Digest": "abc"}, allow_redirects=False).status_code == 400
