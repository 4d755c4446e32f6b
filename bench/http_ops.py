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
user whose rights come from an ACL three levels up (acl:default inheritance: "on"), in small
blocks that alternate so both see the same machine; per phase the wall-clock rates and the
server's CPU time per operation (its threads' schedstat: robust to the rest of a busy machine),
and the throughput ratio on/off that CPU time gives (target >= 0.90).

    python bench/http_ops.py [--creates 2000] [--binaries 200] [--big-mb 1024] [--mixed-s 60] [--smoke]
    python bench/http_ops.py --acls [--creates 1000] [--binaries 100] [--smoke]
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
        for session in (repo._remote.session, repo._remote.streaming_session()):
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


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of process ``pid`` (ns, from schedstat): what the server spent,
    whatever else this shared machine is running."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total


def acls_main(args: argparse.Namespace) -> int:
    """ACLs on (an ordinary user, rights inherited three levels down) vs off (an admin), alternating."""
    from fcrctl import acl, rdf
    from fcrctl.server.auth import add_user

    if args.smoke:
        args.creates, args.binaries = 20, 4
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
            pid = handle.pid
            assert pid is not None
            admin.create("/l1/l2/l3", ResourceSpec(), parents=True)
            admin.put_acl("/l1", rdf.parse(ACL_TTL, "text/turtle", base=acl.acl_id_of("/l1")))
            print(f"ACLs on (user 'bench', ACL 3 levels up) vs off (admin) against fcrctl serve ({args.dialect}), "
                  f"{os.cpu_count()} cores; blocks of each alternate, so both see the same machine")
            for name, repo in clients.items():
                repo.create(f"/l1/l2/l3/{name}", ResourceSpec())

            def create(repo: HttpRepository, top: str, n: int) -> None:
                repo.create(f"{top}/c{n}", ResourceSpec())

            def read(repo: HttpRepository, top: str, n: int) -> None:
                repo.get_rdf(f"{top}/c{n}")

            def upload(repo: HttpRepository, top: str, n: int) -> None:
                repo.create(f"{top}/b{n}", ResourceSpec(content=io.BytesIO(payload), mime_type="application/x-b"))

            def download(repo: HttpRepository, top: str, n: int) -> None:
                with repo.open_binary(f"{top}/b{n}") as content:
                    while content.stream.read(256 * 1024):
                        pass

            worst = float("inf")
            for phase_name, work, count, block in (("creates", create, args.creates, 25),
                                                   ("reads", read, args.creates, 25),
                                                   ("1 MB uploads", upload, args.binaries, 5),
                                                   ("1 MB downloads", download, args.binaries, 5)):
                seconds = {"off": 0.0, "on": 0.0}
                server_ns = {"off": 0, "on": 0}
                for number, first in enumerate(range(0, count, block)):
                    for name in (("off", "on") if number % 2 == 0 else ("on", "off")):
                        repo, top = clients[name], f"/l1/l2/l3/{name}"
                        began, cpu_before = time.perf_counter(), cpu_ns(pid)
                        with ThreadPoolExecutor(max_workers=4) as pool:
                            list(pool.map(lambda n, r=repo, t=top, w=work: w(r, t, n),
                                          range(first, min(first + block, count))))
                        seconds[name] += time.perf_counter() - began
                        server_ns[name] += cpu_ns(pid) - cpu_before
                off, on = count / seconds["off"], count / seconds["on"]
                cpu_off, cpu_on = server_ns["off"] / count / 1e6, server_ns["on"] / count / 1e6
                worst = min(worst, cpu_off / cpu_on)
                print(f"{phase_name:<16} {count:>5} ops each   wall: off {off:7.1f} on {on:7.1f} ops/s "
                      f"({on / off:4.2f})   server CPU: off {cpu_off:6.2f} on {cpu_on:6.2f} ms/op "
                      f"({cpu_off / cpu_on:4.2f})")
            print(f"worst server-CPU throughput on/off {worst:.2f} (target >= 0.90: ACLs within 10% of no ACLs; "
                  "wall figures swing by tens of percent on a shared machine)")
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
    parser.add_argument("--mixed-s", type=float, default=60.0, help="seconds of the mixed workload")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the mixed workload")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmark itself works")
    args = parser.parse_args()
    if args.acls:
        args.creates = args.creates or 1000
        args.binaries = args.binaries or 100
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
