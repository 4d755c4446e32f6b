"""The typer app: global options, command wiring, and the one place errors become exit codes."""

import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fcrctl import __version__
from fcrctl.cli import complete
from fcrctl.cli.context import Cli, Settings, load_profile
from fcrctl.cli.logs import configure_logging
from fcrctl.cli.output import Printer
from fcrctl.errors import ExitCode, FcrctlError, from_os_error

BROKEN_PIPE = 141  # 128 + SIGPIPE, what other Unix tools report when the reader goes away


class _Guarded(TyperGroup):
    """Runs every command inside :func:`guard`, so in-process callers (tests) see real exit codes.

    Commands named in :data:`COMMANDS` are built on first use: ``fcrctl ls`` imports and builds only
    ``ls`` (start-up time, issue 14); ``--help`` and shell completion list, and so build, them all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in _leaves(self):
            _accept_output_options(command)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        self._build([name for name in COMMANDS if name not in self.commands])  # (whoever lists them shows them)
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self._build([cmd_name])
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] not in COMMANDS:
            self.list_commands(ctx)  # a mistyped name: typer suggests from those built ("Did you mean 'ls'?")
        return super().resolve_command(ctx, args)

    def _build(self, names: list[str]) -> None:
        for name, command in _built(names).items():
            self.commands[name] = command
            for leaf in _leaves(command) if hasattr(command, "commands") else [command]:
                _accept_output_options(leaf)

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        # kept so that a usage error found before any command runs can still answer in JSON
        ctx.meta["fcrctl.json"] = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        return guard(ctx, lambda: super(_Guarded, self).invoke(ctx))


# name -> "module:attribute" in fcrctl.cli, in the order --help lists them: a command function, or a
# typer app of subcommands. A module is imported only when one of its commands runs.
COMMANDS = {
    "init": "admin:init",
    "create": "write:create",
    "get": "read:get",
    "info": "read:info",
    "ls": "read:ls",
    "put": "write:put",
    "patch": "write:patch",
    "delete": "write:delete",
    "purge": "write:purge",
    "move": "write:move",
    "copy": "write:copy",
    "fixity": "fixity:fixity",
    "check": "check:check",
    "serve": "serve:serve",
    "reindex": "admin:reindex",
    "backup": "backup:backup",
    "list-backups": "backup:list_backups",
    "restore": "backup:restore",
    "delete-backup": "backup:delete_backup",
    "verify-backup": "backup:verify_backup",
    "prune-backups": "backup:prune_backups",
    "upload-backup": "backup:upload_backup",
    "download-backup": "backup:download_backup",
    "export": "transfer:export",
    "import": "transfer:import_",
    "versions": "versions:app",
    "tx": "tx:app",
    "acl": "acl:app",
    "transfers": "transfers:app",
    "config": "config:app",
}


def _built(names: list[str]) -> dict[str, Any]:
    """The click commands for ``COMMANDS[name]`` of each name, built as ``app.command`` and
    ``app.add_typer`` would (in one group, as typer builds an app's)."""
    from importlib import import_module

    if not names:
        return {}
    holder = typer.Typer(rich_markup_mode=app.rich_markup_mode, pretty_exceptions_short=app.pretty_exceptions_short,
                         add_completion=False)
    for name in names:
        module, attribute = COMMANDS[name].split(":")
        target = getattr(import_module(f"fcrctl.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            holder.command(name)(target)
    return dict(typer.main.get_group(holder).commands)


def _leaves(group: Any) -> list[Any]:
    out: list[Any] = []
    for command in group.commands.values():
        out += _leaves(command) if hasattr(command, "commands") else [command]
    return out


def _accept_output_options(command: Any) -> None:
    """Global output options work after the command too (``fcrctl list-backups -q``): hidden
    copies of -q and -v on every command (each already has its own --json) set the same switches."""
    from typer.core import TyperOption

    taken = {opt for p in command.params for opt in p.opts}
    if not taken & {"-q", "--quiet"}:
        command.params.append(
            TyperOption(param_decls=["--quiet", "-q"], is_flag=True, default=False, hidden=True, expose_value=False,
                        callback=_late_quiet)
        )
    if not taken & {"-v", "--verbose"}:
        command.params.append(
            TyperOption(param_decls=["--verbose", "-v"], count=True, default=0, hidden=True, expose_value=False,
                        callback=_late_verbose)
        )


def _late_quiet(ctx: Any, param: Any, value: bool) -> None:
    cli = ctx.find_object(Cli) if value else None
    if cli is not None:
        cli.settings.quiet = cli.out.quiet = True
        configure_logging(quiet=True, verbose=cli.settings.verbose)


def _late_verbose(ctx: Any, param: Any, value: int) -> None:
    cli = ctx.find_object(Cli) if value else None
    if cli is not None:
        cli.settings.verbose = cli.out.verbose = cli.settings.verbose + value
        configure_logging(quiet=cli.settings.quiet, verbose=cli.settings.verbose)


def guard(ctx: typer.Context, call: Callable[[], Any]) -> Any:
    """The one place exceptions become messages and exit codes."""
    try:
        return _classified(call)
    except (typer.Exit, typer.Abort):
        raise
    except typer.TyperException as exc:  # usage errors: click prints them with the usage line
        printer = _printer(ctx)
        if printer.json_mode or ctx.meta.get("fcrctl.json"):
            message = _json_str(exc.format_message())
            printer.stderr.write(f'{{"error": "usage", "message": {message}, "exit_code": 2}}\n')
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        raise
    except FcrctlError as exc:
        if _traceback_wanted(ctx):  # the traceback, then the same message and exit code as without it
            import traceback

            traceback.print_exc(file=sys.stderr)
        _printer(ctx).error(exc)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        if _traceback_wanted(ctx):
            raise
        _printer(ctx).stderr.write("fcrctl: interrupted\n")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(BROKEN_PIPE) from None
    except Exception as exc:
        if _traceback_wanted(ctx):
            raise
        printer = _printer(ctx)
        message = f"unexpected {type(exc).__name__}: {exc}".rstrip(": ").splitlines()[0]
        if printer.json_mode:
            printer.stderr.write(f'{{"error": "unexpected", "message": {_json_str(message)}, "exit_code": 1}}\n')
        else:
            printer.stderr.write(f"fcrctl: error: {message} (run again with --traceback for details)\n")
        raise typer.Exit(ExitCode.UNEXPECTED) from None
    finally:
        cli = ctx.find_object(Cli)
        if cli is not None:
            cli.close()


def _classified(call: Callable[[], Any]) -> Any:
    """``call()``, with an OSError that means a full disk or a read-only file system turned into
    the fcrctl error that says so (any command can meet one, and "unexpected" would mislead)."""
    try:
        return call()
    except OSError as exc:
        known = None if isinstance(exc, BrokenPipeError) else from_os_error(exc, f"writing {exc.filename or 'a file'}")
        if known is None:
            raise
        raise known from exc


def _printer(ctx: typer.Context) -> Printer:
    cli = ctx.find_object(Cli)
    return cli.out if cli is not None else Printer()


def _traceback_wanted(ctx: typer.Context) -> bool:
    cli = ctx.find_object(Cli)
    return (cli is not None and cli.settings.traceback) or os.environ.get("FCRCTL_TRACEBACK", "") not in ("", "0")


def _json_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


app = typer.Typer(
    name="fcrctl",
    cls=_Guarded,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # rich tracebacks with locals would print secrets
    rich_markup_mode=None,  # plain click help: rich is not imported for --help (start-up time)
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Administer Fedora Commons / LDP repositories: a local OCFL repository or a remote Fedora over HTTP.",
    epilog="Exit codes and configuration: see `man fcrctl` or README.md.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fcrctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            "-r",
            envvar="FCRCTL_REPO",
            metavar="PATH|URL",
            help="Repository: a local path or an http(s):// Fedora REST URL "
            "[default: $XDG_DATA_HOME/fcrctl/repository, created on first use].",
            show_default=False,
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output; errors as JSON on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="Say more (repeatable).")] = 0,
    traceback: Annotated[
        bool, typer.Option("--traceback", envvar="FCRCTL_TRACEBACK", help="Show the full traceback of a failure.")
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", envvar="FCRCTL_PROFILE", metavar="NAME", help="Use [profiles.NAME] from the config file."
        ),
    ] = None,
    api: Annotated[
        str | None,
        typer.Option(
            "--api", metavar="DIALECT", help="HTTP API dialect: fedora4, fedora5 or fedora6 (default: detected).",
            autocompletion=complete.api_dialects,
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", "-u", envvar="FCRCTL_USER", metavar="NAME", help="HTTP user name.")
    ] = None,
    password_file: Annotated[
        str | None,
        typer.Option(
            "--password-file",
            help="Read the HTTP password from FILE (else FCRCTL_PASSWORD, ~/.netrc, or a prompt).",
            metavar="FILE",
        ),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option("--token-file", help="Read a bearer token from FILE (else FCRCTL_TOKEN).", metavar="FILE"),
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help="Also trust the CA certificates in FILE.", metavar="FILE")
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify TLS certificates (dangerous; warns).")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", metavar="SECONDS", min=0.1,
                     help="HTTP: wait at most SECONDS for each answer, retries included (bodies stream on).")
    ] = None,
    tx: Annotated[
        str | None,
        typer.Option("--tx", envvar="FCRCTL_TX", metavar="ID",
                     help="Run inside transaction ID (see `fcrctl tx begin`): changes apply at `tx commit`."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if api is not None and api not in ("fedora4", "fedora5", "fedora6"):
        raise typer.BadParameter("use fedora4, fedora5 or fedora6", param_hint="--api")
    settings = Settings(
        repo=repo,
        json=json,
        quiet=quiet,
        verbose=verbose,
        traceback=traceback,
        profile=profile,
        api=api,
        user=user,
        password_file=password_file,
        token_file=token_file,
        ca_bundle=ca_bundle,
        insecure=insecure,
        timeout=timeout,
        tx=tx,
    )
    ctx.obj = cli = Cli(settings)
    # Profile errors are reported like any other once the Cli (and so --json) is in place.
    settings.with_profile(load_profile(profile))
    cli.out.verbose = settings.verbose
    configure_logging(quiet=settings.quiet, verbose=settings.verbose)


def _terminated(signum: int, frame: object) -> None:
    # unwind the stack as an exit does, so that partial uploads in tmp/ are removed and locks
    # released (the default action kills the process where it stands)
    raise SystemExit(128 + signum)


def run() -> None:
    """Console-script entry point (``fcrctl`` and ``python -m fcrctl``)."""
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    try:
        app(prog_name="fcrctl")
    except KeyboardInterrupt:  # during argument parsing, before guard() runs
        sys.stderr.write("fcrctl: interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
