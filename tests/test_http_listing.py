"""Listings at scale over HTTP (issue 14): from a server that says its listing is grouped (fcrctl
serve) the client yields each child as its group arrives; from any other (Fedora) it spills a big
listing's triples to SQLite instead of holding them. Both list the same children in the same order,
and bound what they read and how long they wait for it."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import CorruptData, ExitCode, Unavailable
from fcrctl.repository.base import ResourceInfo, ResourceSpec
from fcrctl.repository.http import HttpRepository, listing_triples, listings, ntriples, remote
from fcrctl.repository.http.listing_triples import ListingTriples

server_fixture = pytest.importorskip("tests.server_fixture")

CHILDREN = 600


def key(infos: Iterator[ResourceInfo]) -> list[tuple[Any, ...]]:
    return [(i.path, i.model, i.size, i.digests, i.created, i.modified, i.mime_type) for i in infos]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, HttpRepository, list[tuple[Any, ...]]]]:
    """/c of CHILDREN children (every 10th a binary, some names not ASCII) served by its own
    process (so this one's memory is the client's), and the index's own recursive listing of it."""
    from fcrctl.repository import open_repository

    where = tmp_path_factory.mktemp("big") / "repo"
    local = open_repository(str(where), create=True)
    local.create("/c", ResourceSpec())
    local.create("/c/sub", ResourceSpec())
    local.create("/c/sub/inner.bin", ResourceSpec(content=io.BytesIO(b"inner"), mime_type="text/plain"))
    tx = local.begin_transaction()  # type: ignore[attr-defined]
    inside = local.in_transaction(tx.id)  # type: ignore[attr-defined]
    for i in range(CHILDREN):
        name = f"/c/{'é' if i % 7 == 0 else 'x'}{i}"
        if i % 10 == 0:
            inside.create(name, ResourceSpec(content=io.BytesIO(b"b" * i), mime_type="text/plain"))
        else:
            inside.create(name, ResourceSpec())
    local.commit_transaction(tx.id)  # type: ignore[attr-defined]
    expected = key(local.children("/c", recursive=True))
    local.close()
    with server_fixture.start_server(where, subprocess=True) as handle:
        repo = HttpRepository.open(handle.url)
        yield handle, repo, expected
        repo.close()


@pytest.fixture
def fedora_like(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client as against a real Fedora, which never says its listing is grouped."""
    monkeypatch.setattr(listings, "GROUPED_HEADER", "X-Not-Sent-By-Fedora")



def peak_listing(repo: Any) -> int:
    """Peak traced Python memory, in bytes, of listing /c to the end."""
    tracemalloc.start()
    try:
        for _ in repo.children("/c"):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_big_listing_spills_and_lists_what_the_index_lists(big: Any, monkeypatch: pytest.MonkeyPatch,
                                                             fedora_like: None) -> None:
    _, repo, expected = big
    held: list[int] = []  # triples held as Python objects after each one arrives
    spills: list[bool] = []
    triple, spill = ListingTriples.triple, ListingTriples._spill

    def counting_triple(self: ListingTriples, s: Any, p: Any, o: Any) -> None:
        triple(self, s, p, o)
        held.append(sum(len(v) for by in self._memory.values() for v in by.values()) + len(self._rows))

    def counting_spill(self: ListingTriples) -> None:
        spills.append(True)
        spill(self)

    monkeypatch.setattr(ListingTriples, "triple", counting_triple)
    monkeypatch.setattr(ListingTriples, "_spill", counting_spill)
    monkeypatch.setattr(listing_triples, "SPILL_AT", 100)
    monkeypatch.setattr(listing_triples, "BATCH", 50)
    monkeypatch.setattr(listings, "CHUNK", 16)

    def no_whole_graph(*_: Any, **__: Any) -> Any:
        raise AssertionError("an N-Triples listing must not be parsed into a whole Graph")

    monkeypatch.setattr(remote.Remote, "parse_graph", no_whole_graph)
    spilled = key(repo.children("/c", recursive=True))
    assert spills, "a listing over SPILL_AT triples must spill to SQLite"
    assert max(held) <= 101, f"held {max(held)} triples in memory"
    assert spilled == expected  # the same children, facts and order as the index
    assert len(spilled) == CHILDREN + 2


def test_spilled_and_in_memory_listings_agree_also_from_turtle(big: Any, monkeypatch: pytest.MonkeyPatch,
                                                               fedora_like: None) -> None:
    _, repo, _ = big
    in_memory = key(repo.children("/c"))
    monkeypatch.setattr(listing_triples, "SPILL_AT", 10)
    assert key(repo.children("/c")) == in_memory
    monkeypatch.setattr(listings, "LISTING_ACCEPT", "text/turtle")  # a server that sends no N-Triples
    assert key(repo.children("/c")) == in_memory


def test_spilling_keeps_the_client_s_memory_flat(big: Any, monkeypatch: pytest.MonkeyPatch, fedora_like: None) -> None:
    _, repo, _ = big
    monkeypatch.setattr(listings, "CHUNK", 16)
    monkeypatch.setattr(listing_triples, "BATCH", 100)

    def peak(spill_at: int) -> int:
        monkeypatch.setattr(listing_triples, "SPILL_AT", spill_at)
        return peak_listing(repo)

    held, spilled = peak(1 << 40), peak(100)
    assert spilled < held * 0.6, f"spilled peak {spilled} B vs all in memory {held} B"


def test_info_on_a_big_container_does_not_keep_its_containment(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, _ = big
    kept: list[int] = []
    from fcrctl.repository.http.facts import plain_strings as real

    def spy(graph: Any) -> Any:
        kept.append(len(graph))
        return real(graph)

    monkeypatch.setattr("fcrctl.repository.http.reads.plain_strings", spy)
    info = repo.info("/c")
    assert info.has_children and not info.is_binary
    assert kept and max(kept) < 50, f"kept {kept} triples of a container of {CHILDREN} children"
    assert repo.info("/c/sub/inner.bin").size == 5 and not repo.info("/c/x1").has_children


def test_a_listing_line_over_the_bound_is_refused(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, _ = big
    monkeypatch.setattr(ntriples, "MAX_LINE", 20)
    monkeypatch.setattr(ntriples, "BLOCK", 8)
    with pytest.raises(CorruptData, match="a line over 20 bytes"):
        list(repo.children("/c"))


@pytest.mark.parametrize("grouped", [True, False])
def test_a_listing_over_the_size_bound_is_refused_from_the_cli(big: Any, monkeypatch: pytest.MonkeyPatch,
                                                               grouped: bool) -> None:
    handle, _, expected = big
    if not grouped:
        monkeypatch.setattr(listings, "GROUPED_HEADER", "X-Not-Sent-By-Fedora")
    monkeypatch.setattr(ntriples, "MAX_BODY", 10_000)
    result = CliRunner().invoke(app, ["--repo", handle.url, "ls", "/c"])
    assert result.exit_code == ExitCode.CORRUPT, result.output
    assert "over 10000 bytes: refused" in result.stderr
    listed = result.stdout.splitlines()
    if grouped:  # what arrived within the bound was listed, in order
        assert 0 < len(listed) < 30 and listed == [k[0] for k in direct(expected)][:len(listed)]
    else:  # read whole first: nothing listed before the error
        assert listed == []


def test_an_rdf_body_over_its_bound_is_refused(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, _ = big
    monkeypatch.setattr(remote, "MAX_RDF_BODY", 100)
    with pytest.raises(CorruptData, match="over 100 bytes"):
        repo.get_rdf("/c")


def test_stopping_early_closes_the_spill(big: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         fedora_like: None) -> None:
    _, repo, _ = big
    closed: list[bool] = []
    close = ListingTriples.close

    def counting_close(self: ListingTriples) -> None:
        closed.append(self.spilled)
        close(self)

    monkeypatch.setattr(ListingTriples, "close", counting_close)
    monkeypatch.setattr(listing_triples, "SPILL_AT", 10)
    listing = repo.children("/c")
    assert next(listing).path.startswith("/c/")
    listing.close()  # type: ignore[attr-defined]
    assert closed == [True]


# -- grouped listings (fcrctl serve says so): each child as its group arrives ----------------------


def direct(expected: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [k for k in expected if k[0].count("/") == 2]


def test_a_grouped_listing_streams_what_the_index_lists(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, expected = big
    read: list[bytes] = []
    real_lines = ntriples._lines

    def counted(blocks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
        for line in real_lines(blocks, max_bytes):
            read.append(line)
            yield line

    def no_spill(*_: Any, **__: Any) -> Any:
        raise AssertionError("a grouped listing must not be read whole")

    monkeypatch.setattr(ntriples, "_lines", counted)
    monkeypatch.setattr(listings, "ListingTriples", no_spill)
    listing = repo.children("/c")
    first = next(listing)
    assert len(read) < 40, f"{len(read)} lines read before the first child"  # its group, not the body
    streamed = [key(iter([first])), key(listing)]
    assert streamed[0] + streamed[1] == direct(expected)
    assert len(read) > CHILDREN * 5


def test_a_grouped_listing_holds_one_group(big: Any, monkeypatch: pytest.MonkeyPatch, fedora_like: None) -> None:
    _, repo, _ = big

    def peak() -> int:
        return peak_listing(repo)

    monkeypatch.setattr(listing_triples, "SPILL_AT", 1 << 40)
    held = peak()  # every triple of the listing in memory
    monkeypatch.undo()
    grouped = peak()
    assert grouped < held * 0.5, f"grouped peak {grouped} B vs all in memory {held} B"


def test_serve_says_only_an_n_triples_listing_is_grouped(big: Any) -> None:
    import requests

    handle, _, _ = big
    embed = ('return=representation; include="http://www.w3.org/ns/ldp#PreferContainment '
             'http://fedora.info/definitions/v4/repository#EmbedResources"')
    nt = {"Accept": "application/n-triples", "Prefer": embed}
    assert requests.get(handle.url + "/c", headers=nt, timeout=60).headers["Fcrctl-Listing"] == "grouped"
    inbound = {**nt, "Prefer": embed[:-1] + ' http://fedora.info/definitions/v4/repository#InboundReferences"'}
    for headers in ({**nt, "Accept": "text/turtle"}, {"Accept": "application/n-triples"}, inbound):
        assert "Fcrctl-Listing" not in requests.get(handle.url + "/c", headers=headers, timeout=60).headers, headers


def test_ls_through_the_cli_streams_grouped_and_spills_otherwise(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handle, _, expected = big
    want = "".join(k[0] + "\n" for k in direct(expected))
    grouped = CliRunner().invoke(app, ["--repo", handle.url, "ls", "/c"])
    assert grouped.exit_code == 0, grouped.output
    assert grouped.stdout == want
    spills: list[bool] = []
    real_spill = ListingTriples._spill

    def counting_spill(self: ListingTriples) -> None:
        spills.append(True)
        real_spill(self)

    monkeypatch.setattr(ListingTriples, "_spill", counting_spill)
    monkeypatch.setattr(listings, "GROUPED_HEADER", "X-Not-Sent-By-Fedora")
    monkeypatch.setattr(listing_triples, "SPILL_AT", 200)
    spilled = CliRunner().invoke(app, ["--repo", handle.url, "ls", "/c"])
    assert spilled.exit_code == 0, spilled.output
    assert spilled.stdout == want and spills == [True]


def test_spilled_lookups_are_batched(big: Any, monkeypatch: pytest.MonkeyPatch, fedora_like: None) -> None:
    _, repo, expected = big
    about = ListingTriples.about
    single: list[int] = []

    def counting_about(self: ListingTriples, subjects: list[str]) -> Any:
        single.append(1)
        return about(self, subjects)

    monkeypatch.setattr(ListingTriples, "about", counting_about)
    monkeypatch.setattr(listing_triples, "SPILL_AT", 100)
    assert key(repo.children("/c")) == direct(expected)
    assert single == [], "a spilled listing asked SQLite once per child"


def test_spilled_lookups_search_the_triples_by_subject() -> None:
    with ListingTriples(spill_at=0) as triples:
        triples.triple("http://h/c", listing_triples.CONTAINS, "http://h/c/a")
        list(triples.children(["http://h/c"], lambda url: url.rsplit("h", 1)[1]))
        triples.about_each([["http://h/c/a"]])
        db = triples._db
        assert db is not None
        plan = " / ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + listing_triples.ABOUT_EACH))
    assert "SEARCH t USING INDEX" in plan and "SCAN t" not in plan, plan  # a scan per chunk: quadratic


# -- servers that break their word, or trickle: a real socket, a body written by hand ----------------

NT_C = "application/n-triples"
LDP = "http://www.w3.org/ns/ldp#"
CREATED = "<http://fedora.info/definitions/v4/repository#created>"
STAMP = '"2026-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>'


class FakeServer:
    """A Fedora-like root and container /c on 127.0.0.1 whose listing body is ``body`` (a list of
    (bytes, seconds to wait before sending them)), with ``headers`` added to its GET."""

    def __init__(self, body: list[tuple[bytes, float]], headers: dict[str, str]) -> None:
        import http.server
        import threading
        import time

        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _start(self, get: bool) -> None:
                if self.path.rstrip("/") == "/rest":
                    data = f"<{fake.base}/> a <{LDP}BasicContainer> .\n".encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/turtle")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Link", f'<{LDP}BasicContainer>;rel="type"')
                    self.end_headers()
                    if get:
                        self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("Content-Type", NT_C)
                self.send_header("Link", f'<{LDP}BasicContainer>;rel="type"')
                if not get:
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for data, wait in body:
                        time.sleep(wait)
                        self.wfile.write(data)
                        self.wfile.flush()
                except OSError:
                    pass  # the client hung up

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
                self._start(False)

            def do_GET(self) -> None:  # noqa: N802
                self._start(True)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/rest"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def group(name: str) -> bytes:
    return (f"<{{b}}/c> <{LDP}contains> <{{b}}/c/{name}> .\n<{{b}}/c/{name}> {CREATED} {STAMP} .\n").encode()


@pytest.fixture
def fake() -> Iterator[Any]:
    servers: list[FakeServer] = []

    def start(parts: list[tuple[bytes, float]], headers: dict[str, str] | None = None) -> FakeServer:
        box: list[tuple[bytes, float]] = []
        server = FakeServer(box, {"Fcrctl-Listing": "grouped"} if headers is None else headers)
        box.extend((data.replace(b"{b}", server.base.encode()), wait) for data, wait in parts)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize(("body", "says"), [
    (group("b") + group("a"), "/c/a came after /c/b"),
    (group("a") + group("b") + f"<{{b}}/c/a> {CREATED} {STAMP} .\n".encode(), "about /c/a came in the group of /c/b"),
])
def test_a_server_that_breaks_its_grouping_is_corrupt_data(fake: Any, body: bytes, says: str) -> None:
    server = fake([(body, 0.0)])
    repo = HttpRepository.open(server.base, retries=0)
    try:
        with pytest.raises(CorruptData, match=says):
            list(repo.children("/c"))
    finally:
        repo.close()


def test_a_container_read_in_one_get_gives_its_own_lines_then_its_children(fake: Any) -> None:
    own = f"<{{b}}/c> <http://purl.org/dc/elements/1.1/title> \"c\" .\n<{{b}}/c> {CREATED} {STAMP} .\n".encode()
    promised = {"Fcrctl-Listing": "grouped", "Fcrctl-Listing-Own": "first"}
    server = fake([(own + group("a") + group("b"), 0.0)], headers=promised)
    repo = HttpRepository.open(server.base, retries=0)
    try:
        opened = repo.open_container("/c")
        assert opened is not None and len(opened.own) == 2 and opened.own[0].endswith('"c" .')
        assert [i.path for i in opened] == ["/c/a", "/c/b"]
        opened.close()
    finally:
        repo.close()


def test_a_container_s_own_triple_after_its_children_breaks_the_promise(fake: Any) -> None:
    late = f"<{{b}}/c> {CREATED} {STAMP} .\n".encode()
    server = fake([(group("a") + late + group("b"), 0.0)],
                  headers={"Fcrctl-Listing": "grouped", "Fcrctl-Listing-Own": "first"})
    repo = HttpRepository.open(server.base, retries=0)
    try:
        opened = repo.open_container("/c")
        assert opened is not None and opened.own == []
        with pytest.raises(CorruptData, match="came after its children"):
            list(opened)
        opened.close()
    finally:
        repo.close()


def test_a_grouped_listing_without_the_own_first_promise_is_not_read_in_one_get(fake: Any) -> None:
    server = fake([(group("a"), 0.0)])  # Fcrctl-Listing: grouped alone (an older serve)
    repo = HttpRepository.open(server.base, retries=0)
    try:
        assert repo.open_container("/c") is None
        assert repo.open_container("/c") is None  # not asked again: no request made
        assert [i.path for i in repo.children("/c")] == ["/c/a"]
    finally:
        repo.close()


def test_the_same_body_not_said_to_be_grouped_is_read_whole_and_sorted(fake: Any) -> None:
    server = fake([(group("b") + group("a"), 0.0)], headers={})
    repo = HttpRepository.open(server.base, retries=0)
    try:
        assert [i.path for i in repo.children("/c")] == ["/c/a", "/c/b"]
    finally:
        repo.close()


def test_a_trickling_listing_is_cut_off_after_its_budget(fake: Any) -> None:
    import time

    # each byte within the 1 s per-read timeout, but ~0 bytes/s: without a budget it would take 60 s
    server = fake([(group("a") + group("b"), 0.0), *[(b"#", 0.25) for _ in range(240)]])
    started = time.monotonic()
    result = CliRunner().invoke(app, ["--repo", server.base, "--timeout", "1", "ls", "/c"])
    elapsed = time.monotonic() - started
    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    assert "too slowly" in result.output and "raise --timeout" in result.output
    assert result.stdout == "/c/a\n"  # the group that ended in time is listed, /c/b's had not
    assert elapsed < 10, f"cut off after {elapsed:.1f} s"


def test_a_trickling_listing_is_cut_off_without_a_thread_or_timer(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    # an export reads one listing per container: a timer thread each (10,100 at 10k resources) was the cost
    def no_timer(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a listing's read budget started a timer thread")

    monkeypatch.setattr(threading, "Timer", no_timer)
    server = fake([(group("a") + group("b"), 0.0), *[(b"#", 0.25) for _ in range(240)]])
    repo = HttpRepository.open(server.base, retries=0, timeout=1)
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable, match="too slowly"):
            list(repo.children("/c"))
    finally:
        repo.close()
    assert time.monotonic() - started < 10


def test_a_listing_that_keeps_arriving_may_take_longer_than_timeout(fake: Any) -> None:
    # 3 s in all at 64 KiB/s, with --timeout 1: progress, not a stall
    filler = b"# " + b"x" * (16 << 10) + b"\n"
    server = fake([(group("a"), 0.0), *[(filler, 0.25) for _ in range(12)], (group("b"), 0.0)])
    repo = HttpRepository.open(server.base, retries=0, timeout=1)
    try:
        assert [i.path for i in repo.children("/c")] == ["/c/a", "/c/b"]
    finally:
        repo.close()


def test_a_broken_grouping_exits_8_from_the_cli_after_the_children_in_order(fake: Any) -> None:
    server = fake([(group("a") + group("c") + group("b"), 0.0)])
    result = CliRunner().invoke(app, ["--repo", server.base, "ls", "/c"])
    assert result.exit_code == ExitCode.CORRUPT == 8, result.output
    assert "/c/b came after /c/c" in result.stderr
    assert result.stdout == "/c/a\n"  # /c/c's group had not ended when /c/b broke the order


FEDORA_GROUP = (  # as Fedora 4.7 / 6 write a child: typed strings, dates in Z with milliseconds
    "<{b}/c> <" + LDP + "contains> <{b}/c/{n}> .\n"
    "<{b}/c/{n}> " + CREATED + ' "2021-05-18T14:51:02.608Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
    "<{b}/c/{n}> <http://fedora.info/definitions/v4/repository#lastModified> "
    '"2021-05-19T01:02:03Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
    "<{b}/c/{n}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <" + LDP + "NonRDFSource> .\n"
    "<{b}/c/{n}> <http://www.loc.gov/premis/rdf/v1#hasSize> \"12\"^^<http://www.w3.org/2001/XMLSchema#long> .\n"
    "<{b}/c/{n}> <http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#hasMimeType> "
    '"text/plain"^^<http://www.w3.org/2001/XMLSchema#string> .\n'
    "<{b}/c/{n}> <http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#filename> \"caf\\u00E9 \\\"1\\\".txt\" .\n"
    "<{b}/c/{n}> <http://www.loc.gov/premis/rdf/v1#hasMessageDigest> <urn:sha1:{n}0000> .\n"
    "_:x <http://example.org/p> <{b}/c/{n}> .\n"
)


@pytest.mark.parametrize("grouped", [True, False])
def test_fedora_s_forms_list_as_rdflib_reads_them(fake: Any, monkeypatch: pytest.MonkeyPatch, grouped: bool) -> None:
    """Fedora's bodies (no grouping promise: read whole, spilled past SPILL_AT) and serve's alike:
    the text reader gives each child the info rdflib's parser gave."""
    body = "".join(FEDORA_GROUP.replace("{n}", n) for n in ("a", "b", "c")).encode()
    server = fake([(body, 0.0)], headers={"Fcrctl-Listing": "grouped"} if grouped else {})
    monkeypatch.setattr(listing_triples, "SPILL_AT", 5)
    repo = HttpRepository.open(server.base, retries=0)
    try:
        text = [vars(i) for i in repo.children("/c")]
        monkeypatch.setattr(ntriples.TextLines, "__call__", ntriples.TextLines._slow)  # every line to rdflib
        assert [vars(i) for i in repo.children("/c")] == text
    finally:
        repo.close()
    assert [i["path"] for i in text] == ["/c/a", "/c/b", "/c/c"]
    assert text[0]["size"] == 12 and text[0]["mime_type"] == "text/plain" and text[0]["filename"] == 'café "1".txt'
    assert text[0]["created"].isoformat() == "2021-05-18T14:51:02.608000+00:00"


def test_a_listed_binary_s_digests_come_by_algorithm_whatever_order_they_were_sent_in(fake: Any) -> None:
    digest = "<{b}/c/a> <http://www.loc.gov/premis/rdf/v1#hasMessageDigest> <urn:{alg}:0123abcd> .\n"
    lines = "".join(digest.replace("{alg}", alg) for alg in ("sha-512", "sha1", "md5", "sha-256"))
    binary = f"<{{b}}/c/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{LDP}NonRDFSource> .\n"
    server = fake([(group("a") + (binary + lines).encode(), 0.0)])
    repo = HttpRepository.open(server.base, retries=0)
    try:
        (listed,) = list(repo.children("/c"))
    finally:
        repo.close()
    assert list(listed.digests) == ["md5", "sha1", "sha256", "sha512"]
