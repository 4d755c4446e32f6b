"""How the store operations' costs grow with repository size (issue 14): upload after 100 changes,
unchanged upload, verify-backup (no --read-data) of an unchanged snapshot, locally and in the store
(after a whole verify --from, which records what it found sound), delete-backup of a delta and
prune-backups of a chain's full manifest, at two or more sizes built by bench/scale.py's builder.

    .venv/bin/python bench/store_scale.py                        # 10k and 100k objects (BENCH_DIR)
    .venv/bin/python bench/store_scale.py --sizes 10000 30000
    .venv/bin/python bench/store_scale.py --smoke                # tiny sizes for CI
    .venv/bin/python bench/store_scale.py --baseline /work/main  # each size run by that checkout's fcrctl too
    BENCH_DIR=/big .venv/bin/python bench/store_scale.py --keep  # leave what was built (delete it later)
    BENCH_DIR=/big .venv/bin/python bench/store_scale.py --uploads /work/bench-data/scale/repo-10000 \
        /work/bench-data/scale/repo-100000 /work/bench-data/scale/repo-300000 --baseline /work/main
        # the two nightly uploads only, on repositories bench/scale.py --keep built (sized by their
        # name's -N suffix), alternated with the baseline's in the same minutes (--rounds, default 3)

Each operation is its own `fcrctl` process (wall and CPU seconds).
With ``--uploads``, the unchanged upload and the upload after 100 changes (issue 14) are timed on
the repositories given, into a store each in BENCH_DIR (made by a first, untimed upload when
missing, and kept for the next run): per round and size, this checkout's fcrctl and the
baseline's alternate, and the least CPU of the rounds is kept (user and system apart: an uncached
inode's stat is system time and waits on the disk). Printed: each row's wall, user and system
seconds per size, the growth exponent over the sizes and the fitted value at 1M (bench/scale.py's
fit), beside the baseline's. With ``--baseline DIR`` every
size is measured by that checkout's fcrctl first, then by this one's, on repositories built alike,
in the same minutes (a shared machine's load hits both). The baseline beside each figure
is the same operation at the smallest size; the growth exponent k fits cost ~ size**k between the
smallest and the largest (0: costs what changed; 1: a walk of everything).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import build, change  # noqa: E402

KEPT = [14]  # backups a nightly prune keeps
NIGHTS = 3  # nightly prunes measured
KEEP = [False]  # --keep: leave what was built (a mass deletion slows this ext4's inode creation for minutes)
TREE = [ROOT]  # the checkout whose fcrctl runs (python -m fcrctl from its directory)
# every checkout's bytecode cached alike, outside the checkouts (one may have a __pycache__, one not)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def fcrctl(repo: Path, *args: str) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, JSON output) of one `fcrctl --json` process."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "fcrctl", "--repo", str(repo), "--json", *args], cwd=TREE[0],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"fcrctl {' '.join(args)} failed ({proc.returncode}): {err.decode()[-800:]}")
    cpu = _cpu_of_children()
    return elapsed, cpu, json.loads(out) if out.strip() else {}


_last = [0.0]


def _cpu_of_children() -> float:
    t = os.times()
    total = t.children_user + t.children_system
    spent, _last[0] = total - _last[0], total
    return spent


def measure(work: Path, size: int, name: str = "this") -> dict[str, tuple[float, float]]:
    repo, store = work / f"repo-{size}-{name}", work / f"store-{size}-{name}"
    build(repo, size, 2)
    _cpu_of_children()
    got: dict[str, tuple[float, float]] = {}
    first = fcrctl(repo, "backup", "--label", "one", "--to", str(store))[2]["id"]
    change(repo, size, min(100, size // 8), 0, "one")
    changed = fcrctl(repo, "backup", "--label", "two")[2]["id"]
    wall, cpu, _ = fcrctl(repo, "upload-backup", changed, str(store))
    got["upload after 100 changes"] = (wall, cpu)
    unchanged = fcrctl(repo, "backup", "--label", "three")[2]["id"]
    wall, cpu, out = fcrctl(repo, "upload-backup", unchanged, str(store))
    assert out["manifest_copied"], out
    got["unchanged upload"] = (wall, cpu)
    wall, cpu, out = fcrctl(repo, "verify-backup", changed)
    assert out["ok"], out
    got["verify-backup (local, first)"] = (wall, cpu)
    wall, cpu, out = fcrctl(repo, "verify-backup", unchanged)
    assert out["ok"], out
    got["verify-backup (local, unchanged)"] = (wall, cpu)
    wall, cpu, out = fcrctl(repo, "verify-backup", changed, "--from", str(store))
    assert out["ok"], out
    got["verify-backup --from (whole, no record)"] = (wall, cpu)
    wall, cpu, out = fcrctl(repo, "verify-backup", unchanged, "--from", str(store))
    assert out["ok"], out
    got["verify-backup --from (unchanged)"] = (wall, cpu)
    # a delta removed: the one stored as changes to it is rewritten on its base (O(changes));
    # then the full manifest removed: retired, the base of the one left (manifest/retired.py: O(1);
    # before, that one was rewritten whole: O(objects))
    wall, cpu, out = fcrctl(repo, "delete-backup", changed, "--from", str(store))
    got["delete-backup --from (a delta)"] = (wall, cpu)
    wall, cpu, out = fcrctl(repo, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", str(store))
    assert out["remove"] == [first], out
    got["prune-backups --from (1 of 2)"] = (wall, cpu)
    # a nightly prune: the store holds KEPT[0] backups, each after 100 changes, and the oldest goes:
    # a delta folded onto the retired full manifest each night (before: the first night made the
    # newest backup whole)
    for night in range(KEPT[0] - 1 + NIGHTS):  # the store holds one backup: the unchanged one, now full
        change(repo, size, min(100, size // 8), 1000 + night * 100, f"night{night}")
        fcrctl(repo, "backup", "--label", f"night{night}", "--to", str(store))
        if night >= KEPT[0] - 1:
            wall, cpu, out = fcrctl(repo, "prune-backups", "--keep-last", str(KEPT[0]), "--group-by", "none",
                                    "--from", str(store))
            assert len(out["remove"]) == 1, out
            got[f"nightly prune {night - KEPT[0] + 2} ({KEPT[0]} kept)"] = (wall, cpu)
    if not KEEP[0]:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
    return got


def table(sizes: list[int], results: dict[int, dict[str, tuple[float, float]]]) -> None:
    small, big = sizes[0], sizes[-1]
    print(f"{'operation':<42}" + "".join(f" {f'{s} wall s':>13} {'CPU s':>6}" for s in sizes) + "  growth k")
    for name in results[small]:
        row = f"{name:<42}"
        for s in sizes:
            wall, cpu = results[s][name]
            row += f" {wall:>13.2f} {cpu:>6.2f}"
        a, b = results[small][name][1], results[big][name][1]  # CPU: steadier than wall on a shared machine
        k = math.log(b / a) / math.log(big / small) if a > 0 and b > 0 and big > small else float("nan")
        print(f"{row}  {k:>7.2f}")


def _k(a: float, b: float, small: int, big: int) -> float:
    return math.log(b / a) / math.log(big / small) if a > 0 and b > 0 and big > small else float("nan")


def side_by_side(sizes: list[int], base: dict[int, dict[str, tuple[float, float]]],
                 this: dict[int, dict[str, tuple[float, float]]]) -> None:
    """CPU seconds, the baseline's and this tree's, with the growth exponent of each (markdown)."""
    small, big = sizes[0], sizes[-1]
    cols = [f"baseline {s}" for s in sizes] + ["k"] + [f"this {s}" for s in sizes] + ["k"]
    print("\nCPU seconds, side by side:\n\n| row | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for name in this[small]:
        cells = []
        for got in (base, this):
            if name not in got[small]:
                cells += ["-"] * (len(sizes) + 1)
                continue
            cells += [f"{got[s][name][1]:.2f}" for s in sizes]
            cells.append(f"{_k(got[small][name][1], got[big][name][1], small, big):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def _timed(tree: Path, repo: Path, *args: str) -> tuple[float, float, float, dict]:
    """(wall, user, system seconds, JSON output) of one `fcrctl --json` process run from ``tree``."""
    before = os.times()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fcrctl", "--repo", str(repo), "--json", *args], cwd=tree,
                          capture_output=True, env=ENV)
    wall = time.perf_counter() - started
    after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"fcrctl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")
    _cpu_of_children()  # (the other rows' counter moves on)
    return (wall, after.children_user - before.children_user, after.children_system - before.children_system,
            json.loads(proc.stdout) if proc.stdout.strip() else {})


def uploads(repos: list[Path], trees: list[tuple[str, Path]], work: Path, rounds: int) -> None:
    """The unchanged upload and the upload after 100 changes, per repository and tree, the least
    CPU of ``rounds`` kept; a table per tree with the exponent and the fit at 1M."""
    from scale import fit

    sizes = [int(repo.name.rsplit("-", 1)[-1]) for repo in repos]
    rows = ("unchanged upload", "upload after 100 changes")
    best: dict[str, dict[int, dict[str, tuple[float, float, float]]]] = {n: {s: {} for s in sizes} for n, _ in trees}
    for repo, size in zip(repos, sizes, strict=True):
        store = work / f"uploads-store-{repo.name}"
        if not (store / "manifests").is_dir():
            started = time.perf_counter()
            _timed(trees[-1][1], repo, "backup", "--label", "first", "--to", str(store))
            print(f"{size:,} objects: first upload to {store} in {time.perf_counter() - started:.1f} s", flush=True)
        # the store brought up to the repository as it is now (other benches may have written it since
        # the store's last upload): else the first "unchanged" upload below is not one
        settled = _timed(trees[-1][1], repo, "backup", "--label", "settle")[3]["id"]
        _timed(trees[-1][1], repo, "upload-backup", settled, str(store))
        for r in range(rounds):
            for name, tree in trees:
                for i, row in enumerate(rows):
                    if i:
                        change(repo, size, min(100, max(1, size // 8)), (r * 7919 + len(name) * 131) % size,
                               f"{name}{r}{time.time()}")
                    # (a label each: ids are the second and the label, and these come faster than one a second)
                    made = _timed(tree, repo, "backup", "--label", f"{name}-{r}-{i}")[3]["id"]
                    wall, user, system, out = _timed(tree, repo, "upload-backup", made, str(store))
                    assert out["manifest_copied"] == (row == rows[0]), out
                    got = best[name][size]
                    if row not in got or user + system < got[row][1] + got[row][2]:
                        got[row] = (wall, user, system)
            print(f"{size:,} objects, round {r + 1}: " + "; ".join(
                f"{name} {row} {wall:.3f} s ({user:.2f} user + {system:.2f} sys)"
                for name, _ in trees for row, (wall, user, system) in best[name][size].items()), flush=True)
    print(f"\nuploads, least CPU of {rounds} round(s) ({', '.join(f'{n}: {t}' for n, t in trees)})")
    head = "".join(f"{s:>22,}" for s in sizes)
    print(f"{'row':44}{head}{'exponent':>10}{'fit @1M':>10}")
    for row in rows:
        for name, _ in trees:
            for kind, pick in (("wall s", lambda v: v[0]), ("CPU s", lambda v: v[1] + v[2])):
                values = [pick(best[name][s][row]) for s in sizes]
                b, at_1m = fit(sizes, values)
                cells = "".join(f"{v:>22.3f}" if kind == "wall s" else
                                f"{f'{v:.3f} ({best[name][s][row][2]:.2f} sys)':>22}" for s, v in zip(sizes, values,
                                                                                          strict=True))
                print(f"{f'{name}: {row}, {kind}':44}{cells}{b:>10.2f}{at_1m:>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. main) measured beside this one")
    parser.add_argument("--keep", action="store_true", help="leave the repositories and stores built (in BENCH_DIR)")
    parser.add_argument("--uploads", type=Path, nargs="+", metavar="REPO",
                        help="time only the two nightly uploads on these built repositories (sized by -N)")
    parser.add_argument("--rounds", type=int, default=3, help="with --uploads: rounds per size (least CPU kept)")
    args = parser.parse_args()
    if args.uploads:
        trees = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this", ROOT)]
        work = Path(os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="fcrctl-bench-uploads-"))
        ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        uploads(sorted(args.uploads, key=lambda p: int(p.name.rsplit("-", 1)[-1])), trees, work, args.rounds)
        return
    KEEP[0] = args.keep
    sizes = [200, 800] if args.smoke else sorted(args.sizes)
    if args.smoke:
        KEPT[0] = 3
    trees = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this", ROOT)]
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-store-scale-", dir=os.environ.get("BENCH_DIR")))
    ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    try:
        results: dict[str, dict[int, dict[str, tuple[float, float]]]] = {name: {} for name, _ in trees}
        for size in sizes:
            for name, tree in trees:
                TREE[0] = tree
                subprocess.run([sys.executable, "-m", "fcrctl", "--version"], cwd=tree, env=ENV, check=True,
                               capture_output=True)  # its bytecode cached before anything is timed
                _cpu_of_children()
                results[name][size] = got = measure(work, size, name)
                print(f"{name} {size} objects: " + ", ".join(f"{op} {wall:.2f} s ({cpu:.2f} CPU s)"
                                                             for op, (wall, cpu) in got.items()), flush=True)
        for name, tree in trees:
            print(f"\n{name} ({tree}):")
            table(sizes, results[name])
        if args.baseline:
            side_by_side(sizes, results["baseline"], results["this"])
        if args.smoke:  # the --uploads rows too, on two small repositories built here
            small = [work / f"uploads-repo-{n}" for n in (200, 400)]
            for repo in small:
                build(repo, int(repo.name.rsplit("-", 1)[-1]), 1)
            TREE[0] = ROOT
            uploads(small, trees, work, 1)
    finally:
        if args.keep:
            print(f"\nleft in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
