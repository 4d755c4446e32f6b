"""How fcrctl's costs grow with repository size: repositories of 10k, 100k and 300k objects,
each operation timed as its own `fcrctl` process, the growth exponent fitted per operation and
the fitted cost at 1M objects printed beside the target (issue 14).

    .venv/bin/python bench/scale.py                       # 10k, 100k, 300k (BENCH_DIR or a temp dir)
    .venv/bin/python bench/scale.py --sizes 10000 100000  # the sizes to measure
    .venv/bin/python bench/scale.py --smoke               # tiny sizes for CI
    .venv/bin/python bench/scale.py --only snapshot       # build and the snapshot rows only
    .venv/bin/python bench/scale.py --keep DIR            # build once into DIR, later runs reuse it
    .venv/bin/python bench/scale.py --only snapshot --baseline /work/main  # snapshot rows beside main's
    .venv/bin/python bench/scale.py --only reindex --baseline /work/main --keep DIR  # reindex, check: pairs
    .venv/bin/python bench/scale.py --only commands --baseline /work/main --keep DIR  # one resource's commands: pairs

Each repository is one flat container /c of N children (1% of them binaries), built through
the repository's own writer in-process: transactions of a few hundred creates, committed by
forked workers in parallel (each commit is one Store.commit under the writer lock). Per size:
build; snapshot (total and writer-lock time, objects per second and per CPU-second of the
process and its forked scan workers, beside the floor below); a snapshot after 100 changes
(and its CPU seconds); an unchanged snapshot; `ls /c` (first line, total, peak RSS); `reindex`
and `check` (objects/s, wall and per CPU-second, beside a floor: `find | xargs cat` of every
root inventory in the same minute, and the peak RSS of each); `fixity --since` after 100
changes; `info` and `get` (RDF, binary) latency and one-child writes (put of a binary, patch, put
of a new child, delete; wall, and CPU seconds beside the CLI's own start: robust on a shared
machine), the repository's own part of `info` and `get` in one process, and the index's part of
a write of one object with two membership rows an object (a Samvera-style repository); the
nightly backup jobs (uploads, verify-backup, prune-backups). The baseline beside each figure is
the same operation at the smallest size: a cost that grows with change, not size, has exponent
~0. Each row ends with its fitted value at 1M objects and its target there (issue 14), or says it
has none (a whole-repository cost: build, first snapshot, whole verify; or a floor).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcrctl import forked  # noqa: E402
from fcrctl.repository import open_repository  # noqa: E402
from fcrctl.repository.base import ResourceSpec  # noqa: E402

BATCH = 500  # creates per transaction
FCRCTL = [sys.executable, "-m", "fcrctl"]

# operation -> (target at 1M objects, unit, how the target reads)
TARGETS: dict[str, tuple[float, str]] = {
    "snapshot lock": (0.2, "s"),
    "unchanged snapshot": (1.0, "s"),
    "unchanged snapshot in-process": (1.0, "s"),
    "unchanged snapshot lock": (0.2, "s"),
    "snapshot after 100 changes": (1.0, "s"),
    "snapshot after 100 changes lock": (0.2, "s"),
    "snapshot after 100 changes in-process": (1.0, "s"),
    "ls first line": (0.2, "s"),
    "reindex objects/s": (5000, "/s"),
    "check objects/s": (5000, "/s"),
    "info": (0.0, "s"),  # within 10% of the smallest size: checked on the fit, not a constant
}
# the fit at 1M within 10% of the smallest size: one resource's commands (the CLI's per-command
# cost, issue 14), and memory
FLAT = ("info", "info CPU s", "get (RDF)", "get (RDF) CPU s", "get (binary)", "get (binary) CPU s",
        "ls first line CPU s", "ls RSS MB", "reindex RSS MB", "check RSS MB", "fixity --since after 100 changes",
        "fixity --since after 100 changes CPU s", "put (binary)", "put (binary) CPU s", "patch (one child)",
        "patch (one child) CPU s", "put (new child)", "put (new child) CPU s", "delete (one child)",
        "delete (one child) CPU s", "open + info in-process ms CPU", "open + get (RDF) in-process ms CPU")
# rows judged by what they show, not held to a target
NOTES = {"index write of one object (Samvera-like) ms CPU": "(none: B-tree lookups grow as log n, ~0.1 ms of a ~0.2 s "
         "write; a scan grows linearly: see the baseline's before the object_id indexes)"}
# objects per CPU-second of a whole walk: the cost per object flat, the fit at 1M at least 90% of the smallest's
RATE_FLAT = ("reindex objects/cpu-s", "check objects/cpu-s", "snapshot objects/cpu-s")
# costs of what changed, not of the size (issue 14): growth exponent below 0.1
CHANGED = ("snapshot after 100 changes cpu-s", "unchanged upload", "unchanged upload CPU s", "upload after 100 changes",
           "upload after 100 changes CPU s", "verify unchanged", "verify unchanged CPU s", "verify after 100 changes",
           "verify after 100 changes CPU s", "verify --from store unchanged", "verify --from store unchanged CPU s",
           "prune --from store (1 of 3)", "prune --from store (1 of 3) CPU s", "prune local (all but 1)",
           "prune local (all but 1) CPU s", "CLI start (fcrctl --version)", "CLI start CPU s")
CHANGED_EXPONENT = 0.1


def _create_batch(where: str, start: int, stop: int) -> int:
    """One forked worker: children start..stop-1 of /c, in transactions of BATCH creates."""
    repo = open_repository(where, lock_timeout=600)
    try:
        for first in range(start, stop, BATCH):
            info = repo.begin_transaction(timeout=3600)  # type: ignore[attr-defined]
            tx = repo.in_transaction(info.id)  # type: ignore[attr-defined]
            for i in range(first, min(first + BATCH, stop)):
                if i % 100 == 0:
                    spec = ResourceSpec(content=io.BytesIO(f"binary {i}\n".encode() * 8), mime_type="text/plain")
                else:
                    spec = ResourceSpec()
                tx.create(f"/c/x{i}", spec)
            repo.commit_transaction(info.id)  # type: ignore[attr-defined]
        return stop - start
    finally:
        repo.close()


def build(where: Path, count: int, workers: int) -> float:
    started = time.perf_counter()
    repo = open_repository(str(where), create=True)
    repo.create("/c", ResourceSpec())
    repo.close()
    step = max(BATCH, math.ceil(count / (workers * 4) / BATCH) * BATCH)
    ranges = [(i, min(i + step, count)) for i in range(0, count, step)]
    if workers > 1 and len(ranges) > 1:
        with forked.pool(workers) as pool:
            list(pool.map(_create_batch, [str(where)] * len(ranges), [a for a, _ in ranges], [b for _, b in ranges]))
    else:
        for a, b in ranges:
            _create_batch(str(where), a, b)
    return time.perf_counter() - started



def built(where: Path, count: int, rebuild: bool) -> Path:
    """``where`` holding /c with ``count`` children, built once and reused while its marker says so."""
    marker = where / ".bench-built"
    if rebuild or not marker.exists():
        shutil.rmtree(where, ignore_errors=True)
        seconds = build(where, count, workers=max(1, min(4, os.cpu_count() or 1)))
        marker.write_text(str(count))
        print(f"built /c with {count:,} children in {seconds:.1f} s ({where})", flush=True)
    return where

def change(where: Path, size: int, count: int, start: int, tag: str, *, binaries: bool = False) -> None:
    """``count`` changed objects: new versions of existing children's descriptions, or of the
    binaries' content (spread over all of them when there are fewer)."""
    repo = open_repository(str(where))
    try:
        if binaries:
            nbin = max(1, (size + 99) // 100)
            for k in range(count):
                data = f"{tag} {k}\n".encode() * 8
                repo.replace(f"/c/x{(k % nbin) * 100}", ResourceSpec(content=io.BytesIO(data), mime_type="text/plain"))
            return
        for k in range(count):
            i = (start + k * 7) % size
            i += 1 if i % 100 == 0 else 0  # a binary: its description would be patched instead
            repo.patch(f"/c/x{i}", f'INSERT DATA {{ <> <http://purl.org/dc/elements/1.1/title> "{tag}" }}')
    finally:
        repo.close()


def fcrctl(where: Path, *args: str, first_line: bool = False) -> tuple[float, float, int, str]:
    """(seconds, seconds to the first stdout line, peak RSS in MB, stdout) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen([*FCRCTL, "--repo", str(where), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    peak = PeakRss(proc.pid)
    first = None
    chunks: list[bytes] = []
    if first_line:
        line = proc.stdout.readline()
        first = time.perf_counter() - started
        lines = 1 if line else 0
        for _ in iter(lambda: proc.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            pass
        out = f"{lines}"
    else:
        chunks.append(proc.stdout.read())
        out = b"".join(chunks).decode()
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"fcrctl {' '.join(args)} failed: {err[-1000:]}")
    return elapsed, first if first is not None else elapsed, peak.mb(), out


BASELINE: list[str] | None = None  # --baseline: another checkout's `fcrctl`


def baseline_command(checkout: Path) -> list[str]:
    """Another checkout's `fcrctl` on this venv's libraries: -S keeps this venv's editable
    install (of this checkout) off the path; it is run from / so no current directory's fcrctl is
    imported either."""
    paths = [str(checkout.resolve()), *(p for p in sys.path if p.endswith("site-packages"))]
    return ["env", f"PYTHONPATH={os.pathsep.join(paths)}", sys.executable, "-S", "-m", "fcrctl"]


def fcrctl_cpu(where: Path, *args: str, cmd: list[str] | None = None) -> tuple[float, float, str]:
    """(seconds, CPU seconds of the process and its forked workers, stdout) of one `fcrctl`
    (``cmd``: another checkout's, baseline_command)."""
    started = time.perf_counter()
    proc = subprocess.Popen([*(cmd or FCRCTL), "--repo", str(where), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd="/" if cmd else None)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read().decode()  # (not communicate(): it reaps the process, and its CPU times with it)
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"fcrctl {' '.join(args)} failed: {err[-1000:]}")
    return elapsed, max(usage.ru_utime + usage.ru_stime, 1e-3), out


def floor(where: Path, objects: int) -> tuple[float, float]:
    """(objects/s, objects per CPU-second) of reading every root inventory with find | xargs cat:
    what any per-object walk (a first snapshot, reindex, check) does and more."""
    secs, cpu, _ = timed(["sh", "-c", f"find '{where}/ocfl-root' -name inventory.json -not -path '*/v[0-9]*/*' -print0"
                                   " | xargs -0 cat > /dev/null"])
    return objects / secs, objects / cpu


class PeakRss(threading.Thread):
    """The largest peak RSS (VmHWM) of a process and its descendants (forked workers), polled from
    /proc while it runs. Not its rusage's ru_maxrss: a child (v)forked from this process starts with
    this process's peak (~45 MB after an in-process build), and keeps it through exec, so every row
    read at least that: the reindex's 44 MB at 10k objects was this process's, not the reindex's."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0
        with open("/proc/self/cmdline", "rb") as own:
            self._own = own.read()  # a child not exec'd yet shows this process's cmdline and peak
        self.start()

    def run(self) -> None:
        while self._poll():
            time.sleep(0.02)

    def _poll(self) -> bool:
        stack, seen = [self.pid], False
        while stack:
            pid = stack.pop()
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read() == self._own:
                        seen = seen or pid == self.pid
                        continue
                with open(f"/proc/{pid}/status") as f:
                    hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
                    self.peak = max(self.peak, hwm)
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        stack.extend(int(c) for c in f.read().split())
                seen = seen or pid == self.pid
            except (OSError, ValueError):
                continue
        return seen  # False once the process is gone (a zombie's status has no VmHWM: still polled)

    def mb(self) -> int:
        """The peak in MB; the process must have been waited for."""
        self.join()
        return self.peak // 1024


def timed(cmd: list[str], cwd: str | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process and the children it waited for, peak RSS in MB
    of the largest of them) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    peak = PeakRss(proc.pid)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[-2:])} failed: {err[-1000:]}")
    return elapsed, max(usage.ru_utime + usage.ru_stime, 1e-3), peak.mb()


def measure(work: Path, count: int, workers: int, only: str | None = None, keep: bool = False,
            samples: int = 5, store_rows: bool = True) -> dict[str, float]:
    """``keep``: reuse the repository an earlier run built (its snapshots deleted), and keep it:
    two versions of fcrctl measured on the same objects without building twice. ``samples``:
    `ls | head -1` runs (their median) and `info` runs; ``store_rows``: the backup jobs' rows."""
    where = work / f"repo-{count}"
    got: dict[str, float] = {}
    if keep and (where / "ocfl-root").is_dir():
        shutil.rmtree(where / "backups", ignore_errors=True)
    else:
        shutil.rmtree(where, ignore_errors=True)
        got["build"] = build(where, count, workers)
        got["build objects/s"] = (count + 2) / got["build"]
    objects = count + 2
    # the CLI's own start (the baseline every per-command figure includes)
    got["CLI start (fcrctl --version)"], got["CLI start CPU s"], _ = timed([*FCRCTL, "--version"])
    if only == "reindex":
        got.update(walk_rows(where, objects, pairs=2 if BASELINE is not None else 1))
        return _done(got, count, where, keep)
    if only == "commands":
        got.update(command_rows(where, count, samples))
        return _done(got, count, where, keep)
    if only == "snapshot":  # the first snapshot's baseline, in the same minute (the full run measures it below)
        got["floor: cat inventories objects/s"], got["floor: cat inventories objects/cpu-s"] = floor(where, objects)
    secs, cpu, out = fcrctl_cpu(where, "--json", "backup", "--label", "first")
    got["snapshot"], got["snapshot lock"] = secs, json.loads(out)["lockHeldSeconds"]
    got["snapshot in-process"] = json.loads(out)["seconds"]
    got["snapshot objects/s"], got["snapshot objects/cpu-s"] = objects / secs, objects / cpu
    secs, _, _, out = fcrctl(where, "--json", "backup", "--label", "unchanged")
    got["unchanged snapshot"], got["unchanged snapshot lock"] = secs, json.loads(out)["lockHeldSeconds"]
    got["unchanged snapshot in-process"] = json.loads(out)["seconds"]
    change(where, count, min(100, count // 8), 0, "one")
    secs, cpu, out = fcrctl_cpu(where, "--json", "backup", "--label", "changed")
    got["snapshot after 100 changes"], got["snapshot after 100 changes lock"] = secs, json.loads(out)["lockHeldSeconds"]
    got["snapshot after 100 changes in-process"] = json.loads(out)["seconds"]
    got["snapshot after 100 changes cpu-s"] = cpu
    if BASELINE is not None:  # the same rows by another checkout on the same objects, in the same minutes
        shutil.rmtree(where / "backups", ignore_errors=True)
        secs, cpu, out = fcrctl_cpu(where, "--json", "backup", "--label", "baseline-first", cmd=BASELINE)
        got["baseline: snapshot"], got["baseline: snapshot objects/cpu-s"] = secs, objects / cpu
        got["baseline: snapshot lock"] = json.loads(out).get("lockHeldSeconds", 0.0)
        change(where, count, min(100, count // 8), 5, "baseline")
        secs, cpu, out = fcrctl_cpu(where, "--json", "backup", "--label", "baseline-changed", cmd=BASELINE)
        got["baseline: snapshot after 100 changes"], got["baseline: snapshot after 100 changes cpu-s"] = secs, cpu
        got["baseline: snapshot after 100 changes lock"] = json.loads(out).get("lockHeldSeconds", 0.0)
    if only == "snapshot":
        return _done(got, count, where, keep)
    secs, first, rss, _ = fcrctl(where, "ls", "/c", first_line=True)
    got["ls total"], got["ls RSS MB"] = secs, rss
    # the first line as under `| head -1` (the rest unread): the median's wall and the process's CPU
    from cli_startup import run_once

    firsts = [run_once([*FCRCTL, "--repo", str(where), "ls", "/c"], dict(os.environ), first_line=True)
              for _ in range(samples)]
    got["ls first line"], got["ls first line CPU s"] = sorted(firsts)[samples // 2][0], sorted(
        c for _, c in firsts)[samples // 2]
    got.update(walk_rows(where, objects))
    got.update(command_rows(where, count, samples))
    if store_rows:
        got.update(backup_job_rows(where, count))
    return _done(got, count, where, keep)


# one resource's commands, each its own process: row -> (command, what it acts on)
READS = (("info", "info", "any"), ("get (RDF)", "get", "container"), ("get (binary)", "get", "binary"))
WRITES = (("put (binary)", "put", "binary"), ("patch (one child)", "patch", "container"),
          ("put (new child)", "put", "new"), ("delete (one child)", "delete", "new"))
PATCH = 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "bench" }'
# each pick's runs of a command (3 picks): a median of 9 processes per row, not of 3
REPEATS = 3

# the repository's own part of a read, in one process (no interpreter start or imports): open,
# read one resource, close; the least CPU of 5 rounds of 50, in ms. Run as a script so that the
# baseline's code runs it too
IN_PROCESS = """
import resource, sys
from fcrctl.repository import open_repository

where, count = sys.argv[1], int(sys.argv[2])


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


for row in ("open + info in-process ms CPU", "open + get (RDF) in-process ms CPU"):
    best = 1e9
    for _ in range(5):
        started = cpu()
        for j in range(50):
            i = (j * 7919) % count | 1
            repo = open_repository(where)
            repo.info(f"/c/x{i}") if row.startswith("open + info") else len(repo.get_rdf(f"/c/x{i}"))
            repo.close()
        best = min(best, (cpu() - started) / 50)
    print(f"{row}\t{best * 1000:.4f}")
"""

# the index's part of a write of one object, on an index of ``count`` objects with two membership
# rows each (a Samvera-style repository: a work's members and files containers), which the bench's
# repositories lack: the least CPU of 5 rounds of 20 Index.apply, in ms, in a scratch index
INDEX_WRITE = """
import resource, sys, tempfile
from pathlib import Path
from fcrctl.repository.local.index import Index, ObjectEntries, Row

count, scratch = int(sys.argv[1]), sys.argv[2]


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def entries(i):
    oid = f"info:fedora/c/w{i}"
    row = Row(f"/c/w{i}", "/c", oid, f"rel/w{i}", "http://www.w3.org/ns/ldp#BasicContainer", False, {"id": oid})
    return ObjectEntries(oid, [row], [(f"/c/w{i}/{part}", "direct", f"/c/w{i}", "http://pcdm.org/models#hasMember",
                                       None, None) for part in ("members", "files")])


with tempfile.TemporaryDirectory(dir=scratch) as where:
    index = Index(Path(where) / "index.sqlite")
    with index.transaction():
        for start in range(0, count, 1000):
            index.add([entries(i) for i in range(start, min(start + 1000, count))], unseen=True)
    best = 1e9
    for r in range(5):
        started = cpu()
        for j in range(20):
            index.apply([entries((j * 7919 + r) % count)])
        best = min(best, (cpu() - started) / 20)
    index.close()
print(f"index write of one object (Samvera-like) ms CPU\t{best * 1000:.4f}")
"""


def command_rows(where: Path, count: int, samples: int) -> dict[str, float]:
    """One resource's commands, each its own process: `fixity --since` after 100 changed binaries,
    `info`, `get` of a container and of a binary, and writes of one child of /c (put of a binary,
    patch, put of a new child, delete of it): index lookups, O(1) in the repository's size (issue
    14). Each row is the median wall and CPU seconds of its runs, spread over /c; with --baseline
    every run is followed by the baseline's of the same command (pairs in the same minute). The
    in-process rows are the repository's own part of a read, without the interpreter's start, and
    the index's part of a write on an index with membership rows (INDEX_WRITE)."""
    trees = [("", FCRCTL)] + ([("baseline: ", BASELINE)] if BASELINE is not None else [])
    runs: dict[str, list[tuple[float, float]]] = {}

    def run(row: str, *args: str) -> None:
        for who, cmd in trees:
            wall, cpu, _ = timed([*cmd, "--repo", str(where), *args], cwd="/" if who else None)
            runs.setdefault(who + row, []).append((wall, cpu))

    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(1.1)
    change(where, count, min(100, count // 8), 3, "two", binaries=True)
    for _ in range(1 if samples == 1 else REPEATS):
        run("fixity --since after 100 changes", "fixity", "-R", "/", "--since", since)
    body = where.parent / f"bench-body-{count}"
    body.mkdir(exist_ok=True)
    (body / "child.ttl").write_text('<> <http://purl.org/dc/elements/1.1/title> "bench" .\n')
    (body / "binary.txt").write_bytes(b"bench binary\n" * 8)
    # children picked afresh by each run: on a kept repository the writes do not pile versions on a few
    shift = time.time_ns() // 1000 % 9973
    picks = [(p + shift) % count for p in (1, count // 2, count - 1)][:max(1, min(3, samples))]
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for repeat in range(1 if samples == 1 else REPEATS):
        for n, i in enumerate(picks):
            target = {"any": f"/c/x{i}", "container": f"/c/x{i | 1}", "binary": f"/c/x{i // 100 * 100}",
                      "new": f"/c/bench-{stamp}-{repeat}-{n}"}  # odd: not one of the binaries (every 100th)
            for row, cmd, what in READS:
                run(row, cmd, target[what])
            for row, cmd, what in WRITES:
                extra = {"put (binary)": ["-f", str(body / "binary.txt"), "--binary"],
                         "put (new child)": ["-f", str(body / "child.ttl")], "patch (one child)": ["-e", PATCH]}
                if what == "new" and len(trees) > 1:  # each tree its own new child (the first's is gone)
                    for who, tree in trees:
                        path = f"{target['new']}{'-b' if who else ''}"
                        wall, cpu, _ = timed([*tree, "--repo", str(where), cmd, path, *extra.get(row, [])],
                                             cwd="/" if who else None)
                        runs.setdefault(who + row, []).append((wall, cpu))
                    continue
                run(row, cmd, target[what], *extra.get(row, []))
    got: dict[str, float] = {}
    for row, values in runs.items():
        got[row], got[f"{row} CPU s"] = statistics.median(w for w, _ in values), statistics.median(
            c for _, c in values)
    for who, cmd in trees:  # the same script on each tree's code
        python = [sys.executable] if not who else cmd[:cmd.index("-m")]
        out = subprocess.run([*python, "-c", IN_PROCESS, str(where), str(count)], capture_output=True, text=True,
                             cwd=str(ROOT) if not who else "/", check=True).stdout
        out += subprocess.run([*python, "-c", INDEX_WRITE, str(count), str(where.parent)], capture_output=True,
                              text=True, cwd=str(ROOT) if not who else "/", check=True).stdout
        for line in out.splitlines():
            row, value = line.split("\t")
            got[who + row] = float(value)
    return got


def _done(got: dict[str, float], count: int, where: Path, keep: bool) -> dict[str, float]:
    print(f"# {count:,} objects measured: {json.dumps({k: round(v, 3) for k, v in got.items()})}", flush=True)
    if not keep:
        shutil.rmtree(where, ignore_errors=True)  # minutes at 100k: the figures are out first
    return got


def walk_rows(where: Path, objects: int, pairs: int = 1) -> dict[str, float]:
    """`reindex` and `check`: objects/s, wall and per CPU-second (the process and its forked
    workers), and peak RSS, beside a floor measured in the same minute (the machine may be shared):
    reading every root inventory with find | xargs cat, which both do and more. With --baseline,
    ``pairs`` runs of each by ours and the baseline's, alternated (the least CPU of each is kept)."""
    got: dict[str, float] = {}
    got["floor: cat inventories objects/s"], got["floor: cat inventories objects/cpu-s"] = floor(where, objects)
    for op in ("reindex", "check"):
        best: dict[str, tuple[float, float, int]] = {}
        for _ in range(pairs):
            for who, cmd in (("", FCRCTL), ("baseline: ", BASELINE)):
                if cmd is None:
                    continue
                secs, cpu, rss = timed([*cmd, "--repo", str(where), op], cwd="/" if who else None)
                if who not in best or cpu < best[who][1]:
                    best[who] = (secs, cpu, rss)
        for who, (secs, cpu, rss) in best.items():
            got[f"{who}{op}"], got[f"{who}{op} objects/s"] = secs, objects / secs
            got[f"{who}{op} objects/cpu-s"] = objects / cpu
            got[f"{who}{op} RSS MB"] = rss  # the largest process's peak (forked workers included)
    return got


def _job(where: Path, *args: str) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, JSON output) of one `fcrctl --json` process."""
    started = time.perf_counter()
    proc = subprocess.Popen([*FCRCTL, "--repo", str(where), "--json", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"fcrctl {' '.join(args)} failed: {err.decode()[-1000:]}")
    return elapsed, _children_cpu(), json.loads(out) if out.strip() else {}


_cpu_seen = [0.0]


def _children_cpu() -> float:
    t = os.times()
    total = t.children_user + t.children_system
    spent, _cpu_seen[0] = total - _cpu_seen[0], total
    return spent


def backup_job_rows(where: Path, count: int) -> dict[str, float]:
    """The nightly backup jobs (issue 14): uploads, verify-backup and prune-backups, each wall and
    CPU seconds. Changed: after 100 changed objects. A store is a directory beside the repository."""
    store = where.parent / f"store-{count}"
    shutil.rmtree(store, ignore_errors=True)
    got: dict[str, float] = {}
    _children_cpu()

    def row(name: str, *args: str) -> dict:
        wall, cpu, out = _job(where, *args)
        got[name], got[f"{name} CPU s"] = wall, cpu
        return out

    first = row("first upload", "backup", "--label", "up1", "--to", str(store))["id"]
    unchanged = _job(where, "backup", "--label", "up2")[2]["id"]
    assert row("unchanged upload", "upload-backup", unchanged, str(store))["manifest_copied"]
    change(where, count, min(100, count // 8), 5, "three")
    changed = _job(where, "backup", "--label", "up3")[2]["id"]
    row("upload after 100 changes", "upload-backup", changed, str(store))
    row("verify (whole, no record)", "verify-backup", changed)
    again = _job(where, "backup", "--label", "up4")[2]["id"]
    assert row("verify unchanged", "verify-backup", again)["ok"]
    change(where, count, min(100, count // 8), 11, "four")
    later = _job(where, "backup", "--label", "up5")[2]["id"]
    assert row("verify after 100 changes", "verify-backup", later)["ok"]
    # the first verify of a store reads it whole; it records what it found sound, so the next one
    # (of a backup stored as changes to that one) checks what changed (manifest/verified.py)
    assert row("verify --from store (whole, no record)", "verify-backup", first, "--from", str(store))["ok"]
    assert row("verify --from store unchanged", "verify-backup", unchanged, "--from", str(store))["ok"]
    out = row("prune --from store (1 of 3)", "prune-backups", "--keep-last", "2", "--group-by", "none",
              "--from", str(store))
    assert out["remove"] == [first], out
    row("prune local (all but 1)", "prune-backups", "--keep-last", "1", "--group-by", "none")
    shutil.rmtree(store, ignore_errors=True)
    return got


def fit(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """(growth exponent b, value at 1M) of value = a * size^b, least squares in log-log."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(v, 1e-6)) for v in values]
    if len(xs) < 2:
        return 0.0, values[0]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    return b, math.exp(a + b * math.log(1_000_000))


def report(sizes: list[int], results: list[dict[str, float]]) -> None:
    ops = [op for op in results[0] if all(op in r for r in results)]  # (a kept repository has no build row)
    head = "".join(f"{s:>12,}" for s in sizes)
    print(f"{'operation':40}{head}{'exponent':>10}{'fit @1M':>12}   target @1M")
    for op in ops:
        values = [r[op] for r in results]
        b, at_1m = fit(sizes, values)
        kind = op.removeprefix("baseline: ")
        target = TARGETS.get(kind)
        verdict = NOTES.get(kind, "(none: a whole-repository cost, or a floor)")
        if kind in FLAT:
            verdict = (f"<= {values[0] * 1.1:.3f} (smallest +10%): "
                       f"{'met' if at_1m <= values[0] * 1.1 else 'NOT met'}")
        elif kind in RATE_FLAT:
            verdict = (f">= {values[0] * 0.9:,.0f} (smallest -10%: cost per object flat): "
                       f"{'met' if at_1m >= values[0] * 0.9 else 'NOT met'}")
        elif kind in CHANGED:
            verdict = (f"exponent < {CHANGED_EXPONENT} (what changed, not size): "
                       f"{'met' if b < CHANGED_EXPONENT else 'NOT met'}")
        elif target is not None:
            limit, unit = target
            ok = at_1m >= limit if unit == "/s" else at_1m < limit
            bound = f">= {limit:g} objects/s" if unit == "/s" else f"< {limit:g} {unit}"
            verdict = f"{bound}: {'met' if ok else 'NOT met'}"
        cells = "".join(f"{v:>12.3f}" if v < 1000 else f"{v:>12,.0f}" for v in values)
        fitted = f"{at_1m:>12.3f}" if at_1m < 1e6 else f"{at_1m:>12.3g}"
        print(f"{op:40}{cells}{b:>10.2f}{fitted}   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    parser.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--only", choices=["snapshot", "reindex", "commands"],
                        help="measure only these rows (after the build): the snapshots', reindex's and check's, or "
                             "one resource's commands' (fixity --since, info, get, put, patch, delete)")
    parser.add_argument("--keep", type=Path, help="build the repositories here once and keep them (with --only)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also take the snapshot rows (with --only reindex: reindex's and check's; with --only "
                             "commands: one resource's commands') with another checkout's fcrctl (e.g. main's), same "
                             "objects")
    args = parser.parse_args()
    # every fcrctl process below writes and reuses bytecode: with PYTHONDONTWRITEBYTECODE set (this
    # machine's shells set it) a tree with stale .pyc files recompiles them in every process, which
    # counted in each row's CPU seconds and peak RSS (~10 MB more for a reindex of 40 objects)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.baseline is not None:
        global BASELINE
        BASELINE = baseline_command(args.baseline)
    sizes = [40, 120] if args.smoke else sorted(args.sizes)
    base = os.environ.get("BENCH_DIR")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="fcrctl-bench-scale-", dir=base))
    try:
        results = []
        for n in sizes:
            try:
                # the smoke: one sample per row, the store rows at the smallest size only (bench/store_scale.py
                # has them all): ~30 fcrctl processes fewer, half its CPU under pytest
                results.append(measure(work, n, 2 if args.smoke else args.workers, args.only, args.keep is not None,
                                       samples=1 if args.smoke else 5,
                                       store_rows=not args.smoke or n == sizes[0]))
            except BaseException:
                traceback.print_exc()  # now, not after deleting the repository (minutes at 100k)
                sys.stderr.flush()
                raise
        report(sizes, results)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
