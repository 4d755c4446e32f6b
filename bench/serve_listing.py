"""`fcrctl ls` over `fcrctl serve` of a flat container of 10k, 30k and 100k children (issue 14), fitted
to 1M: time to first byte at the server, the client's first line (wall and CPU) and total, per child,
and both sides' peak RSS at each size, the growth exponent and the value fitted at 1M beside the
targets (first line < 0.2 s, wall and CPU; memory flat), measured beside a floor in the same run
against the same fresh server:

- curl: first byte and total of the very GET `ls` sends (the server alone, nothing parsed);
- CLI start: `fcrctl --version` (interpreter and CLI imports, which a first line includes), and below it
  where a first line's CPU goes before any request: the interpreter alone (`python -c pass`), and the
  CLI's imports with the HTTP backend's (`import fcrctl.cli.main, fcrctl.cli.read, fcrctl.repository.http`:
  requests and urllib3 among them in a tree whose `ls` imports them);
- the client alone at 1M children against a generated grouped listing (--synthetic: a served 1M
  repository needs ~12M inodes, more than this machine's helpers may spend);
- with --baseline TREE (e.g. /work/main): the same rows with server and client running that tree.

    BENCH_DIR=/work/bench-data/serve-ls .venv/bin/python bench/serve_listing.py   # 10k/30k/100k + 1M generated
    .venv/bin/python bench/serve_listing.py --sizes 20000 --baseline /work/main --synthetic
    .venv/bin/python bench/serve_listing.py --big                  # and 1,000,000 served (~12M inodes, ~1 h)
    .venv/bin/python bench/serve_listing.py --repo PATH            # a repository with /c built before (kept)
    .venv/bin/python bench/serve_listing.py --bodies               # also each body type's GET (Turtle, whole)
    .venv/bin/python bench/serve_listing.py --synthetic 100000     # the client alone, N generated children
    .venv/bin/python bench/serve_listing.py --smoke                # 100 and 300 children, for CI

Each row is a fresh server process (so its peak RSS is that row's; ``idle`` is one that answered a
GET of the root only). CPU seconds are what a loaded machine disturbs least: "CPU@first" is the
client's CPU when its first line arrived (interpreter start included), "server CPU" the server's
for that row's request(s). Repositories are built as bench/scale.py builds them (flat /c, 1%
binaries) in BENCH_DIR, kept for the next run with the same size (--rebuild: again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
import scale  # noqa: E402
from listing import CLI, peak_rss_mb, proc_cpu, tree_env  # noqa: E402
from listing import ls as ls_process  # noqa: E402
from scale import fit  # noqa: E402

from tests.server_fixture import ServerHandle, start_server  # noqa: E402

TARGET_FIRST = 0.2  # seconds to the first line (issue 14)
PAGE_ROW = "ls --after (90%) --limit 100"
EMBED = ('return=representation; include="http://www.w3.org/ns/ldp#PreferContainment '
         'http://fedora.info/definitions/v4/repository#EmbedResources"')  # what `fcrctl ls` asks for
LS_HEADERS = {"Accept": "application/n-triples, text/turtle;q=0.9", "Prefer": EMBED}
Row = dict[str, float]


@contextmanager
def served(where: Path, env: dict[str, str]) -> Iterator[ServerHandle]:
    """A fresh `fcrctl serve` process of ``where`` running the tree ``env`` names, warmed by a GET of its root."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with start_server(where, subprocess=True, dialect="fedora6") as server:
            assert server.pid is not None
            requests.get(server.url + "/", headers={"Accept": "application/n-triples"}, timeout=60)
            yield server
    finally:
        os.environ.clear()
        os.environ.update(saved)


def curl_get(url: str, headers: dict[str, str]) -> tuple[float, float, int]:
    """(first byte s, total s, bytes) of one GET, read by curl (or by requests, without curl)."""
    if shutil.which("curl"):
        args = [a for name, value in headers.items() for a in ("-H", f"{name}: {value}")]
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", *args, "-w",
                              "%{time_starttransfer} %{time_total} %{size_download}", url],
                             capture_output=True, text=True, check=True).stdout.split()
        return float(out[0]), float(out[1]), int(out[2])
    started = time.perf_counter()
    with requests.get(url, headers=headers, stream=True, timeout=3600) as response:
        chunks = response.raw.stream(1 << 16, decode_content=False)
        size = len(next(chunks, b""))
        first = time.perf_counter() - started
        size += sum(len(chunk) for chunk in chunks)
    return first, time.perf_counter() - started, size


def cli_start(env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of `fcrctl --version`: what every first line pays before any request."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "--version"], env=env, stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


# the rows under CLI start: where a first line's CPU goes before its first request (CPU@first as ls's: at a
# line printed then, from /proc, with no exit in it)
STARTS = {"  python -c pass": "print()",
          "  + ls's imports": "import fcrctl.cli.main, fcrctl.cli.read, fcrctl.repository.http; print()"}


def to_line(env: dict[str, str], code: str) -> tuple[float, float]:
    """(wall s, CPU s) of `python -c CODE` to its first line."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    first, cpu = time.perf_counter() - started, proc_cpu(proc.pid)
    proc.stdout.read()
    proc.wait()
    return first, cpu


PAGE = 100  # children of the page row: `ls /c --after NAME --limit PAGE`, NAME 90% of the way down


def page(url: str, env: dict[str, str], count: int) -> Row:
    """One `fcrctl ls /c --after NAME --limit PAGE` process, NAME the child 90% of the way down."""
    after = f"x{count * 9 // 10}"
    expected = min(PAGE, sum(1 for i in range(count) if f"x{i}" > after))  # (names sort as text: x10 < x9)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "--repo", url, "ls", "/c", "--after", after,
                             "--limit", str(PAGE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    peak = scale.PeakRss(proc.pid)
    line = proc.stdout.readline()
    first, first_cpu = time.perf_counter() - started, proc_cpu(proc.pid)
    lines = (1 if line else 0) + proc.stdout.read().count(b"\n")
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or lines != expected:
        raise SystemExit(f"ls --after --limit {PAGE} listed {lines} children: {err[-1000:]}")
    return {"first": first, "first_cpu": first_cpu, "total": time.perf_counter() - started,
            "cpu": usage.ru_utime + usage.ru_stime, "rss": peak.mb()}


def rows_for(where: Path, count: int, env: dict[str, str], *, paging: bool = True) -> dict[str, Row]:
    """The floor (curl), the CLI's start, `ls /c` and (``paging``) a page of it deep down, each
    against a fresh server of one tree."""
    out: dict[str, Row] = {}
    with served(where, env) as server:
        assert server.pid is not None
        out["idle server"] = {"server_rss": peak_rss_mb(server.pid)}
    with served(where, env) as server:
        assert server.pid is not None
        before = proc_cpu(server.pid)
        first, total, size = curl_get(server.url + "/c", LS_HEADERS)
        out["curl GET (floor)"] = {"first": first, "total": total, "server_cpu": proc_cpu(server.pid) - before,
                                   "server_rss": peak_rss_mb(server.pid), "bytes": size}
    wall, cpu = cli_start(env)
    out["CLI start (--version)"] = {"first": wall, "first_cpu": cpu, "total": wall, "cpu": cpu}
    for label, code in STARTS.items():
        wall, cpu = min(to_line(env, code) for _ in range(3))  # (the least disturbed of three)
        out[label] = {"first": wall, "first_cpu": cpu, "total": wall, "cpu": cpu}
    with served(where, env) as server:
        assert server.pid is not None
        before = proc_cpu(server.pid)
        figures, lines = ls_process(server.url, CLI, env)
        if lines != count:
            raise SystemExit(f"ls /c listed {lines} children of {count}")
        out["fcrctl ls"] = {"first": figures.first, "first_cpu": figures.first_cpu, "total": figures.total,
                            "cpu": figures.cpu, "rss": figures.rss, "server_cpu": proc_cpu(server.pid) - before,
                            "server_rss": peak_rss_mb(server.pid)}
    if paging:
        with served(where, env) as server:
            assert server.pid is not None
            before = proc_cpu(server.pid)
            out[PAGE_ROW] = {**page(server.url, env, count), "server_cpu": proc_cpu(server.pid) - before,
                             "server_rss": peak_rss_mb(server.pid)}
    return out


def show(label: str, row: Row, count: int) -> None:
    def cell(value: float | None, fmt: str, unit: str, width: int) -> str:
        return (format(value, fmt) + unit).rjust(width) if value is not None else " " * width

    listed = ("bytes" in row or "rss" in row) and label != PAGE_ROW  # a row that read the whole listing
    per_child = row["total"] / count * 1e6 if listed else None
    cpu_per_child = row["cpu"] / count * 1e6 if "rss" in row and label != PAGE_ROW else None
    print(f"  {label:<30}{cell(row.get('first'), '.3f', ' s', 9)}{cell(row.get('first_cpu'), '.3f', ' s', 10)}"
          f"{cell(row.get('total'), '.2f', ' s', 10)}{cell(per_child, '.0f', ' us', 10)}"
          f"{cell(row.get('cpu'), '.2f', ' s', 9)}{cell(cpu_per_child, '.0f', ' us', 9)}"
          f"{cell(row.get('rss'), '.0f', ' MB', 8)}{cell(row.get('server_cpu'), '.2f', ' s', 11)}"
          f"{cell(row.get('server_rss'), '.0f', ' MB', 9)}", flush=True)


def measure(where: Path, count: int, trees: list[tuple[str, dict[str, str]]]) -> dict[str, Row]:
    print(f"`fcrctl ls /c` over serve, {count:,} children (1% binaries), load {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} cores")
    print(f"  {'':<30}{'first':>9}{'CPU@first':>10}{'total':>10}{'/child':>10}{'CPU':>9}{'/child':>9}"
          f"{'RSS':>8}{'server CPU':>11}{'srv RSS':>9}")
    results: dict[str, Row] = {}
    measured = [(name, rows_for(where, count, env, paging=name == "ours")) for name, env in trees]  # (main: no --after)
    for label in measured[0][1]:  # each row beside the baseline's, measured minutes apart at most
        for name, rows in measured:
            if label not in rows:
                continue
            key = f"{label}{'' if name == 'ours' else f' [{name}]'}"
            results[key] = rows[label]
            show(key, rows[label], count)
    ours = results["fcrctl ls"]
    print(f"  first line {ours['first']:.3f} s (target < {TARGET_FIRST} s idle): server first byte "
          f"{results['curl GET (floor)']['first']:.3f} s, CLI start {results['CLI start (--version)']['first']:.3f} s "
          f"({results['CLI start (--version)']['first_cpu']:.3f} CPU s), the client's CPU to its first line beyond "
          f"its start {ours['first_cpu'] - results['CLI start (--version)']['first_cpu']:.3f} s, beyond its imports "
          f"{ours['first_cpu'] - results[list(STARTS)[-1]]['first_cpu']:.3f} s")
    return results


def bodies(where: Path, env: dict[str, str]) -> None:
    """Each body type's GET of /c from a fresh server: N-Triples and Turtle streamed, Turtle built
    whole (inside a transaction, as every Turtle listing was written before it streamed)."""
    print(f"  {'GET /c, embedded':<34}{'first byte':>10}{'total':>9}{'server RSS':>11}{'bytes':>13} grouped")
    for label, accept, in_tx in (("Turtle built whole (baseline)", "text/turtle", True),
                                 ("Turtle streamed", "text/turtle", False),
                                 ("N-Triples streamed", "application/n-triples", False)):
        with served(where, env) as server:
            assert server.pid is not None
            headers = {"Accept": accept, "Prefer": EMBED}
            if in_tx:
                begun = requests.post(server.url + "/fcr:tx", timeout=60)
                begun.raise_for_status()
                headers["Atomic-ID"] = begun.headers["Location"]
            started = time.perf_counter()
            with requests.get(server.url + "/c", headers=headers, stream=True, timeout=3600) as response:
                response.raise_for_status()
                grouped = response.headers.get("Fcrctl-Listing") == "grouped"
                chunks = response.raw.stream(1 << 16, decode_content=False)
                size = len(next(chunks, b""))
                first = time.perf_counter() - started
                size += sum(len(chunk) for chunk in chunks)
            total = time.perf_counter() - started
            print(f"  {label:<34}{first:>9.3f}s{total:>8.2f}s{peak_rss_mb(server.pid):>8.0f} MB{size:>13} "
                  f"{'yes' if grouped else 'no'}", flush=True)


LDP = "http://www.w3.org/ns/ldp#"
FEDORA = "http://fedora.info/definitions/v4/repository#"
CHILD = ("<{c}> <" + LDP + "contains> <{c}/x{i:07d}> .\n"
         + "".join(f"<{{c}}/x{{i:07d}}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{t}> .\n"
                   for t in (FEDORA + "Resource", LDP + "RDFSource", LDP + "Container", LDP + "BasicContainer",
                             FEDORA + "Container"))
         + "".join(f'<{{c}}/x{{i:07d}}> <{FEDORA}{p}> "2026-12-06T01:57:28.{{i:06d}}+00:00"'
                   f"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n" for p in ("created", "lastModified")))


@contextmanager
def synthetic_server(count: int) -> Iterator[tuple[str, int]]:
    """(REST base URL, its pid: this process) of a server whose /c lists ``count`` children grouped,
    each as serve writes a container, generated as it is sent: the client at sizes no disk here holds."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _head(self, body: bool) -> None:
            base = f"http://{self.headers['Host']}/rest"
            self.send_response(200)
            self.send_header("Content-Type", "application/n-triples")
            self.send_header("Link", f'<{LDP}BasicContainer>;rel="type"')
            if self.path.rstrip("/") == "/rest":
                data = f"<{base}/> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{LDP}BasicContainer> .\n"
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data.encode())
                return
            if not body:
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_header("Fcrctl-Listing", "grouped")
            self.send_header("Connection", "close")
            self.end_headers()
            container = base + "/c"
            try:
                for start in range(0, count, 1000):
                    self.wfile.write("".join(CHILD.format(c=container, i=i)
                                             for i in range(start, min(start + 1000, count))).encode())
            except OSError:
                pass

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            self._head(False)

        def do_GET(self) -> None:  # noqa: N802
            self._head(True)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/rest", os.getpid()
    finally:
        httpd.shutdown()
        httpd.server_close()


def synthetic(count: int, trees: list[tuple[str, dict[str, str]]]) -> None:
    """The client alone (`ls` of a generated grouped listing), beside curl reading the same body."""
    print(f"`fcrctl ls /c` of a generated grouped listing of {count:,} children (the client alone; the "
          f"generator shares this machine), load {os.getloadavg()[0]:.1f}")
    print(f"  {'':<30}{'first':>9}{'CPU@first':>10}{'total':>10}{'/child':>10}{'CPU':>9}{'/child':>9}{'RSS':>8}")
    with synthetic_server(count) as (url, _):
        first, total, size = curl_get(url + "/c", LS_HEADERS)
        show("curl GET (the generator)", {"first": first, "total": total, "bytes": size}, count)
        for name, env in trees:
            figures, lines = ls_process(url, CLI, env)
            if lines != count:
                raise SystemExit(f"ls /c listed {lines} children of {count}")
            show("fcrctl ls" + ("" if name == "ours" else f" [{name}]"),
                 {"first": figures.first, "first_cpu": figures.first_cpu, "total": figures.total, "cpu": figures.cpu,
                  "rss": figures.rss}, count)


# (row, figure, unit, target): what the fit prints, each at 1M beside its target
FITTED: list[tuple[str, str, str, str]] = [
    ("fcrctl ls", "first", "s", "< 0.2 s"),
    ("fcrctl ls", "first_cpu", "s", "< 0.2 s"),
    ("fcrctl ls", "total", "s", "linear"),
    ("fcrctl ls", "cpu", "s", "linear"),
    ("fcrctl ls", "cpu_per_child", "us", "flat"),
    ("fcrctl ls", "rss", "MB", "flat"),
    ("fcrctl ls", "server_cpu", "s", "linear"),
    ("fcrctl ls", "server_rss", "MB", "flat"),
    ("curl GET (floor)", "first", "s", ""),
    ("curl GET (floor)", "total", "s", "linear"),
    ("curl GET (floor)", "server_rss", "MB", "flat"),
    ("idle server", "server_rss", "MB", ""),
    (PAGE_ROW, "first", "s", "< 0.2 s"),
    (PAGE_ROW, "total", "s", "flat"),
    (PAGE_ROW, "server_cpu", "s", "flat"),
]


def verdict(target: str, smallest: float, at_1m: float, exponent: float) -> str:
    if target.startswith("< "):
        limit = float(target.split()[1])
        return f"{target}: {'met' if at_1m < limit else 'NOT met'}"
    if target == "flat":
        return f"flat (<= {smallest * 1.1:.3g}, smallest +10%): {'met' if at_1m <= smallest * 1.1 else 'NOT met'}"
    if target == "linear":
        return f"at most linear (exponent <= 1.1): {'yes' if exponent <= 1.1 else 'NO'}"
    return ""


def report(sizes: list[int], runs: list[dict[str, Row]], suffixes: list[str]) -> None:
    """Each FITTED figure at every size, its growth exponent and its value fitted at 1M children."""
    print(f"growth exponent and fitted value at 1M children, load {os.getloadavg()[0]:.1f}:")
    print(f"  {'row':<42}" + "".join(f"{size:>11,}" for size in sizes) + f"{'exponent':>10}{'fit @1M':>11}   target")
    for suffix in suffixes:
        for label, key, unit, target in FITTED:
            row = label + suffix
            if not all(row in run and key in run[row] for run in runs):
                continue
            values = [run[row][key] for run in runs]
            exponent, at_1m = fit(sizes, values)
            print(f"  {row + ' ' + key + ' ' + unit:<42}" + "".join(f"{v:>11.3g}" for v in values)
                  + f"{exponent:>10.2f}{at_1m:>11.3g}   {verdict(target, values[0], at_1m, exponent)}", flush=True)


def per_child(rows: dict[str, Row], count: int) -> dict[str, Row]:
    for label, row in rows.items():
        if "cpu" in row and "rss" in row and label != PAGE_ROW:
            row["cpu_per_child"] = row["cpu"] / count * 1e6
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="children of /c, one repository each (10k 30k 100k)")
    parser.add_argument("--big", action="store_true", help="1,000,000 children served too (~12M inodes)")
    parser.add_argument("--smoke", action="store_true", help="100 and 300 children, for CI")
    parser.add_argument("--repo", type=Path, help="measure this repository's /c (built before; kept)")
    parser.add_argument("--baseline", type=Path, help="another tree (e.g. /work/main), run side by side")
    parser.add_argument("--bodies", action="store_true", help="each body type's GET of /c as well")
    parser.add_argument("--rebuild", action="store_true", help="build the repositories again")
    parser.add_argument("--synthetic", type=int, nargs="*", metavar="N",
                        help="the client alone against a generated grouped listing of N children (default: "
                             "1,000,000; alone, without --sizes: no repository is built)")
    args = parser.parse_args()
    temporary = args.smoke or not os.environ.get("BENCH_DIR")
    work = Path(tempfile.mkdtemp(prefix="fcrctl-serve-listing-", dir=os.environ.get("BENCH_DIR"))) if temporary \
        else Path(os.environ["BENCH_DIR"])
    os.chdir(work)  # `python -c` and `-m` put the working directory first on sys.path: a tree there would win
    try:
        pycache = work / "pycache"
        trees = [("ours", tree_env(ROOT, pycache))]
        if args.baseline is not None:
            trees.append((args.baseline.name or str(args.baseline), tree_env(args.baseline.resolve(), pycache)))
        suffixes = ["" if name == "ours" else f" [{name}]" for name, _ in trees]
        generated = [300] if args.smoke else args.synthetic or [1_000_000]
        if args.synthetic is not None and args.sizes is None and args.repo is None and not args.big:
            for count in generated:
                synthetic(count, trees)
            return  # --synthetic alone: no repository to build
        if args.repo is not None:
            from fcrctl.repository import open_repository

            with open_repository(str(args.repo)) as opened:
                count = sum(1 for _ in opened.children("/c"))
            measure(args.repo, count, trees)
            if args.bodies:
                bodies(args.repo, trees[0][1])
            return
        sizes = [100, 300] if args.smoke else sorted(set((args.sizes or [10_000, 30_000, 100_000])
                                                         + ([1_000_000] if args.big else [])))
        runs = []
        for count in sizes:
            if not (work / f"listing-{count}" / ".bench-built").exists() and os.statvfs(work).f_favail < count * 14:
                raise SystemExit(f"{count:,} children take ~{count * 12:,} inodes and {work} has "
                                 f"{os.statvfs(work).f_favail:,} free: set BENCH_DIR to a roomier file system")
            where = scale.built(work / f"listing-{count}", count, args.rebuild)
            runs.append(per_child(measure(where, count, trees), count))
            if args.bodies:
                bodies(where, trees[0][1])
        if len(sizes) > 1:
            report(sizes, runs, suffixes)
        for count in generated:
            synthetic(count, trees)
        print(f"  target: first line < {TARGET_FIRST} s idle (wall, and the client's CPU) at 1M; both sides' memory "
              "flat (exponent ~0)")
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
