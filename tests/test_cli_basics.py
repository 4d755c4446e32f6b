"""CLI behaviour that needs no real repository: help, usage errors, path validation, the error
guard (exit codes, one-line messages, JSON errors), profiles and HTTP options.

A stand-in backend registered under the ``fake://`` scheme records how it was opened and
raises what a test asks for, so the one place where errors become exit codes is tested directly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import fcrctl.repository
from fcrctl.cli.main import app
from fcrctl.errors import ExitCode, Gone
from fcrctl.repository.base import BASIC_CONTAINER, Capabilities, ResourceInfo

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeRepository:
    """Answers ``info``/``children``; raises ``FakeRepository.raises`` from every call if set."""

    opened: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    raises: ClassVar[BaseException | None] = None
    capabilities = Capabilities(writable=False, delete_versions=False, reindex=False)
    base_uri = "info:fedora"

    def __init__(self, target: str) -> None:
        self.location = target

    @classmethod
    def open(cls, target: str, **options: Any) -> FakeRepository:
        cls.opened.append((target, options))
        return cls(target)

    def close(self) -> None:
        pass

    def _maybe_raise(self) -> None:
        if FakeRepository.raises is not None:
            raise FakeRepository.raises

    def info(self, path: str, *, version: str | None = None) -> ResourceInfo:
        self._maybe_raise()
        return ResourceInfo(path=path, model=BASIC_CONTAINER, etag='W/"abc"', created=NOW, modified=NOW)

    def children(self, path: str, *, recursive: bool = False) -> Iterator[ResourceInfo]:
        self._maybe_raise()
        for i in range(3):
            yield ResourceInfo(
                path=f"{path.rstrip('/')}/c{i}", model=BASIC_CONTAINER, etag="x", created=NOW, modified=NOW
            )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeRepository]:
    monkeypatch.setitem(fcrctl.repository.BACKENDS, "fake", f"{__name__}:FakeRepository")
    FakeRepository.opened = []
    FakeRepository.raises = None
    return FakeRepository


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "create", "get", "info", "ls", "put", "patch", "delete", "purge", "move", "copy"):
        assert f"  {command} " in result.output
    assert "versions" in result.output and "reindex" in result.output


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert result.exit_code in (0, 2)
    assert "Usage: fcrctl" in result.output


def test_version_flag(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("fcrctl ")


def test_unknown_option_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ls", "--no-such-option"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "No such option" in result.stderr


def test_usage_error_as_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--json", "ls", "--no-such-option"])
    assert result.exit_code == ExitCode.BAD_INPUT
    doc = json.loads(result.stderr)
    assert doc["error"] == "usage" and doc["exit_code"] == 2


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/a/../b", "'..'"),
        ("/a//b", "empty segment"),
        ("/a/fcr:versions", "reserved"),
        ("/a/b\x07c", "control character"),
        ("/a/b c", "URIs cannot hold"),
        ("/" + "n" * 300, "too long"),
    ],
)
def test_bad_paths_are_refused_before_opening_the_repository(
    runner: CliRunner, fake: type[FakeRepository], path: str, needle: str
) -> None:
    result = runner.invoke(app, ["--repo", "fake://x", "info", path])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fcrctl: error: ") and needle in lines[0]
    assert fake.opened == []


def test_fcrctl_error_becomes_its_exit_code(runner: CliRunner, fake: type[FakeRepository]) -> None:
    fake.raises = Gone("/x was deleted: purge it to reuse the path", path="/x")
    result = runner.invoke(app, ["--repo", "fake://x", "info", "/x"])
    assert result.exit_code == ExitCode.GONE
    assert result.stderr == "fcrctl: error: /x was deleted: purge it to reuse the path\n"


def test_fcrctl_error_as_json(runner: CliRunner, fake: type[FakeRepository]) -> None:
    fake.raises = Gone("/x was deleted", path="/x")
    result = runner.invoke(app, ["--repo", "fake://x", "info", "--json", "/x"])
    assert result.exit_code == ExitCode.GONE
    assert json.loads(result.stderr) == {"error": "gone", "message": "/x was deleted", "exit_code": 5, "path": "/x"}


def test_unexpected_exception_is_one_line_with_a_hint(runner: CliRunner, fake: type[FakeRepository]) -> None:
    fake.raises = RuntimeError("disk on fire\nsecond line")
    result = runner.invoke(app, ["--repo", "fake://x", "info", "/x"])
    assert result.exit_code == ExitCode.UNEXPECTED
    assert result.stderr.count("\n") == 1
    assert "RuntimeError: disk on fire" in result.stderr and "--traceback" in result.stderr


def test_traceback_flag_reraises(runner: CliRunner, fake: type[FakeRepository]) -> None:
    fake.raises = RuntimeError("disk on fire")
    result = runner.invoke(app, ["--traceback", "--repo", "fake://x", "info", "/x"])
    assert isinstance(result.exception, RuntimeError)


def test_traceback_env_reraises(runner: CliRunner, fake: type[FakeRepository], monkeypatch: pytest.MonkeyPatch) -> None:
    fake.raises = RuntimeError("disk on fire")
    result = runner.invoke(app, ["--repo", "fake://x", "info", "/x"], env={"FCRCTL_TRACEBACK": "1"})
    assert isinstance(result.exception, RuntimeError)


def test_keyboard_interrupt_exits_130(runner: CliRunner, fake: type[FakeRepository]) -> None:
    fake.raises = KeyboardInterrupt()
    result = runner.invoke(app, ["--repo", "fake://x", "ls", "/"])
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.stderr == "fcrctl: interrupted\n"


def test_broken_pipe_is_quiet(runner: CliRunner, fake: type[FakeRepository]) -> None:
    fake.raises = BrokenPipeError()
    result = runner.invoke(app, ["--repo", "fake://x", "ls", "/"])
    assert result.exit_code == 141
    assert result.stderr == ""


def test_ls_streams_paths_and_json_lines(runner: CliRunner, fake: type[FakeRepository]) -> None:
    result = runner.invoke(app, ["--repo", "fake://x", "ls", "/a"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["/a/c0", "/a/c1", "/a/c2"]
    result = runner.invoke(app, ["--repo", "fake://x", "--json", "ls", "/a"])
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == ["/a/c0", "/a/c1", "/a/c2"]


def test_info_table_and_json(runner: CliRunner, fake: type[FakeRepository]) -> None:
    result = runner.invoke(app, ["--repo", "fake://x", "info", "/a"])
    assert result.exit_code == 0, result.stderr
    assert "ldp:BasicContainer" in result.stdout and 'W/"abc"' in result.stdout
    result = runner.invoke(app, ["--repo", "fake://x", "info", "/a", "--json"])
    assert json.loads(result.stdout)["etag"] == 'W/"abc"'


def test_writes_to_a_read_only_repository_are_refused(runner: CliRunner, fake: type[FakeRepository]) -> None:
    result = runner.invoke(app, ["--repo", "fake://x", "create", "/new"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == "fcrctl: error: repository fake://x is read-only: nothing was changed\n"


def test_capability_check_says_so_plainly(runner: CliRunner, fake: type[FakeRepository]) -> None:
    result = runner.invoke(app, ["--repo", "fake://x", "versions", "delete", "/a", "v1"])
    assert result.exit_code == ExitCode.UNSUPPORTED
    assert "deleting versions" in result.stderr and "not supported" in result.stderr
    result = runner.invoke(app, ["--repo", "fake://x", "reindex"])
    assert result.exit_code == ExitCode.UNSUPPORTED


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["create", "/a", "--digest", "crc32=abcd", "--file", "-"], "unsupported algorithm 'crc32'"),
        (["create", "/a", "--digest", "sha1=xyz", "--file", "-"], "expected 40 hex digits"),
        (["create", "/a", "--digest", "sha1", "--file", "-"], "ALGORITHM=HEX"),
        (["create", "/a", "--container-type", "odd"], "basic, direct or indirect"),
        (["create", "/a", "--in", "/b"], "exactly one"),
        (["create"], "exactly one"),
        (["create", "/a", "--slug", "x"], "--slug needs --in"),
        (["create", "/a", "--external", "http://h/x", "--handling", "teleport"], "copy, redirect, proxy"),
        (["create", "/a", "--binary"], "needs a body"),
        (["create", "/a", "--file", "/no/such/file.bin"], "No such file"),
        (["create", "/a", "--file", "x.ttl", "--content-type", "bogus"], "unknown RDF format 'bogus'"),
        (["get", "/a", "--accept", "bogus"], "unknown RDF format 'bogus'"),
        (["get", "/a", "--range", "x-y"], "START-END"),
        (["get", "/a", "--range", "9-3"], "END is before START"),
        (["get", "/a", "--omit", "everything"], "containment, membership or server-managed"),
        (["put", "/a", "--file", "-", "--if-unmodified-since", "yesterday"], "ISO 8601"),
        (["patch", "/a"], "exactly one of --file"),
        (["patch", "/a", "--file", "-", "--update", "INSERT DATA {}"], "exactly one of --file"),
    ],
)
def test_bad_arguments_one_line_exit_2_repository_untouched(
    runner: CliRunner, fake: type[FakeRepository], args: list[str], needle: str
) -> None:
    result = runner.invoke(app, ["--repo", "fake://x", *args], input=b"")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fcrctl: error: "), result.stderr
    assert needle in lines[0]
    assert fake.opened == []


def test_profiles_fill_settings_and_options_override(
    runner: CliRunner, fake: type[FakeRepository], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path(tmp_path / "config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    (config / "fcrctl").mkdir(parents=True)
    (config / "fcrctl" / "config.toml").write_text(
        '[profiles.prod]\nrepo = "fake://prod"\nuser = "alice"\ntimeout = 5.0\n'
        '[profiles.default]\nrepo = "fake://default"\n'
    )
    assert runner.invoke(app, ["--profile", "prod", "ls"]).exit_code == 0
    assert runner.invoke(app, ["ls"]).exit_code == 0
    assert runner.invoke(app, ["-p", "prod", "--repo", "fake://other", "ls"]).exit_code == 0
    assert [target for target, _ in fake.opened] == ["fake://prod", "fake://default", "fake://other"]
    result = runner.invoke(app, ["--profile", "nope", "ls"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "profile 'nope' not found" in result.stderr and "prod" in result.stderr


def test_profile_refuses_passwords(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "fcrctl").mkdir()
    (tmp_path / "fcrctl" / "config.toml").write_text('[profiles.default]\npassword = "hunter2"\n')
    result = runner.invoke(app, ["ls"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "password_file" in result.stderr and "hunter2" not in result.output


def test_http_options_reach_the_backend_and_insecure_warns(
    runner: CliRunner, fake: type[FakeRepository], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(fcrctl.repository.BACKENDS, "https", f"{__name__}:FakeRepository")
    args = ["--repo", "https://h/rest", "--user", "bob", "--api", "fedora6", "--insecure", "--timeout", "3", "ls"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "warning: --insecure" in result.stderr
    target, options = fake.opened[-1]
    assert target == "https://h/rest"
    assert options == {"user": "bob", "api": "fedora6", "insecure": True, "timeout": 3.0}


def test_there_is_no_password_option(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--password", "x", "ls"])
    assert result.exit_code == ExitCode.BAD_INPUT


def test_bad_api_dialect(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--api", "fedora9", "ls"])
    assert result.exit_code == ExitCode.BAD_INPUT


def test_python_dash_m_help_and_startup_time() -> None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fcrctl", "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and "Usage: fcrctl" in done.stdout
    print(f"python -m fcrctl --help took {elapsed * 1000:.0f} ms (informational; see bench/cli_startup.py)")


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; sys.argv = ['fcrctl', '--help']\n"
        "from fcrctl.cli.main import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('rdflib', 'requests', 'rich', 'fcrctl.repository.local', 'tqdm') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY:"
