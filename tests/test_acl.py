"""ACLs: the WebAC rules of fcrctl/acl.py, the local backend's Fedora 6 storage of ACLs, and
the ACLs real Fedora installs wrote (a Fedora 6 OCFL object, a Fedora 4.7.5 export)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rdflib import Graph, URIRef

from fcrctl import acl, rdf
from fcrctl.errors import BadInput, Conflict, Gone, NotFound
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import LocalRepository, ocfl
from tests.test_local_fixtures import build_repository

FIXTURES = Path(__file__).parent / "fixtures"
ACL_NS = "http://www.w3.org/ns/auth/acl#"
PREFIXES = "@prefix acl: <http://www.w3.org/ns/auth/acl#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"


def acl_graph(path: str, body: str) -> Graph:
    return rdf.parse(PREFIXES + body, "text/turtle", base=acl.acl_id_of(path))


@pytest.fixture
def repo(where: Path) -> LocalRepository:
    r = LocalRepository.open(str(where))
    yield r
    r.close()


def modes(policy: acl.Policy, repo: LocalRepository, path: str, user: str | None, **kw: bool) -> set[str]:
    return {acl.MODE_NAMES[m] for m in policy.modes(repo, path, user, cached=False, **kw)}


# -- storage ----------------------------------------------------------------------------------------


def test_acl_is_stored_as_fedora_6_stores_it(repo: LocalRepository, where: Path) -> None:
    repo.create("/c", ResourceSpec())
    repo.create("/c/bin", ResourceSpec(content=io.BytesIO(b"x")))
    read = '<#a> a acl:Authorization; acl:agent "{}"; acl:mode acl:Read .'
    info, created = repo.put_acl("/c", acl_graph("/c", read.format("alice")))
    assert created and info.path == "/c/fcr:acl" and info.model == acl.WEBAC_ACL
    _info, created = repo.put_acl("/c", acl_graph("/c", read.format("bob")))
    assert not created
    repo.put_acl("/c/bin", acl_graph("/c/bin", '<#b> a acl:Authorization; acl:agent "bob"; acl:mode acl:Read .'))
    obj = where / "ocfl-root" / ocfl.object_rel("info:fedora/c")
    inventory = ocfl.read_inventory(obj)
    state = ocfl.state_files(inventory)
    assert {".fcrepo/fcr-root~fcr-acl.json", "fcr-container~fcr-acl.nt"} <= set(state)
    headers = json.loads((obj / state[".fcrepo/fcr-root~fcr-acl.json"]).read_bytes())
    assert headers["id"] == "info:fedora/c/fcr:acl" and headers["interactionModel"] == acl.WEBAC_ACL
    assert headers["contentPath"] == "fcr-container~fcr-acl.nt" and headers["parent"] == "info:fedora/c"
    content = (obj / state["fcr-container~fcr-acl.nt"]).read_bytes()
    assert headers["contentSize"] == len(content) and b'"bob"' in content and b'"alice"' not in content
    # the ACL history is the object's: the first ACL is still in v2
    assert len(inventory["versions"]) == 3
    binary_state = ocfl.state_files(ocfl.read_inventory(where / "ocfl-root" / ocfl.object_rel("info:fedora/c/bin")))
    assert "bin~fcr-acl.nt" in binary_state and ".fcrepo/fcr-root~fcr-acl.json" in binary_state
    # a rebuilt index finds them again
    repo.reindex()
    agents = {a.agents for a in acl.authorizations(repo.get_acl("/c/bin"))}
    assert agents == {frozenset({"bob"})}
    assert list(repo.check()) == []


def test_get_acl_errors_and_delete(repo: LocalRepository) -> None:
    repo.create("/c", ResourceSpec())
    with pytest.raises(NotFound, match="no ACL of its own"):
        repo.get_acl("/c")
    with pytest.raises(NotFound):
        repo.get_acl("/missing")
    with pytest.raises(NotFound):
        repo.delete_acl("/c")
    with pytest.raises(NotFound):
        repo.patch_acl("/c", "INSERT DATA { <#a> <http://example.org/p> 1 }")
    repo.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "a"; acl:mode acl:Read .'))
    repo.patch_acl("/c", 'INSERT DATA { <#a> <http://www.w3.org/ns/auth/acl#agent> "b" }')
    assert {a.agents for a in acl.authorizations(repo.get_acl("/c"))} == {frozenset({"a", "b"})}
    repo.delete_acl("/c")
    with pytest.raises(NotFound):
        repo.get_acl("/c")
    repo.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "a"; acl:mode acl:Read .'))
    repo.delete("/c")
    with pytest.raises(Gone):
        repo.get_acl("/c")
    repo.purge("/c")
    repo.create("/c", ResourceSpec())
    with pytest.raises(NotFound):  # a deleted resource's ACL went with it
        repo.get_acl("/c")


def test_an_authorization_with_neither_target_gets_the_resource_and_both_are_refused(repo: LocalRepository) -> None:
    repo.create("/c", ResourceSpec())
    repo.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "a"; acl:mode acl:Read .'))
    (auth,) = acl.authorizations(repo.get_acl("/c"))
    assert auth.access_to == {"info:fedora/c"}
    before = repo.get_acl("/c")
    both = '<#a> a acl:Authorization; acl:mode acl:Read; acl:accessTo </c>; acl:accessToClass <http://x/T> .'
    with pytest.raises(Conflict, match="both acl:accessTo and acl:accessToClass"):
        repo.put_acl("/c", acl_graph("/c", both))
    assert set(repo.get_acl("/c")) == set(before)


def test_move_and_copy_carry_the_acl_and_versions_keep_its_history(repo: LocalRepository) -> None:
    repo.create("/c", ResourceSpec())
    repo.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "a"; acl:mode acl:Read; '
                                       'acl:accessTo </c>; acl:default </c> .'))
    v = repo.create_version("/c")
    repo.delete_acl("/c")
    repo.revert("/c", v.id)
    assert acl.authorizations(repo.get_acl("/c"))[0].access_to == {"info:fedora/c"}
    repo.copy("/c", "/d")
    (copied,) = acl.authorizations(repo.get_acl("/d"))
    assert copied.id == "info:fedora/d/fcr:acl#a" and copied.access_to == {"info:fedora/d"}
    repo.move("/d", "/e")
    assert acl.authorizations(repo.get_acl("/e"))[0].default == {"info:fedora/e"}


def test_check_reports_a_damaged_acl(repo: LocalRepository, where: Path) -> None:
    repo.create("/c", ResourceSpec())
    repo.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "a"; acl:mode acl:Read .'))
    obj = where / "ocfl-root" / ocfl.object_rel("info:fedora/c")
    inventory = ocfl.read_inventory(obj)
    content = obj / ocfl.state_files(inventory)["fcr-container~fcr-acl.nt"]
    content.chmod(0o644)
    content.write_bytes(b"<not n-triples")
    problems = [p.message for p in repo.check()]
    assert any("is not N-Triples" in m for m in problems)
    assert any("bytes, its headers say" in m for m in problems)


# -- the rules ----------------------------------------------------------------------------------------


def test_three_levels_of_inheritance(repo: LocalRepository) -> None:
    repo.create("/a/b/c/d", ResourceSpec(), parents=True)
    policy = acl.Policy()
    assert modes(policy, repo, "/a/b/c/d", "alice") == set()  # the default: admins only
    repo.put_acl("/a", acl_graph("/a", '<#r> a acl:Authorization; acl:agent "alice"; acl:mode acl:Read; '
                                       'acl:accessTo </a>; acl:default </a> .\n'
                                       '<#w> a acl:Authorization; acl:agent "bob"; acl:mode acl:Write; '
                                       'acl:accessTo </a> .'))
    assert modes(policy, repo, "/a/b/c/d", "alice") == {"read"}
    assert modes(policy, repo, "/a/b/c/d", "bob") == set()  # not acl:default: not inherited
    assert modes(policy, repo, "/a", "bob") == {"write"}
    # an ACL without acl:default in between is skipped, as Fedora skips it
    repo.put_acl("/a/b", acl_graph("/a/b", '<#x> a acl:Authorization; acl:agent "carol"; acl:mode acl:Read .'))
    assert modes(policy, repo, "/a/b/c", "alice") == {"read"}
    assert modes(policy, repo, "/a/b", "alice") == set()  # its own ACL governs /a/b
    repo.put_acl("/a/b/c", acl_graph("/a/b/c", '<#y> a acl:Authorization; acl:agent "dave"; acl:mode acl:Append; '
                                             'acl:default </a/b/c> .'))
    eff = policy.effective(repo, "/a/b/c/d", cached=False)
    assert eff.path == "/a/b/c" and eff.inherited
    assert modes(policy, repo, "/a/b/c/d", "alice") == set()
    assert modes(policy, repo, "/a/b/c/d", "dave") == {"append"}


def test_agent_classes_groups_and_the_user_base_uri(repo: LocalRepository) -> None:
    repo.create("/groups", ResourceSpec())
    repo.create("/groups/editors", ResourceSpec(graph=rdf.parse(
        '@prefix vcard: <http://www.w3.org/2006/vcard/ns#> . <#g> a vcard:Group; vcard:hasMember "erin", '
        '<http://users.example/frank> .', "text/turtle", base="info:fedora/groups/editors")))
    repo.create("/r", ResourceSpec())
    repo.put_acl("/r", acl_graph("/r", """
        <#everyone> a acl:Authorization; acl:agentClass foaf:Agent; acl:mode acl:Read; acl:accessTo </r> .
        <#signed> a acl:Authorization; acl:agentClass acl:AuthenticatedAgent; acl:mode acl:Append; acl:accessTo </r> .
        <#editors> a acl:Authorization; acl:agentGroup </groups/editors#g>; acl:mode acl:Write; acl:accessTo </r> .
        <#uri> a acl:Authorization; acl:agent <http://users.example/gina>; acl:mode acl:Control; acl:accessTo </r> .
        """))
    policy = acl.Policy(user_base_uri="http://users.example/")
    assert modes(policy, repo, "/r", None) == {"read"}
    assert modes(policy, repo, "/r", "zoe") == {"read", "append"}
    assert modes(policy, repo, "/r", "erin") == {"read", "append", "write"}
    assert modes(policy, repo, "/r", "frank") == {"read", "append", "write"}
    assert modes(policy, repo, "/r", "gina") == {"read", "append", "control"}
    assert "control" not in modes(acl.Policy(), repo, "/r", "gina")  # without the base URI: the URI only


def test_access_to_class(repo: LocalRepository) -> None:
    typed = rdf.parse('<> a <http://pcdm.org/models#Object> .', "text/turtle", base="info:fedora/c/obj")
    repo.create("/c/obj", ResourceSpec(graph=typed), parents=True)
    repo.create("/c/plain", ResourceSpec())
    repo.put_acl("/c", acl_graph("/c", '<#t> a acl:Authorization; acl:agent "alice"; acl:mode acl:Read; '
                                       'acl:accessToClass <http://pcdm.org/models#Object>; acl:default </c> .'))
    policy = acl.Policy()
    assert modes(policy, repo, "/c/obj", "alice") == {"read"}
    assert modes(policy, repo, "/c/plain", "alice") == set()
    assert modes(policy, repo, "/c", "alice") == set()


def test_root_default_and_resources_about_to_be_created(repo: LocalRepository, tmp_path: Path) -> None:
    repo.create("/c", ResourceSpec())
    root = (PREFIXES + '<info:fedora/fcr:acl#authz> acl:agentClass foaf:Agent; acl:mode acl:Read; '
            'acl:accessTo <info:fedora>; acl:default <info:fedora> .').encode()
    policy = acl.Policy.from_root_acl(root)
    assert modes(policy, repo, "/c", "anyone") == {"read"}
    assert policy.effective(repo, "/c").path is None
    # PUT creating /c/new: its parent's ACL counts whole (Fedora's Append-to-create rule)
    repo.put_acl("/c", acl_graph("/c", '<#ap> a acl:Authorization; acl:agent "alice"; acl:mode acl:Append .'))
    assert modes(policy, repo, "/c/new/deeper", "alice", exists=False) == {"append"}
    assert policy.allowed(repo, "alice", acl.Request("PUT", "/c/new"), cached=False)
    assert not policy.allowed(repo, "alice", acl.Request("PUT", "/c"), cached=False)
    with pytest.raises(BadInput, match="malformed Turtle"):
        acl.Policy.from_root_acl(b"<oops")


def test_patch_rules_for_append() -> None:
    assert not acl.update_deletes('INSERT DATA { <> <http://x/p> "DELETE me" }')
    assert not acl.update_deletes("INSERT { <> <http://x/p> 1 } WHERE {}  # DELETE in a comment")
    assert acl.update_deletes("DELETE DATA { <> <http://x/p> 1 }")
    assert acl.update_deletes("delete { <> ?p ?o } insert { <> <http://x/p> 1 } where { <> ?p ?o }")


def test_cache_expires_and_invalidates(repo: LocalRepository) -> None:
    repo.create("/c", ResourceSpec())
    now = [0.0]
    policy = acl.Policy(clock=lambda: now[0])
    assert policy.modes(repo, "/c", "a") == set()
    repo.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "a"; acl:mode acl:Read .'))
    assert policy.modes(repo, "/c", "a") == set()  # cached
    now[0] += acl.CACHE_SECONDS + 0.1
    assert policy.modes(repo, "/c", "a") == {acl.READ}
    repo.delete_acl("/c")
    policy.invalidate()
    assert policy.modes(repo, "/c", "a") == set()


# -- what real Fedora wrote ---------------------------------------------------------------------------


def test_fedora_6_acl_in_an_ocfl_object(tmp_path: Path) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(FIXTURES / "fedora6-ocfl" / "reindex-test", trees / "info%3Afedora%2Fcontainer1")
    where = build_repository(tmp_path / "repo", trees)
    with LocalRepository.open(str(where / "ocfl-root")) as repo:  # a storage root opened directly: read-only
        assert not repo.capabilities.writable
        graph = repo.get_acl("/container1")
        assert (URIRef("info:fedora/container1/fcr:acl"), URIRef(acl.RDF_TYPE),
                URIRef(acl.WEBAC_ACL)) in graph
        assert acl.authorizations(graph) == []  # the fixture's ACL content was left empty
        # so it governs nothing, and the root default does (Fedora skips ACLs without authorizations)
        assert acl.Policy().effective(repo, "/container1").path is None
        problems = [(p.where, p.message) for p in repo.check()]
        assert ("/container1", "ACL content fcr-container~fcr-acl.nt has 0 bytes, its headers say 1011") in problems
        with pytest.raises(NotFound):
            repo.get_acl("/")


def test_fedora_4_7_5_export_acl(repo: LocalRepository) -> None:
    rest = FIXTURES / "import-export" / "4.7.5-export" / "rest"
    container = rdf.parse((rest / "container1.ttl").read_bytes(), "text/turtle", base="http://localhost:8080/rest/c")
    assert (URIRef("http://localhost:8080/rest/container1"), URIRef(ACL_NS + "accessControl"),
            URIRef("http://localhost:8080/rest/acl")) in container
    graph = Graph()
    for name in ("authZ1.ttl", "authZ2.ttl"):
        graph += rdf.parse((rest / "acl" / name).read_bytes(), "text/turtle", base="http://localhost:8080/rest/acl")
    graph = rdf.to_internal(graph, "http://localhost:8080/rest")
    found = {a.id: a for a in acl.authorizations(graph)}
    assert found["info:fedora/acl/authZ1"].agents == {"user1"}
    assert found["info:fedora/acl/authZ2"].modes == {acl.READ, acl.WRITE}
    repo.create("/container1", ResourceSpec())
    repo.put_acl("/container1", graph)
    policy = acl.Policy()
    assert modes(policy, repo, "/container1", "user1") == {"read"}
    assert modes(policy, repo, "/container1", "user2") == {"read", "write"}
    sample = FIXTURES / "import-export" / "sample" / "image0-fcr%3Aacl.ttl"
    image = rdf.to_internal(rdf.parse(sample.read_bytes(), "text/turtle", base="http://x/"),
                            "http://localhost:8080/fcrepo/rest")
    (authz,) = acl.authorizations(image)
    assert authz.id == "info:fedora/image0/fcr:acl#authz" and authz.agents == {"testuser"}
    assert authz.access_to == {"info:fedora/image0"} and authz.modes == {acl.READ}


def test_http_roles_mapping_round_trips() -> None:
    from fcrctl.errors import Unsupported
    from fcrctl.repository.http.acls import graph_to_roles, roles_to_graph

    roles = {"alice": ["admin"], "bob": ["writer"], "carol": ["reader"]}
    assert graph_to_roles("/a", roles_to_graph("/a", roles)) == roles
    with pytest.raises(Unsupported, match="no Fedora 4 role"):
        graph_to_roles("/a", acl_graph("/a", '<#x> a acl:Authorization; acl:agent "d"; acl:mode acl:Write .'))
    with pytest.raises(Unsupported, match="agent_classes"):
        graph_to_roles("/a", acl_graph("/a", '<#x> a acl:Authorization; acl:agentClass foaf:Agent; '
                                             'acl:mode acl:Read .'))


def test_acls_in_transactions_apply_at_commit(repo: LocalRepository) -> None:
    repo.create("/c", ResourceSpec())
    tx = repo.begin_transaction()
    view = repo.in_transaction(tx.id)
    view.put_acl("/c", acl_graph("/c", '<#a> a acl:Authorization; acl:agent "x"; acl:mode acl:Read .'))
    assert acl.authorizations(view.get_acl("/c"))
    with pytest.raises(NotFound):
        repo.get_acl("/c")
    repo.commit_transaction(tx.id)
    assert acl.authorizations(repo.get_acl("/c"))[0].agents == {"x"}


def test_backups_carry_acls_and_the_cli_refuses_bad_input(where: Path, tmp_path: Path) -> None:
    from tests.backup_helpers import ok_json, run

    assert run(where, "create", "/c").exit_code == 0
    acl_file = tmp_path / "acl.ttl"
    acl_file.write_text(PREFIXES + '<#a> a acl:Authorization; acl:agent "alice"; acl:mode acl:Read .')
    assert run(where, "acl", "set", "/c", "--file", str(acl_file)).exit_code == 0
    backup = ok_json(where, "backup", "--label", "acl")
    assert run(where, "acl", "delete", "/c").exit_code == 0
    assert run(where, "acl", "get", "/c").exit_code == 4
    assert run(where, "restore", backup["id"], "--yes").exit_code == 0
    got = run(where, "get", "/c/fcr:acl", "--accept", "ntriples")
    assert got.exit_code == 0 and '"alice"' in got.stdout
    before = got.stdout
    (tmp_path / "bad.ttl").write_text("<#a> acl:mode")
    for args, code, words in (
        (["acl", "set", "/c", "--file", str(tmp_path / "bad.ttl")], 2, "malformed Turtle"),
        (["acl", "set", "/c", "--file", str(tmp_path / "missing.ttl")], 2, "missing.ttl"),
        (["acl", "set", "/c", "--file", str(acl_file), "--content-type", "text/plain"], 2, "an ACL is RDF"),
        (["acl", "patch", "/c", "-e", "DELETE WHERE { ?s ?p"], 2, "invalid SPARQL"),
        (["acl", "get", "/nothing"], 4, "no resource"),
        (["acl", "set", "/c/fcr:metadata", "--file", str(acl_file)], 2, "reserved"),
        (["acl", "effective", "/c", "--root-acl", str(tmp_path / "bad.ttl")], 2, "malformed Turtle"),
    ):
        result = run(where, *args)
        assert result.exit_code == code and words in result.stderr, (args, result.stderr)
    assert run(where, "get", "/c/fcr:acl", "--accept", "ntriples").stdout == before


def test_acl_effective_reports_what_governs(where: Path) -> None:
    from tests.backup_helpers import ok_json, run

    assert run(where, "create", "/a/b/c", "--parents").exit_code == 0
    doc = ok_json(where, "acl", "effective", "/a/b/c", "--agent", "alice")
    assert doc["acl"] is None and doc["from"] == "default" and doc["agent"]["modes"] == []
    assert not any(doc["agent"]["methods"].values())
    root_acl = where.parent / "root.ttl"
    root_acl.write_text(PREFIXES + '<info:fedora/fcr:acl#r> acl:agentClass foaf:Agent; acl:mode acl:Read; '
                        'acl:accessTo <info:fedora>; acl:default <info:fedora> .')
    doc = ok_json(where, "acl", "effective", "/a/b/c", "--agent", "alice", "--root-acl", str(root_acl))
    assert doc["agents"] == {"foaf:Agent": ["read"]} and doc["agent"]["methods"]["GET"]
    assert not doc["agent"]["methods"]["PUT"]
    human = run(where, "acl", "effective", "/a/b/c", "--agent", "alice")
    assert human.exit_code == 0 and "(root default)" in human.stdout and "(nothing)" in human.stdout


def test_root_and_archival_group_member_acls(repo: LocalRepository, where: Path) -> None:
    repo.create("/ag", ResourceSpec(archival_group=True))
    repo.create("/ag/part", ResourceSpec())
    repo.put_acl("/ag/part", acl_graph("/ag/part", '<#a> a acl:Authorization; acl:agent "m"; acl:mode acl:Read .'))
    repo.put_acl("/", acl_graph("/", '<#r> a acl:Authorization; acl:agent "r"; acl:mode acl:Read; '
                                     'acl:accessTo <info:fedora>; acl:default <info:fedora> .'))
    state = ocfl.state_files(ocfl.read_inventory(where / "ocfl-root" / ocfl.object_rel("info:fedora/ag")))
    assert {".fcrepo/part~fcr-acl.json", "part/fcr-container~fcr-acl.nt"} <= set(state)
    root_state = ocfl.state_files(ocfl.read_inventory(where / "ocfl-root" / ocfl.object_rel("info:fedora")))
    assert ".fcrepo/fcr-root~fcr-acl.json" in root_state
    repo.reindex()
    policy = acl.Policy()
    assert modes(policy, repo, "/ag/part", "m") == {"read"}
    assert modes(policy, repo, "/ag", "r") == {"read"} and policy.effective(repo, "/ag").path == "/"
    assert list(repo.check()) == []


def test_export_and_import_carry_acls(where: Path, tmp_path: Path) -> None:
    from tests.backup_helpers import run

    assert run(where, "create", "/c").exit_code == 0
    assert run(where, "create", "/plain").exit_code == 0  # no ACL: exported without one, not failed
    acl_file = tmp_path / "acl.ttl"
    acl_file.write_text(PREFIXES + '<#a> a acl:Authorization; acl:agent "alice"; acl:mode acl:Read; '
                        'acl:accessTo </c> .')
    assert run(where, "acl", "set", "/c", "--file", str(acl_file)).exit_code == 0
    exported = run(where, "export", "/", str(tmp_path / "out"))
    assert exported.exit_code == 0, exported.stderr
    assert (tmp_path / "out" / "rest" / "c" / "fcr%3Aacl.ttl").is_file()
    target = tmp_path / "new"
    LocalRepository.open(str(target), create=True).close()
    imported = run(target, "import", str(tmp_path / "out"))
    assert imported.exit_code == 0, imported.stderr
    with LocalRepository.open(str(target)) as repo:
        (auth,) = acl.authorizations(repo.get_acl("/c"))
        assert auth.agents == {"alice"} and auth.access_to == {"info:fedora/c"}
        with pytest.raises(NotFound):
            repo.get_acl("/plain")
