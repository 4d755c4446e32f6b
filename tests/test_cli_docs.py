"""The generated man page and completion scripts match the app; the example scripts run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_man_page_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "man" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    page = (ROOT / "man" / "fcrctl.1").read_text()
    for needle in (".SH EXIT STATUS", "versions delete", "FCRCTL_PASSWORD", "\\fB130\\fR"):
        assert needle in page


def test_completion_scripts_exist_and_complete_commands() -> None:
    for name in ("fcrctl.bash", "_fcrctl", "fcrctl.fish"):
        assert "_FCRCTL_COMPLETE" in (ROOT / "completions" / name).read_text()
    env = {**os.environ, "_FCRCTL_COMPLETE": "complete_bash", "COMP_WORDS": "fcrctl versions ", "COMP_CWORD": "2"}
    done = subprocess.run([sys.executable, "-m", "fcrctl"], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["list", "create", "get", "revert", "delete"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_example_scripts_run(tmp_path: Path) -> None:
    scripts = Path(sys.executable).parent
    if not (scripts / "fcrctl").exists():
        pytest.skip("fcrctl console script not installed next to this interpreter")
    env = {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}"}
    seed = subprocess.run(
        ["bash", str(ROOT / "examples" / "seed-fixtures.sh"), str(tmp_path / "repo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seed.returncode == 0, seed.stderr
    assert "/books/moby/chapter1" in seed.stdout
    listing = subprocess.run(
        ["bash", str(ROOT / "examples" / "list-binaries.sh"), "/books"],
        env={**env, "FCRCTL_REPO": str(tmp_path / "repo")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("/books/moby/chapter1 17 ")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_cron_fixity_example_reports_corruption(tmp_path: Path) -> None:
    import io

    from fcrctl.paths import to_id
    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec
    from fcrctl.repository.local import ocfl

    scripts = Path(sys.executable).parent
    if not (scripts / "fcrctl").exists():
        pytest.skip("fcrctl console script not installed next to this interpreter")
    repo_dir = tmp_path / "repo"
    repo = open_repository(str(repo_dir), create=True)
    repo.create("/b", ResourceSpec(content=io.BytesIO(b"bytes"), binary=True))
    repo.close()
    env = {
        **os.environ,
        "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}",
        "FCRCTL_REPO": str(repo_dir),
        "FIXITY_REPORTS": str(tmp_path / "reports"),
    }
    run = ["bash", str(ROOT / "examples" / "cron-fixity.sh")]
    assert subprocess.run(run, env=env, capture_output=True, timeout=120).returncode == 0
    (repo_dir / "ocfl-root" / ocfl.object_rel(to_id("/b")) / "v1" / "content" / "b").write_bytes(b"bitrot")
    failed = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 8
    assert "fcrctl fixity failed (exit 8)" in failed.stderr
    assert len(list((tmp_path / "reports").glob("*.ttl"))) == 2
