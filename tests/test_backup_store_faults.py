"""Faults of stores off the machine, each against a real server on 127.0.0.1 (a `responses`
mock only where a real server cannot produce the fault): wrong credentials, a missing bucket or
container, an unreachable endpoint, throttling then success, a corrupted object, a killed
upload, and URL schemes fcrctl does not know."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from tests.backup_helpers import make_repo, ok_json, run
from tests.store_servers import Servers, new_store_url, store_servers  # noqa: F401


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("url", ["s3x://bucket/p", "ftp://host/x", "gs://bucket/x", "S4://b"])
def test_an_unknown_scheme_is_refused_and_nothing_is_written(repo_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.chdir(tmp_path)
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, url)
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    for scheme in ("s3://", "azure://", "https://", "file://"):
        assert scheme in result.stderr
    assert not any(p.name.endswith(":") for p in tmp_path.iterdir())  # no local directory named like the scheme


def test_s3_url_is_never_a_local_directory(repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `upload-backup ID s3://x` wrote a directory named `s3:` here and said it succeeded."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-value")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{_free_port()}")
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, "s3://x-bucket/prefix")
    assert result.exit_code != 0
    assert not (tmp_path / "s3:").exists()


def test_s3_wrong_credentials_exit_12_without_the_secret(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "s3", tmp_path, monkeypatch)
    secret = "wrong-secret-Zq8xY2"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bid = ok_json(repo_dir, "backup")["id"]
    for args in (("upload-backup", bid, url), ("list-backups", "--from", url)):
        result = run(repo_dir, *args)
        assert result.exit_code == ExitCode.AUTH, result.stderr
        assert "credentials" in result.stderr
        assert secret not in result.stderr + result.stdout


def test_s3_missing_bucket_says_which(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    new_store_url(store_servers, "s3", tmp_path, monkeypatch)
    bid = ok_json(repo_dir, "backup")["id"]
    missing = "s3://no-such-bucket-here/x"
    for args in (("upload-backup", bid, missing), ("list-backups", "--from", missing)):
        result = run(repo_dir, "--json", *args)
        assert result.exit_code == ExitCode.NOT_FOUND
        assert "bucket no-such-bucket-here does not exist" in json.loads(result.stderr)["message"]


def test_s3_unreachable_endpoint_exit_13_names_it(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-never-shown")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, "s3://bucket/x", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert result.exit_code == ExitCode.UNAVAILABLE, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "secret-never-shown" not in result.stderr


def test_azure_wrong_key_exit_12_without_the_secret(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    url = new_store_url(store_servers, "azure", tmp_path, monkeypatch)
    wrong = base64.b64encode(b"w" * 64).decode()
    good = store_servers.get_azurite().connection_string
    key = good.split("AccountKey=")[1].split(";")[0]
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", good.replace(key, wrong))
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, url)
    assert result.exit_code == ExitCode.AUTH, result.stderr
    assert wrong not in result.stderr + result.stdout


def test_azure_credentials_from_a_file_never_argv(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "azure", tmp_path, monkeypatch)
    creds = tmp_path / "azure.env"
    conn = store_servers.get_azurite().connection_string
    creds.write_text(f"# from the portal\nAZURE_STORAGE_CONNECTION_STRING={conn}\n")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    bid = ok_json(repo_dir, "backup")["id"]
    assert run(repo_dir, "upload-backup", bid, url).exit_code == ExitCode.AUTH  # nothing in the environment
    ok_json(repo_dir, "upload-backup", bid, url, "--store-credentials", str(creds))
    listed = ok_json(repo_dir, "list-backups", "--from", url, "--store-credentials", str(creds))
    assert [b["id"] for b in listed] == [bid]


def test_azure_missing_container_says_which(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    new_store_url(store_servers, "azure", tmp_path, monkeypatch)
    bid = ok_json(repo_dir, "backup")["id"]
    missing = "azure://no-such-container/x"
    for args in (("upload-backup", bid, missing), ("list-backups", "--from", missing)):
        result = run(repo_dir, *args)
        assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
        assert "container no-such-container does not exist" in result.stderr


def test_azure_unreachable_endpoint_exit_13_names_it(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    new_store_url(store_servers, "azure", tmp_path, monkeypatch)
    port = _free_port()
    monkeypatch.setenv("FCRCTL_STORE_RETRIES", "1")
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, "azure://c/x", "--endpoint-url", f"http://127.0.0.1:{port}/acct")
    assert result.exit_code == ExitCode.UNAVAILABLE, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr


def test_s3_throttling_then_success(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.store_servers import FaultProxy

    url = new_store_url(store_servers, "s3", tmp_path, monkeypatch)
    proxy = FaultProxy(store_servers.get_moto().url)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        bid = ok_json(repo_dir, "backup")["id"]
        proxy.faults[:] = [503, 503, 500]  # SlowDown, then errors: retried with backoff
        doc = ok_json(repo_dir, "upload-backup", bid, url)
        assert not proxy.faults and doc["blobs_sent"] > 0
        proxy.faults[:] = [503, 503]
        assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--read-data")["ok"] is True
    finally:
        proxy.stop()


def test_azure_throttling_then_success(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.store_servers import FaultProxy

    url = new_store_url(store_servers, "azure", tmp_path, monkeypatch)
    azurite = store_servers.get_azurite()
    proxy = FaultProxy(azurite.endpoint.rsplit("/", 1)[0])
    try:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                           azurite.connection_string.replace(azurite.endpoint.rsplit("/", 1)[0], proxy.url))
        bid = ok_json(repo_dir, "backup")["id"]
        proxy.faults[:] = [503, 500]
        assert ok_json(repo_dir, "upload-backup", bid, url)["blobs_sent"] > 0
        assert not proxy.faults
    finally:
        proxy.stop()


def test_webdav_throttling_then_success(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "webdav", tmp_path, monkeypatch)
    bid = ok_json(repo_dir, "backup")["id"]
    dav = store_servers.get_dav()
    dav.faults[:] = [429, 503, 502]
    assert ok_json(repo_dir, "upload-backup", bid, url)["blobs_sent"] > 0
    assert not dav.faults
    dav.faults[:] = [503]
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--read-data")["ok"] is True


def test_webdav_wrong_password_exit_12_without_it(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "webdav", tmp_path, monkeypatch)
    monkeypatch.setenv("FCRCTL_STORE_PASSWORD", "wrong-dav-pw-77")
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, url)
    assert result.exit_code == ExitCode.AUTH, result.stderr
    assert "wrong-dav-pw-77" not in result.stderr + result.stdout


def test_webdav_bearer_header_file(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    from tests.store_servers import DAV_PASSWORD, DAV_USER

    url = new_store_url(store_servers, "webdav", tmp_path, monkeypatch)
    monkeypatch.delenv("FCRCTL_STORE_USER")
    monkeypatch.delenv("FCRCTL_STORE_PASSWORD")
    headers = tmp_path / "headers"
    token = base64.b64encode(f"{DAV_USER}:{DAV_PASSWORD}".encode()).decode()
    headers.write_text(f"# a presigned endpoint's token would go here\nAuthorization: Basic {token}\n")
    bid = ok_json(repo_dir, "backup")["id"]
    assert run(repo_dir, "upload-backup", bid, url).exit_code == ExitCode.AUTH
    ok_json(repo_dir, "upload-backup", bid, url, "--header-file", str(headers))


@pytest.mark.parametrize("url", ["http://example.org/dav", "https://user:pw@example.org/dav"])
def test_webdav_urls_refused(repo_dir: Path, url: str) -> None:
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, url)
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert "pw" not in result.stderr.replace("password", "")


def test_webdav_unreachable_exit_13_names_it(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCRCTL_STORE_RETRIES", "1")
    port = _free_port()
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, f"http://127.0.0.1:{port}/dav")
    assert result.exit_code == ExitCode.UNAVAILABLE, result.stderr
    assert f"127.0.0.1:{port}/dav" in result.stderr


def test_s3_credentials_from_an_aws_profile(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    url = new_store_url(store_servers, "s3", tmp_path, monkeypatch)
    moto = store_servers.get_moto()
    aws = Path(os.environ["HOME"]) / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text(f"[backup]\naws_access_key_id = {moto.key_id}\n"
                                     f"aws_secret_access_key = {moto.secret}\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    bid = ok_json(repo_dir, "backup")["id"]
    result = run(repo_dir, "upload-backup", bid, url)
    assert result.exit_code == ExitCode.AUTH, result.stderr  # no credentials in the environment
    ok_json(repo_dir, "upload-backup", bid, url, "--aws-profile", "backup")
    missing = run(repo_dir, "list-backups", "--from", url, "--aws-profile", "nope")
    assert missing.exit_code == ExitCode.BAD_INPUT and "nope" in missing.stderr


def test_s3_storage_class_applies_to_what_is_uploaded(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_store_url(store_servers, "s3", tmp_path, monkeypatch)
    bid = ok_json(repo_dir, "backup")["id"]
    ok_json(repo_dir, "upload-backup", bid, url, "--storage-class", "STANDARD_IA")
    bucket, prefix = url[5:].split("/", 1)
    client = store_servers.get_moto().client()
    key = f"{prefix}/manifests/{bid}.jsonl.zst"
    assert client.head_object(Bucket=bucket, Key=key).get("StorageClass") == "STANDARD_IA"


def test_azure_account_and_key_with_an_endpoint(repo_dir: Path, tmp_path: Path, store_servers: Servers,  # noqa: F811
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.store_servers import AZURITE_ACCOUNT, AZURITE_KEY

    url = new_store_url(store_servers, "azure", tmp_path, monkeypatch)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", AZURITE_ACCOUNT)
    bid = ok_json(repo_dir, "backup")["id"]
    endpoint = store_servers.get_azurite().endpoint
    no_key = run(repo_dir, "upload-backup", bid, url, "--endpoint-url", endpoint)
    assert no_key.exit_code == ExitCode.AUTH and "AZURE_STORAGE_KEY" in no_key.stderr
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)
    ok_json(repo_dir, "upload-backup", bid, url, "--endpoint-url", endpoint)
    assert ok_json(repo_dir, "verify-backup", bid, "--from", url, "--endpoint-url", endpoint)["ok"] is True
