"""A resource's exported N-Triples built as text from a server's N-Triples, without an rdflib graph

Over HTTP, export read each resource's RDF into a graph (rdflib's parser), rewrote its URLs to
ids and back to the export's base URL, and serialised it: ~2 ms a resource, more than the
request. A server's N-Triples lines in the common form (ntlines.LINE) are rewritten here as
text: the same bytes ``rdf.write_ntriples`` writes of that graph (tests compare them). A line
outside that form, an IRI the rewrite would percent-decode, or one rdflib's parser refuses,
makes ``export_lines`` return None: the caller then takes the graph path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fcrctl import paths, rdf
from fcrctl.services.transfer.ntlines import LINE, literal_line

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # rdflib's N-Triples parser takes no relative IRI
# what Python's \s matches beyond ASCII (rdflib refuses it in an IRI; LINE refuses only ASCII space)
_WIDE_SPACE = re.compile(r"[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_METADATA = re.compile(r"/fcr:metadata(?=$|#)")
_XSD_STRING = rdf.XSD + "string"


def export_lines(served: Iterable[str], server_base: str, base_url: str) -> list[str] | None:
    """The sorted, distinct lines ``rdf.write_ntriples`` writes of ``served`` (N-Triples lines under
    ``server_base``) once read as the HTTP backend reads them (``xsd:string`` literals plain, URLs
    to ids: ``rdf.to_internal``) and written under ``base_url`` (``rdf.to_external``); None when
    a line is not in the form handled here."""
    rewrite = _Rewriter(server_base, base_url)
    out: set[str] = set()
    for line in served:
        match = LINE.fullmatch(line)
        if match is None:
            return None
        s, p, o_iri, lexical, lang, datatype = match.groups()
        if not line.isascii() and _WIDE_SPACE.search(line, 0, match.end(2 if o_iri is None else 3)):
            return None  # rdflib refuses these spaces in an IRI: let it say so
        if not (_ABSOLUTE.match(s) and _ABSOLUTE.match(p)):
            return None
        s = rewrite(s)
        if s is None:
            return None
        if o_iri is not None:
            if not _ABSOLUTE.match(o_iri):
                return None
            o = rewrite(o_iri)
            if o is None:
                return None
            obj = f"<{o}>"
        elif lang is None and (datatype is None or datatype == _XSD_STRING):
            obj = f'"{lexical}"'  # rdflib writes back the escapes LINE takes
        elif datatype is not None and not _ABSOLUTE.match(datatype):
            return None
        else:
            obj = literal_line(lexical, lang, datatype)
        out.add(f"<{s}> <{p}> {obj} .")
    return sorted(out)


class _Rewriter:
    """``rdf.to_internal`` then ``rdf.to_external`` of one IRI; None where that would percent-decode
    (or meets an ``info:fedora`` IRI, which to_external alone rewrites)."""

    def __init__(self, server_base: str, base_url: str) -> None:
        self.old = server_base.rstrip("/")
        self.new = base_url.rstrip("/")
        self._under = (self.old + "/", self.old + "#")

    def __call__(self, value: str) -> str | None:
        if value.startswith(paths.ROOT_ID):
            return None
        if value != self.old and not value.startswith(self._under):
            return value
        rest = value[len(self.old):]
        if rest == "/":
            rest = ""
        if "%" in rest:
            return None
        rest = _METADATA.sub("", rest)
        if rest == "/":
            rest = ""
        if self.new == paths.ROOT_ID:
            return None
        return self.new + rdf.encode_path(rest)
