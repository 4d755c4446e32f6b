"""Header readers shared by the tests that turn the Fedora API Test Suite's checks into ours."""

from __future__ import annotations

import requests


def links(response: requests.Response, rel: str) -> list[str]:
    """The targets of the response's Link headers with this rel."""
    return [
        i["url"] for i in requests.utils.parse_header_links(response.headers.get("Link", "")) if i.get("rel") == rel
    ]


def allow(response: requests.Response) -> set[str]:
    """The methods of the response's Allow header."""
    return {m.strip().upper() for m in response.headers.get("Allow", "").split(",")}
