"""Issue 20 item 7: with --auth-file a transaction belongs to the user who began it (admins
excepted): nobody else may list it, read through it, write into it, keep it alive, commit it or
roll it back. Both styles (URL /tx:ID and Fedora 6's Atomic-ID) in both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fcrctl.acl import Policy
from tests.security.conftest import session_of
from tests.server_fixture import ServerHandle, start_server

TURTLE = {"Content-Type": "text/turtle"}
BODY = '<> <http://purl.org/dc/elements/1.1/title> "uncommitted" .'


# every signed-in user may do anything (access control is not what these tests are about)
EVERYONE_MAY = b"""
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#all> a acl:Authorization ; acl:agentClass acl:AuthenticatedAgent ;
    acl:mode acl:Read, acl:Write, acl:Append, acl:Control ;
    acl:accessTo <info:fedora> ; acl:default <info:fedora> .
"""


@pytest.fixture
def server(tmp_path: Path, dialect: str, auth_file: str) -> Iterator[ServerHandle]:
    policy = Policy.from_root_acl(EVERYONE_MAY)
    with start_server(tmp_path / "repo", dialect=dialect, auth_file=auth_file, policy=policy) as handle:
        yield handle


def begin(server: ServerHandle, user: str) -> tuple[str, str]:
    """(transaction id, its URL) begun by ``user``."""
    resp = session_of(user).post(server.url + "/fcr:tx", timeout=10)
    assert resp.status_code == 201, resp.text
    location = resp.headers["Location"]
    return location.rstrip("/").rsplit("/", 1)[-1].removeprefix("tx:"), location


def inside(server: ServerHandle, tx_id: str, style: str, path: str) -> tuple[str, dict[str, str]]:
    if style == "url":
        return f"{server.url}/tx:{tx_id}{path}", {}
    return server.url + path, {"Atomic-ID": f"{server.url}/fcr:tx/{tx_id}"}


@pytest.mark.parametrize("style", ["url", "atomic"])
def test_another_user_cannot_touch_a_transaction(server: ServerHandle, style: str) -> None:
    tx_id, _ = begin(server, "alice")
    alice, bob = session_of("alice"), session_of("bob")
    url, headers = inside(server, tx_id, style, "/draft")
    assert alice.put(url, data=BODY, headers={**TURTLE, **headers}, timeout=10).status_code == 201

    assert bob.get(url, headers=headers, timeout=10).status_code == 410  # read its uncommitted changes
    wrote = bob.put(inside(server, tx_id, style, "/bobs")[0], data=BODY,
                    headers={**TURTLE, **inside(server, tx_id, style, "/bobs")[1]}, timeout=10)
    assert wrote.status_code == 410  # write into it
    assert tx_id not in bob.get(server.url + "/fcr:tx", timeout=10).text  # list it
    for method, target in [
        ("GET", f"{server.url}/fcr:tx/{tx_id}"),  # status, Fedora 6 style
        ("GET", f"{server.url}/tx:{tx_id}/fcr:tx"),  # status, URL style
        ("POST", f"{server.url}/fcr:tx/{tx_id}"),  # keep alive
        ("PUT", f"{server.url}/fcr:tx/{tx_id}"),  # commit
        ("POST", f"{server.url}/tx:{tx_id}/fcr:tx/fcr:commit"),
        ("DELETE", f"{server.url}/fcr:tx/{tx_id}"),  # roll back
        ("POST", f"{server.url}/tx:{tx_id}/fcr:tx/fcr:rollback"),
        ("PUT", f"{server.url}/fcr:tx/{tx_id.upper()}"),  # case of the id
    ]:
        assert bob.request(method, target, timeout=10).status_code == 410, (method, target)

    # nothing of bob's got in, alice's transaction is intact and still hers
    assert tx_id in alice.get(server.url + "/fcr:tx", timeout=10).text
    assert alice.put(f"{server.url}/fcr:tx/{tx_id}", timeout=10).status_code == 204
    assert alice.get(server.url + "/draft", timeout=10).status_code == 200
    assert alice.get(server.url + "/bobs", timeout=10).status_code == 404


def test_the_owner_and_admins_may(server: ServerHandle) -> None:
    tx_id, _ = begin(server, "alice")
    root = session_of("root")
    assert tx_id in root.get(server.url + "/fcr:tx", timeout=10).text
    assert root.get(f"{server.url}/fcr:tx/{tx_id}", timeout=10).status_code == 200
    assert root.delete(f"{server.url}/fcr:tx/{tx_id}", timeout=10).status_code == 204
    mine, _ = begin(server, "bob")
    assert session_of("bob").post(f"{server.url}/tx:{mine}/fcr:tx/fcr:rollback", timeout=10).status_code == 204


def test_without_auth_transactions_are_shared(tmp_path: Path, dialect: str) -> None:
    """No --auth-file: every client is the operator (loopback only by default)."""
    with start_server(tmp_path / "repo", dialect=dialect) as server:
        made = requests.post(server.url + "/fcr:tx", timeout=10)
        tx_id = made.headers["Location"].rstrip("/").rsplit("/", 1)[-1].removeprefix("tx:")
        assert requests.put(f"{server.url}/fcr:tx/{tx_id}", timeout=10).status_code == 204
