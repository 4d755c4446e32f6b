"""fcrctl import's fast paths (issue 17): each export file parsed once, read on --jobs processes,
and written locally many resources per durable commit - with the same results, the same refusals
of bad input, and a crash leaving each batch wholly in or wholly out for --resume to finish."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from fcrctl import paths
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import LocalRepository
from tests.ocfl_check import assert_valid_ocfl
from tests.test_transfer import DC, exported, ocfl_files, run, source_repo  # noqa: F401 (fixtures)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_import_on_jobs_processes_equals_the_export(exported: Path, tmp_path: Path, jobs: str) -> None:  # noqa: F811
    target = tmp_path / f"repo-{jobs}"
    result = run(target, "--json", "import", str(exported), "--jobs", jobs, "--verify")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resources"] == 7


def test_bad_rdf_read_on_a_worker_process_is_refused_with_nothing_written(exported: Path, tmp_path: Path) -> None:  # noqa: F811
    target = tmp_path / "repo"
    run(target, "init", str(target))
    file = exported / "rest/col/members.ttl"
    file.write_text(file.read_text() + "\n<a> <b> .\n")
    before = ocfl_files(target)
    result = run(target, "import", str(exported), "--jobs", "2")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "members.ttl" in result.output and "line" in result.output
    assert ocfl_files(target) == before


# -- batches: many resources per durable commit, each wholly in or out after kill -9 ------------------------

CRASHING_IMPORT = textwrap.dedent(
    """
    import json, os, sys
    from fcrctl.cli.main import app
    from fcrctl.repository.local import ocfl_write, store
    from fcrctl.services.transfer import importer

    target, source, where, log = sys.argv[1:5]
    importer.BATCH = 25
    real_commit, real_install = store.Store.commit, ocfl_write.install_version
    commits, installs = [], []

    def commit(self, changes, **options):
        commits.append(1)
        if len(commits) == 3:  # the third batch: say what is in it, then die inside its commit
            with open(log, "w") as fh:
                json.dump([c.object_id for c in changes], fh)
            if where == "before-journal":
                store.Store._write_journal = lambda self, prepared: os._exit(137)
        return real_commit(self, changes, **options)

    def install(prepared, dirs):
        installs.append(1)
        if where == "mid-install" and len(commits) == 3 and os.path.exists(log):
            os._exit(137)  # as abrupt as kill -9: no cleanup, no atexit
        return real_install(prepared, dirs)

    store.Store.commit = commit
    store.ocfl_write.install_version = install
    app(["--repo", target, "import", source], standalone_mode=False)
    """
)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export of 150 small containers (and a binary), in a few directories."""
    where = tmp_path_factory.mktemp("many")
    repo = open_repository(str(where / "source"), create=True)
    tx = repo.begin_transaction()  # type: ignore[attr-defined]
    view = repo.in_transaction(tx.id)  # type: ignore[attr-defined]
    for i in range(150):
        graph = Graph()
        graph.add((URIRef(f"info:fedora/d{i // 60}/r{i}"), URIRef(DC + "title"), Literal(f"r {i}")))
        view.create(f"/d{i // 60}/r{i}", ResourceSpec(graph=graph), parents=True)
    view.create("/d0/bin", ResourceSpec(binary=True, content=io.BytesIO(b"bytes" * 1000), mime_type="text/plain"))
    repo.commit_transaction(tx.id)  # type: ignore[attr-defined]
    repo.close()
    assert run(where / "source", "export", "/", str(where / "out"), "--no-versions").exit_code == 0
    return where / "out"


def _paths(target: Path) -> set[str]:
    with LocalRepository.open(str(target)) as repo:
        assert repo._index.pending() == []  # noqa: SLF001 - the test reads the cache
        assert list((target / "tmp").iterdir()) == []
        return {r.path for r in repo._index.children("/", recursive=True)}  # noqa: SLF001


@pytest.mark.parametrize(("crash_point", "kept"), [("mid-install", True), ("before-journal", False)])
def test_a_batch_cut_off_by_a_crash_is_wholly_in_or_out_and_resume_finishes(
        many: Path, tmp_path: Path, crash_point: str, kept: bool) -> None:
    target, log = tmp_path / "repo", tmp_path / "batch.json"
    LocalRepository.open(str(target), create=True).close()
    proc = subprocess.run([sys.executable, "-c", CRASHING_IMPORT, str(target), str(many), crash_point, str(log)])
    assert proc.returncode == 137
    batch = {paths.from_id(oid) for oid in json.loads(log.read_text())}
    assert len(batch) == 25
    imported = _paths(target)
    assert_valid_ocfl(target)
    assert (batch <= imported) if kept else not (batch & imported)
    resumed = run(target, "--json", "import", str(many), "--resume", "--verify")
    assert resumed.exit_code == 0, resumed.output
    assert _paths(target) >= {"/d0/r0", "/d2/r149", "/d0/bin"}


def test_kill_9_at_random_moments_then_resume_finishes(many: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    LocalRepository.open(str(target), create=True).close()
    rng = random.Random(17)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "fcrctl", "--repo", str(target), "import", str(many),
                                 "--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _paths(target)  # opens, recovers, leaves nothing behind
        assert_valid_ocfl(target)
    resumed = run(target, "--json", "import", str(many), "--resume", "--verify")
    assert resumed.exit_code == 0, resumed.output
    assert len(_paths(target)) == 150 + 1 + 3


def _objects(repo: Path) -> dict[str, object]:
    """Every OCFL object's versions (date, message, user, state paths) and files (headers without
    their random state token)."""
    out: dict[str, object] = {}
    for inventory in sorted((repo / "ocfl-root").rglob("inventory.json")):
        if inventory.parent.name.startswith("v") and inventory.parent.name[1:].isdigit():
            continue  # a version's copy of the inventory
        inv = json.loads(inventory.read_text())
        versions = [(v["created"], v.get("message"), v.get("user"), sorted(p for ps in v["state"].values() for p in ps))
                    for _, v in sorted(inv["versions"].items())]
        files = {}
        for file in sorted(inventory.parent.rglob("*")):
            if file.is_file() and not file.name.startswith(("inventory.json", "0=ocfl")):
                data = file.read_bytes()
                if "/.fcrepo/" in file.as_posix():
                    headers = json.loads(data)
                    headers.pop("stateToken", None)
                    data = json.dumps(headers, sort_keys=True).encode()
                files[file.relative_to(inventory.parent).as_posix()] = data
        out[inv["id"]] = (versions, files)
    return out


def test_batched_objects_equal_those_written_one_commit_each(exported: Path, tmp_path: Path,  # noqa: F811
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    batched, single = tmp_path / "batched", tmp_path / "single"
    # what the export gives no date for is stamped "now": one fixed now for both runs
    monkeypatch.setattr("fcrctl.repository.local.ocfl.now_iso", lambda: "2020-02-02T02:02:02.000000Z")
    assert run(batched, "import", str(exported)).exit_code == 0
    monkeypatch.delattr(LocalRepository, "batch")  # the importer's one-commit-per-resource path
    assert run(single, "import", str(exported)).exit_code == 0
    assert len(_objects(batched)) == 7
    assert _objects(batched) == _objects(single)


def test_dates_of_a_resource_whose_name_needs_encoding_are_kept(source_repo: Path, exported: Path,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    """Its file is item%3A1.ttl, its triples name .../item:1: the export's dates still apply."""
    target = tmp_path / "repo"
    assert run(target, "import", str(exported)).exit_code == 0
    with LocalRepository.open(str(source_repo)) as source, LocalRepository.open(str(target)) as imported:
        for path in ("/col/item:1", "/col/item:1/page~1.txt"):
            assert imported.info(path).modified == source.info(path).modified
            assert imported.info(path).created == source.info(path).created


def test_a_batch_reads_its_parent_again_once_it_let_go_of_the_lock(tmp_path: Path) -> None:
    """Siblings share one read of their parent's row while the batch holds the writer lock; after a
    commit another writer may have deleted the parent, and the next child is refused, not staged."""
    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        repo.create("/a", ResourceSpec())
        batch = repo.batch()
        assert batch.create("/a/x", ResourceSpec()) and batch.create("/a/y", ResourceSpec())
        batch.commit()
        repo.delete("/a")  # a tombstone, with its children
        assert not batch.create("/a/z", ResourceSpec())  # under a tombstone: the ordinary write says why
        batch.discard()
    finally:
        repo.close()


@pytest.mark.parametrize("value", ["2020-10-15T05:35:26+02:00", "2020-10-15T05:35:26.000001", "0999-01-02T03:04:05Z",
                                   "9999-12-31T23:59:59.999999Z"])
def test_dates_are_written_as_strftime_wrote_them(value: str) -> None:
    """The dates a dated write stamps (headers, inventories): isoformat's, as strftime wrote them
    before, year < 1000 included (strftime does not pad it)."""
    from datetime import UTC, datetime

    from fcrctl.repository.local.dates import iso

    when = datetime.fromisoformat(value)
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    assert iso(when) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
