"""Where an imported ACL lands in OCFL: where fcrepo-upgrade-utils' Fedora 6 migration puts it
(issue 17's rule), read straight from the inventories.

What the Java tool writes, from its source (fcrepo-upgrade-utils, ResourceMigrator): a resource's
``fcr:acl`` goes into the OCFL version that first writes the resource (``migrateAcl`` runs only
when ``isFirst``), dated by the ACL's own fedora:created / lastModified (its memento date the
last-modified, its state token the MD5 of that in epoch milliseconds) and users, with the
server-managed triples dropped from its content. A Fedora 4.7 ACL is first converted by its
F47ToF5UpgradeManager, which keeps the webac:Acl resource's dates and users on ``fcr:acl``. The
Fedora 6 fixture ``reindex-test`` holds headers the tool wrote from the 4.7.5 export's ``rest/acl``
(its state token is that MD5), so they are the expected headers here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from typer.testing import CliRunner

from fcrctl import rdf
from fcrctl.cli.main import app
from fcrctl.repository.local import ocfl
from tests.test_transfer_acl import FIXTURES, RDF_TYPE, expected_acl, plain

UPGRADE_UTILS_HEADERS = (Path(__file__).parent / "fixtures" / "fedora6-ocfl" / "reindex-test" / "v1" / ".fcrepo"
                         / "fcr-root~fcr-acl.json")
CONTAINER_ACL = (".fcrepo/fcr-root~fcr-acl.json", "fcr-container~fcr-acl.nt")
BINARY_ACL = (".fcrepo/fcr-root~fcr-acl.json", "image0~fcr-acl.nt")  # of the binary image0, its object's root
DATES = ("createdDate", "lastModifiedDate", "mementoCreatedDate")
FEDORA_5_ACL = FIXTURES / "sample" / "bag" / "data" / "fcrepo" / "rest" / "image0" / "fcr%3Aacl.ttl"


def imported(tmp_path: Path, source: Path, *extra: str) -> Path:
    target = tmp_path / "repo"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    result = runner.invoke(app, ["--repo", str(target), "import", str(source), *extra])
    assert result.exit_code == 0, result.output
    return target


def object_versions(repo: Path, object_id: str) -> list[dict[str, str]]:
    """Each OCFL version's state (logical path -> digest), oldest first, from the object's inventory."""
    inventory = ocfl.read_inventory(repo / "ocfl-root" / ocfl.object_rel(object_id))
    order = sorted(inventory["versions"], key=ocfl.version_number)
    return [ocfl.state_digests(inventory, version) for version in order]


def object_file(repo: Path, object_id: str, digest: str) -> bytes:
    obj = repo / "ocfl-root" / ocfl.object_rel(object_id)
    return (obj / ocfl.manifest_paths(ocfl.read_inventory(obj))[digest]).read_bytes()


def acl_layout(repo: Path, object_id: str, files: tuple[str, str]) -> tuple[list[bool], dict, bytes]:
    """Whether each version holds the ACL's files, its headers and its content, after checking that
    the files never change after the version that first has them (they are written once)."""
    versions = object_versions(repo, object_id)
    present = [all(f in state for f in files) for state in versions]
    assert any(present), f"{object_id}: no ACL files in any version"
    first = versions[present.index(True)]
    for state in versions[present.index(True):]:
        assert [state.get(f) for f in files] == [first[f] for f in files]
    headers = json.loads(object_file(repo, object_id, first[files[0]]))
    return present, headers, object_file(repo, object_id, first[files[1]])


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def upgrade_utils_md5(value: str) -> str:
    millis = (instant(value) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)  # Java's toEpochMilli
    return hashlib.md5(str(millis).encode(), usedforsecurity=False).hexdigest().upper()


@pytest.mark.parametrize("extra", [[], ["--tx"]], ids=["plain", "tx"])
def test_a_fedora4_acl_lands_in_the_first_version_with_upgrade_utils_headers(tmp_path: Path, extra: list[str]) -> None:
    repo = imported(tmp_path, FIXTURES / "4.7.5-export", *extra)
    present, headers, content = acl_layout(repo, "info:fedora/container1", CONTAINER_ACL)
    # two mementos, the newest equal to the current state: two versions, the ACL in the first
    assert present == [True, True]
    expected = json.loads(UPGRADE_UTILS_HEADERS.read_text())
    # the fixture's content was emptied at its source: size and digest are checked against ours
    assert headers["contentSize"] == len(content)
    assert headers["digests"] == [f"urn:sha-512:{hashlib.sha512(content).hexdigest()}"]
    for key in set(expected) | set(headers):
        if key in ("contentSize", "digests"):
            continue
        if key in DATES:  # Fedora writes milliseconds, fcrctl microseconds: the same instants
            assert instant(headers[key]) == instant(expected[key]), key
        else:
            assert headers.get(key) == expected.get(key), key
    graph = Graph().parse(data=content.decode(), format="nt")
    assert plain(graph) == plain(expected_acl("info:fedora/container1"))


def test_a_fedora5_acl_lands_in_the_first_version_dated_by_its_own_triples(tmp_path: Path) -> None:
    repo = imported(tmp_path, FIXTURES / "sample" / "bag")
    present, headers, content = acl_layout(repo, "info:fedora/image0", BINARY_ACL)
    assert present[0]
    assert len(present) == 1  # the binary's one version: no version of its own for the ACL
    assert instant(headers["createdDate"]) == instant("2020-09-11T18:03:03.109Z")
    assert headers["lastModifiedDate"] == headers["mementoCreatedDate"] == headers["createdDate"]
    assert headers["createdBy"] == headers["lastModifiedBy"] == "bypassAdmin"
    assert headers["stateToken"] == upgrade_utils_md5("2020-09-11T18:03:03.109Z")
    assert headers["parent"] == "info:fedora/image0" and headers["id"] == "info:fedora/image0/fcr:acl"
    # the server-managed triples (its dates, fedora: and ldp: types) are not stored as the ACL's own
    stored = Graph().parse(data=content.decode(), format="nt")
    assert not [t for t in stored if rdf.is_server_managed(str(t[1]), str(t[2]))]
    assert len(stored) == 4


def acl_triples(file: Path, base: str) -> set:
    """An exported fcr:acl's triples in internal ids, less the types the server gives every ACL
    (Fedora 5 gave ldp: container types and fedora:Resource, Fedora 6 and fcrctl do not)."""
    graph = rdf.to_internal(Graph().parse(file, format="turtle", publicID=base), base)
    return {t for t in plain(graph) if not (t[1] == RDF_TYPE and rdf.is_server_managed(str(t[1]), str(t[2])))}


def test_an_exported_fedora5_acl_comes_back_equivalent(tmp_path: Path) -> None:
    repo = imported(tmp_path, FIXTURES / "sample" / "bag")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--repo", str(repo), "export", "/image0", str(out)])
    assert result.exit_code == 0, result.output
    exported = out / "rest" / "image0" / "fcr%3Aacl.ttl"
    # the same authorizations, about the export's URLs, with the ACL's dates and users
    assert acl_triples(exported, "http://localhost:8080/rest/") == \
        acl_triples(FEDORA_5_ACL, "http://localhost:8080/fcrepo/rest/")
    # and imported again, it lands as it did the first time
    again = imported(tmp_path / "again", out)
    _, first, _ = acl_layout(repo, "info:fedora/image0", BINARY_ACL)
    present, second, _ = acl_layout(again, "info:fedora/image0", BINARY_ACL)
    assert present[0] and second == first


def test_an_exported_fedora4_acl_keeps_the_acl_resources_dates(tmp_path: Path) -> None:
    repo = imported(tmp_path, FIXTURES / "4.7.5-export")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--repo", str(repo), "export", "/container1", str(out), "--no-recursive"])
    assert result.exit_code == 0, result.output
    graph = Graph().parse(out / "rest" / "container1" / "fcr%3Aacl.ttl", format="turtle")
    node = URIRef("http://localhost:8080/rest/container1/fcr:acl")
    created = graph.value(node, URIRef(rdf.FEDORA + "created"))
    modified = graph.value(node, URIRef(rdf.FEDORA + "lastModified"))
    assert created is not None and modified is not None
    assert instant(str(created)) == instant("2020-11-30T04:37:48.795Z")
    assert instant(str(modified)) == instant("2020-11-30T04:42:18.614Z")
    assert str(graph.value(node, URIRef(rdf.FEDORA + "createdBy"))) == "bypassAdmin"


@pytest.mark.parametrize(("created", "modified", "kept"), [
    ("2020-11-30T04:37:48.795Z", "2019-01-01T00:00:00Z", "created"),  # modified before created
    ("yesterday", "2020-11-30T04:42:18.614Z", "none"),  # not a date: now, and then modified precedes it
    (None, None, "none"),  # no dates at all
])
def test_acl_dates_that_cannot_stand_are_the_import_time(tmp_path: Path, created: str | None, modified: str | None,
                                                          kept: str) -> None:
    """As the Java tool dates them (ResourceMigrator.createCommonHeaders): a missing or unreadable
    created date is now, and so is a last-modified date that is missing or precedes created."""
    import shutil

    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "4.7.5-export", export)
    acl_file = export / "rest" / "acl.ttl"
    lines = [line for line in acl_file.read_text().splitlines()
             if "fedora:created " not in line and "fedora:lastModified " not in line]
    dated = [f'fedora:{name} "{value}"^^<http://www.w3.org/2001/XMLSchema#dateTime> ;'
             for name, value in (("created", created), ("lastModified", modified)) if value is not None]
    at = next(n for n, line in enumerate(lines) if "fedora:createdBy" in line) + 1
    acl_file.write_text("\n".join(lines[:at] + dated + lines[at:]) + "\n")
    before = datetime.now(UTC)
    repo = imported(tmp_path, export)
    after = datetime.now(UTC)
    present, headers, _ = acl_layout(repo, "info:fedora/container1", CONTAINER_ACL)
    assert present == [True, True]  # still in the first version
    if kept == "created":
        assert instant(headers["createdDate"]) == instant(created or "")
    else:
        assert before <= instant(headers["createdDate"]) <= after
    assert before <= instant(headers["lastModifiedDate"]) <= after
    assert headers["mementoCreatedDate"] == headers["lastModifiedDate"]
    assert headers["stateToken"] == upgrade_utils_md5(headers["lastModifiedDate"])


def test_a_resource_without_dates_still_takes_its_acl_in_its_one_version(tmp_path: Path) -> None:
    """The Java tool dates an undated resource now, and writes its ACL in that same version."""
    import shutil

    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "4.7.5-export-ntriples", export)
    file = export / "rest" / "container1.nt"
    file.chmod(0o644)
    file.write_text("".join(line + "\n" for line in file.read_text().splitlines()
                            if "#lastModified>" not in line and "#created>" not in line))
    repo = imported(tmp_path, export)
    present, headers, _ = acl_layout(repo, "info:fedora/container1", CONTAINER_ACL)
    assert present == [True]
    assert instant(headers["lastModifiedDate"]) == instant("2020-11-30T04:42:18.614Z")


def test_an_acl_fedora_refuses_leaves_its_resource_unwritten(tmp_path: Path) -> None:
    """An authorization with both acl:accessTo and acl:accessToClass (Fedora 6 refuses it): the
    resource and its ACL are one version, so neither is written; the rest of the export is."""
    import shutil

    from fcrctl.errors import ExitCode

    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "4.7.5-export-ntriples", export)
    auth = export / "rest" / "acl" / "authZ1.nt"
    auth.chmod(0o644)
    auth.write_text(auth.read_text() + "<http://localhost:8080/rest/acl/authZ1> "
                    "<http://www.w3.org/ns/auth/acl#accessToClass> <http://example.org/Thing> .\n")
    target = tmp_path / "repo"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    result = runner.invoke(app, ["--repo", str(target), "--json", "import", str(export)])
    assert result.exit_code == ExitCode.PARTIAL, result.output
    failed = json.loads(result.stdout)["failed_items"]
    assert [item["path"] for item in failed] == ["/container1"]
    assert "accessToClass" in failed[0]["reason"]
    assert not (target / "ocfl-root" / ocfl.object_rel("info:fedora/container1")).exists()


def test_an_acl_read_and_put_back_stores_no_dates_as_its_own(tmp_path: Path) -> None:
    """`acl get` shows the ACL's dates and users (as Fedora does); putting that back stores the same
    triples as before, not those dates as triples of the ACL's own."""
    repo = imported(tmp_path, FIXTURES / "sample" / "bag")
    runner = CliRunner()
    shown = runner.invoke(app, ["--repo", str(repo), "acl", "get", "/image0"])
    assert shown.exit_code == 0, shown.output
    assert "2020-09-11T18:03:03.109" in shown.stdout and "bypassAdmin" in shown.stdout
    _, _, before = acl_layout(repo, "info:fedora/image0", BINARY_ACL)
    file = tmp_path / "acl.ttl"
    file.write_text(shown.stdout)
    result = runner.invoke(app, ["--repo", str(repo), "acl", "set", "/image0", "--file", str(file)])
    assert result.exit_code == 0, result.output
    inventory = ocfl.read_inventory(repo / "ocfl-root" / ocfl.object_rel("info:fedora/image0"))
    head = ocfl.state_digests(inventory)
    assert Graph().parse(data=object_file(repo, "info:fedora/image0", head[BINARY_ACL[1]]).decode(), format="nt") \
        .isomorphic(Graph().parse(data=before.decode(), format="nt"))
