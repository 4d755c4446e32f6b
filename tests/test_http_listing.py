"""Listings at scale over HTTP (issue 14): the client spills a big listing's triples to SQLite
instead of holding them, lists the same children in the same order, and bounds what it reads."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import CorruptData, ExitCode
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


def test_a_big_listing_spills_and_lists_what_the_index_lists(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_spilled_and_in_memory_listings_agree_also_from_turtle(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, _ = big
    in_memory = key(repo.children("/c"))
    monkeypatch.setattr(listing_triples, "SPILL_AT", 10)
    assert key(repo.children("/c")) == in_memory
    monkeypatch.setattr(listings, "LISTING_ACCEPT", "text/turtle")  # a server that sends no N-Triples
    assert key(repo.children("/c")) == in_memory


def test_spilling_keeps_the_client_s_memory_flat(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, _ = big
    monkeypatch.setattr(listings, "CHUNK", 16)
    monkeypatch.setattr(listing_triples, "BATCH", 100)

    def peak(spill_at: int) -> int:
        monkeypatch.setattr(listing_triples, "SPILL_AT", spill_at)
        tracemalloc.start()
        try:
            for _ in repo.children("/c"):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

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


def test_a_listing_over_the_size_bound_is_refused_from_the_cli(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handle, _, _ = big
    monkeypatch.setattr(ntriples, "MAX_BODY", 10_000)
    result = CliRunner().invoke(app, ["--repo", handle.url, "ls", "/c"])
    assert result.exit_code == ExitCode.CORRUPT, result.output
    assert "over 10000 bytes: refused" in result.output
    assert result.output.count("\n") <= 2  # one error line, nothing listed before it


def test_an_rdf_body_over_its_bound_is_refused(big: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, repo, _ = big
    monkeypatch.setattr(remote, "MAX_RDF_BODY", 100)
    with pytest.raises(CorruptData, match="over 100 bytes"):
        repo.get_rdf("/c")


def test_stopping_early_closes_the_spill(big: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
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
