"""Output for terminals and scripts: tables that fit, NO_COLOR, sentences instead of reprs, global
output options in either position, JSON errors, progress bars, and what a new user sees first."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcrctl.cli import output, progress
from fcrctl.cli.main import app
from fcrctl.cli.output import Printer
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository

server_fixture = pytest.importorskip("tests.server_fixture")

LONG_ID = "2026-12-05T17.24.46Z_914a43ba-d061-4aa1-abe1-06918b3e6f29"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def target(tmp_path: Path) -> str:
    path = tmp_path / "repo"
    open_repository(str(path), create=True).close()
    return str(path)


@pytest.fixture(params=["local", "http"])
def both(request: pytest.FixtureRequest, target: str) -> Iterator[str]:
    if request.param == "local":
        yield target
        return
    with server_fixture.start_server(Path(target)) as handle:
        yield handle.url


def run(target: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["--repo", target, *args], input=input)


def test_a_table_wider_than_the_terminal_becomes_one_record_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = Terminal()
    rows = [(LONG_ID, "2026-12-05T17:24:46Z", LONG_ID[21:], "4", "17.6 KiB", "yes"), ("short", "x", "", "1", "1", "y")]
    Printer(stdout=out).table(rows, ("id", "datetime", "label", "resources", "size", "consistent"))
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["id", "datetime", "label", "resources", "size", "consistent"]
    assert lines[1].startswith(LONG_ID + "  2026-12-05T17:24:46Z")
    assert lines[2].startswith("short  x")


def test_a_table_that_fits_stays_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = Terminal()
    Printer(stdout=out).table([("v1", "2026"), ("v2", "2027")], ("version", "created"))
    assert "────" in out.getvalue() and " v2 " in out.getvalue()


@pytest.mark.parametrize("no_color", ["", "1"])
def test_no_color_means_no_escapes(monkeypatch: pytest.MonkeyPatch, no_color: str) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("NO_COLOR", no_color)
    out = Terminal()
    Printer(stdout=out).table([("v1", "2026")], ("version", "created"))
    assert ("\x1b[" in out.getvalue()) == (not no_color)


def test_backup_output_is_sentences_not_reprs(target: str, tmp_path: Path) -> None:
    assert run(target, "create", "/a").exit_code == 0
    result = run(target, "backup", "--label", "one", "--to", str(tmp_path / "store"))
    assert result.exit_code == 0, result.stderr
    assert "{" not in result.stdout and "False" not in result.stdout
    assert "potentiallyInconsistent  no" in result.stdout
    assert "uploaded " in result.stdout and " blobs sent (" in result.stdout


def test_quiet_backup_prints_the_id_only_and_quiet_works_after_the_command(target: str) -> None:
    quiet = run(target, "-q", "backup", "--label", "q")
    assert quiet.exit_code == 0, quiet.stderr
    [backup_id] = quiet.stdout.splitlines()
    assert backup_id.endswith("_q")
    after = run(target, "backup", "--label", "r", "-q")
    assert after.exit_code == 0, after.stderr
    assert len(after.stdout.splitlines()) == 1
    listed = run(target, "list-backups", "-q")
    assert listed.exit_code == 0, listed.stderr
    assert backup_id in listed.stdout


def test_verbose_works_before_and_after_the_command(target: str) -> None:
    for args in (["-v", "ls", "/"], ["ls", "/", "-v"], ["versions", "list", "/", "-v"]):
        result = run(target, *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert f"fcrctl: repository: {target}" in result.stderr, args
    assert "repository:" not in run(target, "ls", "/").stderr


def test_json_works_before_and_after_the_command(target: str) -> None:
    for args in (["--json", "ls", "/"], ["ls", "/", "--json"], ["ls", "--json", "-q", "/"]):
        result = run(target, *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert result.stdout == ""  # an empty root: no lines, and no table


@pytest.mark.parametrize(
    "args", [["--json", "nosuchcmd"], ["ls", "--bogus", "--json"], ["--json", "versions", "nosuch"]]
)
def test_usage_errors_are_json_with_json(target: str, args: list[str]) -> None:
    result = run(target, *args)
    assert result.exit_code == ExitCode.BAD_INPUT
    doc = json.loads(result.stderr)
    assert doc["error"] == "usage" and doc["exit_code"] == 2


def test_usage_errors_stay_text_without_json(target: str) -> None:
    result = run(target, "nosuchcmd")
    assert result.exit_code == ExitCode.BAD_INPUT and "No such command" in result.stderr


def test_jsonld_ends_with_a_newline(both: str, tmp_path: Path) -> None:
    assert run(both, "create", "/c").exit_code == 0
    result = run(both, "get", "/c", "--accept", "jsonld")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("\n") and json.loads(result.stdout)


def test_ls_of_a_binary_lists_the_binary(both: str, tmp_path: Path) -> None:
    data = tmp_path / "d.bin"
    data.write_bytes(b"x" * 10)
    assert run(both, "create", "/b", "--file", str(data)).exit_code == 0
    assert run(both, "ls", "/b").stdout == "/b\n"
    assert run(both, "ls", "-R", "/b").stdout == "/b\n"
    assert run(both, "ls", "-l", "/b").stdout.startswith("binary")
    assert json.loads(run(both, "--json", "ls", "/b").stdout)["path"] == "/b"
    assert run(both, "create", "/c").exit_code == 0
    assert run(both, "ls", "/c").stdout == ""  # an empty container stays empty


def test_empty_tx_list_is_a_sentence(target: str) -> None:
    result = run(target, "tx", "list")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == "fcrctl: no open transactions\n"
    assert json.loads(run(target, "--json", "tx", "list").stdout) == []
    backups = run(target, "list-backups")
    assert backups.exit_code == 0 and backups.stdout == "" and "no backups yet" in backups.stderr


def test_add_user_says_what_it_did_and_refuses_to_replace_without_force(tmp_path: Path) -> None:
    auth = tmp_path / "users"
    runner = CliRunner()
    added = runner.invoke(app, ["serve", "--auth-file", str(auth), "--add-user", "alice", "--admin"], input="pw1\n")
    assert added.exit_code == 0, added.stderr
    assert added.stdout == f"added alice (an admin) in {auth}\n"
    before = auth.read_bytes()
    again = runner.invoke(app, ["serve", "--auth-file", str(auth), "--add-user", "alice"], input="pw2\n")
    assert again.exit_code == ExitCode.CONFLICT
    assert "--force" in again.stderr and auth.read_bytes() == before
    forced = runner.invoke(app, ["serve", "--auth-file", str(auth), "--add-user", "alice", "--force"], input="pw2\n")
    assert forced.exit_code == 0 and forced.stdout.startswith("replaced the password of alice")
    assert auth.read_bytes() != before
    alone = runner.invoke(app, ["serve", "--force"])
    assert alone.exit_code == ExitCode.BAD_INPUT


@pytest.fixture
def terminal_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(output, "_isatty", lambda stream: True)


def test_create_and_get_show_progress_on_a_terminal(both: str, tmp_path: Path, terminal_progress: None) -> None:
    data = tmp_path / "big.bin"
    data.write_bytes(b"z" * (3 << 20))
    created = run(both, "create", "/big", "--file", str(data))
    assert created.exit_code == 0, created.stderr
    assert "/3.00M [" in created.stderr
    fetched = run(both, "get", "/big", "-o", str(tmp_path / "copy.bin"))
    assert fetched.exit_code == 0, fetched.stderr
    assert "/3.00M [" in fetched.stderr
    assert (tmp_path / "copy.bin").read_bytes() == data.read_bytes()


def test_progress_reader_follows_rewinds(tmp_path: Path) -> None:
    seen: list[int] = []
    reader = progress.ProgressReader(io.BytesIO(b"abcdef"), seen.append)
    assert reader.read(4) == b"abcd"
    reader.seek(0)
    assert reader.read() == b"abcdef"
    assert sum(seen) == 6 and reader.tell() == 6


def test_etags_print_in_one_form_for_both_backends(target: str, tmp_path: Path) -> None:
    body = tmp_path / "t.ttl"
    body.write_text('<> <http://purl.org/dc/elements/1.1/title> "T" .\n')
    data = tmp_path / "d.bin"
    data.write_bytes(b"bytes")
    assert run(target, "create", "/c", "--file", str(body)).exit_code == 0
    assert run(target, "create", "/b", "--file", str(data)).exit_code == 0
    local = {p: json.loads(run(target, "--json", "info", p).stdout)["etag"] for p in ("/c", "/b")}
    assert local["/c"].startswith('W/"') and local["/b"].startswith('"') and local["/b"].endswith('"')
    assert f"etag      {local['/c']}" in run(target, "info", "/c").stdout
    with server_fixture.start_server(Path(target)) as handle:
        remote = {p: json.loads(run(handle.url, "--json", "info", p).stdout)["etag"] for p in ("/c", "/b")}
        assert remote == local
        put = run(handle.url, "put", "/c", "--file", str(body), "--if-match", remote["/c"])
        assert put.exit_code == 0, put.stderr
    fresh = json.loads(run(target, "--json", "info", "/c").stdout)["etag"]
    assert run(target, "put", "/c", "--file", str(body), "--if-match", fresh).exit_code == 0
