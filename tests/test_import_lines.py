"""Import's text path stores byte for byte what its rdflib path stored: import_lines.py reads an
exported file written one triple per line into stored N-Triples (server-managed triples dropped,
URLs rewritten to ids, onto a destination path too) and the facts the importer reads from it; a
line it does not handle sends the file to rdflib."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from fcrctl import paths, rdf
from fcrctl.services.transfer import import_lines
from fcrctl.services.transfer.import_read import BINARY_FACTS, Facts, without
from tests.test_import_batches import _objects
from tests.test_transfer import exported, run, source_repo  # noqa: F401 (fixtures)

BASE = "http://localhost:8080/rest"
S = f"<{BASE}/a/b>"
XSD = "http://www.w3.org/2001/XMLSchema#"
F = rdf.FEDORA

HANDLED = [
    "",
    f'{S} <http://purl.org/dc/elements/1.1/title> "hello" .\n',
    f'{S} <http://p/x> "h\\"e\\\\l\\nl\\ro \t\u00e9\U0001F600 <{BASE}/a/b>" .\n',
    f'{S} <http://p/x> "01"^^<{XSD}integer> .\n{S} <http://p/x> "1"^^<{XSD}integer> .\n',
    f'{S} <http://p/x> "2020-01-01T00:00:00Z"^^<{XSD}dateTime> .\n{S} <http://p/x> "x"^^<{XSD}string> .\n',
    f'{S} <{F}created> "2026-12-05T23:22:05.371006+00:00"^^<{XSD}dateTime> .\n'
    f'{S} <{F}lastModified> "2026-12-05T23:22:05Z"^^<{XSD}dateTime> .\n'
    f'{S} <{F}lastModifiedBy> "bob \\"b\\"" .\n{S} <{F}createdBy> "x"@en .\n',
    f'{S} <{F}created> "2026-12-05T23:22:05.000000"^^<{XSD}dateTime> .\n'
    f'{S} <{F}lastModified> "not a date"^^<{XSD}dateTime> .\n',
    f'{S} <http://p/x> "true"^^<{XSD}boolean> .\n{S} <http://p/x> "1"^^<{XSD}boolean> .\n',
    f'{S} <http://p/x> "x"@en-gb .\n{S} <http://p/x> "x"@en .\n',
    f'{S} <http://p/x> <{BASE}/c/d> .\n<{BASE}/a/b#f> <http://p/x> <{BASE}> .\n'
    f'<{BASE}/> <http://p/y> <{BASE}/x%25y%3Fz> .\n<{BASE}/a/b/fcr:metadata> <http://p/z> <{BASE}X> .\n'
    f'<{BASE}/a/item%3A1> <http://p/y> <{BASE}/a/b/fcr:metadata#x> .\n<info:fedora/q> <http://p/y> <info:fedora> .\n',
    f'{S} <{rdf.LDP}contains> <{BASE}/c/d> .\n{S} <{F}created> "x" .\n{S} <{rdf.PREMIS}hasSize> "1" .\n',
    f'{S} <{rdf.RDF_NS}type> <{rdf.LDP}Container> .\n{S} <{rdf.RDF_NS}type> <http://example.org/T> .\n',
    f'{S} <{rdf.EBUCORE}hasMimeType> "text/plain" .\n{S} <{rdf.EBUCORE}filename> "a.txt" .\n'
    f'{S} <{rdf.PREMIS}hasMessageDigest> <urn:sha1:ab> .\n',
    f'{S} <http://p/x> "a" .\r\n{S} <http://p/x> "a" .\r\n\n',
    # dot segments in objects are kept as written (subjects: see test_a_dot_segment_subject...)
    f'{S} <http://p/x> <{BASE}/a/../../etc> .\n<{BASE}/a/b#..> <http://p/x> <{BASE}/a/%2E%2E> .\n',
]
NOT_HANDLED = [
    f'{S} <http://p/x> "a\\u00e9" .\n',
    f'{S} <http://p/x> _:b1 .\n',
    f'# a comment\n{S} <http://p/x> "a" .\n',
    f'{S}  <http://p/x> "a" .\n',
    f'{S} <http://p/x> "a"@EN .\n',
    f'{S} <http://p/x> "a\\tb" .\n',
    f'{S} <http://p/x> <relative> .\n',
    f'{S} <{rdf.RDF_NS}type> "T" .\n',
    f'{S} <http://p/x> <{BASE}/a%20b> .\n',  # an id with a space: not an IRI rdflib writes
    f'{S} <http://p/x> <{BASE}/%FF> .\n',  # not UTF-8 once decoded: the graph path says so
    f'{S} <http://www.w3.org/ns/auth/acl#accessControl> <{BASE}/acl> .\n',  # Fedora 4 WebAC (acl.py)
    f'{S} <{rdf.RDF_NS}type> <http://www.w3.org/ns/auth/acl#Authorization> .\n',
    "@prefix dc: <http://purl.org/dc/elements/1.1/> .\n",
    b"\xff\xfe".decode("latin-1"),
]
DESTS = ["/", "/x", "/x/y%z"]


def through_rdflib(data: bytes, dest: str, drop: frozenset[str]) -> tuple[bytes, Facts]:
    """What import stored before the text path, and still stores for what it does not handle."""
    raw = rdf.parse(data, "text/turtle", base=BASE + "/a/b")
    user = rdf.new_graph()
    for s, p, o in raw:
        if not rdf.is_server_managed(str(p), str(o)):
            user.add((s, p, o))
    out = rdf.to_internal(user, BASE)
    if dest != "/":
        out = rdf.to_external(out, paths.to_id(dest))
    return rdf.write_ntriples(without(out, drop)), Facts(raw)


@pytest.mark.parametrize("drop", [frozenset(), BINARY_FACTS], ids=["container", "description"])
@pytest.mark.parametrize("dest", DESTS)
@pytest.mark.parametrize("text", HANDLED)
def test_text_path_stores_what_rdflib_stores(text: str, dest: str, drop: frozenset[str]) -> None:
    lines = import_lines.read(text.encode("utf-8"), BASE, dest)
    assert lines is not None
    stored, facts = through_rdflib(text.encode("utf-8"), dest, drop)
    assert lines.data(drop) == stored
    # dates, users, types and digests read alike (in any order: a graph's is its store's)
    assert {k: sorted(v) for k, v in Facts(lines)._by.items()} == {k: sorted(v) for k, v in facts._by.items()}  # noqa: SLF001


@pytest.mark.parametrize("text", NOT_HANDLED)
def test_lines_outside_the_handled_form_go_to_rdflib(text: str) -> None:
    data = text.encode("latin-1") if text.startswith("\xff") else text.encode("utf-8")
    assert import_lines.read(data, BASE, "/") is None


@pytest.mark.parametrize("dest", ["/", "/into"])
def test_import_through_the_text_path_writes_the_objects_rdflib_wrote(
        exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dest: str) -> None:  # noqa: F811
    monkeypatch.setattr("fcrctl.repository.local.ocfl.now_iso", lambda: "2020-02-02T02:02:02.000000Z")
    real, used = import_lines.read, []

    def counting(data: bytes, old_base: str, dest: str) -> import_lines.Lines | None:
        found = real(data, old_base, dest)
        used.append(found is not None)
        return found

    monkeypatch.setattr(import_lines, "read", counting)
    assert run(tmp_path / "text", "import", str(exported), dest, "--jobs", "1").exit_code == 0  # counted here
    assert sum(used) >= 5  # containers and the binary's description
    monkeypatch.setattr(import_lines, "read", lambda data, old_base, dest: None)
    assert run(tmp_path / "graph", "import", str(exported), dest).exit_code == 0
    text, graph = _objects(tmp_path / "text"), _objects(tmp_path / "graph")
    assert len(text) >= 7
    assert text == graph


def test_a_file_naming_ids_by_encoded_urls_keeps_them(tmp_path: Path) -> None:
    """``item%3A1`` in a URL is ``item:1`` in the id, as the graph path decodes it."""
    data = f'<{BASE}/a/item%3A1> <http://p/x> <{BASE}/a/item%3A1/fcr:metadata> .\n'.encode()
    lines = import_lines.read(data, BASE, "/")
    assert lines is not None
    assert lines.data() == b"<info:fedora/a/item:1> <http://p/x> <info:fedora/a/item:1> .\n"
    assert urllib.parse.unquote(lines.facts[0][0]).endswith("item:1")


DOT_SUBJECTS = [f"{BASE}/a/b/../c", f"{BASE}/a/../../etc", f"{BASE}/a/%2E%2E/%2e%2e/etc", f"{BASE}/../x",
                f"{BASE}/a/./b", f"{BASE}/a/b/.", f"{BASE}/a/.%2E"]


@pytest.mark.parametrize("subject", DOT_SUBJECTS)
def test_a_dot_segment_subject_is_left_to_the_graph_path_which_refuses_it(subject: str) -> None:
    from fcrctl.errors import BadInput

    data = f'<{subject}> <http://p/x> "a" .\n'.encode()
    assert import_lines.read(data, BASE, "/") is None
    with pytest.raises(BadInput, match="dot segment"):
        import_lines.refuse_dot_segments(rdf.parse(data, "application/n-triples", base=BASE), Path("f.ttl"))


@pytest.mark.parametrize("iri", [f"{BASE}/a/b#..", f"{BASE}/a/..b", f"{BASE}/a/b..", f"{BASE}/a/b?x=/..",
                                 f"{BASE}/a/b/fcr:metadata"])
def test_names_with_dots_that_are_not_dot_segments_are_kept(iri: str) -> None:
    assert not import_lines.has_dot_segment(iri)


@pytest.mark.parametrize("form", ["ntriples", "turtle"])
@pytest.mark.parametrize("subject", [f"{BASE}/col/members/../../etc", f"{BASE}/col/%2E%2E/x"])
def test_an_export_with_a_dot_segment_subject_is_refused_with_nothing_written(
        exported: Path, tmp_path: Path, form: str, subject: str) -> None:  # noqa: F811
    """One triple a line (the text path's form) or Turtle with a prefix (rdflib's): the same refusal."""
    from fcrctl.errors import ExitCode
    from tests.test_transfer import ocfl_files

    target = tmp_path / "repo"
    run(target, "init", str(target))
    file = exported / "rest/col/members.ttl"
    line = f'<{subject}> <http://purl.org/dc/elements/1.1/title> "elsewhere" .\n'
    file.write_text(file.read_text() + line if form == "ntriples" else
                    "@prefix dc: <http://purl.org/dc/elements/1.1/> .\n" + file.read_text() + line)
    before = ocfl_files(target)
    for jobs in ("1", "2"):
        result = run(target, "import", str(exported), "--jobs", jobs)
        assert result.exit_code == ExitCode.BAD_INPUT, result.output
        assert "members.ttl" in result.output and "dot segment" in result.output
        assert ocfl_files(target) == before
