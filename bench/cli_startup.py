"""Start-up time of the CLI: median wall time of `fcrctl --help` and `fcrctl info PATH`.

Prints figures; it is not a timed test. Targets (issue 2): --help <= 0.25 s, info <= 0.4 s.

    python bench/cli_startup.py [--runs N] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--help": 0.25, "info": 0.40}


def fcrctl_command() -> list[str]:
    """The installed console script when it belongs to this interpreter, else ``python -m fcrctl``."""
    script = Path(sys.executable).with_name("fcrctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fcrctl"]


def median_wall_time(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--smoke", action="store_true", help="3 runs each: checks the benchmark itself works")
    args = parser.parse_args()
    runs = 3 if args.smoke else args.runs
    cmd = fcrctl_command()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config"}
        env.pop("FCRCTL_REPO", None)
        # Measure what users get: an installed package has cached bytecode (pip compiles it).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        repo = f"{tmp}/repo"
        subprocess.run([*cmd, "init", repo], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*cmd, "-r", repo, "create", "/bench"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*cmd, "--help"], env=env, check=True, stdout=subprocess.DEVNULL)  # warm the .pyc cache
        results = {
            "--help": median_wall_time([*cmd, "--help"], runs, env),
            "info": median_wall_time([*cmd, "-r", repo, "info", "/bench"], runs, env),
        }
    print(f"fcrctl start-up, median of {runs} runs ({os.cpu_count()} cores, {' '.join(cmd)}):")
    for name, seconds in results.items():
        verdict = "ok" if seconds <= TARGETS[name] else "OVER TARGET"
        print(f"  fcrctl {name:<7} {seconds * 1000:7.1f} ms   (target {TARGETS[name] * 1000:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
