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
    untouched = {bid: (store / "manifests" / f"{bid}.jsonl.zst").read_bytes() for bid in (ids[0], ids[2], ids[3])}
    ok_json(repo, "delete-backup", ids[0], "--from", str(store))
    # the full manifest went from the backups, not from the store: retired (one marker), it is still
    # the base of the others, and no manifest was rewritten (retired.py)
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids[2:]
    assert {bid: (store / "manifests" / f"{bid}.jsonl.zst").read_bytes() for bid in untouched} == untouched
    assert len(retired_markers(store)) == 1
    sound(repo, store, tmp_path / "refs", ids)
    out = ok_json(repo, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", str(store))
    assert out["remove"] == [ids[2]]
    assert head(store, ids[3])["base"]["id"] == ids[0]  # folded onto the retired base: O(the deltas)
    assert len(chain.resolve(open_store(str(store)), ids[3])) == 2
    sound(repo, store, tmp_path / "refs", ids)
    ok_json(repo, "delete-backup", ids[3])  # the home's copy: the store's is restored
    ok_json(repo, "restore", ids[3], "--from", str(store), "--yes")
    ok_json(repo, "delete-backup", ids[3], "--from", str(store))  # the last built on the retired base: both go
    assert not list((store / "manifests").iterdir())
    assert not [p for p in (store / "blobs").rglob("*") if p.is_file()]
    assert not [p for p in (store / "packs").rglob("*") if p.is_file()]


def retired_markers(store: Path) -> list[str]:
    return sorted(p.name for p in (store / "manifests").iterdir() if p.name.endswith(".retired"))


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


def _killed_at_every_step(repo: Path, store: Path, refs: Path, ids: list[str], args: list[str],
                          staying: list[str]) -> None:
    """Run ``fcrctl args`` killed at its first, second... store write until it finishes; after each
    kill every backup listed resolves to what a full upload of it holds and verifies reading every
    blob, no backup that the command keeps is hidden, and none it removed comes back."""
    pristine = store.parent / "pristine"
    shutil.rmtree(pristine, ignore_errors=True)
    shutil.copytree(store, pristine)
    was = {b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for step in range(40):
        shutil.rmtree(store)
        shutil.copytree(pristine, store)
        proc = subprocess.run([sys.executable, "-c", _DRIVER, str(step), "--repo", str(repo), "--json", *args],
                              capture_output=True, cwd=ROOT, env=env)
        sound(repo, store, refs, ids)
        listed = {b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))}
        assert set(staying) <= listed <= was, (step, listed)
        if proc.returncode == 0:
            break
        assert proc.returncode == -9, proc.stderr.decode()
    else:
        pytest.fail("it never finished")
    assert step > 2  # it was killed at every write before it finished


def test_a_prune_killed_at_any_step_leaves_every_backup_restorable(chained: tuple[Path, Path, list[str]],
                                                                   tmp_path: Path) -> None:
    repo, store, ids = chained
    refs = tmp_path / "refs"
    # the full manifest retired, the delta on it removed: its successor folded onto the retired base
    _killed_at_every_step(repo, store, refs, ids, ["prune-backups", "--keep-last", "2", "--group-by", "none",
                                                   "--from", str(store)], ids[2:])
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids[2:]
    assert head(store, ids[2])["base"]["id"] == ids[0]
    assert head(store, ids[3])["base"]["id"] == ids[2]
    assert retired_markers(store) == [f"{ids[0]}.{head(store, ids[0])['lines']['sha256']}.retired"]
    # the last backup built on the retired base removed: it goes too, its manifest before its marker
    ok_json(repo, "delete-backup", ids[2], "--from", str(store))
    assert head(store, ids[3])["base"]["id"] == ids[0]
    _killed_at_every_step(repo, store, refs, ids, ["delete-backup", ids[3], "--from", str(store)], [])
    assert not list((store / "manifests").iterdir())
    assert not [p for p in (store / "blobs").rglob("*") if p.is_file()]


def test_what_a_killed_delete_left_goes_with_the_next(chained: tuple[Path, Path, list[str]]) -> None:
    """A delete killed before it removed the retired base that no backup is built on any more leaves
    that base; one killed between the base's manifest and its marker leaves a marker that retires
    nothing: the next delete removes both."""
    repo, store, ids = chained
    ok_json(repo, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", str(store))
    assert head(store, ids[3])["base"]["id"] == ids[0] and len(retired_markers(store)) == 1
    (store / "manifests" / f"{ids[3]}.jsonl.zst").unlink()  # its manifest went, the base's did not
    assert ok_json(repo, "list-backups", "--from", str(store)) == []
    marker = retired_markers(store)[0]
    out = ok_json(repo, "prune-backups", "--keep-last", "1", "--from", str(store), "--full-sweep")
    assert out["remove"] == []
    assert not list((store / "manifests").iterdir())
    assert not [p for p in (store / "blobs").rglob("*") if p.is_file()]
    (store / "manifests" / marker).write_text("{}\n")  # as a delete killed after the manifest went
    ok_json(repo, "backup", "--to", str(store))
    assert len(ok_json(repo, "list-backups", "--from", str(store))) == 1
    ok_json(repo, "prune-backups", "--keep-last", "1", "--from", str(store), "--full-sweep")
    assert retired_markers(store) == []
