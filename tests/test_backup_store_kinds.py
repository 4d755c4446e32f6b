"""Every store operation on every store kind, through the CLI, each store a real server on
127.0.0.1: backup --to, upload-backup, list-backups --from, verify-backup --from [--read-data],
download-backup, restore --from, delete-backup --from, prune-backups --from (with repacking)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup.stores import open_store
from tests.backup_helpers import digests, make_repo, ok_json, paths_in, run, snapshot_tree
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


def _add(repo_dir: Path, path: str, data: bytes) -> None:
    repo = open_repository(str(repo_dir))
    try:
        repo.create(path, ResourceSpec(content=io.BytesIO(data), binary=True))
    finally:
        repo.close()


def test_every_operation_on_every_store_kind(repo_dir: Path, url: str) -> None:
    _add(repo_dir, "/big", os.urandom(300_000))  # a blob of its own beside the packed small files
    first = ok_json(repo_dir, "backup", "--label", "one", "--to", url)
    assert first["upload"]["blobs_sent"] > 0
    bid = first["id"]
    assert [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", url)] == [bid]
    assert ok_json(repo_dir, "list-backups", bid, "--from", url)["id"] == bid
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url)["ok"] is True
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--read-data")["ok"] is True
    again = ok_json(repo_dir, "upload-backup", bid, url)  # unchanged: nothing sent again
    assert again["blobs_sent"] == 0
    before = digests(snapshot_tree(repo_dir, bid))
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "download-backup", bid, url)
    assert digests(snapshot_tree(repo_dir, bid)) == before  # byte for byte
    run(repo_dir, "create", "/new")
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "restore", bid, "--from", url, "--yes")
    assert "/new" not in paths_in(repo_dir)
    second = ok_json(repo_dir, "backup", "--label", "two", "--to", url)["id"]
    plan = ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", url)
    assert plan["remove"] == [bid]
    listed = [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", url)]
    assert listed == [second]
    assert ok_json(repo_dir, "verify-backup", second, "--from", url, "--read-data")["ok"] is True
    ok_json(repo_dir, "delete-backup", second, "--from", url)
    assert ok_json(repo_dir, "list-backups", "--from", url) == []
    store = open_store(url)
    try:
        assert sorted(store.list()) == []  # nothing left behind: no blob, pack, index or lease
    finally:
        store.close()


def test_foreign_objects_in_a_store_are_ignored(repo_dir: Path, url: str) -> None:
    bid = ok_json(repo_dir, "backup", "--to", url)["id"]
    store = open_store(url)
    try:
        for key in ("README.txt", "manifests/notes.txt", "blobs/zz/not-a-digest", "locks/other.txt"):
            store.put(key, iter([b"someone else's"]))
    finally:
        store.close()
    assert [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", url)] == [bid]
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--read-data")["ok"] is True
    ok_json(repo_dir, "upload-backup", bid, url)
    ok_json(repo_dir, "delete-backup", bid, "--from", url)
    store = open_store(url)
    try:  # the delete kept what is not fcrctl's (a foreign blobs/ name is no blob any manifest names: freed)
        assert {"README.txt", "manifests/notes.txt", "locks/other.txt"} <= set(store.list())
    finally:
        store.close()


@pytest.mark.parametrize("kind", [k for k in STORE_KINDS if k != "directory"])
def test_a_store_copied_between_kinds_with_ordinary_tools_still_reads(
        repo_dir: Path, tmp_path: Path, store_servers: Servers, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        kind: str) -> None:
    """A directory store copied file by file with the kind's own client (or cp, for WebDAV's
    disk) into a bucket, container or collection, and back."""
    import shutil

    _add(repo_dir, "/big", os.urandom(300_000))
    local = tmp_path / "dir-store"
    bid = ok_json(repo_dir, "backup", "--to", str(local))["id"]
    url = new_store_url(store_servers, kind, tmp_path, monkeypatch)
    files = [p for p in local.rglob("*") if p.is_file() and p.name != ".lock"]
    if kind == "s3":
        bucket, prefix = url[5:].split("/", 1)
        client = store_servers.get_moto().client()
        for p in files:
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(local)}")
    elif kind == "azure":
        container, prefix = url[8:].split("/", 1)
        service = store_servers.get_azurite().service()
        for p in files:
            service.get_blob_client(container, f"{prefix}/{p.relative_to(local)}").upload_blob(p.read_bytes())
    else:
        dav = store_servers.get_dav()
        target = dav.root / url.rsplit("/", 1)[-1]
        shutil.rmtree(target)
        shutil.copytree(local, target)
    assert [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", url)] == [bid]
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--read-data")["ok"] is True
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "download-backup", bid, url)
    back = tmp_path / "back"  # and from the remote kind to a directory, through fcrctl's own reader
    ok_json(repo_dir, "upload-backup", bid, str(back))
    assert ok_json(repo_dir, "verify-backup", bid, "--from", str(back), "--read-data")["ok"] is True
