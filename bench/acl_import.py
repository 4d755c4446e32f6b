"""Local `fcrctl import` of resources that carry ACLs: CPU per resource and OCFL versions per resource.

    .venv/bin/python bench/acl_import.py                          # 500 resources, 3 rounds
    .venv/bin/python bench/acl_import.py --src /work/main         # beside another checkout, same minute
    .venv/bin/python bench/acl_import.py --smoke                  # a tiny run for CI
    .venv/bin/python bench/acl_import.py --serve                  # also import over serve, each dialect

The source is written here as fcrepo-import-export writes a Fedora 5 export: N containers, each
with one memento and an ``fcr%3Aacl.ttl`` holding one authorization and the ACL's server-managed
dates. Each import is its own `fcrctl` process into an empty repository; its CPU seconds (user +
system, from the child's rusage: a loaded machine slows the wall clock, not these) are printed per
1,000 resources, with the OCFL versions each container's object holds and whether its ACL is in
the first (issue 17's rule: fcrepo-upgrade-utils writes the ACL in the resource's first version,
so one memento equal to the current state gives one version, ACL included). With ``--src`` the
other checkout's fcrctl imports the same source, alternating with this one each round.

With ``--serve`` each checkout also imports a source with an ACL on every 10th resource over HTTP into
its own ``serve`` in each dialect and exports it back, and the server's access log counts the requests:
per resource, those about the ACLs per ACL on import (its ``fcr:acl`` requests and the HEADs of the
protected resources; Fedora 5.1 and 6 link a resource's ACL from its PUT's answer: one PUT per ACL
there), and the ACL GETs per resource on export; with client and server CPU per resource.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _served  # noqa: E402

BASE = "http://localhost:8080/rest"
DATE = "2020-09-11T18:03:03.109Z"


def write_export(out: Path, count: int, acl_every: int = 1) -> None:
    """``count`` containers under rest/c, each with one memento (equal to its current state), every
    ``acl_every``-th with an ACL."""
    rest = out / "rest"
    (rest / "c").mkdir(parents=True)
    (rest / "c.ttl").write_text(f'<{BASE}/c> <http://purl.org/dc/elements/1.1/title> "parent" .\n'
                                f'<{BASE}/c> <http://fedora.info/definitions/v4/repository#lastModified> '
                                f'"{DATE}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n')
    root = f"<{BASE}/> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    (out / "rest.ttl").write_text(f"{root} <http://www.w3.org/ns/ldp#BasicContainer> .\n"
                                  f"{root} <http://fedora.info/definitions/v4/repository#RepositoryRoot> .\n")
    fedora = "http://fedora.info/definitions/v4/repository#"
    acl = "http://www.w3.org/ns/auth/acl#"
    for n in range(count):
        url = f"{BASE}/c/r{n}"
        state = (f'<{url}> <http://purl.org/dc/elements/1.1/title> "resource {n}" .\n'
                 f'<{url}> <{fedora}created> "{DATE}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
                 f'<{url}> <{fedora}lastModified> "{DATE}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n')
        (rest / "c" / f"r{n}.ttl").write_text(state)
        own = rest / "c" / f"r{n}"
        (own / "fcr%3Aversions").mkdir(parents=True)
        (own / "fcr%3Aversions" / "20200911180303.ttl").write_text(state)
        if n % acl_every:
            continue
        (own / "fcr%3Aacl.ttl").write_text(
            f'<{url}/fcr:acl> <{fedora}created> "{DATE}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
            f'<{url}/fcr:acl> <{fedora}lastModified> "{DATE}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
            f'<{url}/fcr:acl> <{fedora}createdBy> "bypassAdmin" .\n'
            f'<{url}/fcr:acl#a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{acl}Authorization> .\n'
            f'<{url}/fcr:acl#a> <{acl}accessTo> <{url}> .\n'
            f'<{url}/fcr:acl#a> <{acl}agent> "user{n}" .\n'
            f'<{url}/fcr:acl#a> <{acl}mode> <{acl}Read> .\n')


def run_import(src: Path, export: Path, work: Path) -> float:
    """CPU seconds of one `fcrctl init` + `fcrctl import` pair's import, in a fresh repository."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    repo = work / "repo"
    # cwd: ``-m`` puts the working directory first on sys.path, ahead of PYTHONPATH and this venv's checkout
    subprocess.run([sys.executable, "-m", "fcrctl", "init", str(repo)], env=env, check=True, capture_output=True,
                   cwd=src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "fcrctl", "--repo", str(repo), "--json", "import", str(export)],
                            env=env, capture_output=True, text=True, cwd=src)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"import with {src} failed: {result.stderr[-1000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def serve_import(src: Path, export: Path, work: Path, dialect: str, count: int, acls: int) -> dict[str, float]:
    """Import ``export`` over a ``serve`` of ``src`` (its own process, ``dialect``), then export it back, counting
    the requests the server answers from its access log: per resource, and those about the ACLs (on import,
    per ACL: its fcr:acl requests and the protected resource's HEADs; on export, fcr:acl GETs per resource);
    client and server CPU per resource of each."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}
    log = work / f"access-{dialect}.log"
    server, url = _served.start(src, work / f"served-{dialect}", dialect, log, env)
    resources = count + 2
    out: dict[str, float] = {}
    try:
        for step, args in (("import", ["import", str(export)]),
                           ("export", ["export", "/", str(work / f"out-{dialect}"), "--no-versions"])):
            served_before, before = _served.cpu_of(server.pid), resource.getrusage(resource.RUSAGE_CHILDREN)
            lines_before = len(log.read_text().splitlines()) if log.exists() else 0
            result = subprocess.run([sys.executable, "-m", "fcrctl", "--repo", url, "--json", *args],
                                    env=env, capture_output=True, text=True, cwd=src)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if result.returncode != 0:
                raise SystemExit(f"{step} over serve with {src} failed: {result.stderr[-1000:]}")
            time.sleep(0.2)  # the access log line is written once the last response is sent
            lines = log.read_text().splitlines()[lines_before:]
            out[f"{step}_requests_per_resource"] = len(lines) / resources
            if step == "import":
                out["import_acl_requests_per_acl"] = sum(_about_acl(entry) for entry in lines) / acls
            else:
                out["export_acl_gets_per_resource"] = sum('/fcr:acl ' in entry for entry in lines) / resources
            client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            out[f"{step}_client_cpu_ms"] = 1000 * client / resources
            out[f"{step}_server_cpu_ms"] = 1000 * (_served.cpu_of(server.pid) - served_before) / resources
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


PROTECTED = re.compile(r'"(\w+) \S*/c/r\d+(/fcr:acl)?[ ?]')


def _about_acl(entry: str) -> bool:
    match = PROTECTED.search(entry)
    return bool(match and (match.group(2) or match.group(1) == "HEAD"))


def layout(repo: Path, count: int) -> tuple[float, float]:
    """(mean OCFL versions per resource, share of resources whose ACL is in their first version)."""
    from fcrctl.repository.local import ocfl

    versions, first = [], 0
    for n in range(count):
        inventory = ocfl.read_inventory(repo / "ocfl-root" / ocfl.object_rel(f"info:fedora/c/r{n}"))
        versions.append(len(inventory["versions"]))
        state = ocfl.state_digests(inventory, "v1")
        first += any(name.endswith("~fcr-acl.json") for name in state)
    return statistics.mean(versions), first / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, for CI")
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--src", type=Path, action="append", default=[],
                        help="also run another checkout's fcrctl (a baseline), alternating with this one")
    parser.add_argument("--serve", action="store_true",
                        help="also import over serve in each dialect, counting requests per resource and ACL")
    args = parser.parse_args()
    count, rounds = (20, 1) if args.smoke else (args.resources, args.rounds)
    checkouts = [ROOT, *(path.resolve() for path in args.src)]
    with tempfile.TemporaryDirectory(prefix="fcrctl-acl-bench-") as tmp:
        export = Path(tmp) / "export"
        write_export(export, count)
        cpu: dict[Path, list[float]] = {src: [] for src in checkouts}
        shape: dict[Path, tuple[float, float]] = {}
        for r in range(rounds):
            for i, src in enumerate(checkouts):
                work = Path(tmp) / f"run-{r}-{i}"
                work.mkdir()
                cpu[src].append(run_import(src, export, work))
                shape[src] = layout(work / "repo", count)
        rows = [{"checkout": str(src), "resources": count + 2, "rounds": rounds,
                 "cpu_s_per_1000": round(1000 * statistics.median(cpu[src]) / (count + 2), 2),
                 "ocfl_versions_per_resource": round(shape[src][0], 2),
                 "acl_in_first_version": round(shape[src][1], 2)} for src in checkouts]
    print(f"{'checkout':<40} {'resources':>9} {'CPU s/1000 (median)':>20} {'versions/res':>13} {'ACL in v1':>10}")
    for row in rows:
        print(f"{row['checkout'][-40:]:<40} {row['resources']:>9} {row['cpu_s_per_1000']:>20} "
              f"{row['ocfl_versions_per_resource']:>13} {row['acl_in_first_version']:>10}")
    if args.serve or args.smoke:
        print_serve_rows(checkouts, count, ("fedora6",) if args.smoke else ("fedora4", "fedora5", "fedora6"))
    print(json.dumps(rows), file=sys.stderr)


def print_serve_rows(checkouts: list[Path], count: int, dialects: tuple[str, ...]) -> None:
    """One import and export over serve per checkout and dialect (an ACL on every 10th resource), checkouts
    alternating within each dialect."""
    acl_every = 10
    acls = len(range(0, count, acl_every))
    print(f"\nover serve, {count} resources, {acls} with an ACL; CPU ms per resource (client / server)")
    print(f"{'checkout':<32} {'dialect':>8} {'import req/res':>15} {'req/ACL':>8} {'CPU':>12} "
          f"{'export req/res':>15} {'ACL GET/res':>12} {'CPU':>12}")
    with tempfile.TemporaryDirectory(prefix="fcrctl-acl-serve-bench-") as tmp:
        export = Path(tmp) / "export"
        write_export(export, count, acl_every)
        for dialect in dialects:
            for i, src in enumerate(checkouts):
                work = Path(tmp) / f"{dialect}-{i}"
                work.mkdir()
                row = serve_import(src, export, work, dialect, count, acls)
                print(f"{str(src)[-32:]:<32} {dialect:>8} {row['import_requests_per_resource']:>15.2f} "
                      f"{row['import_acl_requests_per_acl']:>8.2f} "
                      f"{row['import_client_cpu_ms']:>5.2f} / {row['import_server_cpu_ms']:<4.2f} "
                      f"{row['export_requests_per_resource']:>15.2f} {row['export_acl_gets_per_resource']:>12.2f} "
                      f"{row['export_client_cpu_ms']:>5.2f} / {row['export_server_cpu_ms']:<4.2f}")


if __name__ == "__main__":
    main()
