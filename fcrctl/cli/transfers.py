"""``fcrctl transfers``: the uploads and downloads of this repository's backup home, and abort."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt
from fcrctl.cli.output import human_size

app = typer.Typer(invoke_without_command=True, rich_markup_mode=None,
                  help="Backup uploads and downloads: running, finished, failed, aborted.")


def _home_root(cli: Cli):  # type: ignore[no-untyped-def]
    from fcrctl.cli.backup import _home

    return _home(cli).root


@app.callback()
def transfers(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List transfers with their state and bytes done (`transfers abort ID` stops one)."""
    if ctx.invoked_subcommand is not None:
        return
    from fcrctl.services.backup import transfers as service

    cli = Cli.of(ctx, json=json_out)
    found = service.list_transfers(_home_root(cli))
    if cli.out.json_mode:
        cli.out.json([t.to_json() for t in found])
        return
    rows = []
    for t in found:
        done = human_size(t.bytes_done) + (f" of {human_size(t.bytes_total)}" if t.bytes_total else "")
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t.started))
        rows.append((t.id, t.kind, t.state, t.backup, t.store, done, started, t.error or ""))
    cli.out.table(rows, ("id", "kind", "state", "backup", "store", "done", "started", "note"))


@app.command("abort")
def abort(
    ctx: typer.Context,
    transfer_id: Annotated[str, typer.Argument(help="Transfer id (see `fcrctl transfers`).", metavar="ID",
                                               show_default=False)],
    json_out: JsonOpt = False,
) -> None:
    """Stop a running transfer cleanly; running the same command again resumes it."""
    from fcrctl.services.backup import transfers as service

    cli = Cli.of(ctx, json=json_out)
    t = service.abort(_home_root(cli), transfer_id)
    if cli.out.json_mode:
        cli.out.json(t.to_json())
    else:
        cli.out.line(f"transfer {t.id}: {'abort requested' if t.state == 'running' else t.state}")
