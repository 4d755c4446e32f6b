"""The Fedora API Test Suite's WebAC checks (fcrepo/Fedora-API-Test-Suite, src/main/java/org/fcrepo/spec/
testsuite/authz/) that name ACL files of the suite, against a real ``fcrctl serve --dialect fedora6`` with an
auth file: ``root`` (admin, the suite's rootControllerUser) and ``bob`` (its permissionlessUser, WebID
``USERS + "bob"`` under ``--user-base-uri``). Each test names the suite's test id in its docstring; the ACL
bodies are the suite's src/main/resources/acls/ files with their ${...} filled in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from fcrctl.acl.policy import Policy
from fcrctl.server.auth import add_user
from tests.server_fixture import ServerHandle, start_server

PW = "pw-for-tests"
ADMIN, USER = ("root", PW), ("bob", PW)
USERS = "http://example.org/users/"
WEBID = USERS + "bob"
PREFIX = "@prefix acl: <http://www.w3.org/ns/auth/acl#> .\n"
TURTLE = {"Content-Type": "text/turtle"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    users = tmp_path_factory.mktemp("auth") / "users"
    add_user(users, "root", PW, admin=True)
    add_user(users, "bob", PW)
    repo = tmp_path_factory.mktemp("suite-authz") / "repo"
    with start_server(repo, auth_file=users, dialect="fedora6", policy=Policy(user_base_uri=USERS)) as handle:
        yield handle


def resource(server: ServerHandle) -> str:
    """AbstractAuthzTest.createResource: a container the admin makes."""
    response = requests.post(server.root, headers={**TURTLE, "Slug": f"r{uuid.uuid4().hex[:10]}"}, auth=ADMIN)
    assert response.status_code == 201
    return response.headers["Location"]


def put_acl(url: str, body: str) -> None:
    acl = acl_of(url)
    response = requests.put(acl, data=(PREFIX + body).encode(), headers=TURTLE, auth=ADMIN)
    assert response.status_code in (201, 204), response.text


def acl_of(url: str) -> str:
    links = requests.utils.parse_header_links(requests.head(url, auth=ADMIN).headers["Link"])
    return next(i["url"] for i in links if i.get("rel") == "acl")


def authorization(name: str, url: str, *modes: str, agent: str = f"<{WEBID}>", typed: bool = True) -> str:
    kind = "a acl:Authorization ; " if typed else ""
    mode_list = ", ".join(f"acl:{m}" for m in modes)
    return f"<#{name}> {kind}acl:agent {agent} ; acl:mode {mode_list} ; acl:default <{url}> ; acl:accessTo <{url}> .\n"


def test_acl_link_and_its_resource(server: ServerHandle) -> None:
    """5.3-A, 5.3-B, 5.3-C (WebACLinkHeaders.*): the rel=acl Link is on the same host; GET of it is 404 until
    an ACL is made there, then 200."""
    url = resource(server)
    acl = acl_of(url)
    assert requests.utils.urlparse(acl).hostname == requests.utils.urlparse(url).hostname
    assert requests.get(acl, auth=ADMIN).status_code == 404
    put_acl(url, authorization("restricted", url, "Read"))
    assert requests.get(acl, auth=ADMIN).status_code == 200


def test_read_only_authorization(server: ServerHandle) -> None:
    """5.2-A (WebACRepresentation.aclRdfInspected, the suite's user-read-only.ttl): an agent given Read GETs
    200; a POST is 403."""
    url = resource(server)
    put_acl(url, authorization("restricted", url, "Read"))
    assert requests.get(url, auth=USER).status_code == 200
    assert requests.post(url, data=b"x", headers={"Content-Type": "text/plain"}, auth=USER).status_code == 403


def test_only_authorizations_count(server: ServerHandle) -> None:
    """5.2-B (WebACRepresentation.onlyAuthorizationStatementsUsed, acl-without-authorization-type-triple.ttl):
    an untyped statement granting Write grants nothing, and a typed one whose agent predicate is
    ``acl:acl:agent`` (a different IRI) names nobody: the admin GETs, the user's POST is 403."""
    url = resource(server)
    body = (
        f"<#relevant> a acl:Authorization ; acl:acl:agent <{WEBID}> ; acl:mode acl:Read ; "
        f"acl:default <{url}> ; acl:accessTo <{url}> .\n" + authorization("irrelevant", url, "Write", typed=False)
    )
    put_acl(url, body)
    assert requests.get(url, auth=ADMIN).status_code == 200
    assert requests.post(url, data=b"test-body", headers={"Content-Type": "text/plain"}, auth=USER).status_code == 403


def test_modes_across_authorizations(server: ServerHandle) -> None:
    """5.2-D (WebACRepresentation.aclExamined, user-read-write-in-multiple-authorizations.ttl): Read from one
    authorization and Write from another: GET 200 and POST 201."""
    url = resource(server)
    put_acl(url, authorization("auth1", url, "Read") + authorization("auth2", url, "Write"))
    assert requests.get(url, auth=USER).status_code == 200
    posted = requests.post(url, data=b"test body", headers={"Content-Type": "text/plain"}, auth=USER)
    assert posted.status_code == 201


def test_no_authorization_grants_is_403(server: ServerHandle) -> None:
    """5.2-E (WebACRepresentation.accessDenied, empty-acl.ttl): an ACL with an empty authorization: 403."""
    url = resource(server)
    put_acl(url, "<#restricted> a acl:Authorization .\n")
    assert requests.get(url, auth=USER).status_code == 403


def test_acl_is_an_rdf_source(server: ServerHandle) -> None:
    """5.1 (WebACRdfSources.aclIsLDPRS): the ACL is an LDP-RS: GET as Turtle with type ldp:RDFSource."""
    url = resource(server)
    put_acl(url, authorization("restricted", url, "Read"))
    got = requests.get(acl_of(url), headers={"Accept": "text/turtle"}, auth=ADMIN)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/turtle")
    types = [i["url"] for i in requests.utils.parse_header_links(got.headers["Link"]) if i.get("rel") == "type"]
    assert "http://www.w3.org/ns/ldp#RDFSource" in types


def read_append(server: ServerHandle, url: str) -> None:
    """The suite's user-read-append.ttl."""
    put_acl(url, authorization("restricted", url, "Read", "Append"))


def test_append_without_write_on_an_rdf_source(server: ServerHandle) -> None:
    """5.7.1-A, 5.7.1-B, 5.7.1-C, 5.7.2 (WebACModes.appendNotWrite*): with Read and Append, DELETE, PUT and a
    PATCH that deletes (DELETE/INSERT WHERE, DELETE DATA) are 403; a PUT creating a child 201; PATCHes that
    only add 204; a POST 201."""
    url = resource(server)
    read_append(server, url)
    plain = {"Content-Type": "text/plain"}
    sparql = {"Content-Type": "application/sparql-update"}
    dc = "prefix dc: <http://purl.org/dc/elements/1.1/> "
    assert requests.delete(url, auth=USER).status_code == 403
    assert requests.put(url, data=b"test", headers=plain, auth=USER).status_code == 403
    deleting = (
        dc + 'DELETE { <> dc:title ?o1 .} INSERT { <> dc:title "I made a change" .} WHERE { <> dc:title ?o1 .}',
        dc + 'DELETE DATA { <> dc:title "Some title" .}',
    )
    for update in deleting:
        assert requests.patch(url, data=update, headers=sparql, auth=USER).status_code == 403
    assert requests.put(url + "/child1", data=b"test", headers=plain, auth=USER).status_code == 201
    adding = (
        dc + 'DELETE { } INSERT { <> dc:title "I made a change" .} WHERE { }',
        dc + 'INSERT DATA { <> dc:title "I made a change" .}',
    )
    for update in adding:
        assert requests.patch(url, data=update, headers=sparql, auth=USER).status_code == 204
    assert requests.post(url, auth=USER).status_code == 201


def test_append_without_write_on_a_binary(server: ServerHandle) -> None:
    """5.7.3 (WebACModes.appendNotWriteLdpNr): with Read and Append on an LDP-NR, POST, PUT and DELETE of it
    and of its description are 403."""
    posted = requests.post(server.root, data=b"test image", headers={"Content-Type": "text/plain"}, auth=ADMIN)
    url = posted.headers["Location"]
    read_append(server, url)
    description = f"{url}/fcr:metadata"
    for target in (url, description):
        for method in ("POST", "PUT", "DELETE"):
            assert requests.request(method, target, auth=USER).status_code == 403, (method, target)


def child(server: ServerHandle, parent: str, name: str) -> str:
    response = requests.put(f"{parent}/{name}", headers=TURTLE, auth=ADMIN)
    assert response.status_code == 201
    return response.headers["Location"]


@pytest.mark.parametrize(
    ("test_id", "who"),
    [
        ("5.0-A", f"acl:agent <{WEBID}>"),
        ("5.0-B", f"acl:agent <http://example.com/anotheruser> ; acl:agent <{WEBID}>"),
        ("5.0-D", "acl:agentClass <http://xmlns.com/foaf/0.1/Agent>"),
        ("5.0-E", "acl:agentClass acl:AuthenticatedAgent"),
    ],
)
def test_agents_and_agent_classes(server: ServerHandle, test_id: str, who: str) -> None:
    """5.0-A, 5.0-B, 5.0-D, 5.0-E (WebACGeneral.agentSingle, agentDouble, agentClass, allAuthenticatedAgents):
    Read given to the user's WebID (alone or among others), to foaf:Agent, to acl:AuthenticatedAgent: GET 200."""
    url = resource(server)
    put_acl(url, f"<#restricted> a acl:Authorization ; {who} ; acl:mode acl:Read ; acl:accessTo <{url}> .\n")
    assert requests.get(url, auth=USER).status_code == 200, test_id


@pytest.mark.parametrize("hash_uri", [False, True])
def test_agent_groups(server: ServerHandle, hash_uri: bool) -> None:
    """5.0-C-1, 5.0-C-2, 5.2-C (WebACGeneral.agentGroup*, WebACRepresentation.dereferencingGroups): a vcard:Group
    listing the user (the document itself or a hash URI in it) named by acl:agentGroup: GET 200."""
    container = resource(server)
    group = f"{container}/agent-group"
    if hash_uri:
        listing = "<> a acl:GroupListing .\n<#group1> a <http://www.w3.org/2006/vcard/ns#Group> ; "
    else:
        listing = "<> a <http://www.w3.org/2006/vcard/ns#Group> ; "
    listing += f"<http://www.w3.org/2006/vcard/ns#hasMember> <{WEBID}> .\n"
    made = requests.put(group, data=(PREFIX + listing).encode(), headers=TURTLE, auth=ADMIN)
    assert made.status_code == 201
    url = child(server, container, "group-test")
    named = group + ("#group1" if hash_uri else "")
    put_acl(
        url,
        f"<#a> a acl:Authorization ; acl:accessTo <{url}> ; acl:mode acl:Read, acl:Write ; "
        f"acl:agentGroup <{named}> .\n",
    )
    assert requests.get(url, auth=USER).status_code == 200


def test_access_to_names_the_resource(server: ServerHandle) -> None:
    """5.0-F (WebACGeneral.resourceSingle): an ACL on a parent giving Read accessTo one child (acl:default the
    parent): that child 200, its sibling 403."""
    parent = resource(server)
    child1, child2 = child(server, parent, "child1"), child(server, parent, "child2")
    put_acl(
        parent,
        f"<#restricted> a acl:Authorization ; acl:agent <{WEBID}> ; acl:mode acl:Read ; "
        f"acl:default <{parent}> ; acl:accessTo <{child1}> .\n",
    )
    assert requests.get(child1, auth=USER).status_code == 200
    assert requests.get(child2, auth=USER).status_code == 403


def test_read_and_write_modes(server: ServerHandle) -> None:
    """5.0-G-1, 5.0-G-2, 5.0-H, 5.0-I, 5.0-J, 5.0-K, 5.0-L, 5.0-M-1..4 (WebACModes.*): Read gives HEAD and GET
    and nothing else (PUT of a child, POST, DELETE, PATCH 403); Read for another agent gives the user nothing;
    Read and Write give PUT of a child 201, POST 201, PATCH 204, DELETE 204."""
    plain = {"Content-Type": "text/plain"}
    patch = 'PREFIX dcterms: <http://purl.org/dc/terms/> INSERT { <> dcterms:description "Patch Updated" .} WHERE { }'
    sparql = {"Content-Type": "application/sparql-update"}
    url = resource(server)
    put_acl(url, authorization("restricted", url, "Read"))
    assert requests.head(url, auth=USER).status_code == 200
    assert requests.get(url, auth=USER).status_code == 200
    assert requests.put(url + "/child1", data=b"test", headers=plain, auth=USER).status_code == 403
    assert requests.post(url, data=b"test", auth=USER).status_code == 403
    assert requests.delete(url, auth=USER).status_code == 403
    assert requests.patch(url, data=patch, headers=sparql, auth=USER).status_code == 403
    other = resource(server)
    put_acl(other, authorization("restricted", other, "Read", agent=f"<not-{WEBID}>"))
    assert requests.get(other, auth=USER).status_code == 403
    writable = resource(server)
    put_acl(writable, authorization("restricted", writable, "Read", "Write"))
    assert requests.put(writable + "/child1", data=b"test", headers=plain, auth=USER).status_code == 201
    assert requests.post(writable, data=b"test", headers=plain, auth=USER).status_code == 201
    assert requests.patch(writable, data=patch, headers=sparql, auth=USER).status_code == 204
    assert requests.delete(writable, auth=USER).status_code == 204


def container(server: ServerHandle, parent: str, slug: str, body: str = "") -> str:
    """AbstractTest.createBasicContainer: the admin POSTs a basic container (Link type) with a Turtle body."""
    headers = {**TURTLE, "Slug": slug, "Link": '<http://www.w3.org/ns/ldp#BasicContainer>; rel="type"'}
    response = requests.post(parent, data=body.encode(), headers=headers, auth=ADMIN)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def test_acl_links_on_creation_are_refused_so_remote_acls_are_skipped(server: ServerHandle) -> None:
    """5.5-A, 5.5-B, 5.5-C (WebACCrossDomain.*): the suite first asks whether a client may name an ACL with
    Link rel="acl" (AbstractAuthzTest.isClientAclLinkingSupported: a PUT with it); Fedora 6 refuses that
    (CreateResourceServiceImpl.checkAclLinkHeader), so the three skip. A PUT of a new resource naming a remote
    ACL is 400 with constrainedBy; onto an existing container, the body without an RDF type is refused too."""
    remote = '<http://example.org/my-acl>; rel="acl"'
    new = requests.put(f"{server.url}/{uuid.uuid4().hex}", data=b"test body", headers={"Link": remote}, auth=ADMIN)
    assert new.status_code == 400
    assert any(i.get("rel") == "http://www.w3.org/ns/ldp#constrainedBy"
               for i in requests.utils.parse_header_links(new.headers["Link"]))
    existing = requests.put(resource(server), data=b"test body", headers={"Link": remote}, auth=ADMIN)
    assert 400 <= existing.status_code < 500


def test_remote_group_listings_are_taken_and_grant_nothing(server: ServerHandle) -> None:
    """5.6-A, 5.6-B, 5.6-C (WebACCrossDomain.*GroupList*): an ACL naming a group listing on another host
    (group-authorization.ttl) is stored, as Fedora 6 stores it (so the suite skips the three); its members are
    never fetched (WebACRolesProvider.dereferenceAgentGroups ignores out-of-domain groups): the user gets 403."""
    url = resource(server)
    body = (
        f"<#authorization> a acl:Authorization ; acl:accessTo <{url}> ; acl:mode acl:Read, acl:Write ; "
        "acl:agentGroup <http://example.org/group-list> .\n"
    )
    stored = requests.put(acl_of(url), data=(PREFIX + body).encode(), headers=TURTLE, auth=ADMIN)
    assert stored.status_code == 201
    assert requests.get(url, auth=USER).status_code == 403


@pytest.mark.parametrize("kind", ["container", "binary"])
def test_access_to_class(server: ServerHandle, kind: str) -> None:
    """5.8-A-1, 5.8-A-2, 5.8-B (WebACAccessToClass.*, user-read-only-access-to-class.ttl): Read to
    acl:accessToClass foaf:Document (acl:default the parent) gives nothing to a child until a PATCH types it
    foaf:Document (a binary through its description, whose types are the binary's): then GET 200. foaf:Image
    is no foaf:Document without inference (Fedora infers nothing: the suite skips 5.8-B)."""
    parent = resource(server)
    put_acl(parent, f"<#restricted> a acl:Authorization ; acl:agent <{WEBID}> ; acl:mode acl:Read ; "
                    f"acl:default <{parent}> ; acl:accessToClass <http://xmlns.com/foaf/0.1/Document> .\n")
    if kind == "container":
        url = container(server, parent, "child")
        described = url
    else:
        posted = requests.post(parent, data=b"test body", headers={"Content-Type": "text/plain"}, auth=ADMIN)
        url = posted.headers["Location"]
        head = requests.head(url, auth=ADMIN)
        described = next(i["url"] for i in requests.utils.parse_header_links(head.headers["Link"])
                         if i.get("rel") == "describedby")
    assert requests.get(url, auth=USER).status_code == 403
    sparql = {"Content-Type": "application/sparql-update"}
    image = ("PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> PREFIX foaf: <http://xmlns.com/foaf/0.1/> "
             "INSERT { <> rdf:type foaf:Image } WHERE {}")
    assert requests.patch(described, data=image, headers=sparql, auth=ADMIN).status_code == 204
    assert requests.get(url, auth=USER).status_code == 403  # 5.8-B: no inference
    document = image.replace("foaf:Image", "foaf:Document")
    assert requests.patch(described, data=document, headers=sparql, auth=ADMIN).status_code == 204
    assert requests.get(url, auth=USER).status_code == 200


def test_inheritance_follows_containment(server: ServerHandle) -> None:
    """5.9-A (WebACDefaultACLs.aclInheritanceMustUseLdpContainmentRelationships, user-read-write.ttl on the
    grandparent, user-read-only-no-default.ttl on the child, none on the grandchild; the suite's body has an
    @prefix without its dot): the user reads and POSTs to the grandparent, reads but may not POST to the child,
    and reads and POSTs to the grandchild, whose ACL is the grandparent's (the child's has no acl:default)."""
    body = '@prefix dc: <http://purl.org/dc/terms/> \n<> dc:title "Test".'
    grandparent = resource(server)
    put_acl(grandparent, f"<#restricted> a acl:Authorization ; acl:agent <{WEBID}> ; acl:mode acl:Read ; "
                         f"acl:mode acl:Write ; acl:default <{grandparent}> ; acl:accessTo <{grandparent}> .\n")
    child_url = container(server, grandparent, "child", body)
    put_acl(child_url, f"<#restricted> a acl:Authorization ; acl:agent <{WEBID}> ; acl:mode acl:Read ; "
                       f"acl:accessTo <{child_url}> .\n")
    grandchild = container(server, child_url, "grandchild", body)
    assert requests.get(grandparent, auth=USER).status_code == 200
    assert requests.post(grandparent, data=body.encode(), headers=TURTLE, auth=USER).status_code == 201
    assert requests.post(child_url, data=body.encode(), headers=TURTLE, auth=USER).status_code == 403
    assert requests.get(child_url, auth=USER).status_code == 200
    assert requests.get(grandchild, auth=USER).status_code == 200
    assert requests.post(grandchild, data=body.encode(), headers=TURTLE, auth=USER).status_code == 201


def test_the_root_acl_is_served_on_the_same_server(server: ServerHandle) -> None:
    """5.9-B, 5.9-C (WebACDefaultACLs.serverSuppliedDefaultAcl, defaultAclOnSameServer): the root's rel="acl"
    is on the root's host and port, and GETs 200 though no ACL was ever PUT there: Fedora 6 answers with the
    default root ACL (FedoraAcl.getResource); serve with the one it enforces (``--root-acl``, else none:
    an ACL granting nothing, as only admins may do anything then)."""
    acl = acl_of(server.root)
    root = requests.utils.urlparse(server.root)
    assert (requests.utils.urlparse(acl).hostname, requests.utils.urlparse(acl).port) == (root.hostname, root.port)
    got = requests.get(acl, headers={"Accept": "text/turtle"}, auth=ADMIN)
    assert got.status_code == 200, got.text


def test_append_and_control_modes(server: ServerHandle) -> None:
    """5.0-N, 5.0-O, 5.0-P, 5.0-Q, 5.0-R, 5.0-S, 5.0-T, 5.0-U, 5.0-V (WebACModes.append*, control*): with Read
    and Append a POST 201 and an INSERT-only PATCH 204, a DELETE-only PATCH 403; with Control alone the ACL
    GETs 200, takes a PATCH (204) and a PUT (then everyone reads the resource), while the resource itself is
    403 before; without Control (Read, or Read and Write) the ACL's GET, PATCH and a child's ACL PUT are 403."""
    sparql = {"Content-Type": "application/sparql-update"}
    url = resource(server)
    read_append(server, url)
    assert requests.post(url, data=b"test", auth=USER).status_code == 201
    insert = 'PREFIX dcterms: <http://purl.org/dc/terms/> INSERT { <> dcterms:description "Patch Updated" .} WHERE { }'
    assert requests.patch(url, data=insert, headers=sparql, auth=USER).status_code == 204
    delete = "PREFIX acl: <http://www.w3.org/ns/auth/acl#> DELETE { <#restricted> acl:mode acl:Read .} WHERE { }"
    assert requests.patch(url, data=delete, headers=sparql, auth=USER).status_code == 403

    controlled = resource(server)
    put_acl(controlled, authorization("restricted", controlled, "Control"))
    acl = acl_of(controlled)
    assert requests.get(acl, auth=USER).status_code == 200
    add_read = "PREFIX acl: <http://www.w3.org/ns/auth/acl#> INSERT { <#restricted> acl:mode acl:Read .} WHERE { }"
    assert requests.patch(acl, data=add_read, headers=sparql, auth=USER).status_code == 204
    other = resource(server)
    put_acl(other, authorization("restricted", other, "Control"))
    assert requests.get(other, auth=USER).status_code == 403
    open_access = (PREFIX + "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n <#openaccess> a acl:Authorization ; "
                   f"acl:mode acl:Read ;\n acl:agentClass foaf:Agent ; \n acl:accessTo <{other}> .")
    assert requests.put(acl_of(other), data=open_access.encode(), headers=TURTLE, auth=USER).status_code in (201, 204)
    assert requests.get(other, auth=USER).status_code == 200

    read_only = resource(server)
    put_acl(read_only, authorization("restricted", read_only, "Read"))
    assert requests.get(acl_of(read_only), auth=USER).status_code == 403
    assert requests.patch(acl_of(read_only), data=add_read, headers=sparql, auth=USER).status_code == 403
    writable = resource(server)
    put_acl(writable, authorization("restricted", writable, "Read", "Write"))
    made = requests.put(writable + "/child1", data=b"test", headers={"Content-Type": "text/plain"}, auth=USER)
    assert made.status_code == 201
    child_acl = acl_of(made.headers["Location"])
    body = PREFIX + authorization("restricted", made.headers["Location"], "Read", "Write")
    assert requests.put(child_acl, data=body.encode(), headers=TURTLE, auth=USER).status_code == 403
