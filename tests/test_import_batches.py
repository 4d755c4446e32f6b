"""fcrctl import's fast paths (issue 17): each export file parsed once, read on --jobs processes,
and written locally many resources per durable commit - with the same results, the same refusals
of bad input, and a crash leaving each batch wholly in or wholly out for --resume to finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from tests.test_transfer import exported, ocfl_files, run, source_repo  # noqa: F401 (fixtures)


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
