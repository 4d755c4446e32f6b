"""Run the WSGI app under waitress, a production-grade threaded WSGI server.

Why waitress and not werkzeug's ``run_simple``: werkzeug's server is a development server
(one thread per connection, no request-size limits, documented as unfit for production).
Waitress runs a fixed pool of worker threads behind an asyncore I/O loop, spools request
bodies above 512 KB to temporary files and only dispatches a request once its body has
arrived in full (so a client that disconnects mid-upload never reaches the repository),
enforces a maximum body size (413), and bounds response buffering (the worker blocks when
the client reads slowly), which keeps a multi-GB download at constant memory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from fcrctl.errors import BadInput, Unavailable
from fcrctl.repository.base import Repository

log = logging.getLogger("fcrctl.server")

DEFAULT_THREADS = 8
# Uploads are spooled to disk by waitress, so the limit guards the disk, not memory.
DEFAULT_MAX_BODY = 64 * 1024**3


def create_server(
    app: Callable[..., Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    threads: int = DEFAULT_THREADS,
    max_body: int = DEFAULT_MAX_BODY,
    loop_timeout: float = 1.0,
    send_timeout: float | None = None,
) -> Any:
    """Bind ``host:port`` (port 0 picks a free one) and return the waitress server, not yet running.

    ``loop_timeout`` bounds how long a stop waits for the socket loop to notice (tests use less).
    """
    import waitress.server

    from fcrctl.server import channel

    if threads < 1:
        raise BadInput(f"--threads must be at least 1, not {threads}")
    try:
        server = waitress.server.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=max_body,
            # the repository is the bottleneck, not the socket: let a few connections queue
            connection_limit=max(100, threads * 8),
            ident="fcrctl",
            clear_untrusted_proxy_headers=True,
            asyncore_loop_timeout=loop_timeout,
            # a connection that takes nothing for this long is closed (slow readers: see channel.py)
            channel_timeout=send_timeout or channel.DEFAULT_SEND_TIMEOUT,
            cleanup_interval=min(30.0, max((send_timeout or channel.DEFAULT_SEND_TIMEOUT) / 2, 0.5)),
        )
    except OSError as err:
        raise Unavailable(f"cannot listen on {host}:{port}: {err.strerror or err}: choose another --port") from err
    channel.install(server, send_timeout=send_timeout or channel.DEFAULT_SEND_TIMEOUT)
    return server


def server_url(server: Any, base_path: str) -> str:
    host = server.effective_host
    if ":" in str(host):
        host = f"[{host}]"
    return f"http://{host}:{server.effective_port}{base_path}"


def stop_server(server: Any) -> None:
    """Stop a server running in another thread: workers first, then every socket."""
    from waitress import wasyncore

    server.task_dispatcher.shutdown(timeout=5)
    wasyncore.close_all(server._map)


def serve(
    repo: Repository,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    base_path: str = "/rest",
    auth: Any = None,
    threads: int = DEFAULT_THREADS,
    dialect: str = "fedora4",
    max_body: int = DEFAULT_MAX_BODY,
    on_ready: Callable[[str], None] | None = None,
    max_rdf_bytes: int | None = None,
    external_allowed: str | None = None,
    allow_external_fetch: bool = False,
    backup_dir: str | None = None,
    policy: Any = None,
    access_log: str | None = None,
    access_log_format: str = "clf",
    send_timeout: float | None = None,
) -> None:
    """Serve ``repo`` until interrupted (SIGTERM: after the requests in flight). ``on_ready``
    receives the base URL once listening. ``access_log``: a file, or ``-`` for stdout.
    ``policy``: the access-control Policy (fcrctl.acl) for auth-file users; default: admins only."""
    from fcrctl.server import shutdown
    from fcrctl.server.app import make_app
    from fcrctl.services.transfer.import_memory import fixed_mmap_threshold

    fixed_mmap_threshold()  # binary bodies are copied in 1 MiB chunks, as an import's (see import_memory.py)
    app: Any = make_app(
        repo, base_path=base_path, auth=auth, dialect=dialect, max_rdf_bytes=max_rdf_bytes,
        external_allowed=external_allowed, allow_external_fetch=allow_external_fetch, backup_dir=backup_dir,
        policy=policy,
    )
    if access_log:
        from fcrctl.server.access_log import AccessLog, open_log

        app = AccessLog(app, open_log(access_log), access_log_format)
    server = create_server(app, host=host, port=port, threads=threads, max_body=max_body, send_timeout=send_timeout)
    if on_ready is not None:
        on_ready(server_url(server, base_path))
    try:
        shutdown.run_until_terminated(server)
    finally:
        server.task_dispatcher.shutdown(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """``python -m fcrctl.server.run REPO``: used by tests to run a server in its own process."""
    from fcrctl.repository import open_repository

    parser = argparse.ArgumentParser(prog="python -m fcrctl.server.run")
    parser.add_argument("repo")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--base-path", default="/rest")
    parser.add_argument("--dialect", default="fedora4")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY)
    parser.add_argument("--auth-file")
    parser.add_argument("--login-failures", type=int, default=None)
    parser.add_argument("--send-timeout", type=float, default=None)
    parser.add_argument("--external-content-allowed")
    parser.add_argument("--allow-external-fetch", action="store_true")
    parser.add_argument("--backup-dir")
    parser.add_argument("--access-log")
    parser.add_argument("--access-log-format", default="clf")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    auth = None
    if args.auth_file:
        from fcrctl.server.auth import BasicAuth

        limit = {} if args.login_failures is None else {"failures_per_minute": args.login_failures}
        auth = BasicAuth.from_file(args.auth_file, **limit)
    repo = open_repository(args.repo, create=True)

    def ready(url: str) -> None:
        print(f"LISTENING {url}", flush=True)

    try:
        serve(
            repo,
            port=args.port,
            base_path=args.base_path,
            auth=auth,
            threads=args.threads,
            dialect=args.dialect,
            max_body=args.max_body,
            on_ready=ready,
            external_allowed=args.external_content_allowed,
            allow_external_fetch=args.allow_external_fetch,
            backup_dir=args.backup_dir,
            access_log=args.access_log,
            access_log_format=args.access_log_format,
            send_timeout=args.send_timeout,
        )
    finally:
        repo.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
