"""The ``config`` commands: show (each effective setting and where it came from), path.

Precedence is the README's: command-line options, then environment variables, then the
profile, then defaults. Secrets are never shown: a password or token says only where it
comes from.
"""

from __future__ import annotations

from typing import Any

import typer

from fcrctl.cli.context import Cli, config_home, default_repository, load_profile
from fcrctl.cli.options import JsonOpt

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Show the effective configuration and where the config file is.")

# setting -> (global option, environment variable or None)
SETTINGS = {
    "repo": ("--repo", "FCRCTL_REPO"),
    "profile": ("--profile", "FCRCTL_PROFILE"),
    "user": ("--user", "FCRCTL_USER"),
    "password_file": ("--password-file", None),
    "token_file": ("--token-file", None),
    "api": ("--api", None),
    "ca_bundle": ("--ca-bundle", None),
    "insecure": ("--insecure", None),
    "timeout": ("--timeout", None),
    "tx": ("--tx", "FCRCTL_TX"),
}
MASK = "********"
DEFAULTS = {"api": "detected from the server", "timeout": "60 (10 to connect)", "insecure": False}


def config_file() -> Any:
    return config_home() / "config.toml"


@app.command("path")
def path(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the config file's path (profiles live there), whether or not it exists yet."""
    cli = Cli.of(ctx, json=json_out)
    where = config_file()
    if cli.out.json_mode:
        cli.out.json({"path": str(where), "exists": where.exists()})
    else:
        cli.out.line(str(where))


@app.command("show")
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show each effective setting, where it came from (option, environment, profile, default);
    secrets masked."""
    cli = Cli.of(ctx, json=json_out)
    rows = effective(ctx, cli)
    if cli.out.json_mode:
        cli.out.json({name: {"value": value, "source": source} for name, value, source in rows})
    else:
        cli.out.table([(name, "-" if value is None else str(value), source) for name, value, source in rows],
                      ("setting", "value", "source"))


def effective(ctx: typer.Context, cli: Cli) -> list[tuple[str, Any, str]]:
    import os

    from typer.core import _click

    root = ctx.find_root()
    settings = cli.settings
    profile_name = settings.profile
    profile = load_profile(profile_name)
    where = f"profile {profile_name or 'default'} ({config_file()})"
    rows: list[tuple[str, Any, str]] = []
    for name, (option, variable) in SETTINGS.items():
        value = getattr(settings, name)
        given = root.get_parameter_source(name)
        if given == _click.core.ParameterSource.COMMANDLINE:
            source = f"option {option}"
        elif given == _click.core.ParameterSource.ENVIRONMENT:
            source = f"environment {variable}"
        elif name in profile:
            source = where
        else:
            source = "default"
        if name == "repo":
            value, source = _repo(value, source)
        elif source == "default":
            value = DEFAULTS.get(name, value)
        rows.append((name, "yes" if value is True else "no" if value is False else value, source))
    # the order auth.py looks in: the URL's userinfo, the file, the environment, ~/.netrc, a prompt
    in_url = "://" in (settings.repo or "") and _userinfo_password(settings.repo or "")
    password = (MASK, "the --repo URL") if in_url else _secret(
        "FCRCTL_PASSWORD", settings.password_file, os.environ, fallback="~/.netrc or a prompt, when a server asks")
    rows.insert(4, ("password", *password))
    rows.insert(6, ("token", *_secret("FCRCTL_TOKEN", settings.token_file, os.environ, fallback="none")))
    return rows


def _userinfo_password(url: str) -> bool:
    from fcrctl.repository.http.auth import split_userinfo

    return split_userinfo(url)[2] is not None


def _repo(value: str | None, source: str) -> tuple[str, str]:
    if value is None:
        return str(default_repository()), "default (created on first use)"
    if "://" in value and "@" in value:
        from fcrctl.repository.http.auth import split_userinfo

        value = split_userinfo(value)[0]  # credentials in a URL are never shown
    return value, source


def _secret(variable: str, file: str | None, env: Any, *, fallback: str) -> tuple[str | None, str]:
    if file:
        return MASK, f"file {file}"
    if env.get(variable):
        return MASK, f"environment {variable}"
    return None, fallback
