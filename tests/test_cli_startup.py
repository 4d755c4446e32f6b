"""A command imports only what it needs (issue 14: the CLI's per-command cost is its start-up).

`fcrctl ls`, `info` and `get` of a binary on a local repository must not import the heavy
libraries, multiprocessing, the server, the services, or another command's module: each costs
every invocation milliseconds of CPU (bench/cli_startup.py measures them). The guard is a list
of modules a command must not import, not a timing, so it holds on a loaded machine too.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fcrctl.cli.main import COMMANDS
from fcrctl.errors import ExitCode
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


# `ls` over plain HTTP needs http.client, its own backend and the N-Triples line reader it shares with
# export (services.transfer.ntlines); never requests and urllib3 (~0.07 s of CPU: the listing goes
# through http.client, plain.py), rdflib (serve's listing is read as text), the backend's parts a
# listing does not use (writes, ACLs, fixity, transactions), the spill's SQLite, a thread pool, the
# local backend, the server, another service, or another command.
NOT_FOR_HTTP_LS = ("requests", "urllib3", "charset_normalizer", "idna", "rdflib", "rich", "zstandard", "tqdm",
                   "werkzeug", "waitress", "boto3", "botocore", "azure", "bagit", "multiprocessing", "ctypes",
                   "sqlite3", "concurrent", "fcrctl.acl", "fcrctl.server", "fcrctl.repository.local",
                   "fcrctl.repository.http.writes", "fcrctl.repository.http.acls", "fcrctl.repository.http.fixity",
                   "fcrctl.repository.http.transactions", "fcrctl.repository.http.session")


def test_ls_over_http_imports_neither_requests_nor_rdflib_nor_the_local_backend(repo: Path, tmp_path: Path) -> None:
    from tests.server_fixture import start_server

    with start_server(repo, dialect="fedora6") as served:
        modules = imported_by(tmp_path, "--repo", served.url, "ls", "/c")
    assert READ_MODULE in modules and "fcrctl.repository.http.listings" in modules
    assert offending(modules, NOT_FOR_HTTP_LS) == []
    assert sorted(m for m in modules if m.startswith("fcrctl.services.")) == ["fcrctl.services.transfer",
                                                                              "fcrctl.services.transfer.ntlines"]
    assert offending(modules, OTHER_COMMANDS) == []


# ---- `ls` over http through http.client (plain.py): no requests before the first line (issue 14) ----
# Each case runs twice: as it is (http.client: requests never imported), and with a proxy named in the
# environment, which sends every request the ordinary way, through requests (its session then decides:
# no_proxy here says the proxy is not for 127.0.0.1). Both must print the same, fail the same, and exit
# with the same code: the fast path is the ordinary one's behaviour at a third less of its start.
REQUESTS = ("requests", "urllib3", "charset_normalizer", "idna")
PROXY_ENV = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "127.0.0.1"}
PASSWORD = "correct horse"


def run_probe(tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str, set[str]]:
    """(exit code, stdout, stderr, modules imported) of one `fcrctl ARGS` process."""
    out = tmp_path / "modules.json"
    out.unlink(missing_ok=True)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("FCRCTL_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    base.update(FCRCTL_TEST_MODULES=str(out), XDG_CONFIG_HOME=str(tmp_path / "config"),
                XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path), **(env or {}))
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=base, capture_output=True,
                          text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr, set(json.loads(out.read_text())) if out.exists() else set()


def both_ways(tmp_path: Path, args: list[str], env: dict[str, str] | None = None, *,
              plain: bool = True) -> tuple[int, str, str]:
    """The command through http.client and through requests: the same answer, requests imported only then
    (``plain``: not at all without the proxy; `ls FILE` then asks for the file's info through requests)."""
    code, stdout, stderr, modules = run_probe(tmp_path, args, env)
    assert plain == (offending(modules, REQUESTS) == []), f"{args}: requests imported on the http.client path"
    proxied = run_probe(tmp_path, args, {**(env or {}), **PROXY_ENV})
    assert "requests" in proxied[3], f"{args}: a proxy in the environment must send it through requests"
    assert proxied[:3] == (code, stdout, stderr)
    return code, stdout, stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """serve (fedora6) of /c (five children and a binary), a deleted /gone and /ext, a binary whose GET
    redirects off the server; users alice (admin) and bob (no rights)."""
    from fcrctl.server.auth import add_user
    from tests.server_fixture import start_server

    where = tmp_path_factory.mktemp("guarded")
    repository = open_repository(str(where / "repo"), create=True)
    try:
        repository.create("/c", ResourceSpec())
        for name in ("a", "b", "c", "d", "e"):
            repository.create(f"/c/{name}", ResourceSpec())
        repository.create("/c/f.txt", ResourceSpec(content=io.BytesIO(b"text\n"), mime_type="text/plain"))
        repository.create("/gone", ResourceSpec())
        repository.delete("/gone")
        repository.create("/ext", ResourceSpec(external_url="http://example.org/elsewhere",
                                               external_handling="redirect", mime_type="text/plain"))
    finally:
        repository.close()
    add_user(where / "users", "alice", PASSWORD, admin=True)
    add_user(where / "users", "bob", PASSWORD)
    with start_server(where / "repo", dialect="fedora6", auth_file=where / "users") as served:
        yield served.url


ALICE = {"FCRCTL_USER": "alice", "FCRCTL_PASSWORD": PASSWORD}


@pytest.mark.parametrize(("args", "lines"), [
    (["ls", "/c"], ["/c/a", "/c/b", "/c/c", "/c/d", "/c/e", "/c/f.txt"]),
    (["ls", "/c", "--after", "b", "--limit", "2"], ["/c/c", "/c/d"]),
    (["ls", "/c", "--after", "e"], ["/c/f.txt"]),
    (["ls", "/c", "--limit", "1"], ["/c/a"]),
    (["ls", "-R", "/c"], ["/c/a", "/c/b", "/c/c", "/c/d", "/c/e", "/c/f.txt"]),  # a GET per container
    (["ls", "/c/f.txt"], ["/c/f.txt"]),  # a binary lists itself
], ids=lambda v: " ".join(v) if isinstance(v, list) and v[0] == "ls" else "")
def test_ls_over_http_lists_through_http_client_as_through_requests(guarded: str, tmp_path: Path, args: list[str],
                                                                   lines: list[str]) -> None:
    code, stdout, stderr = both_ways(tmp_path, ["--repo", guarded, *args], ALICE, plain=not args[-1].endswith(".txt"))
    assert (code, stdout.split(), stderr) == (0, lines, "")


def test_ls_long_and_json_over_http_print_the_same_either_way(guarded: str, tmp_path: Path) -> None:
    for args in (["ls", "-l", "/c"], ["--json", "ls", "/c", "--limit", "2"]):
        code, stdout, _ = both_ways(tmp_path, ["--repo", guarded, *args], ALICE)
        assert code == 0 and stdout.count("\n") == (6 if "-l" in args else 2), stdout


@pytest.mark.parametrize(("args", "env", "code", "says"), [
    (["ls", "/c"], {}, ExitCode.AUTH, "authentication failed at 127.0.0.1:"),  # anonymous: the root's GET is a 401
    (["ls", "/c"], {"FCRCTL_USER": "alice", "FCRCTL_PASSWORD": "wrong"}, ExitCode.AUTH, "(HTTP 401)"),
    (["ls", "/c"], {"FCRCTL_TOKEN": "not-a-user"}, ExitCode.AUTH, "(HTTP 401)"),  # serve takes no bearer tokens
    (["ls", "/c"], {"FCRCTL_USER": "bob", "FCRCTL_PASSWORD": PASSWORD}, ExitCode.AUTH, "permission denied"),
    (["ls", "/nothing"], ALICE, ExitCode.NOT_FOUND, "not found: /nothing"),
    (["ls", "/gone"], ALICE, ExitCode.GONE, "/gone was deleted and a tombstone remains"),
])
def test_ls_over_http_fails_with_the_same_line_and_code_either_way(guarded: str, tmp_path: Path, args: list[str],
                                                                   env: dict[str, str], code: int, says: str) -> None:
    got, stdout, stderr = both_ways(tmp_path, ["--repo", guarded, *args], env)
    assert (got, stdout) == (code, "")
    assert says in stderr and stderr.count("\n") == 1, stderr
    assert PASSWORD not in stderr


def test_ls_of_a_redirecting_binary_follows_no_redirect_and_lists_it(guarded: str, tmp_path: Path) -> None:
    """/ext's GET is a 307 off the server: taken as the answer (not followed, not sent again), then its
    HEAD (through requests, loaded for it) says it is a binary, which lists itself."""
    code, stdout, stderr, modules = run_probe(tmp_path, ["--repo", guarded, "ls", "/ext"], ALICE)
    assert (code, stdout.split(), stderr) == (0, ["/ext"], "")
    proxied = run_probe(tmp_path, ["--repo", guarded, "ls", "/ext"], {**ALICE, **PROXY_ENV})
    assert proxied[:3] == (code, stdout, stderr)


def test_ls_of_a_server_that_refuses_connections_fails_as_before(tmp_path: Path) -> None:
    """Refused: no request was sent, so it goes the ordinary way (requests retries, then explains)."""
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    code, stdout, stderr, _ = run_probe(tmp_path, ["--repo", f"http://127.0.0.1:{port}/rest", "--timeout", "2",
                                                   "ls", "/c"])
    assert (code, stdout) == (ExitCode.UNAVAILABLE, "")
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in stderr and stderr.count("\n") == 1


def test_ls_of_a_server_that_does_not_answer_fails_once_within_the_timeout(tmp_path: Path) -> None:
    """Connected, the GET sent, no answer: the same line requests gives, after one --timeout (not two:
    requests would not retry past it either)."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # accepted, read, never answered
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        port = listener.getsockname()[1]
        code, stdout, stderr, modules = run_probe(tmp_path, ["--repo", f"http://127.0.0.1:{port}/rest", "--timeout",
                                                             "1", "ls", "/c"])
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        listener.close()
        for conn in held:
            conn.close()
    assert (code, stdout) == (ExitCode.UNAVAILABLE, "")
    assert f"no answer from 127.0.0.1:{port} within 1 s (connected, but the server did not respond)" in stderr
    assert offending(modules, REQUESTS) == [] and len(held) == 1 and took < 30


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nLink: <" + b"x" * 70_000 + b">\r\n\r\n",  # a header line past http.client's 64 KiB
    b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",  # more headers than http.client takes (100)
    b"SSH-2.0-OpenSSH_9.2\r\n",  # not HTTP at all
], ids=["long-header", "many-headers", "not-http"])
def test_ls_of_a_server_answering_pathologically_fails_in_one_line(tmp_path: Path, answer: bytes) -> None:
    """A hostile or broken server's answer to the listing's GET: bounded by the parsers, one line saying what
    failed, exit UNAVAILABLE, no traceback, within the timeout (each connection answered the same way)."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn = listener.accept()[0]
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        port = listener.getsockname()[1]
        code, stdout, stderr, _ = run_probe(tmp_path, ["--repo", f"http://127.0.0.1:{port}/rest", "--timeout", "2",
                                                       "ls", "/c"])
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert (code, stdout) == (ExitCode.UNAVAILABLE, ""), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert f"127.0.0.1:{port} answered with a malformed HTTP response" in stderr and len(stderr) < 300, stderr
    assert took < 60


class TlsFront:
    """TLS in front of a plain server, as a reverse proxy puts it (serve speaks plain HTTP): each connection's
    handshake with ``context``, then its bytes both ways to and from 127.0.0.1:``backend``."""

    def __init__(self, context: Any) -> None:
        import socket

        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.backend = 0

    def start(self, backend: int) -> None:
        import threading

        self.backend = backend
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import ssl
        import threading

        while True:
            try:
                conn = self.listener.accept()[0]
            except OSError:
                return  # closed
            try:
                client = self.context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):  # the client refused our certificate
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.backend))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: Any, sink: Any) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def tls_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(https URL of serve behind TLS with a certificate of a CA made here, that CA's PEM file)."""
    import ssl

    trustme = pytest.importorskip("trustme")
    from tests.server_fixture import start_server

    where = tmp_path_factory.mktemp("tls")
    repository = open_repository(str(where / "repo"), create=True)
    try:
        repository.create("/c", ResourceSpec())
        for name in ("a", "b"):
            repository.create(f"/c/{name}", ResourceSpec())
    finally:
        repository.close()
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(where / "ca.pem"))
    front = TlsFront(context)
    url = f"https://127.0.0.1:{front.port}/rest"
    try:
        with start_server(where / "repo", dialect="fedora6", public_url=url) as served:
            front.start(int(served.url.rsplit(":", 1)[1].split("/")[0]))
            yield url, where / "ca.pem"
    finally:
        front.close()


def test_ls_over_https_verifies_the_server_as_requests_does(tls_served: tuple[str, Path], tmp_path: Path) -> None:
    """With the CA's bundle: listed through http.client (stdlib ssl, verification on), no requests. Without it
    (certifi's CAs, requests' default), the one line requests gives, either way: the handshake failed before
    anything was sent, so the ordinary path sends it again, and explains."""
    url, ca = tls_served
    code, stdout, stderr = both_ways(tmp_path, ["--repo", url, "--ca-bundle", str(ca), "ls", "/c"])
    assert (code, stdout.split(), stderr) == (0, ["/c/a", "/c/b"], "")
    code, stdout, stderr = both_ways(tmp_path, ["--repo", url, "ls", "/c"], plain=False)
    assert (code, stdout) == (ExitCode.UNAVAILABLE, "")
    port = url.split(":")[2].split("/")[0]
    assert stderr == (f"fcrctl: error: TLS verification failed for 127.0.0.1:{port}: use --ca-bundle FILE to trust "
                      "the server's CA (or --insecure)\n")


def test_ls_over_https_without_verification_goes_through_requests_and_warns(tls_served: tuple[str, Path],
                                                                             tmp_path: Path) -> None:
    """--insecure: the http.client path verifies or does nothing, so requests sends it (and warns)."""
    url, _ = tls_served
    code, stdout, stderr, modules = run_probe(tmp_path, ["--repo", url, "--insecure", "ls", "/c"])
    assert (code, stdout.split()) == (0, ["/c/a", "/c/b"])
    assert "requests" in modules and "certificates are not verified" in stderr
