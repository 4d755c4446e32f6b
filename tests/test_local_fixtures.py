"""Reading what real Fedora 6 wrote: a full (partly invalid) storage root, and per-object
content trees turned into real OCFL objects by our own writer."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.parse
from pathlib import Path

import pytest
from rdflib import URIRef

from fcrctl.errors import Gone, NotFound, ReadOnly
from fcrctl.repository import open_repository
from fcrctl.repository.base import BASIC_CONTAINER, NON_RDF_SOURCE, RdfPrefs, ResourceSpec
from fcrctl.repository.local import LocalRepository, ocfl, ocfl_write
from tests.ocfl_check import assert_valid_ocfl

FIXTURES = Path(__file__).parent / "fixtures" / "fedora6-ocfl"
PCDM_HAS_MEMBER = URIRef("http://pcdm.org/models#hasMember")


def build_repository(where: Path, *object_trees: Path) -> Path:
    """An fcrctl repository whose OCFL objects hold the given Fedora content trees
    (``<quoted id>/vN/...``, each vN the full state of that version)."""
    storage = where / "ocfl-root"
    ocfl.init_storage_root(storage)
    for sub in ("tmp", "staging", "backups"):
        (where / sub).mkdir()
    trees = [t for parent in object_trees for t in sorted(parent.iterdir()) if t.is_dir()]
    ids = {urllib.parse.unquote(t.name) for t in trees}
    if "info:fedora" not in ids:
        root_headers = {"id": "info:fedora", "parent": "info:fedora", "stateToken": "0" * 32,
                        "interactionModel": BASIC_CONTAINER, "createdDate": "2020-01-01T00:00:00Z",
                        "lastModifiedDate": "2020-01-01T00:00:00Z", "archivalGroup": False, "objectRoot": True,
                        "deleted": False, "contentPath": "fcr-container.nt", "headersVersion": "1.0"}
        _write_object(storage, where / "tmp", "info:fedora", [{
            ".fcrepo/fcr-root.json": json.dumps(root_headers).encode(), "fcr-container.nt": b""}])
    for tree in trees:
        versions = sorted((v for v in tree.iterdir() if v.is_dir()), key=lambda v: int(v.name[1:]))
        states = [{f.relative_to(v).as_posix(): f.read_bytes() for f in v.rglob("*") if f.is_file()}
                  for v in versions]
        _write_object(storage, where / "tmp", urllib.parse.unquote(tree.name), states)
    return where


def _write_object(storage: Path, tmp: Path, object_id: str, states: list[dict[str, bytes]]) -> None:
    for state in states:
        prepared = ocfl_write.prepare_version(storage, tmp, object_id,
                                              {k: ocfl.NewFile(data=v) for k, v in state.items()})
        ocfl_write.install_version(prepared, set())


def test_fedora_storage_root_with_invalid_objects(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "fedora-root"
    shutil.copytree(FIXTURES / "test-rebuild-invalid", root)
    repo = open_repository(str(root))
    try:
        assert not repo.capabilities.writable
        # /binary and the root are valid and served
        info = repo.info("/binary")
        assert info.model == NON_RDF_SOURCE and info.size == 4 and info.mime_type == "text/plain"
        with repo.open_binary("/binary") as content:
            data = content.stream.read()
        assert hashlib.sha512(data).hexdigest() == info.digests["sha512"]
        assert [c.path for c in repo.children("/")] == ["/binary"]
        # info:fedora/test has a root inventory that fails its sidecar: reported precisely, skipped
        invalid = repo.invalid_objects  # type: ignore[attr-defined]
        assert [(i["object"], i["id"]) for i in invalid] == [
            ("863/b00/6d0/863b006d0a5f65b808669f030765a590ae1fa9b1cfc34bd5a1973bdc5907adf8", None)]
        assert "inventory digest mismatch" in invalid[0]["reason"]
        assert any("863b006d0a5f" in r.getMessage() for r in caplog.records)
        with pytest.raises(NotFound):
            repo.info("/test")
        with pytest.raises(ReadOnly):
            repo.create("/new", ResourceSpec())
    finally:
        repo.close()
    # nothing was written into Fedora's tree
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == sorted(
        p.relative_to(FIXTURES / "test-rebuild-invalid") for p in (FIXTURES / "test-rebuild-invalid").rglob("*"))


def test_fedora_object_trees_with_archival_group(tmp_path: Path) -> None:
    where = build_repository(tmp_path / "repo", FIXTURES / "test-rebuild-ocfl" / "objects")
    assert_valid_ocfl(where)
    with LocalRepository.open(str(where)) as repo:
        assert repo.invalid_objects == []
        top = {c.path for c in repo.children("/")}
        assert top == {"/archival-group", "/binary", "/test"}
        ag = repo.info("/archival-group")
        assert ag.archival_group
        inside = {c.path: c for c in repo.children("/archival-group")}
        assert set(inside) == {"/archival-group/binary", "/archival-group/container", "/archival-group/test"}
        assert inside["/archival-group/binary"].is_binary
        files = FIXTURES / "test-rebuild-ocfl/objects/info%3Afedora%2Farchival-group/v1"
        with repo.open_binary("/archival-group/binary") as content:
            assert content.stream.read() == (files / "binary").read_bytes()
        assert repo.info("/archival-group/binary").digests["sha512"] == hashlib.sha512(
            (files / "binary").read_bytes()).hexdigest()
        # /test is at v2 with a title; its deleted child is a tombstone
        assert "A new title" in {str(o) for o in repo.get_rdf("/test").objects()}
        assert {c.path for c in repo.children("/test")} == {"/test/child", "/test/nested-binary",
                                                          "/test/nested-archival-group"}
        with pytest.raises(Gone):
            repo.info("/test/deleted-child")
        assert [v.id for v in repo.versions("/test")] == ["v1", "v2"]
        # writing inside an archival group lands in the group's object
        repo.create("/archival-group/container/new", ResourceSpec())
        assert repo.versions("/archival-group/container/new")[-1].id == "v2"
        agdir = where / "ocfl-root" / ocfl.object_rel("info:fedora/archival-group")
        assert (agdir / "v2/content/.fcrepo/container/new.json").exists()
    assert_valid_ocfl(where)


def test_fedora_membership_trees(tmp_path: Path) -> None:
    where = build_repository(tmp_path / "repo", FIXTURES / "test-rebuild-membership")
    with LocalRepository.open(str(where)) as repo:
        direct = repo.get_rdf("/direct_test")
        assert (URIRef("info:fedora/direct_test"), PCDM_HAS_MEMBER,
                URIRef("info:fedora/direct_test/direct/direct_member")) in direct
        indirect = repo.get_rdf("/work_container")
        assert (URIRef("info:fedora/work_container"), PCDM_HAS_MEMBER, URIRef("info:fedora/work_member")) in indirect
        without = repo.get_rdf("/work_container", prefs=RdfPrefs(membership=False))
        assert (URIRef("info:fedora/work_container"), PCDM_HAS_MEMBER, URIRef("info:fedora/work_member")) not in without
        inbound = repo.get_rdf("/work_member", prefs=RdfPrefs(inbound=True))
        assert (URIRef("info:fedora/work_container/indirect/member_proxy"),
                URIRef("http://www.openarchives.org/ore/terms/proxyFor"), URIRef("info:fedora/work_member")) in inbound


def test_fedora_archival_group_with_versions(tmp_path: Path) -> None:
    trees = tmp_path / "trees"
    shutil.copytree(FIXTURES / "reindex-test-ag", trees / "info%3Afedora%2Farchival-group")
    where = build_repository(tmp_path / "repo", trees)
    with LocalRepository.open(str(where)) as repo:
        assert [c.path for c in repo.children("/archival-group")] == ["/archival-group/child1"]
        with pytest.raises(NotFound):
            repo.info("/archival-group/child1", version="v1")
        assert repo.info("/archival-group/child1").model == BASIC_CONTAINER


def test_object_whose_inventory_names_a_missing_headers_file_is_reported(tmp_path: Path) -> None:
    where = build_repository(tmp_path / "repo", FIXTURES / "test-rebuild-ocfl" / "objects")
    broken = where / "ocfl-root" / ocfl.object_rel("info:fedora/binary") / "v1/content/.fcrepo/fcr-root.json"
    broken.unlink()
    with LocalRepository.open(str(where)) as repo:
        invalid = repo.invalid_objects
        assert [(i["id"], "missing" in str(i["reason"])) for i in invalid] == [("info:fedora/binary", True)]
        with pytest.raises(NotFound):
            repo.info("/binary")
        assert repo.info("/test/nested-binary").size == 4  # the rest keeps being served
        # embedded children come along when asked for
        g = repo.get_rdf("/", prefs=RdfPrefs(embed_children=True))
        assert (URIRef("info:fedora/test"), URIRef("http://purl.org/dc/elements/1.1/title"), None) in g
