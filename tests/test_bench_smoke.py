"""Every benchmark runs in its small smoke mode, so a broken benchmark fails CI (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
SMOKE_TIMEOUT = 240  # seconds


# pytest's 120 s per test (pyproject) stopped store_scale's smoke at load 25 on 2 cores, where the
# run below allows 240 s: the smokes' own bound is the one that counts
@pytest.mark.timeout(SMOKE_TIMEOUT + 30)
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_benchmark_smoke(script: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "a benchmark must print its figures"
