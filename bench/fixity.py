"""Benchmark `fcrctl fixity` against `sha512sum` and a plain hashlib loop on the same content files.

    .venv/bin/python bench/fixity.py             # 2,000 binaries, 2 GB
    .venv/bin/python bench/fixity.py --smoke     # a tiny run for CI

Prints MB/s for: fcrctl fixity (local, all cores), fcrctl fixity over `fcrctl serve` (the server
computes; nothing is downloaded), `sha512sum` over the OCFL content files, and a single-threaded
Python hashlib loop over the same files. All runs read from a warm page cache (the data is
written just before and fits in memory), so they compare hashing and overhead, not the disk.
"""

from __future__ import annotations

import argparse
import hashlib
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


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size-mb", type=float, default=1.0)
    args = parser.parse_args()
    count, size = (20, 64 * 1024) if args.smoke else (args.count, int(args.size_mb * 1024 * 1024))
    work = Path(tempfile.mkdtemp(prefix="fcrctl-bench-fixity-"))
    try:
        repo_dir = work / "repo"
        started = time.perf_counter()
        files = build(repo_dir, count, size)
        total_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"data: {len(files)} binaries, {total_mb:.0f} MB (built in {time.perf_counter() - started:.1f} s)")
        hashlib_loop(files)  # warm the page cache for every contender alike

        figures: dict[str, float] = {}
        seconds, done = timed(fcrctl("--repo", str(repo_dir), "--json", "fixity", "-R", "/"))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["checked"] == len(files)
        figures["fcrctl fixity (local)"] = seconds

        if shutil.which("sha512sum"):
            listing = work / "files.txt"
            listing.write_text("\n".join(str(f) for f in files) + "\n")
            seconds, done = timed(["xargs", "-a", str(listing), "sha512sum"])
            assert done.returncode == 0, done.stderr
            figures["sha512sum"] = seconds
        figures["python hashlib loop (1 thread)"] = hashlib_loop(files)

        from tests.server_fixture import start_server

        with start_server(repo_dir, subprocess=True, dialect="fedora6") as handle:
            seconds, done = timed(fcrctl("--repo", handle.url, "--json", "fixity", "-R", "/"))
        assert done.returncode == 0, done.stderr
        figures["fcrctl fixity over serve (server computes)"] = seconds

        local = figures["fcrctl fixity (local)"]
        for name, seconds in figures.items():
            print(f"{name:45s} {seconds:7.2f} s  {total_mb / seconds:8.1f} MB/s  ({seconds / local:.2f}x local)")
        print("targets: local >= hashlib loop and > sha512sum; over serve within 1.3x of local")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
