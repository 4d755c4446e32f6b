"""docs/architecture.md's module map is current, and no module outgrows ~400 lines without saying why (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_module_map_is_current_and_long_modules_say_why() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "generate_architecture.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_fails_for_a_module_without_a_docstring(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import generate_architecture as gen
    finally:
        sys.path.remove(str(ROOT / "docs"))
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    bare = tmp_path / "bare.py"
    bare.write_text("x = 1\n")
    try:
        gen.summary(bare)
    except SystemExit as exc:
        assert "no docstring" in str(exc)
    else:
        raise AssertionError("a module without a docstring was accepted")
    long = tmp_path / "long.py"
    long.write_text('"""A long module."""\n' + "x = 1\n" * 450)
    assert gen.too_long(long) is not None
    long.write_text('"""A long module.\n\nLong because it must be."""\n' + "x = 1\n" * 450)
    assert gen.too_long(long) is None
