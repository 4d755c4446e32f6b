"""Benchmark the local backend through the Repository protocol (durable writes).

    .venv/bin/python bench/local_ops.py            # 10,000 containers + 500 x 1 MB binaries
    .venv/bin/python bench/local_ops.py --smoke    # a tiny run for CI

Prints resources/s for container creates and reads, MB/s for binary writes and reads, then
200 single-operation CLI invocations (create/info/get in turn) and the median wall time of
`fcrctl --help` and `fcrctl info PATH`. Targets (2 cores): >= 150 durable creates/s through the
protocol, --help <= 0.25 s, info <= 0.4 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec

DC = "http://purl.org/dc/elements/1.1/"


def _container(path: str, i: int) -> ResourceSpec:
    g = Graph()
    s = URIRef("info:fedora" + path)
    for n, field in enumerate(("title", "creator", "subject", "description", "identifier")):
        g.add((s, URIRef(DC + field), Literal(f"{field} {i}.{n}")))
    return ResourceSpec(graph=g)


def run_protocol(where: Path, containers: int, binaries: int, binary_mb: int) -> dict[str, float]:
    repo = open_repository(str(where), create=True)
    results: dict[str, float] = {}
    try:
        repo.create("/bench", ResourceSpec())
        started = time.perf_counter()
        for i in range(containers):
            repo.create(f"/bench/c{i}", _container(f"/bench/c{i}", i))
        elapsed = time.perf_counter() - started
        results["container_creates_per_s"] = containers / elapsed

        started = time.perf_counter()
        for i in range(0, containers, max(1, containers // 1000)):
            repo.get_rdf(f"/bench/c{i}")
        reads = len(range(0, containers, max(1, containers // 1000)))
        results["container_reads_per_s"] = reads / (time.perf_counter() - started)

        started = time.perf_counter()
        listed = sum(1 for _ in repo.children("/bench"))
        results["children_listed_per_s"] = listed / (time.perf_counter() - started)

        payload = os.urandom(binary_mb * 1024 * 1024)
        started = time.perf_counter()
        for i in range(binaries):
            repo.create(f"/bench/b{i}", ResourceSpec(content=io.BytesIO(payload), mime_type="application/octet-stream"))
        elapsed = time.perf_counter() - started
        results["binary_creates_per_s"] = binaries / elapsed
        results["binary_write_mb_per_s"] = binaries * binary_mb / elapsed

        started = time.perf_counter()
        for i in range(binaries):
            with repo.open_binary(f"/bench/b{i}") as content:
                while content.stream.read(1024 * 1024):
                    pass
        results["binary_read_mb_per_s"] = binaries * binary_mb / (time.perf_counter() - started)
    finally:
        repo.close()
    return results


def run_cli(where: Path, invocations: int) -> dict[str, float]:
    """Single-operation CLI invocations on the benchmark repository (a shell loop's view):
    creates, infos and gets in turn; plus the median start-up of `--help` and `info`."""
    import statistics
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cli_startup import fcrctl_command, median_wall_time

    cmd = [*fcrctl_command(), "--repo", str(where)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: cached .pyc
    subprocess.run([*cmd, "create", "/cli"], env=env, check=True, stdout=subprocess.DEVNULL)
    operations = (("create", "/cli/{i}"), ("info", "/cli/{i}"), ("get", "/cli/{i}"))
    times: list[float] = []
    for i in range(invocations):
        verb, path = operations[i % 3]
        started = time.perf_counter()
        subprocess.run([*cmd, verb, path.format(i=i // 3)], env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    runs = max(3, min(21, invocations // 10))
    return {
        "cli_ops_per_s": invocations / sum(times),
        "cli_op_median_ms": statistics.median(times) * 1000,
        "help_median_ms": median_wall_time([*fcrctl_command(), "--help"], runs, env) * 1000,
        "info_median_ms": median_wall_time([*cmd, "info", "/cli"], runs, env) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run (CI): 50 containers, 3 binaries of 1 MB")
    parser.add_argument("--containers", type=int, default=10_000)
    parser.add_argument("--binaries", type=int, default=500)
    parser.add_argument("--binary-mb", type=int, default=1)
    parser.add_argument("--cli", type=int, default=200, help="single-operation CLI invocations")
    parser.add_argument("--dir", help="where to create the benchmark repository (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.smoke:
        args.containers, args.binaries, args.cli = 50, 3, 6
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="fcrctl-bench-"))
    where = base / "repo"
    try:
        results = run_protocol(where, args.containers, args.binaries, args.binary_mb)
        results.update(run_cli(where, args.cli))
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps({k: round(v, 1) for k, v in results.items()}))
    else:
        print(f"{args.containers} containers (5 triples), {args.binaries} binaries of {args.binary_mb} MB:")
        for key, value in results.items():
            print(f"  {key:28s} {value:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
