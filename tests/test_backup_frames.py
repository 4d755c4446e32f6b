"""Big blobs: one read that is hashed and compressed; incompressible bytes stored as they are."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import zstandard

from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import frames
from tests.backup_helpers import digests, make_repo, ok_json, run, snapshot_tree


def _encode(path: Path, digest: str | None = None, head_size: int = 0) -> bytes:
    data = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.read(fd, head_size)
        counter = [0]
        out = b"".join(frames.encode(fd, head, digest or hashlib.sha512(data).hexdigest(),
                                     lambda: ValueError("mismatch"), counter))
    finally:
        os.close(fd)
    assert counter[0] == len(data)
    return out


@pytest.mark.parametrize("size", [0, 1, 128 << 10, (128 << 10) + 1, frames.CHUNK, 2 * frames.CHUNK + 7])
def test_random_bytes_become_one_frame_barely_bigger(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    frame = _encode(tmp_path / "f", head_size=min(size, 1000))
    assert len(frame) <= size + 3 * (size // (128 << 10) + 2) + 16  # zstd's raw blocks
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(frame)).read() == data


def test_text_is_compressed_and_a_wrong_digest_raises(tmp_path: Path) -> None:
    data = b"<info:fedora/x> <http://purl.org/dc/elements/1.1/title> \"t\" .\n" * 200_000  # > CHUNK
    (tmp_path / "f").write_bytes(data)
    frame = _encode(tmp_path / "f")
    assert len(frame) < len(data) // 20
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(frame)).read() == data
    with pytest.raises(ValueError, match="mismatch"):
        _encode(tmp_path / "f", digest="0" * 128)


def test_big_binaries_round_trip_and_a_flipped_bit_in_a_raw_blob_is_refused(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    make_repo(repo_dir)
    random_bytes = os.urandom(frames.CHUNK + 300_000)  # two chunks, stored raw
    text = b"line of text, compressible\n" * 40_000  # one chunk, compressed
    repo = open_repository(str(repo_dir))
    try:
        repo.create("/big", ResourceSpec(content=io.BytesIO(random_bytes), binary=True))
        repo.create("/text", ResourceSpec(content=io.BytesIO(text), binary=True))
    finally:
        repo.close()
    store = tmp_path / "store"
    bid = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    before = digests(snapshot_tree(repo_dir, bid))
    blob = store / "blobs" / hashlib.sha512(random_bytes).hexdigest()[:2] / hashlib.sha512(random_bytes).hexdigest()
    assert blob.stat().st_size < len(random_bytes) * 1.01  # stored, not compressed
    ok_json(repo_dir, "delete-backup", bid)
    ok_json(repo_dir, "download-backup", bid, str(store))
    assert digests(snapshot_tree(repo_dir, bid)) == before
    ok_json(repo_dir, "delete-backup", bid)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside a raw block: the frame stays valid, the bytes do not
    blob.write_bytes(bytes(data))
    live = digests(repo_dir / "ocfl-root")
    result = run(repo_dir, "restore", bid, "--from", str(store), "--yes")
    assert result.exit_code == ExitCode.CORRUPT and "/big" in result.stderr
    assert digests(repo_dir / "ocfl-root") == live


def test_a_short_first_read_is_not_taken_for_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.services.backup.manifest import fds

    repo_dir = tmp_path / "repo"
    make_repo(repo_dir)
    bid = ok_json(repo_dir, "backup")["id"]
    real = fds.read_head

    def short(file: str, n: int, dir_fd: int | None = None) -> bytes:  # content files come back cut short
        return real(file, n, dir_fd)[:100 if n > 1000 else n]

    monkeypatch.setattr(fds, "read_head", short)
    cut = ok_json(repo_dir, "upload-backup", bid, str(tmp_path / "store"))
    monkeypatch.undo()
    whole = ok_json(repo_dir, "upload-backup", bid, str(tmp_path / "store2"))
    assert cut["blobs_sent"] == whole["blobs_sent"] and cut["bytes_read"] == whole["bytes_read"]
    assert ok_json(repo_dir, "verify-backup", bid, "--from", str(tmp_path / "store"), "--read-data")["ok"]
