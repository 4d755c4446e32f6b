"""A tampered backup store never makes restore, download-backup or verify-backup write outside
the repository or accept what its manifest does not vouch for (issue 20.2)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from fcrctl.errors import ExitCode
from tests.backup_helpers import digests, make_repo, ok_json, run

Line = dict[str, Any]
ABSOLUTE = f"/tmp/fcrctl-abs-escape-{os.getpid()}"  # where a manifest entry would write, were it obeyed


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path, str]:
    repo = tmp_path / "repo"
    make_repo(repo)
    store = tmp_path / "store"
    bid = ok_json(repo, "backup", "--label", "one", "--to", str(store))["id"]
    ok_json(repo, "delete-backup", bid)
    return repo, store, bid


def _rewrite(store: Path, bid: str, change: Callable[[list[Line]], None], *, rehash: bool = True) -> None:
    """Rewrite the manifest's object lines with ``change``; ``rehash``: give the end line the
    linesSha256 of the new lines, as a careful forger would."""
    key = store / "manifests" / f"{bid}.jsonl.zst"
    reader = zstandard.ZstdDecompressor().stream_reader(key.read_bytes(), read_across_frames=True)
    raw = reader.read().decode().splitlines()
    head, body, end = raw[0], [json.loads(x) for x in raw[1:-1]], json.loads(raw[-1])
    change(body)
    lines = [json.dumps(x, separators=(",", ":"), ensure_ascii=False) + "\n" for x in body]
    if rehash:
        end["linesSha256"] = hashlib.sha256("".join(lines).encode()).hexdigest()
        doc = json.loads(head)
        if "lines" in doc:  # format 2's header gives it too
            doc["lines"]["sha256"] = end["linesSha256"]
            head = json.dumps(doc)
    text = head + "\n" + "".join(lines) + json.dumps(end) + "\n"
    key.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))


def _an_object(body: list[Line]) -> Line:
    return next(x for x in body if x["o"])


def _outside(tmp_path: Path) -> set[str]:
    """Everything under tmp_path but the repository, the store and the test's own homes."""
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
            if p.parts[len(tmp_path.parts)] not in ("repo", "store")}


def _all_refused(repo: Path, store: Path, bid: str, tmp_path: Path) -> None:
    before_outside = _outside(tmp_path)
    before = digests(repo / "ocfl-root")
    for args in (["restore", bid, "--from", str(store), "--yes"], ["restore", bid, "--from", str(store),
                                                                   "--path", "/top", "--yes"],
                 ["download-backup", bid, str(store)], ["verify-backup", bid, "--from", str(store)]):
        result = run(repo, *args)
        assert result.exit_code == ExitCode.CORRUPT, (args, result.stdout, result.stderr)
        assert digests(repo / "ocfl-root") == before, args
        assert _outside(tmp_path) == before_outside, args
    assert not [p for p in (repo / "backups").iterdir() if p.name[:1].isdigit()]


def _escape_object_dir(body: list[Line]) -> None:
    _an_object(body)["o"] = "../../../../tmp-escape"


def _absolute_file(body: list[Line]) -> None:
    _an_object(body)["f"].append([ABSOLUTE, None, "text"])


def _dotdot_file(body: list[Line]) -> None:
    obj = _an_object(body)
    digest = next(f[1] for f in obj["f"] if f[1])
    obj["f"].append(["../../../../../escaped", digest])


def _file_outside_layout(body: list[Line]) -> None:
    _an_object(body)["f"].append(["notes.txt", None, "text"])


def _misplaced_object(body: list[Line]) -> None:
    obj = _an_object(body)
    obj["o"] = "aaa/bbb/ccc/" + "a" * 64


@pytest.mark.parametrize("change", [_escape_object_dir, _absolute_file, _dotdot_file, _file_outside_layout,
                                    _misplaced_object])
def test_paths_outside_the_repository_are_refused(stored: tuple[Path, Path, str], tmp_path: Path,
                                                  change: Callable[[list[Line]], None]) -> None:
    repo, store, bid = stored
    _rewrite(store, bid, change)
    _all_refused(repo, store, bid, tmp_path)
    assert not Path(ABSOLUTE).exists()


def test_lines_that_do_not_match_their_digest_are_refused(stored: tuple[Path, Path, str], tmp_path: Path) -> None:
    repo, store, bid = stored

    def drop_a_file(body: list[Line]) -> None:
        _an_object(body)["f"].pop()

    _rewrite(store, bid, drop_a_file, rehash=False)
    _all_refused(repo, store, bid, tmp_path)


def test_a_content_file_pointed_at_another_valid_blob_fails_restore(stored: tuple[Path, Path, str],
                                                                     tmp_path: Path) -> None:
    """Two binaries' content entries swapped: every blob is sound, but not the one the object's
    inventory names; restore must refuse before the swap, not leave `check` to find it."""
    repo, store, bid = stored

    def swap(body: list[Line]) -> None:
        contents = [(obj, f) for obj in body for f in obj["f"] if "/content/" in f[0] and f[1]]
        (_, a), (_, b) = contents[0], next(c for c in contents if c[1][1] != contents[0][1][1])
        a[1], b[1] = b[1], a[1]

    _rewrite(store, bid, swap)
    before = digests(repo / "ocfl-root")
    for args in (["restore", bid, "--from", str(store), "--yes"], ["download-backup", bid, str(store)]):
        result = run(repo, *args)
        assert result.exit_code == ExitCode.CORRUPT, (args, result.stderr)
        assert "inventory" in result.stderr
        assert digests(repo / "ocfl-root") == before


def test_a_manifest_describing_another_backup_is_refused(stored: tuple[Path, Path, str], tmp_path: Path) -> None:
    repo, store, bid = stored
    key = store / "manifests" / f"{bid}.jsonl.zst"
    other = bid.replace("_one", "_two")
    os.rename(key, store / "manifests" / f"{other}.jsonl.zst")
    result = run(repo, "download-backup", other, str(store))
    assert result.exit_code == ExitCode.CORRUPT, result.stderr
    assert not (repo / "backups" / bid).exists() and not (repo / "backups" / other).exists()


def test_a_manifest_is_read_once_so_the_lines_written_are_the_lines_checked(
        stored: tuple[Path, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile store answers the header read with a sound manifest and every later read with
    one naming a path outside the repository: the download reads the lines once, checks each
    one before writing from it, and refuses (on that line, or on the lines' sha256 the header
    gives, whichever the writers reach first)."""
    import io

    from fcrctl.services.backup.stores.directory import DirectoryStore

    repo, store, bid = stored
    key = f"manifests/{bid}.jsonl.zst"
    sound = (store / key).read_bytes()
    _rewrite(store, bid, _escape_object_dir)
    hostile = (store / key).read_bytes()
    (store / key).write_bytes(sound)
    reads: list[str] = []
    original = DirectoryStore.get

    def get(self: DirectoryStore, name: str):  # type: ignore[no-untyped-def]
        if name != key:
            return original(self, name)
        reads.append(name)
        return io.BytesIO(sound if len(reads) <= 1 else hostile)  # its header, then its lines

    monkeypatch.setattr(DirectoryStore, "get", get)
    before_outside = _outside(tmp_path)
    result = run(repo, "download-backup", bid, str(store))
    assert result.exit_code == ExitCode.CORRUPT and "was tampered with" in result.stderr, result.stderr
    assert len(reads) == 2 and _outside(tmp_path) == before_outside
    assert not [p for p in (repo / "backups").iterdir() if p.name[:1].isdigit()]


@pytest.mark.parametrize("line", [0, 1])
def test_a_manifest_line_nested_beyond_reason_is_damage(stored: tuple[Path, Path, str], tmp_path: Path,
                                                        line: int) -> None:
    # small, but deep enough to exhaust the JSON parser's recursion: damage (exit 8), not a crash (exit 1)
    repo, store, bid = stored
    key = store / "manifests" / f"{bid}.jsonl.zst"
    reader = zstandard.ZstdDecompressor().stream_reader(key.read_bytes(), read_across_frames=True)
    raw = reader.read().decode().splitlines()
    raw[line] = "[" * 50_000 + "]" * 50_000
    key.write_bytes(zstandard.ZstdCompressor().compress(("\n".join(raw) + "\n").encode()))
    _all_refused(repo, store, bid, tmp_path)


def test_a_previous_manifest_whose_header_would_inflate_hugely_is_not_inflated(tmp_path: Path) -> None:
    """Looking for a manifest to copy reads other backups' header frames: a store's frame that
    says (or would turn out) to be 256 MiB is passed over, not decompressed."""
    import tracemalloc

    from fcrctl.services.backup.manifest import writer
    from fcrctl.services.backup.manifest.format import TransferReport
    from fcrctl.services.backup.snapshot import BackupInfo
    from fcrctl.services.backup.stores.directory import DirectoryStore

    store = DirectoryStore.open(str(tmp_path / "store"), create=True)
    bomb = zstandard.ZstdCompressor(level=1).compress(b"\0" * (256 << 20))  # ~8 KB on disk
    store.put("manifests/9999-12-31T00.00.00Z_x.jsonl.zst", iter([bomb]))
    info = BackupInfo(id="2026-12-05T00.00.00Z_a", datetime="2026-12-05T00:00:00+00:00", label="a",
                      repository="/r", extra={"stateDigest": "d" * 64})
    tracemalloc.start()
    try:
        copied = writer.copy_unchanged(store, info, {}, TransferReport(id=info.id, store="s"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert copied is False and peak < (32 << 20), peak
