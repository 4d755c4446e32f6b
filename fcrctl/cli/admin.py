"""Repository administration: init, reindex."""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from fcrctl.cli.context import Cli, check_utf8_directory
from fcrctl.cli.options import JsonOpt
from fcrctl.errors import BadInput, Conflict


def init(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(help="Where to create it (default: --repo, or the default repository).", metavar="PATH"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an empty local repository."""
    from fcrctl.repository import open_repository, scheme_of

    cli = Cli.of(ctx, json=json_out)
    target = path or cli.target
    if scheme_of(target) != "file":
        raise BadInput(f"init creates local repositories; {target} is a URL (a remote Fedora exists already)")
    where = Path(target).expanduser()
    check_utf8_directory(str(where))
    if (where / "ocfl-root").is_dir() or (where / "0=ocfl_1.1").exists():
        raise Conflict(f"{where} is already a repository: use it with --repo {where} (nothing was changed)")
    if where.exists() and any(where.iterdir()):
        raise Conflict(f"{where} exists and is not empty: choose a new or empty directory")
    repo = open_repository(str(where), create=True)
    try:
        if cli.out.json_mode:
            cli.out.json({"initialized": repo.location})
        else:
            cli.out.line(f"created repository at {repo.location}")
    finally:
        repo.close()


def reindex(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Rebuild the repository's index from its source of truth (the OCFL root)."""
    cli = Cli.of(ctx, json=json_out)
    repo = cli.require("reindex", "reindex")
    expected = getattr(repo, "object_count", None)
    if callable(expected):  # a local repository: a bar with an ETA for people watching a terminal
        with objects_bar(cli, expected()) as advance:
            count = repo.reindex(progress=advance)  # type: ignore[call-arg]
    else:
        count = repo.reindex()
    # a read-only repository is read through an index cached elsewhere: that is what was rebuilt
    where = "" if repo.capabilities.writable else " into this user's cache (the repository is read-only)"
    if cli.out.json_mode:
        cli.out.json({"reindexed": count, "cache_only": not repo.capabilities.writable})
    else:
        cli.out.line(f"reindexed {count} resources{where}")


BAR_DELAY = 0.5  # seconds before a bar appears: a quick reindex or check shows none


@contextlib.contextmanager
def objects_bar(cli: Cli, total: int) -> Iterator[Callable[[int], object]]:
    """``advance(n)`` of a tqdm bar (count, rate, ETA) on stderr, only on a terminal."""
    from fcrctl.cli.output import _isatty

    if cli.out.json_mode or cli.out.quiet or not _isatty(cli.out.stderr):
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total or None, unit=" objects", file=cli.out.stderr, leave=False, delay=BAR_DELAY) as bar:
        yield bar.update
