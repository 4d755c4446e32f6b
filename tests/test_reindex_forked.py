"""reindex reads a big root with forked workers: the index it builds is the one a serial reindex
builds, invalid objects included."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fcrctl import forked
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import reindex as local_reindex
from fcrctl.repository.local import repository as local_repository

TABLES = ("resources", "membership", "refs", "invalid", "acls")


def _dump(repo) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    conn = repo._index.conn  # noqa: SLF001
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def test_forked_reindex_builds_the_serial_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = open_repository(str(tmp_path / "r"), create=True)
    try:
        repo.create("/c", ResourceSpec())
        for i in range(150):  # ~150 top directories: enough for workers
            spec = ResourceSpec(content=io.BytesIO(b"x"), mime_type="text/plain") if i % 10 == 0 else ResourceSpec()
            repo.create(f"/c/x{i}", spec)
    finally:
        repo.close()
    victim = next(p for p in (tmp_path / "r" / "ocfl-root").rglob("inventory.json") if p.parent.name != "v1")
    victim.write_text("{not json")  # one invalid object: recorded as such by both
    calls: list[int] = []
    real = forked.pool

    def counted(processes: int):  # type: ignore[no-untyped-def]
        calls.append(processes)
        return real(processes)

    repo = open_repository(str(tmp_path / "r"))
    try:
        monkeypatch.setattr(local_repository, "REINDEX_PROCESSES", 1)
        serial_count = repo.reindex()
        serial = _dump(repo)
        monkeypatch.setattr(local_repository, "REINDEX_PROCESSES", 2)
        monkeypatch.setattr(forked, "pool", counted)
        # pytest-xdist runs tests beside its own threads, for which reindex would stay serial
        monkeypatch.setattr(local_reindex.threading, "active_count", lambda: 1)
        forked_count = repo.reindex()
        parallel = _dump(repo)
    finally:
        repo.close()
    assert serial_count == forked_count and serial_count >= 140
    assert len(serial["invalid"]) == 1
    assert parallel == serial
    assert calls == [2]  # read by two forked workers


def test_reindex_shows_a_bar_with_an_eta_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from fcrctl.cli import admin, output
    from fcrctl.cli.main import app

    repo = open_repository(str(tmp_path / "r"), create=True)
    try:
        for i in range(5):
            repo.create(f"/x{i}", ResourceSpec())
    finally:
        repo.close()
    seen: list[int] = []
    repo = open_repository(str(tmp_path / "r"))
    try:
        assert repo.object_count() == 6
        assert repo.reindex(progress=seen.append) == 6
    finally:
        repo.close()
    assert sum(seen) == 6  # every object read is counted
    monkeypatch.setattr(output, "_isatty", lambda stream: True)
    monkeypatch.setattr(admin, "BAR_DELAY", 0)
    result = CliRunner().invoke(app, ["--repo", str(tmp_path / "r"), "reindex"])
    assert result.exit_code == 0 and "reindexed 6 resources" in result.stdout
    assert "/6 [" in result.stderr and "objects/s" in result.stderr  # count of the total, rate, ETA
