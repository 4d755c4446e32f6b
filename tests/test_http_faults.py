"""HttpRepository against faults a real server will not produce on demand (``responses`` mocks):
timeouts, 5xx with retries, resets, non-Fedora servers, auth challenges, redirects, TLS errors,
malformed RDF, and credentials that must never show up in messages.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from fcrctl.errors import (
    AuthError,
    BadInput,
    ChecksumMismatch,
    Conflict,
    CorruptData,
    Gone,
    NotARepository,
    NotFound,
    PreconditionFailed,
    Unavailable,
    Unsupported,
)
from fcrctl.repository.base import Conditions, ResourceSpec
from fcrctl.repository.http import HttpRepository
from fcrctl.repository.http import auth as auth_module

BASE = "http://fedora.test:8080/rest"
ROOT = BASE + "/"
SECRET = "s3cr3t-p4ss"
TTL = "text/turtle"

ROOT_BODY = f"<{ROOT}> a <http://www.w3.org/ns/ldp#BasicContainer> .\n"
F4_LINKS = {
    "Link": '<http://www.w3.org/ns/ldp#Resource>;rel="type", <http://www.w3.org/ns/ldp#BasicContainer>;rel="type"'
}
F6_LINKS = {
    "Link": F4_LINKS["Link"] + f', <{BASE}/fcr:tx>; rel="http://fedora.info/definitions/v4/transaction#endpoint"'
}


def add_root(rsps: responses.RequestsMock, links: dict[str, str] = F4_LINKS, url: str = ROOT) -> None:
    rsps.add(responses.GET, url, body=ROOT_BODY, content_type=TTL, headers=links)


def open_repo(**options: object) -> HttpRepository:
    return HttpRepository.open(BASE, retries=2, **options)  # type: ignore[arg-type]


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def count(rsps: responses.RequestsMock, method: str, url: str) -> int:
    return sum(1 for call in rsps.calls if call.request.method == method and call.request.url == url)


# -- opening and dialects ----------------------------------------------------------------


def test_open_detects_fedora4_and_fedora6(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    assert repo.dialect.name == "fedora4"
    assert repo.capabilities.label_versions and not repo.capabilities.delete_versions
    assert repo.capabilities.dialect == "fedora4"
    rsps.reset()
    add_root(rsps, F6_LINKS)
    repo6 = open_repo()
    assert repo6.dialect.name == "fedora6" and repo6.dialect.versions == "memento"
    assert not repo6.capabilities.delete_versions
    assert repo6.base_uri == BASE and repo6.location == BASE


def test_api_option_overrides_detection_and_is_validated(rsps: responses.RequestsMock) -> None:
    add_root(rsps, F6_LINKS)
    assert open_repo(api="fedora4").dialect.name == "fedora4"
    with pytest.raises(BadInput, match="fedora4, fedora5, fedora6"):
        open_repo(api="fedora9")


def test_non_fedora_html_server_is_not_a_repository(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, ROOT, body="<html><body>Welcome to nginx</body></html>", content_type="text/html")
    with pytest.raises(NotARepository, match=r"not a Fedora repository: http://fedora\.test:8080/rest"):
        open_repo()


def test_missing_rest_path_is_not_a_repository(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, ROOT, status=404, body="Not Found")
    with pytest.raises(NotARepository, match="REST base path"):
        open_repo()


def test_unknown_options_are_ignored(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = HttpRepository.open(BASE, json=True, jobs=4, create=False, quiet=None)
    assert repo.location == BASE


def test_redirect_of_the_root_is_followed(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, ROOT, status=301, headers={"Location": "http://fedora.test:8080/fcrepo/rest/"})
    rsps.add(responses.GET, "http://fedora.test:8080/fcrepo/rest/", body=ROOT_BODY, content_type=TTL, headers=F4_LINKS)
    assert open_repo().dialect.name == "fedora4"


# -- retries -------------------------------------------------------------------------------


def test_get_is_retried_on_503_then_succeeds(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, ROOT, status=503, body="busy")
    rsps.add(responses.GET, ROOT, status=503, body="busy")
    add_root(rsps)
    assert open_repo().dialect.name == "fedora4"
    assert count(rsps, "GET", ROOT) == 3


def test_persistent_500s_become_unavailable_with_an_excerpt(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    rsps.add(responses.HEAD, BASE + "/a", status=503, body="")
    with pytest.raises(Unavailable, match=r"fedora\.test:8080 \(HTTP 503\)"):
        repo.info("/a")
    assert count(rsps, "HEAD", BASE + "/a") == 3  # 1 + 2 retries
    rsps.add(responses.GET, BASE + "/b/fcr:versions", status=500, body="java.lang.NullPointerException at X")
    with pytest.raises(Unavailable, match="NullPointerException"):
        repo.versions("/b")
    assert count(rsps, "GET", BASE + "/b/fcr:versions") == 1  # 500 is not a transient status


def test_post_is_never_retried(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    rsps.add(responses.POST, BASE + "/parent", status=503, body="overloaded")
    with pytest.raises(Unavailable, match="overloaded"):
        repo.create_child("/parent", ResourceSpec())
    assert count(rsps, "POST", BASE + "/parent") == 1


def test_read_timeout_becomes_unavailable(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo(timeout=2)
    rsps.add(responses.HEAD, BASE + "/slow", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(Unavailable, match=r"no answer from fedora\.test:8080 within 2 s .*--timeout"):
        repo.info("/slow")


def test_connection_reset_becomes_unavailable(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    reset = requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    rsps.add(responses.DELETE, BASE + "/x", body=reset)
    with pytest.raises(Unavailable, match=r"connection to fedora\.test:8080 dropped .*\(connection reset by peer\)"):
        repo.delete("/x")


def test_unreachable_server_names_host_and_port() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable, match=rf"cannot connect to 127\.0\.0\.1:{port}: connection refused"):
        HttpRepository.open(f"http://127.0.0.1:{port}/rest", retries=0)


def test_tls_failure_says_how_to_fix(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, "https://fedora.test/rest/", body=requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    with pytest.raises(Unavailable, match=r"TLS verification failed for fedora\.test:443: use --ca-bundle FILE"):
        HttpRepository.open("https://fedora.test/rest", retries=0)


# -- credentials -----------------------------------------------------------------------------


def _auth_root(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    import base64

    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return 401, {"WWW-Authenticate": 'Basic realm="fedora"'}, "Unauthorized"
    return 200, {"Content-Type": TTL, "Link": F4_LINKS["Link"]}, ROOT_BODY


def test_401_without_credentials_then_success_with_them(rsps: responses.RequestsMock) -> None:
    rsps.add_callback(responses.GET, ROOT, callback=_auth_root)
    with pytest.raises(AuthError, match="authentication failed") as failed:
        open_repo()
    assert SECRET not in str(failed.value)
    repo = HttpRepository.open(f"http://alice:{SECRET}@fedora.test:8080/rest", retries=0)
    assert repo.location == BASE and repo.base_uri == BASE
    assert SECRET not in repr(repo) and SECRET not in repr(repo._remote.session.auth)


def test_wrong_password_is_an_auth_error_and_never_echoed(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    rsps.add_callback(responses.GET, ROOT, callback=_auth_root)
    secret_file = tmp_path / "pw"
    secret_file.write_text("not-the-password\n")
    with pytest.raises(AuthError) as failed:
        HttpRepository.open(BASE, user="alice", password_file=str(secret_file))
    assert "not-the-password" not in str(failed.value) and "not-the-password" not in repr(failed.value)
    assert failed.value.exit_code == 12


def test_server_echoing_the_password_is_redacted(rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCRCTL_PASSWORD", SECRET)
    add_root(rsps)
    repo = HttpRepository.open(BASE, user="alice")
    rsps.add(responses.PATCH, BASE + "/c", status=400, body=f"bad update from alice:{SECRET}")
    rsps.add(responses.HEAD, BASE + "/c", headers=F4_LINKS)
    with pytest.raises(BadInput) as failed:
        repo.patch("/c", "INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> 'x' }")
    assert SECRET not in str(failed.value) and "***" in str(failed.value)


def test_password_sources(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine fedora.test login bob password {SECRET}\n")
    netrc.chmod(0o600)
    _, config = auth_module.resolve(BASE, env={}, netrc_path=str(netrc))
    assert config.user == "bob" and config.secrets == [SECRET]
    _, config = auth_module.resolve(BASE, user="carol", env={"FCRCTL_PASSWORD": "envpw"}, netrc_path=str(netrc))
    assert config.user == "carol" and config.secrets == ["envpw"]
    prompts: list[str] = []
    _, config = auth_module.resolve(
        BASE,
        user="dave",
        env={},
        netrc_path=str(netrc),
        interactive=True,
        prompt=lambda text: prompts.append(text) or "typed",
    )
    assert config.secrets == ["typed"] and "dave" in prompts[0]
    with pytest.raises(BadInput, match="no password for user 'dave'"):
        auth_module.resolve(BASE, user="dave", env={}, netrc_path=str(netrc), interactive=False)
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    _, config = auth_module.resolve(BASE, token_file=str(token), env={}, netrc_path=str(netrc))
    assert config.secrets == ["tok-123"] and "tok-123" not in repr(config.auth)


def test_insecure_warns_and_ca_bundle_must_exist(tmp_path: Path) -> None:
    warnings: list[str] = []
    _, config = auth_module.resolve("https://h/rest", insecure=True, env={}, warn=warnings.append)
    assert config.verify is False and "OFF" in warnings[0]
    with pytest.raises(BadInput, match="--ca-bundle"):
        auth_module.resolve("https://h/rest", ca_bundle=str(tmp_path / "missing.pem"), env={})


def test_bearer_token_is_sent(rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCRCTL_TOKEN", "tok-xyz")
    rsps.add(
        responses.GET,
        ROOT,
        body=ROOT_BODY,
        content_type=TTL,
        headers=F4_LINKS,
        match=[matchers.header_matcher({"Authorization": "Bearer tok-xyz"})],
    )
    assert open_repo().location == BASE


# -- status mapping and bodies ------------------------------------------------------------------


def test_status_codes_map_to_errors(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    cases = [
        (404, NotFound),
        (410, Gone),
        (412, PreconditionFailed),
        (403, AuthError),
        (405, Unsupported),
        (415, BadInput),
    ]
    for status, error in cases:
        rsps.add(responses.DELETE, BASE + f"/s{status}", status=status, body="")
        with pytest.raises(error):
            repo.delete(f"/s{status}", conditions=Conditions(if_match="abc"))
    assert rsps.calls[-1].request.headers["If-Match"] == '"abc"'


def test_checksum_conflict_is_checksum_mismatch(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    rsps.add(
        responses.POST, BASE + "/p", status=409, body="Checksum Mismatch of cb1a576f and urn:sha1:checksumdoesntmatch"
    )
    spec = ResourceSpec(content=io.BytesIO(b"hello"), mime_type="text/plain", digests={"sha1": "00" * 20})
    with pytest.raises(ChecksumMismatch):
        repo.create_child("/p", spec)
    sent = rsps.calls[-1].request
    assert sent.headers["Digest"] == "sha=" + "00" * 20
    assert sent.headers["Content-Length"] == "5"
    rsps.add(responses.POST, BASE + "/q", status=409, body="Unable to add child: exists")
    with pytest.raises(Conflict) as conflict:
        repo.create_child("/q", ResourceSpec())
    assert not isinstance(conflict.value, ChecksumMismatch)


def test_sha512_is_checked_locally_before_sending_on_fedora4(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    calls = len(rsps.calls)
    spec = ResourceSpec(content=io.BytesIO(b"hello"), digests={"sha512": "ab" * 64})
    with pytest.raises(ChecksumMismatch, match="nothing was stored"):
        repo.create_child("/p", spec)
    assert len(rsps.calls) == calls  # nothing went over the wire


def test_malformed_rdf_from_the_server_is_corrupt_data(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    rsps.add(responses.HEAD, BASE + "/c", headers=F4_LINKS)
    rsps.add(responses.GET, BASE + "/c", body="<a> <b> <c> ;;; garbage", content_type=TTL)
    with pytest.raises(CorruptData, match=r"malformed Turtle.*fedora\.test:8080"):
        repo.get_rdf("/c")


def test_malformed_listing_from_the_server_is_corrupt_data(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    repo = open_repo()
    rsps.add(responses.HEAD, BASE + "/c", headers=F4_LINKS)
    rsps.add(responses.GET, BASE + "/c", body="<a> <b> <c> ;;; garbage\n", content_type="application/n-triples")
    with pytest.raises(CorruptData):
        list(repo.children("/c"))


def test_reindex_is_unsupported(rsps: responses.RequestsMock) -> None:
    add_root(rsps)
    with pytest.raises(Unsupported, match="server"):
        open_repo().reindex()


def test_fedora6_rejects_labels_and_version_deletes(rsps: responses.RequestsMock) -> None:
    add_root(rsps, F6_LINKS)
    repo = open_repo()
    with pytest.raises(Unsupported, match="omit --label"):
        repo.create_version("/a", label="v1")
    with pytest.raises(Unsupported, match="cannot be deleted"):
        repo.delete_version("/a", "20240101000000")
