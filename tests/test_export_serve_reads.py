"""Export over `fcrctl serve`: one GET per container (its triples and its children), its lines rewritten
as text, and the same bytes as the path that reads a container's RDF and listing apart through rdflib."""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD
from typer.testing import CliRunner

from fcrctl import rdf
from fcrctl.cli.main import app
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.http import HttpRepository
from fcrctl.repository.http.facts import plain_strings
from fcrctl.services.transfer import served_lines
from tests.server_fixture import start_server

DC = "http://purl.org/dc/elements/1.1/"
ACL = "http://www.w3.org/ns/auth/acl#"
BNODE = re.compile(rb"_:[A-Za-z0-9]+")

FORMS = [  # objects of a triple each, as users store them
    Literal("plain"), Literal("bonjour", lang="fr"), Literal("42", datatype=XSD.integer),
    Literal("007", datatype=XSD.integer), Literal("2020-01-02T03:04:05Z", datatype=XSD.dateTime),
    Literal("2020-01-02T03:04:05.120+02:00", datatype=XSD.dateTime), Literal("1.5", datatype=XSD.double),
    Literal("caf\u00e9 \u2603 \"q\" \\ \n nl\r"), Literal("typed", datatype=XSD.string),
    Literal("true", datatype=XSD.boolean), Literal("2020-01-02", datatype=XSD.date),
    URIRef("info:fedora/c/k0"), URIRef("info:fedora/c#frag"), URIRef("info:fedora"),
    URIRef("info:fedora/c/bin/fcr:metadata"), URIRef("http://example.org/x%20y"), BNode(),
]


def seed(where: Path) -> None:
    """Containers with every form above, a tree of leaves, a binary with versions, ACLs."""
    repo = open_repository(str(where), create=True)
    try:
        def graph(path: str, *objects: object) -> Graph:
            out = Graph()
            out.add((URIRef("info:fedora" + path), URIRef(DC + "title"), Literal("t " + path)))
            for n, obj in enumerate(objects):
                out.add((URIRef("info:fedora" + path), URIRef(f"{DC}p{n}"), obj))  # type: ignore[arg-type]
            return out

        repo.create("/c", ResourceSpec(graph=graph("/c")))
        for n, form in enumerate(FORMS):
            repo.create(f"/c/k{n}", ResourceSpec(graph=graph(f"/c/k{n}", form)))
        for name in ("a:b", "caf\u00e9", "pct%41"):
            repo.create(f"/c/{name}", ResourceSpec(graph=graph(f"/c/{name}")))
        for n in range(3):
            repo.create(f"/t/m{n}", ResourceSpec(graph=graph(f"/t/m{n}")), parents=True)
            for k in range(2):
                repo.create(f"/t/m{n}/leaf{k}", ResourceSpec(graph=graph(f"/t/m{n}/leaf{k}")))
        repo.create("/c/bin", ResourceSpec(content=io.BytesIO(b"one"), binary=True, mime_type="text/plain",
                                           filename="one.txt"))
        repo.create_version("/c/bin")
        repo.replace("/c/bin", ResourceSpec(content=io.BytesIO(b"two"), binary=True, mime_type="text/plain"))
        repo.create_version("/c/k1")
        repo.replace("/c/k1", ResourceSpec(graph=graph("/c/k1", Literal("changed"))))
        for path in ("/c", "/c/k2"):
            acl = Graph()
            auth = URIRef(f"info:fedora{path}/fcr:acl#auth0")
            acl.add((auth, URIRef(rdf.RDF_NS + "type"), URIRef(ACL + "Authorization")))
            acl.add((auth, URIRef(ACL + "agent"), Literal("alice")))
            acl.add((auth, URIRef(ACL + "mode"), URIRef(ACL + "Read")))
            acl.add((auth, URIRef(ACL + "accessTo"), URIRef("info:fedora" + path)))
            repo.put_acl(path, acl)
    finally:
        repo.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("export-serve") / "repo"
    seed(where)
    return where


def tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes, blank node labels (new at each parse) made one."""
    return {p.relative_to(root).as_posix(): BNODE.sub(b"_:b", p.read_bytes()) for p in sorted(root.rglob("*"))
            if p.is_file()}


def export(url: str, dest: Path, *args: str) -> None:
    result = CliRunner().invoke(app, ["--repo", url, "export", "/", str(dest), *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5", "fedora6"])
def test_export_over_serve_writes_what_the_two_request_path_writes(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dialect: str) -> None:
    one, apart = tmp_path / "one", tmp_path / "apart"
    with start_server(source, dialect=dialect) as served:
        export(served.url, one)
        with monkeypatch.context() as patched:
            # the path of every server that does not promise its own triples first: RDF and listing apart
            patched.setattr(HttpRepository, "open_container", lambda self, path: None)
            export(served.url, apart)
    got, expected = tree(one), tree(apart)
    assert got.keys() == expected.keys()
    assert [name for name in got if got[name] != expected[name]] == []
    assert "rest/c/bin/fcr%3Aversions.ttl" in got and "rest/c/k2/fcr%3Aacl.ttl" in got


def test_export_over_serve_sends_one_get_per_leaf_container(source: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with start_server(source, subprocess=True, process_args=("--access-log", str(log))) as served:
        export(served.url, tmp_path / "out", "--no-versions")
    requests = [line.split('"')[1].rsplit(" ", 1)[0] for line in log.read_text().splitlines()]
    for n in range(3):
        for k in range(2):
            leaf = f"/rest/t/m{n}/leaf{k}"
            # its triples and (empty) listing in one GET, which says it has no ACL (Fcrctl-Own-Acl: none): no HEAD,
            # no ACL GET (4 requests were 2 HEAD + 2 GET, then 2 GET)
            assert [r for r in requests if r.split(" ")[1].startswith(leaf)] == [f"GET {leaf}"]
    containers = sum(1 for r in requests if r.startswith("GET ") and not r.endswith(("/fcr:acl", "fcr:metadata")))
    assert len(requests) <= 2 * containers + 12  # the root's info, the binary's reads


SERVED = [  # lines as servers write them (serve's dialects, Fedora 4.7 and 6)
    '<{b}/c> <http://purl.org/dc/elements/1.1/title> "plain" .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/title> "typed"^^<http://www.w3.org/2001/XMLSchema#string> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/l> "bonjour"@fr .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/n> "007"^^<http://www.w3.org/2001/XMLSchema#integer> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/n> "7"^^<http://www.w3.org/2001/XMLSchema#integer> .',
    '<{b}/c> <http://fedora.info/definitions/v4/repository#created> '
    '"2021-05-18T14:51:02.608Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
    '<{b}/c> <http://fedora.info/definitions/v4/repository#lastModified> '
    '"2026-12-06T04:50:31.783831+00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/d> "1.50"^^<http://www.w3.org/2001/XMLSchema#double> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/e> "caf\u00e9 \\"q\\" \\\\ \\n" .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/c#frag> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/c/bin/fcr:metadata> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/c/bin/fcr:metadata#x> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/c/a%20b> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/c/a?b> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <{b}/c/a:b> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <info:fedora/c> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <http://example.org/x%20y> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> <relative> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> _:b0 .',
    '_:b0 <http://purl.org/dc/elements/1.1/r> "x" .',
    '<{b}/c>  <http://purl.org/dc/elements/1.1/r> "two spaces" .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> "x"^^<http://www.w3.org/2001/XMLSchema#boolean> .',
    '<{b}/c> <http://purl.org/dc/elements/1.1/r> "\u3000wide" .',
    '<{b}/c\u3000> <http://purl.org/dc/elements/1.1/r> "wide space in an IRI" .',
    '<{b}/caf\u00e9> <http://purl.org/dc/elements/1.1/r> "x" .',
]
COMMON = 10  # the first lines: the forms serve writes, which must take the text path


def through_rdflib(lines: list[str], server_base: str, base_url: str) -> bytes | None:
    """What export wrote of these lines before: rdflib's graph, read as the HTTP backend reads it."""
    try:
        graph = rdf.parse("".join(line + "\n" for line in lines).encode(), "application/n-triples",
                          base=server_base + "/c", storable=False)
        return rdf.write_ntriples(rdf.to_external(rdf.to_internal(plain_strings(graph), server_base), base_url))
    except Exception:  # noqa: BLE001 - the graph path refuses it: the text path must not take it
        return None


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8080/rest", "https://other.example/fcrepo/rest/"])
@pytest.mark.parametrize("line", range(len(SERVED)))
def test_served_lines_are_written_as_rdflib_writes_them(line: int, base_url: str) -> None:
    server = "http://127.0.0.1:8080/rest"
    lines = [SERVED[0].format(b=server), SERVED[line].format(b=server)]
    text = served_lines.export_lines(lines, server, base_url)
    if line < COMMON:
        assert text is not None, lines[1]
    if text is not None:
        assert "".join(t + "\n" for t in text).encode() == through_rdflib(lines, server, base_url), lines[1]


def test_quick_get_reuses_its_connection_and_leaves_errors_to_the_ordinary_path(source: Path) -> None:
    from fcrctl.repository.http.session import QuickHead, make_session

    session = make_session()
    quick = QuickHead(session, (5.0, 5.0))
    try:
        with start_server(source) as served:
            for _ in range(3):
                response = quick.get(served.url + "/c", {"Accept": "application/n-triples"})
                assert response is not None and response.status_code == 200
                body = b"".join(iter(functools.partial(response.raw.read1, 1 << 16), b""))
                response.close()
                assert b"/c> <http://purl.org/dc/elements/1.1/title>" in body
                assert response.headers["content-type"].startswith("application/n-triples")
            assert quick.opened == 1  # each body read to its end: its connection was kept
            assert quick.get(served.url + "/missing", {}) is None  # 404: the caller's requests path raises it
            # TLS with a server that speaks none: no connection, None (the ordinary path explains)
            assert quick.get(served.url.replace("http:", "https:") + "/c", {}) is None
            half = quick.get(served.url + "/c", {"Accept": "application/n-triples"})
            assert half is not None
            half.close()  # not read to its end: the connection is dropped, never handed out mid-body
            assert quick.get(served.url + "/c", {}) is not None and quick.opened == 3
    finally:
        quick.close()
        session.close()
