"""Export's text paths write byte for byte what rdflib and json wrote: ntlines.py what its rdflib
path writes (stored N-Triples parsed, server-managed triples dropped, the server's added, ids
rewritten to URLs, serialised and sorted; a line it does not handle sends the resource to rdflib),
and layout.headers_json what json.dumps(indent=1, sort_keys=True) writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fcrctl import rdf
from fcrctl.repository.base import LDP, NON_RDF_SOURCE, ResourceInfo
from fcrctl.services.transfer import ntlines

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
S = "<info:fedora/a/b>"
XSD = "http://www.w3.org/2001/XMLSchema#"

INFOS = [
    ResourceInfo(path="/a/b", model=LDP + "BasicContainer", etag="e", created=NOW, modified=NOW, created_by="bob"),
    ResourceInfo(path="/", model=LDP + "BasicContainer", etag="e", created=NOW, modified=NOW.replace(microsecond=0)),
    ResourceInfo(path="/a/d", model=LDP + "DirectContainer", etag="e", modified_by='x "y"\n',
                 created=NOW.astimezone(timezone(timedelta(hours=-5, minutes=-30))), modified=NOW.replace(tzinfo=None)),
    ResourceInfo(path="/a/bin%25?q", model=NON_RDF_SOURCE, etag="e", created=NOW, modified=NOW,
                 mime_type="text/plain", filename='a "b"\\.txt', size=12, digests={"sha512": "ab", "md5": "cd"}),
    ResourceInfo(path="/a/ext", model=NON_RDF_SOURCE, etag="e", created=NOW, modified=NOW, size=-1),
]

HANDLED = [
    "",
    f'{S} <http://purl.org/dc/elements/1.1/title> "hello" .\n',
    f'{S} <http://p/x> "h\\"e\\\\l\\nl\\ro \t\u00e9\U0001F600 <info:fedora/a/b>" .\n',
    f'{S} <http://p/x> "01"^^<{XSD}integer> .\n{S} <http://p/x> "1"^^<{XSD}integer> .\n',
    f'{S} <http://p/x> "2020-01-01T00:00:00Z"^^<{XSD}dateTime> .\n{S} <http://p/x> "x"^^<{XSD}string> .\n',
    f'{S} <http://p/x> "true"^^<{XSD}boolean> .\n{S} <http://p/x> "1"^^<{XSD}boolean> .\n',
    f'{S} <http://p/x> "x"@en-gb .\n{S} <http://p/x> "x"@en .\n',
    f'{S} <http://p/x> <info:fedora/c/d> .\n<info:fedora/a/b#f> <http://p/x> <info:fedora> .\n'
    '<info:fedora/> <http://p/y> <info:fedora/x%y?z> .\n<info:fedora/a/b/fcr:metadata> <http://p/z> <info:fedoraX> .\n',
    f'{S} <{LDP}contains> <info:fedora/c/d> .\n{S} <{rdf.FEDORA}created> "x" .\n{S} <{rdf.PREMIS}hasSize> "1" .\n',
    f'{S} <{rdf.RDF_NS}type> <{LDP}Container> .\n{S} <{rdf.RDF_NS}type> <http://example.org/T> .\n',
    f'{S} <{rdf.RDF_NS}type> "{LDP}Container" .\n{S} <{rdf.RDF_NS}type> "\\\\x" .\n',
    f'{S} <http://p/x> "a" .\r\n{S} <http://p/x> "a" .\r\n\n',
]
NOT_HANDLED = [
    f'{S} <http://p/x> "a\\u00e9" .\n',
    f'{S} <http://p/x> _:b1 .\n',
    f'# a comment\n{S} <http://p/x> "a" .\n',
    f'{S}  <http://p/x> "a" .\n',
    f'{S} <http://p/x> "a"@EN .\n',
    f'{S} <http://p/x> "a\\tb" .\n',
    b"\xff\xfe".decode("latin-1"),
]
BASES = ["http://localhost:8080/rest", "https://h.example/fcrepo/rest/", "info:fedora"]


def through_rdflib(stored: bytes, info: ResourceInfo, base: str) -> bytes:
    """What export wrote before the text path, and still writes for what it does not handle."""
    graph = rdf.check_user_triples(rdf.read_ntriples(stored), subject_id="", lenient=True)
    subject = rdf.ROOT_ID + ("" if info.path == "/" else info.path)
    for triple in rdf.server_triples(info, subject):
        graph.add(triple)
    return rdf.write_ntriples(rdf.to_external(graph, base))


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("info", INFOS, ids=lambda i: i.path)
@pytest.mark.parametrize("stored", HANDLED)
def test_text_path_writes_what_rdflib_writes(stored: str, info: ResourceInfo, base: str) -> None:
    lines = ntlines.export_lines(stored.encode("utf-8"), info, base)
    assert lines is not None
    assert "".join(line + "\n" for line in lines).encode("utf-8") == through_rdflib(stored.encode("utf-8"), info, base)


@pytest.mark.parametrize("stored", NOT_HANDLED)
def test_lines_outside_the_handled_form_go_to_rdflib(stored: str) -> None:
    data = stored.encode("latin-1") if stored.startswith("\xff") else stored.encode("utf-8")
    assert ntlines.export_lines(data, INFOS[0], BASES[0]) is None


@pytest.mark.parametrize("info", INFOS, ids=lambda i: i.path)
def test_server_lines_are_rdf_server_triples(info: ResourceInfo) -> None:
    # the one place the text path restates rdf.server_triples: a change to either shows here
    subject = rdf.ROOT_ID + ("" if info.path == "/" else info.path)
    graph = rdf.new_graph()
    for triple in rdf.server_triples(info, subject):
        graph.add(triple)
    expected = rdf.write_ntriples(rdf.to_external(graph, BASES[0]))
    lines = sorted(ntlines.server_lines(info, ntlines._Rewriter(BASES[0])))
    assert "".join(line + "\n" for line in lines).encode("utf-8") == expected


@pytest.mark.parametrize("headers", [
    {}, {"Link": []}, {"ETag": ['W/"AB"'], "Content-Type": ["text/turtle"], "Link": ["<a>;rel=\"type\"", "<b>"]},
    {"Content-Disposition": ["attachment; filename=\"é \\\\ \u2028\U0001F600\""], "a": ["\x00\t\n"], "B": ["x"]},
])
def test_headers_json_is_what_json_dumps_writes(headers: dict[str, list[str]]) -> None:
    import json

    from fcrctl.services.transfer import layout

    assert layout.headers_json(headers) == json.dumps(headers, indent=1, sort_keys=True).encode("utf-8")


def tree_bytes(tree: Path) -> dict[str, bytes]:
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["turtle", "ntriples"])
def test_local_export_takes_the_text_path_and_writes_the_same_tree(tmp_path: Path, monkeypatch, fmt: str) -> None:
    from fcrctl.repository import open_repository
    from fcrctl.services.transfer.export import ExportOptions, export
    from tests.test_transfer import seed

    seed(tmp_path / "repo")
    used: list[str] = []
    real = ntlines.export_lines

    def counting(stored: bytes, info: ResourceInfo, base: str) -> list[str] | None:
        used.append(info.path)
        return real(stored, info, base)

    monkeypatch.setattr(ntlines, "export_lines", counting)
    repo = open_repository(str(tmp_path / "repo"))
    try:
        text = export(repo, "/", tmp_path / "text", ExportOptions(format=fmt))
        assert "/col/item:1" in used and "/col/item:1/page~1.txt" in used  # containers and descriptions
        repo.stored_ntriples = None  # type: ignore[attr-defined]  # the backend offers no text: rdflib's path
        graph = export(repo, "/", tmp_path / "graph", ExportOptions(format=fmt))
    finally:
        repo.close()
    assert text.failed_count == graph.failed_count == 0 and text.counts == graph.counts
    assert tree_bytes(tmp_path / "text") == tree_bytes(tmp_path / "graph")
