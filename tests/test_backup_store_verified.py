"""verify-backup --from costs what changed (manifest/verified.py): after a sound verify, the next
checks whole only the manifests uploaded since and sweeps the rest; a stale, damaged or forged
record never hides damage a verify finds within its promise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcrctl.services.backup.manifest import verified
from tests.backup_helpers import make_repo, ok_json, run
from tests.test_backup_store_chain import change, head, lines


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def verify(repo_dir: Path, bid: str, store: Path) -> dict:
    result = run(repo_dir, "--json", "verify-backup", bid, "--from", str(store))
    assert result.exit_code in (0, 8), result.stderr
    return json.loads(result.stdout)


def _drop_blob(store: Path, digest: str) -> None:
    """The blob gone from the store (its pack index no longer names it), its manifest untouched."""
    for index in (store / "index").iterdir():
        doc = json.loads(index.read_text())
        kept = [b for b in doc["blobs"] if b[0] != digest]
        if len(kept) != len(doc["blobs"]):
            index.write_text(json.dumps({**doc, "blobs": kept}))
            return
    for blob in (store / "blobs").rglob(digest):
        blob.unlink()
        return
    raise AssertionError("no such blob")


def _last_object_blob(store: Path, bid: str) -> str:
    doc = json.loads(lines(store, bid)[-2])  # the last object's line (the root's is last)
    return next(f[1] for f in doc["f"] if f[1] is not None)


def test_a_verify_after_a_sound_one_checks_what_changed(repo_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verified, "SWEEP_LINES", 1)
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    whole = verify(repo_dir, first, store)
    assert whole["ok"] and "checkedObjects" not in whole and whole["objects"] == 7
    assert (repo_dir / "backups" / verified.RECORD).exists()
    change(repo_dir, 1)
    second = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    out = verify(repo_dir, second, store)
    assert out["ok"] and out["checkedObjects"] <= 3  # the two changed objects, one of the sweep
    unchanged = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    out = verify(repo_dir, unchanged, store)
    assert out["ok"] and out["checkedObjects"] <= 1
    assert ok_json(repo_dir, "verify-backup", unchanged, "--from", str(store), "--read-data")["ok"]


def test_a_lost_blob_is_found_within_the_sweep(repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verified, "SWEEP_LINES", 1)
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    assert verify(repo_dir, first, store)["ok"]
    unchanged = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    _drop_blob(store, _last_object_blob(store, first))
    count = head(store, first)["lines"]["count"]
    for n in range(count + 1):  # noqa: B007 - n is read after the loop
        out = verify(repo_dir, unchanged, store)
        if not out["ok"]:
            break
    else:
        pytest.fail("the sweep never reached the lost blob")
    assert n < count and "missing" in out["problems"][0]["message"]
    assert not verify(repo_dir, unchanged, store)["ok"]  # a verify that found a problem left no record
    assert "checkedObjects" not in verify(repo_dir, unchanged, store)


def test_a_changed_manifest_is_checked_whole_whatever_the_record_says(repo_dir: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A careful forger rewrites a verified manifest (its lines' sha256 recomputed in the end line
    and the header) to name a blob the store lacks: its sha256 is not the recorded one, so it is
    checked whole at once, not left to the sweep."""
    import hashlib
    import io

    import zstandard

    monkeypatch.setattr(verified, "SWEEP_LINES", 0)
    store = tmp_path / "store"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    assert verify(repo_dir, first, store)["ok"]
    unchanged = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    assert verify(repo_dir, unchanged, store)["ok"]
    key = store / "manifests" / f"{first}.jsonl.zst"
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(key.read_bytes()), read_across_frames=True).read()
    top, *body, end, _ = text.split(b"\n")
    missing = "ab" * 64
    body[0] = body[0].replace(json.loads(body[0])["f"][-1][1].encode(), missing.encode()) \
        if json.loads(body[0])["f"][-1][1] else body[0]
    assert missing.encode() in body[0]
    digest = hashlib.sha256(b"".join(x + b"\n" for x in body)).hexdigest()
    doc, last = json.loads(top), json.loads(end)
    doc["lines"]["sha256"] = last["linesSha256"] = digest
    key.write_bytes(zstandard.ZstdCompressor().compress(
        b"\n".join([json.dumps(doc).encode(), *body, json.dumps(last).encode()]) + b"\n"))
    out = verify(repo_dir, first, store)  # not the lines recorded: read whole, though the sweep is off
    assert not out["ok"] and any("missing" in p["message"] for p in out["problems"]), out
    assert not verify(repo_dir, unchanged, store)["ok"]  # its base no longer carries the lines it was built on
    # a record forged to name the new lines as verified (whoever can write the backups directory):
    # the sweep still finds the missing blob within lines/SWEEP_LINES verifies, as it would a lost one
    monkeypatch.setattr(verified, "SWEEP_LINES", 1)
    record = {"format": 1, "stores": {str(store): {"links": {first: digest}, "sweep": [first, 1]}}}
    (repo_dir / "backups" / verified.RECORD).write_text(json.dumps(record))
    found = [verify(repo_dir, first, store) for _ in range(doc["lines"]["count"])]
    assert any(not out["ok"] for out in found) and "checkedObjects" in found[0]


def test_another_stores_record_is_not_used(repo_dir: Path, tmp_path: Path) -> None:
    store, other = tmp_path / "store", tmp_path / "other"
    first = ok_json(repo_dir, "backup", "--to", str(store))["id"]
    ok_json(repo_dir, "upload-backup", first, str(other))
    assert verify(repo_dir, first, store)["ok"]
    out = verify(repo_dir, first, other)
    assert out["ok"] and "checkedObjects" not in out  # whole: nothing recorded for that store
