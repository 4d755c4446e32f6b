"""fcrctl check: validate a local repository as a whole (OCFL structure, headers, containment, index)."""

from typing import Annotated

import typer

from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt
from fcrctl.errors import CorruptData


def check(
    ctx: typer.Context,
    read_data: Annotated[
        bool,
        typer.Option("--read-data", help="Also re-hash every content file against its sha512; parse every RDF file."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Validate every OCFL object, the headers, containment and the index; report every problem."""
    cli = Cli.of(ctx, json=json_out)
    repo = cli.require("check", "`fcrctl check`")
    expected = getattr(repo, "object_count", None)
    if callable(expected):  # a local repository: a bar with an ETA for people watching a terminal
        from fcrctl.cli.admin import objects_bar

        with objects_bar(cli, expected()) as advance:
            problems = list(repo.check(read_data=read_data, progress=advance))  # type: ignore[call-arg]
    else:
        problems = list(repo.check(read_data=read_data))
    if cli.out.json_mode:
        cli.out.json({"problems": [p.to_json() for p in problems], "read_data": read_data})
    elif problems:
        cli.out.table(((p.where, p.message) for p in problems), ("where", "problem"))
    else:
        cli.out.line("no problems found" + (" (content re-hashed)" if read_data else ""))
    if problems:
        hint = " (the index only: run `fcrctl reindex`)" if all(p.where == "index" for p in problems) else ""
        raise CorruptData(f"{len(problems)} problems found in {repo.location}{hint}")
