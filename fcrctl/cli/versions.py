"""The ``versions`` commands: list, create, get, revert, delete."""

from typing import Annotated

import typer

from fcrctl import paths
from fcrctl.cli.context import Cli
from fcrctl.cli.options import AcceptOpt, JsonOpt, OutputOpt, PathArg, VersionArg
from fcrctl.cli.read import show

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="List, create, read, revert and delete versions.")


@app.command("list")
def list_(ctx: typer.Context, path: PathArg, json_out: JsonOpt = False) -> None:
    """List a resource's versions (memento, date, label; --json adds the backend's id)."""
    cli = Cli.of(ctx, json=json_out)
    cli.out.versions(cli.repo.versions(paths.split_metadata(path)[0]))


@app.command("create")
def create(
    ctx: typer.Context,
    path: PathArg,
    label: Annotated[
        str | None, typer.Option("--label", "-l", help="A label for the new version.", metavar="LABEL")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the current state as a new version; prints its memento (YYYYMMDDHHMMSS), which names it on any backend."""
    cli = Cli.of(ctx, json=json_out)
    if label is not None:
        cli.require("label_versions", "labelling versions")
    cli.out.version(cli.writable().create_version(paths.split_metadata(path)[0], label=label))


@app.command("get")
def get(
    ctx: typer.Context,
    path: PathArg,
    version: VersionArg,
    output: OutputOpt = None,
    accept: AcceptOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a resource as it was in VERSION (bytes of a binary, RDF of a container)."""
    cli = Cli.of(ctx, json=json_out)
    target, metadata = paths.split_metadata(path)
    show(cli, target, metadata=metadata, accept=accept, output=output, version=version)


@app.command("revert")
def revert(ctx: typer.Context, path: PathArg, version: VersionArg, json_out: JsonOpt = False) -> None:
    """Make a new version whose state is that of VERSION."""
    cli = Cli.of(ctx, json=json_out)
    cli.out.path(cli.writable().revert(paths.split_metadata(path)[0], version))


@app.command("delete")
def delete(ctx: typer.Context, path: PathArg, version: VersionArg, json_out: JsonOpt = False) -> None:
    """Delete one version (only where the repository allows it)."""
    cli = Cli.of(ctx, json=json_out)
    target = paths.split_metadata(path)[0]
    cli.require("delete_versions", "deleting versions (this backend keeps versions immutable)")
    cli.writable().delete_version(target, version)
    cli.out.done("deleted", f"{target} version {version}")
