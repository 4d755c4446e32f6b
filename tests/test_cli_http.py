"""The same CLI scenario against a local path and against `fcrctl serve` over HTTP gives the same results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository

server_fixture = pytest.importorskip("tests.server_fixture")

TTL = '@prefix dc: <http://purl.org/dc/elements/1.1/> .\n<> dc:title "{}" .\n'


@pytest.fixture(params=["local", "http"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    repo_path = tmp_path / "repo"
    open_repository(str(repo_path), create=True).close()
    if request.param == "local":
        yield str(repo_path)
        return
    with server_fixture.start_server(repo_path) as handle:
        yield handle.url


def scenario(target: str, tmp_path: Path) -> list[tuple[int, str]]:
    runner = CliRunner()
    body = tmp_path / "t.ttl"
    body.write_text(TTL.format("Hello"))
    data = tmp_path / "d.bin"
    data.write_bytes(b"0123456789" * 1000)
    steps = [
        ["create", "/c", "--file", str(body)],
        ["create", "/c/bin", "--file", str(data), "--content-type", "application/x-test"],
        ["ls", "-R", "/"],
        ["get", "/c/bin", "--range", "5-14"],
        ["patch", "/c", "--update", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/subject> "s" }'],
        ["create", "/c"],
        ["create", "/c/bin/child"],
        ["put", "/c/bin", "--file", str(body)],
        ["delete", "/c"],
        ["info", "/c/bin"],
        ["purge", "/c"],
        ["info", "/c"],
    ]
    out: list[tuple[int, str]] = []
    for args in steps:
        result = runner.invoke(app, ["--repo", target, *args])
        out.append((result.exit_code, result.stdout))
    info = runner.invoke(app, ["--repo", target, "--json", "ls", "/"])
    assert info.exit_code == 0
    return out


def test_same_results_locally_and_over_http(target: str, tmp_path: Path) -> None:
    results = scenario(target, tmp_path)
    codes = [code for code, _ in results]
    assert codes == [
        0,
        0,
        0,
        0,
        0,
        ExitCode.CONFLICT,
        codes[6],
        ExitCode.CONFLICT,
        0,
        ExitCode.GONE,
        0,
        ExitCode.NOT_FOUND,
    ]
    assert codes[6] in (ExitCode.CONFLICT, ExitCode.BAD_INPUT)
    assert results[0][1] == "/c\n" and results[1][1] == "/c/bin\n"
    assert results[2][1].splitlines() == ["/c", "/c/bin"]
    assert results[3][1] == "5678901234"


def test_json_info_over_http(tmp_path: Path) -> None:
    repo_path = tmp_path / "repo"
    open_repository(str(repo_path), create=True).close()
    with server_fixture.start_server(repo_path) as handle:
        runner = CliRunner()
        assert runner.invoke(app, ["--repo", handle.url, "create", "/x"]).exit_code == 0
        result = runner.invoke(app, ["--repo", handle.url, "info", "/x", "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["path"] == "/x"
