"""An exported resource's N-Triples read as text into its stored N-Triples, without an rdflib graph

Import read every resource by parsing its file into a graph, dropping the server's triples,
rewriting URLs to ids (a second graph) and, in the local backend, serialising it again: three
rdflib passes that were most of an import's CPU. Files written one triple per line (N-Triples,
and Turtle as fcrctl and Fedora write it) are mostly in the form ntlines.py handles for export;
for those, the stored line is the exported line with its URLs rewritten to ids, and the facts the
importer wants (dates, users, types, digests) are read from the same lines. A line outside that
form (a prefix, a blank node, a relative IRI, an escape rdflib would write differently, an id
that would not stay a valid IRI) makes ``read`` return None and the caller parses the whole
file with rdflib as before: the bytes stored are the same either way (tests compare them).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput
from fcrctl.rdf.ids import decode_path, encode_path
from fcrctl.services.transfer.ntlines import literal_line, matched, unescape

if TYPE_CHECKING:
    from rdflib import Graph

_RDF_TYPE = rdf.RDF_NS + "type"
_XSD_STRING = rdf.XSD + "string"
_XSD_DATETIME = rdf.XSD + "dateTime"
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_IRI_CHARS = re.compile(r"[^\x00-\x20<>\"{}|^`\\]*")
_MISSING: Any = object()
_DOT_SEGMENT = re.compile(r"/(?:\.|%2[eE]){1,2}(?=/|$)")
_METADATA = re.compile(r"/fcr:metadata(?=$|#)")
# triples the importer's graph hooks look at (Fedora 4 WebAC, acl.py): such files take the graph path
_GRAPH_ONLY_PREDICATES = frozenset({"http://www.w3.org/ns/auth/acl#accessControl"})
_GRAPH_ONLY_TYPES = frozenset({"http://fedora.info/definitions/v4/webac#Acl", "http://www.w3.org/ns/auth/acl#Authorization"})


@dataclass
class Lines:
    """What one file says: its triples as (subject, predicate, object) strings, objects as ``str``
    of rdflib's term would give them (for the importer's facts), and its user triples as stored
    N-Triples (sorted distinct lines, ids internal), as ``rdf.write_ntriples`` would write them."""

    facts: list[tuple[str, str, str]]
    user: list[str]

    def data(self, drop: frozenset[str] = frozenset()) -> bytes:
        """The stored N-Triples, less the lines whose predicate is in ``drop``."""
        if drop:
            return "".join(line + "\n" for line in self.user if line.split(" ", 2)[1][1:-1] not in drop).encode()
        return "".join(line + "\n" for line in self.user).encode()


def read(data: bytes, old_base: str, dest: str) -> Lines | None:
    """``data`` (one triple per line) read as text, or None: the caller parses it with rdflib."""
    lines = matched(data)
    if lines is None:
        return None
    to_id = _ToId(old_base, dest)
    facts: dict[tuple[str, ...], tuple[str, str, str]] = {}  # distinct terms, as in a graph
    user: set[str] = set()
    for s, p, o_iri, lexical, lang, datatype in lines:
        if not _ABSOLUTE.match(s) or not _ABSOLUTE.match(p) or p in _GRAPH_ONLY_PREDICATES or has_dot_segment(s):
            return None  # (a dot segment: the graph path refuses the file, see refuse_dot_segments)
        if o_iri is not None:
            if not _ABSOLUTE.match(o_iri) or (p == _RDF_TYPE and o_iri in _GRAPH_ONLY_TYPES):
                return None
            value = o_iri
        elif lexical is not None:
            if p == _RDF_TYPE or (datatype is not None and not _ABSOLUTE.match(datatype)):
                return None  # a literal type: rare, and server-managed by its text
            value = _value(lexical, datatype)
            if value is None:
                return None
        else:
            return None
        facts[(s, p, value) if o_iri is not None else (s, p, value, lang or "", datatype or "", "")] = (s, p, value)
        if rdf.is_server_managed(p, value if o_iri is not None else None):
            continue
        new_s = to_id(s)
        if new_s is None:
            return None
        if o_iri is not None:
            new_o = to_id(o_iri)
            if new_o is None:
                return None
            obj = "<" + new_o + ">"
        else:
            obj = '"' + lexical + '"' + ("@" + lang if lang else "") if datatype is None else \
                literal_line(lexical, None, datatype)
        user.add(f"<{new_s}> <{p}> {obj} .")
    return Lines(list(facts.values()), sorted(user))


def has_dot_segment(iri: str) -> bool:
    """Whether ``iri``'s path has a ``.`` or ``..`` segment, written plain or percent-encoded."""
    return _DOT_SEGMENT.search(iri.split("#", 1)[0].split("?", 1)[0]) is not None


def refuse_dot_segments(graph: Graph, file: Path) -> Graph:
    """``graph``, or BadInput when a subject has a dot segment: it would name another resource than
    the one the file is (``/a/b/../c`` is ``/a/c``, and ids have no dot segments), so neither path
    stores it; the text path leaves such files to the graph path, which refuses them here."""
    for subject in graph.subjects(unique=True):
        if has_dot_segment(str(subject)):
            raise BadInput(f"{file}: subject <{subject}> has a dot segment ('.' or '..'): a file's triples are "
                           "about its resource (or its #fragments), named without dot segments")
    return graph


def _value(lexical: str, datatype: str | None) -> str | None:
    """``str()`` of the rdflib Literal the parser makes (rdflib normalises typed literals)."""
    text = unescape(lexical)
    if datatype is None or datatype == _XSD_STRING:
        return text
    if datatype == _XSD_DATETIME:
        with contextlib.suppress(ValueError):
            if datetime.fromisoformat(text).isoformat() == text:
                return text  # already in the form rdflib gives back
    from rdflib import Literal, URIRef

    return str(Literal(text, datatype=URIRef(datatype)))


class _ToId:
    """``rdf.to_internal`` (and ``to_external`` onto a destination path) of one IRI; None when the
    result would not be an IRI rdflib writes (the graph path then says what it makes of it)."""

    def __init__(self, old_base: str, dest: str) -> None:
        self.old = old_base.rstrip("/")
        self.dest_id = paths.to_id(dest).rstrip("/") if dest != "/" else None
        self.cache: dict[str, str | None] = {}

    def __call__(self, value: str) -> str | None:
        found = self.cache.get(value, _MISSING)
        if found is _MISSING:
            found = self._rewrite(value)
            if len(self.cache) < 64:  # a file's few subjects; memory stays flat
                self.cache[value] = found
        return found

    def _rewrite(self, value: str) -> str | None:
        old = self.old
        if value == old or value.startswith((old + "/", old + "#")):
            rest = value[len(old):]
            if rest == "/":
                rest = ""
            if "/fcr:metadata" in rest:
                rest = _METADATA.sub("", rest)
            try:
                value = paths.ROOT_ID + decode_path(rest)
            except Exception:  # noqa: BLE001 - the graph path raises its own error for it
                return None
        root = paths.ROOT_ID
        if self.dest_id is not None and (value == root or value.startswith((root + "/", root + "#"))):
            rest = value[len(root):]
            value = self.dest_id + encode_path("" if rest == "/" else rest)
        return value if _IRI_CHARS.fullmatch(value) else None
