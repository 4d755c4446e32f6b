"""Deleting a chain's full manifest that other backups are built on retires it (manifest/retired.py):
one marker, nothing rewritten. The backup is gone for every command that names backups; its
manifest stays a base, and its blobs stay, until the last backup built on it goes."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import zstandard

from fcrctl.errors import ExitCode
from fcrctl.services.backup.manifest import chain, retired
from fcrctl.services.backup.stores import open_store
from tests.backup_helpers import ok_json, run
from tests.test_backup_store_prune_chain import chained, retired_markers, sound  # noqa: F401
from tests.test_backup_store_sweep import _stored


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and "locks" not in p.parts}


def test_a_retired_backup_is_gone_for_every_command(chained: tuple[Path, Path, list[str]],  # noqa: F811
                                                    tmp_path: Path) -> None:
    repo, store, ids = chained
    ok_json(repo, "delete-backup", ids[0], "--from", str(store))
    assert (store / "manifests" / f"{ids[0]}.jsonl.zst").exists() and retired_markers(store)
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids[1:]
    before = _files(store)
    for args in (["list-backups", ids[0], "--from"], ["verify-backup", ids[0], "--from"],
                 ["delete-backup", ids[0], "--from"], ["download-backup", ids[0]],
                 ["restore", ids[0], "--yes", "--from"]):
        if args[0] in ("download-backup", "restore"):
            run(repo, "delete-backup", ids[0])  # the home's copy would be used (or be in the way)
        result = run(repo, *args, str(store))
        assert result.exit_code == ExitCode.NOT_FOUND, (args, result.stdout + result.stderr)
        assert f"no backup {ids[0]}" in result.stderr, result.stderr
    assert _files(store) == before
    out = ok_json(repo, "prune-backups", "--keep-last", "9", "--group-by", "none", "--from", str(store))
    assert [k["id"] for k in out["keep"]] == ids[:0:-1] and out["remove"] == []
    sound(repo, store, tmp_path / "refs", ids)


def test_uploading_a_retired_backup_lists_it_again_rewriting_nothing(chained: tuple[Path, Path, list[str]],  # noqa: F811
                                                                     tmp_path: Path) -> None:
    repo, store, ids = chained
    whole = (store / "manifests" / f"{ids[0]}.jsonl.zst").read_bytes()
    ok_json(repo, "delete-backup", ids[0], "--from", str(store))
    out = ok_json(repo, "upload-backup", ids[0], str(store))
    assert out["manifest_copied"] and out["blobs_sent"] == 0
    assert (store / "manifests" / f"{ids[0]}.jsonl.zst").read_bytes() == whole  # the others' base, as it was
    assert retired_markers(store) == []
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids
    sound(repo, store, tmp_path / "refs", ids)
    assert ok_json(repo, "verify-backup", ids[0], "--from", str(store), "--read-data")["ok"]


def _set_header(store: Path, backup_id: str, **fields: object) -> bytes:
    """Rewrite the manifest's header with ``fields`` changed; returns the manifest as it was."""
    key = store / "manifests" / f"{backup_id}.jsonl.zst"
    was = key.read_bytes()
    text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(was), read_across_frames=True).read()
    header, rest = text.split(b"\n", 1)
    doc = {**json.loads(header), **fields}
    key.write_bytes(zstandard.ZstdCompressor().compress(json.dumps(doc).encode() + b"\n" + rest))
    return was


def test_a_manifest_this_cannot_read_may_be_built_on_any_full_one(chained: tuple[Path, Path, list[str]],  # noqa: F811
                                                                  tmp_path: Path) -> None:
    """A newer fcrctl's manifest (or a damaged header) names bases this cannot see: a full manifest
    a delete removes is retired, not deleted, while one is in the store."""
    repo, store, ids = chained
    for bid in ids[2:]:
        ok_json(repo, "delete-backup", bid, "--from", str(store))
    was = _set_header(store, ids[1], version=3)  # a delta on ids[0], of a format this does not know
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids[:1]
    held = _stored(store)
    ok_json(repo, "delete-backup", ids[0], "--from", str(store))
    assert (store / "manifests" / f"{ids[0]}.jsonl.zst").exists() and len(retired_markers(store)) == 1
    assert _stored(store) == held
    (store / "manifests" / f"{ids[1]}.jsonl.zst").write_bytes(was)  # as the newer fcrctl sees it
    s = open_store(str(store))
    assert [link.id for link in chain.resolve(s, ids[1])] == ids[1::-1]
    assert ok_json(repo, "verify-backup", ids[1], "--from", str(store), "--read-data")["ok"]
    ok_json(repo, "delete-backup", ids[1], "--from", str(store))  # readable now: the retired base goes too
    assert not list((store / "manifests").iterdir())


@pytest.mark.parametrize("older", ["deletes the retired base", "deletes the last backup built on it"])
def test_a_store_an_older_fcrctl_wrote_to(chained: tuple[Path, Path, list[str]], tmp_path: Path,  # noqa: F811
                                          older: str) -> None:
    """An older fcrctl sees a retired backup as a backup: it may delete it (rewriting the backups
    built on it without it, leaving its marker) or delete the last backup built on it (leaving the
    retired manifest): every backup still resolves, and the next delete removes what was left."""
    from tests.test_backup_store_sweep import _older_delete

    repo, store, ids = chained
    ok_json(repo, "prune-backups", "--keep-last", "2", "--group-by", "none", "--from", str(store))
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == ids[2:]
    if older == "deletes the retired base":
        _older_delete(store, [ids[0]])
        assert "base" not in chain.read_head(open_store(str(store)), ids[2]).head  # made whole
        assert len(retired_markers(store)) == 1  # it knows no markers
        staying = ids[2:]
    else:
        _older_delete(store, [ids[3]])
        _older_delete(store, [ids[2]])
        staying = []
    assert [b["id"] for b in ok_json(repo, "list-backups", "--from", str(store))] == staying
    sound(repo, store, tmp_path / "refs", ids)
    ok_json(repo, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", str(store), "--full-sweep")
    found = retired.survey(open_store(str(store)))
    assert not found.stale  # the marker the older fcrctl left went
    assert found.live() == set(staying[-1:])
    assert found.retired == set(staying[:1])  # (the one it made whole is the newest's base: retired)
    assert len(retired_markers(store)) == len(found.retired)
    sound(repo, store, tmp_path / "refs", ids)


@pytest.mark.parametrize("which", [0, 1])
def test_uploading_a_base_again_keeps_what_is_built_on_it(chained: tuple[Path, Path, list[str]],  # noqa: F811
                                                          tmp_path: Path, which: int) -> None:
    """An upload of a backup already in the store, that others are built on (the full manifest, or a
    delta): it was written as a delta on the store's newest manifest, itself built on it, so every
    backup of the chain became a cycle, unrestorable. Now it is written whole, naming its old lines."""
    repo, store, ids = chained
    shutil.copytree(store, tmp_path / "pristine-chain")
    out = ok_json(repo, "upload-backup", ids[which], str(store))
    assert out["base"] is None
    assert chain.read_head(open_store(str(store)), ids[which]).head["was"][-1] == _head_sha(tmp_path, ids[which])
    sound(repo, store, tmp_path / "refs", ids)


def _head_sha(tmp_path: Path, backup_id: str) -> str:
    """The lines' sha256 the chain's manifest of ``backup_id`` had (the fixture's copy of the store)."""
    return str(chain.read_head(open_store(str(tmp_path / "pristine-chain")), backup_id).lines_sha256)


def test_an_upload_over_another_backup_of_that_id_changes_nothing(chained: tuple[Path, Path, list[str]],  # noqa: F811
                                                                  ) -> None:
    repo, store, ids = chained
    _set_header(store, ids[0], backup={**chain.read_head(open_store(str(store)), ids[0]).head["backup"],
                                       "stateDigest": "0" * 64})
    before = _files(store)
    result = run(repo, "upload-backup", ids[0], str(store))
    assert result.exit_code == ExitCode.CORRUPT, result.stdout + result.stderr
    assert "another state" in result.stderr
    assert _files(store) == before
