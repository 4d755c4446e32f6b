"""Header readers shared by the tests that turn the Fedora API Test Suite's checks into ours."""

from __future__ import annotations

import requests

# request headers the spec's checks send
LDP = "http://www.w3.org/ns/ldp#"
BASIC = f'<{LDP}BasicContainer>; rel="type"'
NON_RDF = f'<{LDP}NonRDFSource>; rel="type"'
TURTLE = {"Content-Type": "text/turtle"}
AG = "http://fedora.info/definitions/v4/repository#ArchivalGroup"
AG_LINK = f'<{AG}>; rel="type"'


def links(response: requests.Response, rel: str) -> list[str]:
    """The targets of the response's Link headers with this rel."""
    return [
        i["url"] for i in requests.utils.parse_header_links(response.headers.get("Link", "")) if i.get("rel") == rel
    ]


def allow(response: requests.Response) -> set[str]:
    """The methods of the response's Allow header."""
    return {m.strip().upper() for m in response.headers.get("Allow", "").split(",")}
