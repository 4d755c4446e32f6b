"""A delete or prune frees by candidates (sweep.py, refcache.py): only what the removed manifests
named is looked up in the cache of what the remaining ones name. A wrong delete loses data, so
every step of a random history is checked against the full mark run on a copy of the store: the
candidate sweep keeps at least every blob the full mark keeps, and every remaining backup
resolves as before and verifies reading every blob."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest

from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import packcache, packs, space
from fcrctl.services.backup.manifest import delete_from_store, list_store, read_manifest, retired
from fcrctl.services.backup.manifest.deletes import fold
from fcrctl.services.backup.manifest.format import manifest_key
from fcrctl.services.backup.refcache import DIR, RefCache, Refs, prefix
from fcrctl.services.backup.stores import open_store
from fcrctl.services.backup.verify_stored import verify_store
from tests.backup_helpers import make_repo, ok_json

# content shared across objects, backups and both repositories (dedup): small ones are packed,
# big ones (over 128 KiB) are loose blobs
POOL = [f"small {i} ".encode() * 300 for i in range(5)] + [f"big {i} ".encode() * 30_000 for i in range(3)]


def _stored(store: Path) -> set[str]:
    """Every digest the store holds: loose blobs and packed frames."""
    s = open_store(str(store))
    try:
        held = {k.rsplit("/", 1)[-1] for k in s.list("blobs/")}
        held |= set(packs.read_index(s))
        return held
    finally:
        s.close()


def _resolved(store: Path) -> dict[str, list[dict]]:
    s = open_store(str(store))
    try:
        out = {}
        for info in list_store(s):
            _, objects = read_manifest(s, info.id)
            out[info.id] = [o.to_json() for o in objects]
        return out
    finally:
        s.close()


def _change(rng: random.Random, repo_dir: Path, made: list[str], n: int) -> None:
    repo = open_repository(str(repo_dir))
    try:
        for step in range(rng.randint(1, 4)):
            op = rng.random()
            content = io.BytesIO(rng.choice(POOL))
            if op < 0.45 or not made:
                path = f"/top/r{n}-{step}"
                repo.create(path, ResourceSpec(content=content, binary=True))
                made.append(path)
            elif op < 0.8:
                repo.replace(rng.choice(made), ResourceSpec(content=content, binary=True))
            else:
                path = made.pop(rng.randrange(len(made)))
                repo.delete(path)
                repo.purge(path)
    finally:
        repo.close()


def _delete_checked(store: Path, oracle: Path, ids: list[str], home: Path | None, full: bool) -> None:
    before = _resolved(store)
    shutil.rmtree(oracle, ignore_errors=True)
    shutil.copytree(store, oracle)
    s, o = open_store(str(store)), open_store(str(oracle))
    try:
        delete_from_store(o, *ids, home=None, full_sweep=True)
        delete_from_store(s, *ids, home=home, full_sweep=full)
    finally:
        s.close()
        o.close()
    kept, needed = _stored(store), _stored(oracle)
    assert needed <= kept, f"deleting {ids} freed blobs the full mark keeps: {sorted(needed - kept)[:3]}"
    after = _resolved(store)
    assert after == {bid: objs for bid, objs in before.items() if bid not in ids}
    s = open_store(str(store))
    try:
        for bid in after:
            report = verify_store(s, bid, read_data=True)
            assert report.ok, (bid, [p.message for p in report.problems])
        # a retired manifest stays exactly as long as a backup is built on it; no marker outlives it
        found = retired.survey(s)
        assert found.retired == retired.bases(found.heads, found.live()) & set(found.heads) - found.live()
        assert not found.stale
    finally:
        s.close()


def _older_delete(store: Path, ids: list[str]) -> None:
    """What an older fcrctl, which knows no retirement markers, does to delete ``ids`` (it lists
    retired manifests as backups, so it may delete one): each backup stored as changes to one that
    goes is rewritten on the nearest base that stays, or whole; the manifests go; every blob no
    remaining manifest names is freed (the full mark)."""
    s = open_store(str(store))
    try:
        removing = set(ids)
        for link in retired.survey(s).heads.values():
            if link.id not in removing and link.base is not None and link.base["id"] in removing:
                fold(s, link, removing)
        for bid in ids:
            s.delete(manifest_key(bid))
        space.collect(s, space.referenced(s))
    finally:
        s.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_deletes_never_free_a_live_blob(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    repos = [tmp_path / "a", tmp_path / "b"]
    store, oracle = tmp_path / "store", tmp_path / "oracle"
    made: dict[Path, list[str]] = {r: [] for r in repos}
    for r in repos:
        make_repo(r)
        _change(rng, r, made[r], 0)
    for n in range(1, 11):
        r = rng.choice(repos)
        _change(rng, r, made[r], n)
        ok_json(r, "backup", "--label", f"{rng.choice('xy')}{n}", "--to", str(store))
    homes = [repos[0] / "backups", repos[1] / "backups", None]
    while True:
        listed = [b.id for b in list_store(open_store(str(store)))]
        if len(listed) <= 1:
            break
        ids = rng.sample(listed, rng.randint(1, min(3, len(listed) - 1)))
        # mostly one machine's cache; sometimes another's (the first's then names a manifest it did
        # not delete: doubtful, a full mark), none, or the full sweep asked for
        home = homes[0] if rng.random() < 0.6 else rng.choice(homes)
        if rng.random() < 0.15:  # an older fcrctl's delete, of backups or of a retired base
            s = open_store(str(store))
            every = sorted(retired.survey(s).heads)
            s.close()
            before = _resolved(store)
            gone = rng.sample(every, rng.randint(1, min(2, len(every) - 1)))
            _older_delete(store, gone)
            assert _resolved(store) == {bid: objs for bid, objs in before.items() if bid not in gone}
            shutil.rmtree(oracle)
            shutil.copytree(store, oracle)  # (it swept by the full mark)
            continue
        _delete_checked(store, oracle, ids, home, full=rng.random() < 0.1)
    # what stayed was restorable from the store, not from a home's copy
    last = listed[0]
    owner = next(r for r in repos if (r / "backups" / last).is_dir())
    ok_json(owner, "delete-backup", last)
    ok_json(owner, "restore", last, "--from", str(store), "--yes")
    ok_json(owner, "verify-backup", last, "--from", str(store), "--read-data")
    # a full sweep after it all frees nothing a candidate sweep should have kept
    assert _stored(store) >= _stored(oracle)


def _store_with(tmp_path: Path, n: int) -> tuple[Path, Path, list[str]]:
    repo, store = tmp_path / "repo", tmp_path / "store"
    make_repo(repo)
    made: list[str] = []
    rng = random.Random(7)
    ids = []
    for step in range(n):
        _change(rng, repo, made, step)
        ids.append(ok_json(repo, "backup", "--to", str(store))["id"])
    return repo, store, ids


def test_a_damaged_or_lost_cache_is_rebuilt_never_trusted(tmp_path: Path) -> None:
    repo, store, ids = _store_with(tmp_path, 4)
    home = repo / "backups"
    _delete_checked(store, tmp_path / "oracle", [ids[1]], home, full=False)  # no cache yet: the full mark
    cache = RefCache.of(home, str(store))
    assert cache is not None and cache.manifests()
    for name in cache.manifests():
        data = bytearray((cache.root / name).read_bytes())
        data[len(data) // 2] ^= 0xFF  # a flipped bit: the entry's checksum fails, it is rebuilt
        (cache.root / name).write_bytes(bytes(data))
    _delete_checked(store, tmp_path / "oracle", [ids[2]], home, full=False)
    shutil.rmtree(home / DIR)
    _delete_checked(store, tmp_path / "oracle", [ids[3]], home, full=False)


def test_a_manifest_gone_without_this_cache_makes_it_doubtful(tmp_path: Path) -> None:
    repo, store, ids = _store_with(tmp_path, 5)
    home = repo / "backups"
    _delete_checked(store, tmp_path / "oracle", [ids[1]], home, full=False)  # the cache is built
    # another machine (or an older fcrctl killed before its sweep) removed a manifest:
    # what only it named is no candidate of this cache's next delete
    (store / "manifests" / f"{ids[4]}.jsonl.zst").unlink()  # (the newest: none is built on it)
    _delete_checked(store, tmp_path / "oracle", [ids[2]], home, full=False)  # a delta: by candidates, but
    assert _stored(store) == _stored(tmp_path / "oracle")  # the cache is doubtful: it marked every manifest


def test_a_prefix_shared_with_a_live_digest_keeps_the_blob() -> None:
    live, dead = "ab" * 8 + "0" * 112, "ab" * 8 + "1" * 112
    refs = Refs(__import__("array").array("Q", [prefix(live)]))
    keys = {prefix(dead)}
    refs.discard_from(keys)
    assert not keys  # the dead digest is taken as named: kept


def test_cli_prune_full_sweep_frees_what_killed_uploads_left(tmp_path: Path) -> None:
    repo, store, ids = _store_with(tmp_path, 4)
    ok_json(repo, "delete-backup", ids[0], "--from", str(store))  # builds the cache
    orphan = "f" * 128
    (store / "blobs" / "ff").mkdir(parents=True, exist_ok=True)
    (store / "blobs" / "ff" / orphan).write_bytes(b"left by a killed upload")
    ok_json(repo, "delete-backup", ids[2], "--from", str(store))  # a delta: candidates only, the orphan stays
    assert (store / "blobs" / "ff" / orphan).exists()
    out = ok_json(repo, "prune-backups", "--keep-last", "2", "--from", str(store), "--full-sweep")
    assert out["remove"] == []
    assert not (store / "blobs" / "ff" / orphan).exists()


def test_the_pack_cache_follows_the_store_never_names_a_dropped_pack(tmp_path: Path) -> None:
    """Uploads and verifies learn what the store's packs hold from a cache (packcache.py) that reads
    only the indexes written since: one whose packs a delete (from another home) dropped must
    not make an upload skip a blob the store no longer has."""
    repo, store, ids = _store_with(tmp_path, 2)
    home = repo / "backups"
    s = open_store(str(store))
    try:
        cached = packcache.packed(s, home)
        assert isinstance(cached, packcache.Packed)
        held = packs.read_index(s)
        assert held and all(cached.locate(d) == at for d, at in held.items())
        cached.close()
        delete_from_store(s, *ids, home=None)  # another machine: every pack dropped
        assert not packs.read_index(s)
        cached = packcache.packed(s, home)
        assert isinstance(cached, packcache.Packed) and not any(d in cached for d in held)
        cached.close()
    finally:
        s.close()
    ok_json(repo, "upload-backup", ids[1], str(store))  # sends every blob again
    assert ok_json(repo, "verify-backup", ids[1], "--from", str(store), "--read-data")["ok"]
    (home / DIR).joinpath(RefCache.of(home, str(store)).root.name, packcache.FILE).write_bytes(b"not sqlite" * 100)
    s = open_store(str(store))
    try:
        assert isinstance(packcache.packed(s, home), dict)  # unusable: every index read, as before
    finally:
        s.close()
    assert ok_json(repo, "verify-backup", ids[1], "--from", str(store))["ok"]


def test_nightly_prunes_rewrite_no_whole_manifest(tmp_path: Path) -> None:
    """Removing the chain's full manifest retires it (retired.py): nothing is rewritten, and the next
    nights' prunes fold the oldest delta's successor onto it (O(the deltas)), until the last backup
    built on it goes, with it."""
    repo, store, ids = _store_with(tmp_path, 5)
    before = _resolved(store)
    full = (store / "manifests" / f"{ids[0]}.jsonl.zst").read_bytes()
    stored = {bid: (store / "manifests" / f"{bid}.jsonl.zst").read_bytes() for bid in ids}
    out = ok_json(repo, "prune-backups", "--keep-last", "4", "--group-by", "none", "--from", str(store))
    assert out["remove"] == [ids[0]]
    assert {bid: (store / "manifests" / f"{bid}.jsonl.zst").read_bytes() for bid in ids} == stored
    for night, kept in ((1, 3), (2, 2)):
        out = ok_json(repo, "prune-backups", "--keep-last", str(kept), "--group-by", "none", "--from", str(store))
        assert out["remove"] == [ids[night]]
        assert (store / "manifests" / f"{ids[0]}.jsonl.zst").read_bytes() == full  # not rewritten
        assert _head(store, ids[night + 1])["base"]["id"] == ids[0]  # its successor folded onto it
    after = _resolved(store)
    assert after == {bid: before[bid] for bid in ids[3:]}
    s = open_store(str(store))
    try:
        assert all(verify_store(s, bid, read_data=True).ok for bid in after)
    finally:
        s.close()


def _head(store: Path, bid: str) -> dict:
    from tests.test_backup_store_chain import head

    return head(store, bid)
