"""Real store servers on 127.0.0.1 for the backup store tests: moto's S3 server, Azurite (npm)
and WsgiDAV (cheroot). Started once per test session (per xdist worker); each test gets a
fresh bucket, container or collection. A server that cannot start fails the tests that need it
(never a skip: CI installs all three, see .ci/run)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_PREFIX = ROOT / ".ci-node"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret)
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DAV_USER, DAV_PASSWORD = "backup", "dav-secret-pw"


def _wait_for_line(log: Path, pattern: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text("utf-8", "replace") if log.exists() else ""
        m = re.search(pattern, text)
        if m:
            return m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{what} did not start: {log.read_text('utf-8', 'replace')[-2000:]}")


@dataclass
class Moto:
    url: str
    key_id: str
    secret: str
    proc: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.key_id,
                            aws_secret_access_key=self.secret)


def start_moto(tmp: Path) -> Moto:
    """moto with IAM authentication on: the first three requests make a user, its key and a policy
    allowing S3; every later request must be signed with that key (so wrong credentials fail)."""
    import boto3

    exe = Path(sys.executable).parent / "moto_server"
    log = tmp / "moto.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", "0"], stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    url = _wait_for_line(log, r"Running on (http://127\.0\.0\.1:\d+)", proc, "moto_server")
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup",
                       aws_secret_access_key="setup")
    iam.create_user(UserName="fcrctl")
    key = iam.create_access_key(UserName="fcrctl")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="fcrctl", PolicyName="s3", PolicyDocument=json.dumps(policy))
    return Moto(url, key["AccessKeyId"], key["SecretAccessKey"], proc)


def npm_installed(prefix: Path, package: str, marker: Path) -> None:
    """``package`` installed from npm into ``prefix`` unless ``marker`` (a file it installs) exists:
    .ci/run installs it there beforehand; a developer's first test installs it (under a lock: xdist
    workers start at once). Fails, saying what to install, without npm."""
    if marker.exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail(f"{package} (npm) is needed here and node/npm are not installed: "
                    "install them (apt-get install nodejs npm), then run .ci/run")
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), package],
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(f"npm install {package} failed: {done.stderr[-2000:]}")


def azurite_binary() -> Path:
    """Azurite's blob server from npm, in .ci-node."""
    exe = NODE_PREFIX / "node_modules" / ".bin" / "azurite-blob"
    npm_installed(NODE_PREFIX, "azurite", exe)
    return exe


@dataclass
class Azurite:
    endpoint: str
    proc: subprocess.Popen[bytes]

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint={self.endpoint};")

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)


def start_azurite(tmp: Path) -> Azurite:
    exe = azurite_binary()
    log = tmp / "azurite.log"
    data = tmp / "azurite-data"
    data.mkdir()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(exe), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(data),
                                 "--skipApiVersionCheck", "--disableTelemetry"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = _wait_for_line(log, r"listens on (http://127\.0\.0\.1:\d+)", proc, "Azurite")
    return Azurite(f"{url}/{AZURITE_ACCOUNT}", proc)


@dataclass
class WsgiDav:
    url: str
    root: Path
    server: Any
    thread: threading.Thread
    faults: list[int] = field(default_factory=list)  # statuses the next requests get (503 then success)

    def collection(self) -> str:
        name = f"s-{uuid.uuid4().hex[:12]}"
        (self.root / name).mkdir()
        return f"{self.url}/{name}"


def start_wsgidav(tmp: Path) -> WsgiDav:
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    root = tmp / "dav"
    root.mkdir()
    config = {
        "host": "127.0.0.1", "port": 0, "provider_mapping": {"/": str(root)},
        "simple_dc": {"user_mapping": {"*": {DAV_USER: {"password": DAV_PASSWORD}}}},
        "http_authenticator": {"accept_basic": True, "accept_digest": False, "default_to_digest": False},
        "verbose": 0, "logging": {"enable": False}, "dir_browser": {"enable": False},
    }
    app = WsgiDAVApp(config)
    faults: list[int] = []

    def faulty(environ: dict[str, Any], start_response: Any) -> Any:
        if faults:  # an injected fault (throttling, 5xx) for the next request, then the real server
            status = faults.pop(0)
            start_response(f"{status} Injected", [("Content-Length", "0"), ("Retry-After", "0")])
            return [b""]
        return app(environ, start_response)

    server = wsgi.Server(("127.0.0.1", 0), faulty, numthreads=16)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    host, port = server.bind_addr[:2]
    return WsgiDav(f"http://{host}:{port}", root, server, thread, faults)


class Servers:
    """Started on first use, stopped at the end of the session."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._lock = threading.Lock()
        self.moto: Moto | None = None
        self.azurite: Azurite | None = None
        self.dav: WsgiDav | None = None

    def get_moto(self) -> Moto:
        with self._lock:
            if self.moto is None:
                self.moto = start_moto(self._tmp)
            return self.moto

    def get_azurite(self) -> Azurite:
        with self._lock:
            if self.azurite is None:
                self.azurite = start_azurite(self._tmp)
            return self.azurite

    def get_dav(self) -> WsgiDav:
        with self._lock:
            if self.dav is None:
                self.dav = start_wsgidav(self._tmp)
            return self.dav

    def stop(self) -> None:
        for proc in (self.moto and self.moto.proc, self.azurite and self.azurite.proc):
            if proc is not None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
        if self.dav is not None:
            self.dav.server.stop()


def new_store_url(servers: Servers, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A URL for a new, empty store of ``kind``, with the credentials it needs in the environment
    (where the CLI and the store classes find them: never on the command line)."""
    if kind == "directory":
        return str(tmp_path / "store")
    if kind == "s3":
        moto = servers.get_moto()
        bucket = f"b-{uuid.uuid4().hex[:16]}"
        moto.client().create_bucket(Bucket=bucket)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.secret)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookups on a CI machine
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto.url)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        return f"s3://{bucket}/backups"
    if kind == "azure":
        azurite = servers.get_azurite()
        container = f"c-{uuid.uuid4().hex[:16]}"
        azurite.service().create_container(container)
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
        return f"azure://{container}/backups"
    if kind == "webdav":
        dav = servers.get_dav()
        monkeypatch.setenv("FCRCTL_STORE_USER", DAV_USER)
        monkeypatch.setenv("FCRCTL_STORE_PASSWORD", DAV_PASSWORD)
        return dav.collection()
    raise ValueError(kind)


STORE_KINDS = ["directory", "s3", "azure", "webdav"]


_shared: list[Servers] = []  # this test process's, made by the first module that asks


@pytest.fixture(scope="session")
def store_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """One set of servers per test process. Each module imports this fixture, which makes it a
    fixture of that module, and a session fixture per module started moto and Azurite again for
    every module a worker ran (up to 4 of each in one worker, ~2 s of CPU a start), none stopped
    before the session's end. The module that made them stops them, at the session's end."""
    if _shared:
        yield _shared[0]
        return
    _shared.append(Servers(tmp_path_factory.mktemp("store-servers")))
    yield _shared[0]
    _shared.pop().stop()


class FaultProxy:
    """A real HTTP proxy on 127.0.0.1 in front of a store server that answers the next requests
    with injected statuses (throttling, 5xx) and forwards the rest as they are (headers
    included: signatures stay valid). For clients that do not go through requests (boto3,
    azure-core), where a `responses` mock cannot reach."""

    def __init__(self, upstream: str) -> None:
        import requests
        from cheroot import wsgi

        self.upstream = upstream.rstrip("/")
        self.faults: list[int] = []
        self.seen: list[str] = []
        session = requests.Session()

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            method = environ["REQUEST_METHOD"]
            path = environ.get("PATH_INFO", "") + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
            self.seen.append(f"{method} {path}")
            if self.faults:
                status = self.faults.pop(0)
                start_response(f"{status} Injected", [("Content-Length", "0")])
                return [b""]
            headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
            for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if environ.get(name):
                    headers[name.replace("_", "-").title()] = environ[name]
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else None
            raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or path
            resp = session.request(method, self.upstream + raw_path, headers=headers, data=body,
                                   allow_redirects=False)
            drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
            out = [(k, v) for k, v in resp.raw.headers.items() if k.lower() not in drop]
            content = resp.content
            out.append(("Content-Length", str(len(content))))
            start_response(f"{resp.status_code} {resp.reason}", out)
            return [content]

        self.server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
        self.server.prepare()
        threading.Thread(target=self.server.serve, daemon=True).start()
        host, port = self.server.bind_addr[:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.stop()
