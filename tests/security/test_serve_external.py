"""Issue 20 item 1: a client of serve must not read the server's files or make it fetch URLs
through external content (file: only under the allow-list; http(s) fetched only when allowed,
never from private addresses unless allow-listed, redirects checked hop by hop)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.security.conftest import Origin, external_link, fresh
from tests.server_fixture import start_server

SECRET = b"root:$6$not-really-a-hash\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    secret = tmp_path / "etc" / "shadow"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    allowed = tmp_path / "ingest"
    allowed.mkdir()
    (allowed / "ok.txt").write_bytes(b"allowed bytes")
    (allowed / "link").symlink_to(secret)
    (tmp_path / "ingest2").mkdir()  # shares a prefix with the allowed directory, is not allowed
    (tmp_path / "ingest2" / "x.txt").write_bytes(b"sibling")
    allow = tmp_path / "allowed.txt"
    allow.write_text(f"# Fedora's format: one URI prefix a line\n\n{allowed.as_uri()}/\n")
    return {"secret": secret, "allowed": allowed, "allow": allow, "root": tmp_path}


def refused_paths(files: dict[str, Path]) -> list[str]:
    secret, allowed, root = files["secret"], files["allowed"], files["root"]
    spelled = str(secret)
    return [
        secret.as_uri(),
        "FILE://" + spelled,  # scheme case
        "file://localhost" + spelled,
        "file:" + spelled,  # one slash
        "file://" + quote(spelled, safe="").replace("%2F", "/").replace("e", "%65"),  # encoded letters
        f"file://{allowed}/../etc/shadow",  # dot segments
        f"file://{allowed}/%2e%2e/etc/shadow",  # encoded dot segments
        f"file://{allowed}/link",  # a symlink out of the allowed directory
        f"file://{root}/ingest2/x.txt",  # prefix of a name, not a directory
        f"file://otherhost{secret}",
        "file:///proc/self/environ",
    ]


@pytest.mark.parametrize("handling", ["proxy", "copy", "redirect"])
def test_file_urls_outside_the_allow_list_are_refused(files: dict[str, Path], dialect: str, handling: str) -> None:
    with start_server(files["root"] / "repo", dialect=dialect, external_allowed=str(files["allow"])) as server:
        for target in refused_paths(files):
            url = fresh(server.url)
            put = requests.put(url, headers=external_link(target, handling), timeout=10)
            assert put.status_code == 400, (target, put.status_code, put.text)
            got = requests.get(url, timeout=10)
            assert got.status_code == 404 and SECRET not in got.content, target


def test_file_urls_under_the_allow_list_work(files: dict[str, Path], dialect: str) -> None:
    ok = (files["allowed"] / "ok.txt").as_uri()
    with start_server(files["root"] / "repo", dialect=dialect, external_allowed=str(files["allow"])) as server:
        for handling in ("proxy", "copy"):
            url = fresh(server.url)
            assert requests.put(url, headers=external_link(ok, handling), timeout=10).status_code == 201
            assert requests.get(url, timeout=10).content == b"allowed bytes"


def test_without_an_allow_list_every_file_url_is_refused(files: dict[str, Path], dialect: str) -> None:
    ok = (files["allowed"] / "ok.txt").as_uri()
    with start_server(files["root"] / "repo", dialect=dialect) as server:
        for handling in ("proxy", "copy"):
            put = requests.put(fresh(server.url), headers=external_link(ok, handling), timeout=10)
            assert put.status_code == 400 and "--external-content-allowed" in put.text


def test_stored_file_proxies_outside_the_allow_list_are_not_served(files: dict[str, Path], dialect: str) -> None:
    """Content the operator stored with the CLI (or an import brought in) is not read for clients."""
    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    repo = open_repository(str(files["root"] / "repo"), create=True)
    try:
        repo.create("/imported", ResourceSpec(external_url=files["secret"].as_uri(), external_handling="proxy"))
        with start_server(repo=repo, dialect=dialect, external_allowed=str(files["allow"])) as server:
            got = requests.get(server.url + "/imported", timeout=10)
            assert got.status_code == 403 and SECRET not in got.content
    finally:
        repo.close()


def test_the_cli_operator_may_name_local_files(files: dict[str, Path]) -> None:
    """Locally, the CLI user is the operator: their own files are theirs to link (documented)."""
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    repo = str(files["root"] / "local")
    assert CliRunner().invoke(app, ["init", repo]).exit_code == 0
    made = CliRunner().invoke(app, ["--repo", repo, "create", "/x", "--external", files["secret"].as_uri(),
                                    "--handling", "copy"])
    assert made.exit_code == 0, made.output
    assert CliRunner().invoke(app, ["--repo", repo, "get", "/x"]).stdout_bytes == SECRET


def test_http_fetching_is_off_by_default(origin: Origin, dialect: str, tmp_path: Path) -> None:
    with start_server(tmp_path / "repo", dialect=dialect) as server:
        for handling in ("proxy", "copy"):
            put = requests.put(fresh(server.url), headers=external_link(origin.url + "/secret", handling), timeout=10)
            assert put.status_code == 400 and "--allow-external-fetch" in put.text
        url = fresh(server.url)  # redirect: the client fetches, not the server
        assert requests.put(url, headers=external_link(origin.url + "/secret", "redirect"), timeout=10).ok
        assert requests.get(url, allow_redirects=False, timeout=10).status_code == 307
    assert origin.hits == []


@pytest.mark.parametrize("handling", ["proxy", "copy"])
def test_fetching_never_reaches_private_addresses(origin: Origin, dialect: str, tmp_path: Path, handling: str) -> None:
    targets = [
        origin.url + "/secret",
        origin.url.replace("127.0.0.1", "localhost") + "/secret",
        origin.url.replace("127.0.0.1", "LOCALHOST") + "/secret",
        origin.url.replace("127.0.0.1", "[::ffff:127.0.0.1]") + "/secret",
        origin.url.replace("127.0.0.1", "2130706433") + "/secret",  # 127.0.0.1 as one number
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/x",
        "gopher://127.0.0.1/x",
    ]
    with start_server(tmp_path / "repo", dialect=dialect, allow_external_fetch=True) as server:
        for target in targets:
            put = requests.put(fresh(server.url), headers=external_link(target, handling), timeout=10)
            assert put.status_code == 400, (target, put.status_code, put.text)
    assert origin.hits == []


def test_allow_listed_origins_are_fetched_and_redirects_are_checked(
    origin: Origin, dialect: str, tmp_path: Path
) -> None:
    allow = tmp_path / "allowed.txt"
    allow.write_text(f"{origin.url}/ok/\n{origin.url}/go\n")
    with start_server(tmp_path / "repo", dialect=dialect, allow_external_fetch=True,
                      external_allowed=str(allow)) as server:
        for handling in ("copy", "proxy"):
            url = fresh(server.url)
            put = requests.put(url, headers=external_link(origin.url + "/ok/public", handling), timeout=10)
            assert put.status_code == 201, put.text
            assert requests.get(url, timeout=10).content == b"public text"
        # an allowed URL that redirects to one that is not: refused at the hop
        hop = requests.put(fresh(server.url), headers=external_link(f"{origin.url}/go?to=/secret", "copy"), timeout=10)
        assert hop.status_code == 400, hop.text
        to_file = f"{origin.url}/go?to=file:///etc/passwd"
        hop = requests.put(fresh(server.url), headers=external_link(to_file, "copy"), timeout=10)
        assert hop.status_code == 400, hop.text
        # proxy: stored (allowed prefix), then refused at the hop on every GET
        url = fresh(server.url)
        assert requests.put(url, headers=external_link(f"{origin.url}/go?to=/secret", "proxy"), timeout=10).ok
        got = requests.get(url, timeout=10)
        assert got.status_code == 400 and b"internal secret" not in got.content
    assert "/secret" not in origin.hits


def test_a_bad_allow_list_stops_serve_at_start(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    allow = tmp_path / "allowed.txt"
    allow.write_text("ftp://example.org/\n")
    result = CliRunner().invoke(
        app, ["--repo", str(tmp_path / "repo"), "serve", "--port", "0", "--external-content-allowed", str(allow)]
    )
    assert result.exit_code == 2 and "line 1" in result.output
    assert not os.path.exists(tmp_path / "repo" / "ocfl-root" / "never")


@pytest.mark.parametrize("line", ["ftp://example.org/", "file:///data/../etc/", "file://otherhost/data/",
                                  "relative/path", "file:relative", "http:///nohost", "https://x.org/a/../b"])
def test_allow_list_lines_that_would_widen_it_are_refused(tmp_path: Path, line: str) -> None:
    from fcrctl.errors import BadInput
    from fcrctl.server.external import read_allow_list

    allow = tmp_path / "allowed.txt"
    allow.write_text(f"# comment\n\n{line}\n")
    with pytest.raises(BadInput, match="line 3"):
        read_allow_list(allow)


def test_allow_list_entries_are_normalised(tmp_path: Path) -> None:
    from fcrctl.server.external import read_allow_list

    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    allow = tmp_path / "allowed.txt"
    allow.write_text(f"{(tmp_path / 'alias').as_uri()}/\nHTTPS://Images.Example.org/Pub/\n")
    assert read_allow_list(allow) == (f"file:{tmp_path / 'real'}", "https://images.example.org/pub/")
