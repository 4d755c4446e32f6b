"""Verifying an import: what differs between the repository and the export for one resource"""

from __future__ import annotations

from fcrctl import rdf
from fcrctl.errors import FcrctlError
from fcrctl.repository.base import RdfPrefs, Repository
from fcrctl.services.transfer.import_read import BINARY_FACTS, Prepared, without


def difference(repo: Repository, prepared: Prepared) -> str | None:
    """What differs between the repository and the source for one resource (None: equal)."""
    from rdflib.compare import isomorphic

    entry, state = prepared.entry, prepared.current
    if state is None:
        return None
    try:
        info = repo.info(entry.path)
    except FcrctlError as exc:
        return exc.message
    if info.is_binary != state.spec.binary:
        return f"is {'a binary' if info.is_binary else 'a container'} in the repository"
    prefs = RdfPrefs(containment=False, membership=False, server_managed=False)
    have = rdf.check_user_triples(repo.get_rdf(entry.path, prefs=prefs), subject_id="", lenient=True)
    if state.spec.binary:
        have = without(have, BINARY_FACTS)
    want = state.graph()
    if want is not None and not isomorphic(have, want):
        return "triples differ from the export"
    for algorithm, expected in state.spec.digests.items():
        actual = info.digests.get(algorithm)
        if actual is not None and actual != expected:
            return f"{algorithm} is {actual}, the export says {expected}"
    if state.spec.binary and state.spec.external_url is None and info.size != state.size:
        return f"size is {info.size}, the export's file has {state.size} bytes"
    return None
