"""LocalRepository behaviour that the contract suite does not pin down: on-disk layout,
index rebuilds, read-only roots, versions, membership, move/copy and purge details."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from fcrctl import rdf
from fcrctl.errors import (
    BadInput,
    ChecksumMismatch,
    Conflict,
    Gone,
    NotARepository,
    NotFound,
    PreconditionFailed,
    ReadOnly,
    Unsupported,
)
from fcrctl.repository import open_repository
from fcrctl.repository.base import Conditions, RdfPrefs, ResourceSpec
from fcrctl.repository.local import LocalRepository
from fcrctl.repository.local.ocfl import object_rel
from tests.ocfl_check import assert_valid_ocfl

DC_TITLE = URIRef("http://purl.org/dc/elements/1.1/title")
PCDM_HAS_MEMBER = "http://pcdm.org/models#hasMember"


def titled(path: str, title: str) -> ResourceSpec:
    g = Graph()
    g.add((URIRef(rdf.ROOT_ID + path), DC_TITLE, Literal(title)))
    return ResourceSpec(graph=g)


def titles(repo: LocalRepository, path: str, **kw: object) -> set[str]:
    return {str(o) for o in repo.get_rdf(path, **kw).objects(URIRef(rdf.ROOT_ID + path), DC_TITLE)}  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path):
    r = LocalRepository.open(str(tmp_path / "repo"), create=True)
    yield r
    r.close()
    assert_valid_ocfl(tmp_path / "repo")


def test_init_layout_matches_fedora6(tmp_path: Path, repo: LocalRepository) -> None:
    root = tmp_path / "repo" / "ocfl-root"
    assert (root / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    assert json.loads((root / "ocfl_layout.json").read_text())["extension"] == "0004-hashed-n-tuple-storage-layout"
    config = json.loads((root / "extensions/0004-hashed-n-tuple-storage-layout/config.json").read_text())
    assert config == {"extensionName": "0004-hashed-n-tuple-storage-layout", "digestAlgorithm": "sha256",
                      "tupleSize": 3, "numberOfTuples": 3, "shortObjectRoot": False}
    # the root container lives where Fedora 6 puts info:fedora
    obj = root / "141/964/af8/141964af842132b7a706ed010474c410514b472acc0d7d8f805c23e748578b8b"
    inventory = json.loads((obj / "inventory.json").read_text())
    assert inventory["id"] == "info:fedora" and inventory["type"] == "https://ocfl.io/1.1/spec/#inventory"
    assert inventory["versions"]["v1"]["user"] == {"name": "fcrctl", "address": "info:fedora/fcrctl"}
    sidecar = (obj / "inventory.json.sha512").read_text()
    assert sidecar == hashlib.sha512((obj / "inventory.json").read_bytes()).hexdigest() + " inventory.json\n"
    for sub in ("staging", "backups", "tmp", "lock", "index.sqlite"):
        assert (tmp_path / "repo" / sub).exists()


def test_container_and_binary_files_as_fedora_writes_them(tmp_path: Path, repo: LocalRepository) -> None:
    repo.create("/c", titled("/c", "hello"))
    repo.create("/c/data.txt", ResourceSpec(content=io.BytesIO(b"abc"), mime_type="text/plain", filename="d.txt"))
    obj = tmp_path / "repo/ocfl-root" / object_rel("info:fedora/c")
    expected = b'<info:fedora/c> <http://purl.org/dc/elements/1.1/title> "hello" .\n'
    assert (obj / "v1/content/fcr-container.nt").read_bytes() == expected
    h = json.loads((obj / "v1/content/.fcrepo/fcr-root.json").read_text())
    assert h["id"] == "info:fedora/c" and h["parent"] == "info:fedora" and h["objectRoot"] is True
    assert h["contentPath"] == "fcr-container.nt" and h["headersVersion"] == "1.0"
    bobj = tmp_path / "repo/ocfl-root" / object_rel("info:fedora/c/data.txt")
    content = bobj / "v1/content"
    assert (content / "data.txt").read_bytes() == b"abc"
    bh = json.loads((content / ".fcrepo/fcr-root.json").read_text())
    assert bh["mimeType"] == "text/plain" and bh["filename"] == "d.txt" and bh["contentSize"] == 3
    assert f"urn:sha-512:{hashlib.sha512(b'abc').hexdigest()}" in bh["digests"]
    dh = json.loads((content / ".fcrepo/fcr-root~fcr-desc.json").read_text())
    assert dh["id"] == "info:fedora/c/data.txt/fcr:metadata" and dh["contentPath"] == "data.txt~fcr-desc.nt"


def test_create_errors(repo: LocalRepository) -> None:
    repo.create("/a", titled("/a", "a"))
    with pytest.raises(Conflict):
        repo.create("/a", titled("/a", "again"))
    with pytest.raises(NotFound):
        repo.create("/missing/child", ResourceSpec())
    repo.create("/x/y/z", ResourceSpec(), parents=True)
    assert repo.info("/x/y").has_children
    repo.create("/bin", ResourceSpec(content=io.BytesIO(b"1")))
    with pytest.raises(Conflict, match="children of a binary"):
        repo.create("/bin/child", ResourceSpec())
    with pytest.raises(BadInput):
        repo.create("/m", ResourceSpec(model="weird"))


def test_create_child_slug_and_generated(repo: LocalRepository) -> None:
    first = repo.create_child("/", ResourceSpec(), slug="item")
    assert first.path == "/item"
    second = repo.create_child("/", ResourceSpec(), slug="item")
    assert second.path != "/item" and second.path.startswith("/")
    assert {i.path for i in repo.children("/")} == {"/item", second.path}


def test_digest_mismatch_stores_nothing(tmp_path: Path, repo: LocalRepository) -> None:
    before = sorted(p for p in (tmp_path / "repo/ocfl-root").rglob("*"))
    spec = ResourceSpec(content=io.BytesIO(b"data"), digests={"sha1": "0" * 40})
    with pytest.raises(ChecksumMismatch, match="0000000000"):
        repo.create("/bad", spec)
    with pytest.raises(NotFound):
        repo.info("/bad")
    assert sorted(p for p in (tmp_path / "repo/ocfl-root").rglob("*")) == before
    assert list((tmp_path / "repo/tmp").iterdir()) == []
    with pytest.raises(BadInput, match="unsupported digest"):
        repo.create("/bad", ResourceSpec(content=io.BytesIO(b"d"), digests={"crc32": "00"}))
    ok = repo.create("/ok", ResourceSpec(content=io.BytesIO(b"data"),
                                         digests={"sha-256": hashlib.sha256(b"data").hexdigest()}))
    assert ok.digests["md5"] == hashlib.md5(b"data").hexdigest()


def test_replace_conditions_and_versions(repo: LocalRepository) -> None:
    info = repo.create("/r", titled("/r", "one"))
    with pytest.raises(PreconditionFailed):
        repo.replace("/r", titled("/r", "two"), conditions=Conditions(if_match='"nope"'))
    assert titles(repo, "/r") == {"one"}
    new, created = repo.replace("/r", titled("/r", "two"), conditions=Conditions(if_match=f'W/"{info.etag}"'))
    assert not created and new.etag != info.etag and titles(repo, "/r") == {"two"}
    old = info.modified.replace(year=2000)
    with pytest.raises(PreconditionFailed):
        repo.replace("/r", titled("/r", "three"), conditions=Conditions(if_unmodified_since=old))
    with pytest.raises(Conflict, match="interaction model"):
        repo.replace("/r", ResourceSpec(content=io.BytesIO(b"x")))
    _, created = repo.replace("/fresh", titled("/fresh", "f"))
    assert created
    v = repo.create_version("/r", label="before three")
    repo.replace("/r", titled("/r", "three"))
    versions = repo.versions("/r")
    assert [x.id for x in versions] == ["v1", "v2", "v3", "v4"]
    assert versions[2].label == "before three"
    assert titles(repo, "/r", version="v1") == {"one"}
    assert titles(repo, "/r", version=v.id) == {"two"}
    assert titles(repo, "/r", version=versions[-1].memento) == {"three"}
    repo.revert("/r", "v1")
    assert titles(repo, "/r") == {"one"}
    with pytest.raises(Unsupported, match="immutable"):
        repo.delete_version("/r", "v1")
    with pytest.raises(NotFound):
        repo.info("/r", version="v99")


def test_binary_versions_dedupe_and_ranges(tmp_path: Path, repo: LocalRepository) -> None:
    data = os.urandom(3000)
    repo.create("/b", ResourceSpec(content=io.BytesIO(data), mime_type="application/x-test"))
    repo.patch("/b", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "bin" }')
    obj = tmp_path / "repo/ocfl-root" / object_rel("info:fedora/b")
    # the unchanged content is not stored twice
    assert not (obj / "v2/content/b").exists()
    with repo.open_binary("/b", byte_range=(10, 19)) as c:
        assert c.stream.read() == data[10:20] and c.length == 10
    with repo.open_binary("/b", byte_range=(2990, None)) as c:
        assert c.stream.read() == data[2990:]
    with pytest.raises(BadInput, match="not satisfiable"):
        repo.open_binary("/b", byte_range=(5000, None))
    assert titles(repo, "/b") == {"bin"}
    repo.patch("/b/fcr:metadata", 'DELETE { <> <http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#hasMimeType> ?m }'
               ' INSERT { <> <http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#hasMimeType> "text/csv" ;'
               ' <http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#filename> "x.csv" } WHERE { OPTIONAL { <> '
               '<http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#hasMimeType> ?m } }')
    info = repo.info("/b")
    assert info.mime_type == "text/csv" and info.filename == "x.csv" and info.size == 3000
    with repo.open_binary("/b", version="v1") as c:
        assert c.stream.read() == data
    with pytest.raises(BadInput):
        repo.open_binary("/")


def test_external_content(tmp_path: Path, repo: LocalRepository) -> None:
    source = tmp_path / "outside.txt"
    source.write_bytes(b"external bytes")
    repo.create("/copy", ResourceSpec(external_url=source.as_uri(), external_handling="copy"))
    source.write_bytes(b"changed later!")
    with repo.open_binary("/copy") as c:
        assert c.stream.read() == b"external bytes"
    info = repo.create("/proxy", ResourceSpec(external_url=source.as_uri(), external_handling="proxy"))
    assert info.external_handling == "proxy" and info.external_url == source.as_uri()
    with repo.open_binary("/proxy") as c:
        assert c.stream.read() == b"changed later!"
    repo.create("/web", ResourceSpec(external_url="http://example.org/x", external_handling="redirect"))
    with pytest.raises(Unsupported, match="example.org"):
        repo.open_binary("/web")


def test_delete_tombstones_purge(tmp_path: Path, repo: LocalRepository) -> None:
    repo.create("/t/a/b", ResourceSpec(), parents=True)
    repo.delete("/t/a")
    for p in ("/t/a", "/t/a/b"):
        with pytest.raises(Gone, match="fcrctl purge"):
            repo.info(p)
    assert [i.path for i in repo.children("/t")] == []
    with pytest.raises(Gone):
        repo.create("/t/a", ResourceSpec())
    h = json.loads((tmp_path / "repo/ocfl-root" / object_rel("info:fedora/t/a") / "v2/content/.fcrepo/fcr-root.json")
                   .read_text())
    assert h["deleted"] is True and h["digests"] == [] and "contentPath" not in h
    with pytest.raises(Conflict, match="delete it first"):
        repo.purge("/t")
    with pytest.raises(NotFound):
        repo.purge("/nothing")
    repo.purge("/t/a")
    assert not (tmp_path / "repo/ocfl-root" / object_rel("info:fedora/t/a")).exists()
    repo.create("/t/a", ResourceSpec())
    assert repo.info("/t/a").path == "/t/a"


def test_move_and_copy_rewrite_ids(repo: LocalRepository) -> None:
    repo.create("/src", titled("/src", "s"))
    g = Graph()
    g.add((URIRef("info:fedora/src/child"), URIRef("http://example.org/sibling"), URIRef("info:fedora/src")))
    repo.create("/src/child", ResourceSpec(graph=g))
    repo.create("/src/file", ResourceSpec(content=io.BytesIO(b"123")))
    repo.create("/dst", ResourceSpec())
    with pytest.raises(Conflict):
        repo.copy("/src", "/dst")
    with pytest.raises(NotFound):
        repo.copy("/src", "/nope/here")
    repo.copy("/src", "/copy")
    assert titles(repo, "/copy") == {"s"} and titles(repo, "/src") == {"s"}
    moved = repo.move("/src", "/dst/moved")
    assert moved.path == "/dst/moved"
    child = repo.get_rdf("/dst/moved/child")
    assert (URIRef("info:fedora/dst/moved/child"), URIRef("http://example.org/sibling"),
            URIRef("info:fedora/dst/moved")) in child
    with repo.open_binary("/dst/moved/file") as c:
        assert c.stream.read() == b"123"
    with pytest.raises(Gone):
        repo.info("/src/file")
    with pytest.raises(NotFound):
        repo.move("/src-missing", "/x")


def test_membership_and_inbound(repo: LocalRepository) -> None:
    repo.create("/work", ResourceSpec())
    direct = rdf.parse(f"<> <http://www.w3.org/ns/ldp#membershipResource> <{rdf.ROOT_ID}/work> ; "
                       f"<http://www.w3.org/ns/ldp#hasMemberRelation> <{PCDM_HAS_MEMBER}> .".encode(),
                       "text/turtle", base="info:fedora/work/members")
    repo.create("/work/members", ResourceSpec(graph=direct, model="direct"))
    repo.create("/work/members/m1", ResourceSpec())
    repo.create("/ref", ResourceSpec(graph=rdf.parse(b"<> <http://example.org/about> <info:fedora/work> .",
                                                     "text/turtle", base="info:fedora/ref")))
    g = repo.get_rdf("/work", prefs=RdfPrefs(inbound=True))
    assert (URIRef("info:fedora/work"), URIRef(PCDM_HAS_MEMBER), URIRef("info:fedora/work/members/m1")) in g
    assert (URIRef("info:fedora/ref"), URIRef("http://example.org/about"), URIRef("info:fedora/work")) in g
    g = repo.get_rdf("/work", prefs=RdfPrefs(membership=False, containment=False))
    assert not list(g.objects(URIRef("info:fedora/work"), URIRef(PCDM_HAS_MEMBER)))
    assert not list(g.objects(URIRef("info:fedora/work"), URIRef("http://www.w3.org/ns/ldp#contains")))


def test_server_managed_triples_refused_or_stripped(repo: LocalRepository) -> None:
    g = Graph()
    g.add((URIRef("info:fedora/s"), URIRef("http://fedora.info/definitions/v4/repository#created"), Literal("x")))
    with pytest.raises(Conflict):
        repo.create("/s", ResourceSpec(graph=g))
    repo.create("/s", ResourceSpec(graph=g, lenient=True))
    assert "x" not in {str(o) for o in repo.get_rdf("/s", prefs=RdfPrefs(server_managed=False)).objects()}


def test_index_deleted_is_rebuilt_with_same_content(tmp_path: Path) -> None:
    where = tmp_path / "repo"
    with LocalRepository.open(str(where), create=True) as r:
        r.create("/a", titled("/a", "A"))
        r.create("/a/f", ResourceSpec(content=io.BytesIO(b"f")))
        r.delete("/a/f")
        before = {i.path: i.etag for i in r.children("/", recursive=True)}
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (where / name).unlink(missing_ok=True)
    with LocalRepository.open(str(where)) as r:
        assert {i.path: i.etag for i in r.children("/", recursive=True)} == before
        assert titles(r, "/a") == {"A"}
        with pytest.raises(Gone):
            r.info("/a/f")
        assert r.reindex() == 3


def test_not_a_repository_and_read_only(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk/file").write_text("x")
    with pytest.raises(NotARepository, match="fcrctl init"):
        open_repository(str(tmp_path / "junk"))
    with pytest.raises(NotARepository):
        open_repository(str(tmp_path / "missing"))
    where = tmp_path / "repo"
    with LocalRepository.open(str(where), create=True) as r:
        r.create("/a", titled("/a", "A"))
    modes = {}
    for p in [where, *where.rglob("*")]:
        modes[p] = p.stat().st_mode
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        if os.access(where, os.W_OK):
            pytest.skip("running as root: permissions do not make a directory read-only")
        with LocalRepository.open(str(where)) as r:
            assert not r.capabilities.writable
            assert titles(r, "/a") == {"A"}
            with pytest.raises(ReadOnly, match="read-only"):
                r.create("/b", ResourceSpec())
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_children_stream_depth_first_in_batches(repo: LocalRepository) -> None:
    for name in ("a/c1/x", "a/c0", "a-b", "a/c2"):
        repo.create("/" + name, ResourceSpec(), parents=True)
    assert [i.path for i in repo.children("/", recursive=True)] == ["/a", "/a/c0", "/a/c1", "/a/c1/x", "/a/c2", "/a-b"]
    assert [r.path for r in repo._index.children("/a", batch=1)] == ["/a/c0", "/a/c1", "/a/c2"]  # noqa: SLF001
    stream = repo.children("/a")
    assert next(stream).path == "/a/c0"
    repo.delete("/a/c1")  # writing while a listing is open is fine
    assert [i.path for i in stream][-1] == "/a/c2"


def test_archival_group_is_one_ocfl_object(tmp_path: Path, repo: LocalRepository) -> None:
    ag = repo.create("/ag", ResourceSpec(archival_group=True))
    assert ag.archival_group
    repo.create("/ag/part", titled("/ag/part", "p"))
    repo.create("/ag/part/file", ResourceSpec(content=io.BytesIO(b"in the group")))
    root = tmp_path / "repo/ocfl-root"
    assert not (root / object_rel("info:fedora/ag/part")).exists()
    obj = root / object_rel("info:fedora/ag")
    inventory = json.loads((obj / "inventory.json").read_text())
    logical = {p for paths_ in inventory["versions"][inventory["head"]]["state"].values() for p in paths_}
    assert {".fcrepo/fcr-root.json", "fcr-container.nt", ".fcrepo/part.json", "part/fcr-container.nt",
            ".fcrepo/part/file.json", "part/file", "part/file~fcr-desc.nt",
            ".fcrepo/part/file~fcr-desc.json"} <= logical
    with pytest.raises(Conflict, match="nested"):
        repo.create("/ag/inner", ResourceSpec(archival_group=True))
    assert titles(repo, "/ag/part") == {"p"}
    repo.replace("/ag/part", titled("/ag/part", "q"))
    assert titles(repo, "/ag/part") == {"q"} and titles(repo, "/ag/part", version="v2") == {"p"}
    with repo.open_binary("/ag/part/file") as c:
        assert c.stream.read() == b"in the group"
    repo.delete("/ag/part/file")
    with pytest.raises(Gone):
        repo.info("/ag/part/file")
    repo.purge("/ag/part/file")
    with pytest.raises(NotFound):
        repo.info("/ag/part/file")
    repo.delete("/ag")
    repo.purge("/ag")
    assert not obj.exists()


def test_replace_binary_keeps_description_and_if_none_match(repo: LocalRepository) -> None:
    repo.create("/b", ResourceSpec(content=io.BytesIO(b"one"), mime_type="text/plain"))
    repo.patch("/b", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "described" }')
    info, created = repo.replace("/b", ResourceSpec(content=io.BytesIO(b"two!"), mime_type="text/x-new"))
    assert not created and info.size == 4 and info.mime_type == "text/x-new"
    assert titles(repo, "/b") == {"described"}
    with pytest.raises(PreconditionFailed):
        repo.replace("/b", ResourceSpec(content=io.BytesIO(b"3")), conditions=Conditions(if_none_match="*"))
    g = Graph()
    g.add((URIRef("info:fedora/b"), DC_TITLE, Literal("replaced")))
    repo.replace_description("/b/fcr:metadata", g)
    assert titles(repo, "/b") == {"replaced"}
    with repo.open_binary("/b") as c:
        assert c.stream.read() == b"two!"


def test_move_inside_an_archival_group_and_odd_slugs(repo: LocalRepository) -> None:
    repo.create("/ag", ResourceSpec(archival_group=True))
    repo.create("/ag/a", titled("/ag/a", "a"))
    repo.move("/ag/a", "/ag/b")
    assert titles(repo, "/ag/b") == {"a"}
    with pytest.raises(Gone):
        repo.info("/ag/a")
    odd = repo.create_child("/", ResourceSpec(), slug="x/y")
    assert odd.path.count("/") == 1
    with pytest.raises(NotFound):
        repo.children("/nope")


def test_listing_triples_are_the_graphs_and_skip_nothing_stored(repo: LocalRepository) -> None:
    """rdf_triples (the server's N-Triples listings) yields what get_rdf holds: embedded children
    with their descriptions, a described binary, an empty description, a container with children."""
    repo.create("/c", ResourceSpec())
    repo.create("/c/plain", ResourceSpec(content=io.BytesIO(b"x"), binary=True))
    repo.create("/c/b", ResourceSpec(content=io.BytesIO(b"y"), binary=True))
    described = Graph()
    described.add((URIRef(rdf.ROOT_ID + "/c/b"), DC_TITLE, Literal("a binary")))
    repo.replace_description("/c/b/fcr:metadata", described)
    repo.create("/c/sub", titled("/c/sub", "a container"))
    repo.create("/c/sub/x", ResourceSpec())
    prefs = RdfPrefs(embed_children=True)
    graph = repo.get_rdf("/c", prefs=prefs)
    assert set(repo.rdf_triples("/c", prefs=prefs)) == set(graph)
    assert {str(o) for o in graph.objects(URIRef(rdf.ROOT_ID + "/c/b"), DC_TITLE)} == {"a binary"}
    assert {str(o) for o in graph.objects(URIRef(rdf.ROOT_ID + "/c/sub"), DC_TITLE)} == {"a container"}
    assert (URIRef(rdf.ROOT_ID + "/c"), URIRef(rdf.LDP + "contains"), URIRef(rdf.ROOT_ID + "/c/sub")) in graph
    assert repo.info("/c/sub").has_children and not repo.info("/c/plain").has_children
    with pytest.raises(NotFound):
        repo.rdf_triples("/nowhere")  # errors about the resource itself come at once, not at next()


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2020-06-01T10:00:00.123456789Z", "2020-06-01T10:00:00.123456+00:00"),  # Fedora 6: nanoseconds
        ("2020-06-01T10:00:00.1Z", "2020-06-01T10:00:00.100000+00:00"),
        ("2020-06-01T10:00:00Z", "2020-06-01T10:00:00+00:00"),
        ("2020-06-01T12:00:00.5+02:00", "2020-06-01T12:00:00.500000+02:00"),
        ("2020-06-01T10:00:00", "2020-06-01T10:00:00+00:00"),  # no zone: UTC
        (None, "1970-01-01T00:00:00+00:00"),
    ],
)
def test_header_timestamps_as_fedora_writes_them(stored: str | None, expected: str) -> None:
    from fcrctl.repository.local.headers import parse_time

    assert parse_time(stored).isoformat() == expected
