"""The ``tx`` commands: begin, status, keepalive, commit, rollback, list, run."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer

from fcrctl.cli import complete
from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt
from fcrctl.repository.base import TransactionInfo

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Group changes across commands into one all-or-nothing transaction.")

TxArg = Annotated[str, typer.Argument(help="Transaction id (printed by `fcrctl tx begin`).", metavar="ID",
                                      show_default=False, autocompletion=complete.transaction_ids)]
TimeoutOpt = Annotated[float | None, typer.Option(
    "--timeout", help="Seconds without activity before it expires [default: 180].", metavar="SECONDS", min=0.1)]


def _show(cli: Cli, info: TransactionInfo) -> None:
    if cli.out.json_mode:
        cli.out.json(info.to_json())
        return
    rows = [("id", info.id), ("status", info.status.replace("_", " "))]
    if info.expires is not None:
        rows.append(("expires", info.expires.isoformat(timespec="seconds")))
    if info.changed is not None:
        rows.append(("changed", " ".join(info.changed) or "(nothing yet)"))
    cli.out.fields(rows)


@app.command("begin")
def begin(ctx: typer.Context, timeout: TimeoutOpt = None, json_out: JsonOpt = False) -> None:
    """Open a transaction and print its id (use it with --tx ID or FCRCTL_TX)."""
    cli = Cli.of(ctx, json=json_out)
    info = cli.transactional().begin_transaction(timeout=timeout)
    if cli.out.json_mode:
        cli.out.json(info.to_json())
    else:
        cli.out.line(info.id)


@app.command("status")
def status(ctx: typer.Context, tx_id: TxArg, json_out: JsonOpt = False) -> None:
    """Show a transaction: open, expired, committed or rolled back; expiry; changed paths."""
    cli = Cli.of(ctx, json=json_out)
    _show(cli, cli.transactional().transaction_status(tx_id))


@app.command("keepalive")
def keepalive(ctx: typer.Context, tx_id: TxArg, json_out: JsonOpt = False) -> None:
    """Push a transaction's expiry back by its timeout."""
    cli = Cli.of(ctx, json=json_out)
    _show(cli, cli.transactional().keepalive_transaction(tx_id))


@app.command("commit")
def commit(ctx: typer.Context, tx_id: TxArg, json_out: JsonOpt = False) -> None:
    """Apply every change of the transaction at once (exit 6 on conflict: nothing applied)."""
    cli = Cli.of(ctx, json=json_out)
    info = cli.transactional().commit_transaction(tx_id)
    cli.out.json(info.to_json()) if cli.out.json_mode else cli.out.done("committed", info.id)


@app.command("rollback")
def rollback(ctx: typer.Context, tx_id: TxArg, json_out: JsonOpt = False) -> None:
    """Discard every change of the transaction and close it."""
    cli = Cli.of(ctx, json=json_out)
    info = cli.transactional().rollback_transaction(tx_id)
    cli.out.json(info.to_json()) if cli.out.json_mode else cli.out.done("rolled back", info.id)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the open transactions."""
    cli = Cli.of(ctx, json=json_out)
    infos = cli.transactional().transactions()
    if cli.out.json_mode:
        cli.out.json([i.to_json() for i in infos])
    else:
        cli.out.table(((i.id, i.expires.isoformat(timespec="seconds") if i.expires else "") for i in infos),
                      ("id", "expires"), empty="no open transactions")


@app.command("run", context_settings={"allow_interspersed_args": False})
def run(
    ctx: typer.Context,
    command: Annotated[list[str] | None, typer.Argument(help="The command (after --).", metavar="-- COMMAND...",
                                                        show_default=False)] = None,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run COMMAND inside a new transaction (FCRCTL_TX set, kept alive); commit if it exits 0,
    else roll back; exit with its status."""
    from fcrctl.services.transactions import run_in_transaction

    cli = Cli.of(ctx, json=json_out)
    repo = cli.transactional()
    code, info = run_in_transaction(repo, cli.open_plain, command or [], timeout=timeout, env=cli.child_env())
    if code in (126, 127) and command and shutil.which(command[0]) is None:
        cli.out.warn(f"could not run {command[0]!r}: not found or not executable (exit {code})")
    if cli.out.json_mode:
        cli.out.json({**info.to_json(), "exit_status": code})
    else:
        cli.out.note(f"{'committed' if info.status == 'committed' else 'rolled back'} transaction {info.id} "
                     f"(command exited {code})")
    if code:
        raise typer.Exit(code)
