"""Deleting a backup that another is stored as changes to (manifest format 2) first rewrites that
successor so it no longer needs it (deletes.fold), so a kill -9 at any step leaves every remaining
backup restorable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fcrctl.services.backup.manifest import chain
from fcrctl.services.backup.stores import open_store
from tests.backup_helpers import make_repo, ok_json
from tests.test_backup_store_chain import change, head, resolved

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def chained(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A repository and a store of four backups: a full manifest and three deltas, each on the
    previous one; beside each, the same backup uploaded alone (a full manifest) under refs/."""
    repo, store = tmp_path / "repo", tmp_path / "store"
    make_repo(repo)
    ids = [ok_json(repo, "backup", "--to", str(store))["id"]]
    for n in (1, 2, 3):
        change(repo, n)
        ids.append(ok_json(repo, "backup", "--to", str(store))["id"])
    assert [head(store, bid).get("base", {}).get("id") for bid in ids] == [None, *ids[:-1]]
    for bid in ids:
        ok_json(repo, "upload-backup", bid, str(tmp_path / "refs" / bid))
    return repo, store, ids


def sound(repo: Path, store: Path, refs: Path, ids: list[str]) -> None:
    """Every backup listed in the store resolves to what a full upload of it holds, and verifies
    reading every blob."""
    listed = [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))]
    assert set(listed) <= set(ids)
    for bid in listed:
        assert resolved(store, bid) == resolved(refs / bid, bid), bid
        out = ok_json(repo, "verify-backup", bid, "--from", str(store), "--read-data")
        assert out["ok"], out


def test_deleting_a_base_folds_it_into_its_successor(chained: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    repo, store, ids = chained
    ok_json(repo, "delete-backup", ids[1], "--from", str(store))
    assert head(store, ids[2])["base"]["id"] == ids[0]  # rewritten on the base that stays
    assert head(store, ids[3])["base"]["id"] == ids[2]  # untouched: it names ids[2]'s old lines (was)
    sound(repo, store, tmp_path / "refs", ids)
    ok_json(repo, "delete-backup", ids[0], "--from", str(store))
    # the full manifest went: the newest backup built on it is whole now (not the oldest, which the
    # next nightly prune would remove: rebase.py), the other one a delta on it
    assert "base" not in head(store, ids[3])
    assert head(store, ids[2])["base"]["id"] == ids[3]
    sound(repo, store, tmp_path / "refs", ids)
    out = ok_json(repo, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", str(store))
    assert out["remove"] == [ids[2]]
    assert "base" not in head(store, ids[3])
    assert len(chain.resolve(open_store(str(store)), ids[3])) == 1
    sound(repo, store, tmp_path / "refs", ids)
    ok_json(repo, "delete-backup", ids[3])  # the home's copy: the store's is restored
    ok_json(repo, "restore", ids[3], "--from", str(store), "--yes")


_DRIVER = textwrap.dedent("""
    import os, signal, sys
    from fcrctl.services.backup.stores.directory import DirectoryStore
    left = [int(sys.argv[1])]
    for name in ("put", "delete"):
        real = getattr(DirectoryStore, name)
        def step(self, *args, _real=real, **kwargs):
            if left[0] == 0:
                os.kill(os.getpid(), signal.SIGKILL)
            left[0] -= 1
            return _real(self, *args, **kwargs)
        setattr(DirectoryStore, name, step)
    from fcrctl.cli.main import app
    app(sys.argv[2:])
""")


def test_a_prune_killed_at_any_step_leaves_every_backup_restorable(chained: tuple[Path, Path, list[str]],
                                                                   tmp_path: Path) -> None:
    repo, store, ids = chained
    pristine = tmp_path / "pristine"
    shutil.copytree(store, pristine)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for step in range(40):
        shutil.rmtree(store)
        shutil.copytree(pristine, store)
        proc = subprocess.run([sys.executable, "-c", _DRIVER, str(step), "--repo", str(repo), "--json", "prune-backups",
                               "--keep-last", "2", "--group-by", "none", "--from", str(store)],
                              capture_output=True, cwd=ROOT, env=env)
        sound(repo, store, tmp_path / "refs", ids)
        if proc.returncode == 0:
            break
        assert proc.returncode == -9, proc.stderr.decode()
    else:
        pytest.fail("the prune never finished")
    assert step > 2  # it was killed at every write before it finished: the folds and deletes
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids[2:]
    assert "base" not in head(store, ids[3])  # the newest is whole, the other a delta on it
    assert head(store, ids[2])["base"]["id"] == ids[3]
