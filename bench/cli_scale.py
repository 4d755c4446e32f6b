"""Per-command cost of the CLI against a small and a ten times bigger repository (issue 14).

Opening the repository, `info`, `get` and `ls` of something small must cost the same whatever the
repository holds (index look-ups): each command at the bigger size is printed beside the same
command at the smaller one, with their ratio (target: within 10%). `ls` of the big flat container
reports the time to its first line (target < 0.2 s). The repositories are built as bench/scale.py
builds them (one flat container /c of N children, 1% binaries), plus a small container /small.

    .venv/bin/python bench/cli_scale.py                        # 10k and 100k objects
    .venv/bin/python bench/cli_scale.py --sizes 10000 100000 --runs 9
    .venv/bin/python bench/cli_scale.py --smoke                # tiny sizes, for CI
    .venv/bin/python bench/cli_scale.py --reuse R10K R100K     # repositories built before

Wall time and CPU time (user + sys) of each process are both printed: on a shared machine the
wall time waits for the cores, so the size comparison is made on CPU time.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402  # bench/scale.py: its builder and its process timer

from fcrctl.repository import open_repository  # noqa: E402
from fcrctl.repository.base import ResourceSpec  # noqa: E402

FIRST_LINE_TARGET = 0.2


def commands(count: int) -> dict[str, tuple[list[str], bool]]:
    """name -> (fcrctl arguments, time to the first line instead of the whole run)."""
    return {
        "fcrctl --version (start-up)": (["--version"], False),
        "info /c/x1": (["info", "/c/x1"], False),
        "info /c/x(N-1) (the last)": (["info", f"/c/x{count - 1}"], False),
        "get /small (container)": (["get", "/small"], False),
        "get /small/b (binary)": (["get", "/small/b"], False),
        "ls /small": (["ls", "/small"], False),
        "ls /c (N children): first line": (["ls", "/c"], True),
    }


def prepare(where: Path, count: int, workers: int) -> None:
    scale.build(where, count, workers)
    repo = open_repository(str(where))
    try:
        repo.create("/small", ResourceSpec())
        for i in range(3):
            repo.create(f"/small/c{i}", ResourceSpec())
        repo.create("/small/b", ResourceSpec(content=io.BytesIO(b"small binary\n"), mime_type="text/plain"))
    finally:
        repo.close()


def run(where: Path, args: list[str], first_line: bool) -> tuple[float, float]:
    """(wall seconds, to the first stdout line with ``first_line``; CPU seconds of the process).
    On a shared machine the CPU figure is the steadier one: the wall time waits for the cores."""
    started = time.perf_counter()
    proc = subprocess.Popen([*scale.FCRCTL, "--repo", str(where), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    wall = None
    if first_line:  # the rest of the listing is not waited for: its CPU is then the first line's
        if not proc.stdout.readline():
            raise SystemExit(f"fcrctl {' '.join(args)} printed nothing on {where}")
        wall = time.perf_counter() - started
        proc.kill()
    for _ in iter(lambda: proc.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
        pass
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 and not first_line:
        raise SystemExit(f"fcrctl {' '.join(args)} failed on {where}")
    return wall if wall is not None else time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def measure(repos: list[tuple[Path, int]], runs: int) -> list[dict[str, tuple[float, float]]]:
    """Per repository: name -> (median wall, median CPU). Commands and repositories alternate run
    by run, so a machine whose load drifts weighs on both sizes alike."""
    samples: list[dict[str, list[tuple[float, float]]]] = [{} for _ in repos]
    for _ in range(runs):
        for name in commands(0):
            for (where, count), got in zip(repos, samples, strict=True):
                args, first_line = commands(count)[name]
                got.setdefault(name, []).append(run(where, args, first_line))
    return [{name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
             for name, got in per.items()} for per in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 run: checks the benchmark works")
    parser.add_argument("--reuse", type=Path, nargs=2, metavar=("SMALL", "BIG"),
                        help="measure repositories this benchmark built before (kept, not deleted)")
    args = parser.parse_args()
    small, big = (40, 400) if args.smoke else sorted(args.sizes)
    runs = 1 if args.smoke else args.runs
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-cli-scale-", dir=os.environ.get("BENCH_DIR")))
    try:
        repos = []
        for i, n in enumerate((small, big)):
            where = args.reuse[i] if args.reuse else work / f"repo-{n}"
            if not args.reuse:
                prepare(where, n, 2 if args.smoke else args.workers)
            repos.append((where, n))
        report(small, big, runs, measure(repos, runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(small: int, big: int, runs: int, results: list[dict[str, tuple[float, float]]]) -> None:
    load = os.getloadavg()[0]
    print(f"median of {runs} runs per command, seconds (python -m fcrctl, {os.cpu_count()} cores, load {load:.1f})")
    print(f"{'command':38}{'wall ' + format(small, ','):>12}{'wall ' + format(big, ','):>13}"
          f"{'CPU ' + format(small, ','):>12}{'CPU ' + format(big, ','):>12}{'CPU ratio':>10}   target")
    for (name, (wa, ca)), (wb, cb) in zip(results[0].items(), results[1].values(), strict=True):
        ratio = cb / ca if ca else float("inf")
        if "first line" in name:
            verdict = f"first line < {FIRST_LINE_TARGET} s: {'met' if wb < FIRST_LINE_TARGET else 'NOT met'}"
        else:
            verdict = f"CPU ratio <= 1.10: {'met' if ratio <= 1.10 else 'NOT met'}"
        print(f"{name:38}{wa:>12.3f}{wb:>13.3f}{ca:>12.3f}{cb:>12.3f}{ratio:>10.2f}   {verdict}")


if __name__ == "__main__":
    main()
