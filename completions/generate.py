"""Regenerate the shell completion scripts from the typer app: python completions/generate.py

The scripts call back into `fcrctl` (typer's completion protocol, variable _FCRCTL_COMPLETE),
so they stay correct as commands change; regenerate only when typer's protocol changes.
"""

from __future__ import annotations

from pathlib import Path

from typer._completion_shared import get_completion_script  # no public API for the script text

HERE = Path(__file__).parent
TARGETS = {"bash": "fcrctl.bash", "zsh": "_fcrctl", "fish": "fcrctl.fish"}


def main() -> None:
    for shell, name in TARGETS.items():
        script = get_completion_script(prog_name="fcrctl", complete_var="_FCRCTL_COMPLETE", shell=shell)
        (HERE / name).write_text(script.rstrip("\n") + "\n")
        print(f"wrote completions/{name}")


if __name__ == "__main__":
    main()
