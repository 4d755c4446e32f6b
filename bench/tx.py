"""Benchmark transactions: stage N small creates inside one transaction, then commit; beside each
figure, the baseline measured in the same run: the same kind of creates without a transaction,
each committed on its own.

    .venv/bin/python bench/tx.py                 # 10,000 creates locally; N/5 over `fcrctl serve` (both styles)
    .venv/bin/python bench/tx.py --count 2000    # quicker
    .venv/bin/python bench/tx.py --smoke         # a tiny run for CI

Targets (2 cores): >= 1,000 staged creates/s locally, and the commit of 10,000 creates under 20 s.
The baseline runs --baseline creates (default N/20: one-by-one commits cost a syncfs each, so N of
them would take minutes) and its time for N is extrapolated from its rate. Timings on a shared
machine are noisy: the process CPU time (user+sys) and the load average are printed too, so a slow
run can be told from a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rdflib import Graph, Literal, URIRef

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fcrctl.repository import open_repository  # noqa: E402
from fcrctl.repository.base import ResourceSpec  # noqa: E402

DC = "http://purl.org/dc/elements/1.1/"


def _spec(path: str, i: int) -> ResourceSpec:
    g = Graph()
    g.add((URIRef("info:fedora" + path), URIRef(DC + "title"), Literal(f"item {i}")))
    return ResourceSpec(graph=g)


class _Clock:
    """Wall and CPU (user+sys of this process: a local repository works in it) of a phase."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _process_cpu(pid: int | None) -> float:
    """user+sys CPU seconds of another process (the server), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(target: str, count: int, baseline: int, **options: object) -> dict[str, float]:
    repo = open_repository(target, **options)
    try:
        repo.create("/direct", ResourceSpec())
        with _Clock() as direct:
            for i in range(baseline):
                repo.create(f"/direct/item{i}", _spec(f"/direct/item{i}", i))
        repo.create("/batch", ResourceSpec())
        info = repo.begin_transaction(timeout=600)  # type: ignore[attr-defined]
        inside = repo.in_transaction(info.id)  # type: ignore[attr-defined]
        with _Clock() as staged:
            for i in range(count):
                inside.create(f"/batch/item{i}", _spec(f"/batch/item{i}", i))
        inside.close()
        with _Clock() as commit:
            repo.commit_transaction(info.id)  # type: ignore[attr-defined]
        assert sum(1 for _ in repo.children("/batch")) == count
        direct_rate = baseline / direct.wall
        return {
            "creates": count, "staged_per_s": round(count / staged.wall, 1), "staged_cpu_s": round(staged.cpu, 2),
            "commit_s": round(commit.wall, 2), "commit_cpu_s": round(commit.cpu, 2),
            "tx_total_s": round(staged.wall + commit.wall, 2),
            "baseline_creates": baseline, "baseline_per_s": round(direct_rate, 1),
            "baseline_total_s": round(count / direct_rate, 2),
        }
    finally:
        repo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny run for CI")
    parser.add_argument("--count", type=int, default=10_000, help="creates in the local transaction")
    parser.add_argument("--baseline", type=int, help="creates without a transaction (default: count/20)")
    parser.add_argument("--local-only", action="store_true", help="skip the runs over `fcrctl serve`")
    args = parser.parse_args()
    count = 30 if args.smoke else args.count
    baseline = args.baseline or max(5, count // 20)
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-tx-"))
    results: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0]
    try:
        results["local"] = run(str(work / "local"), count, baseline, create=True)
        if not args.local_only:
            from tests.server_fixture import start_server

            for dialect in ("fedora4", "fedora6"):
                where = work / dialect
                open_repository(str(where), create=True).close()
                # its own process, as users run it (in-process it would share this one's GIL)
                with start_server(where, dialect=dialect, subprocess=True) as handle:
                    served = max(10, count // 5)
                    cpu = _process_cpu(handle.pid)
                    results[f"serve-{dialect}"] = run(handle.url, served, max(5, served // 20), api=dialect)
                    results[f"serve-{dialect}"]["server_cpu_s"] = round(_process_cpu(handle.pid) - cpu, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end ({os.cpu_count()} cpus)")
    for name, f in results.items():
        print(f"{name:15} {f['creates']:6} creates  staged {f['staged_per_s']:7.1f}/s"
              f" (baseline, no transaction: {f['baseline_per_s']:6.1f}/s over {f['baseline_creates']})"
              f"  commit {f['commit_s']:6.2f} s"
              f"  stage+commit {f['tx_total_s']:6.2f} s (baseline: {f['baseline_total_s']:7.2f} s)")
        if name == "local":
            print(f"{'':15} cpu: staging {f['staged_cpu_s']:.2f} s, commit {f['commit_cpu_s']:.2f} s")
        else:
            print(f"{'':15} cpu: client {f['staged_cpu_s'] + f['commit_cpu_s']:.2f} s (staging and commit),"
                  f" server {f['server_cpu_s']:.2f} s (the whole run, baseline included)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
