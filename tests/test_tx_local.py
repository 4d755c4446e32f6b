"""Local transactions beyond the contract suite: other processes, kill -9 during commit, expiry,
orphaned staging, and the CLI (tx run, bad inputs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import TransactionGone
from fcrctl.repository import open_repository
from fcrctl.repository.local import LocalRepository
from tests.contract.helpers import binary, container
from tests.ocfl_check import assert_valid_ocfl

FCRCTL = [sys.executable, "-m", "fcrctl"]


def _fcrctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FCRCTL, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=60)


def _paths(where: Path) -> set[str]:
    with LocalRepository.open(str(where)) as repo:
        return {c.path for c in repo.children("/", recursive=True)}


def test_another_process_sees_nothing_until_commit(where: Path) -> None:
    tx = _fcrctl("--repo", str(where), "tx", "begin").stdout.strip()
    assert _fcrctl("--repo", str(where), "--tx", tx, "create", "/a").returncode == 0
    assert _fcrctl("--repo", str(where), "create", "/b", env={"FCRCTL_TX": tx}).returncode == 0
    assert _paths(where) == set()
    listing = _fcrctl("--repo", str(where), "--tx", tx, "--json", "ls", "/").stdout
    assert {json.loads(line)["path"] for line in listing.splitlines()} == {"/a", "/b"}
    assert _fcrctl("--repo", str(where), "tx", "commit", tx).returncode == 0
    assert _paths(where) == {"/a", "/b"}
    assert_valid_ocfl(where / "ocfl-root")


CRASHER = """
import sys
from fcrctl.repository.local import LocalRepository
repo = LocalRepository.open(sys.argv[1])
repo.commit_transaction(sys.argv[2])
"""


@pytest.mark.parametrize("point", ["before-apply", "after-apply", "store"])
def test_kill_9_during_commit_is_all_or_nothing(where: Path, point: str) -> None:
    with LocalRepository.open(str(where)) as repo:
        repo.create("/old", container("/old", "old"))
        repo.create("/gone", container("/gone"))
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            for i in range(5):
                inside.create(f"/n{i}", binary(os.urandom(3000)))
            inside.replace("/old", container("/old", "new"))
            inside.delete("/gone")
    env = dict(os.environ)
    if point == "store":
        # kill inside Store.commit: after the multi-object journal is written, before every install
        proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(where), info.id], env=env)
        time.sleep(0.15)
        proc.kill()
        proc.wait()
    else:
        env["FCRCTL_TEST_CRASH_AT"] = point
        result = subprocess.run([sys.executable, "-c", CRASHER, str(where), info.id], env=env)
        assert result.returncode == -9
    with LocalRepository.open(str(where)) as repo:
        status = repo.transaction_status(info.id).status
        found = {c.path for c in repo.children("/", recursive=True)}
        assert_valid_ocfl(where / "ocfl-root")
        if status == "committed":
            assert found == {"/old", *(f"/n{i}" for i in range(5))}
        else:
            assert status in ("rolled_back", "open")
            assert found == {"/old", "/gone"}
        if point == "before-apply":
            assert status == "rolled_back"
        if point == "after-apply":
            assert status == "committed"


def test_expiry_after_inactivity_cleans_staging(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction(timeout=0.3)
        with repo.in_transaction(info.id) as inside:
            inside.create("/x", container("/x"))
        time.sleep(0.5)
        assert repo.transaction_status(info.id).status == "expired"
        assert not (where / "staging" / info.id / "root").exists()
        with pytest.raises(TransactionGone, match="expired"):
            repo.commit_transaction(info.id)
        with pytest.raises(TransactionGone):
            repo.in_transaction(info.id)
        assert repo.transactions() == []
        assert {c.path for c in repo.children("/")} == set()


def test_long_command_keeps_its_transaction_alive(where: Path) -> None:
    from fcrctl.services.transactions import KeepAlive

    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction(timeout=0.6)
        with KeepAlive(lambda: LocalRepository.open(str(where)), info.id):
            time.sleep(1.5)  # longer than the timeout: only the keepalive thread saves it
            assert repo.transaction_status(info.id).status == "open"
        repo.commit_transaction(info.id)


def test_orphaned_staging_is_cleaned_on_open(where: Path) -> None:
    orphan = where / "staging" / "0b0b0b0b-0000-4000-8000-000000000000"
    (orphan / "root").mkdir(parents=True)
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction(timeout=0.1)
    time.sleep(0.2)
    LocalRepository.open(str(where)).close()
    assert not orphan.exists()
    assert not (where / "staging" / info.id / "index.sqlite").exists()


def test_cli_bad_inputs_and_exit_codes(where: Path) -> None:
    runner = CliRunner()
    r = ["--repo", str(where)]
    assert runner.invoke(app, [*r, "tx", "commit", "not-an-id"]).exit_code == 2
    assert runner.invoke(app, [*r, "--tx", "not-an-id", "ls", "/"]).exit_code == 2
    unknown = "12345678-1234-4234-8234-123456789012"
    result = runner.invoke(app, [*r, "tx", "status", unknown])
    assert result.exit_code == 5 and "another" in result.output
    assert runner.invoke(app, [*r, "--tx", unknown, "create", "/x"]).exit_code == 5
    tx = runner.invoke(app, [*r, "tx", "begin"]).stdout.strip()
    assert runner.invoke(app, [*r, "tx", "rollback", tx]).exit_code == 0
    twice = runner.invoke(app, [*r, "tx", "rollback", tx])
    assert twice.exit_code == 5 and "rolled back" in twice.output
    assert runner.invoke(app, [*r, "tx", "commit", tx]).exit_code == 5
    assert runner.invoke(app, [*r, "tx", "run"]).exit_code == 2
    # a transaction id of another repository is unknown here
    other = where.parent / "other"
    LocalRepository.open(str(other), create=True).close()
    theirs = runner.invoke(app, ["--repo", str(other), "tx", "begin"]).stdout.strip()
    assert runner.invoke(app, [*r, "tx", "commit", theirs]).exit_code == 5
    assert _paths(where) == set()


def test_tx_run_commits_on_success_and_rolls_back_on_failure(where: Path) -> None:
    script = "import subprocess, sys; cmd = [sys.executable, '-m', 'fcrctl', 'create']; "
    ok = _fcrctl("--repo", str(where), "tx", "run", "--", sys.executable, "-c",
                 script + "subprocess.check_call(cmd + ['/p']); subprocess.check_call(cmd + ['/q'])")
    assert ok.returncode == 0, ok.stderr
    assert _paths(where) == {"/p", "/q"}
    bad = _fcrctl("--repo", str(where), "tx", "run", "--", sys.executable, "-c",
                  script + "subprocess.check_call(cmd + ['/r']); sys.exit(4)")
    assert bad.returncode == 4
    assert _paths(where) == {"/p", "/q"}
    with open_repository(str(where)) as repo:
        assert repo.transactions() == []  # type: ignore[attr-defined]
