"""Reading and writing the Fedora-specific HTTP headers (Link, Digest, dates, filenames).

Parsing is delegated to libraries (email's header and date parsers, werkzeug's header writer);
this module only knows what Fedora puts in them, and reads a Link header as requests'
parse_header_links reads it (a test compares them: requests is not imported to read one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import BinaryIO
from urllib.parse import unquote_to_bytes

from fcrctl.names import utf8_bytes_name, utf8_name
from fcrctl.repository.base import (
    BASIC_CONTAINER,
    DIRECT_CONTAINER,
    INDIRECT_CONTAINER,
    LDP,
    NON_RDF_SOURCE,
    Conditions,
)
from fcrctl.repository.http.dialect import ARCHIVAL_GROUP, FROM_WIRE, WIRE_DIGESTS

EXTERNAL_CONTENT_REL = "http://fedora.info/definitions/fcrepo#ExternalContent"
_HEX_LENGTHS = {"sha512": 128, "sha256": 64, "sha1": 40, "md5": 32}


@dataclass
class Headers:
    """What a Fedora response's headers say about a resource."""

    links: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # rel -> link dicts
    etag: str = ""
    last_modified: datetime | None = None
    content_type: str | None = None
    content_length: int | None = None
    filename: str | None = None
    digests: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    no_own_acl: bool = False  # serve's Fcrctl-Own-Acl: none (server/reads.py): the resource has no ACL of its own

    @property
    def types(self) -> set[str]:
        return {link["url"] for link in self.links.get("type", [])}

    def link(self, rel: str) -> str | None:
        found = self.links.get(rel)
        return found[0]["url"] if found else None

    @property
    def model(self) -> str:
        types = self.types
        # Some Fedora 5 builds spell it "NonRDFSsource"; the suffix is what matters.
        if any(t.endswith("#NonRDFSource") or t.endswith("#NonRDFSsource") for t in types):
            return NON_RDF_SOURCE
        for model in (DIRECT_CONTAINER, INDIRECT_CONTAINER, BASIC_CONTAINER):
            if model in types:
                return model
        return BASIC_CONTAINER

    @property
    def archival_group(self) -> bool:
        return ARCHIVAL_GROUP in self.types

    @property
    def is_fedora(self) -> bool:
        return any(t.startswith(LDP) for t in self.types)


_LINK_QUOTES = " '\""


def header_links(value: str) -> list[dict[str, str]]:
    """A Link header's links, each ``{"url": ..., param: value}``, as requests.utils.parse_header_links
    gives them (its every quirk kept: an ``ls`` over http imports no requests to read one)."""
    links: list[dict[str, str]] = []
    value = value.strip(_LINK_QUOTES)
    if not value:
        return links
    for item in re.split(", *<", value):
        url, _, params = item.partition(";")
        link = {"url": url.strip("<> '\"")}
        for param in params.split(";"):
            key_value = param.split("=")
            if len(key_value) != 2:
                break
            link[key_value[0].strip(_LINK_QUOTES)] = key_value[1].strip(_LINK_QUOTES)
        links.append(link)
    return links


def parse_links(value: str | None) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    if not value:
        return out
    for link in header_links(value):
        url = link.get("url", "").strip().strip('"')
        link["url"] = url
        for rel in (link.get("rel") or "").split():
            out.setdefault(rel, []).append(link)
    return out


def parse_headers(headers: Mapping[str, str]) -> Headers:
    out = Headers(links=parse_links(headers.get("Link")))
    out.etag = headers.get("ETag") or ""
    modified = headers.get("Last-Modified")
    if modified:
        out.last_modified = parse_http_date(modified)
    out.content_type = headers.get("Content-Type")
    length = headers.get("Content-Length")
    if length and length.isdigit():
        out.content_length = int(length)
    content_range = headers.get("Content-Range")
    if content_range:
        match = re.search(r"/(\d+)\s*$", content_range)
        if match:
            out.content_length = int(match.group(1))
    disposition = headers.get("Content-Disposition")
    if disposition:
        out.filename = filename_of(disposition)
    out.digests = parse_digest(headers.get("Digest"))
    out.location = headers.get("Location")
    out.no_own_acl = headers.get("Fcrctl-Own-Acl") == "none"
    return out


def parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def http_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value.astimezone(UTC), usegmt=True)


def filename_of(disposition: str) -> str | None:
    """The filename, preferring RFC 6266's UTF-8 ``filename*`` over the ASCII fallback."""
    from werkzeug.http import parse_options_header

    star = re.search(r"filename\*\s*=\s*UTF-8''([^;\s]+)", disposition, re.IGNORECASE)
    if star:  # the names.py rule: bytes that are not UTF-8 become %XX (werkzeug would make them U+FFFD)
        return utf8_bytes_name(unquote_to_bytes(star[1])) or None
    return parse_options_header(disposition)[1].get("filename") or None


def content_disposition(filename: str) -> str:
    """``attachment; filename=...``; a non-ASCII name also goes as RFC 6266 ``filename*`` (headers are latin-1)."""
    from urllib.parse import quote

    from werkzeug.http import dump_options_header

    if filename.isascii():
        return dump_options_header("attachment", {"filename": filename})
    filename = utf8_name(filename)  # the names.py rule: bytes that are not UTF-8 go as %XX
    fallback = filename.encode("ascii", "replace").decode("ascii")
    return dump_options_header("attachment", {"filename": fallback}) + f"; filename*=UTF-8''{quote(filename, safe='')}"


def parse_digest(value: str | None) -> dict[str, str]:
    """``Digest: sha-256=HEX, md5=BASE64`` -> {"sha256": hex, "md5": hex}.

    Fedora writes hex; RFC 3230 says base64. Both are accepted.
    """
    out: dict[str, str] = {}
    if not value:
        return out
    for item in value.split(","):
        name, sep, encoded = item.strip().partition("=")
        algorithm = FROM_WIRE.get(name.strip().lower())
        if not sep or algorithm is None:
            continue
        encoded = encoded.strip().strip('"')
        hex_length = _HEX_LENGTHS[algorithm]
        if re.fullmatch(r"[0-9a-fA-F]+", encoded) and len(encoded) == hex_length:
            out[algorithm] = encoded.lower()
            continue
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) * 2 == hex_length:
            out[algorithm] = raw.hex()
    return out


def digest_header(digests: Mapping[str, str], supported: Iterable[str]) -> str | None:
    """The ``Digest`` request header for the expected digests the server can verify (hex, as
    the Fedora seeds show)."""
    wanted = [f"{WIRE_DIGESTS[a]}={digests[a].lower()}" for a in supported if a in digests]
    return ", ".join(wanted) or None


def want_digest_header(algorithms: Iterable[str]) -> str:
    return ", ".join(WIRE_DIGESTS[a] for a in algorithms)


def link_header(url: str, rel: str, **params: str) -> str:
    extra = "".join(f'; {key}="{value}"' for key, value in params.items())
    return f'<{url}>; rel="{rel}"{extra}'


def condition_headers(conditions: Conditions) -> dict[str, str]:
    headers: dict[str, str] = {}
    if conditions.if_match:
        headers["If-Match"] = _quote_etag(conditions.if_match)
    if conditions.if_none_match:
        headers["If-None-Match"] = _quote_etag(conditions.if_none_match)
    if conditions.if_unmodified_since:
        headers["If-Unmodified-Since"] = http_date(conditions.if_unmodified_since)
    return headers


def _quote_etag(value: str) -> str:
    value = value.strip()
    if value == "*" or value.startswith('"') or value.startswith('W/"'):
        return value
    return f'"{value}"'


class HashingReader:
    """A read-only stream over ``source`` that hashes what passes through it.

    ``len()`` is the number of bytes left (when known), so requests sends Content-Length and
    streams the body instead of buffering it.
    """

    def __init__(self, source: BinaryIO, algorithms: Iterable[str], length: int | None) -> None:
        self._source = source
        self._hashes = {a: hashlib.new(_HASHLIB_NAMES[a]) for a in algorithms}
        self.length = length
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size if size and size > 0 else 1 << 20)
        if chunk:
            for digest in self._hashes.values():
                digest.update(chunk)
            self.bytes_read += len(chunk)
        return chunk

    def __len__(self) -> int:
        return max(0, (self.length or 0) - self.bytes_read)

    def hexdigests(self) -> dict[str, str]:
        return {a: h.hexdigest() for a, h in self._hashes.items()}


_HASHLIB_NAMES = {"sha512": "sha512", "sha256": "sha256", "sha1": "sha1", "md5": "md5"}


def remaining_length(stream: BinaryIO) -> int | None:
    """Bytes left in a seekable stream, None when it cannot tell (pipes, sockets)."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, 2)
        stream.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def hash_stream(stream: BinaryIO, algorithms: Iterable[str]) -> dict[str, str]:
    """Hash a seekable stream from its current position, then rewind to that position."""
    here = stream.tell()
    hashes = {a: hashlib.new(_HASHLIB_NAMES[a]) for a in algorithms}
    while chunk := stream.read(1 << 20):
        for digest in hashes.values():
            digest.update(chunk)
    stream.seek(here)
    return {a: h.hexdigest() for a, h in hashes.items()}
