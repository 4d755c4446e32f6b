"""What Fedora 4.7 clients observe and the later API changed: the server's ``fedora4`` dialect.

Each rule here was read from Fedora 4.7.5's HTTP layer (fcrepo4, tag fcrepo-4.7.5):
- literals: its patched Jena writers (``jena-patch``) write simple literals as ``"..."^^xsd:string``
  and booleans unabbreviated, in Turtle, N-Triples, N3 and RDF/XML (not JSON-LD);
- version labels: ``VersionServiceImpl`` refuses ``~#@*+%{}<>[]|"^`` and labels that are digits
  (optionally after text and whitespace);
- the interaction model: an ``rdf:type`` of ldp:DirectContainer / ldp:IndirectContainer in the
  body chooses it (``JcrPropertyStatementListener`` turns types into mixins);
- replacing triples: ``replaceProperties`` diffs the body against the current triples,
  server-managed ones included, unless ``Prefer: handling=lenient; received="minimal"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, Gone, NotFound
from fcrctl.rdf.server_managed import ServerManagedConflict, ServerManagedTypeConflict
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, LDP, Version

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.rdf import Triple
    from fcrctl.server.context import Context

XSD_STRING = rdf.XSD + "string"
XSD_BOOLEAN = rdf.XSD + "boolean"
XSD_DATETIME = rdf.XSD + "dateTime"
LENIENT = 'Prefer: handling=lenient; received="minimal"'
_TYPED_FORMATS = frozenset({"turtle", "nt", "n3", "xml"})  # not json-ld: 4.7's JSON-LD writer is Jena's own
_BAD_LABEL = re.compile(r'[~#@*+%{}<>\[\]|"^]')
_NUMERIC_LABEL = re.compile(r"^(.*\s+)?\d*$")
_MEMBERSHIP_RESOURCE = LDP + "membershipResource"


def types_literals(mime: str) -> bool:
    """True when 4.7 writes this media type with typed simple literals."""
    return rdf.RDF_MEDIA_TYPES.get(rdf.resolve_format(mime)) in _TYPED_FORMATS


def _typed(node: Any) -> Any:
    from rdflib import Literal, URIRef

    if not isinstance(node, Literal):
        return node
    if node.datatype is None and not node.language:
        return Literal(str(node), datatype=URIRef(XSD_STRING))
    if str(node.datatype) == XSD_DATETIME and str(node).endswith("+00:00"):
        # rdflib writes UTC as +00:00 (its lexical form is rebuilt from the value); Fedora writes Z
        return Literal(str(node)[:-6] + "Z", datatype=node.datatype, normalize=False)
    return node


_UTC = '+00:00"^^<' + XSD_DATETIME + "> ."


def typed_line(line: str) -> str:
    """``_typed`` on one N-Triples line as rdflib's row writer writes it: a simple literal (the only
    object that ends in a bare quote) gets ``^^xsd:string``, a UTC dateTime its ``Z``."""
    if line.endswith(_UTC):
        return line[: -len(_UTC)] + 'Z"^^<' + XSD_DATETIME + "> ."
    if line.endswith('" .'):
        return line[:-2] + "^^<" + XSD_STRING + "> ."
    return line


def typed_triples(triples: Iterable[Triple]) -> Iterator[Triple]:
    return ((s, p, _typed(o)) for s, p, o in triples)


def typed_graph(graph: Graph) -> Graph:
    out = rdf.new_graph()
    for prefix, namespace in graph.namespaces():
        out.bind(prefix, namespace, override=False)
    for triple in typed_triples(graph):
        out.add(triple)
    return out


def untyped(graph: Graph) -> Graph:
    """``"x"^^xsd:string`` -> ``"x"`` (the same RDF 1.1 term): what a 4.7 client sends back from a
    GET is stored, and compared with stored triples, as the plain literal it is."""
    from rdflib import Literal

    typed = [(s, p, o) for s, p, o in graph if isinstance(o, Literal) and str(o.datatype or "") == XSD_STRING]
    for s, p, o in typed:
        graph.remove((s, p, o))
        graph.add((s, p, Literal(str(o))))
    return graph


def serialize(graph: Graph, mime: str) -> bytes:
    """``rdf.serialize`` with 4.7's literals: xsd:string typed, booleans never abbreviated."""
    fmt = rdf.RDF_MEDIA_TYPES[rdf.resolve_format(mime)]
    graph = typed_graph(graph)
    if fmt not in ("turtle", "n3"):
        return rdf.serialize(graph, mime)
    for prefix, namespace in rdf.PREFIXES.items():
        graph.bind(prefix, namespace, override=False)
    _register()
    out = graph.serialize(format="fcrepo4-" + fmt, encoding="utf-8")
    return out if isinstance(out, bytes) else out.encode("utf-8")


_registered = False


def _register() -> None:
    """rdflib's Turtle/N3 writers shorten ``"true"^^xsd:boolean`` to ``true``; 4.7's do not."""
    global _registered
    if _registered:
        return
    from rdflib import plugin
    from rdflib.serializer import Serializer

    plugin.register("fcrepo4-turtle", Serializer, "fcrctl.server.fedora4_writers", "Turtle")
    plugin.register("fcrepo4-n3", Serializer, "fcrctl.server.fedora4_writers", "N3")
    _registered = True


# -- versions -------------------------------------------------------------------------------------


def check_label(label: str | None) -> str:
    """The Slug of ``POST fcr:versions`` as 4.7 accepts it (BadInput -> 400 otherwise)."""
    if not label:
        raise BadInput("POST to fcr:versions needs a Slug header naming the version label")
    if _BAD_LABEL.search(label):
        raise BadInput(f'version label {label!r} holds a character 4.7 refuses (one of ~#@*+%{{}}<>[]|"^)')
    if _NUMERIC_LABEL.match(label):
        raise BadInput(f"version label {label!r} must not be (or end in whitespace and) digits only: add a letter")
    return label


def version_names(versions: Sequence[Version]) -> dict[str, str]:
    """Each version's name in 4.7's fcr:versions, by id: its URL segment and its hasVersionLabel, which 4.7
    writes from the version's one identifier (``VersionsRdfContext``), so clients (pyfc4) read a label off
    every listed version. A given label names its version; any other is named by its created time in the
    shape fcrctl's HTTP client invents for a version the user did not label (``v`` + 20 digits), which
    that client reads back as no label, and which no id or short label a client gives can shadow (an
    unlabelled version listed as ``v1`` was hidden by a version labelled ``v1``)."""
    names: dict[str, str] = {}
    taken = {v.label for v in versions if v.label}
    for version in versions:
        if version.label:
            names[version.id] = version.label
            continue
        when = version.created.astimezone(UTC) if version.created.tzinfo else version.created
        while (name := "v" + when.strftime("%Y%m%d%H%M%S%f")) in taken:  # made in one microsecond (or a second)
            when += timedelta(microseconds=1)
        taken.add(name)
        names[version.id] = name
    return names


# -- creating and replacing ------------------------------------------------------------------------


def model_from_body(ctx: Context, graph: Graph, subject_id: str) -> str | None:
    """The container model an ``rdf:type`` of the new resource names (the triple is taken out of
    the graph, as a Link header's would never be in it); BadInput for a membershipResource that
    is not an existing resource of this repository."""
    from rdflib import URIRef

    rdf_type, subject = URIRef(rdf.RDF_NS + "type"), URIRef(subject_id)
    models = [o for o in graph.objects(subject, rdf_type) if str(o) in (DIRECT_CONTAINER, INDIRECT_CONTAINER)]
    if len(models) > 1:
        raise BadInput("the body types the new resource as both a direct and an indirect container: choose one")
    if not models:
        return None
    graph.remove((subject, rdf_type, models[0]))
    for member in graph.objects(subject, URIRef(_MEMBERSHIP_RESOURCE)):
        target = str(member)
        if target != paths.ROOT_ID and not target.startswith(paths.ROOT_ID + "/"):
            raise BadInput(f"ldp:membershipResource <{target}> is not a resource of this repository")
        try:
            ctx.repo.info(paths.from_id(target))
        except (NotFound, Gone):
            raise BadInput(
                f"ldp:membershipResource {ctx.url(paths.from_id(target))} does not exist: create it first"
            ) from None
    return str(models[0])


def check_carries_server_triples(current: Graph, body: Graph, subject_id: str) -> None:
    """409 when a PUT body leaves out the resource's server-managed triples (not ldp:contains:
    containment is the children's, not the body's), as 4.7's diff of the two would remove them."""
    from rdflib import URIRef

    subject = URIRef(subject_id)
    contains = URIRef(LDP + "contains")
    for s, p, o in current.triples((subject, None, None)):
        if p == contains or not rdf.is_server_managed(str(p), str(o)):
            continue
        if (s, p, o) not in body:
            raise ServerManagedConflict(
                f"the body leaves out the server-managed triple <{p}> {o.n3()}: send the representation a GET "
                f"returned, with your changes, or send {LENIENT} to replace only your own triples"
            )


def refuse_server_triples(graph: Graph) -> None:
    """409 for a server-managed triple the body would set or change (4.7 refuses it, lenient or not)."""
    for _, p, o in graph:
        if rdf.is_server_managed(str(p), str(o)):
            raise (ServerManagedTypeConflict if str(p) == rdf.RDF_NS + "type" else ServerManagedConflict)(
                f"the server-managed triple <{p}> {o.n3()} cannot be set or changed: leave it out, "
                "or send it back as a GET returned it"
            )
