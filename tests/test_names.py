"""Names that are not UTF-8 (names.py): file names get %XX for those bytes everywhere they go
(headers JSON, JSON output, serve's N-Triples, HTTP headers); paths and repository directories
that are not UTF-8 are refused with exit 2."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import fcrctl.repository.local.files as local_module
from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.names import utf8_name
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec

server_fixture = pytest.importorskip("tests.server_fixture")

LATIN1 = os.fsdecode(b"caf\xe9.txt")  # what Python makes of a Latin-1 name on a UTF-8 system


def test_utf8_name_rule() -> None:
    assert utf8_name("plain.txt") == "plain.txt"
    assert utf8_name("café.txt") == "café.txt"
    assert utf8_name(LATIN1) == "caf%E9.txt"
    assert utf8_name(os.fsdecode(b"\xff\xfe-\xc3\xa9")) == "%FF%FE-é"
    assert utf8_name("x\ud800y") == "x%ED%A0%80y"  # a surrogate from a JSON escape, not from bytes
    assert utf8_name(LATIN1).encode("utf-8")


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    open_repository(str(path), create=True).close()
    return path


@pytest.fixture(params=["local", "http"])
def target(request: pytest.FixtureRequest, repo_dir: Path) -> Iterator[str]:
    if request.param == "local":
        yield str(repo_dir)
        return
    with server_fixture.start_server(repo_dir) as handle:
        yield handle.url


def run(target: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--repo", target, *args])


def test_a_latin1_file_name_is_stored_with_percent_escapes(target: str, repo_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / LATIN1
    source.write_bytes(b"hello")
    created = run(target, "create", "/latin1", "--file", str(source))
    assert created.exit_code == 0, created.stderr
    assert "caf%E9.txt" in created.stderr and "not UTF-8" in created.stderr
    info = run(target, "--json", "info", "/latin1")
    assert json.loads(info.stdout.encode("utf-8"))["filename"] == "caf%E9.txt"
    listing = run(target, "--json", "ls", "-R", "/")
    assert listing.exit_code == 0, listing.stderr
    assert [json.loads(line.encode("utf-8"))["path"] for line in listing.stdout.splitlines()] == ["/latin1"]
    headers = [p for p in (repo_dir / "ocfl-root").rglob("fcr-root.json") if b"filename" in p.read_bytes()]
    assert headers and all(b'"caf%E9.txt"' in p.read_bytes() for p in headers)
    named = run(target, "create", "/named", "--file", str(source), "--filename", "chosen.txt")
    assert named.exit_code == 0 and "not UTF-8" not in named.stderr


def test_names_stored_before_the_rule_are_served_and_listed(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    with monkeypatch.context() as m:  # as an older fcrctl stored them: lone surrogates in the headers
        m.setattr(local_module, "utf8_name", lambda name: name)
        repo = open_repository(str(repo_dir))
        repo.create("/old", ResourceSpec(content=io.BytesIO(b"x"), binary=True, filename=LATIN1))
        repo.close()
    assert run(str(repo_dir), "info", "/old").stdout.count("caf%E9.txt") == 1
    with server_fixture.start_server(repo_dir) as handle:
        listing = run(handle.url, "ls", "-R", "/")  # serve's N-Triples listing: a 500 before
        assert listing.exit_code == 0, listing.stderr
        assert listing.stdout == "/old\n"
        assert json.loads(run(handle.url, "--json", "info", "/old").stdout)["filename"] == "caf%E9.txt"
        backup = run(handle.url, "-q", "backup")
        assert backup.exit_code == 0, backup.stderr


def test_serve_keeps_the_bytes_of_a_filename_star_that_is_not_utf8(repo_dir: Path) -> None:
    import requests

    with server_fixture.start_server(repo_dir) as handle:
        sent = requests.put(handle.url + "/f", data=b"x", headers={
            "Content-Type": "text/plain", "Content-Disposition": "attachment; filename*=UTF-8''caf%E9.txt"})
        assert sent.status_code == 201, sent.text
        assert json.loads(run(handle.url, "--json", "info", "/f").stdout)["filename"] == "caf%E9.txt"
        plain = requests.put(handle.url + "/g", data=b"x", headers={
            "Content-Type": "text/plain", "Content-Disposition": "attachment; filename*=UTF-8''caf%C3%A9.txt"})
        assert plain.status_code == 201
        assert json.loads(run(handle.url, "--json", "info", "/g").stdout)["filename"] == "café.txt"


def test_a_path_that_is_not_utf8_is_bad_input(repo_dir: Path) -> None:
    result = run(str(repo_dir), "create", "/" + LATIN1)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "/caf%E9.txt" in result.stderr and "not UTF-8" in result.stderr


def test_a_repository_directory_that_is_not_utf8_is_bad_input(tmp_path: Path) -> None:
    where = tmp_path / os.fsdecode(b"r\xe9po")
    init = CliRunner().invoke(app, ["init", str(where)])
    assert init.exit_code == ExitCode.BAD_INPUT, init.stderr
    assert "r%E9po" in init.stderr and not where.exists()
    used = run(str(where), "ls")
    assert used.exit_code == ExitCode.BAD_INPUT and "not UTF-8" in used.stderr


def test_the_http_client_reads_filenames_by_the_same_rule() -> None:
    from fcrctl.repository.http.wire import content_disposition, filename_of

    assert filename_of("attachment; filename=x; filename*=UTF-8''caf%E9.txt") == "caf%E9.txt"
    assert filename_of("attachment; filename=x; filename*=UTF-8''caf%C3%A9.txt") == "café.txt"
    assert filename_of('attachment; filename="plain.txt"') == "plain.txt"
    assert filename_of(content_disposition(LATIN1)) == "caf%E9.txt"  # what it sends, it reads back
