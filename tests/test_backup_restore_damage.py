"""Restores never bring back or launder damage, fail-safes are unique and never linger
(issue 18: 1, 2, 5), through the CLI on the local backend, and over serve."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from tests.backup_helpers import make_repo, ok_json, paths_in, run
from tests.server_fixture import start_server

ORIGINAL = ("binary 0 " * 50).encode()


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _content_file(repo_dir: Path) -> Path:
    """The live content file of /top/sub/b0 (a snapshot hard-links this very file)."""
    hits = [p for p in (repo_dir / "ocfl-root").rglob("*") if p.is_file() and p.read_bytes() == ORIGINAL]
    assert len(hits) == 1, hits
    return hits[0]


def _damage(file: Path) -> None:
    """Overwrite 4 bytes in place (the inode, and so every hard link, changes)."""
    with open(file, "r+b") as fh:
        fh.seek(10)
        fh.write(b"XXXX")


def _backups(repo_dir: Path) -> list[dict]:
    return ok_json(repo_dir, "list-backups")


# -- 18.1: --from reads the store, whatever exists locally -----------------------------------------
def test_restore_from_a_store_reads_the_store_even_with_a_local_snapshot(repo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    bid = ok_json(repo_dir, "backup", "--label", "one", "--to", str(store))["id"]
    live = _content_file(repo_dir)
    _damage(live)
    ok_json(repo_dir, "restore", bid, "--from", str(store), "--yes")
    assert _content_file(repo_dir).read_bytes() == ORIGINAL  # repaired from the store's verified blob
    assert run(repo_dir, "check", "--read-data").exit_code == 0


# -- 18.2: a restore checks every file it brings back -----------------------------------------------
def test_whole_restore_from_a_damaged_local_snapshot_is_refused(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    run(repo_dir, "create", "/after")
    _damage(_content_file(repo_dir))
    before = paths_in(repo_dir)
    result = run(repo_dir, "restore", bid, "--yes")
    assert result.exit_code == ExitCode.CORRUPT, result.stderr
    assert "/top/sub/b0" in result.stderr and "nothing was restored" in result.stderr
    assert paths_in(repo_dir) == before  # /after still there: nothing changed
    assert [b["kind"] for b in _backups(repo_dir)] == ["snapshot"]  # no fail-safe left behind


def test_partial_restore_does_not_launder_damage(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    _damage(_content_file(repo_dir))
    result = run(repo_dir, "restore", bid, "--path", "/top", "--yes")
    assert result.exit_code == ExitCode.CORRUPT, result.stderr
    assert "/top/sub/b0" in result.stderr
    # the damage is still detectable: nothing replayed it into fresh digests
    assert run(repo_dir, "check", "--read-data").exit_code == ExitCode.CORRUPT
    assert [b["kind"] for b in _backups(repo_dir)] == ["snapshot"]


def test_partial_restore_from_a_store_repairs(repo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    bid = ok_json(repo_dir, "backup", "--label", "one", "--to", str(store))["id"]
    _damage(_content_file(repo_dir))
    ok_json(repo_dir, "restore", bid, "--from", str(store), "--path", "/top", "--yes")
    got = run(repo_dir, "get", "/top/sub/b0")
    assert got.stdout.encode().startswith(ORIGINAL[:40])
    assert run(repo_dir, "check", "--read-data").exit_code == 0


def test_partial_restore_over_serve_refuses_a_damaged_snapshot(repo_dir: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    make_repo(served)
    with start_server(served) as handle:
        bid = ok_json(handle.url, "backup", "--label", "remote")["id"]
        crawled = next(Path(os.environ["XDG_DATA_HOME"]).rglob(f"{bid}/ocfl-root"))
        victim = next(p for p in crawled.rglob("*") if p.is_file() and p.read_bytes() == ORIGINAL)
        _damage(victim)
        run(handle.url, "create", "/after")
        result = run(handle.url, "restore", bid, "--path", "/top", "--yes")
        assert result.exit_code == ExitCode.CORRUPT, result.stderr
        assert "/after" in paths_in(served)  # nothing changed, no fail-safe crawl taken
        assert [b["id"] for b in ok_json(handle.url, "list-backups")] == [bid]


# -- 18.5: fail-safe ids are unique, and a failed restore leaves none --------------------------------
def test_two_restores_within_a_second_both_succeed(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    first = ok_json(repo_dir, "restore", bid, "--yes")
    second = ok_json(repo_dir, "restore", bid, "--yes")
    assert first["previous"] != second["previous"]
    third = ok_json(repo_dir, "restore", bid, "--path", "/top", "--yes")
    fourth = ok_json(repo_dir, "restore", bid, "--path", "/top", "--yes")
    assert len({first["previous"], second["previous"], third["previous"], fourth["previous"]}) == 4
    assert {b["label"] for b in _backups(repo_dir) if b["kind"] == "failsafe"} == {"previous"}


def test_a_restore_of_a_missing_path_leaves_no_failsafe(repo_dir: Path) -> None:
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    result = run(repo_dir, "restore", bid, "--path", "/missing", "--yes")
    assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
    assert [b["id"] for b in _backups(repo_dir)] == [bid]


def test_over_serve_a_restore_of_a_missing_path_leaves_no_failsafe(tmp_path: Path) -> None:
    served = tmp_path / "served"
    make_repo(served)
    with start_server(served) as handle:
        bid = ok_json(handle.url, "backup", "--label", "remote")["id"]
        result = run(handle.url, "restore", bid, "--path", "/missing", "--yes")
        assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
        assert [b["id"] for b in ok_json(handle.url, "list-backups")] == [bid]
        one = ok_json(handle.url, "restore", bid, "--path", "/top", "--yes")
        two = ok_json(handle.url, "restore", bid, "--path", "/top", "--yes")
        assert one["previous"] != two["previous"]


# -- 18.6: retention per label; fail-safes have their own rule ---------------------------------------
def test_retention_applies_per_label_and_failsafes_do_not_push_out_real_backups(repo_dir: Path) -> None:
    nightly = ok_json(repo_dir, "backup", "--label", "nightly")["id"]
    hourly = [ok_json(repo_dir, "backup", "--label", "hourly")["id"]]
    restored = ok_json(repo_dir, "restore", nightly, "--yes")
    second = ok_json(repo_dir, "restore", nightly, "--yes")
    plan = ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--dry-run")
    kept = {k["id"] for k in plan["keep"]}
    assert nightly in kept and hourly[0] in kept and second["previous"] in kept
    assert plan["remove"] == [restored["previous"]]  # the older fail-safe alone
    plan = ok_json(repo_dir, "prune-backups", "--keep-daily", "7", "--keep-weekly", "4", "--dry-run")
    assert nightly in {k["id"] for k in plan["keep"]}
    plan = ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--keep-failsafe", "0", "--label", "previous",
                   "--dry-run")
    assert sorted(plan["remove"]) == sorted([restored["previous"], second["previous"]]) and plan["keep"] == []
    ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--label", "nightly")
    assert len(ok_json(repo_dir, "list-backups")) == 4  # the only nightly is its label's newest
    assert run(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "host").exit_code == ExitCode.BAD_INPUT


# -- also: the prompt answered no, and a writer kept waiting ------------------------------------------
def test_a_restore_declined_at_the_prompt_says_so_and_changes_nothing(repo_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from fcrctl.cli import backup as backup_cli

    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    run(repo_dir, "create", "/after")
    monkeypatch.setattr(backup_cli, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))
    result = run(repo_dir, "restore", bid, input="n\n")
    assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
    assert "restore cancelled, nothing changed" in result.stderr
    assert "/after" in paths_in(repo_dir) and len(_backups(repo_dir)) == 1


def test_a_writer_kept_waiting_says_who_holds_the_lock(repo_dir: Path) -> None:
    from fcrctl.repository import open_repository

    holder = open_repository(str(repo_dir))
    try:
        with holder.exclusive():  # type: ignore[attr-defined]
            result = run(repo_dir, "backup", "--lock-timeout", "1.5")
    finally:
        holder.close()
    assert result.exit_code == ExitCode.LOCKED, result.stderr
    assert f"waiting for the writer lock (held by {os.getpid()}, " in result.stderr


# -- 18.3: a backup that reuses a blob is not greener than one that uploads it -----------------------
def test_backup_to_an_existing_store_notices_a_file_damaged_since(repo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ok_json(repo_dir, "backup", "--label", "one", "--to", str(store))
    _damage(_content_file(repo_dir))
    for label in ("two", "three"):  # unchanged state (manifest copied), then changed (objects reused)
        result = run(repo_dir, "backup", "--label", label, "--to", str(store))
        assert result.exit_code == ExitCode.CORRUPT, result.stderr
        assert "/top/sub/b0" in result.stderr
        run(repo_dir, "create", "/elsewhere")
    fresh = run(repo_dir, "backup", "--label", "four", "--to", str(tmp_path / "fresh"))
    assert fresh.exit_code == ExitCode.CORRUPT  # as a fresh store always did
    assert [b["label"] for b in ok_json(repo_dir, "list-backups", "--from", str(store))] == ["one"]


def _pretend_unchanged(repo_dir: Path, file: Path) -> None:
    """Record ``file``'s present stat as the one fcrctl last read it with (.read-stats.sqlite)."""
    import sqlite3

    st = os.stat(file)
    db = sqlite3.connect(repo_dir / "backups" / ".read-stats.sqlite")
    try:
        for rel, files in db.execute("SELECT rel, files FROM objects").fetchall():
            docs = json.loads(files)
            for f in docs:
                if os.path.samefile(f[0], file):
                    f[1:] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
            db.execute("UPDATE objects SET files = ? WHERE rel = ?", (json.dumps(docs), rel))
        db.commit()
    finally:
        db.close()


def test_read_data_rereads_what_looks_unchanged(repo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ok_json(repo_dir, "backup", "--label", "one", "--to", str(store))
    file = _content_file(repo_dir)
    _damage(file)
    # damage that kept the file's stat (as fcrctl last saw it): only reading the bytes finds it
    _pretend_unchanged(repo_dir, file)
    assert run(repo_dir, "backup", "--label", "two", "--to", str(store)).exit_code == 0
    result = run(repo_dir, "backup", "--label", "three", "--to", str(store), "--read-data")
    assert result.exit_code == ExitCode.CORRUPT and "/top/sub/b0" in result.stderr, result.stderr
    assert run(repo_dir, "backup", "--read-data").exit_code == ExitCode.BAD_INPUT


def test_partial_restore_keeps_version_history_and_recorded_digests(repo_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "v2.txt").write_text("second version")
    assert run(repo_dir, "put", "/top/sub/b0", "--file", str(tmp_path / "v2.txt")).exit_code == 0
    versions = [v["id"] for v in ok_json(repo_dir, "versions", "list", "/top/sub/b0")]
    assert len(versions) >= 2
    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    (tmp_path / "v3.txt").write_text("third version")
    run(repo_dir, "put", "/top/sub/b0", "--file", str(tmp_path / "v3.txt"))
    run(repo_dir, "delete", "/top/sub/b1")
    run(repo_dir, "create", "/top/sub/new")
    run(repo_dir, "create", "/other/kept")
    doc = ok_json(repo_dir, "restore", bid, "--path", "/top", "--yes")
    assert doc["versionsKept"] is True
    assert [v["id"] for v in ok_json(repo_dir, "versions", "list", "/top/sub/b0")] == versions
    assert run(repo_dir, "get", "/top/sub/b0").stdout == "second version"
    assert "/top/sub/b1" in paths_in(repo_dir) and "/top/sub/new" not in paths_in(repo_dir)
    assert "/other/kept" in paths_in(repo_dir)  # outside the path: untouched
    assert run(repo_dir, "check", "--read-data").exit_code == 0
    # the fail-safe holds the state just before, third version included
    back = ok_json(repo_dir, "restore", doc["previous"], "--path", "/top", "--yes")
    assert run(repo_dir, "get", "/top/sub/b0").stdout == "third version"
    assert "/top/sub/new" in paths_in(repo_dir) and back["versionsKept"] is True
    assert run(repo_dir, "check", "--read-data").exit_code == 0


def test_a_partial_restore_killed_among_its_swaps_is_reindexed_by_the_next_command(
        repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.repository.local.repository import LocalRepository

    bid = ok_json(repo_dir, "backup", "--label", "one")["id"]
    run(repo_dir, "create", "/top/sub/new")

    def killed(self: LocalRepository, gone: list[str], rels: list[str]) -> int:
        raise KeyboardInterrupt  # as a kill between the object swaps and the index update

    monkeypatch.setattr(LocalRepository, "reindex_objects", killed)
    run(repo_dir, "restore", bid, "--path", "/top", "--yes")
    monkeypatch.undo()
    assert (repo_dir / "backups" / ".partial-restore-pending.json").exists()
    ok_json(repo_dir, "backup", "--label", "after")  # the next backup command finishes the job
    assert not (repo_dir / "backups" / ".partial-restore-pending.json").exists()
    assert "/top/sub/new" not in paths_in(repo_dir)
    assert run(repo_dir, "check", "--read-data").exit_code == 0


def test_fedora_objects_round_trip_through_a_store_and_restore_by_path(tmp_path: Path) -> None:
    """Real Fedora 6 object trees pass the manifest checks; a path inside an archival group
    (no object of its own) is replayed, a path with its own object is swapped."""
    from tests.test_local_fixtures import FIXTURES, build_repository

    where = build_repository(tmp_path / "repo", FIXTURES / "test-rebuild-ocfl" / "objects")
    store = tmp_path / "store"
    bid = ok_json(where, "backup", "--label", "one", "--to", str(store))["id"]
    before = paths_in(where)
    run(where, "delete", "/archival-group/container")
    run(where, "delete", "/test")
    inside = ok_json(where, "restore", bid, "--from", str(store), "--path", "/archival-group/container", "--yes")
    assert "versionsKept" not in inside  # replayed
    whole_object = ok_json(where, "restore", bid, "--from", str(store), "--path", "/test", "--yes")
    assert whole_object["versionsKept"] is True
    assert paths_in(where) == before
    ok_json(where, "restore", bid, "--from", str(store), "--yes")
    assert paths_in(where) == before
    assert run(where, "check", "--read-data").exit_code == 0


def test_over_serve_restore_from_a_store_reads_the_store(tmp_path: Path) -> None:
    served = tmp_path / "served"
    make_repo(served)
    store = tmp_path / "store"
    with start_server(served) as handle:
        bid = ok_json(handle.url, "backup", "--label", "remote", "--to", str(store))["id"]
        crawled = next(Path(os.environ["XDG_DATA_HOME"]).rglob(f"{bid}/ocfl-root"))
        _damage(next(p for p in crawled.rglob("*") if p.is_file() and p.read_bytes() == ORIGINAL))
        run(handle.url, "delete", "/top")
        doc = ok_json(handle.url, "restore", bid, "--from", str(store), "--yes")
        assert doc["failures"] == []
        assert run(handle.url, "get", "/top/sub/b0").stdout.encode() == ORIGINAL  # the store's, not the damaged copy
