"""Start a real ``fcrctl serve`` on 127.0.0.1 with an ephemeral port, for tests.

    handle = start_server(tmp_path / "repo")          # in a background thread
    handle = start_server(path, subprocess=True)      # in its own process (RSS measurable)
    requests.get(handle.url + "/")                    # handle.url == "http://127.0.0.1:PORT/rest"
    handle.stop()                                     # or: with start_server(...) as handle:

Used by the server's tests, the HTTP backend's tests and the Repository contract suite.
"""

from __future__ import annotations

import contextlib
import os
import subprocess as sp
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcrctl.repository.base import Repository


@dataclass
class ServerHandle:
    url: str  # REST base URL, no trailing slash: http://127.0.0.1:PORT/rest
    repo: Repository | None = None  # the served repository (thread mode only)
    pid: int | None = None  # the server process (subprocess mode only)
    server: Any = None  # waitress's server, whose active_channels are the open connections (thread mode only)
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)

    @property
    def root(self) -> str:
        return self.url + "/"

    def stop(self) -> None:
        stop, self._stop = self._stop, lambda: None
        stop()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    repo_path: Path | str | None = None,
    *,
    repo: Repository | None = None,
    dialect: str = "fedora4",
    base_path: str = "/rest",
    auth_file: Path | str | None = None,
    threads: int = 8,
    max_body: int | None = None,
    subprocess: bool = False,
    process_args: tuple[str, ...] = (),
    send_timeout: float | None = None,
    **app_options: Any,
) -> ServerHandle:
    """Serve ``repo`` (or the local repository at ``repo_path``, created if absent).
    ``process_args``: more options of ``python -m fcrctl.server.run`` (subprocess mode)."""
    if subprocess:
        if repo_path is None or app_options:
            raise ValueError("subprocess mode needs repo_path and takes no app options")
        return _start_process(Path(repo_path), dialect, base_path, auth_file, threads, max_body, process_args)
    app_options["send_timeout"] = send_timeout  # for create_server, not make_app
    return _start_thread(repo_path, repo, dialect, base_path, auth_file, threads, max_body, app_options)


def _start_thread(
    repo_path: Path | str | None,
    repo: Repository | None,
    dialect: str,
    base_path: str,
    auth_file: Path | str | None,
    threads: int,
    max_body: int | None,
    app_options: dict[str, Any],
) -> ServerHandle:
    from fcrctl.server.app import make_app
    from fcrctl.server.auth import BasicAuth
    from fcrctl.server.run import DEFAULT_MAX_BODY, create_server, server_url, stop_server

    owned = repo is None
    if repo is None:
        if repo_path is None:
            raise ValueError("give repo_path or repo")
        from fcrctl.repository import open_repository

        repo = open_repository(str(repo_path), create=True)
    send_timeout = app_options.pop("send_timeout", None)
    auth = app_options.pop("auth", None) or (BasicAuth.from_file(auth_file) if auth_file else None)
    app = make_app(repo, base_path=base_path, auth=auth, dialect=dialect, **app_options)
    server = create_server(
        app, host="127.0.0.1", port=0, threads=threads, max_body=max_body or DEFAULT_MAX_BODY, loop_timeout=0.05,
        send_timeout=send_timeout,
    )
    thread = threading.Thread(target=_run_quietly, args=(server,), name="fcrctl-test-server", daemon=True)
    thread.start()

    def stop() -> None:
        stop_server(server)
        thread.join(timeout=10)
        if owned and repo is not None:
            repo.close()

    return ServerHandle(url=server_url(server, base_path), repo=repo, server=server, _stop=stop)


def _run_quietly(server: Any) -> None:
    with contextlib.suppress(OSError, ValueError):  # sockets closed under the loop by stop()
        server.run()


def _start_process(
    repo_path: Path,
    dialect: str,
    base_path: str,
    auth_file: Path | str | None,
    threads: int,
    max_body: int | None,
    process_args: tuple[str, ...] = (),
) -> ServerHandle:
    cmd = [sys.executable, "-m", "fcrctl.server.run", str(repo_path), "--port", "0", "--base-path", base_path]
    cmd += list(process_args)
    cmd += ["--dialect", dialect, "--threads", str(threads)]
    if max_body:
        cmd += ["--max-body", str(max_body)]
    if auth_file:
        cmd += ["--auth-file", str(auth_file)]
    # stderr goes to a file: a pipe nobody reads could fill up and block the server
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
    proc = sp.Popen(cmd, stdout=sp.PIPE, stderr=errors, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server listens (or dies)
    if not line.startswith("LISTENING "):
        proc.kill()
        proc.wait(timeout=10)
        errors.seek(0)
        raise RuntimeError(f"server did not start: {line.strip()} {errors.read()[-2000:]}")

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except sp.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        errors.close()

    return ServerHandle(url=line.split(" ", 1)[1].strip(), pid=proc.pid, _stop=stop)
