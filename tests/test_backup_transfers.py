"""Transfers: a killed (Ctrl-C) upload exits 130 and its re-run completes sending only what is
missing, with nothing duplicated in the store; `fcrctl transfers` lists them; `transfers abort`
stops a running one cleanly."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.services.backup import packs
from fcrctl.services.backup.stores import open_store, scheme_of
from tests.backup_helpers import make_repo, ok_json, run
from tests.store_servers import STORE_KINDS, Servers, new_store_url, store_servers  # noqa: F401


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, binaries=40)
    repo = open_repository(str(path))
    try:
        for i in range(8):
            repo.create(f"/big{i}", ResourceSpec(content=io.BytesIO(os.urandom(200_000)), binary=True))
    finally:
        repo.close()
    return path


def _store_class(url: str) -> type:
    import importlib

    from fcrctl.services.backup.stores import STORES

    module, _, name = STORES[scheme_of(url)].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _stored_digests(url: str) -> Counter[str]:
    """How often each blob is in the store: as a blob file and in every pack index."""
    store = open_store(url)
    try:
        found: Counter[str] = Counter(k.rsplit("/", 1)[-1] for k in store.list("blobs/"))
        for key in store.list("index/"):
            with store.get(key) as fh:
                found.update(d for d, _, _ in json.load(fh)["blobs"])
        return found
    finally:
        store.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_an_upload_killed_halfway_resumes_and_duplicates_nothing(
        repo_dir: Path, tmp_path: Path, store_servers: Servers, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        kind: str) -> None:
    url = new_store_url(store_servers, kind, tmp_path, monkeypatch)
    bid = ok_json(repo_dir, "backup")["id"]
    cls = _store_class(url)
    real_put = cls.put
    puts = [0]

    def put(self, key: str, chunks):  # type: ignore[no-untyped-def]
        if key.startswith("blobs/"):
            puts[0] += 1
            if puts[0] == 4:
                raise KeyboardInterrupt  # Ctrl-C halfway through the blobs
        return real_put(self, key, chunks)

    monkeypatch.setattr(cls, "put", put)
    killed = run(repo_dir, "upload-backup", bid, url, "--jobs", "2")
    assert killed.exit_code == ExitCode.INTERRUPTED, killed.stderr
    monkeypatch.setattr(cls, "put", real_put)
    assert ok_json(repo_dir, "list-backups", "--from", url) == []  # no manifest: nothing half-there is a backup
    states = ok_json(repo_dir, "transfers")
    assert [t["state"] for t in states] == ["interrupted"]
    again = ok_json(repo_dir, "upload-backup", bid, url)
    assert again["blobs_reused"] >= 3  # what the killed run sent is not sent again
    counts = _stored_digests(url)
    assert counts and max(counts.values()) == 1, [d for d, n in counts.items() if n > 1]
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--read-data")["ok"] is True
    assert [t["state"] for t in ok_json(repo_dir, "transfers")] == ["interrupted", "done"]


def test_transfers_abort_stops_a_running_upload(repo_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.services.backup.stores.directory import DirectoryStore

    url = str(tmp_path / "store")
    bid = ok_json(repo_dir, "backup")["id"]
    real_put = DirectoryStore.put

    def slow_put(self, key: str, chunks):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return real_put(self, key, chunks)

    monkeypatch.setattr(DirectoryStore, "put", slow_put)
    results = []
    uploading = threading.Thread(target=lambda: results.append(run(repo_dir, "upload-backup", bid, url, "-j", "1")))
    uploading.start()
    running: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    while not running and time.monotonic() < deadline:
        time.sleep(0.1)
        from fcrctl.services.backup import transfers

        running = [t.to_json() for t in transfers.list_transfers(repo_dir / "backups") if t.state == "running"]
    assert running
    tid = str(running[0]["id"])
    aborted = transfers.abort(repo_dir / "backups", tid, wait=30)
    uploading.join(30)
    assert results[0].exit_code == ExitCode.INTERRUPTED, results[0].stderr
    assert "aborted" in results[0].stderr
    assert aborted.state == "aborted"
    monkeypatch.setattr(DirectoryStore, "put", real_put)
    again = run(repo_dir, "transfers", "abort", tid)
    assert again.exit_code == ExitCode.CONFLICT
    assert run(repo_dir, "transfers", "abort", "nope").exit_code == ExitCode.NOT_FOUND
    ok_json(repo_dir, "upload-backup", bid, url)  # resumes
    listed = run(repo_dir, "transfers")
    assert listed.exit_code == 0 and "aborted" in listed.stdout and "done" in listed.stdout
    assert packs.read_index(DirectoryStore(Path(url)))


def test_a_transfer_whose_process_died_is_listed_as_failed(repo_dir: Path) -> None:
    import subprocess
    import sys

    from fcrctl.services.backup import transfers

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = transfers.Transfer("deadbeef0001", "upload", "some-id", "s3://b/p", pid=int(gone.stdout))
    directory = repo_dir / "backups" / transfers.DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "deadbeef0001.json").write_text(json.dumps(record.to_json()))
    [listed] = ok_json(repo_dir, "transfers")
    assert listed["state"] == "failed" and "killed" in listed["error"]
    assert run(repo_dir, "transfers", "abort", "deadbeef0001").exit_code == ExitCode.CONFLICT
