"""fcrctl export / import: fcrepo-import-export's layout, from and to both backends, round trips,
the Java tool's own exports and bags, and every kind of bad input refused with the repository
exactly as before."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import RdfPrefs, ResourceSpec
from tests.server_fixture import start_server

FIXTURES = Path(__file__).parent / "fixtures" / "import-export"
DC = "http://purl.org/dc/elements/1.1/"
LDP = "http://www.w3.org/ns/ldp#"
FEDORA = "http://fedora.info/definitions/v4/repository#"
SERVER_DATES = {FEDORA + "created", FEDORA + "lastModified"}


def run(repo: Path | str, *args: str) -> Result:
    if "import" in args and isinstance(repo, Path) and not repo.exists():
        open_repository(str(repo), create=True).close()
    return CliRunner().invoke(app, ["--repo", str(repo), *args])


def graph_of(*triples: tuple[str, str, object]) -> Graph:
    graph = Graph()
    for s, p, o in triples:
        graph.add((URIRef(s), URIRef(p), o if isinstance(o, (Literal, URIRef)) else Literal(o)))
    return graph


def seed(repo_path: Path) -> None:
    """Every kind of resource the format holds."""
    repo = open_repository(str(repo_path), create=True)
    try:
        repo.create("/col", ResourceSpec(graph=graph_of(("info:fedora/col", DC + "title", "A collection"))))
        repo.create("/col/item:1", ResourceSpec(graph=graph_of(("info:fedora/col/item:1", DC + "title", "Moby"))))
        repo.create("/col/item:1/page~1.txt", ResourceSpec(
            content=io.BytesIO(b"Call me Ishmael."), binary=True, mime_type="text/plain", filename="page1.txt",
            graph=graph_of(("info:fedora/col/item:1/page~1.txt", DC + "description", "the first page"))))
        members = graph_of(("info:fedora/col/members", LDP + "membershipResource", URIRef("info:fedora/col")),
                           ("info:fedora/col/members", LDP + "hasMemberRelation", URIRef(DC + "relation")))
        repo.create("/col/members", ResourceSpec(graph=members, model="direct"))
        proxies = graph_of(("info:fedora/col/proxies", LDP + "membershipResource", URIRef("info:fedora/col")),
                           ("info:fedora/col/proxies", LDP + "hasMemberRelation", URIRef(DC + "hasPart")),
                           ("info:fedora/col/proxies", LDP + "insertedContentRelation", URIRef(DC + "source")))
        repo.create("/col/proxies", ResourceSpec(graph=proxies, model="indirect"))
        repo.create("/col/ext", ResourceSpec(external_url="https://example.org/x.tif", external_handling="redirect",
                                             mime_type="image/tiff"))
    finally:
        repo.close()


@pytest.fixture
def source_repo(tmp_path: Path) -> Path:
    path = tmp_path / "source"
    seed(path)
    return path


def normalized(tree: Path) -> dict[str, object]:
    """An export tree with what differs between runs taken out: server dates and ETags."""
    out: dict[str, object] = {}
    for file in sorted(tree.rglob("*")):
        if not file.is_file():
            continue
        rel = file.relative_to(tree).as_posix()
        if rel.endswith(".headers"):
            headers = json.loads(file.read_text())
            headers.pop("ETag", None)
            headers.pop("Last-Modified", None)
            out[rel] = headers
        elif rel.endswith((".ttl", ".nt")):
            graph = Graph()
            graph.parse(file, format="turtle" if rel.endswith(".ttl") else "nt")
            out[rel] = sorted((str(s), str(p), str(o)) for s, p, o in graph if str(p) not in SERVER_DATES)
        else:
            out[rel] = file.read_bytes()
    return out


def ocfl_files(repo_path: Path) -> list[str]:
    return sorted(str(p.relative_to(repo_path)) for p in (repo_path / "ocfl-root").rglob("*") if p.is_file())


# -- export --------------------------------------------------------------------------------------------


def test_export_writes_the_java_tools_layout(source_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(source_repo, "export", "/", str(out))
    assert result.exit_code == 0, result.output
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for name in ("rest.ttl", "rest.ttl.headers", "rest/col.ttl", "rest/col/item%3A1.ttl",
                 "rest/col/item%3A1/page%7E1.txt.binary", "rest/col/item%3A1/page%7E1.txt.binary.headers",
                 "rest/col/item%3A1/page%7E1.txt/fcr%3Ametadata.ttl", "rest/col/ext.external",
                 "rest/col/ext.external.headers", "rest/col/members.ttl", "rest/col/fcr%3Aversions.ttl"):
        assert name in files, name
    assert (out / "rest/col/item%3A1/page%7E1.txt.binary").read_bytes() == b"Call me Ishmael."
    headers = json.loads((out / "rest/col/members.ttl.headers").read_text())
    assert f'<{LDP}DirectContainer>;rel="type"' in headers["Link"]
    ext = json.loads((out / "rest/col/ext.external.headers").read_text())
    assert ext["Content-Location"] == ["https://example.org/x.tif"] and ext["Location"] == ext["Content-Location"]
    binary = json.loads((out / "rest/col/item%3A1/page%7E1.txt.binary.headers").read_text())
    assert binary["Content-Type"] == ["text/plain"] and "page1.txt" in binary["Content-Disposition"][0]
    graph = Graph().parse(out / "rest/col.ttl", format="turtle")
    assert (URIRef("http://localhost:8080/rest/col"), URIRef(LDP + "contains"),
            URIRef("http://localhost:8080/rest/col/item:1")) in graph


def test_export_options_no_recursive_no_binaries_format(source_repo: Path, tmp_path: Path) -> None:
    one = tmp_path / "one"
    assert run(source_repo, "export", "/col", str(one), "--no-recursive", "--no-versions").exit_code == 0
    assert sorted(p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file()) == [
        "rest/col.ttl", "rest/col.ttl.headers"]
    nob = tmp_path / "nob"
    result = run(source_repo, "--json", "export", "/", str(nob), "--no-binaries", "--format", "ntriples")
    assert result.exit_code == 0, result.output
    assert not list(nob.rglob("*.binary")) and (nob / "rest/col.nt").exists()
    assert json.loads(result.stdout)["skipped"] == 2  # the binary and the external content
    assert run(source_repo, "export", "/", str(tmp_path / "x"), "--format", "yaml").exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "jsonld", "rdfxml"])
def test_round_trip_is_identical_modulo_server_dates(source_repo: Path, tmp_path: Path, fmt: str) -> None:
    first, second, target = tmp_path / "first", tmp_path / "second", tmp_path / "target"
    assert run(source_repo, "export", "/", str(first), "--no-versions", "--format", fmt).exit_code == 0
    run(target, "init", str(target))
    result = run(target, "import", str(first), "--verify")
    assert result.exit_code == 0, result.output
    assert run(target, "export", "/", str(second), "--no-versions", "--format", fmt).exit_code == 0
    if fmt in ("turtle", "ntriples"):
        assert normalized(first) == normalized(second)
    else:
        assert sorted(p.relative_to(first) for p in first.rglob("*")) == sorted(
            p.relative_to(second) for p in second.rglob("*"))


@pytest.mark.parametrize("dialect", ["fedora4", "fedora6"])
def test_round_trip_through_serve(source_repo: Path, tmp_path: Path, dialect: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with start_server(source_repo, dialect=dialect) as served:
        result = run(served.url, "export", "/", str(first), "--no-versions", "--jobs", "3")
        assert result.exit_code == 0, result.output
    with start_server(tmp_path / "target", dialect=dialect) as served:
        result = run(served.url, "import", str(first), "--jobs", "3", "--verify")
        assert result.exit_code == 0, result.output
        result = run(served.url, "export", "/", str(second), "--no-versions")
        assert result.exit_code == 0, result.output
    # over HTTP the export's URLs are the server's: compare after mapping them back
    a, b = normalized(first), normalized(second)
    assert a.keys() == b.keys()
    assert a["rest/col/item%3A1/page%7E1.txt.binary"] == b"Call me Ishmael."
    assert a["rest/col/members.ttl.headers"] == b["rest/col/members.ttl.headers"]


def test_export_resume_skips_what_is_there(source_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(source_repo, "export", "/", str(out), "--no-versions").exit_code == 0
    (out / "rest/col/members.ttl").unlink()
    result = run(source_repo, "--json", "export", "/", str(out), "--no-versions", "--resume")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"] == {"container": 1}
    assert (out / "rest/col/members.ttl").exists()


# -- import of the Java tool's exports --------------------------------------------------------------


def test_import_fedora_475_export(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    result = run(target, "--json", "import", str(FIXTURES / "4.7.5-export"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # the root and container1; the Fedora 4 ACL container and its two authorizations become
    # container1's fcr:acl (tests/test_transfer_acl.py)
    assert report["counts"]["container"] == 2 and report["counts"]["binary"] == 1 and report["counts"]["acl"] == 1
    repo = open_repository(str(target))
    try:
        graph = repo.get_rdf("/container1", prefs=RdfPrefs(server_managed=False, containment=False))
        assert (URIRef("info:fedora/container1"), URIRef(DC + "title"), Literal("New Title!")) in {
            (s, p, Literal(str(o))) for s, p, o in graph}
        assert not [p for p in graph.predicates() if str(p).startswith(FEDORA)]
        info = repo.info("/container1/testbinary")
        assert info.mime_type == "image/jpeg" and info.size == 18580
        data = (FIXTURES / "4.7.5-export/rest/container1/testbinary.binary").read_bytes()
        import hashlib

        assert info.digests["sha1"] == hashlib.sha1(data).hexdigest()
        ext = repo.info("/external1")
        assert ext.external_url == "http://www.example.com/file.jpg"
    finally:
        repo.close()


@pytest.mark.parametrize("sample", ["bag", "bag-sha256", "external", "indirect", "reference", "container",
                                    "compress/bag-tar.tar", "compress/bag-zip.zip", "compress/bag-gzip.tar.gz"])
def test_import_the_java_tools_samples(tmp_path: Path, sample: str) -> None:
    result = run(tmp_path / "repo", "import", str(FIXTURES / "sample" / sample))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("sample", ["bagcorrupted", "baginvalid"])
def test_bad_bags_are_refused_with_nothing_written(tmp_path: Path, sample: str) -> None:
    target = tmp_path / "repo"
    run(target, "init", str(target))
    before = ocfl_files(target)
    result = run(target, "import", str(FIXTURES / "sample" / sample))
    assert result.exit_code == ExitCode.CORRUPT, result.output
    assert "nothing was imported" in result.output
    assert ocfl_files(target) == before


def test_a_corrupted_binary_fails_its_upload_digest(tmp_path: Path) -> None:
    # sample/corrupted's bytes do not match the sha1 its description records
    target = tmp_path / "repo"
    result = run(target, "--json", "import", str(FIXTURES / "sample" / "corrupted"))
    assert result.exit_code == ExitCode.PARTIAL
    report = json.loads(result.stdout)
    assert report["failed"] == 1 and "checksum mismatch" in report["failed_items"][0]["reason"]


def test_import_into_a_subtree_with_map(source_repo: Path, tmp_path: Path) -> None:
    out, target = tmp_path / "out", tmp_path / "repo"
    assert run(source_repo, "export", "/col", str(out), "--no-versions").exit_code == 0
    result = run(target, "import", str(out), "--map", "http://localhost:8080/rest,/imported")
    assert result.exit_code == 0, result.output
    repo = open_repository(str(target))
    try:
        assert repo.info("/imported/col/item:1/page~1.txt").filename == "page1.txt"
        graph = repo.get_rdf("/imported/col/members")
        assert (URIRef("info:fedora/imported/col/members"), URIRef(LDP + "membershipResource"),
                URIRef("info:fedora/imported/col")) in graph
    finally:
        repo.close()


# -- reports, dry runs, resume, tombstones, transactions ---------------------------------------------


@pytest.fixture
def exported(source_repo: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert run(source_repo, "export", "/", str(out), "--no-versions").exit_code == 0
    return out


def test_dry_run_changes_nothing(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    run(target, "init", str(target))
    before = ocfl_files(target)
    result = run(target, "--json", "import", str(exported), "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resources"] == 7
    assert ocfl_files(target) == before


def test_second_import_fails_partially_then_resume_completes(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    assert run(target, "import", str(exported)).exit_code == 0
    again = run(target, "--json", "import", str(exported))
    assert again.exit_code == ExitCode.PARTIAL
    assert json.loads(again.stdout)["failed"] == 6
    resumed = run(target, "--json", "import", str(exported), "--resume")
    assert resumed.exit_code == 0 and json.loads(resumed.stdout)["skipped"] == 6


def test_tombstones_fail_skip_or_overwrite(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    assert run(target, "import", str(exported)).exit_code == 0
    assert run(target, "delete", "/col/ext").exit_code == 0
    assert run(target, "import", str(exported), "--resume").exit_code == ExitCode.PARTIAL
    assert run(target, "import", str(exported), "--resume", "--skip-tombstones").exit_code == 0
    assert run(target, "info", "/col/ext").exit_code == ExitCode.GONE
    assert run(target, "import", str(exported), "--resume", "--overwrite-tombstones").exit_code == 0
    assert run(target, "info", "/col/ext").exit_code == 0


def test_tx_import_is_all_or_nothing(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    repo = open_repository(str(target), create=True)
    repo.create("/col", ResourceSpec())  # in the way: the import of /col fails
    repo.close()
    before = ocfl_files(target)
    result = run(target, "import", str(exported), "--tx")
    assert result.exit_code == ExitCode.PARTIAL
    assert ocfl_files(target) == before
    # a fresh repository (the rolled-back transaction's staging is still being deleted in the
    # background by the in-process run: removing the tree under it would race that thread)
    assert run(tmp_path / "fresh", "import", str(exported), "--tx", "--verify").exit_code == 0


def test_verify_reports_differences(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    assert run(target, "import", str(exported)).exit_code == 0
    assert run(target, "patch", "/col", "--update",
               f'INSERT DATA {{ <> <{DC}subject> "changed" }}').exit_code == 0
    result = run(target, "--json", "import", str(exported), "--resume", "--verify")
    assert result.exit_code == ExitCode.PARTIAL
    assert "verify: triples differ" in json.loads(result.stdout)["failed_items"][0]["reason"]


# -- BagIt -------------------------------------------------------------------------------------------------


def test_bag_export_with_algorithms_info_and_archives(source_repo: Path, tmp_path: Path) -> None:
    import bagit

    info = tmp_path / "info.txt"
    info.write_text("Contact-Name: Ada\nExternal-Description: a test\n  export\n")
    bag_dir = tmp_path / "bag"
    result = run(source_repo, "export", "/", str(bag_dir), "--bag", "--bag-algorithm", "sha256",
                 "--bag-algorithm", "md5", "--bag-info", str(info), "--archive", "zip")
    assert result.exit_code == 0, result.output
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert set(bag.algorithms) == {"sha256", "md5"}
    assert bag.info["Contact-Name"] == "Ada" and bag.info["External-Description"] == "a test export"
    assert (bag_dir / "data/rest/col.ttl").exists()
    for archive in (tmp_path / "bag.zip",):
        target = tmp_path / f"repo-{archive.suffix}"
        result = run(target, "import", str(archive), "--verify")
        assert result.exit_code == 0, result.output
    result = run(source_repo, "export", "/", str(tmp_path / "tgz"), "--bag", "--archive", "tar.gz")
    assert result.exit_code == 0
    assert run(tmp_path / "r2", "import", str(tmp_path / "tgz.tar.gz")).exit_code == 0
    assert run(source_repo, "export", "/", str(tmp_path / "b"), "--bag-algorithm", "sha1").exit_code == 2
    assert run(source_repo, "export", "/", str(tmp_path / "b"), "--bag", "--bag-algorithm", "crc").exit_code == 2


# -- bad input -----------------------------------------------------------------------------------------------


@pytest.fixture
def empty_target(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    run(target, "init", str(target))
    return target


def refused(target: Path, source: Path, *words: str, code: int = ExitCode.BAD_INPUT) -> None:
    before = ocfl_files(target)
    result = run(target, "import", str(source))
    assert result.exit_code == code, result.output
    for word in words:
        assert word in result.output, result.output
    assert ocfl_files(target) == before


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info, data if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize("bad", [member("../evil.txt"), member("/etc/evil.txt"),
                                 member("bag/link", kind=tarfile.SYMTYPE, link="/etc/passwd")])
def test_archive_members_outside_the_destination_are_refused(empty_target: Path, tmp_path: Path, bad) -> None:
    archive = make_tar(tmp_path / "bad.tar", [member("bag/bagit.txt", b"BagIt-Version: 0.97\n"), bad])
    refused(empty_target, archive, "refusing" if not bad[0].issym() else "link")
    assert not (tmp_path / "evil.txt").exists()


def test_an_archive_expanding_far_beyond_its_size_is_refused(empty_target: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bag/data/zeros.binary", b"\0" * (80 << 20))
    refused(empty_target, archive, "decompression bomb")


@pytest.mark.parametrize("location", ["file:///etc/passwd", "../../../etc/passwd", "/etc/passwd"])
def test_headers_locations_outside_http_are_refused(exported: Path, empty_target: Path, location: str) -> None:
    headers = exported / "rest/col/ext.external.headers"
    headers.write_text(json.dumps({"Content-Location": [location], "Location": [location]}))
    refused(empty_target, exported, location, "not an http(s) URL")


def test_described_binary_without_binary_file(exported: Path, empty_target: Path) -> None:
    (exported / "rest/col/item%3A1/page%7E1.txt.binary").unlink()
    refused(empty_target, exported, "page%7E1.txt.binary", "missing")


def test_malformed_rdf_names_file_and_line(exported: Path, empty_target: Path) -> None:
    file = exported / "rest/col/members.ttl"
    file.write_text(file.read_text() + "\n<a> <b> .\n")
    refused(empty_target, exported, "members.ttl", "line")


def test_unknown_interaction_model(exported: Path, empty_target: Path) -> None:
    headers = exported / "rest/col/members.ttl.headers"
    headers.write_text(json.dumps({"Link": [f'<{LDP}FancyContainer>;rel="type"']}))
    refused(empty_target, exported, "unknown interaction model", "FancyContainer")


def test_names_that_are_not_percent_encoding(exported: Path, empty_target: Path) -> None:
    shutil.copy(exported / "rest/col.ttl", exported / "rest/col/bad%zz.ttl")
    refused(empty_target, exported, "bad%zz", "percent-encoding")


def test_not_an_export(tmp_path: Path, empty_target: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    refused(empty_target, junk, "not an export")
    refused(empty_target, tmp_path / "missing", "does not exist")
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not an archive at all" * 100)
    refused(empty_target, bogus, "not a tar or zip")


def test_headers_that_are_not_json(exported: Path, empty_target: Path) -> None:
    (exported / "rest/col.ttl.headers").write_text("{not json")
    refused(empty_target, exported, "col.ttl.headers", "JSON")


def test_symlink_out_of_an_export_is_refused(exported: Path, empty_target: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.ttl"
    outside.write_text("<http://localhost:8080/rest/col/s> <http://purl.org/dc/elements/1.1/title> \"x\" .")
    os.symlink(outside, exported / "rest/col/s.ttl")
    refused(empty_target, exported, "link outside the export")


# -- versions ---------------------------------------------------------------------------------------------


def test_fedora4_versions_become_dated_ocfl_versions(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    result = run(target, "--json", "import", str(FIXTURES / "4.7.5-export"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["version"] == 4
    repo = open_repository(str(target))
    try:
        # two mementos, the newest equal to the current state: two versions (fcrepo-upgrade-utils' rule)
        versions = repo.versions("/container1")
        assert [v.memento for v in versions] == ["20201015053526", "20201015053947"]
        title = URIRef(DC + "title")
        assert not list(repo.get_rdf("/container1", version=versions[0].id).objects(None, title))
        assert list(repo.get_rdf("/container1", version=versions[1].id).objects(None, title))
        info = repo.info("/container1")
        assert info.created.isoformat() == "2020-10-15T05:35:00.016000+00:00"
        assert info.modified.isoformat() == "2020-10-15T05:39:43.383000+00:00"
        assert info.created_by == "bypassAdmin" and info.modified_by == "bypassAdmin"
        binary = repo.versions("/container1/testbinary")
        assert len(binary) == 2
        assert repo.info("/container1/testbinary", version=binary[0].id).mime_type == "image/png"
    finally:
        repo.close()
    assert run(target, "check").exit_code == 0


def versioned_source(path: Path, states: list[tuple[str, str]]) -> None:
    """/doc with one OCFL version per (date, title), each written at its date."""
    from datetime import datetime

    repo = open_repository(str(path), create=True)
    try:
        for number, (when, title) in enumerate(states):
            stamp = datetime.fromisoformat(when)
            spec = ResourceSpec(graph=graph_of(("info:fedora/doc", DC + "title", title)))
            with repo.dated(datetime.fromisoformat(states[0][0]), stamp):  # type: ignore[attr-defined]
                if number == 0:
                    repo.create("/doc", spec)
                else:
                    repo.replace("/doc", spec)
    finally:
        repo.close()


def test_versions_rule_of_fcrepo_upgrade_utils(tmp_path: Path) -> None:
    source, out = tmp_path / "source", tmp_path / "out"
    versioned_source(source, [("2021-01-01T10:00:00+00:00", "one"), ("2021-01-02T10:00:00+00:00", "two"),
                              ("2021-01-03T10:00:00+00:00", "three")])
    assert run(source, "export", "/doc", str(out)).exit_code == 0
    mementos = sorted(p.name for p in (out / "rest/doc/fcr%3Aversions").glob("*.ttl"))
    assert mementos == ["20210101100000.ttl", "20210102100000.ttl", "20210103100000.ttl"]
    # three mementos, the last equal to the current state: three versions
    assert run(tmp_path / "a", "import", str(out)).exit_code == 0
    repo = open_repository(str(tmp_path / "a"))
    assert [v.memento for v in repo.versions("/doc")] == ["20210101100000", "20210102100000", "20210103100000"]
    repo.close()
    # two mementos and a changed current state: three versions, the last at the current state's date
    (out / "rest/doc/fcr%3Aversions/20210103100000.ttl").unlink()
    assert run(tmp_path / "b", "import", str(out)).exit_code == 0
    repo = open_repository(str(tmp_path / "b"))
    versions = repo.versions("/doc")
    assert [v.memento for v in versions] == ["20210101100000", "20210102100000", "20210103100000"]
    assert [str(t) for t in repo.get_rdf("/doc").objects(None, URIRef(DC + "title"))] == ["three"]
    repo.close()
    # and again: the export of the import names the same mementos
    again = tmp_path / "again"
    assert run(tmp_path / "a", "export", "/doc", str(again)).exit_code == 0
    assert sorted(p.name for p in (again / "rest/doc/fcr%3Aversions").glob("*.ttl")) == mementos


def test_remote_import_carries_the_current_state_and_reports_histories(tmp_path: Path) -> None:
    with start_server(tmp_path / "served", dialect="fedora6") as served:
        result = run(served.url, "--json", "import", str(FIXTURES / "4.7.5-export"))
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert any("versions" in note and "current state" in note for note in report["notes"])
        assert "version" not in report["counts"]
        assert run(served.url, "info", "/container1/testbinary").exit_code == 0


# -- the migration runbook ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_migration_runbook_runs_against_serve(source_repo: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    scripts = Path(sys.executable).parent
    if not (scripts / "fcrctl").exists():
        pytest.skip("fcrctl console script not installed next to this interpreter")
    env = {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}"}
    runbook = Path(__file__).resolve().parent.parent / "examples" / "migrate.sh"
    with start_server(source_repo) as old, start_server(tmp_path / "new", dialect="fedora6") as new:
        done = subprocess.run(["bash", str(runbook), old.url, new.url, str(tmp_path / "work")], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "migrated: 6 resources" in done.stdout
        report = json.loads((tmp_path / "work" / "import-report.json").read_text())
        assert report["failed"] == 0 and report["counts"]["binary"] == 1
        assert run(new.url, "info", "/col/item:1/page~1.txt").exit_code == 0


def test_export_follows_extra_predicates(tmp_path: Path) -> None:
    source = tmp_path / "source"
    repo = open_repository(str(source), create=True)
    repo.create("/other", ResourceSpec())
    repo.create("/a", ResourceSpec(graph=graph_of(("info:fedora/a", DC + "relation", URIRef("info:fedora/other")))))
    repo.close()
    plain, followed = tmp_path / "plain", tmp_path / "followed"
    assert run(source, "export", "/a", str(plain), "--no-versions").exit_code == 0
    assert not (plain / "rest/other.ttl").exists()
    result = run(source, "export", "/a", str(followed), "--no-versions", "--predicates",
                 f"{LDP}contains,{DC}relation")
    assert result.exit_code == 0, result.output
    assert (followed / "rest/other.ttl").exists()


@pytest.mark.parametrize("args", [["--map", "nonsense"], ["--map", "http://localhost:8080/rest,/a", "/b"],
                                  ["--skip-tombstones", "--overwrite-tombstones"],
                                  ["--map", "ftp://old/rest,/a"]])
def test_import_option_mistakes_are_refused(exported: Path, empty_target: Path, args: list[str]) -> None:
    before = ocfl_files(empty_target)
    result = run(empty_target, "import", str(exported), *args)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert ocfl_files(empty_target) == before


def test_tombstones_without_resume(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    assert run(target, "import", str(exported)).exit_code == 0
    assert run(target, "delete", "/col").exit_code == 0
    result = run(target, "--json", "import", str(exported))
    assert result.exit_code == ExitCode.PARTIAL and "tombstone" in result.stdout
    skipped = run(target, "--json", "import", str(exported), "--skip-tombstones")
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout)["skipped"] == 6
    assert run(target, "import", str(exported), "--overwrite-tombstones", "--verify").exit_code == 0
    assert run(target, "info", "/col/item:1/page~1.txt").exit_code == 0
@pytest.mark.parametrize("rel", ["rest/col/item%3A1/page%7E1.txt/fcr%3Aversions/*.binary",
                                 "rest/col/item%3A1/page%7E1.txt/fcr%3Ametadata/fcr%3Aversions/*.ttl",
                                 "rest/col/fcr%3Aversions/*.ttl"])
def test_symlink_out_of_a_versions_directory_is_refused(source_repo: Path, empty_target: Path, tmp_path: Path,
                                                        rel: str) -> None:
    # fcr%3Aversions/ is read beside its resource, not walked with the export: its files need the same check
    out = tmp_path / "out"
    assert run(source_repo, "export", "/", str(out)).exit_code == 0
    outside = tmp_path / "secret"
    outside.write_text('<http://localhost:8080/rest/col> <http://purl.org/dc/elements/1.1/title> "TOP SECRET" .')
    version = next(out.glob(rel))
    version.unlink()
    os.symlink(outside, version)
    refused(empty_target, out, "link outside the export")


def test_headers_nested_beyond_reason_are_bad_input(exported: Path, empty_target: Path) -> None:
    # under the size bound, but deep enough to exhaust the JSON parser's recursion
    (exported / "rest/col.ttl.headers").write_text('{"Link": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(empty_target, exported, "col.ttl.headers", "JSON")
