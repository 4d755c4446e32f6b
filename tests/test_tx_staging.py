"""Local transactions stage new objects as records (no OCFL folder until commit): reads, rewrites,
versions, purges, archival groups and failures inside a transaction, and what commit builds."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fcrctl.errors import CorruptData, Gone, NotFound
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import LocalRepository, ocfl
from fcrctl.repository.local.index import Index, ObjectEntries, Row
from fcrctl.repository.local.store import PARALLEL_FROM
from fcrctl.repository.local.txdir import TxDir
from tests.contract.helpers import binary, container, titles
from tests.ocfl_check import assert_valid_ocfl


def _objects(root: Path) -> list[Path]:
    return list(ocfl.iter_object_dirs(root)) if root.exists() else []


def _inventory(where: Path, path: str) -> dict:
    return ocfl.read_inventory(where / "ocfl-root" / ocfl.object_rel("info:fedora" + path))


def test_new_objects_are_records_until_commit_and_one_version_after(where: Path) -> None:
    payload = os.urandom(5000)
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            inside.create("/a", container("/a", "first"))
            inside.replace("/a", container("/a", "second"))  # a second write to a staged new object
            inside.create("/a/bin", binary(payload, filename="x.bin"))
            inside.create("/a/same", binary(payload))  # same content: one blob
            inside.create("/tmp", container("/tmp"))
            inside.delete("/tmp")
            inside.purge("/tmp")
            staging = where / "staging" / info.id
            assert _objects(staging / "root") == []  # nothing built while staging
            assert titles(inside.get_rdf("/a"), "/a") == {"second"}
            with inside.open_binary("/a/bin") as content:
                assert content.stream.read() == payload
            with inside.open_binary("/a/bin", byte_range=(10, 19)) as content:
                assert content.stream.read() == payload[10:20]
            assert inside.info("/a/bin").size == len(payload)
            assert [v.id for v in inside.versions("/a")] == ["v1"]
            assert titles(inside.get_rdf("/a", version="v1"), "/a") == {"second"}
            assert inside.fixity(inside.info("/a/bin")).outcome == "SUCCESS"
            with pytest.raises(NotFound):
                inside.info("/tmp")
            changed = set(repo.transaction_status(info.id).changed or [])
            assert {"/a", "/a/bin", "/a/same"} <= changed and "/tmp" not in changed
            with pytest.raises(NotFound):
                repo.info("/a")
        repo.commit_transaction(info.id)
        assert titles(repo.get_rdf("/a"), "/a") == {"second"}
        with repo.open_binary("/a/same") as content:
            assert content.stream.read() == payload
        assert repo.info("/a/bin").filename == "x.bin"
        for path in ("/a", "/a/bin", "/a/same"):
            inventory = _inventory(where, path)
            assert list(inventory["versions"]) == ["v1"]
            assert inventory["versions"]["v1"]["message"] == f"transaction {info.id}"
        with pytest.raises(NotFound):
            repo.info("/tmp")
        assert not (where / "ocfl-root" / ocfl.object_rel("info:fedora/tmp")).exists()
    assert_valid_ocfl(where)


def test_revert_create_version_and_tombstone_of_a_staged_object(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            inside.create("/r", container("/r", "one"))
            inside.create_version("/r", label="labelled")
            inside.revert("/r", "v1")
            assert titles(inside.get_rdf("/r"), "/r") == {"one"}
            inside.create("/gone", container("/gone"))
            inside.delete("/gone")
            with pytest.raises(Gone):
                inside.info("/gone")
        repo.commit_transaction(info.id)
        assert titles(repo.get_rdf("/r"), "/r") == {"one"}
        with pytest.raises(Gone):
            repo.info("/gone")  # the tombstone is committed, as a new object's only version
        assert list(_inventory(where, "/gone")["versions"]) == ["v1"]
    assert_valid_ocfl(where)


def test_archival_group_built_once_with_its_members(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            inside.create("/ag", ResourceSpec(archival_group=True))
            for i in range(5):
                inside.create(f"/ag/m{i}", binary(f"member {i}".encode()))
            inside.replace("/ag/m0", binary(b"changed"))
            with inside.open_binary("/ag/m3") as content:
                assert content.stream.read() == b"member 3"
        repo.commit_transaction(info.id)
        with repo.open_binary("/ag/m0") as content:
            assert content.stream.read() == b"changed"
        assert {c.path for c in repo.children("/ag")} == {f"/ag/m{i}" for i in range(5)}
        assert list(_inventory(where, "/ag")["versions"]) == ["v1"]
        assert _objects(where / "ocfl-root") and len(_objects(where / "ocfl-root")) == 2  # root + the group
    assert_valid_ocfl(where)


def test_many_objects_mixed_with_existing_ones_commit_together(where: Path) -> None:
    count = PARALLEL_FROM * 3  # built on threads
    with LocalRepository.open(str(where)) as repo:
        repo.create("/old", container("/old", "before"))
        repo.create("/batch", container("/batch"))
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            for i in range(count):
                inside.create(f"/batch/{i}", container(f"/batch/{i}", f"item {i}"))
            inside.replace("/old", container("/old", "after"))
        repo.commit_transaction(info.id)
        assert sum(1 for _ in repo.children("/batch")) == count
        assert titles(repo.get_rdf("/batch/7"), "/batch/7") == {"item 7"}
        assert titles(repo.get_rdf("/old"), "/old") == {"after"}
        assert list(_inventory(where, "/old")["versions"]) == ["v1", "v2"]
        namaste = where / "ocfl-root" / ocfl.object_rel("info:fedora/batch/3") / ocfl.OBJECT_NAMASTE
        assert namaste.read_bytes() == b"ocfl_object_1.1\n"
        assert not any(p.name.startswith("namaste-") for p in (where / "tmp").iterdir())
    assert_valid_ocfl(where)


def test_lost_staged_content_fails_the_commit_and_applies_nothing(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            inside.create("/c", container("/c"))
            inside.create("/big", binary(os.urandom(2000)))
        blobs = list((where / "staging" / info.id / "blobs").iterdir())
        assert len(blobs) == 1  # the spooled upload; small content stays in the staging index
        blobs[0].unlink()
        with pytest.raises(CorruptData, match="roll it back"):
            repo.commit_transaction(info.id)
        with pytest.raises(NotFound):
            repo.info("/c")
        assert repo.transaction_status(info.id).status == "open"
        meta = json.loads((where / "staging" / info.id / "tx.json").read_text())
        assert meta["status"] == "open"
        repo.rollback_transaction(info.id)
        assert not (where / "staging" / info.id / "blobs").exists()
    assert_valid_ocfl(where)


def test_object_created_outside_meanwhile_is_a_conflict(where: Path) -> None:
    from fcrctl.errors import Conflict

    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            inside.create("/both", container("/both", "inside"))
        repo.create("/both", container("/both", "outside"))
        with pytest.raises(Conflict, match="/both"):
            repo.commit_transaction(info.id)
        assert titles(repo.get_rdf("/both"), "/both") == {"outside"}
        repo.rollback_transaction(info.id)
    assert_valid_ocfl(where)


def test_staging_of_an_older_fcrctl_is_refused_not_half_committed(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        (where / "staging" / info.id / "touched.jsonl").write_text('{"o": "info:fedora/x", "b": null, "p": false}\n')
        with pytest.raises(CorruptData, match="older fcrctl"):
            repo.in_transaction(info.id)
        with pytest.raises(CorruptData, match="older fcrctl"):
            repo.commit_transaction(info.id)
        assert repo.rollback_transaction(info.id).status == "rolled_back"


def test_create_answers_what_info_reads_back(where: Path) -> None:
    """create() builds its answer from the headers it stored, without reading them back."""
    with LocalRepository.open(str(where)) as repo:
        assert repo.create("/c", container("/c", "t")) == repo.info("/c")
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            for path, spec in (("/ag", ResourceSpec(archival_group=True)),
                               ("/ag/m", binary(b"member", filename="m.txt")),
                               ("/c/b", binary(b"payload"))):
                assert inside.create(path, spec) == inside.info(path), path
            assert inside.create("/c/d/e", container("/c/d/e"), parents=True) == inside.info("/c/d/e")
            assert inside.info("/c/d").has_children
            assert inside.info("/ag/m").archival_group is False and inside.info("/ag").archival_group is True
        repo.commit_transaction(info.id)
        assert repo.info("/ag/m").filename == "m.txt"


def test_a_write_inside_touches_alive_at_most_every_hundredth_of_the_timeout(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction(timeout=600)
        tx = TxDir(where / "staging", info.id)
        alive = tx.dir / "alive"
        tx.touch(600)
        old = time.time() - 100
        os.utime(alive, (old, old))
        tx.touch(600)  # touched by this process just before: not again
        assert alive.stat().st_mtime == pytest.approx(old)
        assert tx.status() == "open"  # judged by our own touch, although alive looks stale
        assert TxDir(where / "staging", info.id).status() == "open"  # another process reads alive: 100 s < 600 s
        tx.touch()  # without a timeout (keepalive, in_transaction): always
        assert alive.stat().st_mtime > time.time() - 50
        short = repo.begin_transaction(timeout=1.0)
        with repo.in_transaction(short.id) as inside:
            for i in range(3):
                time.sleep(0.3)  # each write, within the timeout of the one before, keeps it open
                inside.create(f"/s{i}", container(f"/s{i}"))
        time.sleep(1.3)
        assert repo.transaction_status(short.id).status == "expired"


def test_index_apply_of_fresh_objects_replaces_only_what_they_can_have(tmp_path: Path) -> None:
    """Staging a new object skips deleting rows it cannot have; a stale invalid mark still goes."""
    index = Index(tmp_path / "index.sqlite")
    try:
        index.mark_invalid("abc/rel", "info:fedora/x", "unreadable")
        row = Row("/x", "/", "info:fedora/x", "abc/rel", "basic", False, {"id": "info:fedora/x"})
        index.apply([ObjectEntries("info:fedora/x", rows=[row])], fresh={"info:fedora/x"})
        assert index.invalid() == []
        assert index.get("/x") == row
    finally:
        index.close()


def test_tuple_directories_made_once_per_commit(tmp_path: Path) -> None:
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "keep").write_text("x")
    known: set[str] = set()
    ocfl.ensure_dirs_below(str(tmp_path), "abc/def/ghi", known)
    ocfl.ensure_dirs_below(str(tmp_path), "abc/def/jkl", known)  # abc/def is known: only jkl is made
    assert (tmp_path / "abc" / "def" / "ghi").is_dir() and (tmp_path / "abc" / "def" / "jkl").is_dir()
    assert (tmp_path / "abc" / "keep").read_text() == "x"
    assert known == {f"{tmp_path}/abc", f"{tmp_path}/abc/def", f"{tmp_path}/abc/def/ghi", f"{tmp_path}/abc/def/jkl"}
    ocfl.ensure_dirs_below(str(tmp_path), "abc/def/ghi", set())  # all there already: nothing to do, no error
