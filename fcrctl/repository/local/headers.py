"""Fedora 6 headers JSON (``.fcrepo/*.json``) <-> ResourceInfo, and logical paths in objects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fcrctl import paths
from fcrctl.names import utf8_name
from fcrctl.repository.base import NON_RDF_DESCRIPTION, NON_RDF_SOURCE, ResourceInfo

HEADERS_VERSION = "1.0"
# Fedora 6 spells digests as URNs; older roots used "urn:sha512:", newer "urn:sha-512:".
_URN_TO_ALG = {"sha512": "sha512", "sha-512": "sha512", "sha256": "sha256", "sha-256": "sha256",
               "sha1": "sha1", "sha-1": "sha1", "sha": "sha1", "md5": "md5"}
_ALG_TO_URN = {"sha512": "sha-512", "sha256": "sha-256", "sha1": "sha1", "md5": "md5"}


def parse_digests(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for urn in values or []:
        parts = urn.split(":")
        if len(parts) == 3 and parts[0] == "urn" and parts[1].lower() in _URN_TO_ALG:
            out[_URN_TO_ALG[parts[1].lower()]] = parts[2].lower()
    return out


def digest_urns(digests: dict[str, str]) -> list[str]:
    order = ("sha512", "sha256", "sha1", "md5")
    return [f"urn:{_ALG_TO_URN[alg]}:{digests[alg]}" for alg in order if alg in digests]


def parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    parsed = datetime.fromisoformat(value)  # since 3.11: "Z", and the 1-9 fraction digits Fedora writes
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_state_token() -> str:
    return uuid.uuid4().hex.upper()


def to_info(headers: dict, *, has_children: bool = False) -> ResourceInfo:
    model = headers.get("interactionModel") or ""
    binary = model == NON_RDF_SOURCE
    return ResourceInfo(
        path=paths.from_id(headers["id"]),
        model=model,
        etag=headers.get("stateToken") or "",
        created=parse_time(headers.get("createdDate")),
        modified=parse_time(headers.get("lastModifiedDate") or headers.get("createdDate")),
        created_by=headers.get("createdBy"),
        modified_by=headers.get("lastModifiedBy"),
        mime_type=headers.get("mimeType") if binary else None,
        filename=(utf8_name(headers.get("filename") or "") or None) if binary else None,
        size=headers.get("contentSize") if binary else None,
        digests=parse_digests(headers.get("digests")) if binary else {},
        external_url=headers.get("externalUrl"),
        external_handling=headers.get("externalHandling"),
        archival_group=bool(headers.get("archivalGroup")),
        has_children=has_children,
        group=paths.from_id(headers["archivalGroupId"]) if headers.get("archivalGroupId") else None,
    )


# -- logical paths inside an OCFL object (Fedora 6 layout) ------------------------------------


def relative_name(object_id: str, resource_id: str) -> str:
    """Path of a resource inside its object: "" for the object's root resource."""
    if resource_id == object_id:
        return ""
    return resource_id[len(object_id) + 1 :]


def headers_path(object_id: str, resource_id: str) -> str:
    rel = relative_name(object_id, resource_id)
    return ".fcrepo/fcr-root.json" if rel == "" else f".fcrepo/{rel}.json"


def desc_headers_path(object_id: str, resource_id: str) -> str:
    rel = relative_name(object_id, resource_id)
    return ".fcrepo/fcr-root~fcr-desc.json" if rel == "" else f".fcrepo/{rel}~fcr-desc.json"


def container_content_path(object_id: str, resource_id: str) -> str:
    rel = relative_name(object_id, resource_id)
    return "fcr-container.nt" if rel == "" else f"{rel}/fcr-container.nt"


def binary_content_path(object_id: str, resource_id: str) -> str:
    rel = relative_name(object_id, resource_id)
    return resource_id.rsplit("/", 1)[-1] if rel == "" else rel


def desc_content_path(object_id: str, resource_id: str) -> str:
    return binary_content_path(object_id, resource_id) + "~fcr-desc.nt"


def is_description(headers: dict) -> bool:
    return headers.get("interactionModel") == NON_RDF_DESCRIPTION or str(headers.get("id", "")).endswith(
        "/" + paths.METADATA
    )


def is_acl(headers: dict) -> bool:
    return str(headers.get("id", "")).endswith("/fcr:acl")


ACL_MODEL = "http://fedora.info/definitions/v4/webac#Acl"


def acl_headers_path(object_id: str, resource_id: str) -> str:
    rel = relative_name(object_id, resource_id)
    return ".fcrepo/fcr-root~fcr-acl.json" if rel == "" else f".fcrepo/{rel}~fcr-acl.json"


def acl_content_path(object_id: str, resource_id: str, *, binary: bool) -> str:
    """``fcr-container~fcr-acl.nt`` beside a container's triples, ``NAME~fcr-acl.nt`` beside a binary."""
    if binary:
        return binary_content_path(object_id, resource_id) + "~fcr-acl.nt"
    return container_content_path(object_id, resource_id)[: -len(".nt")] + "~fcr-acl.nt"
