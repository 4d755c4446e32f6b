"""Benchmark `fcrctl export` and `fcrctl import`, locally and through `fcrctl serve`.

    .venv/bin/python bench/transfer.py                      # 100,000 resources + 500 MB, beside 10,000
    .venv/bin/python bench/transfer.py --resources 20000 --mb 100
    .venv/bin/python bench/transfer.py --smoke              # a tiny run for CI

The source repository holds N small containers (one triple each, 100 per parent container)
plus binaries totalling MB megabytes. Each run is its own `fcrctl` process, so its peak RSS is
its own: printed are resources/s, MB/s and peak RSS for export and import, local to local and
to/from a served repository, at N and at N/10 (the baseline the issue's targets compare with:
import >= 1,000 resources/s and export >= 2,000 resources/s locally; peak RSS at N within 10%
of N/10 and under 150 MB). Versions are left out (--no-versions): a freshly built repository has
one per resource, and they would double what is measured.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcrctl.repository import open_repository  # noqa: E402
from fcrctl.repository.base import ResourceSpec  # noqa: E402

RUN = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr[-2000:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(done.returncode)
"""


def build(where: Path, count: int, megabytes: int) -> None:
    """``count`` resources in one transaction (staged, then applied at once: the fast path)."""
    from rdflib import Graph, Literal, URIRef

    repo = open_repository(str(where), create=True)
    tx = repo.begin_transaction()  # type: ignore[attr-defined]
    view = repo.in_transaction(tx.id)  # type: ignore[attr-defined]
    binaries = max(1, megabytes)  # 1 MB each
    block = os.urandom(1 << 20)
    view.create("/data", ResourceSpec())
    for i in range(count - binaries):
        parent = f"/data/p{i // 100}"
        if i % 100 == 0:
            view.create(parent, ResourceSpec())
        graph = Graph()
        graph.add((URIRef(f"info:fedora{parent}/r{i}"), URIRef("http://purl.org/dc/elements/1.1/title"),
                   Literal(f"resource {i}")))
        view.create(f"{parent}/r{i}", ResourceSpec(graph=graph))
    for i in range(binaries if megabytes else 0):
        data = i.to_bytes(8, "big") + block[8:]
        view.create(f"/data/b{i}", ResourceSpec(content=io.BytesIO(data), binary=True, mime_type="image/tiff"))
    repo.commit_transaction(tx.id)  # type: ignore[attr-defined]
    repo.close()


def fcrctl(repo: str, *args: str) -> tuple[float, int, dict]:
    """(seconds, peak RSS in MB, the --json report) of one fcrctl run in its own process."""
    cmd = [sys.executable, "-c", RUN, sys.executable, "-m", "fcrctl", "--repo", repo, "--json", *args]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"fcrctl {' '.join(args)} failed: {done.stderr[-1500:]}")
    rss_kb = int(done.stderr.strip().splitlines()[-1])
    return seconds, rss_kb // 1024, json.loads(done.stdout)


def measure(count: int, megabytes: int, work: Path, serve: bool) -> list[tuple[str, float, float, int]]:
    from tests.server_fixture import start_server

    source, rows = work / f"source-{count}", []
    build(source, count, megabytes)
    out = work / f"export-{count}"
    seconds, rss, report = fcrctl(str(source), "export", "/", str(out), "--no-versions")
    rows.append(("export local", report["resources"] / seconds, report["bytes"] / 1e6 / seconds, rss))
    open_repository(str(work / f"target-{count}"), create=True).close()
    seconds, rss, report = fcrctl(str(work / f"target-{count}"), "import", str(out))
    rows.append(("import local", report["resources"] / seconds, report["bytes"] / 1e6 / seconds, rss))
    if serve:
        with start_server(source, subprocess=True) as served:
            out2 = work / f"export-serve-{count}"
            seconds, rss, report = fcrctl(served.url, "export", "/", str(out2), "--no-versions", "--jobs", "4")
            rows.append(("export over serve", report["resources"] / seconds, report["bytes"] / 1e6 / seconds, rss))
        with start_server(work / f"served-{count}", subprocess=True) as served:
            seconds, rss, report = fcrctl(served.url, "import", str(out), "--jobs", "4")
            rows.append(("import over serve", report["resources"] / seconds, report["bytes"] / 1e6 / seconds, rss))
    shutil.rmtree(source, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--mb", type=int, default=500, help="megabytes of binaries (1 MB each)")
    parser.add_argument("--no-serve", action="store_true", help="local runs only")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI)")
    args = parser.parse_args()
    count, megabytes = (100, 1) if args.smoke else (args.resources, args.mb)
    with tempfile.TemporaryDirectory(prefix="fcrctl-bench-transfer-") as tmp:
        work = Path(tmp)
        big = measure(count, megabytes, work, not args.no_serve)
        # the smoke run spares the baseline's server runs (each starts a server process)
        small = {row[0]: row for row in measure(max(10, count // 10), max(1, megabytes // 10), work,
                                                not args.no_serve and not args.smoke)}
    print(f"{'run':<20} {'N res/s':>10} {'N MB/s':>8} {'N RSS MB':>9} {'N/10 res/s':>11} {'N/10 RSS MB':>12}"
          f"  (N = {count:,} resources, {megabytes} MB)")
    for name, rate, mbs, rss in big:
        base = small.get(name)
        rate10, rss10 = (f"{base[1]:.0f}", str(base[3])) if base else ("-", "-")
        print(f"{name:<20} {rate:>10.0f} {mbs:>8.1f} {rss:>9} {rate10:>11} {rss10:>12}")


if __name__ == "__main__":
    main()
