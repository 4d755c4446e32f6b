"""SPARQL Update applied to a copy of a resource's graph, refusing whatever would reach outside it"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fcrctl.errors import BadInput
from fcrctl.paths import ROOT_ID
from fcrctl.rdf.ids import _SYNTHETIC_BASE, _parse_base, _rewrite
from fcrctl.rdf.parsing import _reason, check_storable
from fcrctl.rdf.vocab import new_graph

if TYPE_CHECKING:
    from rdflib import Graph


_ALLOWED_UPDATES = frozenset({"InsertData", "DeleteData", "Modify", "DeleteWhere"})


def apply_update(graph: Graph, update: str, *, base: str) -> Graph:
    """Apply a SPARQL Update (INSERT DATA, DELETE DATA, DELETE/INSERT ... WHERE) to a copy.

    ``<>`` means ``base``. LOAD, CLEAR, DROP and SERVICE are refused: they would reach
    outside the resource (or the network).
    """
    from rdflib.plugins.sparql.processor import prepareUpdate

    parse_base, synthetic = _parse_base(base)
    try:
        prepared = prepareUpdate(update, base=parse_base)
    except Exception as exc:
        raise BadInput(f"invalid SPARQL Update: {_reason(exc)}") from None
    _guard_update(prepared.algebra, parse_base)
    work = _rewrite(graph, ROOT_ID, synthetic) if synthetic else new_graph()
    if not synthetic:
        for triple in graph:
            work.add(triple)
    try:
        work.update(prepared)
    except Exception as exc:
        raise BadInput(f"SPARQL Update failed: {_reason(exc)}") from None
    out = _rewrite(work, synthetic, ROOT_ID) if synthetic else work
    check_storable(out, "SPARQL Update")
    return out


def update_deletes(update: str) -> bool:
    """Whether a SPARQL Update can remove triples, decided on its parsed algebra as Fedora's WebAC filter
    does (an Append agent may run the others): DELETE DATA or DELETE WHERE with triples, a DELETE template
    with any; an empty ``DELETE { }`` deletes nothing. An update that does not parse counts as deleting
    (the handler refuses it anyway)."""
    from rdflib.plugins.sparql.processor import prepareUpdate

    try:
        operations = prepareUpdate(update, base=_SYNTHETIC_BASE).algebra
    except Exception:  # noqa: BLE001 - rdflib raises many kinds; the PATCH itself reports the syntax error
        return True
    for operation in operations:
        if operation.name == "Modify":
            clause = operation["delete"] if "delete" in operation else None  # noqa: SIM401 (CompValue.get differs)
        elif operation.name in ("DeleteData", "DeleteWhere"):
            clause = operation
        elif operation.name == "InsertData":
            continue
        else:
            return True  # LOAD, CLEAR, DROP...: refused by apply_update, never an append
        if clause is not None and (clause["triples"] or any((clause["quads"] or {}).values())):
            return True
    return False


def _guard_update(operations: list[Any], local: str) -> None:
    """Refuse what would make rdflib reach outside the resource, decided on the parsed algebra
    (the text can hide a keyword in an escape such as ``SERVI\\u0043E``): LOAD and the graph
    management operations, SERVICE anywhere, and USING / USING NAMED / WITH naming any graph
    but the resource itself (rdflib fetches a USING graph over the network). A clause naming
    the resource is dropped: the resource is the one graph an update works on already."""
    for operation in operations:
        if operation.name not in _ALLOWED_UPDATES:
            raise BadInput(f"SPARQL Update operation {operation.name} is not allowed: use INSERT/DELETE only")
        for clause in operation.using or []:
            named = clause.named is not None
            graph = clause.named if named else clause.default
            if str(graph) != local:
                keyword = "USING NAMED" if named else "USING"
                raise BadInput(f"SPARQL Update {keyword} <{_shown(graph)}> is not allowed: an update applies to "
                               "the resource itself; remove the clause")
        if operation.withClause is not None and str(operation.withClause) != local:
            raise BadInput(f"SPARQL Update WITH <{_shown(operation.withClause)}> is not allowed: an update applies "
                           "to the resource itself; remove the clause")
        if operation.name == "Modify":
            operation["using"] = None
            operation["withClause"] = None
        service = _find_service(operation)
        if service is not None:
            raise BadInput(f"SPARQL Update with SERVICE <{_shown(service)}> is not allowed: "
                           "it would query another endpoint")


def _shown(iri: object) -> str:
    """An IRI as the user wrote it: a relative one resolved against a local id is shown as that id."""
    text = str(iri)
    return ROOT_ID + text[len(_SYNTHETIC_BASE):] if text.startswith(_SYNTHETIC_BASE) else text


def _find_service(operation: Any) -> str | None:
    from rdflib.plugins.sparql.parserutils import CompValue

    stack: list[Any] = [operation]
    while stack:  # not recursive: the algebra of a hostile update may nest deeply
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                return str(node.get("term"))
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return None
