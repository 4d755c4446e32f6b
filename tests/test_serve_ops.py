"""Running `fcrctl serve` as an operator does: its access log, and a graceful stop on SIGTERM."""

from __future__ import annotations

import hashlib
import http.client as httpclient
import json
import os
import signal
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from fcrctl.server.access_log import redacted_path, redacted_query
from fcrctl.server.auth import add_user
from tests.server_fixture import start_server

PASSWORD = "s3cret-pass-word"
TOKEN = "tok-abcdef123456"


@pytest.mark.parametrize("fmt", ["clf", "json"])
def test_access_log_lines_never_hold_credentials(tmp_path: Path, fmt: str) -> None:
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD, admin=True)  # bypasses access control: logging is what is tested
    log = tmp_path / "access.log"
    args = ("--access-log", str(log), "--access-log-format", fmt)
    with start_server(tmp_path / "repo", auth_file=users, subprocess=True, process_args=args) as server:
        with requests.Session() as http:
            http.auth = ("alice", PASSWORD)
            assert http.put(server.url + "/logged", headers={"Content-Type": "text/turtle"}).status_code == 201
            assert http.get(server.url + f"/logged?access_token={TOKEN}&page=2").status_code == 200
        bearer = requests.get(server.url + "/logged", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 401
        parts = urlsplit(server.url)
        conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.putrequest("GET", parts.path + "/evil%0A%22injected", skip_accept_encoding=True)
        conn.putheader("Authorization", "Basic " + "bWFsbG9yeTpob3BlZnVs")  # mallory:hopeful, a wrong user
        conn.endheaders()
        conn.getresponse().read()
        conn.close()
        time.sleep(0.3)  # lines are written as responses end
    text = log.read_text()
    lines = text.splitlines()
    assert len(lines) == 4, text
    assert PASSWORD not in text and TOKEN not in text and "hopeful" not in text and "mallory" not in text
    assert "access_token=REDACTED&page=2" in text
    if fmt == "json":
        # lines are written as responses end: requests on other connections may come out of order
        rows = {(r["method"], r["status"]): r for r in map(json.loads, lines)}
        assert sorted(status for _, status in rows) == [200, 201, 401]
        assert rows["PUT", 201]["user"] == "alice" and rows["GET", 200]["bytes"] > 0
        assert rows["GET", 401]["user"] is None
    else:
        put = next(line for line in lines if '"PUT ' in line)
        assert put.split(" ")[2] == "alice" and '"PUT /rest/logged HTTP/1.1" 201' in put
        assert all(line.split(" ")[2] == "-" for line in lines if '" 401 ' in line)
    assert '"injected' not in text and "%0A%22injected" in text  # one line per request, no forged fields


def test_redacted_query_keeps_harmless_parameters() -> None:
    query = "checksum=urn:sha1:ab&api_key=k&password=p"
    assert redacted_query(query) == "checksum=urn:sha1:ab&api_key=REDACTED&password=REDACTED"
    assert redacted_query("") == ""


def test_path_parameters_with_secret_names_are_redacted() -> None:
    assert redacted_path("/rest/a;password=hunter2") == "/rest/a;password=REDACTED"
    assert redacted_path("/rest/a;v=1;api_key=k;x=2/b") == "/rest/a;v=1;api_key=REDACTED;x=2/b"
    assert redacted_path("/rest/a;token=to/ken;page=2") == "/rest/a;token=REDACTED;page=2"  # %2F decoded: kept out
    assert redacted_path("/rest/a;v=1/b;c") == "/rest/a;v=1/b;c"


@pytest.mark.parametrize("fmt", ["clf", "json"])
def test_access_log_redacts_path_parameters(tmp_path: Path, fmt: str) -> None:
    log = tmp_path / "access.log"
    args = ("--access-log", str(log), "--access-log-format", fmt)
    with start_server(tmp_path / "repo", subprocess=True, process_args=args) as server:
        for path in (f"/x;password={PASSWORD}", f"/y;Session=a%2F{TOKEN}/z", f"/w;pwd={PASSWORD}?secret={TOKEN}"):
            requests.get(server.url + path, timeout=10)
        time.sleep(0.3)  # lines are written as responses end
    text = log.read_text()
    assert len(text.splitlines()) == 3, text
    assert PASSWORD not in text and TOKEN not in text
    assert "/x;password=REDACTED" in text and "/y;Session=REDACTED" in text
    assert "/w;pwd=REDACTED?secret=REDACTED" in text


def test_access_log_to_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fcrctl.cli.main import app

    where = str(tmp_path / "r")
    assert CliRunner().invoke(app, ["init", where]).exit_code == 0
    result = CliRunner().invoke(app, ["--repo", where, "serve", "--access-log", str(tmp_path / "no" / "dir" / "log")])
    assert result.exit_code == 2 and "cannot open access log" in result.output


def test_sigterm_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    data = os.urandom(24 * 1024 * 1024)
    server = start_server(tmp_path / "repo", subprocess=True)
    try:
        headers = {"Content-Type": "application/octet-stream"}
        assert requests.put(server.url + "/big", data=data, headers=headers).status_code == 201
        with requests.get(server.url + "/big", stream=True, timeout=30) as response:
            received = hashlib.sha256()
            chunks = response.iter_content(64 * 1024)
            first = next(chunks)
            received.update(first)
            assert server.pid is not None
            os.kill(server.pid, signal.SIGTERM)  # mid-download
            time.sleep(1.5)
            with pytest.raises(requests.ConnectionError):  # no longer listening
                requests.get(server.url + "/", timeout=5)
            for chunk in chunks:
                received.update(chunk)
                time.sleep(0.0005)  # a slow reader
        assert received.hexdigest() == hashlib.sha256(data).hexdigest()
    finally:
        server.stop()


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_view_of_a_container_escapes_hostile_content(tmp_path: Path) -> None:
    hostile = "<script>alert('x')</script>"
    with start_server(tmp_path / "repo") as server, requests.Session() as http:
        body = f'<> <http://purl.org/dc/elements/1.1/title> "{hostile}" ; <http://e.org/s> <javascript:alert(1)> .'
        assert http.put(server.url + "/box", data=body, headers={"Content-Type": "text/turtle"}).status_code == 201
        disposition = 'attachment; filename="\\"><img src=x onerror=alert(1)>.txt"'  # a quote, then markup
        binary = {"Content-Type": "text/plain", "Content-Disposition": disposition}
        assert http.put(server.url + "/box/file", data=b"download me", headers=binary).status_code == 201
        assert http.put(server.url + "/box/sub").status_code == 201
        response = http.get(server.url + "/box", headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
        assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no scripts
        page = _Page()
        page.feed(response.text)
        tags = [tag for tag, _ in page.tags]
        assert "script" not in tags and "img" not in tags
        assert all(not name.startswith("on") for _, attrs in page.tags for name in attrs)
        hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
        assert all(href and href.startswith("http") for href in hrefs)
        assert server.url + "/box/sub" in hrefs
        downloads = [attrs for tag, attrs in page.tags if tag == "a" and "download" in attrs]
        assert [d["href"] for d in downloads] == [server.url + "/box/file"]
        assert http.get(downloads[0]["href"] or "").content == b"download me"
        assert hostile in "".join(page.text) and "javascript:alert(1)" in "".join(page.text)  # shown, as text
        # RDF clients keep getting RDF
        anything = http.get(server.url + "/box", headers={"Accept": "*/*"})
        assert anything.headers["Content-Type"].startswith("text/turtle")
        assert http.get(server.url + "/box").headers["Content-Type"].startswith("text/turtle")


def test_open_transactions_survive_a_sigterm(tmp_path: Path) -> None:
    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec

    where = tmp_path / "repo"
    server = start_server(where, subprocess=True, dialect="fedora6")
    try:
        with open_repository(server.url, api="fedora6") as repo:
            tx = repo.begin_transaction()
            inside = repo.in_transaction(tx.id)
            inside.create("/staged", ResourceSpec())
        assert server.pid is not None
        os.kill(server.pid, signal.SIGTERM)
    finally:
        server.stop()
    again = start_server(where, subprocess=True, dialect="fedora6")
    try:
        with open_repository(again.url, api="fedora6") as repo:
            assert tx.id in [t.id for t in repo.transactions()]
            repo.commit_transaction(tx.id)
            assert repo.info("/staged").path == "/staged"
    finally:
        again.stop()


def _chromium() -> str | None:
    import shutil

    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (Debian: apt-get install chromium)")
def test_html_view_in_a_real_browser(tmp_path: Path) -> None:
    """Headless Chromium renders the page (screenshot in the test's folder), and the hostile title's
    markup, which would rename the document if it ran, stays text."""
    import subprocess

    browser = _chromium()
    assert browser is not None
    with start_server(tmp_path / "repo") as server, requests.Session() as http:
        attack = "<img src=x onerror=document.title='pwned'>"
        body = f'<> <http://purl.org/dc/elements/1.1/title> "{attack}" .'
        assert http.put(server.url + "/shelf", data=body, headers={"Content-Type": "text/turtle"}).status_code == 201
        book = http.put(server.url + "/shelf/book", data=b"text", headers={"Content-Type": "text/plain"})
        assert book.status_code == 201
        flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1024,768"]
        shot = tmp_path / "container.png"
        subprocess.run([*flags, f"--screenshot={shot}", server.url + "/shelf"], check=True, timeout=120,
                       capture_output=True)
        assert shot.stat().st_size > 2000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        dom = subprocess.run([*flags, "--dump-dom", server.url + "/shelf"], check=True, timeout=120,
                             capture_output=True, text=True).stdout
        assert "<title>/shelf</title>" in dom and "pwned" not in dom.split("<body")[0]
        assert f'href="{server.url}/shelf/book"' in dom and "download" in dom


@pytest.mark.parametrize("name", ["pass", "pwd", "passphrase", "jwt", "bearer", "%70assword", "Pass%57ord"])
def test_redacted_query_knows_short_and_encoded_secret_names(name: str) -> None:
    # a client's own ?pass=... is still a password; %70assword is the server's "password"
    assert redacted_query(f"page=2&{name}=s3cret") == f"page=2&{name}=REDACTED"
