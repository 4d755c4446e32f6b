"""Fedora 4.7's WebAC containers (``rest/acl`` + authorizations, linked by ``acl:accessControl``)
become the ``fcr:acl`` of the resources they protect on import, as fcrepo-upgrade-utils converts
them (services/transfer/acl.py), from the 4.7.5 exports in tests/fixtures/import-export/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode, NotFound
from fcrctl.repository import open_repository
from fcrctl.repository.base import RdfPrefs
from tests.server_fixture import start_server

FIXTURES = Path(__file__).parent / "fixtures" / "import-export"
ACL = "http://www.w3.org/ns/auth/acl#"
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
XSD_STRING = URIRef("http://www.w3.org/2001/XMLSchema#string")


def run(repo: Path | str, *args: str) -> Result:
    if isinstance(repo, Path) and not repo.exists():
        open_repository(str(repo), create=True).close()
    return CliRunner().invoke(app, ["--repo", str(repo), *args])


def expected_acl(protected: str) -> Graph:
    """fcrepo-upgrade-utils' conversion of the fixture's two authorizations (authZ1 read for
    user1, authZ2 read and write for user2), as Fedora 6 stores them: no server-managed triples."""
    node = f"{protected}/fcr:acl"
    graph = Graph()
    for number, agent, modes in ((0, "user1", ["Read"]), (1, "user2", ["Read", "Write"])):
        auth = URIRef(f"{node}#auth{number}")
        graph.add((auth, RDF_TYPE, URIRef(ACL + "Authorization")))
        graph.add((auth, URIRef(ACL + "accessTo"), URIRef(protected)))
        graph.add((auth, URIRef(ACL + "agent"), Literal(agent, datatype=XSD_STRING)))
        for mode in modes:
            graph.add((auth, URIRef(ACL + "mode"), URIRef(ACL + mode)))
    return graph


def plain(graph: Graph) -> set[tuple]:
    """The triples, an xsd:string literal as the plain literal it is in RDF 1.1 (the Turtle fixture
    writes "user1"^^xsd:string, the N-Triples one "user1")."""
    return {(s, p, Literal(str(o)) if isinstance(o, Literal) and o.datatype == XSD_STRING else o) for s, p, o in graph}


def stored_acl(repo_path: Path | str, path: str) -> set:
    repo = open_repository(str(repo_path))
    try:
        graph = repo.get_acl(path, prefs=RdfPrefs(server_managed=False))
        return {t for t in plain(graph) if not (t[1] == RDF_TYPE and str(t[2]).endswith("webac#Acl"))}
    finally:
        repo.close()


@pytest.mark.parametrize("export", ["4.7.5-export", "4.7.5-export-ntriples"])
def test_fedora4_acl_containers_become_fcr_acl(tmp_path: Path, export: str) -> None:
    target = tmp_path / "repo"
    result = run(target, "--json", "import", str(FIXTURES / export))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["acl"] == 1
    assert {item["path"] for item in report["skipped_items"]} == {"/acl", "/acl/authZ1", "/acl/authZ2"}
    assert stored_acl(target, "/container1") == plain(expected_acl("info:fedora/container1"))
    repo = open_repository(str(target))
    try:
        for gone in ("/acl", "/acl/authZ1"):  # the ACL resources themselves are not imported
            with pytest.raises(NotFound):
                repo.info(gone)
        prefs = RdfPrefs(server_managed=False, containment=False)
        assert not list(repo.get_rdf("/container1", prefs=prefs).triples((None, URIRef(ACL + "accessControl"), None)))
        for version in repo.versions("/container1"):  # nor do its versions keep the link
            graph = repo.get_rdf("/container1", prefs=prefs, version=version.id)
            assert not list(graph.triples((None, URIRef(ACL + "accessControl"), None)))
    finally:
        repo.close()
    # and the server decides by it: user1 may read container1, not write it
    result = run(target, "--json", "acl", "effective", "/container1", "--agent", "user1")
    assert result.exit_code == 0, result.output


def test_import_into_a_subtree_maps_the_acl(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    result = run(target, "import", str(FIXTURES / "4.7.5-export"), "/migrated")
    assert result.exit_code == 0, result.output
    assert stored_acl(target, "/migrated/container1") == plain(expected_acl("info:fedora/migrated/container1"))


def test_no_acls_keeps_fedora4_acl_containers_as_they_were(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    result = run(target, "--json", "import", str(FIXTURES / "4.7.5-export"), "--no-acls")
    assert result.exit_code == 0, result.output
    assert "acl" not in json.loads(result.stdout)["counts"]
    repo = open_repository(str(target))
    try:
        assert not repo.info("/acl").is_binary and not repo.info("/acl/authZ2").is_binary
        with pytest.raises(NotFound):
            repo.get_acl("/container1")
    finally:
        repo.close()


def test_fedora4_acl_into_a_served_repository(tmp_path: Path) -> None:
    with start_server(tmp_path / "served", dialect="fedora6") as served:
        result = run(served.url, "--json", "import", str(FIXTURES / "4.7.5-export"))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["counts"]["acl"] == 1
    assert stored_acl(tmp_path / "served", "/container1") == plain(expected_acl("info:fedora/container1"))


def test_the_link_goes_from_every_version(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "4.7.5-export", export)
    link = f"<http://localhost:8080/rest/container1> <{ACL}accessControl> <http://localhost:8080/rest/acl> .\n"
    for memento in (export / "rest/container1/fcr%3Aversions").glob("*.ttl"):
        memento.chmod(0o644)
        memento.write_text(memento.read_text() + link)
    target = tmp_path / "repo"
    result = run(target, "import", str(export))
    assert result.exit_code == 0, result.output
    repo = open_repository(str(target))
    try:
        prefs = RdfPrefs(server_managed=False, containment=False)
        versions = repo.versions("/container1")
        assert len(versions) >= 2
        for version in versions:
            graph = repo.get_rdf("/container1", prefs=prefs, version=version.id)
            assert not list(graph.triples((None, URIRef(ACL + "accessControl"), None)))
    finally:
        repo.close()
    assert stored_acl(target, "/container1") == plain(expected_acl("info:fedora/container1"))


def broken_export(tmp_path: Path, link: str | None) -> Path:
    """The 4.7.5 N-Triples export with container1's acl:accessControl pointing at ``link``
    (None: at the fixture's ACL, whose files are then removed)."""
    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "4.7.5-export-ntriples", export)
    for file in export.rglob("*"):
        file.chmod(0o755 if file.is_dir() else 0o644)
    if link is None:
        (export / "rest/acl.nt").unlink()
        shutil.rmtree(export / "rest/acl")
    else:
        file = export / "rest/container1.nt"
        file.write_text(file.read_text().replace("<http://localhost:8080/rest/acl>", f"<{link}>"))
    return export


@pytest.mark.parametrize("link", [None, "http://localhost:8080/rest/../../outside", "http://elsewhere.example/rest/acl",
                                  "http://localhost:8080/rest/nothing-here"])
def test_an_acl_link_to_nothing_in_the_export_is_refused(tmp_path: Path, link: str | None) -> None:
    outside = tmp_path / "outside.nt"  # what ../../outside would reach from the export's rest/
    outside.write_text('<http://localhost:8080/rest/outside> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
                       f'<{ACL}Authorization> .\n')
    export = broken_export(tmp_path, link)
    target = tmp_path / "repo"
    result = run(target, "import", str(export))
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "acl:accessControl" in result.output and "--no-acls" in result.output
    repo = open_repository(str(target))
    try:  # nothing was written
        assert [child.path for child in repo.children("/")] == []
    finally:
        repo.close()
