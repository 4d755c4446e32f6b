"""verify-backup (no --read-data) checks what changed since the last snapshot verified sound,
plus a sweep of the rest (verified.py), and a stale or forged record never hides damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from fcrctl.services.backup import verified
from tests.backup_helpers import make_repo, ok_json, run


@pytest.fixture
def repo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(verified, "SWEEP_OBJECTS", 0)  # only what changed: what each test shows
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _change(repo_dir: Path, name: str, text: str) -> None:
    import io

    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    repo = open_repository(str(repo_dir))
    try:
        repo.replace(f"/top/sub/{name}", ResourceSpec(content=io.BytesIO(text.encode()), mime_type="text/plain",
                                                      filename=f"{name}.txt"))
    finally:
        repo.close()


def _content_of(repo_dir: Path, name: str) -> Path:
    """The newest content file of binary /top/sub/``name`` in the live root (which snapshots read)."""
    from fcrctl.repository.local import ocfl

    obj = repo_dir / "ocfl-root" / ocfl.object_rel(f"info:fedora/top/sub/{name}")
    inv = json.loads((obj / "inventory.json").read_text())
    return obj / f"{inv['head']}/content/{name}"


def test_unchanged_snapshot_checks_nothing_and_a_changed_one_only_what_changed(repo_dir: Path) -> None:
    first = ok_json(repo_dir, "backup")["id"]
    whole = ok_json(repo_dir, "verify-backup", first)
    assert whole["ok"] and "checkedObjects" not in whole  # no record yet: every object
    again = ok_json(repo_dir, "verify-backup", first)
    assert again["ok"] and again["checkedObjects"] == 0 and again["objects"] == whole["objects"]
    _change(repo_dir, "b1", "new bytes")
    second = ok_json(repo_dir, "backup")["id"]
    changed = ok_json(repo_dir, "verify-backup", second)
    # the changed binary's object (and its description's parent's, checked for containment), not all
    assert changed["ok"], changed["problems"]
    assert 1 <= changed["checkedObjects"] < changed["objects"]


def test_damage_in_a_changed_object_is_found(repo_dir: Path) -> None:
    first = ok_json(repo_dir, "backup")["id"]
    assert ok_json(repo_dir, "verify-backup", first)["ok"]
    _change(repo_dir, "b1", "new bytes")
    second = ok_json(repo_dir, "backup")["id"]
    _content_of(repo_dir, "b1").unlink()  # the new version's content file
    result = run(repo_dir, "--json", "verify-backup", second)
    assert result.exit_code == ExitCode.CORRUPT, result.stdout
    report = json.loads(result.stdout)
    assert report["checkedObjects"] < report["objects"]  # found by the changed-objects check, not a whole walk
    assert any("is missing" in p["message"] for p in report["problems"]), report["problems"]
    # a verify that found a problem leaves no record: the next one checks everything, and finds it again
    assert not (repo_dir / "backups" / verified.RECORD).exists()
    again = json.loads(run(repo_dir, "--json", "verify-backup", second).stdout)
    assert "checkedObjects" not in again and not again["ok"]


def test_the_sweep_finds_damage_to_an_unchanged_object(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    objects = ok_json(repo_dir, "verify-backup", bid)["objects"]
    _content_of(repo_dir, "b2").unlink()
    assert ok_json(repo_dir, "verify-backup", bid)["ok"]  # nothing changed, no sweep: not looked at
    monkeypatch.setattr(verified, "SWEEP_OBJECTS", 2)
    for _ in range(-(-objects // 2)):  # within objects / SWEEP_OBJECTS verifies
        result = run(repo_dir, "--json", "verify-backup", bid)
        if result.exit_code:
            break
    assert result.exit_code == ExitCode.CORRUPT
    assert any("is missing" in p["message"] for p in json.loads(result.stdout)["problems"])


@pytest.mark.parametrize("tamper", ["state", "record", "generation"])
def test_a_stale_or_forged_record_means_a_whole_verify(repo_dir: Path, tamper: str) -> None:
    home = repo_dir / "backups"
    first = ok_json(repo_dir, "backup")["id"]
    assert ok_json(repo_dir, "verify-backup", first)["ok"]
    _change(repo_dir, "b1", "new bytes")
    second = ok_json(repo_dir, "backup")["id"]
    # the record forged to claim the new state was verified: damage in an unchanged object then
    # must still be found, because the forgery does not match what the record describes
    _content_of(repo_dir, "b0").unlink()
    doc = json.loads((home / verified.RECORD).read_text())
    if tamper == "state":  # the linked state replaced by the new snapshot's, the .json left as it was
        (home / verified.STATE).unlink()
        (home / verified.STATE).hardlink_to(home / second / "objects.jsonl")
    elif tamper == "record":  # the .json rewritten for a state it never checked
        (home / verified.STATE).unlink()
        (home / verified.STATE).hardlink_to(home / second / "objects.jsonl")
        doc["stateSha256"] = "0" * 64
        (home / verified.RECORD).write_text(json.dumps(doc))
    else:  # a retention generation it read objects from is gone
        doc["generations"] = ["999"]
        (home / verified.RECORD).write_text(json.dumps(doc))
    result = run(repo_dir, "--json", "verify-backup", second)
    assert result.exit_code == ExitCode.CORRUPT, result.stdout
    report = json.loads(result.stdout)
    assert "checkedObjects" not in report
    assert any("is missing" in p["message"] for p in report["problems"])


def test_read_data_checks_every_object_whatever_the_record_says(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    assert ok_json(repo_dir, "verify-backup", bid)["ok"]
    content = _content_of(repo_dir, "b2")
    content.write_bytes(content.read_bytes()[::-1])
    assert ok_json(repo_dir, "verify-backup", bid)["checkedObjects"] == 0
    result = run(repo_dir, "--json", "verify-backup", bid, "--read-data")
    assert result.exit_code == ExitCode.CORRUPT
    assert "checkedObjects" not in json.loads(result.stdout)
