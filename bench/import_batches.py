"""Local `fcrctl import` of many small resources: ours beside the paths it replaced, in the same run.

    .venv/bin/python bench/import_batches.py                     # 2,000 and 10,000 resources
    .venv/bin/python bench/import_batches.py --resources 5000 --mb 10
    .venv/bin/python bench/import_batches.py --smoke              # a tiny run for CI

The source is bench/transfer.py's (small containers, 100 per parent, plus 1 MB binaries),
exported once with `fcrctl export --no-versions`. Each import is its own `fcrctl` process into
an empty repository, so its peak RSS is its own. The baselines, measured in the same run: the
write path without batches (each resource its own durable OCFL commit, as before issue 17), and
the batched path reading every file into an rdflib graph (import_lines.py's text path off, as
before it). "ours" reads files as text and writes in batches, reading on 1 and on 2 processes
(--jobs; 2 is the default), and with --baseline-tree the default by another checkout's fcrctl
(e.g. main's), alternating with ours --rounds times, the best CPU of each kept. Printed:
resources/s, CPU seconds per 1,000 resources (= ms per resource: the import's process, its threads
and its workers; what a loaded machine cannot hide) and peak RSS (the largest of them). Targets
(issue 17): >= 1,000 resources/s on 2 cores (below this machine's disk floor: see bench/transfer.py),
<= 1.2 CPU ms per resource.

    .venv/bin/python bench/import_batches.py --resources 10000 --baseline-tree /work/main --rounds 3

    .venv/bin/python bench/import_batches.py --versions 3 --resources 3000   # resources with versions
    .venv/bin/python bench/import_batches.py --versions 3 --baseline-tree /work/main

--versions N imports an export of resources with N mementos each (bench/_versioned_export.py: every
7th changed after its newest memento, every 25th a binary, every 10th with an ACL) and prints CPU
seconds per 1,000 versioned resources: ours (each new object installed with all its versions, many
objects per commit) beside the baseline in the same run, this tree with versioned resources and ACLs
written one commit per version (as before), and with --baseline-tree the same import by another
checkout's fcrctl (e.g. main's: its PYTHONPATH), run alternately with ours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from transfer import build  # noqa: E402 (bench/transfer.py: the shared source generator)

from fcrctl.repository import open_repository  # noqa: E402

# the child: runs fcrctl (without batches, or without the text path, for the baselines), then
# reports its own CPU and peak RSS
RUN = """
import resource, sys
if sys.argv[1] in ("single", "graph"):
    from fcrctl.services.transfer import import_lines
    import_lines.read = lambda data, old_base, dest: None  # every file through rdflib's graph
if sys.argv[1] == "single":
    from fcrctl.repository.local.repository import LocalRepository
    del LocalRepository.batch  # the importer then writes one commit per resource
if sys.argv[1] == "unbatched-versions":  # resources with versions or an ACL one commit per write, as before
    from fcrctl.services.transfer.import_write import Writer
    Writer.batchable = lambda self, p: (p.current is not None and p.entry.path != "/" and p.acl is None
                                        and not p.versions)
from fcrctl.cli.main import app
try:
    app(sys.argv[2:], prog_name="fcrctl")
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # --jobs workers
    cpu = usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime
    print(cpu, max(usage.ru_maxrss, children.ru_maxrss), file=sys.stderr)
"""


def fcrctl_import(source: Path, target: Path, mode: str, jobs: int,
                  tree: Path | None = None) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, peak RSS MB, resources) of one import into an empty repository;
    ``mode``: ours, graph (rdflib reads every file), single (that, and one commit each) or
    unbatched-versions; ``tree``: run that checkout's fcrctl instead of this one."""
    open_repository(str(target), create=True).close()
    cmd = [sys.executable, "-c", RUN, mode, "--repo", str(target), "--json",
           "import", str(source), "--jobs", str(jobs)]
    env = dict(os.environ, PYTHONPATH=str(tree if tree is not None else ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else stale .pyc files are compiled again on every run
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=target.parent)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-1500:]}")
    cpu, rss_kb = done.stderr.strip().splitlines()[-1].split()
    return seconds, float(cpu), int(rss_kb) // 1024, json.loads(done.stdout)["resources"]


def measure(count: int, megabytes: int, work: Path, tree: Path | None = None,
            rounds: int = 1) -> list[tuple[str, float, float, int]]:
    source, out = work / f"source-{count}", work / f"export-{count}"
    build(source, count, megabytes)
    done = subprocess.run([sys.executable, "-m", "fcrctl", "--repo", str(source), "export", "/", str(out),
                           "--no-versions"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"export failed: {done.stderr[-1500:]}")
    rows = []
    for name, mode, jobs in (("baseline (1 commit each)", "single", 1), ("baseline (rdflib graphs)", "graph", 1),
                             ("ours --jobs 1", "ours", 1)):
        target = work / f"target-{count}-{len(rows)}"
        seconds, cpu, rss, resources = fcrctl_import(out, target, mode, jobs)
        rows.append((name, resources / seconds, cpu * 1000 / resources, rss))
        _remove(target)
    # the default beside another checkout's (--baseline-tree), alternating, the best CPU of each kept
    runs = ([(f"baseline tree {tree.name}", tree)] if tree is not None else []) + [("ours --jobs 2 (default)", None)]
    best: dict[str, tuple[float, float, int, int]] = {}
    for round_ in range(rounds):
        for number, (name, where) in enumerate(runs):
            target = work / f"target-{count}-r{round_}-{number}"
            seconds, cpu, rss, resources = fcrctl_import(out, target, "ours", 2, where)
            if name not in best or cpu < best[name][1]:
                best[name] = (seconds, cpu, rss, resources)
            _remove(target)
    for name, _ in runs:
        seconds, cpu, rss, resources = best[name]
        rows.append((name, resources / seconds, cpu * 1000 / resources, rss))
    return rows


def _remove(target: Path) -> None:
    """An import's repository, once measured (a 100,000-resource one is ~1.4M inodes)."""
    import shutil

    shutil.rmtree(target, ignore_errors=True)


def measure_versions(count: int, versions: int, work: Path, tree: Path | None,
                     rounds: int) -> list[tuple[str, float, float, int]]:
    """Rows for an import of ``count`` resources with ``versions`` mementos each; each run ``rounds``
    times, alternating, the best CPU kept (a loaded machine only ever adds)."""
    from _versioned_export import write

    source = work / f"versioned-{count}"
    write(source, count, versions)
    runs = [("baseline (1 commit per version)", "unbatched-versions", None)]
    if tree is not None:
        runs.append((f"baseline tree {tree.name}", "ours", tree))
    runs.append(("ours --jobs 2 (default)", "ours", None))
    best: dict[str, tuple[float, float, int]] = {}
    for round_ in range(rounds):
        for number, (name, mode, where) in enumerate(runs):
            target = work / f"vtarget-{count}-{round_}-{number}"
            seconds, cpu, rss, _ = fcrctl_import(source, target, mode, 2, where)
            if name not in best or cpu < best[name][1]:
                best[name] = (seconds, cpu, rss)
    return [(name, count / best[name][0], best[name][1] * 1000 / count, best[name][2]) for name, _, _ in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, nargs="*", default=[2000, 10000])
    parser.add_argument("--mb", type=int, default=5, help="megabytes of binaries (1 MB each) per run")
    parser.add_argument("--versions", type=int, default=0, help="mementos per resource: the versioned mode")
    parser.add_argument("--baseline-tree", type=Path, help="also import with this checkout (e.g. /work/main)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of ours and the baseline tree, best CPU kept")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI)")
    args = parser.parse_args()
    counts, megabytes = ([60], 1) if args.smoke else (args.resources, args.mb)
    print(f"local import, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="fcrctl-bench-import-") as tmp:
        if args.versions or args.smoke:
            versions = args.versions or 3
            print(f"resources with {versions} mementos each (CPU s per 1,000 versioned resources)")
            print(f"{'resources':>9}  {'run':<32} {'res/s':>7} {'CPU s/1000':>10} {'RSS MB':>7}")
            for count in [30] if args.smoke else args.resources:
                for name, rate, cpu, rss in measure_versions(count, versions, Path(tmp), args.baseline_tree,
                                                             args.rounds):
                    print(f"{count:>9,}  {name:<32} {rate:>7.0f} {cpu:>10.2f} {rss:>7}", flush=True)
            if not args.smoke:
                return
        print(f"{'resources':>9}  {'run':<26} {'res/s':>7} {'CPU s/1000':>10} {'RSS MB':>7}")
        for count in counts:
            for name, rate, cpu, rss in measure(count, megabytes, Path(tmp), args.baseline_tree, args.rounds):
                print(f"{count:>9,}  {name:<26} {rate:>7.0f} {cpu:>10.2f} {rss:>7}", flush=True)


if __name__ == "__main__":
    main()
