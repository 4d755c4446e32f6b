"""The HTTP backend's N-Triples index: the same values rdflib reads, and malformed input refused."""

from __future__ import annotations

import pytest
from rdflib import Graph

from fcrctl.repository.http import ntriples

DOCUMENT = """# a comment line
<http://x/a> <http://p/q> "esc \\"q\\" \\\\ \\t \\u00e9 \\U0001F600 end" .
<http://x/a>\t<http://p/q>\t"lang"@en-GB . # a trailing comment
<http://x/a> <http://p/n> "1048576"^^<http://www.w3.org/2001/XMLSchema#long> .
<http://x/\\u00e9> <http://p/s> <http://o/\\U0001F600> .
<http://x/\u00fc> <http://p/u> "raw \u00fc and \u2028 stay" .

<http://x/b> <http://p/r> _:node1 .
\r
"""


def test_index_reads_what_rdflib_reads() -> None:
    expected: dict[str, dict[str, list[str]]] = {}
    for s, p, o in Graph().parse(data=DOCUMENT, format="nt"):
        expected.setdefault(str(s), {}).setdefault(str(p), []).append(str(o))
    found = ntriples.index(DOCUMENT.encode())
    assert found["http://x/b"]["http://p/r"][0].startswith("_:")  # rdflib renames blank nodes
    found["http://x/b"]["http://p/r"] = expected["http://x/b"]["http://p/r"]
    assert {s: {p: sorted(o) for p, o in v.items()} for s, v in found.items()} == {
        s: {p: sorted(o) for p, o in v.items()} for s, v in expected.items()
    }


@pytest.mark.parametrize(
    "line",
    [
        '<http://x/a> <http://p/q> "unterminated .',
        "<http://x/a> <http://p/q> <http://o/a>",  # no final dot
        "<a b> <http://p> <http://o> .",  # a space inside an IRI
        '<http://x> "literal" <http://o> .',  # a literal predicate
        '<http://x> <http://p> "bad \\z escape" .',
        "<http://x> <http://p> <http://o> . extra",
    ],
)
def test_index_refuses_what_is_not_n_triples(line: str) -> None:
    with pytest.raises(ntriples.MalformedNTriples, match="line 2"):
        ntriples.index(("<http://x> <http://p> <http://o> .\n" + line + "\n").encode())

