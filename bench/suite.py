"""The test suite's cost: this tree's suite beside a baseline tree's (a git ref, main by default),
as `python -m pytest -q` runs it (each tree's own pytest configuration): wall time, CPU seconds
of the whole run (workers, CLIs and servers they reaped), the sum of per-test durations and of
per-test CPU seconds (bench/_pytest_cpu.py), and the tests that cost the most CPU.

    .venv/bin/python bench/suite.py                          # this tree vs main, side by side
    .venv/bin/python bench/suite.py --baseline REF --sequential  # on an idle machine: one, then the other
    .venv/bin/python bench/suite.py -- tests/test_x.py -n 0  # any pytest arguments, for both trees
    .venv/bin/python bench/suite.py --smoke                  # one small file against HEAD (CI)

Target (the brief): the suite well under 5 minutes on 2 cores (aim: <= 150 s of tests, idle).
On a machine other jobs load, compare the CPU columns and a side-by-side run, not one wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SMOKE_TESTS = ["tests/test_names.py", "-n", "0", "-k", "not_utf8"]  # two quick tests: pytest itself is checked
TARGET_S = 300.0
AIM_S = 150.0


@dataclass
class Run:
    label: str
    tree: Path
    wall: float = 0.0
    cpu: float = 0.0
    code: int = -1
    tail: str = ""
    records: list[dict[str, object]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def per_test(self) -> dict[str, tuple[float, float]]:
        totals: dict[str, tuple[float, float]] = {}
        for r in self.records:
            cpu, wall = totals.get(str(r["test"]), (0.0, 0.0))
            totals[str(r["test"])] = (cpu + float(r["cpu"]), wall + float(r["wall"]))  # type: ignore[arg-type]
        return totals


def baseline_tree(ref: str, into: Path, *, compile_all: bool = True) -> Path | None:
    """The files of ``ref`` (as committed) in a folder of their own, or None without git or the ref."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True,
                                 check=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as e:
        print(f"no baseline: git archive {ref} failed ({e})", file=sys.stderr)
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    if (ROOT / ".ci-node").is_dir():  # Azurite, installed once (else the baseline's first Azure test installs it)
        (into / ".ci-node").symlink_to(ROOT / ".ci-node")
    # compiled ahead, as this tree is: else its workers would pay for compiling every module
    if compile_all:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "fcrctl"), str(into / "tests")],
                       capture_output=True, check=False)
    return into


def run_suite(run: Run, pytest_args: list[str], work: Path) -> None:
    """``python -m pytest -q`` in ``run.tree``, its fcrctl package ahead of the installed one."""
    report = work / f"{run.label}.json"
    log = work / f"{run.label}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(run.tree), str(BENCH)])}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_pytest_cpu",
           f"--cpu-json={report}", *pytest_args]
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=run.tree, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # its rusage counts every descendant it reaped
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.wall = time.perf_counter() - start
    run.cpu = usage.ru_utime + usage.ru_stime
    run.code = proc.returncode
    lines = log.read_text("utf-8", "replace").strip().splitlines()
    run.tail = lines[-1] if lines else ""
    run.failures = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    if report.exists():
        run.records = json.loads(report.read_text())["records"]


def per_file(run: Run) -> dict[str, float]:
    totals: dict[str, float] = {}
    for name, (cpu, _) in run.per_test().items():
        totals[name.split("::")[0]] = totals.get(name.split("::")[0], 0.0) + cpu
    return totals


def print_table(runs: list[Run], top: int, load_at_start: float) -> None:
    print(f"test suite cost ({os.cpu_count()} cores, load {load_at_start:.1f} at the start,"
          f" {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'tree':<28}{'wall s':>9}{'CPU s':>9}{'tests':>7}{'sum dur s':>11}{'sum CPU s':>11}  result")
    for run in runs:
        totals = run.per_test()
        print(f"{run.label:<28}{run.wall:9.1f}{run.cpu:9.1f}{len(totals):7d}"
              f"{sum(w for _, w in totals.values()):11.1f}{sum(c for c, _ in totals.values()):11.1f}  {run.tail}")
    if len(runs) == 2 and runs[1].cpu:
        mine, base = runs
        print(f"CPU ratio this/baseline {mine.cpu / base.cpu:.2f}; wall ratio {mine.wall / base.wall:.2f}"
              f" (target: the suite idle < {TARGET_S:.0f} s on 2 cores, aim <= {AIM_S:.0f} s)")
    for run in runs:
        for line in run.failures:
            print(f"{run.label}: {line}")
    files = [per_file(run) for run in runs]
    print(f"\nmost CPU by file (CPU s: {', '.join(run.label for run in runs)}):")
    for name in sorted(files[0], key=lambda f: -files[0][f])[:top]:
        print("".join(f"{f.get(name, 0.0):8.1f}" for f in files) + f"  {name}")
    totals = runs[0].per_test()
    print(f"\nmost CPU in {runs[0].label} (CPU s, wall s):")
    for name, (cpu, wall) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"{cpu:8.2f}{wall:8.2f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare with (default main)")
    parser.add_argument("--no-baseline", action="store_true", help="this tree only")
    parser.add_argument("--sequential", action="store_true", help="one run after the other (an idle machine)")
    parser.add_argument("--top", type=int, default=15, help="how many of the costliest tests to list")
    parser.add_argument("--smoke", action="store_true", help="one small file, baseline HEAD: checks the bench works")
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest in both trees")
    args = parser.parse_args()
    pytest_args = SMOKE_TESTS if args.smoke else args.pytest_args
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fcrctl-bench-suite-") as tmp:
        work = Path(tmp)
        runs = [Run("this tree", ROOT)]
        if not args.no_baseline:
            ref = "HEAD" if args.smoke else args.baseline
            tree = baseline_tree(ref, work / "baseline", compile_all=not args.smoke)  # smoke: two tests
            if tree is not None:
                runs.append(Run(f"baseline {ref}", tree))
        if args.sequential or len(runs) == 1:
            for run in runs:
                run_suite(run, pytest_args, work)
        else:
            threads = [threading.Thread(target=run_suite, args=(run, pytest_args, work)) for run in runs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        print_table(runs, 5 if args.smoke else args.top, load_at_start)
        if args.smoke and any(run.code != 0 for run in runs):
            for run in runs:
                print(f"{run.label}: exit {run.code}: {(work / (run.label + '.log')).read_text()[-2000:]}",
                      file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
