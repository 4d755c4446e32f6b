"""Backups in a directory store: upload/download/restore/verify, dedup, and the store faults."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from fcrctl.errors import ExitCode, Unavailable
from fcrctl.services.backup import manifest
from fcrctl.services.backup.snapshot import BackupHome
from fcrctl.services.backup.stores.directory import DirectoryStore
from tests.backup_helpers import digests, make_repo, object_file, ok_json, paths_in, run, snapshot_tree


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


@pytest.fixture
def uploaded(repo_dir: Path, tmp_path: Path) -> tuple[str, Path]:
    store = tmp_path / "store"
    doc = ok_json(repo_dir, "backup", "--label", "s", "--to", str(store))
    assert doc["upload"]["blobs_sent"] > 0
    return doc["id"], store


def _digest_of(repo_dir: Path, bid: str, name: str) -> str:
    import hashlib

    content = object_file(repo_dir, bid, name)
    return hashlib.sha512(content.read_bytes()).hexdigest()


def _frame_of(store: Path, repo_dir: Path, bid: str, name: str) -> tuple[Path, int, int]:
    """Where the compressed bytes of a file's blob are: (file, offset, length), packed or not."""
    from fcrctl.services.backup import packs

    digest = _digest_of(repo_dir, bid, name)
    found = packs.read_index(DirectoryStore(store)).get(digest)
    if found is None:
        blob = store / "blobs" / digest[:2] / digest
        return blob, 0, blob.stat().st_size
    return store / packs.pack_key(found.pack), found.offset, found.length


def _rewrite_frame(store: Path, repo_dir: Path, bid: str, name: str, change: Callable[[bytes], bytes]) -> None:
    """Replace a blob's compressed bytes in place with ``change(frame)`` of the same length."""
    file, offset, length = _frame_of(store, repo_dir, bid, name)
    data = bytearray(file.read_bytes())
    new = change(bytes(data[offset:offset + length]))
    assert len(new) == length
    data[offset:offset + length] = new
    file.write_bytes(bytes(data))


def test_roundtrip_through_the_store(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    listed = ok_json(repo_dir, "list-backups", "--from", str(store))
    assert [b["id"] for b in listed] == [bid]
    assert ok_json(repo_dir, "verify-backup", bid, "--from", str(store), "--read-data")["ok"] is True
    before = digests(snapshot_tree(repo_dir, bid))
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "download-backup", bid, str(store))
    assert digests(snapshot_tree(repo_dir, bid)) == before  # byte for byte the same tree
    run(repo_dir, "create", "/new")
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "restore", bid, "--from", str(store), "--yes")
    assert "/new" not in paths_in(repo_dir)


def test_unchanged_content_is_never_sent_twice(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    _, store = uploaded
    again = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))["upload"]
    # only the few files that differ (none: same objects) are new
    assert again["blobs_sent"] == 0 and again["blobs_reused"] > 0
    run(repo_dir, "create", "/new")
    third = ok_json(repo_dir, "backup", "--label", "u", "--to", str(store))["upload"]
    assert 0 < third["blobs_sent"] <= 5  # the new object, the root's new version, the index copy


def test_bit_flip_in_a_blob_names_the_resource_and_restore_refuses(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded

    def flip(frame: bytes) -> bytes:
        data = bytearray(frame)
        data[len(data) // 2] ^= 0x04
        return bytes(data)

    _rewrite_frame(store, repo_dir, bid, "b2", flip)
    result = run(repo_dir, "--json", "verify-backup", bid, "--from", str(store), "--read-data")
    assert result.exit_code == ExitCode.CORRUPT
    problems = json.loads(result.stdout)["problems"]
    assert [p["where"] for p in problems] == ["/top/sub/b2"]
    ok_json(repo_dir, "delete-backup", bid)
    run(repo_dir, "create", "/new")
    before = digests(repo_dir / "ocfl-root")
    result = run(repo_dir, "restore", bid, "--from", str(store), "--yes")
    assert result.exit_code == ExitCode.CORRUPT and "/top/sub/b2" in result.stderr
    assert digests(repo_dir / "ocfl-root") == before
    assert ok_json(repo_dir, "list-backups") == []  # no half-downloaded backup is listed


def test_truncated_zstd_frame_is_corrupt(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    _rewrite_frame(store, repo_dir, bid, "b0", lambda frame: frame[:-7] + bytes(7))  # its end cut off
    result = run(repo_dir, "verify-backup", bid, "--from", str(store), "--read-data")
    assert result.exit_code == ExitCode.CORRUPT and "/top/sub/b0" in result.stdout
    manifest_file = store / "manifests" / f"{bid}.jsonl.zst"
    manifest_file.write_bytes(manifest_file.read_bytes()[:-9])
    result = run(repo_dir, "verify-backup", bid, "--from", str(store))
    assert result.exit_code == ExitCode.CORRUPT


def test_missing_blob_and_missing_manifest(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    _frame_of(store, repo_dir, bid, "b1")[0].unlink()
    result = run(repo_dir, "verify-backup", bid, "--from", str(store))
    assert result.exit_code == ExitCode.CORRUPT and "/top/sub/b1" in result.stdout
    (store / "manifests" / f"{bid}.jsonl.zst").unlink()
    ok_json(repo_dir, "delete-backup", bid)  # else the local copy would be restored
    result = run(repo_dir, "restore", bid, "--from", str(store), "--yes")
    assert result.exit_code == ExitCode.NOT_FOUND and "manifest" in result.stderr
    assert ok_json(repo_dir, "list-backups", "--from", str(store)) == []


def test_backup_of_another_store_version(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    mf = store / "manifests" / f"{bid}.jsonl.zst"
    lines = zstandard.ZstdDecompressor().decompress(mf.read_bytes(), max_output_size=1 << 26).splitlines()
    head = json.loads(lines[0])
    head["version"] = 99
    mf.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join([json.dumps(head).encode(), *lines[1:]]) + b"\n"))
    result = run(repo_dir, "verify-backup", bid, "--from", str(store))
    assert result.exit_code == ExitCode.UNSUPPORTED and "version 99" in result.stderr
    (store / "fcrctl-backup-store.json").write_text('{"format": "fcrctl-backup-store", "version": 7}')
    result = run(repo_dir, "list-backups", "--from", str(store))
    assert result.exit_code == ExitCode.UNSUPPORTED and "version 7" in result.stderr


def test_store_path_that_is_a_file(repo_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    bid = ok_json(repo_dir, "backup")["id"]
    for args in (["upload-backup", bid, str(tmp_path / "file")], ["list-backups", "--from", str(tmp_path / "file")]):
        result = run(repo_dir, *args)
        assert result.exit_code == ExitCode.BAD_INPUT and "is a file" in result.stderr


class FullDisk(DirectoryStore):
    """A directory store whose disk fills up after ``budget`` bytes."""

    budget = 1500

    def put(self, key: str, chunks):  # type: ignore[no-untyped-def, override]
        def limited():  # type: ignore[no-untyped-def]
            for chunk in chunks:
                FullDisk.budget -= len(chunk)
                if FullDisk.budget < 0:
                    raise OSError(errno.ENOSPC, "No space left on device")
                yield chunk

        try:
            return super().put(key, limited())
        except OSError as e:  # what put() does with an OSError from its own writes
            raise Unavailable(f"cannot write {key}: no space left on the store's disk") from e


def test_disk_full_during_upload_is_clear_and_the_store_stays_consistent(repo_dir: Path, tmp_path: Path) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    home = BackupHome(repo_dir / "backups")
    DirectoryStore.open(str(tmp_path / "store"), create=True)
    full = FullDisk(tmp_path / "store")
    with pytest.raises(Unavailable, match="no space"):
        manifest.upload(home, bid, full, jobs=1)
    store = DirectoryStore.open(str(tmp_path / "store"))
    assert list(store.list("manifests/")) == []  # no backup appears in the store
    assert list((tmp_path / "store" / "tmp").iterdir()) == []  # no partial blob left
    sent_before = len(list(store.list("blobs/")))
    report = manifest.upload(home, bid, store, jobs=2)  # re-run: only what is missing
    assert report.blobs_reused == sent_before
    assert ok_json(repo_dir, "verify-backup", bid, "--from", str(tmp_path / "store"), "--read-data")["ok"]


def test_real_enospc_from_the_filesystem_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DirectoryStore.open(str(tmp_path / "s"), create=True)
    real_open = open

    def full_open(file, mode="r", *a, **k):  # type: ignore[no-untyped-def]
        fh = real_open(file, mode, *a, **k)
        if "w" in mode and str(file).endswith(".part"):

            def write(data: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            fh.write = write  # type: ignore[method-assign]
        return fh

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(Unavailable, match="no space left"):
        store.put("blobs/aa/x", iter([b"data"]))
    monkeypatch.undo()
    assert not store.exists("blobs/aa/x") and list((tmp_path / "s" / "tmp").iterdir()) == []


def test_delete_from_store_keeps_shared_blobs(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    other = ok_json(repo_dir, "backup", "--label", "o", "--to", str(store))["id"]
    ok_json(repo_dir, "delete-backup", bid, "--from", str(store))
    assert ok_json(repo_dir, "verify-backup", other, "--from", str(store), "--read-data")["ok"] is True
    ok_json(repo_dir, "delete-backup", other, "--from", str(store))
    assert list((store / "blobs").rglob("*.*")) == [] and not [p for p in (store / "blobs").rglob("*") if p.is_file()]


def _replace_binary(repo_dir: Path, path: str, data: bytes) -> None:
    import io

    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    repo = open_repository(str(repo_dir))
    try:
        repo.replace(path, ResourceSpec(content=io.BytesIO(data), mime_type="text/plain"))
    finally:
        repo.close()


def _round_trips(repo_dir: Path, store: Path, bid: str, data: bytes) -> bool:
    """The stored backup downloads byte for byte equal to the snapshot, which holds ``data``."""
    before = digests(snapshot_tree(repo_dir, bid))
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "download-backup", bid, str(store))
    snap = snapshot_tree(repo_dir, bid)
    return digests(snap) == before and any(p.read_bytes() == data for p in snap.rglob("*") if p.is_file())


def test_skip_cache_still_uploads_a_changed_object(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    _, store = uploaded
    again = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))["upload"]
    assert again["blobs_sent"] == 0  # every object skipped through the previous manifest
    _replace_binary(repo_dir, "/top/sub/b1", b"changed content " * 40)
    third = ok_json(repo_dir, "backup", "--label", "u", "--to", str(store))
    assert third["upload"]["blobs_sent"] > 0
    assert ok_json(repo_dir, "verify-backup", third["id"], "--from", str(store), "--read-data")["ok"]
    assert _round_trips(repo_dir, store, third["id"], b"changed content " * 40)


def _rewrite_manifest(store: Path, bid: str, edit: object) -> None:
    key = store / "manifests" / f"{bid}.jsonl.zst"
    lines = zstandard.ZstdDecompressor().stream_reader(key.read_bytes(), read_across_frames=True).read()
    docs = [json.loads(line) for line in lines.splitlines()]
    docs = edit(docs)  # type: ignore[operator]
    body = b"".join(json.dumps(d).encode() + b"\n" for d in docs)
    key.write_bytes(zstandard.ZstdCompressor().compress(body))


def test_a_wrong_previous_manifest_never_skips_a_changed_object(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    _replace_binary(repo_dir, "/top/sub/b1", b"new bytes " * 60)

    # the skip key is the sidecar read from the new snapshot, so a damaged previous manifest can
    # only cause misses; a truncated one is ignored as a whole
    def truncate(docs: list[dict]) -> list[dict]:
        return [d for d in docs if not d.get("end")]

    _rewrite_manifest(store, bid, truncate)
    second = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))
    assert second["upload"]["blobs_sent"] > 0
    assert _round_trips(repo_dir, store, second["id"], b"new bytes " * 60)

    def garble(docs: list[dict]) -> list[dict]:  # every inventory digest wrong: every object a miss
        for d in docs:
            for f in d.get("f", []):
                if f[0] == "inventory.json":
                    f[1] = "0" * 128
        return docs

    _rewrite_manifest(store, second["id"], garble)
    third = ok_json(repo_dir, "backup", "--label", "u", "--to", str(store))
    # every object read and found in the store; at most the index goes again (its change journal
    # was trimmed after the second snapshot, so its bytes differ though no resource changed)
    assert third["upload"]["blobs_sent"] <= 1 and third["upload"]["blobs_reused"] > 0
    assert ok_json(repo_dir, "verify-backup", third["id"], "--from", str(store), "--read-data")["ok"]


def test_an_unchanged_state_copies_the_previous_manifest(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    first, store = uploaded
    again = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))
    up = again["upload"]
    assert up["manifest_copied"] is True and up["blobs_sent"] == 0
    assert up["base"] == first and up["objects"] == 0  # format 2: the changes since the first (none)
    # the copied manifest describes the second backup completely: it restores byte for byte
    before = digests(snapshot_tree(repo_dir, again["id"]))
    ok_json(repo_dir, "delete-backup", again["id"])
    ok_json(repo_dir, "download-backup", again["id"], str(store))
    assert digests(snapshot_tree(repo_dir, again["id"])) == before
    assert (repo_dir / "backups" / again["id"] / "index.sqlite").exists()  # the index travels too
    # a changed state is never copied
    run(repo_dir, "create", "/new")
    third = ok_json(repo_dir, "backup", "--label", "u", "--to", str(store))["upload"]
    assert third["manifest_copied"] is False and third["blobs_sent"] > 0


def test_deleting_a_backup_keeps_the_index_blobs_others_name(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    first, store = uploaded
    run(repo_dir, "create", "/new")
    second = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))["id"]
    ok_json(repo_dir, "delete-backup", first, "--from", str(store))
    ok_json(repo_dir, "delete-backup", second)
    run(repo_dir, "create", "/newer")
    ok_json(repo_dir, "restore", second, "--from", str(store), "--yes")
    assert "/new" in paths_in(repo_dir) and "/newer" not in paths_in(repo_dir)
    assert run(repo_dir, "check").exit_code == 0


def test_small_files_travel_in_packs_and_go_with_their_last_backup(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    packed = list((store / "packs").rglob("*"))
    assert any(p.is_file() for p in packed) and list((store / "index").iterdir())
    ok_json(repo_dir, "delete-backup", bid, "--from", str(store))
    assert [p for p in (store / "packs").rglob("*") if p.is_file()] == []
    assert list((store / "index").iterdir()) == []
    assert [p for p in (store / "blobs").rglob("*") if p.is_file()] == []


def test_a_tampered_manifest_is_never_copied(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    bid, store = uploaded
    mf = store / "manifests" / f"{bid}.jsonl.zst"
    head = zstandard.ZstdDecompressor().decompressobj()
    header = head.decompress(mf.read_bytes())
    lines = zstandard.ZstdDecompressor().decompressobj().decompress(head.unused_data).splitlines(keepends=True)
    doc = json.loads(lines[0])
    doc["f"] = doc["f"][:-1]  # one file fewer: a copy of this would restore an incomplete object
    lines[0] = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
    cctx = zstandard.ZstdCompressor()
    mf.write_bytes(cctx.compress(header) + cctx.compress(b"".join(lines)))
    again = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))
    assert again["upload"]["manifest_copied"] is False
    assert ok_json(repo_dir, "verify-backup", again["id"], "--from", str(store), "--read-data")["ok"]


def test_a_delete_waits_for_an_upload_running_meanwhile(repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    import threading

    bid, store_dir = uploaded
    store = DirectoryStore(store_dir)
    assert ".lock" not in list(store.list())
    done = threading.Event()
    with store.lock(exclusive=False):  # as an upload holds it
        deleting = threading.Thread(target=lambda: (manifest.delete_from_store(store, bid), done.set()))
        deleting.start()
        assert not done.wait(0.5)  # it would free blobs the upload may be reusing
        assert (store_dir / "manifests" / f"{bid}.jsonl.zst").exists()
    deleting.join(10)
    assert done.is_set() and not (store_dir / "manifests" / f"{bid}.jsonl.zst").exists()


def test_prune_of_a_store_removes_several_backups_and_only_their_own_blobs(repo_dir: Path, tmp_path: Path) -> None:
    import hashlib
    import io
    import os

    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    store = tmp_path / "store"
    data = [os.urandom(200_000) for _ in range(3)]  # big: a blob file each, not packed
    ids = []
    for i in range(3):
        repo = open_repository(str(repo_dir))
        try:
            repo.create(f"/only{i}", ResourceSpec(content=io.BytesIO(data[i]), binary=True))
            if i == 1:  # /only0 leaves the repository: only the first backup names its blob
                repo.delete("/only0")
                repo.purge("/only0")
        finally:
            repo.close()
        ids.append(ok_json(repo_dir, "backup", "--label", f"n{i}", "--to", str(store))["id"])
    plan = ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", str(store))
    assert sorted(plan["remove"]) == sorted(ids[:2])
    assert [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", str(store))] == [ids[2]]
    blobs = {p.name for p in (store / "blobs").rglob("*") if p.is_file()}
    digests = [hashlib.sha512(d).hexdigest() for d in data]
    # the first is retired, the base of the one kept (docs/backup-store.md "Retired manifests"): the
    # blob only it names stays, even through a full sweep, until no backup is built on it
    assert set(digests) <= blobs
    ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--from", str(store), "--full-sweep")
    assert set(digests) <= {p.name for p in (store / "blobs").rglob("*") if p.is_file()}
    assert ok_json(repo_dir, "verify-backup", ids[2], "--from", str(store), "--read-data")["ok"] is True
    repo = open_repository(str(repo_dir))
    try:
        repo.delete("/only1")
        repo.purge("/only1")
    finally:
        repo.close()
    ids.append(ok_json(repo_dir, "backup", "--label", "n3", "--to", str(store))["id"])
    ok_json(repo_dir, "delete-backup", ids[2], "--from", str(store))  # ids[3] is built on the retired base
    ok_json(repo_dir, "delete-backup", ids[3], "--from", str(store))  # the last: the base and its blobs go
    assert not [p for p in (store / "blobs").rglob("*") if p.is_file()]


def _linked_inventories(root: Path) -> tuple[int, int]:
    """(objects, objects whose root inventory and sidecar are hard links of the head version's)"""
    objects = linked = 0
    for inventory in root.rglob("inventory.json"):
        folder = inventory.parent
        if folder.name.startswith("v") or not (folder / "v1").is_dir():
            continue
        objects += 1
        head = json.loads(inventory.read_bytes())["head"]
        linked += all((folder / name).stat().st_ino == (folder / head / name).stat().st_ino
                      for name in ("inventory.json", "inventory.json.sha512"))
    return objects, linked


def test_a_restore_links_root_inventories_to_the_head_version_as_the_live_tree_does(
        repo_dir: Path, uploaded: tuple[str, Path]) -> None:
    """One file made per distinct inventory, as tar brings back the links the writer made: the
    bench tree's 24,206 root inventories and sidecars were files created, filled and hashed
    twice. A content file that happens to be called inventory.json is content, not linked."""
    bid, store = uploaded
    body = repo_dir.parent / "inventory.json"
    body.write_text("not an inventory")
    run(repo_dir, "create", "/top/inventory.json", "--binary", "--file", str(body))
    live_objects, live_linked = _linked_inventories(repo_dir / "ocfl-root")
    assert live_objects == live_linked > 0
    ok_json(repo_dir, "restore", bid, "--from", str(store), "--yes")
    root = repo_dir / "ocfl-root"
    assert _linked_inventories(root) == (live_objects - 1, live_objects - 1)  # without the new object
    run(repo_dir, "create", "/top/inventory.json", "--binary", "--file", str(body))
    bid2 = ok_json(repo_dir, "backup", "--label", "t", "--to", str(store))["id"]
    ok_json(repo_dir, "restore", bid2, "--from", str(store), "--yes")
    assert _linked_inventories(root) == (live_objects, live_objects)
    assert [p.read_text() for p in root.rglob("content/inventory.json")] == ["not an inventory"]
    assert run(repo_dir, "check", "--read-data").exit_code == 0


def test_a_download_where_links_cannot_be_made_writes_the_inventories(
        repo_dir: Path, uploaded: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem without hard links: the restore writes each inventory as a file of its own."""
    import os

    from fcrctl.services.backup.stores.directory import DirectoryStore

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    bid, store = uploaded
    monkeypatch.setattr(os, "link", no_links)
    staged = repo_dir.parent / "staged"
    staged.mkdir()
    manifest.download_into(DirectoryStore(store), bid, staged, jobs=1)
    objects, linked = _linked_inventories(staged / "ocfl-root")
    assert objects > 0 and linked == 0
    assert digests(staged / "ocfl-root") == digests(snapshot_tree(repo_dir, bid))
