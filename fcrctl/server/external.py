"""Which external content a client of ``fcrctl serve`` may name, and fetching it safely.

A client that names ``file:///etc/shadow`` or ``http://169.254.169.254/`` as external content
would make the server read or fetch it for them. So, from HTTP clients:

- ``file:`` URLs are refused unless the file lies under a directory of the allow-list
  (``serve --external-content-allowed FILE``); symlinks and ``..`` are resolved first, and
  the comparison is by whole path components (``/data`` does not allow ``/data2``);
- ``http(s):`` with ``handling=redirect`` is the client's own business (the server only
  answers 307 with that Location); with ``proxy`` or ``copy`` the server would fetch it, which
  it does only when started with ``--allow-external-fetch``, and never from a loopback,
  link-local, private or otherwise non-global address unless the URL is under an allow-list
  entry. The address checked is the one actually connected to (no DNS rebinding), at every
  redirect hop; proxies from the environment are ignored.

The allow-list file has Fedora 6's format (``fcrepo.external.content.allowed``): one URI
prefix per line (``file:///data/ingest/``, ``https://images.example.org/``); blank lines
and ``#`` comments are skipped.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

from fcrctl.errors import BadInput, FcrctlError

FETCH_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
MAX_REDIRECTS = 5


class ExternalRefused(BadInput):
    """External content the server will not read or fetch for a client (400, as Fedora)."""

    kind = "external_refused"
    constraint = "ExternalMessageBodyException"  # the document a 400 links (constraints.py), as Fedora 6


class ExternalForbidden(FcrctlError):
    """Stored external content (from the CLI, an import, a narrower allow-list) this server will
    not read for a client (403)."""

    kind = "forbidden"


class ExternalFetchFailed(FcrctlError):
    """The external server did not answer usefully (502)."""

    kind = "external_fetch_failed"


@dataclass(frozen=True)
class ExternalPolicy:
    allowed: tuple[str, ...] = ()  # normalised URI prefixes from the allow-list file
    fetch: bool = False  # --allow-external-fetch

    @classmethod
    def load(cls, allow_file: Path | str | None, *, fetch: bool = False) -> ExternalPolicy:
        return cls(read_allow_list(allow_file) if allow_file else (), fetch)

    # -- decisions ---------------------------------------------------------------------------
    def check(self, url: str, handling: str) -> None:
        """Refuse (ExternalRefused) external content a client may not name with ``handling``."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            self.local_path(url)
        elif scheme in ("http", "https"):
            if handling != "redirect" and not self.fetch:
                raise ExternalRefused(
                    f"{handling} of {url} would make this server fetch it, and it was started without "
                    "--allow-external-fetch: use handling=\"redirect\", or ask the operator to allow fetching"
                )
            if handling != "redirect" and not self._url_allowed(url):
                self._check_resolved(url)  # refused now rather than at the first GET (checked again then)
        else:
            raise ExternalRefused(f"external content {url!r} is not a file:, http: or https: URL")

    def local_path(self, url: str) -> Path:
        """The real file a ``file:`` URL names, if it is under an allowed directory."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ExternalRefused(f"external content {url} names a file on another host ({parts.netloc})")
        try:
            raw = unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise ExternalRefused(f"external content {url} is not UTF-8 once decoded") from None
        if not raw.startswith("/") or "\x00" in raw:
            raise ExternalRefused(f"external content {url} is not an absolute file path")
        real = Path(os.path.realpath(raw))
        for prefix in self.allowed:
            if prefix.startswith("file:") and _within(real, Path(prefix[len("file:") :])):
                return real
        if not any(p.startswith("file:") for p in self.allowed):
            raise ExternalRefused(
                f"file: external content ({url}) is disallowed by this server: the operator can allow "
                "directories with serve --external-content-allowed FILE"
            )
        raise ExternalRefused(f"external content {url} is not under a directory this server allows")

    def check_read(self, url: str) -> None:
        """Refuse (403) proxying stored external content a client could not have named itself."""
        try:
            if urlsplit(url).scheme.lower() == "file":
                self.local_path(url)
        except ExternalRefused as err:
            raise ExternalForbidden(err.message) from None

    @staticmethod
    def _check_resolved(url: str) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ExternalRefused(f"external content {url} has no host")
        try:
            found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise ExternalRefused(f"external content {url}: cannot resolve {parts.hostname}") from None
        for *_, address in found:
            check_address(str(address[0]), private_ok=False)

    def _url_allowed(self, url: str) -> bool:
        low = url.lower()
        return any(low.startswith(p) for p in self.allowed if not p.startswith("file:"))

    # -- fetching ------------------------------------------------------------------------------
    def fetch_stream(self, url: str) -> tuple[Any, Iterator[bytes]]:
        """GET ``url`` (following redirects, each hop checked): (response, body chunks)."""
        import requests

        if not self.fetch:
            raise ExternalRefused(f"this server does not fetch external content ({url}): start it with "
                                  "--allow-external-fetch")
        for _ in range(MAX_REDIRECTS + 1):
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https"):
                raise ExternalRefused(f"external content redirects to {url!r}: only http(s) is followed")
            session = _guarded_session(private_ok=self._url_allowed(url))
            try:
                resp = session.get(url, stream=True, allow_redirects=False, timeout=FETCH_TIMEOUT)
            except ExternalRefused:
                raise
            except requests.RequestException as err:
                refused = _refusal_in(err)
                if refused is not None:
                    raise refused from None
                raise ExternalFetchFailed(f"cannot fetch external content {url}: {type(err).__name__}") from None
            if resp.is_redirect and resp.headers.get("Location"):
                url = urljoin(url, resp.headers["Location"])
                resp.close()
                continue
            if resp.status_code != 200:
                resp.close()
                raise ExternalFetchFailed(f"external content {url} answered {resp.status_code}")
            return resp, _chunks(resp)
        raise ExternalFetchFailed(f"external content {url}: more than {MAX_REDIRECTS} redirects")

    def remote_type(self, url: str) -> str | None:
        """The Content-Type the origin gives ``url``, from its headers only (the body is not read): Fedora 6
        asks the origin when a proxied binary's Link names no type (ExternalContentHandler)."""
        resp, _ = self.fetch_stream(url)
        resp.close()
        return resp.headers.get("Content-Type")

    def fetch_file(self, url: str) -> tuple[BinaryIO, str | None]:
        """``fetch_stream`` as a readable stream (for copy), and the remote Content-Type."""
        resp, _ = self.fetch_stream(url)
        resp.raw.decode_content = True
        return resp.raw, resp.headers.get("Content-Type")


def _chunks(resp: Any) -> Iterator[bytes]:
    try:
        yield from resp.iter_content(256 * 1024)
    finally:
        resp.close()


def _refusal_in(err: BaseException) -> ExternalRefused | None:
    """requests/urllib3 wrap what our connection raised: find it again."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ExternalRefused):
            return current
        stack += [current.__cause__, current.__context__, *[a for a in current.args if isinstance(a, BaseException)]]
        stack.append(getattr(current, "reason", None))
    return None


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def read_allow_list(path: Path | str) -> tuple[str, ...]:
    """The URI prefixes of an allow-list file (Fedora 6's format); BadInput for bad lines."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or err
        raise BadInput(f"cannot read external content allow-list {path}: {reason}") from None
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        out.append(_normalise_entry(entry, f"{path} line {number}"))
    return tuple(out)


def _normalise_entry(entry: str, where: str) -> str:
    parts = urlsplit(entry)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BadInput(f"{where}: {entry} names another host: use file:///absolute/path/")
        raw = unquote(parts.path)
        if not raw.startswith("/") or ".." in raw.split("/"):
            raise BadInput(f"{where}: {entry} is not an absolute path without '..'")
        return "file:" + os.path.realpath(raw)  # symlinked directories compare as what they point to
    if scheme in ("http", "https") and parts.netloc:
        if ".." in parts.path.split("/"):
            raise BadInput(f"{where}: {entry} contains '..'")
        return entry.lower()
    raise BadInput(f"{where}: {entry!r} is not a file:, http: or https: URI prefix (Fedora's allowed-list format)")


def check_address(address: str, *, private_ok: bool) -> None:
    """Refuse connecting to an address that is not globally routable (unless allow-listed)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if private_ok:
        return
    if not ip.is_global or ip.is_multicast:
        raise ExternalRefused(
            f"external content resolves to {ip}, a loopback, link-local or private address: refused "
            "(the operator can allow a URL prefix with --external-content-allowed)"
        )


def _guarded_session(*, private_ok: bool) -> Any:
    """A requests session whose connections check the address they actually reached."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def guard(sock: socket.socket) -> socket.socket:
        try:
            check_address(sock.getpeername()[0], private_ok=private_ok)
        except ExternalRefused:
            sock.close()
            raise
        return sock

    class Guarded(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return guard(super()._new_conn())

    class GuardedTLS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return guard(super()._new_conn())

    class Pool(HTTPConnectionPool):
        ConnectionCls = Guarded

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedTLS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}
            self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)

    session = requests.Session()
    session.trust_env = False  # an environment proxy would connect for us, unchecked
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session
