"""fcr:acl of the root as Fedora 5.1 and 6 serve it (``FedoraAcl``), against a real ``fcrctl serve``: without an
ACL of its own the root answers GET with the default root ACL the server enforces, and PATCH or DELETE of that
default with 409; a PUT takes a body without Content-Type as Turtle, and refuses a non-RDF type (400 in the
fedora5/fedora6 dialects, 415 in fedora4, which had no fcr:acl)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph, URIRef

from fcrctl.acl.policy import Policy
from fcrctl.server.auth import add_user
from tests.server_fixture import ServerHandle, start_server

PW = "pw-for-tests"
ADMIN, USER = ("root", PW), ("bob", PW)
ACL = "http://www.w3.org/ns/auth/acl#"
WEBAC_ACL = "http://fedora.info/definitions/v4/webac#Acl"
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
# Fedora 6's fcrepo-http-api root-authorization.ttl, in substance: everyone reads
ROOT_ACL = b"""@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<info:fedora/fcr:acl#authz> a acl:Authorization ; acl:agentClass foaf:Agent ; acl:mode acl:Read ;
   acl:accessTo <info:fedora> ; acl:default <info:fedora> .
"""


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users"
    add_user(path, "root", PW, admin=True)
    add_user(path, "bob", PW)
    return path


def serve(tmp_path: Path, users: Path, dialect: str, root_acl: bytes | None) -> ServerHandle:
    return start_server(tmp_path / "repo", auth_file=users, dialect=dialect, policy=Policy.from_root_acl(root_acl))


def graph_of(response: requests.Response) -> Graph:
    return Graph().parse(data=response.text, format="turtle")


@pytest.fixture(params=["fedora5", "fedora6"])
def server(request: pytest.FixtureRequest, tmp_path: Path, users: Path) -> Iterator[ServerHandle]:
    with serve(tmp_path, users, request.param, ROOT_ACL) as handle:
        yield handle


def test_the_root_acl_is_the_default_until_one_is_put(server: ServerHandle) -> None:
    url = server.url + "/fcr:acl"
    got = requests.get(url, headers={"Accept": "text/turtle"}, auth=ADMIN)
    assert got.status_code == 200, got.text
    graph = graph_of(got)
    assert (URIRef(url), RDF_TYPE, URIRef(WEBAC_ACL)) in graph
    authz = URIRef(url + "#authz")
    assert (authz, URIRef(ACL + "agentClass"), URIRef("http://xmlns.com/foaf/0.1/Agent")) in graph
    assert (authz, URIRef(ACL + "accessTo"), URIRef(server.root)) in graph
    # the default cannot be changed in place: 409, and nothing was stored
    sparql = {"Content-Type": "application/sparql-update"}
    patched = requests.patch(url, data=f"INSERT DATA {{ <#authz> <{ACL}mode> <{ACL}Write> }}", headers=sparql,
                             auth=ADMIN)
    assert patched.status_code == 409 and "PUT" in patched.text
    assert requests.delete(url, auth=ADMIN).status_code == 409
    assert set(graph_of(requests.get(url, auth=ADMIN))) == set(graph)
    # a PUT without Content-Type is Turtle (FedoraAcl's default); then it is the root's own, deletable
    own = b"<#mine> a <http://www.w3.org/ns/auth/acl#Authorization> ; <http://www.w3.org/ns/auth/acl#agent> \"bob\" ."
    assert requests.put(url, data=own, auth=ADMIN).status_code == 201
    assert (URIRef(url + "#mine"), RDF_TYPE, URIRef(ACL + "Authorization")) in graph_of(requests.get(url, auth=ADMIN))
    assert requests.delete(url, auth=ADMIN).status_code == 204
    assert (URIRef(url + "#authz"), RDF_TYPE, URIRef(ACL + "Authorization")) in graph_of(requests.get(url, auth=ADMIN))


def test_a_child_without_an_acl_is_still_404(server: ServerHandle) -> None:
    assert requests.put(server.url + "/c", auth=ADMIN).status_code == 201
    assert requests.get(server.url + "/c/fcr:acl", auth=ADMIN).status_code == 404
    assert requests.delete(server.url + "/c/fcr:acl", auth=ADMIN).status_code == 404


def test_without_a_root_acl_the_default_grants_nothing(tmp_path: Path, users: Path) -> None:
    with serve(tmp_path, users, "fedora6", None) as handle:
        got = requests.get(handle.url + "/fcr:acl", auth=ADMIN)
        assert got.status_code == 200
        graph = graph_of(got)
        assert list(graph.subjects(RDF_TYPE, URIRef(ACL + "Authorization"))) == []
        assert (URIRef(handle.url + "/fcr:acl"), RDF_TYPE, URIRef(WEBAC_ACL)) in graph
        assert requests.get(handle.root, auth=USER).status_code == 403


@pytest.mark.parametrize(("dialect", "status"), [("fedora4", 415), ("fedora5", 400), ("fedora6", 400)])
def test_put_of_a_non_rdf_acl(tmp_path: Path, users: Path, dialect: str, status: int) -> None:
    with serve(tmp_path, users, dialect, None) as handle:
        assert requests.put(handle.url + "/c", auth=ADMIN).status_code == 201
        put = requests.put(handle.url + "/c/fcr:acl", data=b"x", headers={"Content-Type": "text/plain"}, auth=ADMIN)
        assert put.status_code == status
        assert requests.get(handle.url + "/c/fcr:acl", auth=ADMIN).status_code == 404
