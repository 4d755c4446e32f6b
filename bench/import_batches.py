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
(--jobs; 2 is the default). Printed: resources/s, CPU seconds per 1,000 resources (the import's
process and its workers: what a loaded machine cannot hide) and peak RSS (the largest of them).
Target (issue 17): >= 1,000 resources/s on 2 cores.
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
from fcrctl.cli.main import app
try:
    app(sys.argv[2:], prog_name="fcrctl")
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # --jobs workers
    cpu = usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime
    print(cpu, max(usage.ru_maxrss, children.ru_maxrss), file=sys.stderr)
"""


def fcrctl_import(source: Path, target: Path, mode: str, jobs: int) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, peak RSS MB, resources) of one import into an empty repository;
    ``mode``: ours, graph (rdflib reads every file) or single (that, and one commit each)."""
    open_repository(str(target), create=True).close()
    cmd = [sys.executable, "-c", RUN, mode, "--repo", str(target), "--json",
           "import", str(source), "--jobs", str(jobs)]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-1500:]}")
    cpu, rss_kb = done.stderr.strip().splitlines()[-1].split()
    return seconds, float(cpu), int(rss_kb) // 1024, json.loads(done.stdout)["resources"]


def measure(count: int, megabytes: int, work: Path) -> list[tuple[str, float, float, int]]:
    source, out = work / f"source-{count}", work / f"export-{count}"
    build(source, count, megabytes)
    done = subprocess.run([sys.executable, "-m", "fcrctl", "--repo", str(source), "export", "/", str(out),
                           "--no-versions"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"export failed: {done.stderr[-1500:]}")
    rows = []
    for name, mode, jobs in (("baseline (1 commit each)", "single", 1), ("baseline (rdflib graphs)", "graph", 1),
                             ("ours --jobs 1", "ours", 1), ("ours --jobs 2 (default)", "ours", 2)):
        target = work / f"target-{count}-{len(rows)}"
        seconds, cpu, rss, resources = fcrctl_import(out, target, mode, jobs)
        rows.append((name, resources / seconds, cpu * 1000 / resources, rss))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, nargs="*", default=[2000, 10000])
    parser.add_argument("--mb", type=int, default=5, help="megabytes of binaries (1 MB each) per run")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI)")
    args = parser.parse_args()
    counts, megabytes = ([60], 1) if args.smoke else (args.resources, args.mb)
    print(f"local import, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"{'resources':>9}  {'run':<26} {'res/s':>7} {'CPU s/1000':>10} {'RSS MB':>7}")
    with tempfile.TemporaryDirectory(prefix="fcrctl-bench-import-") as tmp:
        for count in counts:
            for name, rate, cpu, rss in measure(count, megabytes, Path(tmp)):
                print(f"{count:>9,}  {name:<26} {rate:>7.0f} {cpu:>10.2f} {rss:>7}", flush=True)


if __name__ == "__main__":
    main()
