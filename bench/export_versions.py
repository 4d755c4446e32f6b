"""`fcrctl export` with versions over `serve`: requests per memento, counted at the server.

    .venv/bin/python bench/export_versions.py                         # 300 resources x 3 versions, fedora5/6
    .venv/bin/python bench/export_versions.py --src /work/main        # beside another checkout, same minute
    .venv/bin/python bench/export_versions.py --smoke                 # a tiny run for CI

A local repository of N resources with V mementos each (bench/_versioned_export.py: every 4th a binary,
every 7th changed after its last memento) is built once by this checkout's import, with the export's
dates, so each memento has a second of its own. Each checkout then serves it (its own `serve` process,
with an access log) and exports it with its own fcrctl, checkouts alternating within each dialect. From
the access log, per memento: the requests about versions (TimeMaps and mementos, a binary's description's
included); of them, those to a memento's URL (its content or description), the HEADs and the TimeMap
reads; with the export's client CPU and the server's CPU (from /proc). A container memento takes one GET
at best, a binary's two (its content, its description), plus each resource's TimeMap once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import _served  # noqa: E402
import _versioned_export  # noqa: E402

MEMENTO = re.compile(r'"(\w+) \S*/fcr:versions/\d{14}[ ?]')
TIMEMAP = re.compile(r'"GET \S*/fcr:versions[ ?]')


def build(work: Path, count: int, versions: int) -> tuple[Path, int]:
    """The served repository and how many mementos it holds."""
    tree, repo = work / "tree", work / "repo"
    _versioned_export.write(tree, count, versions, binary_every=4, acl_every=0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["init"], ["import", str(tree)]):
        subprocess.run([sys.executable, "-m", "fcrctl", "--repo", str(repo), *args], env=env, cwd=ROOT, check=True,
                       capture_output=True)
    mementos = sum(versions + (i % 7 == 3) for i in range(count))
    return repo, mementos


def export_over_serve(src: Path, repo: Path, work: Path, dialect: str, mementos: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}
    log = work / "access.log"
    server, url = _served.start(src, repo, dialect, log, env)
    try:
        served_before, before = _served.cpu_of(server.pid), resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run([sys.executable, "-m", "fcrctl", "--repo", url, "export", "/data", str(work / "out")],
                                env=env, capture_output=True, text=True, cwd=src)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise SystemExit(f"export over serve with {src} failed: {result.stderr[-1000:]}")
        time.sleep(0.3)  # the access log line is written once the last response is sent
        served = _served.cpu_of(server.pid) - served_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = log.read_text().splitlines()
    about = [entry for entry in lines if MEMENTO.search(entry) or TIMEMAP.search(entry)]
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "requests": len(lines),
        "version_requests_per_memento": len(about) / mementos,
        "memento_requests_per_memento": sum(bool(MEMENTO.search(entry)) for entry in about) / mementos,
        "heads_per_memento": sum('"HEAD ' in entry for entry in about) / mementos,
        "timemap_gets_per_memento": sum(bool(TIMEMAP.search(entry)) for entry in about) / mementos,
        "client_cpu_ms_per_memento": 1000 * client / mementos,
        "server_cpu_ms_per_memento": 1000 * served / mementos,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, for CI")
    parser.add_argument("--resources", type=int, default=300)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--src", type=Path, action="append", default=[],
                        help="also run another checkout's serve and fcrctl (a baseline), alternating with this one")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: a temporary directory)")
    args = parser.parse_args()
    count, versions = (8, 2) if args.smoke else (args.resources, args.versions)
    dialects = ("fedora6",) if args.smoke else ("fedora5", "fedora6")
    checkouts = [ROOT, *(path.resolve() for path in args.src)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fcrctl-export-versions-", dir=args.dir) as tmp:
        repo, mementos = build(Path(tmp), count, versions)
        print(f"export of {count} resources with {mementos} mementos over serve; per memento:")
        print(f"{'checkout':<32} {'dialect':>8} {'requests':>9} {'version req':>12} {'memento req':>12} "
              f"{'HEAD':>6} {'TimeMap':>8} "
              f"{'client CPU ms':>14} {'server CPU ms':>14}")
        for dialect in dialects:
            for i, src in enumerate(checkouts):
                work = Path(tmp) / f"{dialect}-{i}"
                work.mkdir()
                row = export_over_serve(src, repo, work, dialect, mementos)
                rows.append({"checkout": str(src), "dialect": dialect, "mementos": mementos, **row})
                print(f"{str(src)[-32:]:<32} {dialect:>8} {row['requests']:>9} "
                      f"{row['version_requests_per_memento']:>12.2f} {row['memento_requests_per_memento']:>12.2f} "
                      f"{row['heads_per_memento']:>6.2f} "
                      f"{row['timemap_gets_per_memento']:>8.2f} {row['client_cpu_ms_per_memento']:>14.2f} "
                      f"{row['server_cpu_ms_per_memento']:>14.2f}")
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
