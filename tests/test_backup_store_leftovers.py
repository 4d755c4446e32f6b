"""What a kill -9 mid-upload leaves in a store off the machine (WebDAV tmp/ files, S3 multipart
uploads) is removed by the next upload or prune once stale, never while its writer's lease is
live; and --insecure against an https:// store says so, on one line of stderr."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from fcrctl.services.backup.stores import leases
from tests.backup_helpers import make_repo, ok_json, run
from tests.store_servers import Servers, new_store_url, store_servers  # noqa: F401


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _live_lease() -> tuple[str, bytes]:
    """Another writer's lease, live for the next TTL seconds (as leases.py writes one)."""
    lease = uuid.uuid4().hex
    now = time.time()
    doc = {"host": "elsewhere", "pid": 1, "exclusive": False, "created": now, "expires": now + 600}
    return lease, json.dumps(doc).encode()


def test_webdav_tmp_files_of_killed_uploads_go_and_live_ones_stay(repo_dir: Path, tmp_path: Path,
                                                                   store_servers: Servers,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "webdav", tmp_path, monkeypatch)
    ok_json(repo_dir, "backup", "--label", "one", "--to", url)
    dav = store_servers.get_dav()
    collection = dav.root / url.rsplit("/", 1)[1]
    tmp = collection / "tmp"
    live, doc = _live_lease()
    (collection / "locks" / f"{live}.shared.json").write_bytes(doc)
    hour_ago, two_days_ago = time.time() - 3600, time.time() - 2 * 86400

    def leftover(name: str, when: float | None) -> Path:
        path = tmp / name
        path.write_bytes(b"half a blob")
        if when is not None:
            os.utime(path, (when, when))
        return path

    dead = leftover(f"{uuid.uuid4().hex}.{uuid.uuid4().hex}.part", hour_ago)  # its lease is gone
    fresh = leftover(f"{uuid.uuid4().hex}.{uuid.uuid4().hex}.part", None)  # may be a writer about to move it
    writing = leftover(f"{live}.{uuid.uuid4().hex}.part", hour_ago)  # a live writer's (a slow, long PUT)
    legacy = leftover(f"{uuid.uuid4().hex}.part", hour_ago)  # an older fcrctl's: a day's grace
    legacy_old = leftover(f"{uuid.uuid4().hex}.part", two_days_ago)
    ok_json(repo_dir, "backup", "--label", "two", "--to", url)
    assert not dead.exists() and not legacy_old.exists()
    assert fresh.exists() and writing.exists() and legacy.exists()
    (collection / "locks" / f"{live}.shared.json").unlink()  # that writer was killed too
    os.utime(fresh, (hour_ago, hour_ago))
    ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", url)
    assert not writing.exists() and not fresh.exists() and legacy.exists()
    assert not [p for p in tmp.iterdir() if p.name.endswith(".part") and p != legacy]  # the upload's own went


def test_s3_multipart_uploads_of_killed_uploads_are_aborted(repo_dir: Path, tmp_path: Path,
                                                             store_servers: Servers,  # noqa: F811
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "s3", tmp_path, monkeypatch)
    ok_json(repo_dir, "backup", "--label", "one", "--to", url)
    bucket = url[len("s3://"):].split("/", 1)[0]
    client = store_servers.get_moto().client()
    monkeypatch.setattr(leases, "STALE_AGE", 0.0)  # (moto reports every upload begun in 2010: all look stale)

    def begin(key: str) -> str:
        upload = client.create_multipart_upload(Bucket=bucket, Key=f"backups/{key}")["UploadId"]
        client.upload_part(Bucket=bucket, Key=f"backups/{key}", UploadId=upload, PartNumber=1, Body=b"x" * 1024)
        return str(upload)

    def pending() -> set[str]:
        return {u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", ())}

    dead = begin("blobs/aa/killed")
    live, doc = _live_lease()  # another writer is running: any upload may be its own
    client.put_object(Bucket=bucket, Key=f"backups/locks/{live}.shared.json", Body=doc)
    writing = begin("blobs/bb/running")
    other = client.create_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours")["UploadId"]  # outside the prefix
    ok_json(repo_dir, "backup", "--label", "two", "--to", url)
    assert {dead, writing, other} <= pending()
    client.delete_object(Bucket=bucket, Key=f"backups/locks/{live}.shared.json")  # that writer was killed too
    ok_json(repo_dir, "backup", "--label", "three", "--to", url)
    assert dead not in pending() and writing not in pending() and other in pending()
    again = begin("blobs/cc/killed")
    ok_json(repo_dir, "prune-backups", "--keep-last", "1", "--group-by", "none", "--from", url)
    assert again not in pending() and other in pending()
    client.abort_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours", UploadId=other)


def test_insecure_against_an_https_store_warns_on_one_line(repo_dir: Path) -> None:
    result = run(repo_dir, "--insecure", "list-backups", "--from", "https://127.0.0.1:9/store")
    warnings = [line for line in result.stderr.splitlines() if "--insecure" in line]
    assert len(warnings) == 1 and warnings[0].startswith("fcrctl: warning: "), result.stderr
    assert "https://127.0.0.1:9/store" in warnings[0]
    quiet = run(repo_dir, "list-backups", "--from", "https://127.0.0.1:9/store")
    assert "--insecure" not in quiet.stderr
