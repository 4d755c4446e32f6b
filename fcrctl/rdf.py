"""RDF: parsing, serialising, content types, server-managed triples, SPARQL Update, and the
translation between internal ids (``info:fedora/a/b``) and URLs (``{base}/a/b``).

Pure functions, no I/O. rdflib is imported inside the functions that need it, so that
importing this module stays cheap for commands that never touch RDF.

API (stable; other modules build on it):
  RDF_MEDIA_TYPES              mime -> rdflib format name (all types Fedora negotiates)
  resolve_format(name_or_mime) -> canonical mime; BadInput for unknown names
  is_rdf_mime(mime)            -> bool
  negotiate(accept_header)     -> best RDF mime for an Accept header, None if none acceptable
  parse(data, mime, base=, source=)   -> Graph (``<>`` means ``base``); BadInput with source and line
  serialize(graph, mime)       -> bytes
  read_ntriples(data) / write_ntriples(graph)  -> fast storage form (sorted, deterministic)
  to_internal(graph, base_url) / to_external(graph, base_url) -> Graph with ids rewritten
  check_user_triples(graph, subject_id, lenient=) -> Graph; Conflict on server-managed triples
  apply_update(graph, update, base=) -> new Graph; BadInput on invalid SPARQL
  server_triples(info, subject_id)   -> triples the server generates for a resource
  containment_triples(subject_id, child_ids) -> ldp:contains triples
  parse_prefer(header) -> (RdfPrefs, applied-string or None);  prefer_header(prefs) -> str
  referenced_ids(graph)        -> internal ids that the graph's objects point at
"""
