"""The HTTP client reads N-Triples listings as text (ntriples.TextLines) where the lines are in
the forms servers write, and gives what rdflib's parser gives for every line: the same strings
for the lines it reads, rdflib's own answer (or error) for the rest, and no rdflib import at all
for a listing from fcrctl serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fcrctl.repository.http import ntriples
from fcrctl.repository.http.ntriples import TextLines

B = "http://127.0.0.1:8080/rest"
XSD = "http://www.w3.org/2001/XMLSchema#"
FEDORA = "http://fedora.info/definitions/v4/repository#"

# what fcrctl serve and Fedora write in a listing (copied from real bodies), and odd forms
SERVED = [
    f"<{B}/c> <http://www.w3.org/ns/ldp#contains> <{B}/c/a> .",
    f"<{B}/c/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/ldp#BasicContainer> .",
    f'<{B}/c/a> <{FEDORA}created> "2026-12-06T01:59:02.266905+00:00"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}lastModified> "2026-12-06T01:59:02+00:00"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "2021-05-18T14:51:02.608Z"^^<{XSD}dateTime> .',  # Fedora 6's dates
    f'<{B}/c/a> <{FEDORA}created> "2021-05-18T14:51:02"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}createdBy> "fedoraAdmin" .',
    f'<{B}/c/bin> <http://www.loc.gov/premis/rdf/v1#hasSize> "5"^^<{XSD}long> .',
    f"<{B}/c/bin> <http://www.loc.gov/premis/rdf/v1#hasMessageDigest> <urn:sha-256:2cf24dba5fb0a30e26e8> .",
    f'<{B}/c/bin> <http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#filename> "h é \\"q\\" \\\\ \\n.txt" .',
    f"<{B}/c/éb> <http://www.w3.org/ns/ldp#contains> <{B}/c/éb/x%20y> .",
    f'<{B}/c/a> <http://purl.org/dc/elements/1.1/title> "A é"@en-gb .',
    f'<{B}/c/a> <http://purl.org/dc/elements/1.1/title> ""^^<{XSD}string> .',
    f'<{B}/c/a> <http://purl.org/dc/elements/1.1/title> "0"^^<{XSD}integer> .',
    f'<{B}/c/a> <http://purl.org/dc/elements/1.1/title> "-12"^^<{XSD}int> .',
]
ODD = [  # the text path hands these to rdflib (or rdflib refuses them)
    f'<{B}/c/a> <{FEDORA}created> "2021-05-18T14:51:02.123456789Z"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "2021-05-18T24:00:00Z"^^<{XSD}dateTime> .',  # ill-typed: kept as written
    f'<{B}/c/a> <{FEDORA}created> "2021-05-18"^^<{XSD}dateTime> .',
    f'<{B}/c/bin> <http://www.loc.gov/premis/rdf/v1#hasSize> "0123"^^<{XSD}long> .',
    f'<{B}/c/bin> <http://www.loc.gov/premis/rdf/v1#hasSize> "+5"^^<{XSD}long> .',
    f'<{B}/c/bin> <http://www.loc.gov/premis/rdf/v1#hasSize> "-0"^^<{XSD}long> .',
    f'<{B}/c/a> <http://x/p> "1.50"^^<{XSD}decimal> .',
    f'<{B}/c/a> <http://x/p> "TRUE"^^<{XSD}boolean> .',
    f'<{B}/c/a> <http://x/p> "caf\\u00E9\\t" .',  # escapes rdflib unescapes
    f'<{B}/c/a> <http://x/p> "x"@EN .',
    f"<{B}/c/a> <http://x/p> <{B}/c/\\u00E9> .",
    f"<{B}/c/a>\t<http://x/p>  <{B}/c/b> . ",  # other spacing
    f"<{B}/c/a> <http://x/p> _:b1 .",
    "_:b1 <http://x/p> <http://x/o> .",
    "# a comment",
]
EDGES = [  # dates that look like what isoformat() writes, and are not all it writes
    f'<{B}/c/a> <{FEDORA}created> "2026-12-06T01:59:02.000000+00:00"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "2026-12-06T01:59:02-00:00"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "2026-13-06T01:59:02+00:00"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "2026-02-30T01:59:02.123456-05:00"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "2026-12-06T01:59:02.100000"^^<{XSD}dateTime> .',
    f'<{B}/c/a> <{FEDORA}created> "0000-12-06T01:59:02"^^<{XSD}dateTime> .',
]
MALFORMED = [
    "<relative> <http://x/p> <http://x/o> .",
    "<http://x/s> <http://x/p> <relative> .",
    '<http://x/s> <http://x/p> "x"^^<nocolon> .',
    "<http://x/s\u00a0t> <http://x/p> <http://x/o> .",  # whitespace rdflib refuses inside an IRI
    "<http://x/s> <http://x/p> <http://x/o\u2028> .",
    "<http://x/s> <http://x/p> <http://x/o>",
    '<http://x/s> <http://x/p> "open .',
    "<http://x/s> <http://x/p> <http://x/o> . trailing",
]


def rdflib_row(line: str) -> tuple[str, str, str] | None:
    from rdflib import BNode
    from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

    got: list[Any] = []

    class Sink:
        def triple(self, s: Any, p: Any, o: Any) -> None:
            got.append((s, p, o))

    parser = W3CNTriplesParser(sink=Sink())
    parser.line = line
    parser.parseline()
    if not got:
        return None
    return tuple("_:" if isinstance(t, BNode) else str(t) for t in got[0])  # type: ignore[return-value]


def text_row(line: str, wanted: Any = None) -> tuple[str, str, str] | None:
    row = TextLines(wanted)(line)
    return None if row is None else tuple("_:" if t.startswith("_:") else t for t in row)  # type: ignore[return-value]


@pytest.mark.parametrize("line", SERVED + ODD + EDGES)
def test_each_line_reads_as_rdflib_reads_it(line: str) -> None:
    assert text_row(line) == rdflib_row(line)


@pytest.mark.parametrize("line", SERVED)
def test_the_lines_serve_writes_are_read_without_rdflib(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rdflib(*_: Any) -> Any:
        raise AssertionError(f"{line!r} went to rdflib")

    monkeypatch.setattr(TextLines, "_slow", no_rdflib)
    assert TextLines()(line) is not None


@pytest.mark.parametrize("line", ODD[:-1])
def test_odd_lines_go_to_rdflib(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slow: list[str] = []
    real = TextLines._slow

    def counted(self: TextLines, line: str) -> Any:
        slow.append(line)
        return real(self, line)

    monkeypatch.setattr(TextLines, "_slow", counted)
    TextLines()(line)
    assert slow == [line]


@pytest.mark.parametrize("line", MALFORMED)
def test_malformed_lines_are_refused_as_rdflib_refuses_them(line: str) -> None:
    with pytest.raises(Exception) as by_rdflib:  # noqa: PT011 - rdflib raises several types
        rdflib_row(line)
    with pytest.raises(type(by_rdflib.value)):
        TextLines()(line)
    assert not ntriples.readable((SERVED[0] + "\n" + line + "\n").encode())


def test_unwanted_lines_are_checked_then_dropped() -> None:
    wanted = {"http://www.w3.org/ns/ldp#contains"}
    assert text_row(SERVED[0], wanted) == rdflib_row(SERVED[0])
    assert text_row(SERVED[1], wanted) is None
    with pytest.raises(Exception):  # noqa: PT011, B017 - malformed though its predicate is not wanted
        text_row(MALFORMED[0], wanted)


def test_a_whole_document_is_readable() -> None:
    assert ntriples.readable("\r\n".join(SERVED + ODD).encode())
    assert not ntriples.readable(b"\xff\xfe")


def test_ls_over_serve_imports_no_rdflib(tmp_path: Path) -> None:
    """The whole `fcrctl ls` against fcrctl serve: open (the root's probe), HEAD, the grouped
    listing; rdflib's import alone costs more CPU than the rest of a first line."""
    import io

    from fcrctl.repository import open_repository
    from fcrctl.repository.base import ResourceSpec
    from tests.server_fixture import start_server

    where = tmp_path / "repo"
    repo = open_repository(str(where), create=True)
    repo.create("/c", ResourceSpec())
    for name in ("a", "é", "z"):
        repo.create(f"/c/{name}", ResourceSpec())
    repo.create("/c/bin", ResourceSpec(content=io.BytesIO(b"x"), mime_type="text/plain", filename="é q.txt"))
    repo.close()
    script = ("import runpy, sys\n"
              "sys.argv = ['fcrctl', '--repo', sys.argv[1], 'ls', '/c']\n"
              "try:\n    runpy.run_module('fcrctl', run_name='__main__')\n"
              "finally:\n    print('rdflib' in sys.modules, file=sys.stderr)\n")
    with start_server(where, subprocess=True) as server:
        done = subprocess.run([sys.executable, "-c", script, server.url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "/c/a\n/c/bin\n/c/z\n/c/é\n"
    assert done.stderr.strip().endswith("False"), done.stderr


@pytest.mark.parametrize("body", [b"<http://h/rest/> <http://x/p> <relative> .\n", b"<http://h/rest/> <http://x/p> .\n",
                                  b"\xff\xfe<x>\n"])
def test_a_root_in_malformed_n_triples_is_not_a_repository(body: bytes) -> None:
    """The probe at open reads an N-Triples root as text now: malformed is still refused."""
    import responses

    from fcrctl.errors import NotARepository
    from fcrctl.repository.http import HttpRepository

    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "http://h/rest/", body=body, content_type="application/n-triples")
        with pytest.raises(NotARepository, match="malformed RDF for its root"):
            HttpRepository.open("http://h/rest", retries=0)
