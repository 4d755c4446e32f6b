"""Benchmark transactions: stage N small creates inside one transaction, then commit.

    .venv/bin/python bench/tx.py            # 10,000 creates, local and over `fcrctl serve` (both styles)
    .venv/bin/python bench/tx.py --smoke    # a tiny run for CI

Prints the staging rate (creates/s) and the commit time for each. Targets (2 cores):
>= 1,000 staged creates/s locally, and the commit of 10,000 creates under 20 s.
"""

from __future__ import annotations

import argparse
import json
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


def run(target: str, count: int, **options: object) -> dict[str, float]:
    repo = open_repository(target, **options)
    try:
        repo.create("/batch", ResourceSpec())
        info = repo.begin_transaction(timeout=600)  # type: ignore[attr-defined]
        inside = repo.in_transaction(info.id)  # type: ignore[attr-defined]
        start = time.perf_counter()
        for i in range(count):
            inside.create(f"/batch/item{i}", _spec(f"/batch/item{i}", i))
        staged = time.perf_counter() - start
        start = time.perf_counter()
        repo.commit_transaction(info.id)  # type: ignore[attr-defined]
        commit = time.perf_counter() - start
        assert sum(1 for _ in repo.children("/batch")) == count
        return {"creates": count, "staged_per_s": round(count / staged, 1), "commit_s": round(commit, 2)}
    finally:
        repo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny run for CI")
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    count = 50 if args.smoke else args.count
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-tx-"))
    results: dict[str, dict[str, float]] = {}
    try:
        results["local"] = run(str(work / "local"), count, create=True)
        from tests.server_fixture import start_server

        for dialect in ("fedora4", "fedora6"):
            where = work / dialect
            open_repository(str(where), create=True).close()
            with start_server(where, dialect=dialect) as handle:
                results[f"serve-{dialect}"] = run(handle.url, max(10, count // 5), api=dialect)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, figures in results.items():
        print(f"{name:16} {figures['creates']:6} creates  staged {figures['staged_per_s']:8.1f}/s  "
              f"commit {figures['commit_s']:6.2f} s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
