"""A restore's forked writers failing mid-download: the restore stops with a one-line error, the
live repository is as it was, and no staged tree is left behind (what the writers had written
is in a staging directory that nothing installs or swaps in)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from pathlib import Path

import pytest
import zstandard

from fcrctl.errors import ExitCode
from fcrctl.services.backup.manifest import downloads
from tests.backup_helpers import digests, make_repo, ok_json, run


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path, str]:
    """A repository of enough objects for several writer batches, backed up to a store, and changed
    since (so a restore that went through would show)."""
    repo = tmp_path / "repo"
    make_repo(repo)
    for i in range(40):
        run(repo, "create", f"/many/c{i}")
    store = tmp_path / "store"
    bid = ok_json(repo, "backup", "--label", "one", "--to", str(store))["id"]
    run(repo, "create", "/after")
    return repo, store, bid


def _debris(repo: Path) -> list[str]:
    """Staged trees and side directories of restores, left in the backups directory."""
    return sorted(p.name for p in (repo / "backups").iterdir() if p.name.startswith((".tmp-", ".restore-")))


def _restore_refused(repo: Path, store: Path, bid: str, code: ExitCode) -> str:
    before = digests(repo / "ocfl-root")
    backups = sorted(p.name for p in (repo / "backups").iterdir())
    result = run(repo, "restore", bid, "--from", str(store), "--yes")
    assert result.exit_code == code, result.stderr
    assert digests(repo / "ocfl-root") == before
    assert sorted(p.name for p in (repo / "backups").iterdir()) == backups  # no fail-safe, no debris
    assert _debris(repo) == []
    assert "/after" in run(repo, "ls", "/", "--json").stdout
    return str(result.stderr)


def _rewrite_last_object(store: Path, bid: str, edit: object) -> None:
    """Edit the manifest's last object line (the batches before it are written first), its
    linesSha256 given again as a careful forger would."""
    key = store / "manifests" / f"{bid}.jsonl.zst"
    raw = zstandard.ZstdDecompressor().stream_reader(key.read_bytes(), read_across_frames=True).read()
    lines = raw.decode().splitlines()
    head, body, end = lines[0], [json.loads(x) for x in lines[1:-1]], json.loads(lines[-1])
    last = max(i for i, x in enumerate(body) if x["o"])
    edit(body[last])  # type: ignore[operator]
    text = [json.dumps(x, separators=(",", ":"), ensure_ascii=False) + "\n" for x in body]
    end["linesSha256"] = hashlib.sha256("".join(text).encode()).hexdigest()
    doc = json.loads(head)
    if "lines" in doc:
        doc["lines"]["sha256"] = end["linesSha256"]
    key.write_bytes(zstandard.ZstdCompressor().compress(
        (json.dumps(doc) + "\n" + "".join(text) + json.dumps(end) + "\n").encode()))


def test_a_line_a_writer_refuses_after_others_were_written_stops_the_restore(
        stored: tuple[Path, Path, str]) -> None:
    repo, store, bid = stored

    def escape(line: dict[str, object]) -> None:
        line["f"].append(["../../../../escaped", None, "text"])  # type: ignore[attr-defined]

    _rewrite_last_object(store, bid, escape)
    assert "leaves its directory" in _restore_refused(repo, store, bid, ExitCode.CORRUPT)
    assert not (repo.parent / "escaped").exists()


def test_lines_that_do_not_hash_to_their_sha256_stop_the_restore_after_every_object_was_written(
        stored: tuple[Path, Path, str]) -> None:
    """The manifest is checked whole only at its end line now: what was written by then is dropped."""
    repo, store, bid = stored
    key = store / "manifests" / f"{bid}.jsonl.zst"
    raw = zstandard.ZstdDecompressor().stream_reader(key.read_bytes(), read_across_frames=True).read()
    lines = raw.decode().splitlines()
    end = json.loads(lines[-1])
    end["linesSha256"] = "0" * 64
    lines[-1] = json.dumps(end)
    key.write_bytes(zstandard.ZstdCompressor().compress(("\n".join(lines) + "\n").encode()))
    assert "linesSha256" in _restore_refused(repo, store, bid, ExitCode.CORRUPT)


def test_a_writer_that_fails_mid_download_stops_the_restore(stored: tuple[Path, Path, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer's error that is not the manifest's fault (here: a full disk) reaches the parent as
    what it is, not as damage, and stops the restore before anything is swapped in."""
    repo, store, bid = stored
    parent = os.getpid()
    original = downloads.validate.check_object
    calls = [0]

    def failing(*args: object, **kwargs: object) -> None:
        calls[0] += 1
        if os.getpid() != parent and calls[0] > 5:
            raise OSError(28, "No space left on device")
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(downloads.validate, "check_object", failing)
    stderr = _restore_refused(repo, store, bid, ExitCode.UNAVAILABLE)
    assert "no space left on the device" in stderr and "damaged" not in stderr


def test_a_writer_killed_mid_download_stops_the_restore(stored: tuple[Path, Path, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer killed (the OOM killer, an operator's kill -9): a one-line error naming what
    happened, the live repository untouched."""
    repo, store, bid = stored
    parent = os.getpid()
    original = downloads.validate.check_object
    calls = [0]

    def killed(*args: object, **kwargs: object) -> None:
        calls[0] += 1
        if os.getpid() != parent and calls[0] > 5:
            os.kill(os.getpid(), signal.SIGKILL)
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(downloads.validate, "check_object", killed)
    stderr = _restore_refused(repo, store, bid, ExitCode.UNEXPECTED)
    assert "writer" in stderr and "nothing was restored" in stderr and "Traceback" not in stderr
    monkeypatch.undo()
    ok_json(repo, "restore", bid, "--from", str(store), "--yes")
    assert "/after" not in run(repo, "ls", "/", "--json").stdout


def test_the_restored_tree_is_synced_by_a_child_while_the_live_tree_is_scanned_and_the_child_is_reaped(
        stored: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.repository.local import ocfl
    from fcrctl.services.backup import restore

    repo, store, bid = stored
    started: list[int | None] = []
    original = restore._start_sync

    def recorded(path: Path) -> int | None:
        started.append(original(path))
        return started[-1]

    monkeypatch.setattr(restore, "_start_sync", recorded)
    ok_json(repo, "restore", bid, "--from", str(store), "--yes")
    assert "/after" not in run(repo, "ls", "/", "--json").stdout
    assert len(started) == 1
    if ocfl.HAVE_SYNCFS and threading.active_count() == 1:  # forked only where no other thread runs
        assert started[0] is not None
    if started[0] is not None:
        with pytest.raises(ChildProcessError):  # waited for already: no zombie left
            os.waitpid(started[0], os.WNOHANG)
