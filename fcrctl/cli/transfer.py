"""fcrctl export / fcrctl import: fcrepo-import-export's format, optionally as a BagIt bag."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt, PathArg
from fcrctl.errors import PartialFailure

JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Resources handled in parallel.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Finish an interrupted run: skip what is already done.")]


def export(
    ctx: typer.Context,
    path: PathArg,
    dest: Annotated[Path, typer.Argument(help="Directory to write the export into.", metavar="DEST")],
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Export everything below PATH.")] = True,
    binaries: Annotated[bool, typer.Option("--binaries/--no-binaries", help="Export binaries' bytes.")] = True,
    versions: Annotated[bool, typer.Option("--versions/--no-versions", help="Export versions (fcr:versions).")] = True,
    acls: Annotated[bool, typer.Option("--acls/--no-acls", help="Export ACLs (fcr:acl).")] = True,
    rdf_format: Annotated[
        str, typer.Option("--format", help="RDF serialisation: turtle, ntriples, jsonld or rdfxml.")
    ] = "turtle",
    predicates: Annotated[
        str | None,
        typer.Option("--predicates", metavar="URI,...",
                     help="Containment predicates to follow (default ldp:contains)."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", metavar="URL",
                     help="URL the resources are written under (default: the server's; locally "
                          "http://localhost:8080/rest)."),
    ] = None,
    bag: Annotated[bool, typer.Option("--bag", help="Write a BagIt bag (the export under data/).")] = False,
    bag_algorithm: Annotated[
        list[str] | None,
        typer.Option("--bag-algorithm", metavar="ALG", help="Bag manifest algorithm: sha1, sha256, sha512, md5 "
                                                            "(repeatable; default sha512)."),
    ] = None,
    bag_info: Annotated[
        Path | None, typer.Option("--bag-info", metavar="FILE", help="bag-info.txt fields ('Name: value' lines).")
    ] = None,
    archive: Annotated[
        str | None, typer.Option("--archive", metavar="FORMAT", help="Also write the bag as DEST.tar, .zip or .tar.gz "
                                                                     "(tar, zip, tar.gz).")
    ] = None,
    jobs: JobsOpt = 1,
    resume: ResumeOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Export PATH (and everything below it) as fcrepo-import-export writes it."""
    from fcrctl import paths
    from fcrctl.services.transfer import bag as bags
    from fcrctl.services.transfer import export as service
    from fcrctl.services.transfer import layout

    cli = Cli.of(ctx, json=json_out)
    layout.format_of(rdf_format)
    plan = bags.plan(bag, bag_algorithm, bag_info, archive, dest, resume=resume)
    options = service.ExportOptions(
        recursive=recursive, binaries=binaries, versions=versions, acls=acls, format=rdf_format,
        base_url=base_url, resume=resume, jobs=jobs,
        predicates=[p.strip() for p in predicates.split(",") if p.strip()] if predicates else [service.CONTAINS],
    )
    with _progress(cli) as tick:
        report = service.export(cli.repo, paths.normalize(path), plan.payload, options, on_item=tick)
    bags.finish(plan, report)
    _render(cli, report)


def _progress(cli: Cli):  # type: ignore[no-untyped-def]
    """A resource counter on stderr for people watching a terminal (tqdm; nothing otherwise)."""
    from contextlib import contextmanager

    from fcrctl.cli.output import _isatty

    @contextmanager
    def bar():  # type: ignore[no-untyped-def]
        if cli.out.json_mode or cli.out.quiet or not _isatty(cli.out.stderr):
            yield lambda path: None
            return
        from tqdm import tqdm

        with tqdm(unit=" resources", file=cli.out.stderr, leave=False) as counter:
            yield lambda path: counter.update(1)

    return bar()


def _render(cli: Cli, report) -> None:  # type: ignore[no-untyped-def]
    if cli.out.json_mode:
        cli.out.json(report.to_json())
    else:
        for note in report.notes:
            cli.out.note(note)
        if report.failed:
            cli.out.table([(f["path"], f["reason"]) for f in report.failed], ("failed", "reason"))
        if report.skipped and cli.out.verbose:
            cli.out.table([(s["path"], s["reason"]) for s in report.skipped], ("skipped", "reason"))
        cli.out.line(report.summary())
    if report.failed_count:
        first = report.failed[0]
        raise PartialFailure(f"{report.failed_count} resources failed (first: {first['path']}: {first['reason']})")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
