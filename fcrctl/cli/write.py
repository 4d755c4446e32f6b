"""Writing commands: create, put, patch, delete, purge, move, copy."""

from typing import Annotated

import typer

from fcrctl import paths, rdf
from fcrctl.cli import acl as acl_cmd
from fcrctl.cli import complete, inputs
from fcrctl.cli.context import Cli
from fcrctl.cli.options import (
    BinaryOpt,
    ContentTypeOpt,
    DestArg,
    FileOpt,
    IfMatchOpt,
    IfUnmodifiedSinceOpt,
    JsonOpt,
    LenientOpt,
    MaxRdfBytesOpt,
    PathArg,
    SourceArg,
)
from fcrctl.errors import BadInput, Unsupported


def create(
    ctx: typer.Context,
    path: Annotated[
        str | None, typer.Argument(help="Exact path of the new resource.", metavar="PATH", show_default=False)
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--in", help="Create under PARENT; the repository picks the name.", metavar="PARENT")
    ] = None,
    slug: Annotated[str | None, typer.Option("--slug", help="Preferred name under --in.", metavar="NAME")] = None,
    file: FileOpt = None,
    content_type: ContentTypeOpt = None,
    binary: BinaryOpt = False,
    container_type: Annotated[
        str | None, typer.Option("--container-type", help="basic (default), direct or indirect.", metavar="TYPE",
                                  autocompletion=complete.container_types)
    ] = None,
    digest: Annotated[
        list[str] | None,
        typer.Option(
            "--digest", help="Expected digest ALG=HEX (sha512, sha256, sha1, md5; repeatable).", metavar="ALG=HEX"
        ),
    ] = None,
    filename: Annotated[
        str | None, typer.Option("--filename", help="Original file name of a binary.", metavar="NAME")
    ] = None,
    external: Annotated[
        str | None, typer.Option("--external", help="Binary content lives at URL.", metavar="URL")
    ] = None,
    handling: Annotated[
        str, typer.Option("--handling", help="External content: copy, redirect or proxy.", metavar="HOW",
                          autocompletion=complete.handlings)
    ] = "proxy",
    parents: Annotated[bool, typer.Option("--parents", help="Create missing ancestors as basic containers.")] = False,
    lenient: LenientOpt = False,
    json_out: JsonOpt = False,
    max_rdf_bytes: MaxRdfBytesOpt = rdf.MAX_RDF_BYTES,
    archival_group: Annotated[
        bool, typer.Option("--archival-group", help="Make the new container an archival group (Fedora 6): one OCFL "
                           "object holding all below it, versioned together.")
    ] = False,
) -> None:
    """Create a container, or a binary from --file/--external; prints the new path."""
    cli = Cli.of(ctx, json=json_out)
    if (path is None) == (parent is None):
        raise BadInput("give either PATH or --in PARENT (exactly one)")
    if slug is not None and parent is None:
        raise BadInput("--slug needs --in PARENT (with PATH the name is already chosen)")
    where = paths.normalize(parent or path or "")
    mime = inputs.content_type(content_type, file)
    if parent is not None and slug is None and file is not None and inputs.is_rdf(mime) and not binary:
        import uuid

        slug = uuid.uuid4().hex  # so that <> in the body can name the new resource before it exists
    target = paths.join(where, slug) if slug else where
    with inputs.resource_spec(
        target,
        file=file,
        mime=mime,
        binary=binary,
        container_type=container_type,
        digest=digest,
        filename=filename,
        external=external,
        handling=handling,
        lenient=lenient,
        max_rdf_bytes=max_rdf_bytes,
    ) as spec, cli.out.uploading(spec):
        if archival_group and spec.is_binary:
            raise BadInput("--archival-group applies to containers: a binary cannot be an archival group")
        spec.archival_group = archival_group
        repo = cli.writable()  # after the body is checked: bad input never creates the default repository
        if archival_group and not repo.capabilities.archival_groups:
            raise Unsupported(f"{repo.location} has no archival groups (Fedora 6 has): create it without "
                              "--archival-group")
        if parent is not None:
            info = repo.create_child(where, spec, slug=slug)
        else:
            info = repo.create(where, spec, parents=parents)
    cli.out.path(info)


def put(
    ctx: typer.Context,
    path: PathArg,
    file: Annotated[str, typer.Option("--file", "-f", help="Read the body from FILE ('-' for stdin).", metavar="FILE")],
    content_type: ContentTypeOpt = None,
    binary: BinaryOpt = False,
    lenient: LenientOpt = False,
    if_match: IfMatchOpt = None,
    if_unmodified_since: IfUnmodifiedSinceOpt = None,
    json_out: JsonOpt = False,
    max_rdf_bytes: MaxRdfBytesOpt = rdf.MAX_RDF_BYTES,
) -> None:
    """Replace a resource's content (PATH/fcr:metadata: a binary's description); creates it if absent."""
    cli = Cli.of(ctx, json=json_out)
    acl_of, is_acl = paths.split_acl(path)
    if is_acl:
        return acl_cmd.put_acl(cli, acl_of, file, content_type)
    target, metadata = paths.split_metadata(path)
    mime = inputs.content_type(content_type, file)
    conditions = inputs.conditions(if_match, if_unmodified_since)
    if metadata:
        if binary or not inputs.is_rdf(mime):
            raise BadInput(f"{path}: a description is RDF; give an RDF file or --content-type turtle", path=target)
        graph = inputs.read_rdf(file, mime or "", target, max_rdf_bytes)
        info = cli.writable().replace_description(target, graph, conditions=conditions, lenient=lenient)  # type: ignore[arg-type]
        cli.out.path(info)
        return
    with inputs.resource_spec(
        target, file=file, mime=mime, binary=binary, lenient=lenient, max_rdf_bytes=max_rdf_bytes
    ) as spec, cli.out.uploading(spec):
        info, created = cli.writable().replace(target, spec, conditions=conditions)
    cli.out.path(info, created=created)


def patch(
    ctx: typer.Context,
    path: PathArg,
    file: FileOpt = None,
    update: Annotated[
        str | None, typer.Option("--update", "-e", help="The SPARQL Update text.", metavar="TEXT")
    ] = None,
    lenient: LenientOpt = False,
    if_match: IfMatchOpt = None,
    if_unmodified_since: IfUnmodifiedSinceOpt = None,
    json_out: JsonOpt = False,
    max_rdf_bytes: MaxRdfBytesOpt = rdf.MAX_RDF_BYTES,
) -> None:
    """Apply a SPARQL Update (INSERT DATA, DELETE DATA, DELETE/INSERT ... WHERE)."""
    cli = Cli.of(ctx, json=json_out)
    if (file is None) == (update is None):
        raise BadInput("give exactly one of --file FILE or --update TEXT")
    conditions = inputs.conditions(if_match, if_unmodified_since)
    if file is not None:
        with inputs.open_input(file) as fh:
            raw = inputs.read_body(fh, file, max_rdf_bytes)
        try:
            update = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{file}: SPARQL Update is not UTF-8 (byte {exc.start}): save it as UTF-8") from None
    elif update is not None and len(update.encode("utf-8")) > max_rdf_bytes:
        raise BadInput(f"--update: SPARQL Update of {len(update.encode('utf-8'))} bytes is over the "
                       f"{max_rdf_bytes}-byte limit: raise it with --max-rdf-bytes")
    acl_of, is_acl = paths.split_acl(path)
    if is_acl:
        return acl_cmd.patch_acl(cli, acl_of, update or "")
    repo = cli.writable()
    target, _ = paths.split_metadata(path)
    cli.out.path(repo.patch(target, update or "", conditions=conditions, lenient=lenient))


def delete(
    ctx: typer.Context,
    path: PathArg,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove the tombstones.")] = False,
    if_match: IfMatchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete a resource and its subtree, leaving tombstones (see purge)."""
    cli = Cli.of(ctx, json=json_out)
    acl_of, is_acl = paths.split_acl(path)
    if is_acl:
        return acl_cmd.delete_acl(cli, acl_of)
    target = paths.normalize(path)
    repo = cli.writable()
    repo.delete(target, conditions=inputs.conditions(if_match))
    if purge:
        repo.purge(target)
    cli.out.done("purged" if purge else "deleted", target)


def purge(ctx: typer.Context, path: PathArg, json_out: JsonOpt = False) -> None:
    """Remove the tombstone of a deleted resource so its path can be reused."""
    cli = Cli.of(ctx, json=json_out)
    target = paths.normalize(path)
    cli.writable().purge(target)
    cli.out.done("purged", target)


def move(ctx: typer.Context, source: SourceArg, destination: DestArg, json_out: JsonOpt = False) -> None:
    """Move a subtree; the source becomes a tombstone."""
    cli = Cli.of(ctx, json=json_out)
    cli.out.path(cli.writable().move(paths.normalize(source), paths.normalize(destination)))


def copy(ctx: typer.Context, source: SourceArg, destination: DestArg, json_out: JsonOpt = False) -> None:
    """Copy a subtree to a new path."""
    cli = Cli.of(ctx, json=json_out)
    cli.out.path(cli.writable().copy(paths.normalize(source), paths.normalize(destination)))
