"""HTTP header building and parsing for the Fedora API: Link, ETag, Allow, Digest, Prefer...

Parsing is delegated to werkzeug.http and requests.utils; this module only knows which
Fedora/LDP values go in which header.
"""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.http import parse_accept_header, parse_dict_header, parse_options_header

from fcrctl.errors import BadInput
from fcrctl.repository.base import (
    BASIC_CONTAINER,
    CONTAINER_MODELS,
    FEDORA,
    LDP,
    NON_RDF_SOURCE,
    ResourceInfo,
)
from fcrctl.server.constraints import AclLinkRefused, ExternalContentRefused, InvalidInteractionModel

if TYPE_CHECKING:
    from fcrctl.server.context import Context

LDP_RESOURCE = LDP + "Resource"
RDF_SOURCE = LDP + "RDFSource"
CONTAINER = LDP + "Container"
MEMENTO = "http://mementoweb.org/ns#"
EXTERNAL_CONTENT_REL = "http://fedora.info/definitions/fcrepo#ExternalContent"
TX_ENDPOINT_REL = "http://fedora.info/definitions/v4/transaction#endpoint"
SPARQL_UPDATE = "application/sparql-update"
MODELS_BY_URI = {m: m for m in (*CONTAINER_MODELS, NON_RDF_SOURCE)}

# RFC 3230 digest names (as Fedora accepts them) <-> the protocol's algorithm names
DIGEST_NAMES = {
    "sha": "sha1",
    "sha-1": "sha1",
    "sha1": "sha1",
    "sha-256": "sha256",
    "sha256": "sha256",
    "sha-512": "sha512",
    "sha512": "sha512",
    "md5": "md5",
}
RFC3230_NAMES = {"sha1": "sha", "sha256": "sha-256", "sha512": "sha-512", "md5": "md5"}
DIGEST_HEX_LENGTHS = {"sha1": 40, "sha256": 64, "sha512": 128, "md5": 32}

CONTAINER_METHODS = ("MOVE", "COPY", "DELETE", "POST", "HEAD", "GET", "PUT", "PATCH", "OPTIONS")
BINARY_METHODS = ("MOVE", "COPY", "DELETE", "HEAD", "GET", "PUT", "OPTIONS")
DESCRIPTION_METHODS = ("HEAD", "GET", "PUT", "PATCH", "OPTIONS")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Fedora 4.7's Allow values (FedoraLdp.addLinkAndOptionsHttpHeaders)
FEDORA4_BINARY_METHODS = ("DELETE", "HEAD", "GET", "PUT", "OPTIONS")
FEDORA4_DESCRIPTION_METHODS = ("HEAD", "GET", "DELETE", "PUT", "PATCH", "OPTIONS")


def uri(url: str) -> str:
    """An IRI made safe for a header (headers are Latin-1): non-ASCII percent-encoded."""
    from werkzeug.urls import iri_to_uri

    return url if url.isascii() else iri_to_uri(url)


def link(url: str, rel: str, **params: str) -> str:
    extra = "".join(f'; {key}="{uri(value)}"' for key, value in params.items())
    return f'<{uri(url)}>; rel="{rel}"{extra}'


@functools.cache
def type_links(model: str, *, description: bool = False) -> tuple[str, ...]:
    """rel="type" links for every LDP type the resource has (as Fedora sends them)."""
    types = [LDP_RESOURCE]
    if description:
        types.append(RDF_SOURCE)
    elif model == NON_RDF_SOURCE:
        types.append(NON_RDF_SOURCE)
    else:
        types += [RDF_SOURCE, CONTAINER, model if model in CONTAINER_MODELS else BASIC_CONTAINER]
    return tuple(link(uri, "type") for uri in types)


def group_links(ctx: Context, info: ResourceInfo, description: bool = False) -> tuple[str, ...]:
    """Fedora 6's archival-group links: an archival group's rel="type" fedora:ArchivalGroup (not in its RDF:
    FedoraResourceImpl.getSystemTypes), and a member's (its description's too) rel="archival-group" link to
    its group (ContentExposingResource.addArchiveGroupLinkHeader)."""
    if ctx.config.dialect != "fedora6":
        return ()
    if info.archival_group and not description:
        return (link(ARCHIVAL_GROUP, "type"),)
    return (link(ctx.url(info.group), ARCHIVAL_GROUP_REL),) if info.group else ()


MEMENTO_TYPE_LINKS = (link(MEMENTO + "OriginalResource", "type"), link(MEMENTO + "TimeGate", "type"))


def etag(info: ResourceInfo, *, weak: bool) -> str:
    """Fedora's ETags: weak for RDF sources (their serialisation varies), strong for binaries."""
    token = info.etag.strip('"')
    return f'W/"{token}"' if weak else f'"{token}"'


def allow(methods: tuple[str, ...], *, writable: bool) -> str:
    return ",".join(m for m in methods if writable or m in READ_METHODS)


def accept_post(rdf_types: list[str]) -> str:
    return ",".join([*rdf_types, SPARQL_UPDATE])


def parse_links(values: list[str]) -> list[dict[str, str]]:
    """All links of the request's Link headers, each as a dict with "url" and its parameters."""
    from requests.utils import parse_header_links

    out: list[dict[str, str]] = []
    for value in values:
        out += parse_header_links(value)
    return out


def interaction_model(links: list[dict[str, str]]) -> str | None:
    """The LDP model asked for with Link: <ldp:...>; rel="type" (None when not given)."""
    for item in links:
        if item.get("rel") == "type" and item.get("url") in MODELS_BY_URI:
            return item["url"]
    return None


ARCHIVAL_GROUP = FEDORA + "ArchivalGroup"
ARCHIVAL_GROUP_REL = "archival-group"  # Fedora 6 links a member to its group (addArchiveGroupLinkHeader)
# rel="type" links Fedora 6 takes beside the interaction models (FedoraLdp.checkInteractionModel):
# ArchivalGroup (a new container is made one) and OriginalResource (every resource is versioned anyway)
FEDORA6_OTHER_TYPES = frozenset({ARCHIVAL_GROUP, MEMENTO + "OriginalResource"})
# Fedora 5.1's FedoraLdp.checkInteractionModel skips only the versioning type (no archival groups in 5.x)
FEDORA5_OTHER_TYPES = frozenset({MEMENTO + "OriginalResource"})


def asks_archival_group(links: list[dict[str, str]]) -> bool:
    """Whether the request names fedora:ArchivalGroup as a rel="type" (Fedora 6: a new container is made one)."""
    return any(item.get("rel") == "type" and item.get("url") == ARCHIVAL_GROUP for item in links)


OVERWRITE_TOMBSTONE = "Overwrite-Tombstone"


def overwrite_tombstone(value: str | None) -> bool:
    """Whether an ``Overwrite-Tombstone`` header lets a PUT write over the tombstone at its path (Fedora 6.5,
    FedoraLdp.createOrReplaceObjectRdf): ``true`` in any case; any other value is false, as Java's
    Boolean.parseBoolean reads it, and the tombstone answers 410 as without the header."""
    return value is not None and value.strip().lower() == "true"


def check_no_acl_link(links: list[dict[str, str]]) -> None:
    """Fedora 6 refuses (400) a creation naming its ACL (CreateResourceServiceImpl.checkAclLinkHeader)."""
    if any(item.get("rel") == "acl" for item in links):
        raise AclLinkRefused('a Link rel="acl" cannot be given: the new resource\'s ACL is its fcr:acl')


def check_fedora6_types(links: list[dict[str, str]], other: frozenset[str] = FEDORA6_OTHER_TYPES) -> None:
    """Fedora 6 (and 5.1, with ``other`` FEDORA5_OTHER_TYPES) refuses (400) a rel="type" it cannot
    create: ldp:RDFSource, ldp:Container, ldp:Resource..."""
    for item in links:
        url = item.get("url", "")
        if item.get("rel") == "type" and url not in MODELS_BY_URI and url not in other:
            raise InvalidInteractionModel(
                f"invalid interaction model {url}: use ldp:BasicContainer, ldp:DirectContainer, "
                "ldp:IndirectContainer or ldp:NonRDFSource"
            )


def external_content(links: list[dict[str, str]]) -> dict[str, str] | None:
    found = [item for item in links if item.get("rel") == EXTERNAL_CONTENT_REL]
    if len(found) > 1:
        raise ExternalContentRefused("more than one ExternalContent link: give exactly one")
    if not found:
        return None
    item = found[0]
    handling = item.get("handling", "").lower()
    if handling not in ("copy", "redirect", "proxy"):
        got = handling or "none"
        raise ExternalContentRefused(f'ExternalContent link needs handling="copy|redirect|proxy", got {got!r}')
    return {"url": item["url"], "handling": handling, "type": item.get("type", "")}


def _hex_digest(algorithm: str, value: str) -> str:
    value = value.strip().strip('"')
    want = DIGEST_HEX_LENGTHS[algorithm]
    if len(value) == want and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    try:  # RFC 3230 proper uses base64; Fedora uses hex. Accept both.
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) * 2 == want:
        return raw.hex()
    # keep the value: the repository will report the mismatch (409) rather than a 400
    return value.lower()


def parse_digest(header: str | None) -> dict[str, str]:
    """``Digest: sha=<hex>, sha-256=<hex>`` -> {"sha1": hex, "sha256": hex}; BadInput for unknown algorithms."""
    if not header:
        return {}
    out: dict[str, str] = {}
    for name, value in parse_dict_header(header).items():
        algorithm = DIGEST_NAMES.get(name.strip().lower())
        if algorithm is None:
            raise BadInput(f"unsupported digest algorithm {name!r} in Digest header: use sha, sha-256, sha-512 or md5")
        if not value:
            raise BadInput(f"Digest header gives no value for {name!r}")
        out[algorithm] = _hex_digest(algorithm, value)
    return out


def parse_checksum_param(value: str | None) -> dict[str, str]:
    """Fedora 4's ``?checksum=urn:sha1:<hex>`` query parameter."""
    if not value:
        return {}
    parts = value.split(":")
    if len(parts) != 3 or parts[0].lower() != "urn" or parts[1].lower() not in DIGEST_NAMES:
        raise BadInput(f"checksum {value!r} is not of the form urn:sha1:<hex>")
    algorithm = DIGEST_NAMES[parts[1].lower()]
    return {algorithm: _hex_digest(algorithm, parts[2])}


def parse_want_digest(header: str) -> list[str]:
    """Algorithms a Want-Digest header asks for, best first; BadInput if none is supported."""
    wanted = [DIGEST_NAMES.get(name.lower()) for name, quality in parse_accept_header(header) if quality > 0]
    known = list(dict.fromkeys(a for a in wanted if a))
    if not known:
        raise BadInput(f"Want-Digest {header!r} names no supported algorithm: use sha-512, sha-256, sha or md5")
    return known


def digest_header(digests: dict[str, str]) -> str:
    return ", ".join(f"{RFC3230_NAMES[a]}={value}" for a, value in digests.items())


def filename_from_disposition(header: str | None) -> str | None:
    if not header:
        return None
    _, options = parse_options_header(header)
    name = options.get("filename")
    if name and "\ufffd" in name:  # werkzeug decodes filename* lossily: keep the bytes, as names.py says
        name = _extended_filename(header) or name
    return name or None


def _extended_filename(header: str) -> str | None:
    """An RFC 8187 ``filename*`` whose bytes are not all UTF-8, with those bytes as %XX."""
    from email.message import Message
    from email.utils import collapse_rfc2231_value

    from fcrctl.names import utf8_name

    message = Message()
    message["Content-Disposition"] = header
    raw = message.get_param("filename", header="content-disposition")
    if not isinstance(raw, tuple):
        return None
    return utf8_name(collapse_rfc2231_value(raw, errors="surrogateescape"))


def content_disposition(info: ResourceInfo) -> str:
    from werkzeug.http import http_date

    raw = info.filename or info.name
    name = raw.encode("ascii", "replace").decode("ascii").replace("\\", "\\\\").replace('"', '\\"')
    parts = [f'attachment; filename="{name}"']
    if not raw.isascii():  # RFC 6266: the exact name, UTF-8 encoded, for clients that read filename*
        parts.append(f"filename*=UTF-8''{quote(raw, safe='')}")
    parts += [
        f'creation-date="{http_date(info.created)}"',
        f'modification-date="{http_date(info.modified)}"',
    ]
    if info.size is not None:
        parts.append(f"size={info.size}")
    return "; ".join(parts)


def prefers_lenient(header: str | None) -> bool:
    """True for ``Prefer: handling=lenient; received="minimal"``."""
    if not header:
        return False
    for preference in header.split(","):
        value, options = parse_options_header(preference)
        if value.replace(" ", "").lower() == "handling=lenient":
            return True
        if options.get("handling", "").lower() == "lenient":
            return True
    return False


def to_seconds(moment: datetime) -> datetime:
    """HTTP dates have whole seconds: compare at that precision."""
    return moment.replace(microsecond=0)
