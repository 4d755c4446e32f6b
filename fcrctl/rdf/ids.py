"""Translating between internal ids (info:fedora/a/b) and URLs ({base}/a/b), in paths and in graphs"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fcrctl.errors import BadInput
from fcrctl.paths import ROOT_ID
from fcrctl.rdf.vocab import new_graph

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node


# Relative IRIs cannot be resolved against "info:fedora/..." (no hierarchy), so internal-id
# bases are parsed against this stand-in URL and rewritten back afterwards.
_SYNTHETIC_BASE = "http://fcrctl.invalid"


def _parse_base(base: str) -> tuple[str, str | None]:
    """The base to hand rdflib, and the URL prefix to rewrite to ids afterwards (if any)."""
    if base == ROOT_ID or base.startswith(ROOT_ID + "/"):
        return _SYNTHETIC_BASE + base[len(ROOT_ID) :], _SYNTHETIC_BASE
    return base, None


def encode_path(rest: str) -> str:
    """A repository path (or id tail) as it goes into a URL: ``%`` and ``?`` escaped, so the URL
    names the same resource again (``#`` cannot be in a path: it starts a fragment here)."""
    head, sep, fragment = rest.partition("#")
    if "%" in head or "?" in head:
        head = head.replace("%", "%25").replace("?", "%3F")
    return head + sep + fragment


def decode_path(rest: str) -> str:
    """The inverse of ``encode_path`` for a URL's path part (any escape decoded, UTF-8 strictly)."""
    head, sep, fragment = rest.partition("#")
    if "%" in head:
        from urllib.parse import unquote

        try:
            head = unquote(head, errors="strict")
        except UnicodeDecodeError:
            raise BadInput(f"{rest[:200]!r} is not UTF-8 once percent-decoded") from None
    return head + sep + fragment


def _rewrite(graph: Graph, old: str, new: str) -> Graph:
    from rdflib import URIRef

    old = old.rstrip("/")
    recode = decode_path if new == ROOT_ID else encode_path if old == ROOT_ID else None

    def term(node: Node) -> Node:
        if isinstance(node, URIRef):
            value = str(node)
            if value == old or value.startswith((old + "/", old + "#")):
                rest = value[len(old) :]
                if rest == "/":
                    rest = ""
                rest = re.sub(r"/fcr:metadata(?=$|#)", "", rest) if new == ROOT_ID else rest
                return URIRef(new + (recode(rest) if recode else rest))
        return node

    out = new_graph()
    for s, p, o in graph:
        out.add((term(s), p, term(o)))
    return out


def to_internal(graph: Graph, base_url: str) -> Graph:
    """Rewrite ``{base_url}/a/b`` to ``info:fedora/a/b`` (``.../fcr:metadata`` names the binary)."""
    return _rewrite(graph, base_url, ROOT_ID)


def to_external(graph: Graph, base_url: str) -> Graph:
    """Rewrite ``info:fedora/a/b`` to ``{base_url}/a/b``; a no-op when base_url is info:fedora."""
    if base_url.rstrip("/") == ROOT_ID:
        return graph
    return _rewrite(graph, ROOT_ID, base_url.rstrip("/"))


def url_to_id(url: str, base_url: str) -> str | None:
    """One URL -> internal id, or None when it is outside the repository."""
    base = base_url.rstrip("/")
    if url == base or url == base + "/":
        return ROOT_ID
    if url.startswith(base + "/"):
        return ROOT_ID + decode_path(url[len(base) :])
    return None


def id_to_url(fedora_id: str, base_url: str) -> str:
    return base_url.rstrip("/") + encode_path(fedora_id[len(ROOT_ID) :])


def referenced_ids(graph: Graph) -> set[str]:
    """Internal ids that the graph's objects point at (for the inbound-reference index)."""
    out: set[str] = set()
    for _, _, o in graph:
        value = str(o)
        if value == ROOT_ID or value.startswith(ROOT_ID + "/"):
            out.add(value.split("#", 1)[0])
    return out
