"""A changed upload copies the previous manifest's lines and describes only the changed objects
(manifest/merge.py): the same manifest a full walk writes, and a full walk whenever it cannot."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup.manifest import merge, uploads
from tests.backup_helpers import make_repo, ok_json


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _change(repo_dir: Path) -> None:
    repo = open_repository(str(repo_dir))
    try:
        repo.replace("/top/sub/b1", ResourceSpec(content=io.BytesIO(b"changed " * 40), mime_type="text/plain"))
        repo.create("/top/zz", ResourceSpec())
        repo.delete("/other")
        repo.purge("/other")
    finally:
        repo.close()


def _lines(store: Path, backup_id: str) -> list[bytes]:
    data = (store / "manifests" / f"{backup_id}.jsonl.zst").read_bytes()
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read().split(b"\n")[1:]


def _walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the full walks (each parses the whole previous manifest)."""
    calls: list[int] = []
    real = uploads.previous_objects

    def counted(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(uploads, "previous_objects", counted)
    return calls


def test_a_changed_upload_merges_and_writes_what_a_full_walk_writes(repo_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    ok_json(repo_dir, "backup", "--to", str(store))
    _change(repo_dir)
    monkeypatch.setattr(merge, "DELTA_MIN", 0)  # the changes outgrow a delta: a whole manifest, merged
    walks = _walks(monkeypatch)
    second = ok_json(repo_dir, "backup", "--to", str(store))
    assert walks == []  # merged: the previous manifest was not parsed
    assert second["upload"]["objects"] == 7 and second["upload"]["blobs_sent"] > 0
    alone = ok_json(repo_dir, "upload-backup", second["id"], str(fresh))  # nothing to merge with: a full walk
    assert walks == [1]
    assert _lines(store, second["id"]) == _lines(fresh, second["id"])
    assert (alone["objects"], alone["files"]) == (second["upload"]["objects"], second["upload"]["files"])
    assert ok_json(repo_dir, "verify-backup", second["id"], "--from", str(store), "--read-data")["ok"]


@pytest.mark.parametrize("why", ["damaged", "pruned here"])
def test_no_merge_without_a_sound_previous_manifest_and_its_snapshot(repo_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch, why: str) -> None:
    store, fresh = tmp_path / "store", tmp_path / "fresh"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    if why == "damaged":  # a line changed, its linesSha256 not: the copy would carry the damage
        key = store / "manifests" / f"{first}.jsonl.zst"
        head, *rest = _lines(store, first)[:-1]
        text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(key.read_bytes()), read_across_frames=True).read()
        header = text.split(b"\n", 1)[0]
        body = b"\n".join([head.replace(b'"id":"info:fedora', b'"id":"info:fedoRA'), *rest]) + b"\n"
        key.write_bytes(zstandard.ZstdCompressor().compress(header + b"\n" + body))
    else:
        ok_json(repo_dir, "delete-backup", first)
    _change(repo_dir)
    walks = _walks(monkeypatch)
    second = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    assert walks == [1]
    ok_json(repo_dir, "upload-backup", second, str(fresh))
    assert _lines(store, second) == _lines(fresh, second)
    assert ok_json(repo_dir, "verify-backup", second, "--from", str(store), "--read-data")["ok"]


def test_a_changed_objects_blobs_named_before_are_not_looked_up(repo_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed object's blobs that its line in the previous manifest names (its content as of then,
    that version's inventory) are in the store: no lookup each in the pack cache (a random read of a
    table of every packed blob: ~0.3 ms uncached, ~7 per changed object). Its new blobs still are
    looked up and sent, and the backup restores as it was."""
    from fcrctl.services.backup import packcache
    from tests.backup_helpers import digests, run

    store = tmp_path / "store"
    ok_json(repo_dir, "backup", "--to", str(store))
    repo = open_repository(str(repo_dir))
    try:
        repo.patch("/top/sub/b0", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "t" }')  # its description
        repo.replace("/top/sub/b1", ResourceSpec(content=io.BytesIO(b"new " * 40), mime_type="text/plain"))
    finally:
        repo.close()
    asked: list[str] = []
    real = packcache.Packed.locate
    monkeypatch.setattr(packcache.Packed, "locate", lambda self, d: asked.append(d) or real(self, d))
    out = ok_json(repo_dir, "backup", "--label", "two", "--to", str(store))
    import hashlib
    old_content = {hashlib.sha512((f"binary {i} ".encode()) * 50).hexdigest() for i in (0, 1)}
    assert out["upload"]["base"] and asked, out  # a delta, and the new files were looked up
    assert not old_content & set(asked), "a blob the previous manifest named was looked up"
    assert hashlib.sha512(b"new " * 40).hexdigest() in asked  # (sent: not named before)
    before = digests(repo_dir / "ocfl-root")
    assert run(repo_dir, "restore", out["id"], "--from", str(store), "--yes").exit_code == 0
    assert digests(repo_dir / "ocfl-root") == before


def test_a_changed_upload_stopped_at_any_put_leaves_a_store_that_verifies(repo_dir: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A delta upload stopped at each of its store writes in turn names nothing it has not stored:
    the store lists no half backup, the next run finishes it, and it verifies reading every blob
    and restores as it was (the blobs of a changed object's earlier version are not looked up)."""
    from fcrctl.errors import ExitCode
    from fcrctl.services.backup.stores.directory import DirectoryStore
    from tests.backup_helpers import digests, run

    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--label", "one", "--to", str(store))["id"]
    _change(repo_dir)
    repo = open_repository(str(repo_dir))
    try:
        repo.patch("/top/sub/b0", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "t" }')
    finally:
        repo.close()
    changed = ok_json(repo_dir, "backup", "--label", "two")["id"]
    real_put = DirectoryStore.put
    for stop in range(1, 20):
        puts = [0]

        def put(self: DirectoryStore, key: str, chunks: object, stop: int = stop, puts: list[int] = puts) -> int:
            puts[0] += 1
            if puts[0] == stop:
                raise KeyboardInterrupt
            return real_put(self, key, chunks)  # type: ignore[arg-type]

        monkeypatch.setattr(DirectoryStore, "put", put)
        result = run(repo_dir, "upload-backup", changed, str(store))
        monkeypatch.setattr(DirectoryStore, "put", real_put)
        if result.exit_code == 0:
            break
        assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
        assert [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", str(store))] == [first]
    else:
        raise AssertionError("the upload never finished")
    assert stop > 2  # (it was stopped at its blobs and at its manifest)
    assert ok_json(repo_dir, "verify-backup", changed, "--from", str(store), "--read-data")["ok"] is True
    before = digests(repo_dir / "ocfl-root")
    assert run(repo_dir, "restore", changed, "--from", str(store), "--yes").exit_code == 0
    assert digests(repo_dir / "ocfl-root") == before
