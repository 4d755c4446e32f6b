"""A resource's exported N-Triples built as text from its stored N-Triples, without an rdflib graph

Export wrote every resource by parsing its stored triples into a graph, adding the server's
triples, rewriting ids to URLs and serialising: four passes through rdflib that cost ~2 ms a
resource, most of an export's time. Stored triples are N-Triples already, so for the lines in
the common form (IRIs, and literals whose escapes survive a round trip unchanged) the exported
line is the stored line with its ``info:fedora`` IRIs rewritten. A line outside that form (a
blank node, a comment, a ``\\u`` escape, odd spacing) makes ``export_lines`` return None and
the caller takes the graph path: the bytes written are the same either way (tests compare them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fcrctl import paths, rdf

if TYPE_CHECKING:
    from fcrctl.repository.base import ResourceInfo

_IRI = r"<([^\x00-\x20<>\"{}|^`\\]*)>"
_PLAIN = r"\"((?:[^\"\\\r\n]|\\[\\\"nr])*)\""  # escapes rdflib writes back the same way
LINE = re.compile(
    rf"{_IRI} {_IRI} (?:{_IRI}|{_PLAIN}(?:@([a-z]+(?:-[a-z0-9]+)*)|\^\^<([!#-;=?-\[\]_a-z~]*)>)?) \."
)
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\r": "\r"}
_RDF_TYPE = rdf.RDF_NS + "type"


Groups = tuple[str, str, str | None, str | None, str | None, str | None]  # s, p, IRI object, literal, lang, type


def matched(data: bytes) -> list[Groups] | None:
    """Each non-empty line of ``data`` as LINE's groups, or None when one is not in that form (or the
    bytes are not UTF-8): the callers then read the whole file with rdflib."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    found: list[Groups] = []
    for line in text.splitlines():
        if line:
            match = LINE.fullmatch(line)
            if match is None:
                return None
            found.append(match.groups())  # type: ignore[arg-type]
    return found


def export_lines(stored: bytes, info: ResourceInfo, base_url: str) -> list[str] | None:
    """The sorted, distinct N-Triples lines ``rdf.write_ntriples`` writes for ``info``'s triples
    (stored user triples less the server-managed ones, plus the server's) once rewritten from
    ``info:fedora`` to ``base_url``; None when a stored line is not in the form handled here."""
    lines = matched(stored)
    if lines is None:
        return None
    rewrite = _Rewriter(base_url)
    out: set[str] = set()
    for s, p, o_iri, lexical, lang, datatype in lines:
        if o_iri is None and lexical is None:
            return None  # unreachable by the pattern; kept so a change to it cannot mislead
        if o_iri is not None:
            if rdf.is_server_managed(p, o_iri):
                continue
            obj = "<" + rewrite(o_iri) + ">"
        else:
            if rdf.is_server_managed(p, unescape(lexical) if p == _RDF_TYPE else None):
                continue
            obj = '"' + lexical + '"' if datatype is None and lang is None else literal_line(lexical, lang, datatype)
        out.add(f"<{rewrite(s)}> <{p}> {obj} .")
    out.update(server_lines(info, rewrite))
    return sorted(out)


def server_lines(info: ResourceInfo, rewrite: _Rewriter) -> list[str]:
    """``rdf.server_triples`` as the N-Triples lines rdflib writes for them once rewritten, without
    building the ~10 rdflib terms (two of them parsed dates) that cost more than the rest of a
    resource's export; a test holds the two equal for every kind of resource."""
    subject_id = paths.ROOT_ID + ("" if info.path == "/" else info.path)
    s = f"<{rewrite(subject_id)}> "
    a = f"{s}<{_RDF_TYPE}> "
    out = [f"{a}<{rdf.FEDORA}Resource> ."]
    if info.is_binary:
        out += [f"{a}<{rdf.LDP}NonRDFSource> .", f"{a}<{rdf.FEDORA}Binary> .",
                f"{s}<{rdf.IANA}describedby> <{rewrite(subject_id + '/fcr:metadata')}> ."]
        if info.size is not None:
            out.append(f'{s}<{rdf.PREMIS}hasSize> "{int(info.size)}"^^<{rdf.XSD}long> .')
        for algorithm, hexdigest in sorted(info.digests.items()):
            out.append(f"{s}<{rdf.PREMIS}hasMessageDigest> <{rdf.digest_urn(algorithm, hexdigest)}> .")
        if info.mime_type:
            out.append(f"{s}<{rdf.EBUCORE}hasMimeType> {_quote(info.mime_type)} .")
        if info.filename:
            out.append(f"{s}<{rdf.EBUCORE}filename> {_quote(info.filename)} .")
    else:
        out += [f"{a}<{rdf.LDP}RDFSource> .", f"{a}<{rdf.LDP}Container> .", f"{a}<{info.model}> .",
                f"{a}<{rdf.FEDORA}Container> ."]
        if subject_id == paths.ROOT_ID:
            out.append(f"{a}<{rdf.FEDORA}RepositoryRoot> .")
    # rdflib parses the dateTime it is given and writes the datetime's isoformat()
    out += [f'{s}<{rdf.FEDORA}created> "{info.created.isoformat()}"^^<{rdf.XSD}dateTime> .',
            f'{s}<{rdf.FEDORA}lastModified> "{info.modified.isoformat()}"^^<{rdf.XSD}dateTime> .']
    if info.created_by:
        out.append(f"{s}<{rdf.FEDORA}createdBy> {_quote(info.created_by)} .")
    if info.modified_by:
        out.append(f"{s}<{rdf.FEDORA}lastModifiedBy> {_quote(info.modified_by)} .")
    return out


class _Rewriter:
    """``rdf.to_external``'s rewrite of one IRI (``info:fedora/a`` -> ``{base}/a``)."""

    def __init__(self, base_url: str) -> None:
        self.new = base_url.rstrip("/")
        self.identity = self.new == paths.ROOT_ID

    def __call__(self, value: str) -> str:
        old = paths.ROOT_ID
        if self.identity or not (value == old or value.startswith((old + "/", old + "#"))):
            return value
        rest = value[len(old):]
        return self.new + rdf.encode_path("" if rest == "/" else rest)


def unescape(lexical: str) -> str:
    return re.sub(r"\\[\\\"nr]", lambda m: _UNESCAPE[m.group()], lexical) if "\\" in lexical else lexical


def literal_line(lexical: str, lang: str | None, datatype: str | None) -> str:
    # rdflib normalises typed literals ("01"^^xsd:integer is written "1"): let it
    from rdflib import Literal, URIRef

    return _quote_literal(Literal(unescape(lexical), lang, URIRef(datatype) if datatype else None))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"').replace("\r", "\\r") + '"'


def _quote_literal(lit: object) -> str:
    """As rdflib's N-Triples serialiser writes a literal."""
    encoded = _quote(str(lit))
    lang, datatype = getattr(lit, "language", None), getattr(lit, "datatype", None)
    if lang:
        return f"{encoded}@{lang}"
    if datatype:
        return f"{encoded}^^<{datatype}>"
    return encoded
