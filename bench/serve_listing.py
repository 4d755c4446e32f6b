"""`fcrctl ls` over `fcrctl serve` of a container of 100k (and, with --big, 1M) children (issue 14):
time to first byte at the server, the client's first line (wall and CPU) and total, per child, and
both sides' peak RSS, beside a floor measured in the same run against the same fresh server:

- curl: first byte and total of the very GET `ls` sends (the server alone, nothing parsed);
- CLI start: `fcrctl --version` (interpreter and CLI imports, which a first line includes);
- with --baseline TREE (e.g. /work/main): the same rows with server and client running that tree.

    .venv/bin/python bench/serve_listing.py                        # 100,000 children
    .venv/bin/python bench/serve_listing.py --big                  # and 1,000,000 (~12M inodes, ~1 h to build)
    .venv/bin/python bench/serve_listing.py --sizes 20000 --baseline /work/main
    .venv/bin/python bench/serve_listing.py --repo PATH            # a repository with /c built before (kept)
    .venv/bin/python bench/serve_listing.py --bodies               # also each body type's GET (Turtle, whole)
    .venv/bin/python bench/serve_listing.py --synthetic            # the client alone, 100k and 1M generated children
    .venv/bin/python bench/serve_listing.py --smoke                # 300 children, for CI

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


def rows_for(where: Path, count: int, env: dict[str, str]) -> dict[str, Row]:
    """The floor (curl), the CLI's start and `ls /c`, each against a fresh server of one tree."""
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
    with served(where, env) as server:
        assert server.pid is not None
        before = proc_cpu(server.pid)
        figures, lines = ls_process(server.url, CLI, env)
        if lines != count:
            raise SystemExit(f"ls /c listed {lines} children of {count}")
        out["fcrctl ls"] = {"first": figures.first, "first_cpu": figures.first_cpu, "total": figures.total,
                            "cpu": figures.cpu, "rss": figures.rss, "server_cpu": proc_cpu(server.pid) - before,
                            "server_rss": peak_rss_mb(server.pid)}
    return out


def show(label: str, row: Row, count: int) -> None:
    def cell(value: float | None, fmt: str, unit: str, width: int) -> str:
        return (format(value, fmt) + unit).rjust(width) if value is not None else " " * width

    listed = "bytes" in row or "rss" in row  # a row that read the whole listing
    per_child = row["total"] / count * 1e6 if listed else None
    cpu_per_child = row["cpu"] / count * 1e6 if "rss" in row else None
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
    measured = [(name, rows_for(where, count, env)) for name, env in trees]
    for label in measured[0][1]:  # each row beside the baseline's, measured minutes apart at most
        for name, rows in measured:
            key = f"{label}{'' if name == 'ours' else f' [{name}]'}"
            results[key] = rows[label]
            show(key, rows[label], count)
    ours = results["fcrctl ls"]
    print(f"  first line {ours['first']:.3f} s (target < {TARGET_FIRST} s idle): server first byte "
          f"{results['curl GET (floor)']['first']:.3f} s, CLI start {results['CLI start (--version)']['first']:.3f} s "
          f"({results['CLI start (--version)']['first_cpu']:.3f} CPU s), the client's CPU to its first line beyond "
          f"its start {ours['first_cpu'] - results['CLI start (--version)']['first_cpu']:.3f} s")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="children of /c, one repository each (100,000)")
    parser.add_argument("--big", action="store_true", help="1,000,000 children too")
    parser.add_argument("--smoke", action="store_true", help="300 children, for CI")
    parser.add_argument("--repo", type=Path, help="measure this repository's /c (built before; kept)")
    parser.add_argument("--baseline", type=Path, help="another tree (e.g. /work/main), run side by side")
    parser.add_argument("--bodies", action="store_true", help="each body type's GET of /c as well")
    parser.add_argument("--rebuild", action="store_true", help="build the repositories again")
    parser.add_argument("--synthetic", type=int, nargs="*", metavar="N",
                        help="also the client alone against a generated grouped listing of N children "
                             "(default with --big: 100,000 and 1,000,000)")
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
        everything = args.big or args.synthetic == []
        generated = [300] if args.smoke else args.synthetic or ([100_000, 1_000_000] if everything else [])
        for count in generated:
            synthetic(count, trees)
        if args.synthetic is not None and args.sizes is None and args.repo is None and not args.big:
            return  # --synthetic alone: no repository to build
        if args.repo is not None:
            from fcrctl.repository import open_repository

            with open_repository(str(args.repo)) as opened:
                count = sum(1 for _ in opened.children("/c"))
            measure(args.repo, count, trees)
            if args.bodies:
                bodies(args.repo, trees[0][1])
            return
        sizes = [300] if args.smoke else sorted(set((args.sizes or [100_000]) + ([1_000_000] if args.big else [])))
        runs = []
        for count in sizes:
            if not (work / f"listing-{count}" / ".bench-built").exists() and os.statvfs(work).f_favail < count * 14:
                raise SystemExit(f"{count:,} children take ~{count * 12:,} inodes and {work} has "
                                 f"{os.statvfs(work).f_favail:,} free: set BENCH_DIR to a roomier file system")
            where = scale.built(work / f"listing-{count}", count, args.rebuild)
            runs.append(measure(where, count, trees))
            if args.bodies:
                bodies(where, trees[0][1])
        if len(sizes) > 1:
            print(f"growth exponent and fitted value at 1M children (sizes {', '.join(map(str, sizes))}):")
            for label in ("fcrctl ls", "curl GET (floor)"):
                cells = []
                for key, unit in (("first", "s"), ("total", "s"), ("rss", " MB"), ("server_rss", " MB")):
                    if key in runs[0][label]:
                        exponent, at_1m = fit(sizes, [run[label][key] for run in runs])
                        cells.append(f"{key} {at_1m:.3g}{unit} (^{exponent:.2f})")
                print(f"  {label:<20} " + "  ".join(cells))
        print(f"  target: first line < {TARGET_FIRST} s idle at 100k and 1M; both sides' memory flat (exponent ~0)")
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
