"""WebDavStore: a backup store on a WebDAV server (Nextcloud, Apache mod_dav, nginx dav, rclone
serve webdav...), ``https://host/path`` (``http://`` only on loopback), through requests.

Keys map to URLs under the store's collection. A value is PUT to ``tmp/<lease>.<uuid>.part``
and MOVEd into place (Overwrite: T), so a key is whole or absent (the next upload or prune
removes what a killed process left there: :meth:`WebDavStore.clean`); collections are made with MKCOL as needed; listing
is PROPFIND Depth 1 per collection (a few hundred requests for a whole store, never one per blob).
Credentials: FCRCTL_STORE_USER / FCRCTL_STORE_PASSWORD from the environment or the
``--store-credentials`` file (HTTP Basic), and/or headers from ``--header-file`` (e.g. a bearer
token); TLS as the HTTP backend does it (--ca-bundle, --insecure). Retries with backoff on 429
and 5xx (honouring Retry-After) and lost connections are urllib3's.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

import defusedxml.ElementTree as defused_et
from defusedxml import DefusedXmlException

from fcrctl.errors import AuthError, BadInput, FcrctlError, NotFound, Unavailable
from fcrctl.services.backup.stores import leases
from fcrctl.services.backup.stores.base import StoreCapabilities
from fcrctl.services.backup.stores.remote import (
    MARKER,
    ErrorMappingStream,
    IteratorReader,
    PackCache,
    check_key,
    check_marker,
    marker_body,
    not_found,
    read_credentials_file,
    read_head,
    retries,
    truncated,
)

PROPFIND_MAX = 64 << 20  # bytes of one PROPFIND answer we parse
HEADER_FILE_MAX = 64 << 10
_PROPFIND_BODY = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/>' \
                 b'<d:getcontentlength/><d:getlastmodified/></d:prop></d:propfind>'
_DAV = "{DAV:}"


def _http_date(text: str | None) -> float | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text).timestamp() if text else None
    except (TypeError, ValueError, IndexError):
        return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_header_file(path: str) -> dict[str, str]:
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as fh:
            data = fh.read(HEADER_FILE_MAX + 1)
    except OSError as e:
        raise BadInput(f"cannot read header file {p}: {e.strerror or e}") from e
    if len(data) > HEADER_FILE_MAX:
        raise BadInput(f"header file {p} is larger than {HEADER_FILE_MAX} bytes")
    out = {}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
            raise BadInput(f"header file {p}, line {n}: expected 'Name: value'")  # the value may be a secret
        out[name.strip()] = value.strip()
    return out


class WebDavStore:
    capabilities = StoreCapabilities(local=False, parallel_writes=8)

    def __init__(self, session: Any, base: str, shown: str, timeout: float,
                 lock_wait: float = leases.DEFAULT_WAIT) -> None:
        self._session = session
        self._base = base.rstrip("/")  # no credentials in it
        self._path = urlsplit(self._base).path.rstrip("/")
        self._timeout = timeout
        self._made: set[str] = set()
        self._lock_wait = lock_wait
        self._lease: str | None = None  # the key of the lease this store object holds
        self._packs = PackCache(self.get)
        self.location = shown

    @classmethod
    def open(cls, url: str, *, create: bool = False, credentials_file: str | None = None,
             header_file: str | None = None, ca_bundle: str | None = None, insecure: bool = False,
             timeout: float | None = None, lock_wait: float | None = None,
             warn: Callable[[str], None] | None = None, **_: Any) -> WebDavStore:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        parts = urlsplit(url)
        if parts.username or parts.password:
            raise BadInput("put no credentials in the store URL (they would show in process lists): set "
                           "FCRCTL_STORE_USER and FCRCTL_STORE_PASSWORD, or use --store-credentials FILE")
        if parts.query or parts.fragment or not parts.hostname:
            raise BadInput(f"{url}: a WebDAV store is a URL of a collection, without query or fragment")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise BadInput(f"{url}: plain http:// is allowed only on loopback (tests); use https://")
        env = read_credentials_file(credentials_file) if credentials_file else os.environ
        session = requests.Session()
        retry = Retry(total=retries(), backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=None, respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=32)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = ca_bundle or not insecure
        if session.verify is False and parts.scheme == "https":
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # ours once, not one per request
            if warn is not None:
                warn(f"--insecure: TLS certificates of the backup store {url.rstrip('/')} are not verified; others on "
                     f"the network can read and change what is stored")
        user, password = env.get("FCRCTL_STORE_USER"), env.get("FCRCTL_STORE_PASSWORD")
        if user:
            session.auth = (user, password or "")
        if header_file:
            session.headers.update(_read_header_file(header_file))
        base = url.rstrip("/")
        store = cls(session, base, base, timeout or 60.0, leases.DEFAULT_WAIT if lock_wait is None else lock_wait)
        store._check(create)
        return store

    # -- requests and their errors -----------------------------------------------------------------
    def _url(self, key: str) -> str:
        return f"{self._base}/{quote(key)}"

    def _request(self, method: str, key: str, *, ok: tuple[int, ...], **kwargs: Any) -> Any:
        import requests

        try:
            resp = self._session.request(method, self._url(key) if key else self._base + "/",
                                         timeout=self._timeout, allow_redirects=False, **kwargs)
        except requests.exceptions.SSLError:
            raise Unavailable(f"TLS failed with the WebDAV store {self.location}: check --ca-bundle") from None
        except requests.exceptions.RequestException as e:
            if isinstance(e, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
                raise Unavailable(f"cannot reach the WebDAV store {self.location}: is it running and the "
                                  f"address right?") from None
            raise Unavailable(f"WebDAV store {self.location}: {key}: {type(e).__name__}") from None
        if resp.status_code in ok:
            return resp
        resp.close()
        raise self._status_error(resp.status_code, method, key)

    def _status_error(self, status: int, method: str, key: str) -> FcrctlError:
        if status in (401, 403):
            return AuthError(f"the WebDAV store {self.location} refused the credentials ({status} for {method}): "
                             f"check FCRCTL_STORE_USER/FCRCTL_STORE_PASSWORD or --header-file")
        if status == 404:
            return not_found(key or "the store collection", self.location)
        if status == 416:
            return truncated(key, self.location)
        if status == 507:
            return Unavailable(f"the WebDAV store {self.location} is out of space (507 for {key})")
        return Unavailable(f"the WebDAV store {self.location} answered {status} to {method} {key or '/'}")

    def _check(self, create: bool) -> None:
        def read() -> bytes:
            with self.get(MARKER, _checked=False) as fh:
                return fh.read(4096)

        def is_empty() -> bool:
            try:
                return next(self.list(""), None) is None
            except NotFound:  # no collection yet: make it
                self._mkcol("")
                return True

        check_marker(self.location, read, is_empty, self._put_marker, create=create)

    def _put_marker(self) -> None:
        self._put_at(MARKER, iter([marker_body()]))

    def _mkcol(self, path: str) -> None:
        """The collection ``path`` (relative to the store; "" the store itself) and its parents."""
        if path in self._made:
            return
        target = self._url(path) + "/" if path else self._base + "/"
        resp = self._session.request("MKCOL", target, timeout=self._timeout, allow_redirects=False)
        resp.close()
        if resp.status_code == 409 and path:  # a parent is missing
            self._mkcol(path.rpartition("/")[0])
            resp = self._session.request("MKCOL", target, timeout=self._timeout, allow_redirects=False)
            resp.close()
        if resp.status_code == 409 and not path:
            raise NotFound(f"the parent collection of {self.location} does not exist: create it first")
        if resp.status_code not in (200, 201, 204, 301, 405):  # 405: it exists
            raise self._status_error(resp.status_code, "MKCOL", path or "/")
        self._made.add(path)

    # -- the BackupStore protocol -----------------------------------------------------------------
    def _put_at(self, key: str, chunks: Iterable[bytes]) -> int:
        it = iter(chunks)
        head, whole = read_head(it)
        counted = [len(head)]

        def body() -> Iterator[bytes]:
            yield head
            for chunk in it:
                counted[0] += len(chunk)
                yield chunk

        owner = leases.lease_id(self._lease) if self._lease else "x"  # whose it is: clean() spares live ones
        tmp = f"tmp/{owner}.{uuid.uuid4().hex}.part"
        self._mkcol("tmp")
        try:
            # a value in one request can be retried; a larger one streams once (a rerun resumes)
            self._request("PUT", tmp, ok=(200, 201, 204), data=head if whole else body())
            parent = key.rpartition("/")[0]
            if parent:
                self._mkcol(parent)
            self._request("MOVE", tmp, ok=(200, 201, 204),
                          headers={"Destination": self._url(key), "Overwrite": "T"})
        except BaseException:
            with contextlib.suppress(Exception):
                self._session.request("DELETE", self._url(tmp), timeout=self._timeout)
            raise
        return counted[0]

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        self._packs.forget(key)
        return self._put_at(check_key(key), chunks)

    def get(self, key: str, *, _checked: bool = True) -> BinaryIO:
        resp = self._request("GET", check_key(key) if _checked else key, ok=(200,), stream=True)
        stream = ErrorMappingStream(IteratorReader(resp.iter_content(1 << 20)), lambda e: self._read_error(e, key),
                                    resp.close)
        return io.BufferedReader(stream, 1 << 20)  # type: ignore[return-value]

    def _read_error(self, e: Exception, key: str) -> FcrctlError:
        return Unavailable(f"the WebDAV store {self.location}: reading {key} failed ({type(e).__name__})")

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        cached = self._packs.slice(check_key(key), offset, length, self.location)
        if cached is not None:
            return cached
        resp = self._request("GET", check_key(key), ok=(200, 206), stream=True,
                             headers={"Range": f"bytes={offset}-{offset + length - 1}"})
        try:  # never more than asked for, whatever the server sends (200: the whole value, or endless)
            data = resp.raw.read(length if resp.status_code == 206 else offset + length, decode_content=True)
        finally:
            resp.close()
        data = data if resp.status_code == 206 else data[offset:offset + length]
        if len(data) != length:
            raise truncated(key, self.location)
        return data

    def exists(self, key: str) -> bool:
        try:
            self._request("HEAD", check_key(key), ok=(200,))
        except NotFound:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        return (key for key, _ in self.list_sizes(prefix))

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        start = prefix.rpartition("/")[0] if prefix else ""
        try:
            for key, size in self._walk(start):
                if key.startswith(prefix) and key != MARKER:
                    yield key, size
        except NotFound:
            if not start:
                raise
            return  # no such collection: nothing under it

    def _walk(self, collection: str) -> Iterator[tuple[str, int]]:
        stack, seen = [collection], {collection}
        while stack:
            current = stack.pop()
            for rel, is_dir, size, _modified in self._propfind(current):
                if is_dir:
                    # only collections below this one, each once: a listing naming its parent (or
                    # itself under another spelling) would otherwise be walked for ever
                    below = rel.startswith(current + "/") if current else bool(rel)
                    if below and rel not in seen and not (rel == "tmp" and not current):
                        seen.add(rel)
                        stack.append(rel)
                elif rel:
                    yield rel, size

    def _propfind(self, collection: str) -> Iterator[tuple[str, bool, int, float | None]]:
        """(path relative to the store, is a collection, size, last modified) of each member."""
        key = f"{collection}/" if collection else ""
        resp = self._request("PROPFIND", key, ok=(207,), data=_PROPFIND_BODY, stream=True,
                             headers={"Depth": "1", "Content-Type": "application/xml"})
        try:
            data = resp.raw.read(PROPFIND_MAX + 1, decode_content=True)
        finally:
            resp.close()
        if len(data) > PROPFIND_MAX:
            raise Unavailable(f"the WebDAV store {self.location} answered a listing over {PROPFIND_MAX} bytes")
        try:
            # a listing never needs a DTD: refusing one refuses entity expansion (billion laughs) and
            # external entities whatever the expat underneath
            root = defused_et.fromstring(data, forbid_dtd=True)
        except (ET.ParseError, DefusedXmlException) as e:
            raise Unavailable(f"the WebDAV store {self.location} answered an unreadable listing ({e})") from None
        base = self._path + "/"
        for response in root.iter(f"{_DAV}response"):
            href = response.findtext(f"{_DAV}href") or ""
            path = unquote(urlsplit(href).path)
            if not path.startswith(base) and path.rstrip("/") != self._path:
                continue
            rel = path[len(base):].strip("/") if path.startswith(base) else ""
            is_dir = response.find(f".//{_DAV}resourcetype/{_DAV}collection") is not None
            length = response.findtext(f".//{_DAV}getcontentlength") or "0"
            yield rel, is_dir, int(length) if length.isdigit() else 0, _http_date(
                response.findtext(f".//{_DAV}getlastmodified"))

    def delete(self, key: str) -> None:
        self._packs.forget(key)
        with contextlib.suppress(NotFound):
            self._request("DELETE", check_key(key), ok=(200, 204))

    def lock(self, *, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        return leases.recorded(self, exclusive=exclusive, wait=self._lock_wait)

    def clean(self) -> None:
        """Remove from ``tmp/`` the partial writes of killed processes: named for a lease that is
        not live (or for none) and untouched for STALE_AGE; an older fcrctl's ``<uuid>.part``
        after LEGACY_AGE. A live writer's (its lease live) are never touched. Best effort."""
        try:
            live = leases.live_ids(self, self._lease)
            now = time.time()
            for rel, is_dir, _size, modified in list(self._propfind("tmp")):
                name = rel.rpartition("/")[2]
                if is_dir or not rel.startswith("tmp/") or not name.endswith(".part") or modified is None:
                    continue
                parts = name.split(".")
                owner = parts[0] if len(parts) == 3 else None
                if owner in live or now - modified < (leases.STALE_AGE if owner else leases.LEGACY_AGE):
                    continue
                with contextlib.suppress(FcrctlError):
                    self._request("DELETE", f"tmp/{name}", ok=(200, 204, 404))
        except FcrctlError:
            return

    def close(self) -> None:
        self._session.close()
