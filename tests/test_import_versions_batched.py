"""Versioned resources imported many per durable commit (issue 17): each new object is installed with
all its versions (v1..vN) by one rename, so a crash leaves it absent or whole, and the objects are
the ones the one-commit-per-version path writes."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench import _versioned_export
from fcrctl import paths
from fcrctl.errors import ChecksumMismatch, CorruptData
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import LocalRepository, ocfl, ocfl_write
from fcrctl.repository.local.store import Store
from tests.ocfl_check import assert_valid_ocfl
from tests.test_import_batches import _objects
from tests.test_transfer import FIXTURES, run

COUNT, VERSIONS = 120, 3


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("versioned") / "out"
    _versioned_export.write(out, COUNT, VERSIONS)
    return out


def _expected_versions(path: str) -> int:
    """OCFL versions of an object of the versioned export (its containers above the resources: 1)."""
    name = path.rsplit("/", 1)[-1]
    if not name.startswith("r"):
        return 1
    return VERSIONS + (int(name[1:]) % 7 == 3)


def _versions_per_object(target: Path) -> dict[str, int]:
    out = {}
    for inventory in (target / "ocfl-root").rglob("inventory.json"):
        if not inventory.parent.name.startswith("v"):
            inv = json.loads(inventory.read_text())
            out[paths.from_id(inv["id"])] = len(inv["versions"])
    out.pop("/", None)  # made with the repository, replaced by the import
    return out


@pytest.mark.parametrize("source", ["versioned", "4.7.5"])
def test_versioned_objects_batched_equal_those_written_one_commit_per_version(
        versioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    export = versioned if source == "versioned" else FIXTURES / "4.7.5-export"
    batched, single = tmp_path / "batched", tmp_path / "single"
    monkeypatch.setattr("fcrctl.repository.local.ocfl.now_iso", lambda: "2020-02-02T02:02:02.000000Z")
    commits: list[int] = []
    real = Store.commit

    def counting(self: Store, changes: list, **options: object) -> None:  # type: ignore[type-arg]
        commits.append(len(changes))
        real(self, changes, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "commit", counting)
    result = run(batched, "--json", "import", str(export), "--verify")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    batched_commits = len(commits)
    monkeypatch.delattr(LocalRepository, "batch")  # the importer's one-commit-per-version path
    assert run(single, "--json", "import", str(export)).exit_code == 0
    single_commits = len(commits) - batched_commits
    assert _objects(batched) == _objects(single)
    assert_valid_ocfl(batched)
    assert run(batched, "check").exit_code == 0
    if source == "versioned":
        assert report["counts"]["version"] == COUNT * VERSIONS and report["counts"]["acl"] == COUNT // 10
        assert batched_commits <= 10 and single_commits >= COUNT * VERSIONS
        got = _versions_per_object(batched)
        assert got == {path: _expected_versions(path) for path in got} and len(got) == COUNT + 3


def test_a_failed_later_version_leaves_nothing_of_the_resource_staged(tmp_path: Path) -> None:
    import io

    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        batch = repo.batch()
        assert batch.create("/a", ResourceSpec())
        assert batch.create("/b", ResourceSpec(binary=True, content=io.BytesIO(b"one")))
        bad = ResourceSpec(binary=True, content=io.BytesIO(b"two"), digests={"sha1": "0" * 40})
        with pytest.raises(ChecksumMismatch):
            batch.revise("/b", bad)
        batch.drop("/b")
        batch.revise("/a", ResourceSpec())
        batch.commit()
        assert [v.id for v in repo.versions("/a")] == ["v1", "v2"]
        assert [r.path for r in repo._index.children("/")] == ["/a"]  # noqa: SLF001
        assert list((tmp_path / "repo" / "tmp").iterdir()) == []
    finally:
        repo.close()


def test_earlier_versions_are_refused_for_an_object_that_exists(tmp_path: Path) -> None:
    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    repo.close()
    root, tmp = tmp_path / "repo" / "ocfl-root", tmp_path / "repo" / "tmp"
    with pytest.raises(CorruptData, match="exists"):
        ocfl_write.prepare_version(root, tmp, paths.ROOT_ID, {}, earlier=[({}, None, None)])
    assert list(tmp.iterdir()) == []


# -- kill -9: each object absent or whole ------------------------------------------------------------------


def _absent_or_whole(target: Path) -> set[str]:
    """Open (recover), check, validate; every object present has all its versions. Its paths."""
    with LocalRepository.open(str(target)) as repo:
        assert repo._index.pending() == []  # noqa: SLF001 - the test reads the cache
    assert list((target / "tmp").iterdir()) == []
    got = _versions_per_object(target)
    assert got == {path: _expected_versions(path) for path in got}
    checked = run(target, "check")
    assert checked.exit_code == 0, checked.output
    assert_valid_ocfl(target)
    return set(got)


CRASHING = textwrap.dedent(
    """
    import json, os, sys
    from fcrctl.cli.main import app
    from fcrctl.repository.local import ocfl_write, store
    from fcrctl.services.transfer import importer

    target, source, log, at = sys.argv[1:5]
    importer.BATCH = 25  # versions: a batch holds 6 to 8 resources with their histories
    real_commit, real_install = store.Store.commit, ocfl_write.install_version
    installs, cut = [], []

    def commit(self, changes, **options):
        # the first batch of several objects that all have a history: logged, then cut off half way
        if at == "batch" and not os.path.exists(log) and len(changes) >= 4 and all(c.earlier for c in changes):
            with open(log, "w") as fh:
                json.dump([c.object_id for c in changes], fh)
            cut.append(len(changes) // 2)
        return real_commit(self, changes, **options)

    def install(prepared, dirs):
        if at != "batch" or cut:
            installs.append(1)
            if len(installs) == (cut[0] if at == "batch" else int(at)):
                os._exit(137)  # as abrupt as kill -9: half way through the batch's installs, or the at-th
        return real_install(prepared, dirs)

    store.Store.commit = commit
    store.ocfl_write.install_version = install
    app(["--repo", target, "import", source], standalone_mode=False)
    """
)


def test_a_versioned_batch_cut_off_mid_install_is_wholly_in(versioned: Path, tmp_path: Path) -> None:
    """A batch counts each version toward its limit, so it holds a few resources with their histories:
    killed after half of one batch's objects were installed, it is rolled forward whole, every object
    with all its versions (all or nothing per object, and for the batch)."""
    target, log = tmp_path / "repo", tmp_path / "batch.json"
    LocalRepository.open(str(target), create=True).close()
    proc = subprocess.run([sys.executable, "-c", CRASHING, str(target), str(versioned), str(log), "batch"])
    assert proc.returncode == 137
    batch = {paths.from_id(oid) for oid in json.loads(log.read_text())}
    assert 4 <= len(batch) <= 25 // VERSIONS and all(_expected_versions(path) >= VERSIONS for path in batch)
    assert batch <= _absent_or_whole(target)  # rolled forward, each with all its versions
    resumed = run(target, "--json", "import", str(versioned), "--resume", "--verify")
    assert resumed.exit_code == 0, resumed.output
    assert len(_absent_or_whole(target)) == COUNT + 3


def test_a_crash_at_random_installs_of_a_versioned_import(versioned: Path, tmp_path: Path) -> None:
    """Wherever the writes stop (the at-th rename of an object or version into place), no object
    holds part of its history; --resume finishes."""
    target = tmp_path / "repo"
    LocalRepository.open(str(target), create=True).close()
    for at in sorted(random.Random(17).sample(range(2, 120), 3)):
        proc = subprocess.run([sys.executable, "-c", CRASHING, str(target), str(versioned), str(tmp_path / "log"),
                               str(at)])
        assert proc.returncode in (0, 137)
        _absent_or_whole(target)
        assert run(target, "import", str(versioned), "--resume").exit_code == 0
        assert len(_absent_or_whole(target)) == COUNT + 3
        target = tmp_path / f"repo-{at}"
        LocalRepository.open(str(target), create=True).close()


def test_kill_9_at_random_moments_of_a_versioned_import(versioned: Path, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    LocalRepository.open(str(target), create=True).close()
    rng = random.Random(1717)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "fcrctl", "--repo", str(target), "import", str(versioned),
                                 "--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 6.0))  # the write pass: reading the export takes the first seconds
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _absent_or_whole(target)
    resumed = run(target, "--json", "import", str(versioned), "--resume", "--verify")
    assert resumed.exit_code == 0, resumed.output
    assert len(_absent_or_whole(target)) == COUNT + 3
    assert ocfl.read_inventory(target / "ocfl-root" / ocfl.object_rel("info:fedora/data/p0/r3"))["head"] == "v4"


def test_fedora_4_7_versions_are_dated_to_the_second_as_upgrade_utils_dates_them(tmp_path: Path) -> None:
    """Its TimeMap gives each version's fedora:created in milliseconds; fcrepo-upgrade-utils names the
    memento by that date's second (F47ToF5UpgradeManager) and dates the OCFL version by the name
    (f6/ResourceMigrator.parseMemento)."""
    target = tmp_path / "repo"
    assert run(target, "import", str(FIXTURES / "4.7.5-export")).exit_code == 0
    created = {}
    for path in ("/container1", "/container1/testbinary"):
        inv = ocfl.read_inventory(target / "ocfl-root" / ocfl.object_rel(paths.to_id(path)))
        created[path] = [v["created"] for _, v in sorted(inv["versions"].items())]
    # the TimeMaps' 05:35:26.679Z, 05:39:47.798Z, 05:37:17.293Z, 05:38:48.615Z
    assert created == {"/container1": ["2020-10-15T05:35:26.000000Z", "2020-10-15T05:39:47.000000Z"],
                       "/container1/testbinary": ["2020-10-15T05:37:17.000000Z", "2020-10-15T05:38:48.000000Z"]}


@pytest.mark.parametrize("source", ["versioned", "4.7.5"])
def test_mementos_read_as_text_give_the_objects_rdflib_gave(versioned: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """Mementos one triple a line are read as text (import_lines.py) and rebased onto their resource
    there: the same versions, byte for byte, as through rdflib's graphs."""
    from fcrctl.services.transfer import import_lines

    export = versioned if source == "versioned" else FIXTURES / "4.7.5-export"
    monkeypatch.setattr("fcrctl.repository.local.ocfl.now_iso", lambda: "2020-02-02T02:02:02.000000Z")
    real, texts = import_lines.read, []

    def counting(data: bytes, old_base: str, dest: str) -> import_lines.Lines | None:
        found = real(data, old_base, dest)
        texts.append(found is not None)
        return found

    monkeypatch.setattr(import_lines, "read", counting)
    assert run(tmp_path / "text", "import", str(export), "/into", "--jobs", "1").exit_code == 0
    monkeypatch.setattr(import_lines, "read", lambda data, old_base, dest: None)
    assert run(tmp_path / "graph", "import", str(export), "/into", "--jobs", "1").exit_code == 0
    if source == "versioned":
        assert sum(texts) >= COUNT * (VERSIONS + 1)  # the mementos too
    assert _objects(tmp_path / "text") == _objects(tmp_path / "graph")
