"""RDF for every layer: parsing, serialising, content types, server-managed triples, SPARQL Update, id <-> URL

The package face: callers import ``fcrctl.rdf`` and use the names below; the modules hold one
concern each (vocab, media, parsing, ids, server_managed, update, prefer). Pure functions, no
I/O. rdflib is imported inside the functions that need it, so that importing this package stays
cheap for commands that never touch RDF.

API (stable; other modules build on it):
  RDF_MEDIA_TYPES              mime -> rdflib format name (all types Fedora negotiates)
  resolve_format(name_or_mime) -> canonical mime; BadInput for unknown names
  is_rdf_mime(mime)            -> bool
  negotiate(accept_header)     -> best RDF mime for an Accept header, None if none acceptable
  parse(data, mime, base=, source=, storable=)  -> Graph (``<>`` means ``base``); BadInput with source
                               and line; nothing is fetched (remote contexts, entities, ... refused)
  check_storable(graph)        BadInput unless N-Triples can store and serve the graph back
  MAX_RDF_BYTES                default limit on RDF/SPARQL bodies (they are parsed in memory)
  serialize(graph, mime)       -> bytes
  read_ntriples(data) / write_ntriples(graph)  -> fast storage form (sorted, deterministic)
  to_internal(graph, base_url) / to_external(graph, base_url) -> Graph with ids rewritten
  check_user_triples(graph, subject_id, lenient=) -> Graph; Conflict on server-managed triples
  apply_update(graph, update, base=) -> new Graph; BadInput on invalid SPARQL
  server_triples(info, subject_id)   -> triples the server generates for a resource
  containment_triples(subject_id, child_ids) -> ldp:contains triples, made as the ids come
  datetime_literal(value)      -> xsd:dateTime literal as Fedora writes it (UTC as Z)
  parse_prefer(header) -> (RdfPrefs, applied-string or None);  prefer_header(prefs) -> str
  referenced_ids(graph)        -> internal ids that the graph's objects point at
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcrctl.paths import ROOT_ID
from fcrctl.rdf.ids import decode_path, encode_path, id_to_url, referenced_ids, to_external, to_internal, url_to_id
from fcrctl.rdf.media import (
    FORMAT_NAMES,
    RDF_MEDIA_TYPES,
    NotSerializable,
    is_rdf_mime,
    mime_of,
    negotiate,
    resolve_format,
    serialize,
    write_ntriples,
)
from fcrctl.rdf.parsing import check_storable, parse, read_ntriples
from fcrctl.rdf.prefer import (
    PREFER_CONTAINMENT,
    PREFER_EMBED,
    PREFER_INBOUND,
    PREFER_MEMBERSHIP,
    PREFER_MINIMAL_CONTAINER,
    PREFER_SERVER_MANAGED,
    omits_own_triples,
    parse_prefer,
    prefer_header,
)
from fcrctl.rdf.server_managed import (
    check_user_triples,
    containment_triples,
    datetime_literal,
    digest_urn,
    is_server_managed,
    parse_digest_urn,
    server_triples,
)
from fcrctl.rdf.update import apply_update
from fcrctl.rdf.vocab import (
    EBUCORE,
    FCREPO,
    FEDORA,
    IANA,
    LDP,
    MAX_RDF_BYTES,
    MEMENTO,
    PREFIXES,
    PREMIS,
    RDF_NS,
    XSD,
    new_graph,
)

if TYPE_CHECKING:
    from rdflib.term import Node

    Triple = tuple[Node, Node, Node]

__all__ = [
    "EBUCORE", "FCREPO", "FEDORA", "FORMAT_NAMES", "IANA", "LDP", "MAX_RDF_BYTES", "MEMENTO", "PREFER_CONTAINMENT",
    "PREFER_EMBED", "PREFER_INBOUND", "PREFER_MEMBERSHIP", "PREFER_MINIMAL_CONTAINER", "PREFER_SERVER_MANAGED",
    "PREFIXES", "PREMIS", "RDF_MEDIA_TYPES", "RDF_NS", "ROOT_ID", "XSD", "NotSerializable", "apply_update",
    "check_storable", "check_user_triples", "containment_triples", "datetime_literal", "decode_path", "digest_urn",
    "encode_path", "id_to_url", "is_rdf_mime", "is_server_managed", "mime_of", "negotiate", "new_graph",
    "parse", "parse_digest_urn", "parse_prefer", "prefer_header", "read_ntriples", "referenced_ids",
    "omits_own_triples", "resolve_format", "serialize", "server_triples", "to_external", "to_internal", "url_to_id",
    "write_ntriples",
]
