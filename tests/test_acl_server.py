"""WebAC over a real ``fcrctl serve`` on 127.0.0.1: the permission matrix (modes x methods x
owner/other/anonymous/admin) checked against WebAC's rules written out here, ``fcrctl acl
effective`` agreeing with the server on every cell, fcr:acl itself, and the HTTP backend's ACL
calls (Fedora 5/6 WebAC against serve; Fedora 4 fcr:accessroles where only a mock can play it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import NotFound, Unsupported
from fcrctl.server.auth import add_user
from tests.server_fixture import ServerHandle, start_server

PW = "pw-for-tests"
ADMIN, OWNER, OTHER = ("root", PW), ("alice", PW), ("bob", PW)
TURTLE = {"Content-Type": "text/turtle"}
SPARQL = {"Content-Type": "application/sparql-update"}
MODES = ("Read", "Write", "Append", "Control")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "MOVE", "COPY", "ACL")
# WebAC as Fedora 6 applies it to an existing container /box, for an agent holding exactly one
# mode there (inherited by /box/child through acl:default); /dest grants the owner Write and Control.
NEEDS = {
    "GET": {"Read"}, "HEAD": {"Read"}, "POST": {"Write", "Append"}, "PUT": {"Write"},
    "PATCH": {"Write", "Append"},  # an INSERT DATA: Append suffices
    "DELETE": {"Write"}, "MOVE": {"Write"}, "COPY": {"Read"}, "ACL": {"Control"},
}
SUCCESS = {"GET": 200, "HEAD": 200, "POST": 201, "PUT": 204, "PATCH": 204, "DELETE": 204, "MOVE": 201,
           "COPY": 201, "ACL": 200}
CLI_KEY = {"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH:insert",
           "DELETE": "DELETE", "MOVE": "MOVE", "COPY": "COPY"}


def acl_body(url: str, agent: str, *modes: str, default: bool = True, extra: str = "") -> str:
    mode_list = ", ".join(f"acl:{m}" for m in modes)
    inherit = f"; acl:default <{url}>" if default else ""
    return (f"@prefix acl: <http://www.w3.org/ns/auth/acl#> .\n"
            f"<#a> a acl:Authorization; acl:agent \"{agent}\"; acl:mode {mode_list}; acl:accessTo <{url}>{inherit} .\n"
            + extra)


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users"
    add_user(path, "root", PW, admin=True)
    add_user(path, "alice", PW)
    add_user(path, "bob", PW)
    return path


@pytest.fixture
def server(tmp_path: Path, users: Path) -> Iterator[ServerHandle]:
    with start_server(tmp_path / "repo", auth_file=users, dialect="fedora6") as handle:
        yield handle


def reset(server: ServerHandle, mode: str) -> None:
    """/box (with /box/child) whose ACL gives the owner ``mode``; /dest where the owner may write."""
    url = server.url
    for path in ("/box", "/dest"):
        if requests.head(url + path, auth=ADMIN).status_code != 404:
            requests.delete(url + path, auth=ADMIN)
            requests.delete(url + path + "/fcr:tombstone", auth=ADMIN)
    for path in ("/box", "/box/child", "/dest"):
        assert requests.put(url + path, auth=ADMIN).status_code == 201
    put = requests.put(url + "/box/fcr:acl", data=acl_body(url + "/box", "alice", mode), headers=TURTLE, auth=ADMIN)
    assert put.status_code == 201, put.text
    # Control too: a MOVE/COPY of /box carries its ACL to /dest/box (test_copy_or_move_cannot_place_an_acl...)
    dest = requests.put(url + "/dest/fcr:acl", data=acl_body(url + "/dest", "alice", "Write", "Control"),
                        headers=TURTLE, auth=ADMIN)
    assert dest.status_code == 201


def attempt(server: ServerHandle, method: str, auth: tuple[str, str] | None) -> int:
    url = server.url + "/box"
    if method == "ACL":
        return requests.get(url + "/fcr:acl", auth=auth).status_code
    if method == "PUT":
        return requests.put(url, data="", headers=TURTLE, auth=auth).status_code
    if method == "POST":
        return requests.post(url, auth=auth).status_code
    if method == "PATCH":
        update = 'INSERT DATA { <> <http://purl.org/dc/terms/title> "t" }'
        return requests.patch(url, data=update, headers=SPARQL, auth=auth).status_code
    if method in ("MOVE", "COPY"):
        return requests.request(method, url, headers={"Destination": server.url + "/dest/box"}, auth=auth).status_code
    return requests.request(method, url, auth=auth).status_code


def cli_methods(server: ServerHandle, users: Path, agent: str) -> dict[str, bool]:
    assert server.repo is not None
    result = CliRunner().invoke(app, ["--repo", server.repo.location, "--json", "acl", "effective", "/box",
                                      "--agent", agent, "--auth-file", str(users), "--to", "/dest/box"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    methods = doc["agent"]["methods"]
    methods["ACL"] = "control" in doc["agent"]["modes"] or doc["agent"]["admin"]
    return methods


@pytest.mark.parametrize("mode", MODES)
def test_permission_matrix(server: ServerHandle, users: Path, mode: str) -> None:
    reset(server, mode)
    said = {who: cli_methods(server, users, agent) for who, agent in (("owner", "alice"), ("other", "bob"),
                                                                        ("admin", "root"))}
    cells = []
    for method in METHODS:
        for who, auth in (("owner", OWNER), ("other", OTHER), ("anonymous", None), ("admin", ADMIN)):
            if who == "anonymous":
                expected = 401
            elif who == "admin" or (who == "owner" and mode in NEEDS[method]):
                expected = SUCCESS[method]
            else:
                expected = 403
            if who != "anonymous":
                cells.append((method, who, "cli", said[who][CLI_KEY.get(method, "ACL")], expected != 403))
            got = attempt(server, method, auth)
            cells.append((method, who, "serve", got, expected))
            if got < 300 and method in ("DELETE", "MOVE", "COPY"):
                reset(server, mode)  # the tree changed: back to the state every cell starts from
    wrong = [c for c in cells if c[3] != c[4]]
    assert wrong == [], f"{mode}: (method, agent, who decided, got, expected): {wrong}"


def test_a_user_who_gives_up_control_cannot_take_it_back(server: ServerHandle) -> None:
    reset(server, "Control")
    url = server.url + "/box/fcr:acl"
    both = acl_body(server.url + "/box", "alice", "Read", "Control")
    assert requests.put(url, data=both, headers=TURTLE, auth=OWNER).status_code == 204
    # alice hands the ACL to bob and keeps Read only
    handed = acl_body(server.url + "/box", "alice", "Read", extra=f"<#b> a acl:Authorization; acl:agent \"bob\"; "
                      f"acl:mode acl:Control; acl:accessTo <{server.url}/box> .\n")
    assert requests.put(url, data=handed, headers=TURTLE, auth=OWNER).status_code == 204
    lockout = acl_body(server.url + "/box", "alice", "Read", "Write", "Control")
    assert requests.put(url, data=lockout, headers=TURTLE, auth=OWNER).status_code == 403
    assert requests.delete(url, auth=OWNER).status_code == 403
    insert = "INSERT DATA { <#x> <http://x/p> 1 }"
    assert requests.patch(url, data=insert, headers=SPARQL, auth=OWNER).status_code == 403
    assert requests.get(server.url + "/box", auth=OWNER).status_code == 200
    assert requests.get(url, auth=OTHER).status_code == 200
    # the admin can always repair it
    assert requests.put(url, data=lockout, headers=TURTLE, auth=ADMIN).status_code == 204
    assert requests.put(url, data=lockout, headers=TURTLE, auth=OWNER).status_code == 204


def test_an_acl_that_does_not_parse_is_refused_and_nothing_stored(server: ServerHandle) -> None:
    reset(server, "Control")
    url = server.url + "/box/fcr:acl"
    before = requests.get(url, auth=ADMIN, headers={"Accept": "application/n-triples"}).text
    for auth in (OWNER, ADMIN):
        bad = requests.put(url, data="@prefix acl: <http://www.w3.org/ns/auth/acl#> . <#a> acl:mode", headers=TURTLE,
                           auth=auth)
        assert bad.status_code == 400 and "malformed Turtle" in bad.text
    assert requests.get(url, auth=ADMIN, headers={"Accept": "application/n-triples"}).text == before
    fresh = requests.put(server.url + "/box/child/fcr:acl", data="<#a", headers=TURTLE, auth=ADMIN)
    assert fresh.status_code == 400
    assert requests.get(server.url + "/box/child/fcr:acl", auth=ADMIN).status_code == 404
    both = acl_body(server.url + "/box", "alice", "Read", extra="<#a> acl:accessToClass <http://x/T> .\n")
    assert requests.put(url, data=both, headers=TURTLE, auth=ADMIN).status_code == 409


def test_acl_endpoint_and_links(server: ServerHandle) -> None:
    reset(server, "Read")
    resp = requests.get(server.url + "/box/child", auth=ADMIN)
    assert f'<{server.url}/box/child/fcr:acl>; rel="acl"' in resp.headers["Link"]
    assert requests.get(server.url + "/box/child/fcr:acl", auth=ADMIN).status_code == 404
    assert requests.get(server.url + "/nothing/fcr:acl", auth=ADMIN).status_code == 404
    assert requests.head(server.url + "/box/fcr:acl", auth=ADMIN).status_code == 200
    update = 'INSERT DATA { <#a> <http://www.w3.org/ns/auth/acl#agent> "bob" }'
    assert requests.patch(server.url + "/box/fcr:acl", data=update, headers=SPARQL, auth=ADMIN).status_code == 204
    assert requests.get(server.url + "/box", auth=OTHER).status_code == 200
    assert requests.delete(server.url + "/box/fcr:acl", auth=ADMIN).status_code == 204
    assert requests.get(server.url + "/box", auth=OTHER).status_code == 403
    assert requests.get(server.url + "/box", auth=OWNER).status_code == 403  # back to the root default
    # the root's own ACL replaces the default for everything below that has none of its own
    root = acl_body(server.url + "/", "bob", "Read")
    assert requests.put(server.url + "/fcr:acl", data=root, headers=TURTLE, auth=ADMIN).status_code == 201
    assert requests.get(server.url + "/box/child", auth=OTHER).status_code == 200
    assert requests.get(server.url + "/box/child", auth=OWNER).status_code == 403


def test_embedded_children_and_deep_deletes_need_every_child(server: ServerHandle) -> None:
    reset(server, "Read")
    url = server.url
    embed = {"Prefer": 'return=representation; include="http://www.w3.org/ns/oa#PreferContainedDescriptions"'}
    assert requests.get(url + "/box", headers=embed, auth=OWNER).status_code == 200
    hidden = acl_body(url + "/box/child", "carol", "Read")
    assert requests.put(url + "/box/child/fcr:acl", data=hidden, headers=TURTLE, auth=ADMIN).status_code == 201
    assert requests.get(url + "/box", headers=embed, auth=OWNER).status_code == 403
    listing = requests.get(url + "/box", auth=OWNER, headers={"Accept": "application/n-triples"})
    assert listing.status_code == 200 and f"<{url}/box/child>" in listing.text  # as Fedora 6: listed anyway
    # DELETE needs Write on everything below
    writer = acl_body(url + "/box", "alice", "Write", "Read")
    assert requests.put(url + "/box/fcr:acl", data=writer, headers=TURTLE, auth=ADMIN).status_code == 204
    assert requests.delete(url + "/box", auth=OWNER).status_code == 403
    assert requests.delete(url + "/box/child/fcr:acl", auth=ADMIN).status_code == 204
    assert requests.delete(url + "/box", auth=OWNER).status_code == 204


def test_append_creates_and_inserts_but_cannot_delete_triples(server: ServerHandle) -> None:
    reset(server, "Append")
    url = server.url + "/box"
    assert requests.put(url + "/new", auth=OWNER).status_code == 201  # Append on the parent: create
    assert requests.put(url + "/child", data="", headers=TURTLE, auth=OWNER).status_code == 403  # replace: Write
    delete = 'DELETE DATA { <> <http://purl.org/dc/terms/title> "t" }'
    assert requests.patch(url, data=delete, headers=SPARQL, auth=OWNER).status_code == 403
    binary = requests.post(url, data=b"bytes", headers={"Content-Type": "application/octet-stream"}, auth=OWNER)
    assert binary.status_code == 201
    assert requests.post(binary.headers["Location"], auth=OWNER).status_code == 403  # never to a binary


def test_versions_fixity_and_transactions_follow_the_rules(server: ServerHandle) -> None:
    reset(server, "Read")
    url = server.url + "/box"
    assert requests.get(url + "/fcr:versions", auth=OWNER).status_code == 200
    assert requests.post(url + "/fcr:versions", auth=OWNER).status_code == 403
    assert requests.post(url + "/fcr:versions", auth=ADMIN).status_code in (201, 204)
    assert requests.get(url + "/fcr:versions", auth=OTHER).status_code == 403
    begin = requests.post(server.url + "/fcr:tx", auth=OWNER)
    assert begin.status_code == 201
    tx = {"Atomic-ID": begin.headers["Location"]}
    assert requests.put(url + "/in-tx", headers=tx, auth=OWNER).status_code == 403
    assert requests.get(url, headers=tx, auth=OWNER).status_code == 200
    assert requests.get(url, headers=tx, auth=OTHER).status_code in (403, 409, 410)  # not hers: denied either way


def test_http_backend_acl_calls_against_serve(server: ServerHandle, users: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    reset(server, "Read")
    monkeypatch.setenv("FCRCTL_PASSWORD", PW)
    runner = CliRunner()
    base = ["--repo", server.url, "--user", "root"]
    got = runner.invoke(app, [*base, "acl", "get", "/box", "--accept", "ntriples"])
    assert got.exit_code == 0 and f"<{server.url}/box/fcr:acl#a>" in got.stdout
    acl_file = tmp_path / "acl.ttl"
    acl_file.write_text(acl_body(server.url + "/box/child", "bob", "Read", "Write"))
    assert runner.invoke(app, [*base, "put", "/box/child/fcr:acl", "--file", str(acl_file)]).exit_code == 0
    assert requests.put(server.url + "/box/child", data="", headers=TURTLE, auth=OTHER).status_code == 204
    assert runner.invoke(app, [*base, "patch", "/box/child/fcr:acl", "-e",
                               'DELETE DATA { <#a> <http://www.w3.org/ns/auth/acl#mode> '
                               '<http://www.w3.org/ns/auth/acl#Write> }']).exit_code == 0
    assert requests.put(server.url + "/box/child", data="", headers=TURTLE, auth=OTHER).status_code == 403
    eff = runner.invoke(app, [*base, "--json", "acl", "effective", "/box/child", "--agent", "bob"])
    assert json.loads(eff.stdout)["agent"]["modes"] == ["read"]
    assert runner.invoke(app, [*base, "delete", "/box/child/fcr:acl"]).exit_code == 0
    assert runner.invoke(app, [*base, "acl", "get", "/box/child"]).exit_code == 4
    bad = tmp_path / "bad.ttl"
    bad.write_text("<#a")
    refused = runner.invoke(app, [*base, "acl", "set", "/box", "--file", str(bad)])
    assert refused.exit_code == 2 and "malformed Turtle" in refused.stderr
    monkeypatch.setenv("FCRCTL_PASSWORD", PW)
    denied = runner.invoke(app, ["--repo", server.url, "--user", "bob", "acl", "get", "/box"])
    assert denied.exit_code == 12


FEDORA4 = "http://fedora4.test/rest"


def _fedora4_root(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, FEDORA4 + "/", body="", headers={"Content-Type": "text/turtle"})
    rsps.add(responses.HEAD, FEDORA4 + "/", headers={"Link": '<http://www.w3.org/ns/ldp#BasicContainer>;rel="type"'})
    rsps.add(responses.HEAD, FEDORA4 + "/a", headers={"Link": '<http://www.w3.org/ns/ldp#BasicContainer>;rel="type"',
                                                      "Last-Modified": "Mon, 30 Nov 2020 04:42:18 GMT",
                                                      "ETag": 'W/"abc"'})


@responses.activate
def test_fedora_4_access_roles_map_onto_webac() -> None:
    from fcrctl import acl
    from fcrctl.repository import open_repository

    _fedora4_root(responses.mock)
    roles_url = FEDORA4 + "/a/fcr:accessroles"
    responses.add(responses.GET, roles_url, json={"alice": ["admin"], "bob": ["reader"]})
    responses.add(responses.POST, roles_url, status=201)
    responses.add(responses.DELETE, roles_url, status=204)
    repo = open_repository(FEDORA4)
    try:
        found = {next(iter(a.agents)): a.modes for a in acl.authorizations(repo.get_acl("/a"))}
        assert found == {"alice": {acl.READ, acl.WRITE, acl.APPEND, acl.CONTROL}, "bob": {acl.READ}}
        repo.patch_acl("/a", 'INSERT DATA { <#carol> a <http://www.w3.org/ns/auth/acl#Authorization>; '
                             '<http://www.w3.org/ns/auth/acl#agent> "carol"; '
                             '<http://www.w3.org/ns/auth/acl#mode> <http://www.w3.org/ns/auth/acl#Read> }')
        posted = json.loads(next(c for c in responses.calls if c.request.method == "POST").request.body)
        assert posted == {"alice": ["admin"], "bob": ["reader"], "carol": ["reader"]}
        repo.delete_acl("/a")
    finally:
        repo.close()


@responses.activate
def test_a_server_without_access_control_is_unsupported() -> None:
    from fcrctl.repository import open_repository

    _fedora4_root(responses.mock)
    responses.add(responses.GET, FEDORA4 + "/a/fcr:accessroles", status=404)
    responses.add(responses.GET, FEDORA4 + "/a", body="", headers={"Content-Type": "text/turtle",
                                                                    "Last-Modified": "Mon, 30 Nov 2020 04:42:18 GMT"})
    responses.add(responses.GET, FEDORA4 + "/b/fcr:accessroles", status=204)
    responses.add(responses.HEAD, FEDORA4 + "/b", headers={"Link": '<http://www.w3.org/ns/ldp#BasicContainer>;rel="type"'})
    repo = open_repository(FEDORA4)
    try:
        with pytest.raises(Unsupported, match="does not support access control"):
            repo.get_acl("/a")
        with pytest.raises(NotFound, match="no access roles"):
            repo.get_acl("/b")
    finally:
        repo.close()


def test_acl_bench_smoke(tmp_path: Path) -> None:
    import subprocess
    import sys

    bench = Path(__file__).resolve().parent.parent / "bench" / "http_ops.py"
    result = subprocess.run([sys.executable, str(bench), "--acls", "--smoke"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "worst server-CPU throughput on/off" in result.stdout


def test_creating_a_direct_container_needs_write_on_its_membership_resource(server: ServerHandle) -> None:
    reset(server, "Append")
    direct = {"Content-Type": "text/turtle", "Link": '<http://www.w3.org/ns/ldp#DirectContainer>; rel="type"'}

    def body(target: str) -> str:
        return (f"<> <http://www.w3.org/ns/ldp#membershipResource> <{server.url}{target}> ; "
                f"<http://www.w3.org/ns/ldp#hasMemberRelation> <http://pcdm.org/models#hasMember> .")

    for target in ("/", "/box/child"):  # the owner may not write there
        assert requests.post(server.url + "/box", data=body(target), headers=direct, auth=OWNER).status_code == 403
        assert requests.put(server.url + "/box/d", data=body(target), headers=direct, auth=OWNER).status_code == 403
    assert requests.post(server.url + "/box", data=body("/dest"), headers=direct, auth=OWNER).status_code == 201
    assert requests.put(server.url + "/box/d", data=body("/dest"), headers=direct, auth=OWNER).status_code == 201
    # and writing into it later needs Write there as well
    reader = acl_body(server.url + "/dest", "alice", "Read")
    assert requests.put(server.url + "/dest/fcr:acl", data=reader, headers=TURTLE, auth=ADMIN).status_code == 204
    assert requests.post(server.url + "/box/d", auth=OWNER).status_code == 403


def test_bad_requests_on_fcr_acl_change_nothing(server: ServerHandle, tmp_path: Path) -> None:
    reset(server, "Control")
    url = server.url + "/box/fcr:acl"
    before = requests.get(url, auth=ADMIN, headers={"Accept": "application/n-triples"}).text
    plain = requests.put(url, data="x", headers={"Content-Type": "text/plain"}, auth=OWNER)
    assert plain.status_code == 400  # Fedora 6's FedoraAcl: BadRequestException
    assert requests.patch(url, data="INSERT DATA { <#a> ", headers=SPARQL, auth=OWNER).status_code == 400
    assert requests.patch(url, data="INSERT DATA {}", headers=TURTLE, auth=OWNER).status_code == 415
    assert requests.get(url, auth=ADMIN, headers={"Accept": "application/n-triples"}).text == before
    assert requests.put(server.url + "/missing/fcr:acl", data="", headers=TURTLE, auth=ADMIN).status_code == 404
    assert requests.delete(server.url + "/box/child", auth=ADMIN).status_code == 204
    assert requests.get(server.url + "/box/child/fcr:acl", auth=ADMIN).status_code == 410
    assert requests.get(url, auth=ADMIN, headers={"Accept": "image/png"}).status_code == 406
    # serve refuses to start on a root ACL that does not parse
    bad = tmp_path / "root.ttl"
    bad.write_text("<#a> acl:mode")
    result = CliRunner().invoke(app, ["--repo", str(tmp_path / "r"), "serve", "--root-acl", str(bad), "--port", "0"])
    assert result.exit_code == 2 and "malformed Turtle" in result.stderr
def test_the_html_view_shows_no_more_of_a_child_than_ldp_contains(server: ServerHandle) -> None:
    # the child's URL is in ldp:contains for whoever reads the container; its file name and size
    # are in its description, which this user may not read
    url = server.url
    assert requests.put(url + "/box", auth=ADMIN).status_code == 201
    put = requests.put(url + "/box/fcr:acl", data=acl_body(url + "/box", "alice", "Read", default=False),
                       headers=TURTLE, auth=ADMIN)
    assert put.status_code == 201
    assert requests.put(url + "/box/report", data=b"x" * 12345, auth=ADMIN, headers={
        "Content-Type": "application/pdf", "Content-Disposition": 'attachment; filename="layoffs-2027.pdf"'},
    ).status_code == 201
    assert requests.get(url + "/box/report/fcr:metadata", auth=OWNER).status_code == 403
    page = requests.get(url + "/box", headers={"Accept": "text/html"}, auth=OWNER)
    assert page.status_code == 200 and "/box/report" in page.text
    assert "layoffs" not in page.text and "12345" not in page.text
    assert "layoffs-2027.pdf" in requests.get(url + "/box", headers={"Accept": "text/html"}, auth=ADMIN).text


@responses.activate
@pytest.mark.parametrize("elsewhere", ["http://attacker.test/steal", "http://169.254.169.254/latest/meta-data/",
                                       "file:///etc/passwd", "http://fedora4.test/restricted/fcr:acl"])
def test_an_acl_link_off_the_repository_is_never_followed(elsewhere: str) -> None:
    # the session carries the user's credentials: a server naming another host as a resource's
    # ACL must not get them sent there (nor make fcrctl fetch, or PUT an ACL to, what it names)
    from rdflib import Graph

    from fcrctl.errors import CorruptData
    from fcrctl.repository import open_repository

    _fedora4_root(responses.mock)
    responses.replace(responses.HEAD, FEDORA4 + "/a", headers={
        "Link": f'<http://www.w3.org/ns/ldp#BasicContainer>;rel="type", <{elsewhere}>;rel="acl"'})
    if elsewhere.startswith("http"):
        for method in (responses.GET, responses.PUT, responses.PATCH, responses.DELETE, responses.HEAD):
            responses.add(method, elsewhere, body="<#a> <http://www.w3.org/ns/auth/acl#mode> <x:y> .",
                          headers={"Content-Type": "text/turtle"})
    repo = open_repository(FEDORA4)
    try:
        for call in (lambda: repo.get_acl("/a"), lambda: repo.put_acl("/a", Graph()),
                     lambda: repo.delete_acl("/a")):
            with pytest.raises(CorruptData, match="not under"):  # noqa: PT012
                call()
    finally:
        repo.close()
    assert not [c for c in responses.calls if not c.request.url.startswith(FEDORA4 + "/")]


@responses.activate
def test_a_describedby_link_off_the_repository_is_never_followed() -> None:
    from fcrctl.errors import CorruptData
    from fcrctl.repository import open_repository

    _fedora4_root(responses.mock)
    responses.replace(responses.HEAD, FEDORA4 + "/a", headers={
        "Link": '<http://www.w3.org/ns/ldp#NonRDFSource>;rel="type", <http://attacker.test/desc>;rel="describedby"',
        "Last-Modified": "Mon, 30 Nov 2020 04:42:18 GMT", "ETag": 'W/"abc"', "Content-Type": "text/plain"})
    for method in (responses.GET, responses.PATCH, responses.HEAD):
        responses.add(method, "http://attacker.test/desc", body="", headers={"Content-Type": "text/turtle"})
    repo = open_repository(FEDORA4)
    try:
        with pytest.raises(CorruptData, match="not under"):
            repo.get_rdf("/a")
        with pytest.raises(CorruptData, match="not under"):
            repo.patch("/a", "INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> \"x\" }")
    finally:
        repo.close()
    assert not [c for c in responses.calls if "attacker" in c.request.url]


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_or_move_cannot_place_an_acl_where_the_user_has_no_control(server: ServerHandle, method: str) -> None:
    # alice controls /mine but only writes /box: carrying /mine's ACL (or one below it) into /box
    # would be creating an ACL there, which needs Control there
    url = server.url
    for path in ("/box", "/mine", "/mine/sub"):
        assert requests.put(url + path, auth=ADMIN).status_code == 201
    assert requests.put(url + "/box/fcr:acl", data=acl_body(url + "/box", "alice", "Read", "Write"),
                        headers=TURTLE, auth=ADMIN).status_code == 201
    assert requests.put(url + "/mine/fcr:acl", data=acl_body(url + "/mine", "alice", "Read", "Write", "Control"),
                        headers=TURTLE, auth=ADMIN).status_code == 201
    assert requests.put(url + "/mine/sub/fcr:acl", data=acl_body(url + "/mine/sub", "alice", "Read", "Write"),
                        headers=TURTLE, auth=OWNER).status_code == 201
    for source in ("/mine", "/mine/sub"):
        moved = requests.request(method, url + source, headers={"Destination": url + "/box/x"}, auth=OWNER)
        assert moved.status_code == 403, moved.text
        assert requests.head(url + "/box/x", auth=ADMIN).status_code == 404
    plain = requests.put(url + "/mine/plain", auth=OWNER)  # no ACL of its own: copying it is a plain create
    assert plain.status_code == 201
    assert requests.request(method, url + "/mine/plain", headers={"Destination": url + "/box/y"},
                            auth=OWNER).status_code == 201
    admin = requests.request(method, url + "/mine", headers={"Destination": url + "/box/z"}, auth=ADMIN)
    assert admin.status_code == 201


@responses.activate
def test_access_roles_nested_beyond_reason_are_refused_cleanly() -> None:
    from fcrctl.errors import BadInput
    from fcrctl.repository import open_repository

    _fedora4_root(responses.mock)
    responses.add(responses.GET, FEDORA4 + "/a/fcr:accessroles", body="[" * 100_000 + "]" * 100_000,
                  headers={"Content-Type": "application/json"})
    repo = open_repository(FEDORA4)
    try:
        with pytest.raises(BadInput, match="not JSON"):
            repo.get_acl("/a")
    finally:
        repo.close()
