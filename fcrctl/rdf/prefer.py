"""The Prefer header of LDP and Fedora: which triples a read includes, and what the server says it applied"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fcrctl.rdf.vocab import FCREPO, FEDORA, LDP

if TYPE_CHECKING:
    from fcrctl.repository.base import RdfPrefs


# Prefer URIs of Fedora 4/5 and 6 (both are accepted; responses echo what was asked).
PREFER_CONTAINMENT = LDP + "PreferContainment"
PREFER_MEMBERSHIP = LDP + "PreferMembership"
PREFER_MINIMAL_CONTAINER = LDP + "PreferMinimalContainer"
PREFER_SERVER_MANAGED = (FEDORA + "ServerManaged", FCREPO + "ServerManaged")
PREFER_INBOUND = (FEDORA + "InboundReferences", FCREPO + "PreferInboundReferences")
PREFER_EMBED = (FEDORA + "EmbedResources", "http://www.w3.org/ns/oa#PreferContainedDescriptions")


def parse_prefer(header: str | None, *, dialect: str = "fedora4") -> tuple[RdfPrefs, str | None]:
    """A Prefer header -> (read preferences, Preference-Applied value or None).

    An explicit ``include`` of containment or membership wins over ``PreferMinimalContainer``
    (every Fedora's LdpPreferTag). Containment triples are server-managed in Fedora 5.1 and 6, so
    omitting ServerManaged omits them too (and, in 6, membership), unless included; 4.7 kept both."""
    from fcrctl.repository.base import RdfPrefs

    if not header:
        return RdfPrefs(), None
    text = header.strip()
    match = re.search(r"return\s*=\s*(representation|minimal)", text)
    if not match:
        return RdfPrefs(), None
    if match.group(1) == "minimal":
        return RdfPrefs(containment=False, membership=False), "return=minimal"
    include = set(_quoted(text, "include"))
    omit = set(_quoted(text, "omit"))
    minimal_container = PREFER_MINIMAL_CONTAINER in include
    no_managed = bool(omit.intersection(PREFER_SERVER_MANAGED))
    prefs = RdfPrefs(
        containment=PREFER_CONTAINMENT in include or (
            PREFER_CONTAINMENT not in omit and not minimal_container
            and not (no_managed and dialect in ("fedora5", "fedora6"))),
        membership=PREFER_MEMBERSHIP in include or (
            PREFER_MEMBERSHIP not in omit and not minimal_container and not (no_managed and dialect == "fedora6")),
        server_managed=not no_managed,
        inbound=bool(include.intersection(PREFER_INBOUND)),
        embed_children=bool(include.intersection(PREFER_EMBED)),
    )
    applied = "return=representation"
    if include:
        applied += f'; include="{" ".join(sorted(include))}"'
    if omit:
        applied += f'; omit="{" ".join(sorted(omit))}"'
    return prefs, applied


def omits_own_triples(header: str | None) -> bool:
    """``omit="ldp:PreferMinimalContainer"``: leave out the resource's own triples, user and server-managed,
    keeping containment and membership (Fedora 6's LdpTriplePreferences.displayUserRdf/displayServerManaged)."""
    if not header or not re.search(r"return\s*=\s*representation", header):
        return False
    return PREFER_MINIMAL_CONTAINER in _quoted(header, "omit")


def _quoted(text: str, key: str) -> list[str]:
    match = re.search(key + r'\s*=\s*"([^"]*)"', text)
    return match.group(1).split() if match else []


def prefer_header(prefs: RdfPrefs) -> str:
    """The Prefer header (Fedora 4 URIs, which Fedora 5 and 6 also accept) for ``prefs``."""
    include: list[str] = []
    omit: list[str] = []
    (omit if not prefs.containment else include).append(PREFER_CONTAINMENT)
    (omit if not prefs.membership else include).append(PREFER_MEMBERSHIP)
    if not prefs.server_managed:
        omit.append(PREFER_SERVER_MANAGED[0])
    if prefs.inbound:
        include.append(PREFER_INBOUND[0])
    if prefs.embed_children:
        include.append(PREFER_EMBED[0])
    header = "return=representation"
    if include:
        header += f'; include="{" ".join(include)}"'
    if omit:
        header += f'; omit="{" ".join(omit)}"'
    return header
