"""Benchmark backups to and from stores off the machine, each a real server on loopback:
moto's S3 server, Azurite and WsgiDAV, beside the directory store and a `tar | zstd -3` stream
uploaded with boto3's upload_fileobj (what `tar | zstd -3 | aws s3 cp -` does) in the same run.

    .venv/bin/python bench/stores.py            # bench/backup.py's data set, 200 binaries (200 MB) + 2,000 containers
    .venv/bin/python bench/stores.py --smoke    # a tiny run for CI

Each step is its own `fcrctl` process (wall time, peak RSS). Targets (issue 16): first upload
<= 1.3x the tar-to-S3 baseline; unchanged re-upload < 1 s; 8 jobs >= 2x the throughput of
1 job; peak RSS < 150 MB. Loopback servers are CPU-bound on this machine's cores, which the
client shares: the job-scaling figure is bounded by the server, not by the network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from backup import CPU, build, run  # noqa: E402

from tests.store_servers import DAV_PASSWORD, DAV_USER, Servers  # noqa: E402

BASELINE = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
boto3.client("s3").upload_fileobj(sys.stdin.buffer, sys.argv[1], sys.argv[2],
                                  Config=TransferConfig(multipart_chunksize=8 << 20, max_concurrency=8))
"""


def fcrctl(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "fcrctl", "--repo", str(repo), "--json", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, for CI")
    parser.add_argument("--binaries", type=int, default=200)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--containers", type=int, default=2_000)
    parser.add_argument("--kinds", default="directory,s3,azure,webdav")
    args = parser.parse_args()
    if args.smoke:  # CI: the code paths of one remote kind, in few processes (the contract tests do the rest)
        args.kinds = "directory,s3"
    binaries, total, containers = (
        (10, 1_000_000, 50) if args.smoke else (args.binaries, args.mb * 1_000_000, args.containers))
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-stores-", dir=os.environ.get("BENCH_DIR")))
    servers = Servers(work)
    try:
        repo = work / "repo"
        build(repo, binaries, total, containers)
        print(f"built {binaries} binaries ({total / 1e6:.0f} MB) + {containers} containers", flush=True)
        moto = servers.get_moto()
        os.environ.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret,
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": moto.url,
                           "FCRCTL_STORE_USER": DAV_USER, "FCRCTL_STORE_PASSWORD": DAV_PASSWORD})
        first = json.loads(run(fcrctl(repo, "backup", "--label", "one"))[2])
        second = json.loads(run(fcrctl(repo, "backup", "--label", "two"))[2])
        rows: list[tuple[str, str, float, int, str]] = []

        def new_url(kind: str) -> str:
            if kind == "directory":
                return str(work / f"store-{uuid.uuid4().hex[:8]}")
            if kind == "s3":
                bucket = f"bench-{uuid.uuid4().hex[:12]}"
                moto.client().create_bucket(Bucket=bucket)
                return f"s3://{bucket}/fcrctl"
            if kind == "azure":
                azurite = servers.get_azurite()
                os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
                container = f"bench-{uuid.uuid4().hex[:12]}"
                azurite.service().create_container(container)
                return f"azure://{container}/fcrctl"
            return servers.get_dav().collection()

        # the baseline: one compressed stream, multipart-uploaded by boto3 (8 parts in flight)
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        moto.client().create_bucket(Bucket=bucket)
        secs, rss, _ = run(f"tar -cf - -C {repo} ocfl-root | zstd -3 -q -T1 | "
                           f"{sys.executable} -c '{BASELINE}' {bucket} tree.tar.zst", shell=True)
        baseline = secs
        rows.append(("s3", "tar | zstd -3 | upload_fileobj", secs, rss, "baseline"))

        def timed(kind: str, command: list[str]) -> tuple[float, int, str, str]:
            """run() plus where the CPU went: the client's and the loopback server's, against the
            wall time (this machine has os.cpu_count() cores for both)."""
            before = server_cpu(servers, kind)
            secs, rss, out = run(command)
            client, server = CPU["last"], server_cpu(servers, kind) - before
            return secs, rss, out, (f"CPU client {client:.2f} s + server {server:.2f} s = "
                                    f"{(client + server) / secs:.2f} of {os.cpu_count()} cores")

        for kind in args.kinds.split(","):
            url = new_url(kind)
            secs, rss, out, cpu = timed(kind, fcrctl(repo, "upload-backup", first["id"], url, "--jobs", "8"))
            up = json.loads(out)
            note = f"{up['blobs_sent']} blobs, {up['bytes_written'] / 1e6:.0f} MB; {cpu}"
            if kind == "s3":
                note += f"; {secs / baseline:.2f}x the baseline (target <= 1.3x)"
            rows.append((kind, "first upload, 8 jobs", secs, rss, note))
            secs, rss, out = run(fcrctl(repo, "upload-backup", second["id"], url))
            up2 = json.loads(out)
            rows.append((kind, "unchanged re-upload", secs, rss,
                         f"{up2['blobs_sent']} sent, in-process {up2['seconds']:.2f} s (target < 1 s)"))
            if kind != "directory":
                one = new_url(kind)
                secs1, rss1, out, cpu = timed(kind, fcrctl(repo, "upload-backup", first["id"], one, "--jobs", "1"))
                rows.append((kind, "first upload, 1 job", secs1, rss1,
                             f"8 jobs: {secs1 / rows[-2][2]:.2f}x the throughput of 1 (target >= 2x); {cpu}"))
            run(fcrctl(repo, "delete-backup", first["id"]))
            secs, rss, out = run(fcrctl(repo, "restore", first["id"], "--from", url, "--yes", "--jobs", "8"))
            rows.append((kind, "restore --from", secs, rss, "download, verify every blob, swap"))
            first = json.loads(run(fcrctl(repo, "backup", "--label", "one"))[2])
        print(f"{'store':<10} {'step':<32} {'seconds':>8} {'RSS MB':>7}  notes")
        for kind, name, secs, rss, note in rows:
            print(f"{kind:<10} {name:<32} {secs:>8.2f} {rss:>7}  {note}")
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)


def server_cpu(servers: Servers, kind: str) -> float:
    """CPU seconds the loopback server of ``kind`` has used so far (WsgiDAV runs in this process)."""
    proc = {"s3": servers.moto and servers.moto.proc, "azure": servers.azurite and servers.azurite.proc}.get(kind)
    if kind in ("webdav", "https"):
        t = os.times()
        return t.user + t.system
    if proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
