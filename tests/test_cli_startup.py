"""A command imports only what it needs (issue 14: the CLI's per-command cost is its start-up).

`fcrctl ls`, `info` and `get` of a binary on a local repository must not import the heavy
libraries, multiprocessing, the server, the services, or another command's module: each costs
every invocation milliseconds of CPU (bench/cli_startup.py measures them). The guard is a list
of modules a command must not import, not a timing, so it holds on a loaded machine too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fcrctl.cli.main import COMMANDS
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec

# What a local read never needs: RDF parsing and HTTP (and what they pull in), terminal rendering,
# compression, stores, process pools, libc through ctypes, the server, the services, ACL evaluation.
HEAVY = ("rdflib", "requests", "urllib3", "http.client", "ssl", "email", "xml", "rich", "zstandard", "tqdm",
         "werkzeug", "waitress", "boto3", "botocore", "azure", "bagit", "multiprocessing", "concurrent", "ctypes",
         "fcrctl.server", "fcrctl.services", "fcrctl.repository.http", "fcrctl.acl")
# `get` of RDF serialises through rdflib (and so imports what rdflib does), but no more than that.
NOT_FOR_RDF = ("requests", "urllib3", "rich", "zstandard", "tqdm", "werkzeug", "waitress", "boto3", "botocore",
               "azure", "bagit", "multiprocessing", "concurrent.futures.process", "fcrctl.server", "fcrctl.services",
               "fcrctl.repository.http")
READ_MODULE = "fcrctl.cli.read"
OTHER_COMMANDS = tuple(sorted({f"fcrctl.cli.{spec.split(':')[0]}" for spec in COMMANDS.values()} - {READ_MODULE}))

# The CLI as the console script runs it, writing the modules it imported to a file at exit.
PROBE = (
    "import atexit, json, os, sys\n"
    "def dump():\n"
    "    with open(os.environ['FCRCTL_TEST_MODULES'], 'w') as out:\n"
    "        json.dump(sorted(sys.modules), out)\n"
    "atexit.register(dump)\n"
    "sys.argv[0] = 'fcrctl'\n"
    "from fcrctl.cli.main import run\n"
    "run()\n"
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("startup") / "repo"
    repository = open_repository(str(where), create=True)
    try:
        repository.create("/c", ResourceSpec())
        repository.create("/c/child", ResourceSpec())
        repository.create("/c/bin", ResourceSpec(content=io.BytesIO(b"some bytes\n"), mime_type="text/plain"))
    finally:
        repository.close()
    return where


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    """The modules one `fcrctl ARGS` process imported (it must succeed)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCRCTL_")}
    env.update(FCRCTL_TEST_MODULES=str(out), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(out.read_text()))


def offending(modules: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))


@pytest.mark.parametrize("args", [["ls", "/c"], ["ls", "-l", "/c"], ["info", "/c/child"], ["get", "/c/bin"],
                                  ["--json", "info", "/c/bin"]], ids=" ".join)
def test_a_local_read_imports_nothing_heavy(repo: Path, tmp_path: Path, args: list[str]) -> None:
    modules = imported_by(tmp_path, "--repo", str(repo), *args)
    assert READ_MODULE in modules  # (the probe ran the command)
    assert offending(modules, HEAVY) == []
    assert offending(modules, OTHER_COMMANDS) == [], "a command imports only its own module of fcrctl.cli"


def test_get_of_rdf_imports_rdflib_and_no_more(repo: Path, tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "--repo", str(repo), "get", "/c/child")
    assert "rdflib" in modules
    assert offending(modules, NOT_FOR_RDF) == []
    assert offending(modules, OTHER_COMMANDS) == []


def test_help_builds_every_command_and_imports_nothing_heavy(tmp_path: Path) -> None:
    """--help imports every command's module: their top levels must stay as light as a read's."""
    modules = imported_by(tmp_path, "--help")
    assert set(OTHER_COMMANDS) <= modules
    assert offending(modules, HEAVY) == []


def test_every_command_is_listed_once_and_resolves(tmp_path: Path) -> None:
    """The lazy table in cli/main.py names real commands: each builds, and under its own name."""
    import typer

    from fcrctl.cli.main import app

    root = typer.main.get_command(app)
    ctx = root.make_context("fcrctl", [], resilient_parsing=True)
    names = root.list_commands(ctx)
    assert len(names) == len(set(names)) == len(COMMANDS)
    for name in names:
        command = root.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.help, f"{name} has no help text"


@pytest.mark.parametrize("module", ["backup", "serve", "transfer"])
def test_a_modules_register_names_the_commands_the_table_maps_to_it(module: str) -> None:
    """backup.py, serve.py and transfer.py list their commands in register(app) (tests build small
    apps from it): the table must map the same names to the same functions."""
    import importlib

    import typer

    app = typer.Typer()
    importlib.import_module(f"fcrctl.cli.{module}").register(app)
    registered = {info.name: f"{module}:{info.callback.__name__}" for info in app.registered_commands}
    assert registered == {name: spec for name, spec in COMMANDS.items() if spec.startswith(f"{module}:")}


def test_a_mistyped_command_is_answered_with_the_commands_it_resembles() -> None:
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    result = CliRunner().invoke(app, ["lis"])
    assert result.exit_code == 2
    assert "No such command 'lis'. Did you mean 'ls'?" in result.output


def test_a_listing_reads_a_small_first_page_before_its_first_child(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`ls | head -1` waits for the first page: 16 rows read, not 500 (~15 ms of a loaded machine's
    CPU at 100k children); the pages after it are full, and every child comes once, in order."""
    from fcrctl.repository.local import index as local_index
    from fcrctl.repository.local import index_sql

    repository = open_repository(str(tmp_path / "repo"), create=True)
    try:
        repository.create("/c", ResourceSpec())
        batch = repository.batch()
        for i in range(60):
            assert batch.create(f"/c/x{i:02}", ResourceSpec())
        batch.commit()
        pages: list[int] = []
        real = index_sql.Conn.execute

        def execute(self: index_sql.Conn, sql: str, args: tuple | list = ()) -> object:
            if sql.startswith("SELECT * FROM resources WHERE sort_key > ? AND parent = ?"):
                pages.append(args[-1])
            return real(self, sql, args)

        monkeypatch.setattr(index_sql.Conn, "execute", execute)
        children = repository.children("/c")
        assert next(children).path == "/c/x00"
        assert pages == [local_index.FIRST_PAGE]
        assert [c.path for c in children] == [f"/c/x{i:02}" for i in range(1, 60)]
        assert pages == [local_index.FIRST_PAGE, 500]
    finally:
        repository.close()


# `ls` over HTTP needs requests (and what it imports), its own backend and the N-Triples line reader
# it shares with export (services.transfer.ntlines); never rdflib (serve's listing is read as text),
# the local backend, the server, another service, or another command.
NOT_FOR_HTTP_LS = ("rdflib", "rich", "zstandard", "tqdm", "werkzeug", "waitress", "boto3", "botocore", "azure",
                   "bagit", "multiprocessing", "ctypes", "fcrctl.server", "fcrctl.repository.local")


def test_ls_over_http_imports_neither_rdflib_nor_the_local_backend(repo: Path, tmp_path: Path) -> None:
    from tests.server_fixture import start_server

    with start_server(repo, dialect="fedora6") as served:
        modules = imported_by(tmp_path, "--repo", served.url, "ls", "/c")
    assert READ_MODULE in modules and "fcrctl.repository.http.listings" in modules
    assert offending(modules, NOT_FOR_HTTP_LS) == []
    assert sorted(m for m in modules if m.startswith("fcrctl.services.")) == ["fcrctl.services.transfer",
                                                                              "fcrctl.services.transfer.ntlines"]
    assert offending(modules, OTHER_COMMANDS) == []
