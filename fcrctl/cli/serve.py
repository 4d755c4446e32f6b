"""fcrctl serve: expose the repository over the Fedora 4/5 REST API (waitress, threaded).

fcrctl serve [--host 127.0.0.1] [--port 8080] [--base-path /rest] [--auth-file FILE] [--no-auth]
fcrctl serve --auth-file FILE --add-user USER [--admin]   # password from a prompt, or stdin when piped
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer

from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt
from fcrctl.errors import BadInput


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name could resolve to anything: treat it as public


def read_new_password(user: str) -> str:
    """From a hidden, confirmed prompt on a terminal; else the first line of stdin. Never argv."""
    if sys.stdin.isatty():
        return typer.prompt(f"password for {user}", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0 picks a free one).")] = 8080,
    base_path: Annotated[str, typer.Option("--base-path", help="URL path of the REST API.")] = "/rest",
    auth_file: Annotated[
        Path | None, typer.Option("--auth-file", help="Require HTTP basic auth; users in FILE.", metavar="FILE")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Allow a non-loopback --host without authentication.")
    ] = False,
    threads: Annotated[int, typer.Option("--threads", min=1, max=256, help="Worker threads.")] = 8,
    dialect: Annotated[
        str, typer.Option("--dialect", help="API flavour to advertise: fedora4, fedora5 or fedora6.")
    ] = "fedora4",
    add_user: Annotated[
        str | None,
        typer.Option(
            "--add-user", help="Add USER to --auth-file (password prompted or from stdin), then exit.", metavar="USER"
        ),
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="With --add-user: the user bypasses access control (as fedoraAdmin).")
    ] = False,
    external_allowed: Annotated[
        Path | None,
        typer.Option(
            "--external-content-allowed",
            help="Clients may name file: (and private http) external content only under the URI prefixes in FILE "
            "(Fedora's allowed-list format).",
            metavar="FILE",
        ),
    ] = None,
    allow_external_fetch: Annotated[
        bool,
        typer.Option(
            "--allow-external-fetch", help="Fetch http(s) external content for proxy/copy (public addresses only)."
        ),
    ] = False,
    login_failures: Annotated[
        int,
        typer.Option(
            "--login-failures", min=0,
            help="Failed logins allowed per client address per minute; more get 429 (0: no limit).",
        ),
    ] = 10,
    send_timeout: Annotated[
        float,
        typer.Option(
            "--send-timeout", min=0.1,
            help="Seconds a response may wait on a client that reads nothing before the connection is closed.",
        ),
    ] = 60.0,
    json_out: JsonOpt = False,
) -> None:
    """Serve the repository over the Fedora REST API until interrupted."""
    from fcrctl.server import auth as server_auth

    cli = Cli.of(ctx, json=json_out)
    if add_user is not None:
        if auth_file is None:
            raise BadInput("--add-user needs --auth-file FILE to write the user to")
        server_auth.add_user(auth_file, add_user, read_new_password(add_user), admin=admin)
        cli.out.done("user_added", add_user)
        return
    if admin:
        raise BadInput("--admin goes with --add-user USER: it marks the user being added as an admin")
    if dialect not in ("fedora4", "fedora5", "fedora6"):
        raise BadInput(f"unknown --dialect {dialect!r}: use fedora4, fedora5 or fedora6")
    if not is_loopback(host) and auth_file is None and not no_auth:
        raise BadInput(
            f"refusing to serve {host} without authentication: give --auth-file FILE "
            "(create it with --add-user USER), or --no-auth to serve it openly"
        )
    auth = server_auth.BasicAuth.from_file(auth_file, failures_per_minute=login_failures) if auth_file else None
    if external_allowed is not None:
        from fcrctl.server.external import read_allow_list

        read_allow_list(external_allowed)  # a bad file fails now (exit 2), not at the first request
    from fcrctl.server.run import serve as run_server

    repo = cli.repo

    def ready(url: str) -> None:
        if cli.out.json_mode:
            cli.out.json({"serving": url, "repository": repo.location, "auth": auth is not None})
        else:
            cli.out.line(url)
            cli.out.note(f"serving {repo.location} at {url} with {threads} threads (Ctrl-C stops)")
        cli.out.stdout.flush()

    run_server(
        repo, host=host, port=port, base_path=base_path, auth=auth, threads=threads, dialect=dialect, on_ready=ready,
        external_allowed=str(external_allowed) if external_allowed else None, allow_external_fetch=allow_external_fetch,
        send_timeout=send_timeout,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
