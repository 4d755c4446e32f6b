"""A WebDAV backup store that answers with hostile data: listings that loop or carry entity
declarations, and bodies far longer than asked for. The store must end, refuse, and hold only
what it asked for in memory (a real HTTP server on 127.0.0.1, not mocks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from fcrctl.errors import BadInput, Unavailable
from fcrctl.services.backup.stores.base import FORMAT, VERSION
from fcrctl.services.backup.stores.directory import DirectoryStore
from fcrctl.services.backup.stores.remote import MARKER
from fcrctl.services.backup.stores.webdav import WebDavStore

Handler = Callable[[Request], Response]


def _listing(*entries: tuple[str, bool], doctype: str = "", href_entity: str = "") -> bytes:
    parts = []
    for href, is_dir in entries:
        kind = "<d:resourcetype><d:collection/></d:resourcetype>" if is_dir else "<d:resourcetype/>"
        parts.append(f"<d:response><d:href>{href_entity or href}</d:href><d:propstat><d:prop>{kind}"
                     f"<d:getcontentlength>1</d:getcontentlength></d:prop></d:propstat></d:response>")
    return (f'<?xml version="1.0"?>{doctype}<d:multistatus xmlns:d="DAV:">{"".join(parts)}'
            f"</d:multistatus>").encode()


@pytest.fixture
def dav() -> Iterator[Callable[..., str]]:
    servers: list[Any] = []

    def start(handler: Handler, marker: str = json.dumps({"format": FORMAT, "version": VERSION})) -> str:
        def app(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            if request.method == "GET" and request.path == f"/dav/{MARKER}":
                response = Response(marker)
            else:
                response = handler(request)
            return response(environ, start_response)

        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/dav"

    yield start
    for server in servers:
        server.shutdown()


def test_a_listing_that_names_its_parent_ends(dav: Callable[..., str]) -> None:
    # /dav/a/ lists /dav/ as a collection (a buggy or hostile server): walking it again would never end
    asked: list[str] = []

    def handler(request: Request) -> Response:
        asked.append(request.path)
        if len(asked) > 20:
            return Response(_listing(), status=207)
        if request.path == "/dav/":
            return Response(_listing(("/dav/", True), ("/dav/a/", True), ("/dav/x", False)), status=207)
        return Response(_listing(("/dav/a/", True), ("/dav/", True), ("/dav/a/y", False)), status=207)

    store = WebDavStore.open(dav(handler))
    assert sorted(store.list("")) == ["a/y", "x"]
    assert len(asked) == 2


def test_a_listing_with_entity_declarations_is_refused(dav: Callable[..., str]) -> None:
    doctype = '<!DOCTYPE d [<!ENTITY a "/dav/packs">]>'

    def handler(request: Request) -> Response:
        return Response(_listing(("/dav/packs", False), doctype=doctype, href_entity="&a;"), status=207)

    store = WebDavStore.open(dav(handler))
    with pytest.raises(Unavailable, match="listing"):
        list(store.list(""))


def test_a_body_longer_than_asked_for_is_not_read_whole(dav: Callable[..., str]) -> None:
    # a range answered 200 with an endless body, and an endless pack: the store stops reading
    sent = [0]

    def endless() -> Iterator[bytes]:
        chunk = b"x" * (1 << 20)
        while sent[0] < (512 << 20):
            sent[0] += len(chunk)
            yield chunk

    def handler(request: Request) -> Response:
        return Response(endless(), status=200, direct_passthrough=True)

    store = WebDavStore.open(dav(handler))
    assert store.get_range("index/a", 10, 5) == b"xxxxx"
    assert sent[0] < (64 << 20)
    sent[0] = 0
    assert store.get_range("packs/p1", 10, 5) == b"xxxxx"
    assert sent[0] < (128 << 20)


@pytest.mark.parametrize("marker", ["[" * 4000, "[1, 2]", '"fcrctl"'])
def test_a_marker_nested_beyond_reason_or_not_an_object_is_bad_input(dav: Callable[..., str], marker: str) -> None:
    store_url = dav(lambda request: Response(status=404), marker=marker)
    with pytest.raises(BadInput, match="unreadable"):
        WebDavStore.open(store_url)


@pytest.mark.parametrize("marker", ["[" * 4000, "[1, 2]"])
def test_a_directory_store_marker_nested_or_not_an_object_is_bad_input(tmp_path: Path, marker: str) -> None:
    (tmp_path / MARKER).write_text(marker)
    with pytest.raises(BadInput, match="unreadable"):
        DirectoryStore.open(str(tmp_path))
