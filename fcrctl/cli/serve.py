"""fcrctl serve: expose the repository over the Fedora 4/5 REST API (waitress, threaded).

fcrctl serve [--host 127.0.0.1] [--port 8080] [--base-path /rest] [--auth-file FILE] [--no-auth]
             [--access-log FILE|- [--access-log-format clf|json]]
fcrctl serve --auth-file FILE --add-user USER [--admin]   # password from a prompt, or stdin when piped
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer

from fcrctl import rdf
from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt
from fcrctl.errors import BadInput, Conflict


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
    backup_dir: Annotated[
        Path | None,
        typer.Option("--backup-dir", help="Allow admins fcr:backup/fcr:restore of directories under DIR.",
                     metavar="DIR"),
    ] = None,
    root_acl: Annotated[
        Path | None,
        typer.Option("--root-acl", help="Default root ACL (RDF, ids as info:fedora/...) for non-admin users; "
                     "without it only --admin users may do anything.", metavar="FILE"),
    ] = None,
    user_base_uri: Annotated[
        str | None,
        typer.Option("--user-base-uri", help="acl:agent URIs under this prefix name users (Fedora's "
                     "fcrepo.auth.webac.userAgent.baseUri).", metavar="URI"),
    ] = None,
    access_log: Annotated[
        str | None,
        typer.Option(
            "--access-log", help="Log each request to FILE ('-' for stdout); never credentials.", metavar="FILE"
        ),
    ] = None,
    access_log_format: Annotated[
        str, typer.Option("--access-log-format", help="Access log lines: clf (Common Log Format) or json.")
    ] = "clf",
    force: Annotated[
        bool, typer.Option("--force", help="With --add-user: replace the password of a user the file has already.")
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
    max_rdf_bytes: Annotated[
        int,
        typer.Option(
            "--max-rdf-bytes",
            min=1,
            metavar="BYTES",
            help="Answer 413 to an RDF or SPARQL body larger than BYTES (parsed in memory, at ~80 times its size).",
        ),
    ] = rdf.MAX_RDF_BYTES,
) -> None:
    """Serve the repository over the Fedora REST API until interrupted (SIGTERM: once the requests in flight end)."""
    from fcrctl.server import auth as server_auth

    cli = Cli.of(ctx, json=json_out)
    if add_user is not None:
        if auth_file is None:
            raise BadInput("--add-user needs --auth-file FILE to write the user to")
        existing = server_auth.read_auth_file(auth_file) if auth_file.exists() else {}
        if add_user in existing and not force:
            raise Conflict(f"user {add_user!r} is already in {auth_file}: add --force to replace their password")
        server_auth.add_user(auth_file, add_user, read_new_password(add_user), admin=admin)
        if cli.out.json_mode:
            cli.out.json({"user_added": add_user, "auth_file": str(auth_file), "admin": admin,
                          "replaced": add_user in existing})
        else:
            role = "an admin" if admin else "a user"
            verb = "replaced the password of" if add_user in existing else "added"
            cli.out.line(f"{verb} {add_user} ({role}) in {auth_file}")
        return
    if admin:
        raise BadInput("--admin goes with --add-user USER: it marks the user being added as an admin")
    if force:
        raise BadInput("--force goes with --add-user USER: it replaces that user's password")
    if dialect not in ("fedora4", "fedora5", "fedora6"):
        raise BadInput(f"unknown --dialect {dialect!r}: use fedora4, fedora5 or fedora6")
    if not is_loopback(host) and auth_file is None and not no_auth:
        raise BadInput(
            f"refusing to serve {host} without authentication: give --auth-file FILE "
            "(create it with --add-user USER), or --no-auth to serve it openly"
        )
    if access_log_format not in ("clf", "json"):
        raise BadInput(f"unknown --access-log-format {access_log_format!r}: use clf or json")
    if access_log and access_log != "-":
        from fcrctl.server.access_log import open_log

        open_log(access_log).close()  # a bad path fails here, before the repository is opened
    auth = server_auth.BasicAuth.from_file(auth_file, failures_per_minute=login_failures) if auth_file else None
    if external_allowed is not None:
        from fcrctl.server.external import read_allow_list

        read_allow_list(external_allowed)  # a bad file fails now (exit 2), not at the first request
    from fcrctl.cli.acl import load_policy

    policy = load_policy(root_acl, user_base_uri)
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
        max_rdf_bytes=max_rdf_bytes,
        external_allowed=str(external_allowed) if external_allowed else None, allow_external_fetch=allow_external_fetch,
        backup_dir=_backup_dir(backup_dir),
        policy=policy,
        access_log=access_log,
        access_log_format=access_log_format,
        send_timeout=send_timeout,
    )


def _backup_dir(where: Path | None) -> str | None:
    """--backup-dir, which must exist: server-side backups go only under it."""
    if where is None:
        return None
    if not where.is_dir():
        raise BadInput(f"--backup-dir {where} is not a directory: create it first")
    return str(where.resolve())


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
