"""`ls --limit N --after NAME` pages a container's children (issue 14): locally and over serve the
index seeks to NAME (a page deep in a big container reads no row before it); serve's listing starts
there when asked (Fcrctl-Listing-After) and says so; from any other server the client skips to it.
Pages chained on each one's last name give every child once, in order."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.http import listings as client_listings
from fcrctl.repository.local import index_sql
from fcrctl.repository.local.index import sort_key
from fcrctl.server import listings as server_listings

server_fixture = pytest.importorskip("tests.server_fixture")

NAMES = sorted([f"x{i:03}" for i in range(0, 120)] + ["é1", "b", "a-b", "Z"])  # code point order, as ls sorts
EMBED = ('return=representation; include="http://www.w3.org/ns/ldp#PreferContainment '
         'http://fedora.info/definitions/v4/repository#EmbedResources"')


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paging") / "repo"
    repo = open_repository(str(path), create=True)
    try:
        repo.create("/c", ResourceSpec())
        batch = repo.batch()  # type: ignore[attr-defined]
        for i, name in enumerate(NAMES):
            spec = ResourceSpec(content=io.BytesIO(b"x"), mime_type="text/plain") if i % 10 == 0 else ResourceSpec()
            assert batch.create(f"/c/{name}", spec)
        batch.commit()
    finally:
        repo.close()
    return path


@pytest.fixture(scope="module")
def served(where: Path) -> Iterator[str]:
    with server_fixture.start_server(where, dialect="fedora6") as handle:  # in this process: its queries are seen
        yield handle.url


@pytest.fixture(params=["local", "serve"])
def repo(request: pytest.FixtureRequest, where: Path) -> str:
    return str(where) if request.param == "local" else request.getfixturevalue("served")


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(bound, page size) of each children query of the index, in this process (local and the server)."""
    seen: list[tuple[str, int]] = []
    real = index_sql.Conn.execute

    def execute(self: index_sql.Conn, sql: str, args: tuple | list = ()) -> object:
        if sql.startswith("SELECT * FROM resources WHERE sort_key > ? AND parent = ?"):
            seen.append((args[0], args[-1]))
        return real(self, sql, args)

    monkeypatch.setattr(index_sql.Conn, "execute", execute)
    return seen


def ls(repo: str, *args: str) -> list[str]:
    result = CliRunner().invoke(app, ["--repo", repo, "ls", "/c", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_pages_chained_on_their_last_name_list_every_child_once(repo: str) -> None:
    listed: list[str] = []
    page = ls(repo, "--limit", "50")
    while page:
        assert len(page) <= 50
        listed += page
        page = ls(repo, "--limit", "50", "--after", page[-1].rsplit("/", 1)[1])
    assert listed == [f"/c/{name}" for name in NAMES] == ls(repo)


def test_after_a_name_that_is_no_child_starts_where_it_would_sort(repo: str) -> None:
    assert ls(repo, "--after", "x0995", "--limit", "2") == ["/c/x100", "/c/x101"]
    assert ls(repo, "--after", "x118") == ["/c/x119", "/c/é1"]
    assert ls(repo, "--after", "é1") == []
    assert ls(repo, "--after", "A", "--limit", "1") == ["/c/Z"]


def test_a_page_deep_in_the_container_seeks_the_index_to_it(repo: str, queries: list[tuple[str, int]]) -> None:
    assert ls(repo, "--after", "x100", "--limit", "3") == ["/c/x101", "/c/x102", "/c/x103"]
    # the first index page starts at the bound (locally, or in the server, which may read a page ahead
    # while its body is sent): no row before it is read
    bound = sort_key("/c/x100")
    assert queries[0] == (bound, 16)
    assert all(start >= bound for start, _ in queries) and len(queries) <= 2


def test_serve_says_it_started_the_listing_after_the_name(served: str) -> None:
    headers = {"Accept": "application/n-triples", "Prefer": EMBED, "Fcrctl-Listing-After": "%C3%A91"}
    with requests.get(served + "/c", headers={**headers, "Fcrctl-Listing-After": "x118"}, timeout=30) as got:
        assert got.headers["Fcrctl-Listing-After"] == "x118"
        assert "Fcrctl-Listing-After" in got.headers["Vary"]
        assert f"<{served}/c/x117>" not in got.text and f"<{served}/c/x119> " in got.text
    with requests.get(served + "/c", headers={"Accept": "application/n-triples", "Prefer": EMBED}, timeout=30) as got:
        assert "Fcrctl-Listing-After" not in got.headers and f"<{served}/c/x000> " in got.text


def test_a_server_that_does_not_page_is_skipped_to_the_name(served: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouped but not paged (the header ignored), or not even grouped (as from Fedora): the same page."""
    monkeypatch.setattr(server_listings, "page_after", lambda *_: None)
    assert ls(served, "--after", "x100", "--limit", "3") == ["/c/x101", "/c/x102", "/c/x103"]
    monkeypatch.setattr(client_listings, "GROUPED_HEADER", "X-Not-Sent-By-Fedora")
    assert ls(served, "--after", "x100", "--limit", "3") == ["/c/x101", "/c/x102", "/c/x103"]
    assert ls(served, "--after", "x118") == ["/c/x119", "/c/é1"]


@pytest.mark.parametrize(("args", "says"), [
    (["--after", "a/b"], "--after takes the name of a child of /c"),
    (["--after", ""], "--after takes the name of a child of /c"),
    (["-R", "--after", "b"], "leave out --recursive"),
    (["--limit", "0"], "0 is not in the range"),
])
def test_bad_paging_is_refused_before_any_request(repo: str, args: list[str], says: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    real = requests.adapters.HTTPAdapter.send
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lambda *a, **k: sent.append(a) or real(*a, **k))
    result = CliRunner().invoke(app, ["--repo", repo, "ls", "/c", *args])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert says in result.output
    assert sent == []


@pytest.mark.parametrize("value", ["a%2Fb", "%FF", ""])
def test_serve_refuses_a_page_bound_that_is_no_name(served: str, value: str) -> None:
    headers = {"Accept": "application/n-triples", "Prefer": EMBED, "Fcrctl-Listing-After": value}
    with requests.get(served + "/c", headers=headers, timeout=30) as got:
        assert got.status_code == 400, got.text
        assert "Fcrctl-Listing-After" in got.text or "--after" in got.text


def test_a_page_of_a_spilled_listing_closes_the_spill_when_it_ends(served: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """From Fedora the listing is read whole (spilled to SQLite past SPILL_AT): `--limit` ends it there,
    and the spill's file goes with it (the command holds the listing no longer than its page)."""
    from fcrctl.repository.http import listing_triples

    closed: list[bool] = []
    close = listing_triples.ListingTriples.close

    def counting_close(self: listing_triples.ListingTriples) -> None:
        closed.append(self.spilled)
        close(self)

    monkeypatch.setattr(listing_triples.ListingTriples, "close", counting_close)
    monkeypatch.setattr(listing_triples, "SPILL_AT", 10)
    monkeypatch.setattr(client_listings, "GROUPED_HEADER", "X-Not-Sent-By-Fedora")
    result = CliRunner().invoke(app, ["--repo", served, "ls", "/c", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [f"/c/{name}" for name in NAMES[:2]]
    assert closed == [True]
