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


def test_batched_reindex_indexes_as_one_object_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reindex writes its entries a batch of objects at a time: an id found in two directories
    and an invalid object in between must leave the index each object applied in turn leaves."""
    import shutil

    from rdflib import Graph, Literal, URIRef

    from fcrctl.repository.local import reindex
    from fcrctl.repository.local.ocfl import object_rel

    repo = open_repository(str(tmp_path / "r"), create=True)
    try:
        repo.create("/c", ResourceSpec())
        for i in range(30):
            graph, me = Graph(), URIRef(f"info:fedora/c/x{i}")
            graph.add((me, URIRef("http://purl.org/dc/terms/relation"), URIRef("info:fedora/c")))
            graph.add((me, URIRef("http://purl.org/dc/terms/title"), Literal(f"x{i}")))
            repo.create(f"/c/x{i}", ResourceSpec(graph=graph))
    finally:
        repo.close()
    root = tmp_path / "r" / "ocfl-root"
    objects = sorted(p.parent for p in root.rglob("0=ocfl_object_1.1"))
    twice = root / object_rel("info:fedora/c/x3")
    copy = root / "zzz" / "copy" / twice.name
    shutil.copytree(twice, copy)  # the same id twice: its refs must not double
    (root / object_rel("info:fedora/c/x5") / "inventory.json").write_text("{not json")
    monkeypatch.setattr(reindex, "BATCH", 4)
    repo = open_repository(str(tmp_path / "r"))
    try:
        batched_count = repo.reindex()
        batched = _dump(repo)
        store = repo._store  # noqa: SLF001
        with repo._index.transaction():  # noqa: SLF001
            repo._index.clear_all()  # noqa: SLF001
            one_by_one = sum(store.index_object_dir(obj) for obj in [*objects, copy])
        single = _dump(repo)
    finally:
        repo.close()
    assert batched_count == one_by_one
    assert batched == single
    assert len(batched["invalid"]) == 1 and len(batched["refs"]) >= 29



def test_reindex_and_check_inside_a_transaction_say_so(tmp_path: Path) -> None:
    """Both commands refuse to run inside a transaction with their own message (reindex failed
    with a TypeError once its progress bar came)."""
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    repo = open_repository(str(tmp_path / "r"), create=True)
    try:
        tx = repo.begin_transaction().id  # type: ignore[attr-defined]
    finally:
        repo.close()
    for command in ("reindex", "check"):
        result = CliRunner().invoke(app, ["--repo", str(tmp_path / "r"), "--tx", tx, command])
        assert result.exit_code == 9, result.output
        assert f"{command} works on the repository, not inside a transaction" in result.output
