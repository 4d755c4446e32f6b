"""fcrctl serve against real sockets: methods, headers and status codes as the Fedora 4/5 seeds give them."""

from __future__ import annotations

import hashlib
import http.client as httpclient
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from rdflib import Graph, Literal, URIRef

from fcrctl import rdf
from tests.server_fixture import ServerHandle, start_server

DC_TITLE = "http://purl.org/dc/elements/1.1/title"
LDP = "http://www.w3.org/ns/ldp#"
TURTLE = {"Content-Type": "text/turtle"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("served") / "repo") as handle:
        yield handle


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def fresh(server: ServerHandle) -> str:
    """A URL nobody used yet (tests share one server)."""
    return f"{server.url}/t{uuid.uuid4().hex[:12]}"


def links(response: requests.Response) -> set[tuple[str, str]]:
    return {(item["url"], item.get("rel", "")) for item in requests.utils.parse_header_links(response.headers["Link"])}


def title_body(title: str) -> str:
    return f'<> <{DC_TITLE}> "{title}" .'


def titles(response: requests.Response, url: str) -> set[str]:
    graph = Graph().parse(data=response.content, format="turtle", publicID=url)
    return {str(o) for o in graph.objects(URIRef(url), URIRef(DC_TITLE))}


def raw_request(server: ServerHandle, method: str, raw_path: str) -> tuple[int, bytes]:
    """A request whose path goes on the wire exactly as written (requests would normalise dots)."""
    parts = urlsplit(server.url)
    conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, raw_path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- reading: headers and content negotiation ------------------------------------------------------


def test_root_headers_as_the_seed(server: ServerHandle, http: requests.Session) -> None:
    response = http.get(server.root)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/turtle;charset=utf-8"  # as Fedora 4.7 and 6
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Last-Modified"].endswith("GMT")
    found = links(response)
    for model in ("Resource", "RDFSource", "Container", "BasicContainer"):
        assert (LDP + model, "type") in found
    assert (server.url + "/fcr:versions", "timemap") in found
    assert response.headers["Accept-Patch"] == "application/sparql-update"
    assert "text/turtle" in response.headers["Accept-Post"].split(",")
    assert "DELETE" not in response.headers["Allow"] and "POST" in response.headers["Allow"]
    assert {"Prefer", "Accept"} <= {v.strip() for v in response.headers["Vary"].split(",")}
    graph = Graph().parse(data=response.content, format="turtle")
    provider = URIRef(rdf.FEDORA + "hasTransactionProvider")
    assert (URIRef(server.root), provider, URIRef(server.url + "/fcr:tx")) in graph


@pytest.mark.parametrize("mime", list(rdf.RDF_MEDIA_TYPES))
def test_content_negotiation_over_every_rdf_type(server: ServerHandle, http: requests.Session, mime: str) -> None:
    url = fresh(server)
    assert http.put(url, data=title_body("negotiated"), headers=TURTLE).status_code == 201
    response = http.get(url, headers={"Accept": mime})
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == mime
    graph = rdf.parse(response.content, mime, base=url)
    # Fedora 4.7 types simple literals as xsd:string in every syntax but JSON-LD
    typed = None if mime == "application/ld+json" else URIRef(rdf.XSD + "string")
    assert (URIRef(url), URIRef(DC_TITLE), Literal("negotiated", datatype=typed)) in graph


def test_not_acceptable_is_406(server: ServerHandle, http: requests.Session) -> None:
    response = http.get(server.root, headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "text/turtle" in response.text


def test_prefer_minimal_omits_containment(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, headers=TURTLE, data=title_body("parent"))
    http.put(url + "/child")
    full = Graph().parse(data=http.get(url).content, format="turtle")
    assert (URIRef(url), URIRef(LDP + "contains"), URIRef(url + "/child")) in full
    response = http.get(url, headers={"Prefer": "return=minimal"})
    assert response.headers["Preference-Applied"] == "return=minimal"
    minimal = Graph().parse(data=response.content, format="turtle")
    assert not list(minimal.triples((None, URIRef(LDP + "contains"), None)))


def test_options_and_head(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=b"12345", headers={"Content-Type": "application/octet-stream"})
    options = http.options(url)
    assert options.status_code == 200
    assert options.headers["Allow"] == "DELETE,HEAD,GET,PUT,OPTIONS"  # Fedora 4.7's Allow for a binary
    head = http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == "5"
    assert head.headers["ETag"].startswith('"')  # strong for binaries
    assert (url + "/fcr:metadata", "describedby") in links(head)
    assert http.options(server.root).headers["Accept-Patch"] == "application/sparql-update"


# -- creating ---------------------------------------------------------------------------------------


def test_post_container_with_slug(server: ServerHandle, http: requests.Session) -> None:
    parent = fresh(server)
    http.put(parent)
    response = http.post(parent, headers={**TURTLE, "Slug": "book"}, data=title_body("A book"))
    assert response.status_code == 201
    assert response.headers["Location"] == parent + "/book"
    assert response.text.strip() == parent + "/book"
    assert response.headers["ETag"]
    assert titles(http.get(parent + "/book"), parent + "/book") == {"A book"}
    again = http.post(parent, headers={"Slug": "book"})
    assert again.status_code == 201 and again.headers["Location"] != parent + "/book"
    generated = http.post(parent)
    assert generated.status_code == 201 and generated.headers["Location"].startswith(parent + "/")


def test_post_binary_with_filename_and_digest(server: ServerHandle, http: requests.Session) -> None:
    parent = fresh(server)
    http.put(parent)
    data = b"picture bytes"
    response = http.post(
        parent,
        data=data,
        headers={
            "Content-Type": "image/jpeg",
            "Content-Disposition": 'attachment; filename="picture.jpg"',
            "Digest": f"sha={hashlib.sha1(data).hexdigest()}, sha-256={hashlib.sha256(data).hexdigest()}",
        },
    )
    assert response.status_code == 201
    location = response.headers["Location"]
    assert (location + "/fcr:metadata", "describedby") in links(response)
    got = http.get(location)
    assert got.content == data
    assert got.headers["Content-Type"] == "image/jpeg"
    assert 'filename="picture.jpg"' in got.headers["Content-Disposition"]
    assert (LDP + "NonRDFSource", "type") in links(got)


def test_digest_mismatch_is_409_and_stores_nothing(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    response = http.put(url, data=b"abc", headers={"Content-Type": "text/plain", "Digest": "sha=" + "0" * 40})
    assert response.status_code == 409
    assert http.get(url).status_code == 404
    response = http.put(url + "?checksum=urn:sha1:" + "1" * 40, data=b"abc", headers={"Content-Type": "text/plain"})
    assert response.status_code == 409
    digest = {"Digest": "md5=" + hashlib.md5(b"abc").hexdigest(), "Content-Type": "text/plain"}
    assert http.put(url, data=b"abc", headers=digest).status_code == 201


def test_rdf_body_with_nonrdfsource_link_is_a_binary(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    body = title_body("stored verbatim").encode()
    headers = {**TURTLE, "Link": f'<{LDP}NonRDFSource>; rel="type"'}
    assert http.put(url, data=body, headers=headers).status_code == 201
    got = http.get(url)
    assert got.content == body and (LDP + "NonRDFSource", "type") in links(got)


def test_direct_container_by_link(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    body = f"<> <{LDP}membershipResource> <> ; <{LDP}hasMemberRelation> <http://pcdm.org/models#hasMember> ."
    response = http.put(url, data=body, headers={**TURTLE, "Link": f'<{LDP}DirectContainer>; rel="type"'})
    assert response.status_code == 201
    assert (LDP + "DirectContainer", "type") in links(http.head(url))


def test_external_content_redirect(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    link = '<http://example.org/file.txt>; rel="http://fedora.info/definitions/fcrepo#ExternalContent"'
    response = http.put(url, headers={"Link": link + '; handling="redirect"; type="text/plain"'})
    assert response.status_code == 201
    got = http.get(url, allow_redirects=False)
    assert got.status_code == 307
    assert got.headers["Location"] == "http://example.org/file.txt"
    bad = http.put(fresh(server), headers={"Link": link + '; handling="teleport"'})
    assert bad.status_code == 400


# -- replacing and patching ------------------------------------------------------------------------------


def test_put_replace_and_server_managed_triples(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    assert http.put(url, data=title_body("one"), headers=TURTLE).status_code == 201
    lenient = {**TURTLE, "Prefer": 'handling=lenient; received="minimal"'}
    assert http.put(url, data=title_body("two"), headers=lenient).status_code == 204
    assert titles(http.get(url), url) == {"two"}
    # a GET-modify-PUT round trip sends server-managed triples back unchanged: accepted
    current = http.get(url).text + f'\n<{url}> <{DC_TITLE}> "three" .\n'
    assert http.put(url, data=current, headers=TURTLE).status_code == 204
    changed = f'<> <{rdf.FEDORA}created> "2001-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .'
    assert http.put(url, data=changed, headers=TURTLE).status_code == 409
    # Fedora 4.7's lenient handling says "I received a minimal representation": it does not let
    # a body change server-managed triples
    refused = http.put(url, data=changed + "\n" + title_body("four"), headers=lenient)
    assert refused.status_code == 409 and "--" not in refused.text
    assert titles(http.get(url), url) == {"two", "three"}


def test_binary_cannot_become_container(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=b"bytes", headers={"Content-Type": "application/octet-stream"})
    assert http.put(url, data=title_body("no"), headers=TURTLE).status_code == 409
    assert http.put(url, data=b"new bytes", headers={"Content-Type": "text/plain"}).status_code == 204
    assert http.get(url).content == b"new bytes"


def test_patch_sparql_update(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=title_body("old"), headers=TURTLE)
    update = f'DELETE {{ <> <{DC_TITLE}> "old" }} INSERT {{ <{url}> <{DC_TITLE}> "new" }} WHERE {{}}'
    response = http.patch(url, data=update, headers={"Content-Type": "application/sparql-update"})
    assert response.status_code == 204, response.text
    assert titles(http.get(url), url) == {"new"}
    assert http.patch(url, data=update, headers=TURTLE).status_code == 415
    broken = http.patch(url, data="INSERT NONSENSE {", headers={"Content-Type": "application/sparql-update"})
    assert broken.status_code == 400


def test_binary_description_via_fcr_metadata(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=b"bytes", headers={"Content-Type": "text/plain"})
    update = f'INSERT DATA {{ <> <{DC_TITLE}> "described" }}'
    sparql = {"Content-Type": "application/sparql-update"}
    assert http.patch(url, data=update, headers=sparql).status_code == 400  # Fedora 4.7: a binary takes no PATCH
    assert http.patch(url + "/fcr:metadata", data=update, headers=sparql).status_code == 204
    meta = http.get(url + "/fcr:metadata")
    assert meta.status_code == 200
    assert (url, "describes") in links(meta)
    assert meta.headers["ETag"].startswith('W/"')
    assert titles(meta, url) == {"described"}
    assert http.put(url + "/fcr:metadata", data=f'<{url}> <{DC_TITLE}> "replaced" .', headers=TURTLE).status_code == 204
    assert titles(http.get(url + "/fcr:metadata"), url) == {"replaced"}


# -- deleting, tombstones, move, copy ------------------------------------------------------------------------


def test_delete_tombstone_purge_and_reuse(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url)
    http.put(url + "/child")
    assert http.delete(url).status_code == 204
    gone = http.get(url)
    assert gone.status_code == 410
    assert (url + "/fcr:tombstone", "hasTombstone") in links(gone)
    assert http.get(url + "/child").status_code == 410
    assert http.put(url).status_code == 410
    assert http.delete(url + "/fcr:tombstone").status_code == 204
    assert http.get(url).status_code == 404
    assert http.put(url).status_code == 201


def test_move_and_copy_statuses(server: ServerHandle, http: requests.Session) -> None:
    source, target, copy = fresh(server), fresh(server), fresh(server)
    http.put(source, data=title_body("moving"), headers=TURTLE)
    moved = http.request("MOVE", source, headers={"Destination": target})
    assert moved.status_code == 201 and moved.headers["Location"] == target
    assert http.get(source).status_code == 410
    assert titles(http.get(target), target) == {"moving"}
    assert http.request("COPY", target, headers={"Destination": copy}).status_code == 201
    assert titles(http.get(copy), copy) == {"moving"}
    assert http.request("COPY", target, headers={"Destination": copy}).status_code == 412  # exists
    assert http.request("MOVE", fresh(server), headers={"Destination": fresh(server)}).status_code == 409  # no source
    assert http.request("MOVE", target).status_code == 502  # no Destination
    assert http.request("MOVE", target, headers={"Destination": "http://elsewhere.example/x"}).status_code == 502


# -- binaries: ranges, digests, conditional requests --------------------------------------------------------


def test_range_requests(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=bytes(range(256)) * 4, headers={"Content-Type": "application/octet-stream"})
    part = http.get(url, headers={"Range": "bytes=500-999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 500-999/1024"
    assert part.content == (bytes(range(256)) * 4)[500:1000]
    tail = http.get(url, headers={"Range": "bytes=-24"})
    assert tail.status_code == 206 and tail.content == (bytes(range(256)) * 4)[-24:]
    beyond = http.get(url, headers={"Range": "bytes=5000-6000"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == "bytes */1024"


def test_want_digest(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    data = b"fixity matters"
    http.put(url, data=data, headers={"Content-Type": "text/plain"})
    for name, algorithm in (("sha-512", "sha512"), ("sha-256", "sha256"), ("sha", "sha1"), ("md5", "md5")):
        response = http.head(url, headers={"Want-Digest": name})
        assert response.headers["Digest"] == f"{name}={hashlib.new(algorithm, data).hexdigest()}"
    assert http.get(url, headers={"Want-Digest": "crc32"}).status_code == 400


def test_conditional_requests(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=b"v1", headers={"Content-Type": "text/plain"})
    first = http.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert http.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert http.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert http.put(url, data=b"v2", headers={"If-Match": '"stale"', "Content-Type": "text/plain"}).status_code == 412
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert http.put(url, data=b"v2", headers={"If-Unmodified-Since": old}).status_code == 412
    assert http.put(url, data=b"v2", headers={"If-Match": etag, "Content-Type": "text/plain"}).status_code == 204
    assert http.get(url).content == b"v2"
    assert http.put(fresh(server), headers={"If-Match": "*"}).status_code == 412
    container = fresh(server)
    http.put(container)
    weak = http.get(container).headers["ETag"]
    assert weak.startswith('W/"')
    assert http.get(container, headers={"If-None-Match": weak}).status_code == 304
    patch_headers = {"If-Match": weak, "Content-Type": "application/sparql-update"}
    assert http.patch(container, data="INSERT DATA {}", headers=patch_headers).status_code == 204


# -- versions and fixity ------------------------------------------------------------------------------------


def test_fedora4_versions(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    http.put(url, data=title_body("first"), headers=TURTLE)
    assert http.post(url + "/fcr:versions", headers={"Slug": "v1"}).status_code == 201
    assert http.post(url + "/fcr:versions", headers={"Slug": "v1"}).status_code == 409
    listing = Graph().parse(data=http.get(url + "/fcr:versions").content, format="turtle")
    version_url = URIRef(url + "/fcr:versions/v1")
    assert (URIRef(url), URIRef(rdf.FEDORA + "hasVersion"), version_url) in listing
    label = Literal("v1", datatype=URIRef(rdf.XSD + "string"))  # 4.7.1+ types simple literals, these too
    assert (version_url, URIRef(rdf.FEDORA + "hasVersionLabel"), label) in listing
    http.put(url, data=title_body("second"), headers={**TURTLE, "Prefer": 'handling=lenient; received="minimal"'})
    old = http.get(url + "/fcr:versions/v1")
    assert old.status_code == 200 and titles(old, url) == {"first"}
    assert http.get(url + "/fcr:versions/nope").status_code == 404
    assert http.patch(url + "/fcr:versions/v1").status_code == 204
    assert titles(http.get(url), url) == {"first"}
    deleted = http.delete(url + "/fcr:versions/v1")
    assert deleted.status_code == 405 and "DELETE" not in deleted.headers["Allow"]


def test_fcr_fixity_premis(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    data = b"checked content"
    http.put(url, data=data, headers={"Content-Type": "text/plain", "Digest": f"sha={hashlib.sha1(data).hexdigest()}"})
    response = http.get(url + "/fcr:fixity")
    assert response.status_code == 200
    graph = Graph().parse(data=response.content, format="turtle")
    premis = rdf.PREMIS
    fixity = graph.value(URIRef(url), URIRef(premis + "hasFixity"))
    assert fixity is not None
    assert graph.value(fixity, URIRef(premis + "hasEventOutcome")) == Literal("SUCCESS")
    # judged with the strongest stored digest, not Fedora 4's SHA-1 default
    assert graph.value(fixity, URIRef(premis + "hasMessageDigestAlgorithm")) == Literal("SHA-512")
    digest = URIRef(f"urn:sha-512:{hashlib.sha512(data).hexdigest()}")
    assert graph.value(fixity, URIRef(premis + "hasMessageDigest")) == digest
    assert int(graph.value(fixity, URIRef(premis + "hasSize"))) == len(data)


# -- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_path",
    [
        "/rest/%2e%2e/%2e%2e/etc/passwd",
        "/rest/a/../../etc",
        "/rest/a/%2E%2E/b",
        "/rest/a//b",
        "/rest/fcr:bogus",
        "/rest/a/fcr-container.nt",
        "/rest/a%00b",
    ],
)
def test_paths_escaping_the_root_are_400(server: ServerHandle, raw_path: str) -> None:
    status, body = raw_request(server, "GET", raw_path)
    assert status == 400
    assert b"Traceback" not in body and body.count(b"\n") == 1


def test_outside_the_base_path_is_404(server: ServerHandle) -> None:
    status, _ = raw_request(server, "GET", "/elsewhere")
    assert status == 404


def test_malformed_rdf_is_400_with_one_line(server: ServerHandle, http: requests.Session) -> None:
    response = http.put(fresh(server), data="<> <broken", headers=TURTLE)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.count("\n") == 1 and "Traceback" not in response.text
    assert "line 1" in response.text


def test_oversized_bodies_are_413(tmp_path: Path) -> None:
    with start_server(tmp_path / "repo", max_rdf_bytes=1000, max_body=100_000) as small:
        rdf_response = requests.put(small.url + "/big", data="#" * 2000, headers=TURTLE)
        assert rdf_response.status_code == 413 and rdf_response.text.count("\n") == 1
        binary = requests.put(small.url + "/bin", data=b"x" * 200_000, headers={"Content-Type": "text/plain"})
        assert binary.status_code == 413
        assert requests.get(small.url + "/bin").status_code == 404
        octets = {"Content-Type": "application/octet-stream"}
        assert requests.put(small.url + "/ok", data=b"x" * 50_000, headers=octets).status_code == 201


def test_unknown_method_is_405_with_allow(server: ServerHandle, http: requests.Session) -> None:
    response = http.request("PROPFIND", server.root)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_non_latin1_filename_round_trips(server: ServerHandle, http: requests.Session) -> None:
    url = fresh(server)
    disposition = "attachment; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"
    assert http.put(url, data=b"x", headers={"Content-Disposition": disposition}).status_code == 201
    got = http.get(url)
    assert got.status_code == 200
    assert "filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt" in got.headers["Content-Disposition"]


def test_unicode_paths_give_ascii_headers(server: ServerHandle, http: requests.Session) -> None:
    parent = fresh(server)
    http.put(parent)
    response = http.put(parent + "/日本", data=b"x", headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.isascii() and location.endswith("/%E6%97%A5%E6%9C%AC")
    got = http.get(location)
    assert got.status_code == 200 and got.content == b"x"


def test_n_triples_rows_equal_the_renamed_graph_serialised(tmp_path: Path) -> None:
    """The server writes N-Triples while renaming ids to URLs; byte for byte what serialising
    the renamed graph gives (the root keeps its trailing slash, other terms stay)."""
    from rdflib import BNode, Graph, Literal, URIRef

    from fcrctl import rdf
    from fcrctl.server.context import Context

    graph = Graph()
    p = URIRef("http://example.org/p")
    graph.add((URIRef("info:fedora"), p, URIRef("info:fedora/a")))
    graph.add((URIRef("info:fedora/"), p, URIRef("info:fedora/a")))  # the same triple once renamed
    graph.add((URIRef("info:fedora/a#frag"), p, Literal('line\nbreak "q" é ☃')))
    graph.add((URIRef("info:fedora/a"), p, URIRef("http://h/rest")))
    graph.add((URIRef("info:fedora/é"), p, Literal(5)))
    graph.add((URIRef("info:fedoraX"), p, URIRef("info:fedora/a/fcr:metadata")))
    graph.add((BNode("b1"), p, Literal("five", lang="en")))
    ctx = Context.__new__(Context)
    ctx.base_url = "http://h/rest"
    expected = rdf.serialize(ctx.to_external(graph), "application/n-triples")
    assert ctx.external_ntriples(graph) == expected
    assert b"<http://h/rest/> <http://example.org/p> <http://h/rest/a> .\n" in expected


def test_n_triples_listing_is_streamed_and_holds_the_graph(server: ServerHandle, http: requests.Session,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing in N-Triples goes out while it is read (chunked, no Content-Length), in chunks
    of rows; parsed, it is the graph the Turtle representation holds. (Past keepalive.SMALL bytes:
    a smaller body is sent whole with its length.)"""
    monkeypatch.setattr("fcrctl.server.keepalive.SMALL", 1024)
    from fcrctl import rdf
    from fcrctl.server.context import Context

    base = fresh(server)
    assert http.put(base, data=title_body("top"), headers={"Content-Type": "text/turtle"}).status_code == 201
    for i in range(30):
        http.put(f"{base}/c{i}", data=title_body(f"child {i}"), headers={"Content-Type": "text/turtle"})
    prefer = f'return=representation; include="{rdf.FEDORA}EmbedResources"'
    nt = http.get(base, headers={"Accept": "application/n-triples", "Prefer": prefer})
    turtle = http.get(base, headers={"Accept": "text/turtle", "Prefer": prefer})
    assert nt.status_code == 200 and "Content-Length" not in nt.headers
    assert nt.headers.get("Transfer-Encoding") == "chunked"
    streamed = Graph().parse(data=nt.content, format="nt")
    assert len(streamed) > 30 * 5
    assert set(streamed) == set(Graph().parse(data=turtle.content, format="turtle", publicID=base))
    assert len(nt.content.splitlines()) == len(streamed)  # no row twice
    ctx = Context.__new__(Context)
    ctx.base_url = "http://h/rest"
    chunks = list(ctx.ntriples_chunks(list(streamed), rows=7))
    assert len(chunks) > 1 and set(Graph().parse(data=b"".join(chunks), format="nt")) == set(streamed)
