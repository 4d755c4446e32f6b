"""ACLs in an export (``PATH/fcr:acl``, and Fedora 4.7's WebAC containers converted to them)

The one place export and import handle them, through the Repository protocol's ``get_acl``/
``put_acl`` where the backend says ``capabilities.acls`` (elsewhere ACL files are reported as
skipped, never dropped silently).

Fedora 4.7 kept WebAC ACLs as ordinary resources: a container typed ``webac:Acl`` (often under
``rest/acl``) holding one ``acl:Authorization`` resource each, linked from the resources they
protect by ``acl:accessControl``. Fedora 6 has one ``fcr:acl`` per protected resource instead.
``from_fedora4`` converts them on import as fcrepo-upgrade-utils does (its F47ToF5UpgradeManager,
whose output its F6 migration then stores): the ACL and authorization resources themselves are
not imported; a resource with ``acl:accessControl <A>`` loses that triple (in every version)
and gets an ``fcr:acl`` holding each authorization found in A's export directory, the N-th file
(in name order) as ``<resource>/fcr:acl#authN`` with its ``rdf:type acl:Authorization`` and its
``acl:`` triples, and A's types, dates and users on ``<resource>/fcr:acl``.

Written as fcrepo-upgrade-utils' Fedora 6 migration writes an ``fcr:acl`` (ResourceMigrator):
in the OCFL version that first writes its resource, dated by the ACL's own fedora:created /
lastModified / createdBy / lastModifiedBy (in its headers; the server-managed triples are
dropped from its content). Locally that is one ``dated(acl=...)`` write (import_write.py).
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fcrctl import paths, rdf
from fcrctl.errors import BadInput, NotFound
from fcrctl.services.transfer import layout

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.base import Repository
    from fcrctl.services.transfer.import_read import Prepared
    from fcrctl.services.transfer.import_tree import ExportTree

WEBAC_ACL = "http://fedora.info/definitions/v4/webac#Acl"
ACL_NS = "http://www.w3.org/ns/auth/acl#"
AUTHORIZATION = ACL_NS + "Authorization"
ACCESS_CONTROL = ACL_NS + "accessControl"
RDF_TYPE = rdf.RDF_NS + "type"
MAX_AUTHORIZATIONS = 10_000  # files read for one Fedora 4 ACL (each is one authorization)


def supported(repo: Repository) -> bool:
    return bool(getattr(repo.capabilities, "acls", False))


def read(repo: Repository, path: str) -> Graph | None:
    """The ACL of ``path`` (internal ids), or None when it has none of its own (the export
    lists ``path`` before asking, so NotFound here is about the ACL)."""
    try:
        return repo.get_acl(path)
    except NotFound:
        return None


def write(repo: Repository, path: str, graph: Graph) -> None:
    """``graph`` (an ACL as exported) as ``path``'s ACL, less what only the server may set: its
    dates and users, and the types Fedora gives every ACL (a backend that keeps the export's dates
    takes the ACL with the resource's first version instead: LocalRepository.dated)."""
    repo.put_acl(path, rdf.check_user_triples(graph, subject_id="", lenient=True))


class Importing(Protocol):
    """What ``from_fedora4`` needs of the importer."""

    root: Path  # the export tree
    tree: ExportTree  # its base URL (old_base) and the repository path its root maps to (dest)

    def parse(self, file: Path, *, url: str) -> Graph: ...

    def _internal(self, graph: Graph) -> Graph: ...


def from_fedora4(importer: Importing, prepared: Prepared, url: str) -> None:
    """Convert Fedora 4.7 WebAC on one prepared resource (see the module's docstring): a resource
    that is a Fedora 4 ACL or authorization is left out; one that names its ACL by
    ``acl:accessControl`` gets that ACL as its ``fcr:acl`` (``url``: its URL in the export).
    BadInput when the named ACL is not in the export (import it with --no-acls to leave ACLs out)."""
    from rdflib import URIRef

    state = prepared.current
    if state is None or state.spec.graph is None:
        return
    graph = state.spec.graph
    types = {str(o) for o in graph.objects(None, URIRef(RDF_TYPE))}
    if WEBAC_ACL in types or AUTHORIZATION in types:
        prepared.current, prepared.versions, prepared.acl = None, [], None
        prepared.skip_reason = "a Fedora 4 ACL resource: imported as the fcr:acl of the resources it protects"
        return
    links = [str(o) for o in graph.objects(None, URIRef(ACCESS_CONTROL))]
    if not links:
        return
    for _, version in prepared.versions:  # the link goes from every version, as the Java tool drops it
        if version.spec.graph is not None:
            version.spec.graph.remove((None, URIRef(ACCESS_CONTROL), None))
    graph.remove((None, URIRef(ACCESS_CONTROL), None))
    if prepared.acl is None:  # an fcr:acl exported beside the resource is its ACL already
        prepared.acl = importer._internal(_converted(importer, min(links), url))


def _converted(importer: Importing, link: str, url: str) -> Graph:
    """The ``fcr:acl`` of the resource at ``url`` made of the Fedora 4 ACL ``link`` names."""
    from rdflib import URIRef

    acl_url = _export_url(importer, link)
    stem = importer.root / layout.encode_url_path(urllib.parse.urlsplit(acl_url).path) if acl_url else None
    # a link elsewhere (another host, ../ segments) names nothing in the export: nothing outside it is read
    inside = stem is not None and layout.inside(importer.root, stem)
    found = layout.rdf_file(stem) if stem is not None and inside else None
    if stem is None or found is None:
        raise BadInput(f"{url}: its acl:accessControl names {link}, which is not in the export: export the ACL "
                       "too, or import with --no-acls")
    acl_node = URIRef(url.rstrip("/") + "/fcr:acl")
    out = rdf.new_graph()
    for _, p, o in importer.parse(found, url=acl_url).triples((None, None, None)):
        if str(p) in _ACL_LEVEL and not (str(p) == RDF_TYPE and str(o) == WEBAC_ACL):
            out.add((acl_node, p, o))  # its dates and users date the fcr:acl, as the Java tool keeps them
    for number, file in enumerate(_authorization_files(stem)):
        auth = rdf.new_graph()
        node = URIRef(f"{acl_node}#auth{number}")
        for _, p, o in importer.parse(file, url=acl_url + "/" + file.stem).triples((None, None, None)):
            if (str(p) == RDF_TYPE and str(o) == AUTHORIZATION) or str(p).startswith(ACL_NS):
                auth.add((node, p, o))
        if (node, URIRef(RDF_TYPE), URIRef(AUTHORIZATION)) in auth:  # other resources there are not rules
            out += auth
    return out


_ACL_LEVEL = frozenset({RDF_TYPE, rdf.FEDORA + "created", rdf.FEDORA + "lastModified", rdf.FEDORA + "createdBy",
                        rdf.FEDORA + "lastModifiedBy"})


def _export_url(importer: Importing, link: str) -> str | None:
    """``link`` as a URL of the export: the importer's pass 1 sees the export's URLs, pass 2 the
    ids they were mapped to (under the destination path); None when it is outside both."""
    if not link.startswith(paths.ROOT_ID):
        return link if link.startswith(importer.tree.old_base.rstrip("/") + "/") else None
    dest_id = paths.to_id(importer.tree.dest)
    if link != dest_id and not link.startswith(dest_id + "/"):
        return None
    return importer.tree.old_base + rdf.encode_path(link[len(dest_id):])


def _authorization_files(directory: Path) -> list[Path]:
    """The RDF files under a Fedora 4 ACL's directory, in name order (depth first)."""
    out: list[Path] = []
    for top, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if os.path.splitext(name)[1] in layout.EXT_MEDIA:
                out.append(Path(top) / name)
                if len(out) > MAX_AUTHORIZATIONS:
                    raise BadInput(f"{directory}: more than {MAX_AUTHORIZATIONS} authorizations in one Fedora 4 "
                                   "ACL: refusing it")
    return out

