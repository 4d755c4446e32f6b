"""The .headers sidecars export writes: the response headers Fedora sends for each kind of resource"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcrctl.repository.base import LDP, NON_RDF_DESCRIPTION
from fcrctl.services.transfer import layout

if TYPE_CHECKING:
    from fcrctl.repository.base import ResourceInfo


def common(info: ResourceInfo) -> dict[str, list[str]]:
    from fcrctl.repository.http.wire import http_date

    return {"ETag": [f'W/"{info.etag}"' if info.etag and not info.etag.startswith(("W/", '"')) else info.etag],
            "Last-Modified": [http_date(info.modified)]}


def container(info: ResourceInfo, mime: str) -> dict[str, list[str]]:
    links = [layout.link_header(LDP + "Resource", "type"), layout.link_header(LDP + "RDFSource", "type"),
             layout.link_header(LDP + "Container", "type"), layout.link_header(info.model, "type")]
    return {**common(info), "Content-Type": [mime], "Link": links}


def binary(info: ResourceInfo, url: str) -> dict[str, list[str]]:
    """A binary's (``url``: its URL), external content's Location / Content-Location included."""
    from fcrctl.repository.http.wire import content_disposition

    links = [layout.link_header(LDP + "Resource", "type"), layout.link_header(LDP + "NonRDFSource", "type"),
             layout.link_header(url + "/fcr:metadata", "describedby")]
    out = {**common(info), "Link": links, "Content-Type": [info.mime_type or "application/octet-stream"]}
    if info.filename:
        out["Content-Disposition"] = [content_disposition(info.filename)]
    if info.size is not None and info.size >= 0:
        out["Content-Length"] = [str(info.size)]
    if info.digests:
        from fcrctl.repository.http.dialect import WIRE_DIGESTS

        out["Digest"] = [", ".join(f"{WIRE_DIGESTS[a]}={h}" for a, h in sorted(info.digests.items())
                                   if a in WIRE_DIGESTS)]
    if info.external_url is not None and info.external_handling in ("redirect", "proxy"):
        out["Content-Location"] = [info.external_url]
        if info.external_handling == "redirect":
            out["Location"] = [info.external_url]
    return out


def description(info: ResourceInfo, mime: str, url: str) -> dict[str, list[str]]:
    """A binary's description's (``url``: the binary's URL)."""
    links = [layout.link_header(LDP + "RDFSource", "type"), layout.link_header(NON_RDF_DESCRIPTION, "type"),
             layout.link_header(url, "describes")]
    return {**common(info), "Content-Type": [mime], "Link": links}
