"""Third-party Fedora clients, unmodified, against a real ``fcrctl serve`` on 127.0.0.1: each driven through its
own documented operations, in each dialect it speaks.

- pyfc4 (PyPI, "Python 3 client for Fedora Commons 4"): a Fedora 4 client, so the fedora4 dialect only. Against
  fedora5/6 it cannot start: it asks ``CONTAINER/fcr:metadata`` of every resource, an alias 4.7 kept and later
  Fedora dropped (404).
- plastron-client (PyPI, UMD Libraries' Fedora client, maintained): every dialect; its transactions are Fedora
  4's (``POST /fcr:tx`` -> ``.../tx:ID``, paths below it), which Fedora 6 replaced, so those run on fedora4/5.
- rdflib's own HTTP reading (``Graph.parse(url)``: its Accept headers, its choice of parser by Content-Type).
- rdflib.js (npm): Fetcher and UpdateManager, every dialect (node and npm needed; installed on first use).

Then API Test Suite checks (fcrepo/Fedora-API-Test-Suite, crud/StateToken.java and crud/Container.java's
membership updates) replayed as the suite sends them, each naming its Java test.

The Python clients are in the ``test`` extra; a test skips (saying why) only where a client cannot be had.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
import requests
from rdflib import Graph, Literal, URIRef

from fcrctl import rdf
from tests.server_fixture import ServerHandle, start_server

DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
XSD_STRING = URIRef(rdf.XSD + "string")


def _serve(tmp_path_factory: pytest.TempPathFactory, dialect: str) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp(f"third-party-{dialect}") / "repo", dialect=dialect) as handle:
        yield handle


@pytest.fixture(scope="module")
def fedora4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    yield from _serve(tmp_path_factory, "fedora4")


@pytest.fixture(scope="module", params=["fedora4", "fedora5", "fedora6"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    yield from _serve(tmp_path_factory, request.param)


# -- pyfc4 ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def pyfc4(fedora4: ServerHandle):  # type: ignore[no-untyped-def]
    models = pytest.importorskip("pyfc4.models", reason="pyfc4 (the test extra) is not installed")
    return models, models.Repository(fedora4.url, "anyone", "unused", default_auto_refresh=True)


def _typed(value: str) -> Literal:
    return Literal(value, datatype=XSD_STRING)  # 4.7.1+ types simple literals, and pyfc4 compares them so


def test_pyfc4_containers_binaries_and_triples(pyfc4) -> None:  # type: ignore[no-untyped-def]
    """pyfc4's README operations: create by PUT and POST, get, children, triples added / set / removed, 409 on a
    second create, 404 below a missing parent, 410 (and its tombstone) after a delete."""
    models, repo = pyfc4
    top = models.BasicContainer(repo, "crud")
    top.create(specify_uri=True)
    assert top.exists and repo.get_resource("crud").exists
    for content_type in ("application/ld+json", "application/n-triples", "application/rdf+xml", "text/turtle"):
        assert isinstance(repo.get_resource("crud", response_format=content_type).rdf.graph, Graph)

    baz = models.Binary(repo, "crud/baz")
    baz.binary.data, baz.binary.mimetype = "this is only a test", "text/plain"
    baz.create(specify_uri=True)
    fetched = repo.get_resource("crud/baz")
    assert type(fetched) is models.Binary and fetched.binary.data.content == b"this is only a test"
    assert b"".join(fetched.binary.data.iter_content(5)) == b"this is only a test"
    assert [str(c) for c in repo.get_resource("crud").children()] == [repo.root + "crud/baz"]

    foo = repo.get_resource("crud")
    foo.add_triple(foo.rdf.prefixes.dc.subject, "stormy seas")
    foo.add_triple(foo.rdf.prefixes.dc.title, "draft")
    foo.update()
    foo.set_triple(foo.rdf.prefixes.dc.title, "final")
    foo.remove_triple(foo.rdf.prefixes.dc.subject, "stormy seas")
    foo.update()
    assert (foo.uri, URIRef(DC + "title"), _typed("final")) in foo.rdf.graph
    assert not list(foo.rdf.graph.objects(foo.uri, URIRef(DC + "subject")))

    with pytest.raises(Exception, match="resource already exists"):
        models.BasicContainer(repo, "crud").create(specify_uri=True)
    with pytest.raises(Exception, match="target location does not exist"):
        models.BasicContainer(repo, repo.root + "crud/does/not/exist").create()
    gone = models.BasicContainer(repo, "crud")
    gone.create()  # POST: a minted child
    gone.delete(remove_tombstone=False)
    with pytest.raises(Exception, match="tombstone for .* detected"):
        models.BasicContainer(repo, gone.uri).create(specify_uri=True)


def test_pyfc4_direct_and_indirect_containers(pyfc4) -> None:  # type: ignore[no-untyped-def]
    models, repo = pyfc4
    goober = models.BasicContainer(repo, "members/goober")
    models.BasicContainer(repo, "members").create(specify_uri=True)
    goober.create(specify_uri=True)
    knows, near = goober.rdf.prefixes.foaf.knows, goober.rdf.prefixes.foaf.based_near
    models.DirectContainer(repo, "members/direct", membershipResource=goober.uri, hasMemberRelation=knows).create(
        specify_uri=True)
    child = models.BasicContainer(repo, "members/direct/child")
    child.create(specify_uri=True)
    models.IndirectContainer(repo, "members/indirect", membershipResource=goober.uri, hasMemberRelation=near,
                             insertedContentRelation=near).create(specify_uri=True)
    proxy = models.BasicContainer(repo, "members/indirect/proxy")
    proxy.add_triple(near, URIRef(repo.root + "members"))
    proxy.create(specify_uri=True)
    goober.refresh()
    assert set(goober.rdf.graph.objects(goober.uri, knows)) == {child.uri}
    assert set(goober.rdf.graph.objects(goober.uri, near)) == {URIRef(repo.root + "members")}


def test_pyfc4_transactions_move_copy_and_fixity(pyfc4) -> None:  # type: ignore[no-untyped-def]
    models, repo = pyfc4
    models.BasicContainer(repo, "tx").create(specify_uri=True)
    txn = repo.start_txn("zing")
    assert txn.active and repo.get_txn("zinger", txn.root).active
    models.BasicContainer(txn, "tx/kept").create(specify_uri=True)
    txn.commit()
    assert not txn.active and repo.get_resource("tx/kept").exists
    txn = repo.start_txn()
    models.BasicContainer(txn, "tx/dropped").create(specify_uri=True)
    txn.rollback()
    assert repo.get_resource("tx/dropped") is False

    moved = repo.get_resource(repo.get_resource("tx/kept").move(repo.root + "tx/moved"))
    assert moved.exists and repo.get_resource("tx/kept") is False
    assert repo.get_resource(moved.copy(repo.root + "tx/copied")).exists and moved.check_exists()

    baz = models.Binary(repo, "tx/baz")
    baz.binary.data, baz.binary.mimetype = "checked", "text/plain"
    baz.create(specify_uri=True)
    report = repo.get_resource("tx/baz").fixity()
    assert report["verdict"] is True and isinstance(report["premis_graph"], Graph)


def test_pyfc4_lists_and_reverts_versions_of_a_changed_resource(pyfc4) -> None:  # type: ignore[no-untyped-def]
    """pyfc4's get_versions reads a hasVersionLabel off every listed version, then GETs each version's
    fcr:metadata (it asks that of anything). serve lists every OCFL version, so a resource changed before a
    client's first ``create_version`` has versions no client labelled: listed without a label (and, one named
    ``v1`` by its id, merged into the one a client labelled ``v1``), pyfc4 failed on ``None.toPython()``; and a
    container version's fcr:metadata was 404, which left pyfc4 a version it could not revert to."""
    models, repo = pyfc4
    foo = models.BasicContainer(repo, "versioned")
    foo.create(specify_uri=True)
    foo.add_triple(foo.rdf.prefixes.dc.title, "first")
    foo.update()  # a version no client labelled
    foo.create_version("v1")
    foo.add_triple(foo.rdf.prefixes.dc.coverage, "forest")
    foo.update()
    foo.create_version("v2")

    foo = repo.get_resource("versioned")
    foo.get_versions()
    assert isinstance(foo.versions.v1, models.ResourceVersion) and isinstance(foo.versions.v2, models.ResourceVersion)
    listed = Graph().parse(data=requests.get(str(foo.uri) + "/fcr:versions", timeout=10).content, format="turtle")
    label = URIRef(rdf.FEDORA + "hasVersionLabel")
    for version in listed.objects(foo.uri, URIRef(rdf.FEDORA + "hasVersion")):  # as 4.7: label == URL segment
        assert listed.value(version, label) == _typed(str(version).rsplit("/", 1)[1])
    assert len(set(listed.objects(foo.uri, URIRef(rdf.FEDORA + "hasVersion")))) == 5  # create, 2 updates, 2 POSTs
    with pytest.raises(Exception, match="HTTP 400"):  # the most recent version stays
        foo.versions.v2.delete()

    foo.versions.v1.revert_to()
    assert not hasattr(foo.rdf.triples.dc, "coverage") and foo.rdf.triples.dc.title == [_typed("first")]


# -- plastron-client ------------------------------------------------------------------------------------------------


@pytest.fixture
def plastron(served: ServerHandle):  # type: ignore[no-untyped-def]
    client = pytest.importorskip("plastron.client", reason="plastron-client (the test extra) is not installed")
    return client.Client(client.Endpoint(served.url))


def _graph(title: str) -> Graph:
    graph = Graph()
    graph.add((URIRef(""), URIRef(DCTERMS + "title"), Literal(title)))
    return graph


def test_plastron_creates_reads_and_patches(plastron, served: ServerHandle) -> None:  # type: ignore[no-untyped-def]
    made = plastron.create_at_path(pathlib.Path("/pl/a/b"))
    assert str(made) == served.url + "/pl/a/b" and plastron.path_exists("/pl/a") and not plastron.path_exists("/no")
    res = plastron.create_in_container(pathlib.Path("/pl"), graph=_graph("hello"))
    subject, title = URIRef(res.uri), URIRef(DCTERMS + "title")
    assert res.description_uri == res.uri
    assert [str(t) for t in plastron.get_graph(res.uri).objects(subject, title)] == ["hello"]
    own = plastron.get_graph(res.uri, include_server_managed=False)
    assert {str(p) for p in own.predicates(subject)} == {DCTERMS + "title"}

    deletes, inserts = Graph(), Graph()
    deletes.add((subject, title, Literal("hello")))
    inserts.add((subject, title, Literal("bye")))
    assert plastron.patch_graph(res.uri, deletes, inserts).status_code == 204
    assert [str(t) for t in plastron.get_graph(res.uri).objects(subject, title)] == ["bye"]


def test_plastron_puts_back_the_graph_it_read(plastron) -> None:  # type: ignore[no-untyped-def]
    """put_graph PUTs a graph read with get_graph (server-managed triples included) to the resource's
    description: a container, and a binary's fcr:metadata. The description's ``iana:describedby
    <.../fcr:metadata>`` came back as the binary's own id, so serve took the unchanged triple for an
    attempt to set a server-managed one (409) where a container's round trip passed."""
    res = plastron.create_in_container(pathlib.Path("/"), graph=_graph("round trip"))
    graph = plastron.get_graph(res.uri)
    graph.add((URIRef(res.uri), URIRef(DCTERMS + "subject"), Literal("kept")))
    assert plastron.put_graph(res.uri, graph).status_code == 204
    assert [str(o) for o in plastron.get_graph(res.uri).objects(URIRef(res.uri), URIRef(DCTERMS + "subject"))] == [
        "kept"]

    binary = plastron.create(container_path="/", data=b"data", headers={"Content-Type": "text/plain"})
    assert binary.description_uri == binary.uri + "/fcr:metadata"
    graph = plastron.get_graph(binary.description_uri)
    graph.add((URIRef(binary.uri), URIRef(DCTERMS + "title"), Literal("a binary")))
    response = plastron.put_graph(binary.uri, graph)
    assert response.status_code == 204, response.text
    titles = plastron.get_graph(binary.description_uri).objects(URIRef(binary.uri), URIRef(DCTERMS + "title"))
    assert [str(t) for t in titles] == ["a binary"]
    assert plastron.get(binary.uri).content == b"data"


def test_plastron_transactions(plastron, served: ServerHandle) -> None:  # type: ignore[no-untyped-def]
    from plastron.client import ClientError
    from plastron.client.transactions import transaction

    if "fcr:tx/" in requests.post(served.url + "/fcr:tx", timeout=10).headers["Location"]:
        pytest.skip("plastron-client 4.8 speaks Fedora 4's transactions (.../tx:ID/PATH); Fedora 6 names them "
                    "fcr:tx/ID and takes an Atomic-ID header")
    with transaction(plastron) as txn:
        kept = txn.create_in_container(pathlib.Path("/"), graph=_graph("kept"))
        assert len(txn.get_graph(kept.uri)) > 0 and not plastron.exists(kept.uri)
        txn.maintain()
    assert plastron.exists(kept.uri)
    dropped = []
    with pytest.raises(ClientError), transaction(plastron) as txn:
        dropped.append(txn.create_in_container(pathlib.Path("/"), graph=_graph("dropped")))
        raise ClientError(txn.get(dropped[0].uri + "/missing"))  # rolls the transaction back
    assert dropped and not plastron.exists(dropped[0].uri)


# -- rdflib's own HTTP reading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [None, "turtle", "xml", "nt", "n3", "json-ld"])
def test_rdflib_parses_what_serve_negotiates(served: ServerHandle, fmt: str | None) -> None:
    """``Graph.parse(url)`` sends rdflib's Accept for ``format`` (any RDF when None) and parses by the answer's
    Content-Type: a container with a binary child, and the binary's description."""
    url = served.url + f"/rdflib-{fmt}"
    assert requests.put(url, data=f'<> <{DCTERMS}title> "t" .', headers={"Content-Type": "text/turtle"},
                        timeout=10).status_code == 201
    assert requests.put(url + "/b", data=b"x", headers={"Content-Type": "text/plain"}, timeout=10).status_code == 201
    graph = Graph().parse(url, format=fmt)
    assert (URIRef(url), URIRef(DCTERMS + "title"), None) in graph
    assert (URIRef(url), URIRef("http://www.w3.org/ns/ldp#contains"), URIRef(url + "/b")) in graph
    described = Graph().parse(url + "/b/fcr:metadata", format=fmt)
    assert (URIRef(url + "/b"), URIRef(rdf.PREMIS + "hasSize"), None) in described


# -- the Fedora API Test Suite's StateToken checks (fcrepo/Fedora-API-Test-Suite, crud/StateToken.java) -------------
# Each exchange as the suite sends it. Fedora 6 sends X-State-Token on GET and HEAD and refuses a PUT or PATCH whose
# X-If-State-Token differs (412: fcrepo's ContentExposingResource); serve's fedora4/5 dialects, as 4.7, have none,
# so there the suite runs its "ignored" checks and skips the others.

STATE, IF_STATE = "X-State-Token", "X-If-State-Token"
SPARQL = {"Content-Type": "application/sparql-update"}
TITLE_UPDATE = 'INSERT { <> <http://purl.org/dc/elements/1.1/title> "test" . } WHERE {}'


def _basic_container(handle: ServerHandle) -> str:
    """AbstractTest.createBasicContainer: POST Turtle with a Link type of ldp:BasicContainer."""
    headers = {"Content-Type": "text/turtle", "Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"'}
    response = requests.post(handle.root, headers=headers, data=f'<> <{DCTERMS}title> "state" .', timeout=10)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def _token(response: requests.Response, handle: ServerHandle) -> str:
    token = response.headers.get(STATE)
    fedora6 = "fcr:tx/" in requests.post(handle.url + "/fcr:tx", timeout=10).headers.get("Location", "")
    assert (token is not None) == fedora6  # sent by Fedora 6 only
    if token is None:
        pytest.skip(f"{STATE} is not supported in this dialect (as Fedora 4.7): the suite skips this check")
    return token


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_suite_state_token_changes_with_the_resource(served: ServerHandle, method: str) -> None:
    """3.10.1-A, 3.10.1-B (StateToken.stateTokenGet, stateTokenHead); Fedora 6's StateTokensIT also has the
    token on a binary, its description and the TimeMap (the original's token: TimeMapImpl)."""
    url = _basic_container(served)
    token = _token(requests.request(method, url, timeout=10), served)
    assert requests.request(method, url + "/fcr:versions", timeout=10).headers[STATE] == token
    assert requests.patch(url, headers=SPARQL, data=TITLE_UPDATE, timeout=10).status_code == 204
    assert requests.request(method, url, timeout=10).headers[STATE] != token
    assert requests.put(url + "/bin", data=b"foo", headers={"Content-Type": "text/plain"}, timeout=10).ok
    binary = requests.request(method, url + "/bin", timeout=10).headers[STATE]
    assert requests.request(method, url + "/bin/fcr:metadata", timeout=10).headers[STATE] == binary
    assert requests.put(url + "/bin", data=b"bar", headers={"Content-Type": "text/plain", IF_STATE: "invalid_token"},
                        timeout=10).status_code == 412
    assert requests.put(url + "/bin", data=b"bar", headers={"Content-Type": "text/plain", IF_STATE: binary},
                        timeout=10).status_code == 204


def test_suite_state_token_on_patch(served: ServerHandle) -> None:
    """3.10.2-A, 3.10.2-C (StateToken.goodStateTokenOnPatchWhenStateTokensSupported,
    badStateTokenOnPatchWhenStateTokensSupported)."""
    url = _basic_container(served)
    token = _token(requests.get(url, timeout=10), served)
    bad = requests.patch(url, headers={**SPARQL, IF_STATE: token + "-bad-token"}, data=TITLE_UPDATE, timeout=10)
    assert bad.status_code == 412 and IF_STATE in bad.text
    assert requests.patch(url, headers={**SPARQL, IF_STATE: token}, data=TITLE_UPDATE, timeout=10).status_code == 204


def test_suite_state_token_on_put(served: ServerHandle) -> None:
    """3.10.2-D, 3.10.2-F (StateToken.goodStateTokenOnPutSucceedsWhenStateTokensSupported,
    badStateTokenOnPutWhenStateTokensSupported): the GET's body (server-managed triples omitted) plus a triple."""
    url = _basic_container(served)
    prefer = ('return=representation; include="http://www.w3.org/ns/ldp#PreferMinimalContainer"; '
              'omit="http://fedora.info/definitions/fcrepo#ServerManaged"')
    got = requests.get(url, headers={"Prefer": prefer}, timeout=10)
    token = _token(got, served)
    body = got.text + '\n<> <http://example.org/test> "any value".'
    turtle = {"Content-Type": "text/turtle"}
    assert requests.put(url, headers={**turtle, IF_STATE: "random-token"}, data=body, timeout=10).status_code == 412
    assert requests.put(url, headers={**turtle, IF_STATE: token}, data=body, timeout=10).status_code == 204


def test_suite_state_token_ignored_where_unsupported(served: ServerHandle) -> None:
    """3.10.2-B, 3.10.2-E (StateToken.badStateTokenOnPatchWhenStateTokensIgnored,
    badStateTokenOnPutWhenStateTokensIgnored): without state tokens a random X-If-State-Token is ignored."""
    url = _basic_container(served)
    got = requests.get(url, timeout=10)
    if STATE in got.headers:
        pytest.skip("this dialect supports state tokens (as Fedora 6): the suite checks them above")
    patched = requests.patch(url, headers={**SPARQL, IF_STATE: "random-token"}, data=TITLE_UPDATE, timeout=10)
    assert 200 <= patched.status_code < 300
    got = requests.get(url, timeout=10)  # the body as a GET gave it: 4.7 takes its server-managed triples back
    put = requests.put(url, headers={"Content-Type": "text/turtle", IF_STATE: "random-token"}, data=got.text,
                       timeout=10)
    assert 200 <= put.status_code < 300, put.text


# -- rdflib.js (npm), the Linked Data library of SolidOS / mashlib --------------------------------------------------

# a prefix of its own beside Azurite's (.ci-node): an npm install into one prefix rewrites its node_modules,
# under a test running from it
NODE_PREFIX = pathlib.Path(__file__).resolve().parent.parent / ".ci-node" / "rdflib-js"


def _rdflib_js() -> pathlib.Path:
    """rdflib.js under .ci-node/rdflib-js (.ci/run installs it there; else the first test that needs it)."""
    from tests.store_servers import npm_installed

    npm_installed(NODE_PREFIX, "rdflib@2", NODE_PREFIX / "node_modules" / "rdflib" / "package.json")
    return NODE_PREFIX


def test_rdflib_js_reads_patches_and_puts_back(served: ServerHandle) -> None:
    """rdflib.js's Fetcher and UpdateManager: PUT a Turtle document, load it, find it editable (Accept-Patch),
    PATCH it with the SPARQL Update it writes, PUT back what it loaded with a change, create a container by POST,
    read ldp:contains, DELETE."""
    import json
    import shutil
    import subprocess

    prefix = _rdflib_js()
    script = pathlib.Path(__file__).with_name("rdflib_js_client.cjs")
    done = subprocess.run([shutil.which("node") or "node", str(script), str(prefix), served.url], capture_output=True,
                          text=True, timeout=120)
    steps = {line["step"]: line for line in map(json.loads, done.stdout.splitlines())}
    failed = {name: s["error"] for name, s in steps.items() if not s["ok"]}
    assert not failed and done.returncode == 0, (failed, done.stderr[-2000:])
    got = {name: s["value"] for name, s in steps.items()}
    assert got["webOperation PUT"] == 201 and got["load"] == ["one"] and got["editable"] == "SPARQL"
    assert got["update"] == ["two"] and got["putBack"] == [204, ["kept"]]
    assert got["createContainer"] == [201, served.url + "/js-box"]
    assert {served.url + "/js-box", served.url + "/js-doc"} <= set(got["contains"]) and got["delete"] == 204


# -- the suite's membership updates (Container.java, MAYs serve allows): 3.1.2-D/E/J/K/L/M, 3.1.3-D/E/J/K/L/M/Q/R --

MEMBERSHIP_UPDATES = [  # (ids, the suite's tests, the predicate, its first and second value)
    ("3.1.2-D/E, 3.1.3-D/E", "ld*ContainerMayAllowLdpMembershipToBeUpdatedByPut/Patch", "membershipResource",
     None, None),
    ("3.1.2-J/K, 3.1.3-J/K", "ld*ContainerMayAllowLdpHasMemberRelation*ToBeUpdatedByPut/Patch", "hasMemberRelation",
     "http://example.org/ldp/member1", "http://example.org/ldp/member2"),
    ("3.1.2-L/M, 3.1.3-L/M", "ld*ContainerMayAllowLdpIsMemberRelation*ToBeUpdatedByPut/Patch", "isMemberOfRelation",
     "http://example.org/ldp/isMemberOf1", "http://example.org/ldp/isMemberOf2"),
    ("3.1.3-Q/R", "ldpIndirectContainerMayAllowLdpInsertedContentRelation*ToBeUpdatedByPut/Patch",
     "insertedContentRelation", "http://www.w3.org/ns/ldp#MemberSubject", "http://example.org/ldp/MemberSubject"),
]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("kind", ["DirectContainer", "IndirectContainer"])
@pytest.mark.parametrize(("ids", "java", "predicate", "first", "second"), MEMBERSHIP_UPDATES,
                         ids=[row[2] for row in MEMBERSHIP_UPDATES])
def test_suite_membership_updates(served: ServerHandle, ids: str, java: str, predicate: str, first: str | None,
                                  second: str | None, kind: str, method: str) -> None:
    """A membership triple of a direct or indirect container changed by a PUT of its GET's body with the value
    replaced, or by a SPARQL DELETE/INSERT PATCH: the new value only, afterwards."""
    if predicate == "insertedContentRelation" and kind == "DirectContainer":
        pytest.skip("ldp:insertedContentRelation is an indirect container's")
    ldp = "http://www.w3.org/ns/ldp#"
    if first is None or second is None:  # the membership resource: two new containers (AbstractTest.doPost)
        first, second = (requests.post(served.root, timeout=10).headers["Location"] for _ in range(2))
    body = f'<> <{DCTERMS}title> "A {kind}" ; <{ldp}{predicate}> <{first}>'
    if predicate != "membershipResource":
        body += f" ; <{ldp}membershipResource> <{served.root}>"
    if predicate != "hasMemberRelation" and predicate != "isMemberOfRelation":
        body += f" ; <{ldp}hasMemberRelation> <{DCTERMS}hasPart>"
    if kind == "IndirectContainer" and predicate != "insertedContentRelation":
        body += f" ; <{ldp}insertedContentRelation> <{DCTERMS}isPartOf>"
    headers = {"Link": f'<{ldp}{kind}>; rel="type"', "Content-Type": "text/turtle"}
    created = requests.post(served.root, headers=headers, data=body + " .", timeout=10)
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    if method == "PUT":
        nt = "application/n-triples"  # the suite's Turtle, where no prefix can shorten the value it replaces
        got = requests.get(url, headers={"Accept": nt}, timeout=10).text
        assert f"<{first}>" in got
        response = requests.put(url, headers={"Content-Type": nt}, data=got.replace(first, second), timeout=10)
    else:
        p = f"<{ldp}{predicate}>"
        update = f"DELETE {{ <> {p} <{first}> }} INSERT {{ <> {p} <{second}> }} WHERE {{}}"
        response = requests.patch(url, headers=SPARQL, data=update, timeout=10)
    assert response.status_code == 204, (ids, java, response.text)
    graph = Graph().parse(data=requests.get(url, headers={"Accept": "text/turtle"}, timeout=10).text,
                          format="turtle", publicID=url)
    assert set(graph.objects(URIRef(url), URIRef(ldp + predicate))) == {URIRef(second)}, (ids, java)
