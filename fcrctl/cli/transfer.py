"""fcrctl export / fcrctl import: fcrepo-import-export's format, optionally as a BagIt bag."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcrctl.cli import complete
from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt, PathArg
from fcrctl.errors import PartialFailure

JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Resources handled in parallel.")]
ImportJobsOpt = Annotated[int, typer.Option(
    "--jobs", "-j", min=1, help="Resources read (on up to one process per core) and, over HTTP, written in parallel.")]
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
        str, typer.Option("--format", help="RDF serialisation: turtle, ntriples, jsonld or rdfxml.",
                          autocompletion=complete.export_formats)
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


def import_(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="Export directory, bag directory, or tar/zip/tar.gz bag.",
                                           metavar="SOURCE")],
    dest_path: Annotated[str, typer.Argument(help="Where the export's root lands (default: the root /).",
                                             metavar="DEST_PATH")] = "/",
    mapping: Annotated[
        str | None,
        typer.Option("--map", metavar="OLD_BASE,NEW_BASE",
                     help="The export's base URL, and where it lands: a repository path or a URL under this "
                          "repository's (default: detected from the export; NEW_BASE DEST_PATH)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; change nothing.")] = False,
    transaction: Annotated[bool, typer.Option("--tx", help="All or nothing, in one transaction.")] = False,
    skip_tombstones: Annotated[bool, typer.Option("--skip-tombstones", help="Leave deleted paths alone.")] = False,
    overwrite_tombstones: Annotated[
        bool, typer.Option("--overwrite-tombstones", help="Import over tombstones in the way: after their versions "
                           "where the repository can (local, Fedora 6.5), else purged first.")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Afterwards compare the repository with the source.")
    ] = False,
    binaries: Annotated[bool, typer.Option("--binaries/--no-binaries", help="Import binaries.")] = True,
    versions: Annotated[bool, typer.Option("--versions/--no-versions", help="Import versions.")] = True,
    acls: Annotated[bool, typer.Option("--acls/--no-acls", help="Import ACLs.")] = True,
    jobs: ImportJobsOpt = 2,
    resume: ResumeOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Import an export (fcrepo-import-export's format, or a BagIt bag of one) into the repository."""
    from fcrctl import paths
    from fcrctl.errors import BadInput
    from fcrctl.services.transfer import importer as service
    from fcrctl.services.transfer.source import open_source

    cli = Cli.of(ctx, json=json_out)
    if skip_tombstones and overwrite_tombstones:
        raise BadInput("--skip-tombstones and --overwrite-tombstones exclude each other: choose one")
    old_base, dest = None, paths.normalize(dest_path)
    repo = cli.repo if dry_run else cli.writable()
    if mapping is not None:
        old_base, dest = _mapping(mapping, dest_path, repo.base_uri)
    options = service.ImportOptions(
        dest=dest, old_base=old_base, dry_run=dry_run, jobs=jobs, resume=resume, skip_tombstones=skip_tombstones,
        overwrite_tombstones=overwrite_tombstones, versions=versions, acls=acls, binaries=binaries, verify=verify,
    )
    opened = open_source(source, jobs=jobs)
    try:
        with _progress(cli) as tick:
            report = service.run(repo, opened, options, transaction=transaction, on_item=tick)
    finally:
        opened.close()
    _render(cli, report)


def _mapping(mapping: str, dest_path: str, repo_base: str) -> tuple[str, str]:
    """``--map OLD_BASE,NEW_BASE`` -> (the export's base URL, the repository path it lands on)."""
    from fcrctl import paths
    from fcrctl.errors import BadInput

    old, sep, new = mapping.partition(",")
    old, new = old.strip(), new.strip()
    if not sep or not old.startswith(("http://", "https://")) or not new:
        raise BadInput(f"--map {mapping!r}: give OLD_BASE,NEW_BASE, e.g. http://old:8080/rest,/imported")
    if new.startswith(("http://", "https://")):
        base = repo_base.rstrip("/")
        if not base.startswith(("http://", "https://")):
            from urllib.parse import urlsplit

            target = urlsplit(new).path or "/"  # a local repository: only the path matters
            target = "/" + target.strip("/").split("/", 1)[1] if target.strip("/").count("/") else "/"
        elif new.rstrip("/") == base or new.startswith(base + "/"):
            target = new.rstrip("/")[len(base):] or "/"
        else:
            raise BadInput(f"--map: {new} is not under this repository ({base})")
    else:
        target = new
    target = paths.normalize(target)
    if dest_path != "/" and paths.normalize(dest_path) != target:
        raise BadInput(f"--map says {target} but DEST_PATH says {dest_path}: give one")
    return old.rstrip("/"), target


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
    app.command("import")(import_)
