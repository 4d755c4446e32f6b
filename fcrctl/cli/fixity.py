"""fcrctl fixity: re-verify stored binaries (one, or every one under a path with -R)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fcrctl import paths
from fcrctl.cli.context import Cli
from fcrctl.cli.options import JsonOpt, OptionalPathArg
from fcrctl.errors import BadInput, CorruptData
from fcrctl.repository.base import FixityResult


def fixity(
    ctx: typer.Context,
    path: OptionalPathArg = "/",
    recursive: Annotated[bool, typer.Option("--recursive", "-R", help="Check every binary below PATH.")] = False,
    algorithm: Annotated[
        str | None,
        typer.Option("--algorithm", help="sha512, sha256, sha1 or md5 (default: the binary's strongest digest)."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Parallel checks (default: cores; 4 per core over HTTP).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only binaries modified since DATE (ISO 8601).", metavar="DATE")
    ] = None,
    sample: Annotated[
        float | None, typer.Option("--sample", help="Check a random PERCENT of the binaries.", metavar="PERCENT")
    ] = None,
    client_side: Annotated[
        bool, typer.Option("--client-side", help="Download and hash here instead of asking the server.")
    ] = False,
    fetch_external: Annotated[
        bool, typer.Option("--fetch-external", help="Also verify external redirect/proxy content.")
    ] = False,
    premis: Annotated[
        Path | None, typer.Option("--premis", help="Write PREMIS fixity events (Turtle) to FILE.", metavar="FILE")
    ] = None,
    all_results: Annotated[bool, typer.Option("--all", help="With --json: one record per binary.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recompute binaries' digests and compare them with the stored digests and sizes."""
    from fcrctl.services import fixity as service

    cli = Cli.of(ctx, json=json_out)
    target = paths.normalize(path)
    results: list[FixityResult] = []
    stream_json = cli.out.json_mode and all_results

    def on_result(result: FixityResult) -> None:
        if premis is not None:
            results.append(result)
        if stream_json:
            cli.out.json(result.to_json())

    report = service.run(
        cli.repo,
        target,
        recursive=recursive,
        algorithm=algorithm,
        jobs=jobs,
        since=_date(since),
        sample=sample,
        client_side=client_side,
        fetch_external=fetch_external,
        on_result=on_result,
    )
    if premis is not None:
        premis.write_bytes(service.premis_turtle(results, cli.repo.base_uri, datetime.now(UTC)))
    if cli.out.json_mode:
        cli.out.json({"summary": report.to_json()} if stream_json else report.to_json())
    else:
        if report.failures:
            rows = [(f.path, f.outcome, f.algorithm, f.expected or "", f.actual or "") for f in report.failures]
            cli.out.table(rows, ("path", "outcome", "algorithm", "expected", "actual"))
        cli.out.line(
            f"checked {report.checked} binaries, {report.bytes / 1e6:.1f} MB, {len(report.failures)} failures, "
            f"{report.mb_per_s:.1f} MB/s"
        )
    if report.failures:
        raise CorruptData(
            f"{len(report.failures)} of {report.checked} binaries failed fixity (first: "
            f"{report.failures[0].path} {report.failures[0].outcome})"
        )


def _date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"--since {text!r} is not a date: use ISO 8601, e.g. 2026-11-01 or 2026-11-01T12:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
