"""Benchmark `fcrctl export` and `fcrctl import`, locally and through `fcrctl serve`, beside baselines.

    .venv/bin/python bench/transfer.py                      # 100,000 resources + 500 MB, beside 10,000
    .venv/bin/python bench/transfer.py --resources 20000 --mb 100 --no-serve
    .venv/bin/python bench/transfer.py --no-import          # export only (local and over serve)
    BENCH_DIR=/big/disk .venv/bin/python bench/transfer.py --keep   # reuse the built sources next time
    .venv/bin/python bench/transfer.py --smoke              # a tiny run for CI
    .venv/bin/python bench/transfer.py --only export-serve --resources 10000 --mb 50 --baseline-tree /work/main
    .venv/bin/python bench/transfer.py --only import-serve --resources 10000 --mb 50   # that row alone

The source repository holds N small containers (one triple each, 100 per parent container)
plus binaries totalling MB megabytes. Each run is its own `fcrctl` process, so its peak RSS is
its own: printed are resources/s (wall and per CPU second, the latter steadier on a loaded
machine), MB/s and peak RSS for export and import, local to local and to/from a served
repository, at N and at N/10 (the issue's targets: import >= 1,000 resources/s and export >=
2,000 resources/s locally; peak RSS at N within 10% of N/10 and under 150 MB). Beside them, in
the same run, what the machine does with the same files without fcrctl: for export, `cp -r` of
the source's storage root and `tar | zstd` of it (reading as many files as export reads, writing
as many or one stream); for import, `cp -r` of the export tree (the files an import reads), and
`cp -r` of the storage root the import wrote, with and without `sync` (making the same
directories and files with no parsing and no index: the floor; an import is durable on return,
so it is judged against the synced copy: the summary's last lines give its rate as a fraction of
that). Versions are left out (--no-versions): a freshly built repository has one per resource, and
they would double what is measured.
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

TX_RESOURCES = 20_000
RUN = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr[-2000:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr)
sys.exit(done.returncode)
"""
# fcrctl with its HTTP requests and TCP connections counted (urllib3 opens one per connect()),
# written to the file FCRCTL_BENCH_COUNTS names as "requests connections" when it exits
COUNTED = """
import atexit, itertools, os, runpy, sys
import requests.adapters, urllib3.connection
requests_made, connections = itertools.count(), itertools.count()
connect, send = urllib3.connection.HTTPConnection.connect, requests.adapters.HTTPAdapter.send
def counted_connect(self):
    next(connections)
    return connect(self)
def counted_send(self, *args, **kwargs):
    next(requests_made)
    return send(self, *args, **kwargs)
urllib3.connection.HTTPConnection.connect = counted_connect
requests.adapters.HTTPAdapter.send = counted_send
def written():
    with open(os.environ["FCRCTL_BENCH_COUNTS"], "w") as out:
        out.write(f"{next(requests_made)} {next(connections)}")
atexit.register(written)
sys.argv[0] = "fcrctl"
runpy.run_module("fcrctl", run_name="__main__", alter_sys=True)
"""


class Row:
    """One measured run: resources and bytes moved, wall and CPU seconds, peak RSS."""

    def __init__(self, name: str, resources: int, nbytes: int, seconds: float, cpu: float, rss_mb: int) -> None:
        self.name, self.resources, self.bytes = name, resources, nbytes
        self.seconds, self.cpu, self.rss = seconds, cpu, rss_mb
        self.server_rss: int | None = None  # the served repository's process, for runs through serve
        self.server_cpu: float | None = None  # ...and the CPU seconds it spent on this run
        self.requests: int | None = None  # HTTP requests and TCP connections fcrctl made, where counted
        self.connections: int | None = None
        # as it is measured: a 100,000-resource run takes long enough that a partial table helps
        print(f"# {name.strip()}: {resources} resources, {seconds:.1f} s, {cpu:.1f} s CPU, {rss_mb} MB peak RSS",
              file=sys.stderr, flush=True)

    @property
    def rate(self) -> float:
        return self.resources / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.resources / self.cpu if self.cpu else 0.0

    @property
    def mbs(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0


def build(where: Path, count: int, megabytes: int) -> None:
    """``count`` resources in transactions (staged, then applied at once: the fast path) of at most
    TX_RESOURCES: one commit links one namaste file into every new object, and ext4 allows 65,000
    links to a file (a 100,000-resource commit failed with EMLINK)."""
    from rdflib import Graph, Literal, URIRef

    repo = open_repository(str(where), create=True)
    binaries = max(1, megabytes)  # 1 MB each
    block = os.urandom(1 << 20)
    tx, view, staged = None, None, 0

    def create(path: str, spec: ResourceSpec) -> None:
        nonlocal tx, view, staged
        if tx is None:
            tx = repo.begin_transaction()  # type: ignore[attr-defined]
            view = repo.in_transaction(tx.id)  # type: ignore[attr-defined]
        view.create(path, spec)
        staged += 1
        if staged >= TX_RESOURCES:
            repo.commit_transaction(tx.id)  # type: ignore[attr-defined]
            tx, staged = None, 0

    create("/data", ResourceSpec())
    for i in range(count - binaries):
        parent = f"/data/p{i // 100}"
        if i % 100 == 0:
            create(parent, ResourceSpec())
        graph = Graph()
        graph.add((URIRef(f"info:fedora{parent}/r{i}"), URIRef("http://purl.org/dc/elements/1.1/title"),
                   Literal(f"resource {i}")))
        create(f"{parent}/r{i}", ResourceSpec(graph=graph))
    for i in range(binaries if megabytes else 0):
        data = i.to_bytes(8, "big") + block[8:]
        create(f"/data/b{i}", ResourceSpec(content=io.BytesIO(data), binary=True, mime_type="image/tiff"))
    if tx is not None:
        repo.commit_transaction(tx.id)  # type: ignore[attr-defined]
    repo.close()


def source_repository(work: Path, count: int, megabytes: int) -> Path:
    """The built source (reused when a --keep run left it complete)."""
    source = work / f"source-{count}-{megabytes}mb"
    done = source / ".bench-built"
    if not done.exists():
        shutil.rmtree(source, ignore_errors=True)
        started = time.perf_counter()
        build(source, count, megabytes)
        done.write_text(f"{time.perf_counter() - started:.1f} s\n")
    return source


def fcrctl(name: str, repo: str, *args: str, cwd: Path | None = None, counts: Path | None = None) -> Row:
    """One fcrctl run in its own process: its --json report, wall and CPU time, peak RSS (``cwd``: the
    source tree whose fcrctl runs, ``python -m`` imports from there first; with ``counts``, a file to
    write them to, its HTTP requests and TCP connections)."""
    start = [sys.executable, "-m", "fcrctl"] if counts is None else [sys.executable, "-c", COUNTED]
    out, seconds, cpu, rss = timed([*start, "--repo", repo, "--json", *args], f"fcrctl {' '.join(args)}", cwd=cwd,
                                   env=None if counts is None else {**os.environ, "FCRCTL_BENCH_COUNTS": str(counts)})
    report = json.loads(out)
    row = Row(name, report["resources"], report["bytes"], seconds, cpu, rss)
    if counts is not None:
        row.requests, row.connections = (int(n) for n in counts.read_text().split())
        counts.unlink()
    return row


def baseline(name: str, resources: int, nbytes: int, shell: str) -> Row:
    """A shell pipeline over the same files, timed the same way (its children's CPU and RSS)."""
    _, seconds, cpu, rss = timed(["sh", "-c", shell], f"baseline {shell!r}")
    return Row(name, resources, nbytes, seconds, cpu, rss)


def timed(cmd: list[str], what: str, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> tuple[str, float, float, int]:
    """(stdout, wall seconds, CPU seconds, peak RSS in MB) of ``cmd`` and its children."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, *cmd], capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{what} failed: {done.stderr[-1500:]}")
    rss_kb, cpu = done.stderr.strip().splitlines()[-1].split()
    return done.stdout, seconds, float(cpu), int(rss_kb) // 1024


def peak_rss_mb(pid: int | None) -> int | None:
    """A live process's peak RSS (VmHWM), read before it stops."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return kb // 1024 if kb is not None else None


def cpu_seconds(pid: int | None) -> float:
    """A live process's CPU seconds so far (user + system, its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def served(name: str, server: object, *args: str, cwd: Path | None = None, counts: Path | None = None) -> Row:
    """An fcrctl run against a served repository, with the server's CPU and peak RSS beside it."""
    pid = getattr(server, "pid", None)
    before = cpu_seconds(pid)
    row = fcrctl(name, getattr(server, "url"), *args, cwd=cwd, counts=counts)  # noqa: B009
    row.server_cpu = cpu_seconds(pid) - before
    row.server_rss = peak_rss_mb(pid)
    return row


def export_over_serve(source: Path, work: Path, count: int, baseline_tree: Path | None) -> list[Row]:
    """The export-over-serve row, and with ``baseline_tree`` the same run of that tree's fcrctl (client
    and server) right after it, so the pair sees the same load."""
    from tests.server_fixture import start_server

    rows = []
    trees = [("export over serve", None), *([("  same, baseline tree", baseline_tree)] if baseline_tree else [])]
    for name, tree in trees:
        previous = os.getcwd()
        if tree is not None:
            os.chdir(tree)  # the server process is `python -m fcrctl.server.run`: from that tree
        try:
            with start_server(source, subprocess=True) as server:
                out2 = work / f"export-serve-{count}"
                rows.append(served(name, server, "export", "/", str(out2), "--no-versions", "--jobs", "4", cwd=tree))
                shutil.rmtree(out2, ignore_errors=True)
        finally:
            os.chdir(previous)
    return rows


def measure(count: int, megabytes: int, work: Path, runs: set[str], keep: bool,
            baseline_tree: Path | None = None) -> list[Row]:
    from tests.server_fixture import start_server

    source, rows = source_repository(work, count, megabytes), []
    if runs == {"export-serve"}:  # --only export-serve
        rows = export_over_serve(source, work, count, baseline_tree)
        if not keep:
            shutil.rmtree(source, ignore_errors=True)
        return rows
    out = work / f"export-{count}"
    shutil.rmtree(out, ignore_errors=True)
    exported = fcrctl("export local", str(source), "export", "/", str(out), "--no-versions")
    n, nbytes = exported.resources, exported.bytes
    copy = work / f"copy-{count}"
    if "export" in runs:  # else the export is only the import's source
        rows.append(exported)
        shutil.rmtree(copy, ignore_errors=True)
        rows.append(baseline("  cp -r storage", n, nbytes, f"cp -r '{source}/ocfl-root' '{copy}'"))
        shutil.rmtree(copy, ignore_errors=True)
        rows.append(baseline("  tar|zstd storage", n, nbytes,
                             f"tar -cf - -C '{source}' ocfl-root | zstd -q -1 -T1 -c > '{work}/storage.tar.zst'"))
        (work / "storage.tar.zst").unlink(missing_ok=True)
    if "import" in runs:
        target = work / f"target-{count}"
        shutil.rmtree(target, ignore_errors=True)
        open_repository(str(target), create=True).close()
        rows.append(fcrctl("import local", str(target), "import", str(out)))
        rows.append(baseline("  cp -r export", n, nbytes, f"cp -r '{out}' '{copy}'"))
        shutil.rmtree(copy, ignore_errors=True)
        # the floor: making the very directories and files the import made (OCFL objects are ~7
        # directories and ~7 files each, and a directory costs more than a small file), without and
        # with the sync an import does before it returns - the latter is the one to judge it by
        rows.append(baseline("  cp -r imported", n, nbytes, f"cp -r '{target}/ocfl-root' '{copy}'"))
        shutil.rmtree(copy, ignore_errors=True)
        subprocess.run(["sync"], check=False)
        rows.append(baseline("  cp -r imported && sync", n, nbytes, f"cp -r '{target}/ocfl-root' '{copy}' && sync"))
        shutil.rmtree(copy, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
    if "serve" in runs:
        rows += export_over_serve(source, work, count, baseline_tree)
    if "serve" in runs and "import" in runs or "import-serve" in runs:
        served_repo = work / f"served-{count}"
        shutil.rmtree(served_repo, ignore_errors=True)
        with start_server(served_repo, subprocess=True) as server:
            rows.append(served("import over serve", server, "import", str(out), "--jobs", "4",
                               counts=work / "import-serve.counts"))
        shutil.rmtree(served_repo, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    if not keep:
        shutil.rmtree(source, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--mb", type=int, default=500, help="megabytes of binaries (1 MB each)")
    parser.add_argument("--no-serve", action="store_true", help="local runs only")
    parser.add_argument("--no-import", action="store_true", help="export runs only (with --no-serve: local export)")
    parser.add_argument("--keep", action="store_true", help="keep the built sources in BENCH_DIR for the next run")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI)")
    parser.add_argument("--only", choices=["export-serve", "import-serve"],
                        help="one row only: export or import over serve")
    parser.add_argument("--baseline-tree", type=Path,
                        help="a source tree (e.g. /work/main) whose export over serve runs beside ours")
    args = parser.parse_args()
    count, megabytes = (100, 1) if args.smoke else (args.resources, args.mb)
    base = os.environ.get("BENCH_DIR")
    if args.keep and not base:
        raise SystemExit("--keep needs BENCH_DIR (where the sources are kept)")
    work = Path(base) / "bench-transfer" if args.keep and base else Path(
        tempfile.mkdtemp(prefix="fcrctl-bench-transfer-", dir=base))
    work.mkdir(parents=True, exist_ok=True)
    runs = {"export"} | (set() if args.no_import else {"import"}) | (set() if args.no_serve else {"serve"})
    if args.only:
        runs = {args.only}
    try:
        big = measure(count, megabytes, work, runs, args.keep, args.baseline_tree)
        # the smoke run spares the baseline's server runs (each starts a server process)
        small_runs = runs - {"serve", "import-serve"} if args.smoke else runs
        small = {row.name: row for row in measure(max(10, count // 10), max(1, megabytes // 10), work,
                                                  small_runs, args.keep, args.baseline_tree)} if small_runs else {}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"N = {count:,} resources with {megabytes} MB of binaries; N/10 = {max(10, count // 10):,} with "
          f"{max(1, megabytes // 10)} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'run':<20} {'res/s':>8} {'res/cpu-s':>10} {'MB/s':>7} {'RSS MB':>7} {'s':>7} {'ms CPU/res':>10}   "
          f"{'N/10 res/s':>10} {'res/cpu-s':>10} {'RSS MB':>7} {'ms CPU/res':>10}  RSS N vs N/10  "
          "(RSS, CPU: fcrctl's; serve's after /)")
    for row in big:
        base_row = small.get(row.name)
        tail = (f"{base_row.rate:>10.0f} {base_row.cpu_rate:>10.0f} {_rss(base_row):>7} {_cpu(base_row):>10}  "
                f"{(row.rss - base_row.rss) / base_row.rss * 100:+.0f}%") if base_row else ""
        print(f"{row.name:<20} {row.rate:>8.0f} {row.cpu_rate:>10.0f} {row.mbs:>7.1f} {_rss(row):>7} "
              f"{row.seconds:>7.1f} {_cpu(row):>10}   {tail}")
    for row in big:  # what a run over serve costs in round trips (its cost per resource at any latency)
        if row.requests is not None and row.connections is not None:
            base_row = small.get(row.name)
            print(f"{row.name}: {row.requests / max(1, row.resources):.2f} HTTP requests per resource, "
                  f"{row.connections / max(1, row.requests):.3f} TCP connections per request"
                  + (f" (N/10: {base_row.requests / max(1, base_row.resources):.2f}, "
                     f"{base_row.connections / max(1, base_row.requests):.3f}); peak RSS at N vs N/10: "
                     f"fcrctl {(row.rss - base_row.rss) / base_row.rss * 100:+.0f}%"
                     + (f", serve {(row.server_rss - base_row.server_rss) / base_row.server_rss * 100:+.0f}%"
                        if row.server_rss and base_row.server_rss else "")
                     if base_row and base_row.requests and base_row.connections is not None else ""))
    _floor_line(big, small)


def _floor_line(big: list[Row], small: dict[str, Row]) -> None:
    """The local import's rate as a fraction of its durable floor: the synced copy of the tree it wrote
    (an import is durable on return, so that copy is what the disk allows for the same files)."""
    rows = {row.name: row for row in big}
    for label, runs in (("N", rows), ("N/10", small)):
        ours, floor = runs.get("import local"), runs.get("  cp -r imported && sync")
        if ours is not None and floor is not None and floor.rate:
            print(f"import local at {label}: {ours.rate:.0f} res/s = {ours.rate / floor.rate:.0%} of the durable "
                  f"floor (cp -r imported && sync: {floor.rate:.0f} res/s)")


def _rss(row: Row) -> str:
    return f"{row.rss}" if row.server_rss is None else f"{row.rss}/{row.server_rss}"


def _cpu(row: Row) -> str:
    """Milliseconds of CPU per resource: the steady figure on a loaded machine."""
    each = f"{row.cpu * 1000 / max(1, row.resources):.2f}"
    return each if row.server_cpu is None else f"{each}/{row.server_cpu * 1000 / max(1, row.resources):.2f}"


if __name__ == "__main__":
    main()
