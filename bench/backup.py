"""Benchmark backup and restore beside tar|zstd on the same tree.

    .venv/bin/python bench/backup.py            # 2,000 binaries (1 GB) + 10,000 containers
    .venv/bin/python bench/backup.py --smoke    # a tiny run for CI
    .venv/bin/python bench/backup.py --src /tmp/old-checkout   # the same steps with another checkout's fcrctl
    .venv/bin/python bench/backup.py --keep     # leave the trees in place (see below) and say where

Measures, each as its own `fcrctl` process (wall time, CPU time, its system part and peak RSS): snapshot
(and the writer-lock hold time it reports), first upload to a directory store, a second
snapshot and its upload (nothing changed), restore from the store (download + verify + swap), and
`verify-backup --read-data`; beside `tar -cf - ocfl-root | zstd -3`, `zstd -d | tar -x` (each
also followed by `sync`: fcrctl's upload and restore are durable when they return, tar is not)
and `cp -al && sync` (what a snapshot made of hard links would cost the kernel alone), and the
disk floor of verify (`cat` of the same files, cold and warm), and warm its hashing floor
(`sha512sum` of the same files) beside a warm verify. ``--src DIR`` runs another checkout's
fcrctl on the same steps (a baseline; the steps always run the checkout named, never the one the
working directory happens to hold).
Creating files is kernel work, and on an ext4 without a journal (this machine's) it costs two to
four times as much for up to five minutes after anyone deleted many files: each new inode skips
the recently freed ones (recently_deleted() in the kernel's inode allocator: about 40% of a download's
samples under `perf record` after a deletion). The restore and the untars pay it alike; run the
bench when no tree has been deleted for five minutes, and compare their system time. ``--keep``
leaves this run's trees in place, so that its own deletion does not slow what runs next.
Targets (issue 5, 2 cores): snapshot < 2 s with the lock < 1 s; first upload <= 1.2x tar|zstd;
unchanged second upload < 0.5 s; restore <= 1.2x zstd -d|tar; verify >= 400 MB/s (issue 14); RSS < 100 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcrctl.repository import open_repository  # noqa: E402
from fcrctl.repository.base import ResourceSpec  # noqa: E402


def build(where: Path, binaries: int, total: int, containers: int) -> None:
    """Half random bytes, half RDF-like text; containers in 100-wide folders. Every binary's
    bytes are its own: one random buffer repeated would let tar|zstd's window match whole files
    against each other (1 GB -> 136 MB), which real repositories do not offer."""
    size = total // binaries
    repo = open_repository(str(where), create=True)
    repo.create("/bin", ResourceSpec())
    repo.create("/meta", ResourceSpec())
    for i in range(binaries):
        if i % 2:
            data = os.urandom(size)
        else:
            words = os.urandom(size // 7).hex()  # 12 random bytes per ~95-byte line
            lines = (f'<info:fedora/bin/b{i}> <http://purl.org/dc/elements/1.1/title> "{words[k:k + 24]}" .\n'
                     for k in range(0, len(words), 24))
            data = "".join(lines).encode()[:size]
        repo.create(f"/bin/b{i}", ResourceSpec(content=io.BytesIO(data), binary=True))
    for i in range(containers):
        if i % 100 == 0:
            repo.create(f"/meta/g{i // 100}", ResourceSpec())
        repo.create(f"/meta/g{i // 100}/c{i}", ResourceSpec())
    repo.close()


CPU: dict[str, float] = {}  # step -> user+sys seconds of its processes (robust on a shared machine)
SYS: dict[str, float] = {}  # step -> the system (kernel) part of CPU: creating files is the kernel's work


def cpu() -> tuple[float, float]:
    """The last step's CPU seconds and their system part."""
    return CPU["last"], SYS["last"]


SRC = [ROOT]  # the checkout whose fcrctl the steps run (python -m fcrctl imports it from the working directory)


def run(command: list[str] | str, *, shell: bool = False) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, stdout) of one child process; its CPU time goes to CPU["last"].
    Every step starts with nothing left to write back: fcrctl's steps and the `&& sync`
    baselines sync, and would otherwise pay for the writeback of whatever ran before them."""
    os.sync()
    started = time.perf_counter()
    before = os.times()
    proc = subprocess.Popen(command, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=SRC[0])
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    after = os.times()
    # wait4's rusage is the shell's alone for pipelines; children_* counts every waited-for process
    CPU["last"] = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    CPU["last"] = max(CPU["last"], usage.ru_utime + usage.ru_stime)
    SYS["last"] = max(after.children_system - before.children_system, usage.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}): {err.decode()[-500:]}")
    return elapsed, usage.ru_maxrss // 1024, out.decode()


def evict(tree: Path) -> None:
    """Drop ``tree``'s files from the page cache (a cold read, without dropping every cache)."""
    for folder, _, names in os.walk(tree):
        for name in names:
            try:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def fcrctl(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "fcrctl", "--repo", str(repo), "--json", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, for CI")
    parser.add_argument("--binaries", type=int, default=2_000, help="how many binaries (default 2000)")
    parser.add_argument("--mb", type=int, default=1_000, help="their total size in MB (default 1000)")
    parser.add_argument("--containers", type=int, default=10_000, help="how many containers (default 10000)")
    parser.add_argument("--src", type=Path, default=ROOT, help="run another checkout's fcrctl (a baseline)")
    parser.add_argument("--keep", action="store_true", help="leave the bench's trees in place (deleting ~1M "
                        "files slows every file created on this ext4 for minutes)")
    args = parser.parse_args()
    SRC[0] = args.src.resolve()
    binaries, total, containers = (
        (20, 2_000_000, 100) if args.smoke else (args.binaries, args.mb * 1_000_000, args.containers)
    )
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-backup-", dir=os.environ.get("BENCH_DIR"))).resolve()
    try:
        repo = work / "repo"
        t0 = time.perf_counter()
        build(repo, binaries, total, containers)
        rows: list[tuple[str, float, int, str, tuple[float, float]]] = []
        print(
            f"built {binaries} binaries ({total / 1e6:.0f} MB) + {containers} containers in "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        store = work / "store"

        secs, rss, out = run(fcrctl(repo, "backup", "--label", "one"))
        first = json.loads(out)
        rows.append(("snapshot", secs, rss, f"lock held {first['lockHeldSeconds']:.2f} s, {first['files']} files",
                     cpu()))
        secs, rss, out = run(fcrctl(repo, "upload-backup", first["id"], str(store)))
        up = json.loads(out)
        rows.append(("first upload", secs, rss, f"{up['blobs_sent']} blobs, {up['bytes_written'] / 1e6:.0f} MB stored",
                     cpu()))
        secs, rss, _ = run(fcrctl(repo, "backup", "--label", "two"))
        second = json.loads(_)
        rows.append(("2nd snapshot, unchanged", secs, rss, f"lock held {second['lockHeldSeconds']:.2f} s",
                     cpu()))
        secs2, rss2, out = run(fcrctl(repo, "upload-backup", second["id"], str(store)))
        up2 = json.loads(out)
        rows.append(
            (
                "unchanged 2nd upload",
                secs2,
                rss2,
                f"{up2['blobs_sent']} sent, manifest copied: {up2['manifest_copied']}; "
                f"in-process {up2['seconds']:.2f} s",
                cpu(),
            )
        )
        secs, rss, out = run(fcrctl(repo, "verify-backup", first["id"], "--read-data"))
        rep = json.loads(out)
        files_bytes = first["bytes"]
        rows.append(("verify --read-data", secs, rss,
                     f"{files_bytes / 1e6 / secs:.0f} MB/s of {files_bytes / 1e6:.0f} MB", cpu()))
        # the disk floor of that read: the same files through cat, from disk and from the page cache
        floor = f"find {repo / 'ocfl-root'} -type f -print0 | xargs -0 cat > /dev/null"
        evict(repo / "ocfl-root")
        secs, rss, _ = run(floor, shell=True)
        rows.append(("cat of the same (cold)", secs, rss, f"{files_bytes / 1e6 / secs:.0f} MB/s", cpu()))
        secs, rss, _ = run(floor, shell=True)
        rows.append(("cat of the same (warm)", secs, rss, f"{files_bytes / 1e6 / secs:.0f} MB/s", cpu()))
        # warm, beside the floor of what it must do to each byte (sha512), in the same minute
        secs, rss, _ = run(fcrctl(repo, "verify-backup", first["id"], "--read-data"))
        rows.append(("verify --read-data (warm)", secs, rss, f"{files_bytes / 1e6 / secs:.0f} MB/s, "
                     f"{CPU['last'] / (files_bytes / 1e9):.2f} CPU s/GB", cpu()))
        if shutil.which("sha512sum"):
            secs, rss, _ = run(floor.replace("xargs -0 cat", "xargs -0 sha512sum"), shell=True)
            rows.append(("sha512sum of the same (warm)", secs, rss, f"{files_bytes / 1e6 / secs:.0f} MB/s, "
                         f"{CPU['last'] / (files_bytes / 1e9):.2f} CPU s/GB", cpu()))
        run(fcrctl(repo, "delete-backup", first["id"]))
        secs, rss, out = run(fcrctl(repo, "restore", first["id"], "--from", str(store), "--yes"))
        restored = json.loads(out)
        # the swap's part (fail-safe scan, sync of the restored tree, lock) beside the whole, of which
        # the rest is the download and its verification
        rows.append(("restore from store", secs, rss, f"lock held {restored['lockHeldSeconds']:.2f} s, "
                     f"after the download {restored['seconds']:.2f} s", cpu()))
        restore_secs, restore_cpu = secs, cpu()
        assert rep["ok"]

        if shutil.which("zstd") and shutil.which("tar"):
            archive = work / "tree.tar.zst"
            secs, rss, _ = run(f"tar -cf - -C {repo} ocfl-root | zstd -3 -q -T1 -o {archive}", shell=True)
            rows.append(("tar | zstd -3", secs, rss, f"{archive.stat().st_size / 1e6:.0f} MB (no fsync)", cpu()))
            (work / "untar").mkdir()
            secs, rss, _ = run(f"zstd -d -q -c {archive} | tar -x -C {work / 'untar'}", shell=True)
            rows.append(("zstd -d | tar -x", secs, rss, "no fsync", cpu()))
            # fcrctl makes what it writes durable before it reports success; so must a fair baseline
            secs, rss, _ = run(f"tar -cf - -C {repo} ocfl-root | zstd -3 -q -T1 -o {archive} -f && sync", shell=True)
            rows.append(("tar | zstd -3 && sync", secs, rss, "durable, as fcrctl's upload", cpu()))
            (work / "untar2").mkdir()
            secs, rss, _ = run(f"zstd -d -q -c {archive} | tar -x -C {work / 'untar2'} && sync", shell=True)
            rows.append(("zstd -d | tar -x && sync", secs, rss, f"durable, as fcrctl's restore: restore is "
                         f"{restore_secs / secs:.2f}x (target <= 1.2x), CPU {restore_cpu[0] / CPU['last']:.2f}x, "
                         f"sys {restore_cpu[1] / max(SYS['last'], 0.01):.2f}x, user "
                         f"{(restore_cpu[0] - restore_cpu[1]) / max(CPU['last'] - SYS['last'], 0.01):.2f}x", cpu()))
        else:
            print("zstd or tar not installed: no baseline")
        # what hard-linking the tree costs the kernel here: the floor of a snapshot made of links
        # (fcrctl's records each object's head instead, see services/backup/snapshot.py)
        secs, rss, _ = run(f"cp -al {repo / 'ocfl-root'} {work / 'cp-al'} && sync", shell=True)
        rows.append(("cp -al && sync", secs, rss, "a hard-linked copy of the tree, durable", cpu()))
        print(f"{'step':<26} {'seconds':>8} {'CPU s':>7} {'sys s':>7} {'RSS MB':>7}  notes")
        for name, secs, rss, note, (cpu_s, sys_s) in rows:
            print(f"{name:<26} {secs:>8.2f} {cpu_s:>7.2f} {sys_s:>7.2f} {rss:>7}  {note}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
