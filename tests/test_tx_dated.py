"""Dated writes inside a local transaction keep their dates, and each its own version, through the
commit (issue 17: `fcrctl import --tx` gave every imported version the commit's date)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.repository.local import LocalRepository
from tests.contract.helpers import DC_TITLE, binary, container
from tests.ocfl_check import assert_valid_ocfl
from tests.test_transfer_acl_layout import CONTAINER_ACL, acl_layout

FIXTURES = Path(__file__).parent / "fixtures" / "import-export"
DAYS = [datetime(2021, 1, d, 10, 0, 0, tzinfo=UTC) for d in (1, 2, 3)]


def _dated_history(repo: LocalRepository, path: str) -> None:
    """Three dated states of ``path`` (created on the first day), as `fcrctl import` writes them."""
    for number, day in enumerate(DAYS):
        with repo.dated(DAYS[0], day):
            spec = container(path, f"title {number}")
            if number == 0:
                repo.create(path, spec)
            else:
                repo.replace(path, spec)


def _mementos(repo: LocalRepository, path: str) -> list[str]:
    return [v.memento for v in repo.versions(path)]


EXPECTED = ["20210101100000", "20210102100000", "20210103100000"]


def test_dated_writes_keep_their_dates_and_versions_through_a_commit(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        repo.create("/old", container("/old", "before"))
        before = _mementos(repo, "/old")
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            _dated_history(inside, "/new")  # an object new in the transaction
            for number, day in enumerate(DAYS):  # an object that exists outside it
                with inside.dated(DAYS[0], day):
                    inside.replace("/old", container("/old", f"title {number}"))
            inside.create("/plain", container("/plain"))  # undated: one version at the commit's time
        repo.commit_transaction(info.id)
        assert _mementos(repo, "/new") == EXPECTED
        assert _mementos(repo, "/old") == before + EXPECTED
        assert len(repo.versions("/plain")) == 1
        assert repo.info("/new").created == DAYS[0] and repo.info("/new").modified == DAYS[2]
        first = repo.get_rdf("/new", version=repo.versions("/new")[0].id)
        assert {str(o) for o in first.objects(None, DC_TITLE)} == {"title 0"}
    assert_valid_ocfl(where / "ocfl-root")
    assert CliRunner().invoke(app, ["--repo", str(where), "check"]).exit_code == 0


def test_undated_writes_in_a_transaction_still_make_one_version(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            inside.create("/a", container("/a", "one"))
            inside.replace("/a", container("/a", "two"))
            inside.create("/b", binary(b"x"))
            inside.replace("/b", binary(b"y"))
        repo.commit_transaction(info.id)
        assert len(repo.versions("/a")) == 1 and len(repo.versions("/b")) == 1


def test_import_with_tx_gives_the_versions_and_dates_of_an_import_without(tmp_path: Path) -> None:
    plain, in_tx = tmp_path / "plain", tmp_path / "tx"
    runner = CliRunner()
    for target, extra in ((plain, []), (in_tx, ["--tx"])):
        assert runner.invoke(app, ["init", str(target)]).exit_code == 0
        result = runner.invoke(app, ["--repo", str(target), "import", str(FIXTURES / "4.7.5-export"), *extra])
        assert result.exit_code == 0, result.output
    with LocalRepository.open(str(plain)) as a, LocalRepository.open(str(in_tx)) as b:
        for path in ("/container1", "/container1/testbinary"):
            assert [v.memento for v in b.versions(path)] == [v.memento for v in a.versions(path)], path
            assert [v.created for v in b.versions(path)] == [v.created for v in a.versions(path)], path
        assert len(a.versions("/container1")) == 2
    # container1's converted Fedora 4 ACL: in its first version in both, the same headers and content
    layouts = [acl_layout(repo, "info:fedora/container1", CONTAINER_ACL) for repo in (plain, in_tx)]
    assert layouts[0][0] == [True, True] and layouts[1] == layouts[0]


CRASHER = """
import sys
from fcrctl.repository.local import LocalRepository
repo = LocalRepository.open(sys.argv[1])
repo.commit_transaction(sys.argv[2])
"""


@pytest.mark.parametrize("point", ["before-apply", "between-versions", "after-apply"])
def test_kill_9_between_a_commits_versions_rolls_forward(where: Path, point: str) -> None:
    with LocalRepository.open(str(where)) as repo:
        repo.create("/old", container("/old", "before"))
        info = repo.begin_transaction()
        with repo.in_transaction(info.id) as inside:
            _dated_history(inside, "/new")
            with inside.dated(DAYS[0], DAYS[1]):
                inside.replace("/old", container("/old", "dated"))
    env = {**os.environ, "FCRCTL_TEST_CRASH_AT": point}
    result = subprocess.run([sys.executable, "-c", CRASHER, str(where), info.id], env=env, timeout=60)
    assert result.returncode == -9
    with LocalRepository.open(str(where)) as repo:
        status = repo.transaction_status(info.id).status
        assert_valid_ocfl(where / "ocfl-root")
        if point == "before-apply":
            assert status == "rolled_back"
            assert {c.path for c in repo.children("/")} == {"/old"}
            assert len(repo.versions("/old")) == 1
        else:  # some versions were in: the rest are rolled forward, never left half done
            assert status == "committed"
            assert _mementos(repo, "/new") == EXPECTED
            assert _mementos(repo, "/old")[1:] == ["20210102100000"]
