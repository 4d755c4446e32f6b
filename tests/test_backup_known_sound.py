"""Manifests known sound (manifest/known.py): an upload building a delta on the store's previous
manifest, and a verify --from of a chain it read before, do not read it whole again (issue 14);
a manifest replaced, or damaged in place keeping its size, is still found: at once, or within
its chunks / SWEEP_CHUNKS uses, and a damaged record only means the whole read of before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcrctl.services.backup.manifest import chain, known, verified
from fcrctl.services.backup.refcache import RefCache
from tests.backup_helpers import make_repo, ok_json, run
from tests.test_backup_store_chain import change


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


@pytest.fixture
def whole_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the manifests read whole to check them (chain.sound, chain.picked_lines)."""
    read: list[str] = []
    sound, picked = chain.sound, chain.picked_lines

    def counted_sound(store: object, link: chain.Link) -> bool:
        read.append(link.id)
        return sound(store, link)  # type: ignore[arg-type]

    def counted_picked(store: object, link: chain.Link, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
        read.append(link.id)
        return picked(store, link, ranges)  # type: ignore[arg-type]

    monkeypatch.setattr(chain, "sound", counted_sound)
    monkeypatch.setattr(chain, "picked_lines", counted_picked)
    return read


def record_file(repo_dir: Path, store: Path) -> Path:
    cache = RefCache.of(repo_dir / "backups", str(store))
    assert cache is not None
    return cache.root / known.FILE


def damage(store: Path, backup_id: str, at: int = -40) -> None:
    """One byte of the stored manifest's object lines changed in place: its size kept."""
    key = store / "manifests" / f"{backup_id}.jsonl.zst"
    data = bytearray(key.read_bytes())
    data[at] ^= 0x5A
    key.write_bytes(bytes(data))


def upload(repo_dir: Path, store: Path, n: int) -> dict:
    change(repo_dir, n)
    return ok_json(repo_dir, "backup", "--to", str(store))["upload"]


def test_an_upload_builds_on_the_manifest_it_wrote_without_reading_it(repo_dir: Path, tmp_path: Path,
                                                                     whole_reads: list[str]) -> None:
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    assert record_file(repo_dir, store).exists()  # what it put, recorded
    second = upload(repo_dir, store, 1)
    assert second["base"] == first and whole_reads == []
    third = upload(repo_dir, store, 2)
    assert third["base"] == second["id"] and whole_reads == []
    # no record (another machine's upload, a lost cache): read whole once, then recorded
    record_file(repo_dir, store).unlink()
    fourth = upload(repo_dir, store, 3)
    assert fourth["base"] == third["id"] and whole_reads == [third["id"]]
    assert upload(repo_dir, store, 4)["base"] == fourth["id"] and whole_reads == [third["id"]]


@pytest.mark.parametrize("fault", ["damaged in place", "replaced", "record damaged"])
def test_a_damaged_or_replaced_base_is_not_built_on_though_recorded(repo_dir: Path, tmp_path: Path,
                                                                    whole_reads: list[str], fault: str) -> None:
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    key = store / "manifests" / f"{first}.jsonl.zst"
    if fault == "damaged in place":
        damage(store, first)  # below SWEEP_CHUNKS chunks: every chunk is compared on each use
    elif fault == "replaced":
        key.write_bytes(key.read_bytes()[:-7])  # a truncated copy put back: another size
    else:
        record_file(repo_dir, store).write_bytes(b"not a database" * 100)
    out = upload(repo_dir, store, 1)
    # (damage the header's read meets is found there; below the header, by the chunks compared)
    assert whole_reads == ([] if out["base"] is None and fault == "damaged in place" else [first])
    if fault == "record damaged":  # the whole read of before found it sound, and recorded it again
        assert out["base"] == first
        assert upload(repo_dir, store, 2)["base"] == out["id"] and whole_reads == [first]
    else:  # written full: the new backup does not depend on the damaged one
        assert out["base"] is None


def test_damage_in_a_big_manifest_is_found_within_its_sweep(repo_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          whole_reads: list[str]) -> None:
    monkeypatch.setattr(known, "CHUNK", 64)
    monkeypatch.setattr(known, "SWEEP_CHUNKS", 1)
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    size = (store / "manifests" / f"{first}.jsonl.zst").stat().st_size
    chunks = -(-size // 64)
    damage(store, first, at=size // 2)
    link = chain.read_head(_store(store), first)
    found = [known.recorded(_store(store), repo_dir / "backups", link, read=False) for _ in range(chunks)]
    assert False in found and all(found[:found.index(False)])
    assert found.index(False) < chunks
    assert not known.recorded(_store(store), repo_dir / "backups", link, read=True)  # an upload's record


def _store(path: Path) -> object:
    from fcrctl.services.backup.stores import open_store

    return open_store(str(path))


def verify(repo_dir: Path, bid: str, store: Path) -> dict:
    result = run(repo_dir, "--json", "verify-backup", bid, "--from", str(store))
    assert result.exit_code in (0, 8), result.stderr
    return json.loads(result.stdout)


def test_verify_takes_what_it_read_back_not_what_an_upload_wrote(repo_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  whole_reads: list[str]) -> None:
    monkeypatch.setattr(verified, "SWEEP_LINES", 1)
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    second = upload(repo_dir, store, 1)["id"]
    assert verify(repo_dir, second, store)["ok"]  # whole: every link read back, recorded
    third = upload(repo_dir, store, 2)["id"]
    whole_reads.clear()
    out = verify(repo_dir, third, store)
    assert out["ok"] and "checkedObjects" in out
    assert whole_reads == []  # the links it read back are not hashed whole again; the new one is checked whole
    # damage at rest under a recorded manifest, its size kept: found at once (below SWEEP_CHUNKS MB)
    damage(store, first)
    out = verify(repo_dir, third, store)
    assert not out["ok"] and any(first in p["message"] for p in out["problems"]), out


def test_a_recorded_manifests_lines_are_read_from_the_frame_that_holds_them(repo_dir: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch of lines is a zstd frame of its own, and the upload records where each starts: a
    verify's sweep window reads the frames that hold it, not the manifest from its start."""
    from fcrctl.services.backup.manifest.writer import ManifestWriter

    monkeypatch.setattr(ManifestWriter, "BATCH", 64)  # a frame every line or two
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    opened = _store(store)
    link = chain.read_head(opened, first)
    count = link.head["lines"]["count"]
    every = list(chain.picked_lines(opened, link, [(0, count)]))  # type: ignore[arg-type]
    home = repo_dir / "backups"
    assert len(known._frames(opened, home, first)) > 3  # type: ignore[arg-type]
    for ranges in ([(0, 1)], [(2, 4)], [(count - 1, count)], [(0, 1), (3, count)], [(1, count)]):
        assert list(known.window(opened, home, link, ranges)) == [  # type: ignore[arg-type]
            line for i, line in enumerate(every) if any(lo <= i < hi for lo, hi in ranges)]
    read: list[tuple[int, int]] = []
    get_range = opened.get_range  # type: ignore[attr-defined]
    monkeypatch.setattr(opened, "get_range", lambda key, at, n: read.append((at, n)) or get_range(key, at, n))
    monkeypatch.setattr(chain, "_LineBlocks", None)  # never from the start
    assert list(known.window(opened, home, link, [(count - 1, count)])) == every[-1:]  # type: ignore[arg-type]
    size = (store / "manifests" / f"{first}.jsonl.zst").stat().st_size
    assert read and read[0][0] > size // 2 and read[0][0] + read[0][1] <= size  # its frames only
