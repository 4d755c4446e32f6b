"""Big RDF bodies (listings): Turtle and N3 written in chunks as their triples are read, JSON-LD bounded,
streamed N-Triples listings advertised as grouped

A container of 100,000 children is 100,000 ``ldp:contains`` triples (13 times that with its
children embedded). N-Triples goes out row by row (Context.ntriples_chunks); Turtle and N3 go
out in chunks of a few thousand triples, each written by rdflib (chunk_writers.py), prefixes
declared once. JSON-LD and RDF/XML have no streaming form in rdflib: their graph is built
whole, up to MAX_WHOLE_TRIPLES, and a bigger one is refused (406) with the types that stream.

A streamed N-Triples listing whose repository writes each child's ``ldp:contains`` triple and
then its embedded triples, children in path order, says so in the GROUPED header (docs/listings.md):
a client can then show each child as soon as its group has arrived, instead of after the body.
The commonest such body (what `fcrctl ls` asks for) is written as text from each child's stored
N-Triples (services/transfer/ntlines.py, as export writes a resource), not through rdflib's terms
and row writer, which cost most of a listing's server time; a child whose lines are not in the
form that handles goes through rdflib as before. Its first chunk is small, so its first byte
leaves at once.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from fcrctl import rdf

if TYPE_CHECKING:
    from rdflib import Graph
    from werkzeug.wrappers import Response

    from fcrctl.rdf import Triple
    from fcrctl.repository.base import RdfPrefs, Repository, ResourceInfo
    from fcrctl.server.context import Context

STREAMED_FORMATS = frozenset({"nt", "turtle", "n3"})  # rdflib format names
CHUNK_TRIPLES = 2000
FIRST_CHUNK_TRIPLES = 100  # rdflib writes ~30,000 triples/s: the first chunk of a long body is small
MAX_WHOLE_TRIPLES = 100_000  # JSON-LD / RDF/XML of this many triples: ~15 s and ~0.5 GB in rdflib
CHUNK_ROWS = 1000  # N-Triples lines a chunk of a grouped body written as text
FIRST_CHUNK_ROWS = 40  # its first chunk: two or three children, each shown once the next one's line arrives


# A response header (kept by proxies, never sent by Fedora): this N-Triples body is a grouped listing
GROUPED_HEADER = "Fcrctl-Listing"
GROUPED = "grouped"
# ...and the container's own triples all come before its first ldp:contains triple (reads.served_triples
# and the local repository write them first), so a client has them before the children (export)
OWN_FIRST_HEADER = "Fcrctl-Listing-Own"
OWN_FIRST = "first"
# A request header: the listing is one page, the children after this one (its name, percent-encoded),
# the index sought to it (`ls --after`); sent back on a body that starts there (clients skip otherwise)
AFTER_HEADER = "Fcrctl-Listing-After"


def advertises(repo: Repository, prefs: RdfPrefs, mime: str) -> bool:
    """Whether a streamed body of this request is a grouped listing (advertise_grouping)."""
    return (rdf.RDF_MEDIA_TYPES[rdf.resolve_format(mime)] == "nt" and repo.capabilities.grouped_listings
            and prefs.containment and prefs.embed_children and not prefs.inbound)


def advertise_grouping(resp: Response, repo: Repository, prefs: RdfPrefs, mime: str, *, streamed: bool) -> bool:
    """Sets GROUPED_HEADER on a streamed N-Triples body the repository writes grouped: containment
    with children embedded, and no inbound references (their subjects may be children, anywhere)."""
    if streamed and advertises(repo, prefs, mime):
        resp.headers[GROUPED_HEADER] = GROUPED
        resp.headers[OWN_FIRST_HEADER] = OWN_FIRST
        resp.vary.add(AFTER_HEADER)  # a cache must not give a page for the whole listing, nor one page for another
        return True
    return False


def grouped_listing(resp: Response, ctx: Context, info: ResourceInfo, prefs: RdfPrefs, mime: str, *,
                    streamed: bool) -> None:
    """advertise_grouping; and a grouped body with the server's own triples of each child (what
    `ls` asks for) written as text (grouped_text) in place of the triples' body."""
    from fcrctl.server import fedora4

    if advertise_grouping(resp, ctx.repo, prefs, mime, streamed=streamed) and writes_text(ctx, prefs):
        typed = ctx.config.dialect == "fedora4" and fedora4.types_literals(mime)
        after = page_after(ctx, info)
        if after is not None:
            resp.headers[AFTER_HEADER] = ctx.request.headers[AFTER_HEADER]
        resp.response = grouped_text(ctx, info, prefs, typed=typed, after=after)


def page_after(ctx: Context, info: ResourceInfo) -> str | None:
    """The child name AFTER_HEADER asks the listing to start after (None: from the first), checked
    before the body starts (BadInput, 400, for one that is no child's name)."""
    from urllib.parse import unquote

    from fcrctl import paths

    sent = ctx.request.headers.get(AFTER_HEADER)
    if sent is None:
        return None
    from fcrctl.errors import BadInput

    try:
        name = unquote(sent.strip(), errors="strict")
    except UnicodeDecodeError:
        raise BadInput(f"{AFTER_HEADER}: {sent!r} is not a percent-encoded UTF-8 name", path=info.path) from None
    paths.after_bound(info.path, name)
    return name


def writes_text(ctx: Context, prefs: RdfPrefs) -> bool:
    """Whether a grouped body (advertise_grouping) is written by grouped_text, not from the triples."""
    return (prefs.server_managed and hasattr(ctx.repo, "children_stored")
            and not rdf.omits_own_triples(ctx.request.headers.get("Prefer")))


def grouped_text(ctx: Context, info: ResourceInfo, prefs: RdfPrefs, rows: int = CHUNK_ROWS,
                 first_rows: int = FIRST_CHUNK_ROWS, *, typed: bool = False, after: str | None = None
                 ) -> Iterator[bytes]:
    """The grouped N-Triples body of ``info``'s listing (docs/listings.md): the container's own
    triples, then each child's ``ldp:contains`` line and its lines, ``rows`` lines a chunk (the
    first ``first_rows``). The same triples as Context.ntriples_chunks writes of the repository's
    triples (tests compare them), a child's lines (and the container's own, where it is not the
    root and has no membership triples) as export writes them (ntlines.export_lines); ``typed``:
    simple literals typed as Fedora 4.7 writes them (fedora4.typed_line); ``after``: only the
    children whose names sort after it (a page: the index seeks to it)."""
    import dataclasses

    from fcrctl import paths
    from fcrctl.repository.base import LDP
    from fcrctl.server import fedora4
    from fcrctl.server.reads import served_triples
    from fcrctl.services.transfer.ntlines import export_lines

    repo = ctx.repo
    base = ctx.base_url.rstrip("/")
    bare = f"<{base}>"  # the root as export writes it (serve writes it with its slash): such a child takes rdflib

    def text(stored: bytes, resource: ResourceInfo) -> list[str] | None:
        lines = export_lines(stored, resource, base)
        if lines is None or any(bare in line for line in lines):
            return None
        return [fedora4.typed_line(line) for line in lines] if typed else lines

    own = dataclasses.replace(prefs, containment=False, embed_children=False)
    own_lines = None
    if info.path != "/" and not prefs.membership and hasattr(repo, "stored_ntriples"):
        own_lines = text(repo.stored_ntriples(info.path), info)
    if own_lines is not None:
        yield "".join(line + "\n" for line in own_lines).encode("utf-8")
    else:
        triples = served_triples(ctx, info, prefs=own)
        yield from ctx.ntriples_chunks(fedora4.typed_triples(triples) if typed else triples)
    contains = f"<{base}/> " if info.path == "/" else f"<{base}{rdf.encode_path(info.path)}> "
    contains += f"<{LDP}contains> "
    chunk: list[str] = []
    limit = first_rows
    for child, stored in repo.children_stored(info.path, after=after):  # type: ignore[attr-defined]
        chunk.append(f"{contains}<{base}{rdf.encode_path(child.path)}> .\n")
        lines = text(stored, child) if stored is not None else None
        if lines is not None:
            chunk.extend(line + "\n" for line in lines)
            if len(chunk) < limit:
                continue
        yield "".join(chunk).encode("utf-8")
        chunk, limit = [], rows
        if lines is None:  # as Local Listings.triples embeds a child: its stored triples, the server's
            triples = _child_triples(repo, child, paths.to_id(child.path))
            yield from ctx.ntriples_chunks(fedora4.typed_triples(triples) if typed else triples)
    if chunk:
        yield "".join(chunk).encode("utf-8")


def _child_triples(repo: Repository, child: ResourceInfo, rid: str) -> Iterator[Triple]:
    """An embedded child's triples through rdflib: its user triples (none if unreadable) and the server's."""
    from fcrctl.errors import CorruptData, Gone, NotFound
    from fcrctl.repository.base import RdfPrefs

    own = RdfPrefs(containment=False, membership=False)
    try:
        yield from list(repo.rdf_triples(child.path, prefs=own))  # type: ignore[attr-defined]
    except (NotFound, Gone, CorruptData):
        yield from rdf.server_triples(child, rid)


def streams(mime: str) -> bool:
    """Whether a body of this RDF media type can be written while its triples are read."""
    return rdf.RDF_MEDIA_TYPES[rdf.resolve_format(mime)] in STREAMED_FORMATS


def turtle_chunks(triples: Iterable[Triple], mime: str, *, fedora4: bool = False,
                  per_chunk: int | None = None) -> Iterator[bytes]:
    """One Turtle (or N3) document in chunks of ``per_chunk`` triples, each written by rdflib;
    a prefix a chunk declares as an earlier one did is left out (rdflib declares those it uses).
    A body of one chunk is written as rdflib writes a whole graph (blank nodes nested in place);
    a longer one starts with a small chunk, so its first bytes leave at once, and each chunk after
    it is twice the one before, up to ``per_chunk``: a reader of its first few KiB (a HEAD, which
    keepalive.sized reads ahead for GET's Content-Length; `ls | head`) costs a few hundred triples
    through rdflib, not ``per_chunk`` (a HEAD of a container of 2,000 children or more cost serve
    ~0.15 s of CPU, and as much for each such container an `info` or an export HEADs)."""
    from fcrctl.server.chunk_writers import WRITERS

    writer, whole = WRITERS[(rdf.RDF_MEDIA_TYPES[rdf.resolve_format(mime)], fedora4)]
    per_chunk = per_chunk or CHUNK_TRIPLES
    declared: set[bytes] = set()
    source = iter(triples)
    buffered = list(itertools.islice(source, per_chunk))
    if len(buffered) < per_chunk:
        yield _written(_chunk_graph(buffered), whole, declared)
        return
    first = max(1, min(FIRST_CHUNK_TRIPLES, per_chunk // 2))
    yield _written(_chunk_graph(buffered[:first]), writer, declared)
    size = min(per_chunk, first * 2)
    graph, count = _chunk_graph(), 0
    for triple in itertools.chain(buffered[first:], source):
        graph.add(triple)
        count += 1
        if count >= size:
            yield _written(graph, writer, declared)
            graph, count, size = _chunk_graph(), 0, min(per_chunk, size * 2)
    if count:
        yield _written(graph, writer, declared)


def _chunk_graph(triples: Iterable[Triple] = ()) -> Graph:
    graph = rdf.new_graph()
    for prefix, namespace in rdf.PREFIXES.items():
        graph.bind(prefix, namespace)
    for triple in triples:
        graph.add(triple)
    return graph


def _written(graph: Graph, writer: type, declared: set[bytes]) -> bytes:
    out = io.BytesIO()
    writer(graph).serialize(out, encoding="utf-8")
    head, sep, body = out.getvalue().partition(b"\n\n")
    lines = head.split(b"\n")
    if not all(line.startswith((b"@prefix ", b"PREFIX ")) for line in lines):
        return out.getvalue()  # no prefix block (nothing to declare)
    fresh = [line for line in lines if line not in declared]
    declared.update(fresh)
    return b"".join(line + b"\n" for line in fresh) + sep[1:] + body


def bounded_graph(triples: Iterable[Triple], mime: str, path: str) -> Graph:
    """The triples as one graph for a media type written only whole; NotSerializable (406) past
    MAX_WHOLE_TRIPLES, before the memory it would take is spent."""
    from rdflib import Graph

    if isinstance(triples, Graph):
        return triples
    graph = rdf.new_graph()
    for count, triple in enumerate(triples, 1):
        if count > MAX_WHOLE_TRIPLES:
            raise rdf.NotSerializable(
                f"{path} has more than {MAX_WHOLE_TRIPLES} triples, which {mime} can only be written whole: ask for "
                'text/turtle or application/n-triples (streamed), or send Prefer: return=representation; '
                'omit="http://www.w3.org/ns/ldp#PreferContainment"'
            )
        graph.add(triple)
    return graph
