"""Crash safety and locking of the local backend, with real processes and kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fcrctl.errors import Locked
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import LocalRepository
from tests.ocfl_check import assert_valid_ocfl

WRITER = textwrap.dedent(
    """
    import io, os, sys
    from rdflib import Graph, Literal, URIRef
    from fcrctl.repository.local import LocalRepository
    from fcrctl.repository.base import ResourceSpec
    repo = LocalRepository.open(sys.argv[1], create=True)
    tag = sys.argv[2]
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        g = Graph()
        g.add((URIRef(f"info:fedora/{tag}{i}"), URIRef("http://purl.org/dc/elements/1.1/title"), Literal(str(i))))
        repo.create(f"/{tag}{i}", ResourceSpec(graph=g))
        repo.create(f"/{tag}{i}/bin", ResourceSpec(content=io.BytesIO(os.urandom(20000))))
        repo.replace(f"/{tag}{i}/bin", ResourceSpec(content=io.BytesIO(os.urandom(1000))))
        repo.patch(f"/{tag}{i}", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/subject> "x" }')
        if i % 3 == 0:
            repo.delete(f"/{tag}{i}")
        if i % 6 == 0:
            repo.purge(f"/{tag}{i}")
    """
)


def _snapshot(repo: LocalRepository) -> dict[str, tuple[str, bool]]:
    rows = repo._index.children("/", recursive=True, include_deleted=True)  # noqa: SLF001 - test reads the cache
    return {r.path: (r.headers.get("stateToken"), r.deleted) for r in rows}


def _start_writer(where: Path, tag: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(where), tag], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_kill_9_at_random_moments_leaves_a_valid_consistent_repository(tmp_path: Path) -> None:
    where = tmp_path / "repo"
    LocalRepository.open(str(where), create=True).close()
    rng = random.Random(1234)
    for round_no in range(6):
        proc = _start_writer(where, f"r{round_no}-")
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # open recovers pending objects; the result must be valid OCFL and match a full rebuild
        with LocalRepository.open(str(where)) as repo:
            recovered = _snapshot(repo)
            assert repo._index.pending() == []  # noqa: SLF001
            assert list((where / "tmp").iterdir()) == []
        assert_valid_ocfl(where)
        for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
            (where / name).unlink(missing_ok=True)
        with LocalRepository.open(str(where)) as rebuilt:
            assert _snapshot(rebuilt) == recovered
            assert rebuilt.invalid_objects == []
            for path, (_, deleted) in recovered.items():
                if not deleted and path.endswith("/bin"):
                    with rebuilt.open_binary(path) as content:
                        assert len(content.stream.read()) == content.info.size


def test_two_processes_writing_concurrently_serialise(tmp_path: Path) -> None:
    where = tmp_path / "repo"
    with LocalRepository.open(str(where), create=True) as repo:
        repo.create("/shared", ResourceSpec())
    script = textwrap.dedent(
        """
        import sys
        from fcrctl.repository.local import LocalRepository
        from fcrctl.repository.base import ResourceSpec
        repo = LocalRepository.open(sys.argv[1])
        tag = sys.argv[2]
        for i in range(25):
            repo.create(f"/{tag}-{i}", ResourceSpec())
            repo.patch("/shared", f'INSERT DATA {{ <> <http://example.org/n> "{tag}-{i}" }}')
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(where), tag]) for tag in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=120) == 0
    with LocalRepository.open(str(where)) as repo:
        names = {c.path for c in repo.children("/")}
        assert {f"/{t}-{i}" for t in "ab" for i in range(25)} <= names
        values = {str(o) for o in repo.get_rdf("/shared").objects()}
        assert {f"{t}-{i}" for t in "ab" for i in range(25)} <= values  # no lost update
        assert len(repo.versions("/shared")) == 51
    assert_valid_ocfl(where)


def test_lock_of_a_dead_writer_does_not_block(tmp_path: Path) -> None:
    where = tmp_path / "repo"
    LocalRepository.open(str(where), create=True).close()
    (where / "lock").write_text("12345 stale\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(where / "lock")],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with LocalRepository.open(str(where), lock_timeout=0.3) as repo:
        with pytest.raises(Locked, match="lock"):
            repo.create("/blocked", ResourceSpec())
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        started = time.monotonic()
        repo.create("/after", ResourceSpec())
        assert time.monotonic() - started < 1
        assert repo.info("/after").path == "/after"


CRASHING_DELETE = textwrap.dedent(
    """
    import os, sys
    from fcrctl.repository.local import LocalRepository, ocfl_write, store
    repo = LocalRepository.open(sys.argv[1])
    where = sys.argv[2]
    real_install = ocfl_write.install_version
    calls = []

    def install(prepared, dirs):
        calls.append(prepared)
        if where == "mid-install" and len(calls) == 2:
            os._exit(137)  # as abrupt as kill -9: no cleanup, no atexit
        return real_install(prepared, dirs)

    def journal(self, prepared):
        os._exit(137)

    store.ocfl_write.install_version = install
    if where == "before-journal":
        store.Store._write_journal = journal
    repo.delete("/tree")
    """
)


@pytest.mark.parametrize(("crash_point", "deleted"), [("mid-install", True), ("before-journal", False)])
def test_multi_object_change_is_all_or_nothing(tmp_path: Path, crash_point: str, deleted: bool) -> None:
    where = tmp_path / "repo"
    with LocalRepository.open(str(where), create=True) as repo:
        for p in ("/tree/a", "/tree/b", "/tree/a/c"):
            repo.create(p, ResourceSpec(), parents=True)
    proc = subprocess.run([sys.executable, "-c", CRASHING_DELETE, str(where), crash_point])
    assert proc.returncode == 137
    with LocalRepository.open(str(where)) as repo:
        states = {r.path: r.deleted for r in repo._index.children("/", recursive=True, include_deleted=True)}  # noqa: SLF001
        assert states == {p: deleted for p in ("/tree", "/tree/a", "/tree/a/c", "/tree/b")}
        assert not (where / "tmp" / "journal.json").exists()
    assert_valid_ocfl(where)


def test_a_writer_that_was_already_open_repairs_a_dead_writers_change(tmp_path: Path) -> None:
    where = tmp_path / "repo"
    with LocalRepository.open(str(where), create=True) as repo:
        for p in ("/tree/a", "/tree/b"):
            repo.create(p, ResourceSpec(), parents=True)
        proc = subprocess.run([sys.executable, "-c", CRASHING_DELETE, str(where), "mid-install"])
        assert proc.returncode == 137
        repo.create("/other", ResourceSpec())  # takes the lock, finds the dead writer's journal
        states = {r.path: r.deleted for r in repo._index.children("/", recursive=True, include_deleted=True)}  # noqa: SLF001
        assert states == {"/other": False, "/tree": True, "/tree/a": True, "/tree/b": True}
    assert_valid_ocfl(where)
