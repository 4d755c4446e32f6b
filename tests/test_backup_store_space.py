"""Space and concurrency in remote stores (and the directory store): prune/delete repack partly
used packs, verify reports what no backup uses, a corrupted object is found and named, and the
lease protocol keeps a delete from freeing what a running upload counts on."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode, Locked
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import manifest, packs
from fcrctl.services.backup.manifest import chain
from fcrctl.services.backup.snapshot import BackupHome
from fcrctl.services.backup.stores import open_store
from tests.backup_helpers import make_repo, ok_json, run
from tests.store_servers import STORE_KINDS, Servers, new_store_url, store_servers  # noqa: F401


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


@pytest.fixture(params=STORE_KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path, store_servers: Servers,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> str:
    return new_store_url(store_servers, request.param, tmp_path, monkeypatch)


def _small_files(repo_dir: Path, n: int) -> None:
    repo = open_repository(str(repo_dir))
    try:
        for i in range(n):
            repo.create(f"/small{i}", ResourceSpec(content=io.BytesIO(os.urandom(3000)), binary=True))
    finally:
        repo.close()


def _purge(repo_dir: Path, paths: list[str]) -> None:
    repo = open_repository(str(repo_dir))
    try:
        for p in paths:
            repo.delete(p)
            repo.purge(p)
    finally:
        repo.close()


def test_prune_repacks_partly_used_packs_and_verify_reports_unused_space(repo_dir: Path, url: str) -> None:
    _small_files(repo_dir, 30)
    first = ok_json(repo_dir, "backup", "--label", "a", "--to", url)["id"]
    # without its snapshot here the next upload is whole, not built on it: deleting it from the
    # store then frees its blobs (a base would be retired, its blobs kept: manifest/retired.py)
    ok_json(repo_dir, "delete-backup", first)
    _purge(repo_dir, [f"/small{i}" for i in range(20)])
    second = ok_json(repo_dir, "backup", "--label", "b", "--to", url)["id"]
    assert "base" not in chain.read_head(open_store(url), second).head
    third = ok_json(repo_dir, "backup", "--label", "c", "--to", url)["id"]
    ok_json(repo_dir, "delete-backup", first, "--from", url, "--max-unused", "100")  # partly used packs stay
    report = ok_json(repo_dir, "verify-backup", second, "--from", url)
    assert report["ok"] is True and report["unreferencedBytes"] > 20 * 2000
    # a verify after a sound one checks what changed (manifest/verified.py) and measures nothing;
    # --read-data is whole, and measures
    shown = run(repo_dir, "verify-backup", second, "--from", url, "--read-data")
    assert "no backup uses" in shown.stdout
    assert "unreferencedBytes" not in ok_json(repo_dir, "verify-backup", second, "--from", url)
    store = open_store(url)
    try:
        packs_before = set(store.list("packs/"))
    finally:
        store.close()
    ok_json(repo_dir, "delete-backup", third, "--from", url, "--max-unused", "0")
    report = ok_json(repo_dir, "verify-backup", second, "--from", url, "--read-data")
    assert report["ok"] is True and report["unreferencedBytes"] == 0
    store = open_store(url)
    try:
        assert set(store.list("packs/")) != packs_before  # repacked
    finally:
        store.close()
    ok_json(repo_dir, "delete-backup", second)  # the local copy: what is restored comes from the store
    ok_json(repo_dir, "restore", second, "--from", url, "--yes")


def _packed_frame(url: str, bid: str) -> tuple[str, str, packs.Location]:
    """(resource, digest, where its frame is) of a packed file of backup ``bid``."""
    store = open_store(url)
    try:
        index = packs.read_index(store)
        _, objects = manifest.read_manifest(store, bid)
        for obj in objects:
            for e in obj.files:
                if e.digest in index and obj.object_id and obj.where.startswith("/top/sub/"):
                    objects.close()
                    return obj.where, e.digest, index[e.digest]
    finally:
        store.close()
    raise AssertionError("no packed file")


def test_a_corrupted_object_is_found_by_verify_and_download_naming_the_resource(repo_dir: Path, url: str) -> None:
    bid = ok_json(repo_dir, "backup", "--to", url)["id"]
    where, _digest, loc = _packed_frame(url, bid)
    store = open_store(url)
    try:
        with store.get(packs.pack_key(loc.pack)) as fh:
            data = bytearray(fh.read())
        data[loc.offset + loc.length - 2] ^= 0xFF  # bit rot inside one file's frame
        store.put(packs.pack_key(loc.pack), iter([bytes(data)]))
    finally:
        store.close()
    result = run(repo_dir, "--json", "verify-backup", bid, "--from", url, "--read-data")
    assert result.exit_code == ExitCode.CORRUPT
    assert json.loads(result.stdout)["problems"][0]["where"] == where
    run(repo_dir, "delete-backup", bid)
    result = run(repo_dir, "download-backup", bid, url)
    assert result.exit_code == ExitCode.CORRUPT
    assert where in result.stderr
    assert bid not in [b.id for b in BackupHome(repo_dir / "backups").list()]  # nothing half-downloaded


def test_a_delete_waits_for_an_upload_holding_a_lease(repo_dir: Path, url: str) -> None:
    bid = ok_json(repo_dir, "backup", "--to", url)["id"]
    store = open_store(url)
    other = open_store(url)
    done = threading.Event()
    try:
        with store.lock(exclusive=False):  # as an upload holds it
            deleting = threading.Thread(target=lambda: (manifest.delete_from_store(other, bid), done.set()))
            deleting.start()
            assert not done.wait(1.0)
            assert [b.id for b in manifest.list_store(store)] == [bid]
        deleting.join(30)
        assert done.is_set()
        assert manifest.list_store(store) == []
    finally:
        store.close()
        other.close()


@pytest.mark.parametrize("kind", [k for k in STORE_KINDS if k != "directory"])
def test_leases_of_dead_holders_expire_and_live_ones_block(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    url = new_store_url(store_servers, kind, tmp_path, monkeypatch)
    bid = ok_json(repo_dir, "backup", "--to", url)["id"]
    store = open_store(url, lock_wait=1.0)
    try:
        stale = {"host": "gone", "pid": 1, "exclusive": True, "created": 0, "expires": time.time() - 10}
        store.put("locks/dead.exclusive.json", iter([json.dumps(stale).encode()]))
        ok_json(repo_dir, "upload-backup", bid, url)  # a crashed delete's lease does not block
        live = {**stale, "host": "elsewhere", "expires": time.time() + 600}
        store.put("locks/live.exclusive.json", iter([json.dumps(live).encode()]))
        with pytest.raises(Locked, match="elsewhere"):
            manifest.upload(BackupHome(repo_dir / "backups"), bid, store)
        store.delete("locks/live.exclusive.json")
        manifest.delete_from_store(store, bid)
        assert "locks/dead.exclusive.json" not in set(store.list())  # removed by the delete
    finally:
        store.close()
