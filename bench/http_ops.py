"""HTTP backend throughput against `fcrctl serve` on loopback, in one run.

Small container creates, 1 MB binary uploads and downloads, each with 1 and with 8 parallel
workers; then one large download through the server. Reports requests/s, MB/s, new TCP
connections (keep-alive proof, from urllib3's pool counters), and client/server peak RSS.
Targets (issue 3): >= 1.6x creates speed-up from 1 to 8 workers; large download < 100 MB RSS.
Then a mixed client workload (issue 15): 16 concurrent clients, each its own connection pool,
cycling create, get, patch, ls and versions (a memento every 8th cycle) for 60 s, beside the same
mix from one client (the baseline): requests/s, p50/p99 latency per operation, errors (must be 0),
server RSS.

With ``--acls`` (issue 12) it measures access control instead: one server with an auth file, the
same creates, reads and 1 MB downloads made by an admin (ACLs bypassed: "off") and by an ordinary
user whose rights come from an ACL three levels up (acl:default inheritance: "on"), rounds
alternating so both see the same machine; medians per phase, and on/off (target >= 0.90).

    python bench/http_ops.py --acls [--rounds 3] [--creates 600] [--binaries 60] [--smoke]
    python bench/http_ops.py [--creates 2000] [--binaries 200] [--big-mb 1024] [--mixed-s 60] [--smoke]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.server_fixture

from fcrctl.repository.base import ResourceSpec  # noqa: E402
from fcrctl.repository.http import HttpRepository  # noqa: E402
from tests.server_fixture import start_server  # noqa: E402

MB = 1 << 20


def peak_rss_mb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Counter:
    def __init__(self, repo: HttpRepository) -> None:
        self.requests = 0
        for session in (repo._session, repo._streaming_session()):
            session.hooks["response"].append(self._count)

    def _count(self, response: object, *args: object, **kwargs: object) -> None:
        self.requests += 1


def phase(
    name: str, repo: HttpRepository, counter: Counter, workers: int, items: list[int], work: Callable[[int], int]
) -> dict[str, float]:
    before_requests = counter.requests
    before_conns = repo.connection_stats()["new_connections"]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        moved = sum(pool.map(work, items))
    seconds = time.perf_counter() - start
    requests = counter.requests - before_requests
    conns = repo.connection_stats()["new_connections"] - before_conns
    row = {
        "ops_s": len(items) / seconds,
        "req_s": requests / seconds,
        "mb_s": moved / MB / seconds,
        "requests": requests,
        "new_conns": conns,
        "seconds": seconds,
    }
    print(
        f"{name:<22} workers={workers}  {len(items):>5} ops  {row['ops_s']:8.1f} ops/s  {row['req_s']:8.1f} req/s"
        f"  {row['mb_s']:7.1f} MB/s  {requests:>6} requests  {conns:>3} new TCP connections  {seconds:6.2f} s"
    )
    return row


ACL_TTL = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#bench> a acl:Authorization; acl:agent "bench"; acl:mode acl:Read, acl:Write, acl:Append;
    acl:accessTo <info:fedora/l1>; acl:default <info:fedora/l1> .
"""


def acls_main(args: argparse.Namespace) -> int:
    """ACLs on (an ordinary user, rights inherited three levels down) vs off (an admin), alternating."""
    import statistics

    from fcrctl import acl, rdf
    from fcrctl.server.auth import add_user

    if args.smoke:
        args.creates, args.binaries, args.rounds = 20, 4, 1
    payload = os.urandom(MB)
    with tempfile.TemporaryDirectory() as tmp:
        users = Path(tmp) / "users"
        add_user(users, "root", "bench-pw", admin=True)
        add_user(users, "bench", "bench-pw")
        password = Path(tmp) / "password"
        password.write_text("bench-pw\n")
        handle = start_server(Path(tmp) / "repo", subprocess=True, dialect=args.dialect, auth_file=users)
        try:
            api = {"api": args.dialect}  # the user may not read the root, where the dialect is detected
            clients = {name: HttpRepository.open(handle.url, user=user, password_file=str(password), **api)
                       for name, user in (("off", "root"), ("on", "bench"))}
            admin = clients["off"]
            admin.create("/l1/l2/l3", ResourceSpec(), parents=True)
            admin.put_acl("/l1", rdf.parse(ACL_TTL, "text/turtle", base=acl.acl_id_of("/l1")))
            print(f"ACLs on (user 'bench', ACL 3 levels up) vs off (admin) against fcrctl serve ({args.dialect}), "
                  f"{args.rounds} alternating rounds, {os.cpu_count()} cores")
            rates: dict[tuple[str, str], list[float]] = {}
            for rnd in range(args.rounds):
                for name in (("off", "on") if rnd % 2 == 0 else ("on", "off")):
                    repo = clients[name]
                    top = f"/l1/l2/l3/{name}{rnd}"
                    repo.create(top, ResourceSpec())
                    counter = Counter(repo)

                    def create(n: int, repo: HttpRepository = repo, top: str = top) -> int:
                        repo.create(f"{top}/c{n}", ResourceSpec())
                        return 0

                    def read(n: int, repo: HttpRepository = repo, top: str = top) -> int:
                        repo.get_rdf(f"{top}/c{n}")
                        return 0

                    def upload(n: int, repo: HttpRepository = repo, top: str = top) -> int:
                        spec = ResourceSpec(content=io.BytesIO(payload), mime_type="application/x-b")
                        repo.create(f"{top}/b{n}", spec)
                        return MB

                    def download(n: int, repo: HttpRepository = repo, top: str = top) -> int:
                        with repo.open_binary(f"{top}/b{n}") as content:
                            while content.stream.read(256 * 1024):
                                pass
                        return MB

                    for phase_name, work, count in (("creates", create, args.creates), ("reads", read, args.creates),
                                                    ("1 MB uploads", upload, args.binaries),
                                                    ("1 MB downloads", download, args.binaries)):
                        row = phase(f"{phase_name} ACLs {name}", repo, counter, 4, list(range(count)), work)
                        rates.setdefault((phase_name, name), []).append(row["ops_s"])
            worst = float("inf")
            for phase_name in ("creates", "reads", "1 MB uploads", "1 MB downloads"):
                off = statistics.median(rates[(phase_name, "off")])
                on = statistics.median(rates[(phase_name, "on")])
                worst = min(worst, on / off)
                print(f"{phase_name:<16} median ops/s  off {off:8.1f}  on {on:8.1f}  on/off {on / off:5.2f}")
            print(f"worst on/off ratio {worst:.2f} (target >= 0.90: ACLs within 10% of no ACLs)")
            for repo in clients.values():
                repo.close()
        finally:
            handle.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=None)
    parser.add_argument("--binaries", type=int, default=None)
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the large download")
    parser.add_argument("--dialect", default="fedora6")
    parser.add_argument("--acls", action="store_true", help="ACLs on vs off, side by side (issue 12)")
    parser.add_argument("--rounds", type=int, default=3, help="--acls: alternating rounds (medians)")
    parser.add_argument("--mixed-s", type=float, default=60.0, help="seconds of the mixed workload")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the mixed workload")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmark itself works")
    args = parser.parse_args()
    if args.acls:
        args.creates = args.creates or 600
        args.binaries = args.binaries or 60
        return acls_main(args)
    args.creates = args.creates or 2000
    args.binaries = args.binaries or 200
    if args.smoke:
        args.creates, args.binaries, args.big_mb, args.mixed_s = 40, 8, 8, 3.0
    payload = os.urandom(MB)

    with tempfile.TemporaryDirectory() as tmp:
        handle = start_server(Path(tmp) / "repo", subprocess=True, dialect=args.dialect)
        try:
            repo = HttpRepository.open(handle.url)
            counter = Counter(repo)
            print(f"fcrctl HTTP backend vs fcrctl serve ({args.dialect}) at {handle.url}, {os.cpu_count()} cores")
            results: dict[str, dict[str, float]] = {}
            for workers in (1, 8):
                top = f"/w{workers}"
                repo.create(top, ResourceSpec())

                def create(n: int, top: str = top) -> int:
                    repo.create(f"{top}/c{n}", ResourceSpec())
                    return 0

                def upload(n: int, top: str = top) -> int:
                    repo.create(f"{top}/b{n}", ResourceSpec(content=io.BytesIO(payload), mime_type="application/x-b"))
                    return MB

                def download(n: int, top: str = top) -> int:
                    with repo.open_binary(f"{top}/b{n}") as content:
                        size = 0
                        while chunk := content.stream.read(256 * 1024):
                            size += len(chunk)
                    return size

                results[f"create{workers}"] = phase(
                    "container creates", repo, counter, workers, list(range(args.creates)), create
                )
                results[f"upload{workers}"] = phase(
                    "1 MB uploads", repo, counter, workers, list(range(args.binaries)), upload
                )
                results[f"download{workers}"] = phase(
                    "1 MB downloads", repo, counter, workers, list(range(args.binaries)), download
                )

            big = Path(tmp) / "big.bin"
            with open(big, "wb") as out:
                out.truncate(args.big_mb * MB)  # sparse: no disk, fast to read
            client_before = peak_rss_mb()
            with open(big, "rb") as source:
                repo.create("/big", ResourceSpec(content=source, mime_type="application/octet-stream"))
            start = time.perf_counter()
            with repo.open_binary("/big") as content:
                size = 0
                while chunk := content.stream.read(MB):
                    size += len(chunk)
            seconds = time.perf_counter() - start
            assert size == args.big_mb * MB, size
            print(f"large download         {args.big_mb} MB in {seconds:.2f} s  {size / MB / seconds:7.1f} MB/s")

            speedup = results["create8"]["ops_s"] / results["create1"]["ops_s"]
            client_peak = peak_rss_mb()
            server_peak = peak_rss_mb(handle.pid)
            print(f"creates speed-up 1->8 workers: {speedup:.2f}x (target >= 1.6x)")
            print(
                f"client peak RSS {client_peak:.0f} MB (before the large transfer {client_before:.0f} MB); "
                f"server peak RSS {server_peak:.0f} MB (target < 100 MB)"
            )
            print(
                f"total new TCP connections: {repo.connection_stats()['new_connections']} "
                f"for {counter.requests} requests"
            )
            repo.close()
            baseline = mixed(handle.url, 1, max(args.mixed_s / 4, 1.0), "base")
            loaded = mixed(handle.url, args.clients, args.mixed_s, "mix")
            for row in (baseline, loaded):
                print(
                    f"mixed workload         clients={row['clients']:<3} {row['seconds']:5.1f} s  {row['ops']:>6} ops"
                    f"  {row['req_s']:8.1f} req/s  {row['ops_s']:7.1f} ops/s  errors {row['errors']}"
                )
                for op, (p50, p99) in row["latency"].items():
                    print(f"{'':23}{op:<9} p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms")
            status = Path(f"/proc/{handle.pid}/status").read_text().splitlines()
            rss = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status if line.startswith("Vm")}
            print(
                f"server RSS after the mixed workload {rss.get('VmRSS', 0):.0f} MB (peak {rss.get('VmHWM', 0):.0f} MB)"
            )
            if loaded["errors"] or baseline["errors"]:
                print(f"ERRORS in the mixed workload: {loaded['first_error'] or baseline['first_error']}")
                return 1
        finally:
            handle.stop()
    return 0


OPS = ("create", "get", "patch", "ls", "versions")


def mixed(url: str, clients: int, seconds: float, tag: str) -> dict:  # type: ignore[type-arg]
    """``clients`` threads, each with its own HttpRepository, cycling OPS until ``seconds`` pass."""
    import threading

    deadline = time.perf_counter() + seconds
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    errors: list[str] = []
    requests = [0]
    lock = threading.Lock()

    def client(n: int) -> None:
        repo = HttpRepository.open(url)
        counted = Counter(repo)
        top = f"/{tag}{n}"
        mine: dict[str, list[float]] = {op: [] for op in OPS}
        try:
            repo.create(top, ResourceSpec())
            cycle = 0
            while time.perf_counter() < deadline:
                path = f"{top}/r{cycle}"
                for op in OPS:
                    start = time.perf_counter()
                    try:
                        if op == "create":
                            repo.create(path, ResourceSpec())
                        elif op == "get":
                            repo.get_rdf(path)
                        elif op == "patch":
                            repo.patch(path, f'INSERT DATA {{ <> <http://purl.org/dc/elements/1.1/title> "t{cycle}" }}')
                        elif op == "ls":
                            sum(1 for _ in repo.children(top))
                        else:
                            if cycle % 8 == 0:
                                repo.create_version(path)
                            repo.versions(path)
                    except Exception as exc:  # noqa: BLE001 (counted and reported: the figure must be 0)
                        with lock:
                            errors.append(f"{op} {path}: {exc}")
                    mine[op].append(time.perf_counter() - start)
                cycle += 1
        finally:
            with lock:
                for op in OPS:
                    latencies[op] += mine[op]
                requests[0] += counted.requests
            repo.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ops = sum(len(v) for v in latencies.values())
    return {
        "clients": clients,
        "seconds": wall,
        "ops": ops,
        "ops_s": ops / wall,
        "req_s": requests[0] / wall,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "latency": {op: (_quantile(v, 0.5), _quantile(v, 0.99)) for op, v in latencies.items() if v},
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    sys.exit(main())
