"""What a delete keeps is read from manifests in C (space.referenced): the same digests a parse of
every line gives, and a damaged or truncated manifest still stops the delete before anything goes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

from fcrctl.errors import CorruptData, ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import space
from fcrctl.services.backup.manifest.downloads import iter_entries
from fcrctl.services.backup.manifest.reading import list_store, read_manifest
from fcrctl.services.backup.snapshot import INDEX_BLOBS
from fcrctl.services.backup.stores import open_store
from tests.backup_helpers import make_repo, ok_json, run


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    repo_dir, store = tmp_path / "repo", tmp_path / "store"
    make_repo(repo_dir)
    ids = [ok_json(repo_dir, "backup", "--label", "a", "--to", str(store))["id"]]
    repo = open_repository(str(repo_dir))
    try:
        repo.create("/top/sub/new", ResourceSpec(content=io.BytesIO(b"new " * 300), mime_type="text/plain"))
    finally:
        repo.close()
    ids.append(ok_json(repo_dir, "backup", "--label", "b", "--to", str(store))["id"])
    return repo_dir, store, ids


def _parsed(store_path: Path) -> set[str]:
    store = open_store(str(store_path))
    keep: set[str] = set()
    for info in list_store(store):
        _, objects = read_manifest(store, info.id)
        keep.update(e.digest for e, _ in iter_entries(objects) if e.digest)
        keep.update(str(info.extra[key]) for key, _ in INDEX_BLOBS if info.extra.get(key))
    return keep


def test_scanned_digests_equal_parsed_ones(stored: tuple[Path, Path, list[str]]) -> None:
    _, store, _ = stored
    parsed = _parsed(store)
    assert len(parsed) > 10
    assert space.referenced(open_store(str(store))) == parsed


def _rewrite_body(store: Path, backup_id: str, change: bytes) -> None:
    """The manifest recompressed with its object lines changed as ``change`` says (b"cut": truncated)."""
    key = store / "manifests" / f"{backup_id}.jsonl.zst"
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(key.read_bytes()), read_across_frames=True).read()
    header, rest = text.split(b"\n", 1)
    if change == b"cut":
        rest = rest[: len(rest) // 2]
    else:
        digest = rest.index(b'"', rest.index(b'"f":') + 8) + 1  # the first quoted string of the files
        rest = rest[:digest] + change + rest[digest + len(change):]
    key.write_bytes(zstandard.ZstdCompressor().compress(header + b"\n" + rest))


@pytest.mark.parametrize("which", ["successor", "other"])
@pytest.mark.parametrize("change", [b"cut", b"X"])
def test_a_damaged_manifest_stops_prune_before_anything_is_deleted(stored: tuple[Path, Path, list[str]],
                                                                   change: bytes, which: str) -> None:
    repo_dir, store, ids = stored
    newest = ok_json(repo_dir, "backup", "--label", "c", "--to", str(store))["id"]
    damaged = ids[1] if which == "successor" else newest
    _rewrite_body(store, damaged, change)
    before = sorted(p for p in store.rglob("*") if p.is_file())
    with pytest.raises(CorruptData):
        space.referenced(open_store(str(store)))
    result = run(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "none",
                 "--from", str(store))
    assert result.exit_code == ExitCode.CORRUPT, result.stdout + result.stderr
    after = sorted(p for p in store.rglob("*") if p.is_file())
    # the pruned ones are the chain's full manifest, retired as the base of the newest, and the
    # delta between, which the newest must be rewritten without (folded onto the retired base):
    # reading the damaged one stops the prune before it writes or deletes anything
    assert after == before
