"""serve writes the grouped N-Triples listing `ls` asks for as text (listings.grouped_text): the same
triples, group by group, as the rdflib path writes; children whose stored lines it cannot write
(blank nodes, a triple naming the root) go through rdflib; its first chunk leaves after a few
children, not after a thousand lines."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from fcrctl import rdf
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.server import listings
from fcrctl.server.app import make_app

LS_PREFER = (f'return=representation; include="{rdf.LDP}PreferContainment {rdf.FEDORA}EmbedResources"; '
             f'omit="{rdf.LDP}PreferMembership"')  # what `fcrctl ls` sends
CONTAINS = f"<{rdf.LDP}contains>"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    where = tmp_path_factory.mktemp("grouped") / "repo"
    local = open_repository(str(where), create=True)
    local.create("/c", ResourceSpec(graph=rdf.parse(b'<> <http://purl.org/dc/elements/1.1/title> "top" .',
                                                    "text/turtle", base="info:fedora/c")))
    bodies = {
        "plain": b"",
        "titled": '<> <http://purl.org/dc/elements/1.1/title> "é \\"q\\" \\\\ x"@en ; <http://x/n> 5 .'.encode(),
        "blank": b"<> <http://x/part> [ <http://x/name> \"a part\" ] .",
        "rootward": b"<> <http://x/up> </rest/> .",  # names the root: serve writes it with its slash
        "dated": b'<> <http://x/when> "2020-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
        "é": b"<> <http://x/t> <http://example.org/a%20b> .",
    }
    for name, body in bodies.items():
        graph = rdf.parse(body, "text/turtle", base=f"http://localhost/rest/c/{name}") if body else None
        graph = rdf.to_internal(graph, "http://localhost/rest") if graph is not None else None
        local.create(f"/c/{name}", ResourceSpec(graph=graph))
    local.create("/c/bin", ResourceSpec(content=io.BytesIO(b"bytes"), mime_type="text/plain", filename='a "b" é.txt'))
    for i in range(30):
        local.create(f"/c/k{i:02}", ResourceSpec())
    local.create("/c/gone", ResourceSpec())
    local.delete("/c/gone")
    yield local
    local.close()


def body(repo: Any, *, text: bool, dialect: str = "fedora6", prefer: str = LS_PREFER,
         url: str = "/rest/c") -> tuple[list[bytes], dict[str, str]]:
    client = Client(make_app(repo, dialect=dialect))
    response = client.get(url, headers={"Accept": "application/n-triples", "Prefer": prefer}, buffered=False)
    chunks = list(response.response)
    response.close()
    return chunks, dict(response.headers)


def groups(data: bytes, container: str = "/rest/c") -> list[tuple[str, set[str]]]:
    """(the contains line, the set of lines up to the next) per child, blank node labels made one;
    the container's own lines (which may come anywhere) first, under ''."""
    out: list[tuple[str, set[str]]] = [("", set())]
    for line in data.decode().splitlines():
        line = re.sub(r"_:\w+", "_:b", line)
        if f"{container}> {CONTAINS}" in line:
            out.append((line, set()))
        elif line.startswith(f"<http://localhost{container}> "):
            out[0][1].add(line)
        else:
            out[-1][1].add(line)
    return out


@pytest.fixture
def rdflib_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listings, "grouped_text", None)
    monkeypatch.setattr(listings, "writes_text", lambda ctx, prefs: False)
    monkeypatch.setattr(listings, "grouped_listing", lambda resp, ctx, info, prefs, mime, *, streamed:
                        listings.advertise_grouping(resp, ctx.repo, prefs, mime, streamed=streamed))


@pytest.mark.parametrize("dialect", ["fedora6", "fedora5", "fedora4"])
@pytest.mark.parametrize(("url", "container", "children"), [("/rest/c", "/rest/c", 37), ("/rest/", "/rest/", 1)])
def test_the_text_body_holds_the_rdflib_body_s_groups(repo: Any, dialect: str, url: str, container: str,
                                                      children: int, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks, headers = body(repo, text=True, dialect=dialect, url=url)
    assert headers["Fcrctl-Listing"] == "grouped"
    ours = groups(b"".join(chunks), container)
    with monkeypatch.context() as m:
        m.setattr(listings, "grouped_text", None)
        m.setattr(listings, "writes_text", lambda ctx, prefs: False)
        m.setattr(listings, "grouped_listing", lambda resp, ctx, info, prefs, mime, *, streamed:
                  listings.advertise_grouping(resp, ctx.repo, prefs, mime, streamed=streamed))
        theirs = groups(b"".join(body(repo, text=False, dialect=dialect, url=url)[0]), container)
    assert [line for line, _ in ours] == [line for line, _ in theirs]
    assert ours == theirs
    names = [line.split("> <")[-1] for line, _ in ours[1:]]
    assert len(names) == children and not any("gone" in n for n in names)


def test_children_it_cannot_write_go_through_rdflib(repo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from fcrctl.services.transfer import ntlines

    fell_back: list[str] = []
    real = listings._child_triples

    def counted(repo: Any, child: Any, rid: str) -> Any:
        fell_back.append(child.path)
        return real(repo, child, rid)

    monkeypatch.setattr(listings, "_child_triples", counted)
    body(repo, text=True)
    assert sorted(fell_back) == ["/c/blank", "/c/rootward"]
    assert ntlines.export_lines(b"", repo.info("/c/k00"), "http://h/rest") is not None


def test_the_first_chunk_holds_a_few_children(repo: Any) -> None:
    chunks, _ = body(repo, text=True)
    first = chunks[1].decode()  # chunks[0]: the container's own triples
    assert 2 <= first.count(CONTAINS) <= 5, first
    assert len(chunks) > 3


def test_bodies_not_asked_as_ls_asks_keep_the_rdflib_path(repo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_text(*_: Any, **__: Any) -> Any:
        raise AssertionError("written as text")

    monkeypatch.setattr(listings, "grouped_text", no_text)
    omit_server = LS_PREFER[:-1] + f' {rdf.FEDORA}ServerManaged"'
    minimal = f'return=representation; include="{rdf.FEDORA}EmbedResources"; omit="{rdf.LDP}PreferMinimalContainer"'
    for dialect, prefer in (("fedora6", omit_server), ("fedora6", minimal)):
        chunks, _ = body(repo, text=False, dialect=dialect, prefer=prefer)
        assert b"".join(chunks)


def test_a_listing_as_text_of_a_big_container_costs_flat_memory(tmp_path: Path) -> None:
    import tracemalloc

    local = open_repository(str(tmp_path / "repo"), create=True)
    local.create("/c", ResourceSpec())
    tx = local.begin_transaction()  # type: ignore[attr-defined]
    inside = local.in_transaction(tx.id)  # type: ignore[attr-defined]
    for i in range(3000):
        inside.create(f"/c/x{i}", ResourceSpec())
    local.commit_transaction(tx.id)  # type: ignore[attr-defined]
    client = Client(make_app(local, dialect="fedora6"))

    def peak(children_read: int) -> int:
        response = client.get("/rest/c", headers={"Accept": "application/n-triples", "Prefer": LS_PREFER},
                              buffered=False)
        tracemalloc.start()
        try:
            seen = 0
            for chunk in response.response:
                seen += chunk.count(CONTAINS.encode())
                if seen >= children_read:
                    break
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            response.close()

    peak(3000)  # warms what grows once (CPython's table of interned path parts), not per child
    # 1,000 children, not fewer: the server reads children 512 to a query, and serve sends the first
    # 16 KiB (keepalive.py) before the body is iterated here, so a smaller listing never reaches the peak
    small, whole = peak(1000), peak(3000)
    local.close()
    assert whole < small * 1.5 + 200_000, f"{whole} B for 3,000 children, {small} B for 1,000"
