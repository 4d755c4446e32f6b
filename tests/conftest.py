"""Shared fixtures: the ``repo`` fixture runs every contract test against every backend.

Backends: ``local`` (LocalRepository in a temp dir) and ``http`` (HttpRepository talking to a
real ``fcrctl serve`` on 127.0.0.1 over a local repository). Every local repository a test
wrote is checked by an independent OCFL validator at teardown.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fcrctl.repository import open_repository
from fcrctl.repository.base import Repository

HERE = Path(__file__).parent
RETRY_WAIT_CAP = 0.05  # seconds: a test's store client retries as often as it would, without backing off for long


def _cap_retry_waits() -> None:
    """The store clients back off exponentially between retries (urllib3 for WebDAV, the Azure SDK,
    botocore): 31 s for six refused connections. Tests that inject faults or name a dead endpoint
    check *that* requests are retried and what is reported, not how long the waits are; each wait
    is capped here, in the test processes only (a CLI run as a subprocess waits as it would)."""
    from urllib3.util.retry import Retry

    waits: list[tuple[type, str]] = [(Retry, "get_backoff_time")]
    if importlib.util.find_spec("azure.storage.blob") is not None:
        from azure.storage.blob import ExponentialRetry, LinearRetry

        waits += [(ExponentialRetry, "get_backoff_time"), (LinearRetry, "get_backoff_time")]
    if importlib.util.find_spec("botocore") is not None:
        from botocore.retries.standard import ExponentialBackoff

        waits.append((ExponentialBackoff, "delay_amount"))
    for cls, name in waits:
        wait = getattr(cls, name)
        if not getattr(wait, "capped", False):
            setattr(cls, name, _capped(wait))


def _capped(wait: Callable[..., float]) -> Callable[..., float]:
    def capped(*args: object, **kwargs: object) -> float:
        return min(wait(*args, **kwargs), RETRY_WAIT_CAP)

    capped.capped = True  # type: ignore[attr-defined]
    return capped


_cap_retry_waits()

TMPFS = Path("/dev/shm")
TMPFS_ROOM = 4 << 30  # a whole run's temporary files take up to ~1.5 GB; pytest keeps the last three runs'


def _temp_on_tmpfs() -> None:
    """Temporary files (tmp_path, TMPDIR of the CLIs and servers tests start) on a tmpfs when one
    with room is there. The tests write tens of thousands of small files, sync them (fsync, and
    syncfs, which also waits for every other job's dirty pages on that disk) and delete them all:
    on this 2-core machine's ext4 that is 13% of the CPU of the repository-writing test files and
    a fifth of their wall time, and the deletions of old runs slow every later file creation.
    Nothing a test checks depends on the disk: crash tests kill processes, and a killed process's
    writes survive in the page cache as they do on a disk. FCRCTL_TEST_TMPDIR names another
    directory, or with an empty value leaves TMPDIR as it is."""
    chosen = os.environ.get("FCRCTL_TEST_TMPDIR")
    if chosen is None:
        try:
            room = os.statvfs(TMPFS)
        except OSError:
            return
        if room.f_bavail * room.f_frsize < TMPFS_ROOM or not os.access(TMPFS, os.W_OK):
            return
        chosen = str(TMPFS / f"fcrctl-tests-{os.getuid()}")
    if not chosen:
        return
    os.makedirs(chosen, mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = chosen  # inherited by xdist's workers and every process a test starts
    tempfile.tempdir = chosen  # pytest's basetemp comes from tempfile.gettempdir()


_temp_on_tmpfs()


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the real ~/.local/share/fcrctl, config or credentials."""
    home = tmp_path_factory.mktemp("home")
    for name, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    for name in ("FCRCTL_REPO", "FCRCTL_USER", "FCRCTL_PASSWORD", "FCRCTL_TOKEN", "FCRCTL_TX", "NETRC"):
        monkeypatch.delenv(name, raising=False)


def _ocfl_checker():  # type: ignore[no-untyped-def]
    try:
        from tests.ocfl_check import assert_valid_ocfl
    except ImportError:
        return None
    return assert_valid_ocfl


def _server_starter():  # type: ignore[no-untyped-def]
    try:
        from tests.server_fixture import start_server
    except ImportError:
        return None
    return start_server


BACKENDS = ["local"]
if _server_starter() is not None and importlib.util.find_spec("fcrctl.repository.http") is not None:
    BACKENDS += ["http-fedora4", "http-fedora6"]  # HttpRepository against fcrctl serve, in each dialect


@pytest.fixture
def where(tmp_path: Path) -> Path:
    """An empty local repository, created and closed (the transaction tests open it themselves)."""
    from fcrctl.repository.local import LocalRepository

    path = tmp_path / "repo"
    LocalRepository.open(str(path), create=True).close()
    return path


@pytest.fixture
def repo_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "repo"
    yield path
    check = _ocfl_checker()
    if check is not None and (path / "ocfl-root").exists():
        check(path / "ocfl-root")


@pytest.fixture(params=BACKENDS)
def repo(request: pytest.FixtureRequest, repo_path: Path) -> Iterator[Repository]:
    """A fresh, empty repository on each backend."""
    if request.param == "local":
        repository = open_repository(str(repo_path), create=True)
        yield repository
        repository.close()
        return
    start_server = _server_starter()
    local = open_repository(str(repo_path), create=True)
    local.close()
    dialect = request.param.split("-", 1)[1]
    handle = start_server(repo_path, dialect=dialect)
    try:
        repository = open_repository(handle.url, api=dialect)
        yield repository
        repository.close()
    finally:
        handle.stop()


@pytest.fixture
def backend(repo: Repository) -> str:
    return "local" if repo.base_uri == "info:fedora" else "http"


def pytest_report_header(config: pytest.Config) -> str:
    return f"fcrctl backends under contract test: {', '.join(BACKENDS)}; cores: {os.cpu_count()}"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. Much of a test's time is spent waiting (servers starting,
    subprocess CLIs, fsync, deliberate timeouts), which a second worker per core fills with work;
    FCRCTL_TEST_WORKERS overrides."""
    if os.environ.get("FCRCTL_TEST_WORKERS"):
        return int(os.environ["FCRCTL_TEST_WORKERS"])
    return 2 * (os.cpu_count() or 1)
