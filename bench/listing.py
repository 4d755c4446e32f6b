"""`fcrctl ls` of a container of N children, locally and over `fcrctl serve`: first line, total, peak RSS.

The HTTP client keeps a listing's triples in memory only up to a size, then spills them to a
temporary SQLite file (issue 14). Beside it, in the same run: the local `ls` (the index) and the
HTTP `ls` with spilling turned off, i.e. every triple of the listing held in memory as before.

    .venv/bin/python bench/listing.py                 # 100,000 children (BENCH_DIR or a temp dir)
    .venv/bin/python bench/listing.py --children 10000
    .venv/bin/python bench/listing.py --smoke         # a few hundred, for CI

The repository is built as bench/scale.py builds it (1% binaries), and kept in BENCH_DIR for the
next run with the same N (--rebuild builds it again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scale  # noqa: E402

from tests.server_fixture import start_server  # noqa: E402

# The CLI with the listing's spill threshold out of reach: every triple stays in memory.
IN_MEMORY = [sys.executable, "-c",
             "import sys; from fcrctl.repository.http import listing_triples as t; t.SPILL_AT = 1 << 62; "
             "from fcrctl.cli.main import run; sys.argv[0] = 'fcrctl'; run()"]


def built(work: Path, count: int, rebuild: bool) -> Path:
    where = work / f"listing-{count}"
    marker = where / ".bench-built"
    if rebuild or not marker.exists():
        shutil.rmtree(where, ignore_errors=True)
        seconds = scale.build(where, count, workers=max(1, min(4, os.cpu_count() or 1)))
        marker.write_text(str(count))
        print(f"built /c with {count} children in {seconds:.1f} s ({where})", flush=True)
    return where


def row(name: str, figures: tuple[float, float, int, str], count: int) -> None:
    total, first, rss, lines = figures
    if int(lines) < 1:
        raise SystemExit(f"{name}: no output")
    print(f"  {name:<34} first line {first:7.2f} s   total {total:7.2f} s   peak RSS {rss:6d} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true", help="build the repository again even if kept")
    parser.add_argument("--smoke", action="store_true", help="a few hundred children: checks the benchmark works")
    args = parser.parse_args()
    count = 300 if args.smoke else args.children
    scratch = None
    if args.smoke or not os.environ.get("BENCH_DIR"):
        scratch = tempfile.mkdtemp(prefix="fcrctl-listing-")
    work = Path(scratch or os.environ["BENCH_DIR"])
    try:
        where = built(work, count, args.rebuild or args.smoke)
        print(f"fcrctl ls /c, {count} children (1% binaries), {os.cpu_count()} cores:")
        row("local (index)", scale.fcrctl(where, "ls", "/c", first_line=True), count)
        with start_server(where, subprocess=True) as server:
            url: Path = server.url  # type: ignore[assignment]  # scale.fcrctl passes --repo through str()
            row("HTTP, spilling to SQLite (ours)", scale.fcrctl(url, "ls", "/c", first_line=True), count)
            scale.FCRCTL, saved = IN_MEMORY, scale.FCRCTL
            try:
                row("HTTP, all in memory (baseline)", scale.fcrctl(url, "ls", "/c", first_line=True), count)
            finally:
                scale.FCRCTL = saved
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
