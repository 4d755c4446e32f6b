"""Manifest format 2 (manifest/chain.py): an upload after changes writes only the changes since the
previous manifest; every reader resolves the chain, and a restore from a chain equals one from a
full manifest, byte for byte."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import zstandard

from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import manifest
from fcrctl.services.backup.manifest import chain, merge
from fcrctl.services.backup.stores import open_store
from tests.backup_helpers import digests, make_repo, ok_json, run
from tests.store_servers import STORE_KINDS, Servers, new_store_url, store_servers  # noqa: F401


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def change(repo_dir: Path, n: int) -> None:
    repo = open_repository(str(repo_dir))
    try:
        repo.replace("/top/sub/b1", ResourceSpec(content=io.BytesIO(f"changed {n} ".encode() * 40),
                                                 mime_type="text/plain"))
        repo.create(f"/top/new{n}", ResourceSpec(content=io.BytesIO(f"new {n} ".encode() * 9000),
                                                 mime_type="text/plain"))
        if n == 1:
            repo.delete("/other")
            repo.purge("/other")
    finally:
        repo.close()


def head(store: Path, backup_id: str) -> dict:
    data = (store / "manifests" / f"{backup_id}.jsonl.zst").read_bytes()
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
    return json.loads(text.split(b"\n", 1)[0])


def lines(store: Path, backup_id: str) -> list[bytes]:
    data = (store / "manifests" / f"{backup_id}.jsonl.zst").read_bytes()
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
    return text.split(b"\n")[1:-2]


def resolved(store: Path, backup_id: str) -> list[dict]:
    _, objects = manifest.read_manifest(open_store(str(store)), backup_id)
    return [obj.to_json() for obj in objects]


def restored(repo_dir: Path, backup_id: str, store: Path, where: Path) -> dict[str, str]:
    run(repo_dir, "delete-backup", backup_id)  # else the home's copy would be restored (once gone, exit 4)
    ok_json(repo_dir, "restore", backup_id, "--from", str(store), "--yes")
    shutil.copytree(repo_dir / "ocfl-root", where)
    return digests(where)


def test_a_chain_restores_what_a_full_manifest_restores(repo_dir: Path, tmp_path: Path) -> None:
    store, full = tmp_path / "store", tmp_path / "full"
    first = ok_json(repo_dir, "backup", "--to", str(store))
    assert "base" not in head(store, first["id"]) and head(store, first["id"])["chain"]["depth"] == 0
    ids = [first["id"]]
    for n in (1, 2):
        change(repo_dir, n)
        out = ok_json(repo_dir, "backup", "--to", str(store))
        ids.append(out["id"])
        assert out["upload"]["base"] == ids[-2]  # a delta on the previous manifest
        assert head(store, out["id"])["base"]["id"] == ids[-2]
        assert head(store, out["id"])["chain"]["depth"] == n
    unchanged = ok_json(repo_dir, "backup", "--to", str(store))
    assert unchanged["upload"]["manifest_copied"] and unchanged["upload"]["blobs_sent"] == 0
    assert head(store, unchanged["id"])["base"]["id"] == ids[-1]
    assert len(lines(store, unchanged["id"])) == 1  # the storage root's line alone
    ids.append(unchanged["id"])
    gone = lines(store, ids[1])
    assert any(b'"gone":true' in x for x in gone) and len(gone) < len(lines(store, ids[0]))
    for bid in ids:  # the same backup uploaded alone to a fresh store: a full manifest
        ok_json(repo_dir, "upload-backup", bid, str(full / bid))
        assert "base" not in head(full / bid, bid)
        assert resolved(store, bid) == resolved(full / bid, bid)
        assert ok_json(repo_dir, "verify-backup", bid, "--from", str(store), "--read-data")["ok"]
    listed = ok_json(repo_dir, "list-backups", "--from", str(store))
    assert [b["id"] for b in listed] == ids
    for bid in reversed(ids):
        assert restored(repo_dir, bid, store, tmp_path / f"chain-{bid}") == \
            restored(repo_dir, bid, full / bid, tmp_path / f"full-{bid}")


def test_the_chain_is_bounded(repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    monkeypatch.setattr(merge, "DEPTH_MAX", 2)
    ids = [ok_json(repo_dir, "backup", "--to", str(store))["id"]]
    for n in range(1, 5):
        change(repo_dir, n)
        ids.append(ok_json(repo_dir, "backup", "--to", str(store))["id"])
    depths = [head(store, bid)["chain"]["depth"] for bid in ids]
    assert depths == [0, 1, 2, 1, 2]  # the third delta is rebased on the full manifest, the deltas folded
    assert head(store, ids[3])["base"]["id"] == ids[0]
    assert len(chain.resolve(open_store(str(store)), ids[4])) == 3
    monkeypatch.setattr(merge, "DELTA_MIN", 1)  # a repository of 8 objects: every change is past an eighth
    change(repo_dir, 5)
    last = ok_json(repo_dir, "backup", "--to", str(store))
    assert last["upload"]["base"] is None and "base" not in head(store, last["id"])
    ok_json(repo_dir, "upload-backup", ids[4], str(tmp_path / "alone"))
    assert resolved(store, ids[4]) == resolved(tmp_path / "alone", ids[4])


@pytest.mark.parametrize("fault", ["missing", "damaged", "replaced"])
def test_a_missing_or_damaged_base_restores_nothing(repo_dir: Path, tmp_path: Path, fault: str) -> None:
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    change(repo_dir, 1)
    second = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    ok_json(repo_dir, "delete-backup", second)
    key = store / "manifests" / f"{first}.jsonl.zst"
    if fault == "missing":
        key.unlink()
    elif fault == "damaged":  # a line changed under its linesSha256
        text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(key.read_bytes()), read_across_frames=True).read()
        text = text.replace(b'"id":"info:fedora', b'"id":"info:fedoRA', 1)
        key.write_bytes(zstandard.ZstdCompressor().compress(text))
    else:  # another manifest under its name: not the base the delta was built on
        text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(key.read_bytes()), read_across_frames=True).read()
        top, rest = text.split(b"\n", 1)
        doc = json.loads(top)
        doc["lines"]["sha256"] = "0" * 64
        key.write_bytes(zstandard.ZstdCompressor().compress(json.dumps(doc).encode() + b"\n" + rest))
    before = digests(repo_dir / "ocfl-root")
    result = run(repo_dir, "restore", second, "--from", str(store), "--yes")
    assert result.exit_code == 8, result.stdout + result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and first in message, message
    assert digests(repo_dir / "ocfl-root") == before
    result = run(repo_dir, "verify-backup", second, "--from", str(store))
    assert result.exit_code != 0


def test_a_format_1_store_takes_delta_uploads(repo_dir: Path, tmp_path: Path) -> None:
    """A store written by a release of format 1: its manifests are read as they are; the next
    upload writes a full format-2 manifest from the old one's lines, the one after a delta."""
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    key = store / "manifests" / f"{first}.jsonl.zst"
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(key.read_bytes()), read_across_frames=True).read()
    top, rest = text.split(b"\n", 1)
    doc = json.loads(top)
    old = {"format": doc["format"], "version": 1, "backup": doc["backup"]}
    key.write_bytes(zstandard.ZstdCompressor().compress(json.dumps(old).encode() + b"\n")
                    + zstandard.ZstdCompressor().compress(rest))
    assert head(store, first)["version"] == 1
    ids = [first]
    for n in (1, 2):
        change(repo_dir, n)
        ids.append(ok_json(repo_dir, "backup", "--to", str(store))["id"])
    assert "base" not in head(store, ids[1]) and head(store, ids[1])["version"] == 2
    assert head(store, ids[2])["base"]["id"] == ids[1]
    for bid in ids:
        ok_json(repo_dir, "upload-backup", bid, str(tmp_path / bid))
        assert resolved(store, bid) == resolved(tmp_path / bid, bid)
        assert ok_json(repo_dir, "verify-backup", bid, "--from", str(store))["ok"]
    assert restored(repo_dir, ids[0], store, tmp_path / "r0") == restored(repo_dir, ids[0], tmp_path / ids[0],
                                                                        tmp_path / "f0")


@pytest.fixture(params=STORE_KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path, store_servers: Servers,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> str:
    return new_store_url(store_servers, request.param, tmp_path, monkeypatch)


def test_chains_on_every_store_kind(repo_dir: Path, url: str, tmp_path: Path) -> None:
    """Deltas, their verify record and a prune's fold on S3, Azure Blob and WebDAV as on a directory."""
    ids = [ok_json(repo_dir, "backup", "--label", "a0", "--to", url)["id"]]
    for n in (1, 2):
        change(repo_dir, n)
        out = ok_json(repo_dir, "backup", "--label", f"a{n}", "--to", url)
        assert out["upload"]["base"] == ids[-1]
        ids.append(out["id"])
    assert ok_json(repo_dir, "verify-backup", ids[1], "--from", url)["ok"]
    assert "checkedObjects" in ok_json(repo_dir, "verify-backup", ids[2], "--from", url)
    for bid in ids:
        ok_json(repo_dir, "upload-backup", bid, str(tmp_path / "refs" / bid))
    store = open_store(url)
    out = ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", url)
    assert out["remove"] == ids[1::-1]
    # the full manifest retired (a marker), the delta between folded: the newest is built on it
    assert [link.id for link in chain.resolve(store, ids[2])] == [ids[2], ids[0]]
    assert [b["id"] for b in ok_json(repo_dir, "list-backups", "--from", url)] == [ids[2]]
    assert run(repo_dir, "verify-backup", ids[0], "--from", url).exit_code == ExitCode.NOT_FOUND
    _, objects = manifest.read_manifest(store, ids[2])
    assert [o.to_json() for o in objects] == resolved(tmp_path / "refs" / ids[2], ids[2])
    assert ok_json(repo_dir, "verify-backup", ids[2], "--from", url, "--read-data")["ok"]
    ok_json(repo_dir, "delete-backup", ids[2])
    ok_json(repo_dir, "restore", ids[2], "--from", url, "--yes")
    ok_json(repo_dir, "delete-backup", ids[2], "--from", url)  # the last built on it: the retired base goes
    assert not list(store.list("manifests/")) and not list(store.list("blobs/")) and not list(store.list("packs/"))
