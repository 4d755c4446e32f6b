"""A `fcrctl serve` of one checkout, started for a bench: its own process, on a free port of 127.0.0.1,
writing an access log (what the benches count requests from), and its CPU read while it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start(src: Path, repo: Path, dialect: str, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """(the server process, its base URL): serve of ``repo`` run by the checkout ``src`` (PYTHONPATH in
    ``env``). The caller terminates it."""
    server = subprocess.Popen([sys.executable, "-m", "fcrctl.server.run", str(repo), "--port", "0", "--dialect",
                               dialect, "--access-log", str(log)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=src)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("LISTENING "):
        server.kill()
        raise SystemExit(f"serve of {src} did not start: {line!r}")
    return server, line.split(" ", 1)[1].strip()


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc: it is not reaped yet)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
