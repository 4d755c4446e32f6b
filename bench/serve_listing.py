"""GET of a big container from `fcrctl serve` (issue 14): first byte, total time and the server's
peak RSS, streamed (N-Triples, Turtle) beside the body built whole (Turtle inside a transaction,
which is how every Turtle listing was written before it streamed).

    .venv/bin/python bench/serve_listing.py                  # containers of 10,000 and 100,000 children
    .venv/bin/python bench/serve_listing.py --sizes 20000    # (with two sizes or more: the fitted 1M)
    .venv/bin/python bench/serve_listing.py --embed          # children's triples embedded, as `ls` asks
    .venv/bin/python bench/serve_listing.py --smoke          # 300 children, for CI
    .venv/bin/python bench/serve_listing.py --repo PATH      # a repository with /c built before (kept)

Each figure is one request to a fresh server process (so its peak RSS is that request's);
``idle`` is a server that answered only a GET of the root (as each measured one did first).
``grouped`` says whether the response carried ``Fcrctl-Listing: grouped`` (docs/listings.md).
The repository is built with bench/scale.py's writer (flat container /c, 1% binaries) in
BENCH_DIR or a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from scale import build, fit  # noqa: E402

from fcrctl.repository import open_repository  # noqa: E402
from tests.server_fixture import start_server  # noqa: E402

TARGET_FIRST_BYTE = 0.2  # seconds (issue 14)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


EMBED = ('return=representation; include="http://www.w3.org/ns/ldp#PreferContainment '
         'http://fedora.info/definitions/v4/repository#EmbedResources"')  # what `fcrctl ls` asks for


def one_get(repo: Path, accept: str, *, in_tx: bool, embed: bool) -> tuple[float, float, float, int, bool]:
    """(first byte s, total s, server peak RSS MB, body bytes, grouped) of one GET /c (``embed``:
    with its children's triples, as `fcrctl ls` asks) from a fresh server."""
    with start_server(repo, subprocess=True, dialect="fedora6") as server:
        assert server.pid is not None
        headers = {"Accept": accept, **({"Prefer": EMBED} if embed else {})}
        requests.get(server.url + "/", headers=headers, timeout=60)  # the server's first RDF loads rdflib
        if in_tx:
            begun = requests.post(server.url + "/fcr:tx", timeout=60)
            begun.raise_for_status()
            headers["Atomic-ID"] = begun.headers["Location"]
        started = time.perf_counter()
        with requests.get(server.url + "/c", headers=headers, stream=True, timeout=600) as response:
            response.raise_for_status()
            grouped = response.headers.get("Fcrctl-Listing") == "grouped"
            chunks = response.raw.stream(64 * 1024, decode_content=False)
            size = len(next(chunks, b""))
            first = time.perf_counter() - started
            size += sum(len(chunk) for chunk in chunks)
        total = time.perf_counter() - started
        return first, total, peak_rss_mb(server.pid), size, grouped


def idle_rss(repo: Path) -> float:
    with start_server(repo, subprocess=True, dialect="fedora6") as server:
        assert server.pid is not None
        requests.get(server.url + "/", headers={"Accept": "text/turtle"}, timeout=60)
        return peak_rss_mb(server.pid)


def measure(repo: Path, children: int, built: float, embed: bool) -> dict[str, tuple[float, float, float]]:
    print(f"serve GET of a container of {children} children{', embedded' if embed else ''} (built in {built:.1f} s), "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"  {'body':<34} {'first byte':>10} {'total':>8} {'server RSS':>11} {'bytes':>12} grouped")
    print(f"  {'idle server':<34} {'':>10} {'':>8} {idle_rss(repo):>8.0f} MB")
    rows = (
        ("Turtle built whole (baseline)", "text/turtle", True),
        ("Turtle streamed", "text/turtle", False),
        ("N-Triples streamed", "application/n-triples", False),
    )
    figures = {}
    for label, accept, in_tx in rows:
        first, total, rss, size, grouped = one_get(repo, accept, in_tx=in_tx, embed=embed)
        figures[label] = (first, total, rss)
        print(f"  {label:<34} {first:>9.3f}s {total:>7.2f}s {rss:>8.0f} MB {size:>12} {'yes' if grouped else 'no'}",
              flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--smoke", action="store_true", help="300 children, for CI")
    parser.add_argument("--embed", action="store_true", help="ask for the children's triples too, as `ls` does")
    parser.add_argument("--repo", type=Path, help="measure this repository's /c (built before; kept)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fcrctl-serve-listing-", dir=os.environ.get("BENCH_DIR")))
    try:
        if args.repo is not None:
            with open_repository(str(args.repo)) as opened:
                children = sum(1 for _ in opened.children("/c"))
            measure(args.repo, children, 0.0, args.embed)
            return
        sizes = [300] if args.smoke else sorted(args.sizes)
        runs = []
        for count in sizes:
            repo = work / f"repo-{count}"
            runs.append(measure(repo, count, build(repo, count, 2 if args.smoke else args.workers), args.embed))
            shutil.rmtree(repo, ignore_errors=True)
        if len(sizes) > 1:
            print(f"growth exponent and fitted value at 1M children (sizes {', '.join(map(str, sizes))}):")
            for label in runs[0]:
                cells = []
                for index, (name, unit) in enumerate((("first byte", "s"), ("total", "s"), ("server RSS", " MB"))):
                    exponent, at_1m = fit(sizes, [run[label][index] for run in runs])
                    cells.append(f"{name} {at_1m:.3g}{unit} (^{exponent:.2f})")
                print(f"  {label:<34} " + "  ".join(cells))
        print(f"  target: first byte < {TARGET_FIRST_BYTE} s, server memory flat (independent of the child count)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
