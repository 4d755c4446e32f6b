"""`fcrctl ls /c` of a container of N children, locally and over `fcrctl serve` (issue 14): first line,
total, CPU and peak RSS of the client and of the server, at each size, with the growth exponent and
the value fitted at 1M children.

Rows, each a fresh process (and, over HTTP, a fresh server), measured in the same run:
- local: the index;
- HTTP grouped: serve says its N-Triples listing is grouped, the client lists each child as it arrives;
- HTTP like Fedora: the client ignores that (as against a Fedora server): reads the listing whole,
  spilling its triples to SQLite past SPILL_AT; and the same holding them all in memory (no spill);
- with --baseline TREE (e.g. /work/main): the same local and HTTP rows run from that tree's code
  (PYTHONPATH), client and server, side by side with ours.

    .venv/bin/python bench/listing.py                          # 10,000 and 100,000 children
    .venv/bin/python bench/listing.py --sizes 20000 --baseline /work/main
    .venv/bin/python bench/listing.py --smoke                  # 300 children, for CI

CPU seconds are the figure a loaded machine disturbs least. "first line CPU" is the client's CPU
when its first line arrives (interpreter start-up included). Repositories are built as bench/scale.py
builds them (1% binaries) in BENCH_DIR, kept for the next run with the same N (--rebuild: again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
import scale  # noqa: E402

from tests.server_fixture import start_server  # noqa: E402

TARGET_FIRST_LINE = 0.2  # seconds, at 1M children (issue 14)
CLI = "import sys; from fcrctl.cli.main import run; sys.argv[0] = 'fcrctl'; run()"
# The client as against a Fedora server: it never hears that a listing is grouped.
FEDORA_LIKE = "from fcrctl.repository.http import listings; listings.GROUPED_HEADER = 'X-Not-Sent'; " + CLI
# ...and keeps every triple of it in memory (no spill): what the spill costs
IN_MEMORY = "from fcrctl.repository.http import listing_triples; listing_triples.SPILL_AT = 1 << 62; " + FEDORA_LIKE


# Imported once untimed: with PYTHONPYCACHEPREFIX the libraries' bytecode is compiled there on first use
WARM = ("import fcrctl.cli.main, fcrctl.cli.read, fcrctl.repository.local.repository, fcrctl.repository.http, "
        "fcrctl.server.app, fcrctl.server.run, rdflib, rdflib.plugins.parsers.ntriples, "
        "rdflib.plugins.parsers.notation3, rdflib.plugins.serializers.nt, rdflib.plugins.serializers.turtle, "
        "requests, waitress")


@dataclass
class Figures:
    first: float  # s to the first line
    first_cpu: float  # client CPU s at the first line
    total: float
    cpu: float  # client CPU s
    rss: float  # client peak MB
    server_cpu: float = 0.0
    server_rss: float = 0.0


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ls(repo: str, code: str, env: dict[str, str]) -> tuple[Figures, int]:
    """One `fcrctl --repo REPO ls /c` process: its figures and the lines it printed."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, "--repo", repo, "ls", "/c"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    peak = scale.PeakRss(proc.pid)  # (not ru_maxrss: it starts at this process's peak, scale.PeakRss)
    line = proc.stdout.readline()
    first, first_cpu = time.perf_counter() - started, proc_cpu(proc.pid)
    lines = (1 if line else 0) + sum(chunk.count(b"\n") for chunk in iter(lambda: proc.stdout.read(1 << 16), b""))
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    total = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"ls /c from {repo} failed: {err[-1000:]}")
    return Figures(first, first_cpu, total, usage.ru_utime + usage.ru_stime, peak.mb()), lines


def over_serve(where: Path, code: str, env: dict[str, str]) -> tuple[Figures, int]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the server process runs the same tree as its client
    try:
        with start_server(where, subprocess=True, dialect="fedora6") as server:
            assert server.pid is not None
            requests.get(server.url + "/", headers={"Accept": "application/n-triples"}, timeout=60)  # rdflib loaded
            idle = proc_cpu(server.pid)
            figures, lines = ls(server.url, code, env)
            figures.server_cpu, figures.server_rss = proc_cpu(server.pid) - idle, peak_rss_mb(server.pid)
            return figures, lines
    finally:
        os.environ.clear()
        os.environ.update(saved)


def tree_env(tree: Path, pycache: Path) -> dict[str, str]:
    """Processes running ``tree``'s code, compiled once into ``pycache`` (not into the tree): a tree
    without its bytecode would pay ~0.07 s of compiling per command, which is no part of a listing."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=str(pycache))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "fcrctl")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-c", WARM], env=env, check=True)  # the libraries' bytecode, into pycache too
    return env


def measure(where: Path, count: int, baseline: Path | None) -> dict[str, Figures]:
    pycache = where.parent / "pycache"
    ours = tree_env(ROOT, pycache)
    rows: list[tuple[str, str, dict[str, str], bool]] = [
        ("local (index)", CLI, ours, False),
        ("HTTP grouped (serve)", CLI, ours, True),
        ("HTTP like Fedora (spills)", FEDORA_LIKE, ours, True),
        ("HTTP like Fedora, in memory", IN_MEMORY, ours, True),
    ]
    if baseline is not None:
        theirs = tree_env(baseline.resolve(), pycache)
        rows += [("local, baseline tree", CLI, theirs, False), ("HTTP, baseline tree", CLI, theirs, True)]
    for env in {id(env): env for _, _, env, _ in rows}.values():  # untimed: the first command of a tree is slower
        subprocess.run([sys.executable, "-c", CLI, "--repo", str(where), "info", "/c"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    results: dict[str, Figures] = {}
    print(f"fcrctl ls /c, {count} children (1% binaries), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}:")
    print(f"  {'':<28} {'first line':>10} {'(CPU)':>7} {'total':>8} {'CPU':>7} {'RSS':>6}"
          f" {'server CPU':>10} {'server RSS':>10}")
    for name, code, env, http in rows:
        figures, lines = over_serve(where, code, env) if http else ls(str(where), code, env)
        if lines != count:
            raise SystemExit(f"{name}: listed {lines} children of {count}")
        results[name] = figures
        server = f"{figures.server_cpu:>9.2f}s {figures.server_rss:>7.0f} MB" if http else ""
        print(f"  {name:<28} {figures.first:>9.3f}s {figures.first_cpu:>6.2f}s {figures.total:>7.2f}s"
              f" {figures.cpu:>6.2f}s {figures.rss:>3.0f} MB {server}", flush=True)
    return results


def report(sizes: list[int], runs: list[dict[str, Figures]]) -> None:
    print(f"growth exponent and fitted value at 1M children (sizes {', '.join(map(str, sizes))}):")
    for name in runs[0]:
        cells = []
        for field, unit in (("first", "s"), ("first_cpu", "s"), ("total", "s"), ("cpu", "s"), ("rss", " MB"),
                            ("server_rss", " MB")):
            values = [getattr(run[name], field) for run in runs]
            if not any(values):
                continue
            exponent, at_1m = scale.fit(sizes, values)
            cells.append(f"{field} {at_1m:.3g}{unit} (^{exponent:.2f})")
        print(f"  {name:<28} " + "  ".join(cells))
    print(f"  target: first line < {TARGET_FIRST_LINE} s at 1M, memory flat (exponent ~0), total linear (~1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline", type=Path, help="a tree of fcrctl to measure beside ours (e.g. /work/main)")
    parser.add_argument("--rebuild", action="store_true", help="build the repositories again even if kept")
    parser.add_argument("--smoke", action="store_true", help="300 children: checks the benchmark works")
    args = parser.parse_args()
    sizes = [300] if args.smoke else sorted(args.sizes)
    scratch = None
    if args.smoke or not os.environ.get("BENCH_DIR"):
        scratch = tempfile.mkdtemp(prefix="fcrctl-listing-")
    work = Path(scratch or os.environ["BENCH_DIR"])
    try:
        rebuild = args.rebuild or args.smoke
        runs = [measure(scale.built(work / f"listing-{count}", count, rebuild), count, args.baseline)
                for count in sizes]
        if len(sizes) > 1:
            report(sizes, runs)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
