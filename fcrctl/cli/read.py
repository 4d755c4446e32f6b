"""Reading commands: get, info, ls."""

from pathlib import Path
from typing import Annotated

import typer

from fcrctl import paths
from fcrctl.cli import complete, inputs
from fcrctl.cli.context import Cli
from fcrctl.cli.options import AcceptOpt, JsonOpt, OptionalPathArg, OutputOpt, PathArg, VersionOpt
from fcrctl.errors import BadInput
from fcrctl.repository.base import RdfPrefs

RangeOpt = Annotated[
    str | None,
    typer.Option("--range", help="Only bytes START-END (inclusive) or START- of a binary.", metavar="START-END"),
]
OmitOpt = Annotated[
    list[str] | None,
    typer.Option("--omit", help="Leave out triples: containment, membership, server-managed (repeatable).",
                 autocompletion=complete.omit_values),
]
IncludeOpt = Annotated[
    list[str] | None,
    typer.Option("--include", help="Add triples: inbound (references to it), children (embedded) (repeatable).",
                 autocompletion=complete.include_values),
]


def get(
    ctx: typer.Context,
    path: PathArg,
    accept: AcceptOpt = None,
    output: OutputOpt = None,
    range_: RangeOpt = None,
    version: VersionOpt = None,
    omit: OmitOpt = None,
    include: IncludeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a binary's bytes, or the RDF of a container (or of PATH/fcr:metadata)."""
    cli = Cli.of(ctx, json=json_out)
    acl_of, is_acl = paths.split_acl(path)
    if is_acl:
        from fcrctl.cli import acl as acl_cmd

        return acl_cmd.show_acl(cli, acl_of, accept=accept, output=output)
    target, metadata = paths.split_metadata(path)
    show(
        cli,
        target,
        metadata=metadata,
        accept=accept,
        output=output,
        byte_range=inputs.byte_range(range_),
        version=version,
        prefs=inputs.prefs(omit, include),
    )


def show(
    cli: Cli,
    target: str,
    *,
    metadata: bool = False,
    accept: str | None = None,
    output: Path | None = None,
    byte_range: tuple[int, int | None] | None = None,
    version: str | None = None,
    prefs: RdfPrefs = RdfPrefs(),
) -> None:
    """Shared by ``get`` and ``versions get``: stream a binary, or serialise RDF."""
    from fcrctl import rdf

    mime = rdf.resolve_format(accept or ("jsonld" if cli.out.json_mode else "turtle"))
    repo = cli.repo
    if not metadata and repo.info(target, version=version).is_binary:
        with repo.open_binary(target, version=version, byte_range=byte_range) as content:
            written = cli.out.data(content.stream, output=output, total=content.length)
        if output is not None and cli.out.json_mode:
            cli.out.json({"path": target, "output": str(output), "bytes": written})
        return
    if byte_range is not None:
        raise BadInput(f"--range applies to binaries; {target} is RDF", path=target)
    graph = repo.get_rdf(target, prefs=prefs, version=version)
    text = rdf.serialize(rdf.to_external(graph, repo.base_uri), mime)
    cli.out.data([text if text.endswith(b"\n") or not text else text + b"\n"], output=output)


def info(ctx: typer.Context, path: PathArg, version: VersionOpt = None, json_out: JsonOpt = False) -> None:
    """Show a resource's headers: model, ETag, dates, size, MIME type, digests, links."""
    cli = Cli.of(ctx, json=json_out)
    target, _ = paths.split_metadata(path)
    cli.out.info(cli.repo.info(target, version=version))


def ls(
    ctx: typer.Context,
    path: OptionalPathArg = "/",
    recursive: Annotated[bool, typer.Option("--recursive", "-R", help="List all descendants.")] = False,
    long: Annotated[bool, typer.Option("--long", "-l", help="Show model, size and modification time.")] = False,
    json_out: JsonOpt = False,
    after: Annotated[str | None, typer.Option(
        "--after", metavar="NAME", help="Only the children whose names sort after NAME (the last name of the page "
        "before): the next page, sought in the index, not counted to.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="At most N children (a page).")
                     ] = None,
) -> None:
    """List a container's children (streams; --json gives JSON lines; --limit and --after page them)."""
    cli = Cli.of(ctx, json=json_out)
    target = paths.normalize(path)
    paths.after_bound(target, after, recursive=recursive)  # a bad NAME before any request
    repo = cli.repo
    # (after only when given: a Repository written before paging, such as a test's fake, lists as before)
    children = repo.children(target, recursive=recursive, **({"after": after} if after is not None else {}))
    if limit is not None:
        import itertools

        children = itertools.islice(children, limit)
    if cli.out.listing(children, long=long) == 0 and after is None:
        info = repo.info(target)
        if info.is_binary:  # as `ls FILE` lists the file itself
            cli.out.listing(iter([info]), long=long)
