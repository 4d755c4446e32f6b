"""Start-up of the CLI per command (issue 14): `fcrctl ls /c` to its first line, `info`, `get` of a
binary and of RDF, and `--help`, beside the floors measured in the same run: the bare interpreter,
`python -c pass` with this venv's site (an editable install's finder included) and
`python -c "import typer"`. Median wall and CPU seconds of --runs processes per row; with
--baseline TREE the same commands from that tree's code, run alternately with ours (a pair in the
same minute: on a shared machine CPU seconds are the figure to compare, walls move with the load).

    .venv/bin/python bench/cli_startup.py                                   # a 1,000-object repository
    .venv/bin/python bench/cli_startup.py --sizes 10000 100000              # as bench/scale.py builds them
    .venv/bin/python bench/cli_startup.py --sizes 10000 100000 --baseline /work/main
    .venv/bin/python bench/cli_startup.py --smoke                           # 3 runs, 200 objects, for CI

Every fcrctl row runs `python -m fcrctl` with PYTHONPATH=TREE and its bytecode compiled once into
a scratch PYTHONPYCACHEPREFIX (a tree is not written to), so ours and the baseline start alike.
The console script (`fcrctl`, this venv's install) and `-m fcrctl` cost the same within noise, and
so do an editable and a regular install for these commands: the finder's imports (pathlib, re,
urllib.parse) are ones the CLI makes anyway; they show in the `python -c pass` floor only.
Repositories: one flat container /c of N children, 1% of them binaries, built by bench/scale.py's
builder in BENCH_DIR (kept for the next run with the same N; --rebuild: again) or a temp dir.
Targets (issue 14): ls first line < 0.2 s (aim 0.12 s idle) at any size; info and get within 10%
at the largest size of the smallest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402

FIRST_LINE_TARGET, FIRST_LINE_AIM = 0.2, 0.12  # seconds (issue 14)
FLAT = 0.10  # info and get at the largest size within 10% of the smallest
# Imported once untimed per tree, so that bytecode compiling is no part of any row
WARM = "import fcrctl.cli.main, fcrctl.cli.read, fcrctl.repository.local.repository, rdflib"


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def figures(self) -> tuple[float, float]:
        return statistics.median(self.wall), statistics.median(self.cpu)


def run_once(argv: list[str], env: dict[str, str], *, first_line: bool = False) -> tuple[float, float]:
    """(wall, CPU) seconds of one process. With ``first_line`` the wall is to its first line of
    output, and the rest is not read, as under `| head -1`: the process stops at its next write
    (8 KB on) and its CPU is all it spent (rusage: /proc's 10 ms ticks are too coarse here)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    assert proc.stdout is not None and proc.stderr is not None
    if first_line:
        line = proc.stdout.readline()
        wall = time.perf_counter() - started
        proc.stdout.close()
        if not line.startswith(b"/"):
            raise SystemExit(f"{' '.join(argv[-3:])}: no listing: {proc.stderr.read().decode()[-800:]}")
    else:
        proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if not first_line:
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in ((0, 141) if first_line else (0,)):  # 141: the closed pipe
        raise SystemExit(f"{' '.join(argv[-3:])} failed: {err.decode()[-800:]}")
    return wall, usage.ru_utime + usage.ru_stime


def fcrctl_command() -> list[str]:
    """The installed console script when it belongs to this interpreter, else ``python -m fcrctl``
    (bench/local_ops.py times its commands so)."""
    script = Path(sys.executable).with_name("fcrctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fcrctl"]


def median_wall_time(argv: list[str], runs: int, env: dict[str, str]) -> float:
    return statistics.median(run_once(argv, env)[0] for _ in range(runs))


def tree_env(tree: Path, pycache: Path) -> dict[str, str]:
    """Processes running ``tree``'s code, its bytecode (and the libraries') compiled into ``pycache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("FCRCTL_")}
    env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=str(pycache), XDG_CONFIG_HOME=str(pycache / "no-config"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "fcrctl")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-c", WARM], env=env, check=True)
    return env


def rows(repo: Path, count: int) -> dict[str, tuple[list[str], bool]]:
    """name -> (arguments after the interpreter, timed to the first line)."""
    binary = (count // 2) // 100 * 100  # bench/scale.py makes every 100th child a binary
    cli = ["-m", "fcrctl", "--repo", str(repo)]
    return {
        "python -c pass": (["-c", "pass"], False),
        'python -c "import typer"': (["-c", "import typer"], False),
        "fcrctl --help": (["-m", "fcrctl", "--help"], False),
        "fcrctl ls /c | head -1": ([*cli, "ls", "/c"], True),
        "fcrctl info": ([*cli, "info", f"/c/x{binary + 1}"], False),
        "fcrctl get (binary)": ([*cli, "get", f"/c/x{binary}"], False),
        "fcrctl get (RDF, turtle)": ([*cli, "get", f"/c/x{binary + 1}"], False),
    }


def measure(repo: Path, count: int, runs: int, trees: dict[str, dict[str, str]]) -> dict[str, dict[str, Samples]]:
    """name -> tree -> samples, each run of a row alternating between the trees."""
    bare = [sys.executable, "-I", "-c", "pass"]  # no site, no PYTHONPATH: the same for every tree
    results: dict[str, dict[str, Samples]] = {"python -I -c pass (bare)": {t: Samples() for t in trees}}
    for _ in range(runs):
        for samples in results["python -I -c pass (bare)"].values():
            samples.add(*run_once(bare, os.environ.copy()))
    for name, (args, first) in rows(repo, count).items():
        results[name] = {t: Samples() for t in trees}
        for env in trees.values():  # untimed: the first process of a row reads the files into the page cache
            run_once([sys.executable, *args], env, first_line=first)
        for _ in range(runs):
            for tree, env in trees.items():
                results[name][tree].add(*run_once([sys.executable, *args], env, first_line=first))
    script = Path(sys.executable).with_name("fcrctl")  # what a user of this venv types
    if script.exists():
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("FCRCTL_")}
        argv = [str(script), "--repo", str(repo), "ls", "/c"]
        ours = results["console script: ls | head -1"] = {next(iter(trees)): Samples()}  # this venv's install
        run_once(argv, env, first_line=True)
        for _ in range(runs):
            ours[next(iter(trees))].add(*run_once(argv, env, first_line=True))
    return results


def report(count: int, runs: int, results: dict[str, dict[str, Samples]]) -> None:
    trees = list(next(iter(results.values())))
    print(f"fcrctl start-up, {count:,} objects (1% binaries), median of {runs} runs, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; python -m fcrctl with PYTHONPATH=TREE:")
    print(f"  {'':<32}" + "".join(f"{tree[:22]:>24}" for tree in trees))
    print(f"  {'':<32}" + "".join(f"{'wall':>11} {'CPU':>11} " for _ in trees))
    for name, by_tree in results.items():
        cells = "".join(f"{w * 1000:>9.1f}ms {c * 1000:>9.1f}ms " for w, c in (s.figures for s in by_tree.values()))
        cells += f"{'-':>11} {'-':>11} " * (len(trees) - len(by_tree))
        print(f"  {name:<32}{cells}", flush=True)
    first = results["fcrctl ls /c | head -1"][trees[0]].figures[0]
    verdict = "met" if first < FIRST_LINE_TARGET else "NOT met"
    print(f"  ls first line {first:.3f} s: target < {FIRST_LINE_TARGET} s {verdict}; aim <= {FIRST_LINE_AIM} s idle "
          f"{'met' if first <= FIRST_LINE_AIM else 'not met (at this load)'}")


def across(sizes: list[int], runs: list[dict[str, dict[str, Samples]]]) -> None:
    """Each command's CPU at the largest size against the smallest: O(1) means within 10%."""
    tree = next(iter(runs[0][next(iter(runs[0]))]))
    print(f"per-command CPU of {tree} by size ({', '.join(f'{s:,}' for s in sizes)}), largest against smallest:")
    for name in runs[0]:
        if not name.startswith("fcrctl") or name == "fcrctl --help":
            continue
        cpus = [run[name][tree].figures[1] for run in runs]
        change = cpus[-1] / cpus[0] - 1
        cells = "  ".join(f"{c * 1000:7.1f}ms" for c in cpus)
        print(f"  {name:<32}{cells}   {change:+.0%} ({'within' if abs(change) <= FLAT else 'NOT within'} 10%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--baseline", type=Path, help="a tree of fcrctl to run beside ours (e.g. /work/main)")
    parser.add_argument("--rebuild", action="store_true", help="build the repositories again even if kept")
    parser.add_argument("--smoke", action="store_true", help="3 runs on 200 objects: checks the benchmark works")
    args = parser.parse_args()
    sizes, runs = ([200], 3) if args.smoke else (sorted(args.sizes), args.runs)
    scratch = Path(tempfile.mkdtemp(prefix="fcrctl-startup-"))
    work = scratch if args.smoke or not os.environ.get("BENCH_DIR") else Path(os.environ["BENCH_DIR"])
    try:
        pycache = scratch / "pycache"
        trees = {f"ours ({ROOT.name})": tree_env(ROOT, pycache)}
        if args.baseline is not None:
            trees[f"baseline ({args.baseline.name})"] = tree_env(args.baseline.resolve(), pycache)
        results = []
        for count in sizes:
            results.append(measure(scale.built(work / f"cli-{count}", count, args.rebuild), count, runs, trees))
            report(count, runs, results[-1])
        if len(sizes) > 1:
            across(sizes, results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
