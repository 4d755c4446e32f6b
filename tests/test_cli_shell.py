"""The shell around fcrctl: completion of option values and ids, one man page per command,
the cron examples under cron's environment, and `fcrctl config`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.repository import open_repository

ROOT = Path(__file__).resolve().parent.parent
CRON_PATH = "/usr/bin:/bin"  # what cron gives its jobs


def complete(words: str, **env: str) -> list[str]:
    """What `fcrctl` offers bash for the last word of ``words`` (typer's protocol, in-process)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = CliRunner().invoke(
        app, [], prog_name="fcrctl",
        env={"_FCRCTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword), **env},
    )
    assert result.exit_code == 0, result.output
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("fcrctl get /x --accept ", ["turtle", "ntriples", "rdfxml", "jsonld", "n3"]),
        ("fcrctl versions get /x v1 --accept j", ["jsonld"]),
        ("fcrctl --api fedora", ["fedora4", "fedora5", "fedora6"]),
        ("fcrctl create /x --container-type ", ["basic", "direct", "indirect"]),
        ("fcrctl create /x --external u --handling r", ["redirect"]),
        ("fcrctl get /x --omit s", ["server-managed"]),
        ("fcrctl export / out --format ", ["turtle", "ntriples", "jsonld", "rdfxml"]),
    ],
)
def test_option_values_complete(words: str, offered: list[str]) -> None:
    assert complete(words) == offered


def test_backup_and_transaction_ids_complete(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    open_repository(str(repo), create=True).close()
    runner = CliRunner()
    ids = [runner.invoke(app, ["-r", str(repo), "-q", "backup", "--label", label]).stdout.strip()
           for label in ("alpha", "beta")]
    assert all(ids)
    for command in ("restore", "verify-backup", "delete-backup", "upload-backup", "list-backups"):
        assert complete(f"fcrctl -r {repo} {command} ") == ids
    assert complete(f"fcrctl -r {repo} verify-backup {ids[1][:-2]}") == [ids[1]]
    assert complete("fcrctl restore ", FCRCTL_REPO=str(repo)) == ids  # the environment names it too
    store = tmp_path / "store"
    assert runner.invoke(app, ["-r", str(repo), "upload-backup", ids[0], str(store)]).exit_code == 0
    assert complete(f"fcrctl -r {repo} verify-backup --from {store} ") == [ids[0]]
    tx = runner.invoke(app, ["-r", str(repo), "tx", "begin"]).stdout.strip()
    for command in ("status", "commit", "rollback", "keepalive"):
        assert complete(f"fcrctl -r {repo} tx {command} ") == [tx]
    assert complete(f"fcrctl -r {tmp_path / 'nothing'} restore ") == []  # no repository: no ids, no error
    assert not (tmp_path / "nothing").exists()


def test_one_man_page_per_command_and_the_environment() -> None:
    page = (ROOT / "man" / "fcrctl.1").read_text()
    assert "FCRCTL_TX" in page and "NO_COLOR" in page
    backup = (ROOT / "man" / "fcrctl-backup.1").read_text()
    assert backup.startswith(".TH FCRCTL\\-BACKUP 1") and "\\-\\-lock\\-timeout" in backup
    versions = (ROOT / "man" / "fcrctl-versions.1").read_text()
    assert ".SS fcrctl versions get" in versions and ".SS fcrctl versions revert" in versions
    assert "fcrctl\\-backup\\fR(1)" in page
    if shutil.which("man"):
        shown = subprocess.run(["man", "-l", str(ROOT / "man" / "fcrctl-backup.1")], capture_output=True, text=True,
                               env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80"}, timeout=60)
        assert shown.returncode == 0 and "fcrctl-backup" in shown.stdout


def _cron_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment cron gives a job (env -i, then cron's few variables)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "LOGNAME": "fcrepo", "SHELL": "/bin/sh", "PATH": CRON_PATH, **extra}


def _crontab_line(script: str) -> tuple[str, str]:
    """The PATH= line and the job line shown in an example's header comment."""
    comment = [line.lstrip("#").strip() for line in (ROOT / "examples" / script).read_text().splitlines()
               if line.startswith("#")]
    path_line = next(line for line in comment if line.startswith("PATH="))
    job = next(line for line in comment if line.endswith(f"/usr/local/bin/{script}"))
    return path_line, job


@pytest.mark.skipif(shutil.which("sh") is None or shutil.which("env") is None, reason="needs sh and env")
def test_cron_backup_runs_from_its_crontab_line_under_crons_environment(tmp_path: Path) -> None:
    scripts = Path(sys.executable).parent
    if not (scripts / "fcrctl").exists():
        pytest.skip("fcrctl console script not installed next to this interpreter")
    repo, store = tmp_path / "repo", tmp_path / "store"
    open_repository(str(repo), create=True).close()
    path_line, job = _crontab_line("cron-backup.sh")
    # the crontab as an admin would install it: fcrctl lives where its PATH line says
    path = path_line.split("=", 1)[1].replace("/usr/local/bin", str(scripts))
    schedule_dropped = job.split(None, 5)[5]
    command = (schedule_dropped.replace("/srv/fcrepo", str(repo)).replace("/mnt/backup/fcrepo", str(store))
               .replace("/usr/local/bin/cron-backup.sh", str(ROOT / "examples" / "cron-backup.sh")))
    env = _cron_env(tmp_path, PATH=path)
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh", "-c", command],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and list((store / "manifests").iterdir())
    # without the PATH line, cron's own PATH: a clear message and 127, as a missing command
    bare = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in _cron_env(tmp_path).items()), "sh", "-c", command],
                          capture_output=True, text=True, timeout=60)
    assert bare.returncode == 127 and "add its directory to PATH in the crontab" in bare.stderr
    # or FCRCTL names the program (a second later: a backup id is its label and its second, and the
    # first run may well have finished within the same second)
    time.sleep(1.1)
    named = _cron_env(tmp_path, FCRCTL=str(scripts / "fcrctl"))
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in named.items()), "sh", "-c", command],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("env") is None, reason="needs bash and env")
def test_cron_fixity_runs_under_crons_environment(tmp_path: Path) -> None:
    scripts = Path(sys.executable).parent
    if not (scripts / "fcrctl").exists():
        pytest.skip("fcrctl console script not installed next to this interpreter")
    repo = tmp_path / "repo"
    open_repository(str(repo), create=True).close()
    script = str(ROOT / "examples" / "cron-fixity.sh")
    env = _cron_env(tmp_path, PATH=f"{scripts}:{CRON_PATH}", FCRCTL_REPO=str(repo))
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), script],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "home" / ".local" / "state" / "fcrctl" / "fixity").glob("*.ttl"))
    bare = _cron_env(tmp_path, FCRCTL_REPO=str(repo))
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in bare.items()), script],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 127 and "FCRCTL=/path/to/fcrctl" in done.stderr


def test_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    result = CliRunner().invoke(app, ["config", "path"])
    assert result.exit_code == 0 and result.stdout == f"{tmp_path / 'cfg' / 'fcrctl' / 'config.toml'}\n"
    doc = json.loads(CliRunner().invoke(app, ["--json", "config", "path"]).stdout)
    assert doc == {"path": str(tmp_path / "cfg" / "fcrctl" / "config.toml"), "exists": False}


def test_config_show_says_where_each_setting_comes_from_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    config = tmp_path / "cfg" / "fcrctl" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[profiles.prod]\nrepo = "https://bob:url-secret@fedora.example.org/rest"\nuser = "admin"\n'
                      'timeout = 5\n[profiles.default]\nrepo = "/srv/repo"\n')
    runner = CliRunner()
    plain = json.loads(runner.invoke(app, ["--json", "config", "show"]).stdout)
    assert plain["repo"] == {"value": "/srv/repo", "source": f"profile default ({config})"}
    assert plain["timeout"]["source"] == "default" and plain["password"]["value"] is None
    monkeypatch.setenv("FCRCTL_PASSWORD", "env-secret")
    monkeypatch.setenv("FCRCTL_TX", "tx-1")
    result = runner.invoke(app, ["-p", "prod", "--timeout", "3", "--json", "config", "show"])
    assert result.exit_code == 0, result.stderr
    assert "secret" not in result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["repo"] == {"value": "https://fedora.example.org/rest", "source": f"profile prod ({config})"}
    assert doc["user"]["value"] == "admin" and doc["user"]["source"].startswith("profile prod")
    assert doc["timeout"] == {"value": 3.0, "source": "option --timeout"}
    assert doc["profile"] == {"value": "prod", "source": "option --profile"}
    assert doc["tx"] == {"value": "tx-1", "source": "environment FCRCTL_TX"}
    assert doc["password"] == {"value": "********", "source": "the --repo URL"}
    table = runner.invoke(app, ["-r", "/x", "config", "show"])
    assert table.exit_code == 0 and "secret" not in table.stdout
    assert "option --repo" in table.stdout and "environment FCRCTL_PASSWORD" in table.stdout
