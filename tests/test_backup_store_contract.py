"""The BackupStore contract, run against every store kind, each a real server on 127.0.0.1:
the directory store, s3:// (moto), azure:// (Azurite), http:// WebDAV (WsgiDAV)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcrctl.errors import BadInput, NotFound, Unsupported
from fcrctl.services.backup.stores import BackupStore, open_store
from tests.store_servers import STORE_KINDS, Servers, new_store_url, store_servers  # noqa: F401


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, store_servers: Servers,  # noqa: F811
          monkeypatch: pytest.MonkeyPatch) -> Iterator[BackupStore]:
    s = open_store(new_store_url(store_servers, request.param, tmp_path, monkeypatch), create=True)
    yield s
    s.close()


def test_put_get_exists_list_delete(store: BackupStore) -> None:
    assert not store.exists("blobs/aa/aa1")
    assert store.put("blobs/aa/aa1", iter([b"hello ", b"world"])) == 11
    assert store.exists("blobs/aa/aa1")
    with store.get("blobs/aa/aa1") as fh:
        assert fh.read() == b"hello world"
    store.put("manifests/x.jsonl.zst", iter([b"m"]))
    assert sorted(store.list()) == ["blobs/aa/aa1", "manifests/x.jsonl.zst"]
    assert list(store.list("manifests/")) == ["manifests/x.jsonl.zst"]
    store.delete("blobs/aa/aa1")
    store.delete("blobs/aa/aa1")  # idempotent
    assert not store.exists("blobs/aa/aa1")


def test_put_replaces_and_get_of_missing_is_not_found(store: BackupStore) -> None:
    store.put("k", iter([b"one"]))
    store.put("k", iter([b"two"]))
    with store.get("k") as fh:
        assert fh.read() == b"two"
    with pytest.raises(NotFound):
        store.get("nothing")


def test_get_range(store: BackupStore) -> None:
    store.put("packs/ab/ab1", iter([b"0123456789"]))
    assert store.get_range("packs/ab/ab1", 3, 4) == b"3456"
    with pytest.raises(NotFound):  # past the end: the value is shorter than its index says
        store.get_range("packs/ab/ab1", 8, 4)
    with pytest.raises(NotFound):
        store.get_range("packs/ab/none", 0, 1)


def test_failed_put_leaves_no_key(store: BackupStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        store.put("half", chunks())
    assert not store.exists("half")
    assert list(store.list()) == []


@pytest.mark.parametrize("key", ["../escape", "/abs", "", "a/../../b"])
def test_bad_keys_are_refused(store: BackupStore, key: str) -> None:
    with pytest.raises(BadInput):
        store.put(key, iter([b"x"]))


def test_unknown_scheme_and_file_path(tmp_path: Path) -> None:
    with pytest.raises(BadInput):
        open_store("ftp://host/x")
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInput, match="is a file"):
        open_store(str(tmp_path / "f"), create=True)
    with pytest.raises(NotFound):
        open_store(str(tmp_path / "absent"))


def test_other_store_version_is_refused(tmp_path: Path) -> None:
    open_store(str(tmp_path / "s"), create=True)
    (tmp_path / "s" / "fcrctl-backup-store.json").write_text('{"format": "fcrctl-backup-store", "version": 99}')
    with pytest.raises(Unsupported, match="version 99"):
        open_store(str(tmp_path / "s"))


def test_a_version_1_store_is_read_and_upgraded_on_write(tmp_path: Path) -> None:
    open_store(str(tmp_path / "s"), create=True)
    marker = tmp_path / "s" / "fcrctl-backup-store.json"
    marker.write_text('{"format": "fcrctl-backup-store", "version": 1}')
    open_store(str(tmp_path / "s"))  # read as it is
    assert json.loads(marker.read_text())["version"] == 1
    open_store(str(tmp_path / "s"), create=True)  # about to write packs: older readers must refuse it
    assert json.loads(marker.read_text())["version"] == 2


def test_a_large_value_goes_in_parts_and_reads_back(store: BackupStore) -> None:
    import os

    data = os.urandom(1 << 20) * 19 + b"tail"  # over the 8 MiB single-request limit of remote stores
    chunks = [data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    assert store.put("blobs/bb/big", iter(chunks)) == len(data)
    with store.get("blobs/bb/big") as fh:
        assert fh.read() == data
    assert store.get_range("blobs/bb/big", (9 << 20) - 3, 10) == data[(9 << 20) - 3:(9 << 20) + 7]


def test_a_failed_large_put_leaves_no_key(store: BackupStore) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b"x" * (1 << 20)
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        store.put("blobs/cc/half", chunks())
    assert not store.exists("blobs/cc/half")
    assert [k for k in store.list() if not k.startswith("tmp/")] == []


def test_ranges_of_a_pack_read_after_it_is_replaced_are_of_the_new_value(store: BackupStore) -> None:
    store.put("packs/dd/p1", iter([b"0123456789"]))
    assert store.get_range("packs/dd/p1", 2, 3) == b"234"
    store.put("packs/dd/p1", iter([b"abcdefghij"]))
    assert store.get_range("packs/dd/p1", 2, 3) == b"cde"
    with pytest.raises(NotFound):
        store.get_range("packs/dd/p1", 8, 4)
    store.delete("packs/dd/p1")
    with pytest.raises(NotFound):
        store.get_range("packs/dd/p1", 0, 1)
