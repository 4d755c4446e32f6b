"""Benchmark `fcrctl fixity` against `sha512sum` and a plain hashlib loop on the same content files.

    .venv/bin/python bench/fixity.py             # 2,000 binaries, 2 GB
    .venv/bin/python bench/fixity.py --smoke     # a tiny run for CI

Prints MB/s for: fcrctl fixity (local, all cores), fcrctl fixity over `fcrctl serve` (the server
computes; nothing is downloaded), `sha512sum` over the OCFL content files, and a single-threaded
Python hashlib loop over the same files. All runs read from a warm page cache (the data is
written just before and fits in memory), so they compare hashing and overhead, not the disk.
Beside each time: the CPU seconds of every process involved (for over-serve: client + server),
which a machine shared with other work disturbs far less than the times.

fcrctl local and over serve run alternately ``--rounds`` times (default 3) and the medians are
compared: this machine's speed drifts by tens of percent within a minute, and a ratio of two
runs minutes apart measured the drift. Last, the HTTP floor: the same number of Want-Digest
HEADs, through the same client path and waitress, to a server that answers without doing
anything: no fixity over HTTP, one request per binary, can cost less than that.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
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


def build(where: Path, count: int, size: int) -> list[Path]:
    """A repository of ``count`` binaries of ``size`` bytes; returns their OCFL content files."""
    block = os.urandom(size)
    repo = open_repository(str(where), create=True)
    repo.create("/data", ResourceSpec())
    for i in range(count):
        data = i.to_bytes(8, "big") + block[8:]  # unique content, cheap to make
        repo.create(f"/data/b{i}", ResourceSpec(content=io.BytesIO(data), binary=True))
    repo.close()
    root = where / "ocfl-root"
    return sorted(p for p in root.rglob("content/b*") if p.is_file() and "~" not in p.name)


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float:
    """CPU seconds used so far by a running process (0 where /proc cannot tell)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    cpu = children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    LAST_CPU[0] = children_cpu() - cpu
    return seconds, done


LAST_CPU = [0.0]  # CPU seconds of the last timed() command


def fcrctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "fcrctl", *args]


def hashlib_loop(files: list[Path]) -> float:
    started = time.perf_counter()
    for file in files:
        digest = hashlib.sha512()
        with open(file, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return time.perf_counter() - started


NOOP_SERVER = """
import json
import logging
import sys
from fcrctl.server.run import create_server

logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a backlog is what the floor measures
HEADERS = [tuple(pair) for pair in json.loads(sys.argv[1])]

def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [b""]

server = create_server(app, port=0)
print(f"LISTENING http://127.0.0.1:{server.effective_port}", flush=True)
server.run()
"""


def served_headers(url: str) -> list[tuple[str, str]]:
    """The headers ``fcrctl serve`` answers a Want-Digest HEAD on a binary with (~20 lines: the
    Link, Allow, ETag... Fedora's API asks for), minus the ones waitress writes itself."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    try:
        conn.request("HEAD", parts.path, headers={"Want-Digest": "sha-512"})
        response = conn.getresponse()
        response.read()
        return [(k, v) for k, v in response.getheaders() if k.lower() not in ("server", "date", "connection")]
    finally:
        conn.close()


def http_floor(count: int, headers: list[tuple[str, str]]) -> tuple[float, float]:
    """(seconds, CPU seconds of client + server) for ``count`` Want-Digest HEADs through
    fcrctl's fast HEAD path, 4 in flight per core as fixity runs them, to a server that answers
    at once with ``headers``."""
    from concurrent.futures import ThreadPoolExecutor

    from fcrctl.repository.http.session import QuickHead, make_session

    proc = subprocess.Popen(
        [sys.executable, "-c", NOOP_SERVER, json.dumps(headers)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1]
        session = make_session()
        head = QuickHead(session, (10.0, 60.0))
        want = {"Want-Digest": "sha-512"}
        server_cpu, own = process_cpu(proc.pid), time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(4 * (os.cpu_count() or 2)) as pool:
            answers = list(pool.map(lambda i: head.head(f"{url}/data/b{i}", want), range(count)))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - own + process_cpu(proc.pid) - server_cpu
        assert all(answers), "the do-nothing server did not answer every HEAD"
        head.close()
        session.close()
        return seconds, cpu
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size-mb", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternate local and over-serve runs this often")
    args = parser.parse_args()
    count, size = (20, 64 * 1024) if args.smoke else (args.count, int(args.size_mb * 1024 * 1024))
    rounds = 1 if args.smoke else max(1, args.rounds)
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-fixity-"))
    try:
        repo_dir = work / "repo"
        started = time.perf_counter()
        files = build(repo_dir, count, size)
        total_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"data: {len(files)} binaries, {total_mb:.0f} MB (built in {time.perf_counter() - started:.1f} s)")
        os.sync()  # else the first contender pays for writing back what the build wrote
        hashlib_loop(files)  # warm the page cache for every contender alike

        times: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}  # CPU seconds, every process involved (client and server)

        def record(name: str, seconds: float, cpu_seconds: float) -> None:
            times.setdefault(name, []).append(seconds)
            cpu.setdefault(name, []).append(cpu_seconds)

        if shutil.which("sha512sum"):
            listing = work / "files.txt"
            listing.write_text("\n".join(str(f) for f in files) + "\n")
            seconds, done = timed(["xargs", "-a", str(listing), "sha512sum"])
            assert done.returncode == 0, done.stderr
            record("sha512sum", seconds, LAST_CPU[0])
        own = time.process_time()
        record("python hashlib loop (1 thread)", hashlib_loop(files), time.process_time() - own)

        from tests.server_fixture import start_server

        local = "fcrctl fixity (local)"
        remote = "fcrctl fixity over serve (server computes)"
        with start_server(repo_dir, subprocess=True, dialect="fedora6") as handle:
            headers = served_headers(handle.url + "/data/b0")
            for _ in range(rounds):
                seconds, done = timed(fcrctl("--repo", str(repo_dir), "--json", "fixity", "-R", "/"))
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout)["checked"] == len(files)
                record(local, seconds, LAST_CPU[0])

                server_cpu = process_cpu(handle.pid)
                seconds, done = timed(fcrctl("--repo", handle.url, "--json", "fixity", "-R", "/"))
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout)["checked"] == len(files)
                record(remote, seconds, LAST_CPU[0] + process_cpu(handle.pid) - server_cpu)
            server_cpu = process_cpu(handle.pid)
            seconds, done = timed(fcrctl("--repo", handle.url, "--json", "ls", "-R", "/"))
            assert done.returncode == 0, done.stderr
            listing = "  of which the listing: ls -R over serve"
            record(listing, seconds, LAST_CPU[0] + process_cpu(handle.pid) - server_cpu)
        floor = "HTTP floor: HEADs to a do-nothing server"
        record(floor, *http_floor(len(files), [("Content-Length", "0"), ("Digest", "sha-512=00")]))
        fedora_floor = "  the same, answering with serve's headers"
        record(fedora_floor, *http_floor(len(files), headers))

        base = median(times[local])
        for name in times:
            seconds = median(times[name])
            runs = "" if len(times[name]) == 1 else f"  runs {' '.join(f'{t:.2f}' for t in times[name])}"
            print(
                f"{name:45s} {seconds:7.2f} s  {total_mb / seconds:8.1f} MB/s  ({seconds / base:.2f}x local)"
                f"  cpu {median(cpu[name]):6.2f} s{runs}"
            )
        ratios = [r / lo for r, lo in zip(times[remote], times[local], strict=True)]
        print(
            f"over serve / local: {median(times[remote]) / base:.2f}x time (each round: "
            f"{' '.join(f'{r:.2f}x' for r in ratios)}), {median(cpu[remote]) / median(cpu[local]):.2f}x CPU; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"HTTP floor alone: {median(times[floor]) / base:.2f}x the local time for as many requests, "
            f"{median(times[fedora_floor]) / base:.2f}x with the {len(headers)} headers serve answers with "
            "(what one HEAD per binary costs before any repository work)"
        )
        print("targets: local >= hashlib loop and > sha512sum; over serve within 1.3x of local")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
