"""A valid user's latency while 16 clients send wrong passwords to `fcrctl serve` (issue 20
item 14). Each failed login costs an scrypt (tens of ms of CPU); without a limit 16 attackers
keep every worker and core hashing. Runs the same flood twice in one run: without a limit
(the baseline, --login-failures 0) and with the default limit (10 failures per address per
minute, then 429 without hashing). Prints the valid user's median and p95 latency, idle and
under the flood, and how many bad attempts were hashed.

    python bench/auth_flood.py [--requests 300] [--attackers 16] [--smoke]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fcrctl.server.auth import DEFAULT_LOGIN_FAILURES, add_user  # noqa: E402


def start(repo: Path, auth: Path, limit: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "fcrctl.server.run", str(repo), "--port", "0", "--auth-file", str(auth),
           "--login-failures", str(limit)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise SystemExit(f"server did not start: {line}")
    return proc, line.split(" ", 1)[1].strip()


def attack(url: str, attackers: int, stop: Any, out: Any) -> None:
    counts = {"sent": 0, "limited": 0}
    lock = threading.Lock()

    def one() -> None:
        with requests.Session() as session:
            session.auth = ("alice", "wrong password")
            while not stop.is_set():
                status = session.get(url + "/", timeout=30).status_code
                with lock:
                    counts["sent"] += 1
                    counts["limited"] += status == 429

    threads = [threading.Thread(target=one) for _ in range(attackers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(counts)


def latencies(url: str, n: int) -> list[float]:
    out = []
    with requests.Session() as session:
        session.auth = ("alice", "right password")
        for _ in range(n):
            start = time.perf_counter()
            assert session.get(url + "/", timeout=30).status_code == 200
            out.append((time.perf_counter() - start) * 1000)
    return out


def summary(values: list[float]) -> str:
    p95 = sorted(values)[max(0, int(len(values) * 0.95) - 1)]
    return f"median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms"


def run(limit: int, n: int, attackers: int, work: Path) -> None:
    proc, url = start(work / "repo", work / "users", limit)
    try:
        latencies(url, 3)  # the first login hashes once, then it is remembered
        idle = latencies(url, n)
        queue, stop = multiprocessing.Queue(), multiprocessing.Event()
        attacker = multiprocessing.Process(target=attack, args=(url, attackers, stop, queue))
        attacker.start()
        time.sleep(0.5)  # let the flood start
        flooded = latencies(url, n)
        stop.set()
        counts = queue.get(timeout=120)
        attacker.join(timeout=60)
        name = "no limit (before)" if limit == 0 else f"limit {limit}/min (after)"
        print(f"{name:22} idle: {summary(idle)}   under {attackers} attackers: {summary(flooded)}   "
              f"bad attempts {counts['sent']}, answered 429 without hashing {counts['limited']}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--attackers", type=int, default=16)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    n, attackers = (20, 4) if args.smoke else (args.requests, args.attackers)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        add_user(work / "users", "alice", "right password", admin=True)  # no ACL in the way of GET /
        print(f"valid user's GET / latency, {os.cpu_count()} cores")
        run(0, n, attackers, work)
        run(DEFAULT_LOGIN_FAILURES, n, attackers, work)


if __name__ == "__main__":
    main()
