"""HTTP answers and transport failures -> fcrctl errors, in one place.

Every request the HTTP backend makes goes through :func:`check` (status codes) or
:func:`transport_error` (requests' exceptions, and PlainTransportError from the http.client path of
plain.py, mapped to the same messages), so the mapping below is the whole contract.
Messages never contain credentials: request URLs carry none (auth travels in headers), and
server excerpts pass through :func:`redact` with the secrets the repository knows.
"""

from __future__ import annotations

import http.client
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fcrctl.errors import (
    AuthError,
    BadInput,
    ChecksumMismatch,
    Conflict,
    FcrctlError,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    TransactionGone,
    Unavailable,
    Unsupported,
)

if TYPE_CHECKING:
    import requests

EXCERPT_CHARS = 200
# the connection was made, then lost: reset, closed without an answer, cut off mid-body (and urllib3's ProtocolError)
PLAIN_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected,
                 http.client.IncompleteRead)


class PlainTransportError(Exception):
    """A transport failure of a request sent through http.client (plain.py), its cause the OSError or
    HTTPException: transport_error gives it the message requests' exception of the same failure gets."""


def transport_exceptions() -> tuple[type[BaseException], ...]:
    """What a request or a body's read raises when the transport fails: PlainTransportError, and
    requests' RequestException once requests is loaded (nothing can raise one before)."""
    loaded = sys.modules.get("requests")
    return (PlainTransportError,) if loaded is None else (PlainTransportError, loaded.RequestException)


def host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def excerpt(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """A short one-line excerpt of the server's message (tags and whitespace collapsed)."""
    if response.raw is not None and getattr(response, "_content_consumed", True) is False:
        # A streamed response: read a bounded prefix only, never a whole large body.
        try:
            body = response.raw.read(4096, decode_content=True) or b""
        except Exception:  # the body is only decoration for an error we already have
            body = b""
        text = body.decode("utf-8", "replace")
    else:
        text = response.text or ""
    text = re.sub(r"<[^>]{0,200}>", " ", text) if "html" in (response.headers.get("Content-Type") or "") else text
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 3] + "..."
    return redact(text, secrets)


def check(
    response: requests.Response,
    *,
    path: str | None = None,
    secrets: Iterable[str] = (),
    what: str | None = None,
) -> requests.Response:
    """Return ``response`` when it succeeded (2xx/3xx), else raise the matching fcrctl error."""
    status = response.status_code
    if status < 400:
        return response
    raise error_for(response, path=path, secrets=secrets, what=what)


def error_for(
    response: requests.Response,
    *,
    path: str | None = None,
    secrets: Iterable[str] = (),
    what: str | None = None,
) -> FcrctlError:
    status = response.status_code
    subject = what or (path if path is not None else response.url)
    detail = excerpt(response, secrets)
    said = f": server said: {detail}" if detail else ""
    where = host_port(response.url)
    if status == 400:
        return BadInput(f"{subject}: the server refused the request (HTTP 400){said}", path=path)
    if status in (401, 403):
        verb = "authentication failed" if status == 401 else "permission denied"
        hint = (
            "check --user and FCRCTL_PASSWORD / --password-file / FCRCTL_TOKEN"
            if status == 401
            else "ask an administrator for access, or use another account"
        )
        error = Forbidden if status == 403 else AuthError
        return error(f"{verb} at {where} for {subject} (HTTP {status}): {hint}", path=path)
    if status == 404:
        return NotFound(f"not found: {subject}", path=path)
    if status == 410:
        if "transaction" in detail.lower():
            return TransactionGone(f"transaction is gone (expired, committed or rolled back){said}", path=path)
        return Gone(
            f"{subject} was deleted and a tombstone remains: purge it (fcrctl purge {subject}) to reuse the path",
            path=path,
        )
    if status == 409:
        lowered = detail.lower()
        if "checksum" in lowered or "digest" in lowered or "fixity" in lowered:
            return ChecksumMismatch(f"{subject}: checksum mismatch, nothing was stored{said}", path=path)
        return Conflict(f"{subject}: conflict (HTTP 409){said}", path=path)
    if status == 412:
        return PreconditionFailed(
            f"{subject}: precondition failed (the resource changed since you read it): re-read it and retry",
            path=path,
        )
    if status in (406, 415):
        return BadInput(f"{subject}: the server does not accept this format (HTTP {status}){said}", path=path)
    if status == 413:
        return BadInput(f"{subject}: request too large for the server (HTTP 413){said}", path=path)
    if status == 416:
        return BadInput(f"{subject}: byte range not satisfiable (HTTP 416): check --range", path=path)
    if status in (405, 501):
        return Unsupported(f"{subject}: the server does not support this operation (HTTP {status}){said}", path=path)
    if status == 429 or status >= 500:
        return Unavailable(f"server error at {where} (HTTP {status}){said}: retry later", path=path)
    return BadInput(f"{subject}: unexpected HTTP {status}{said}", path=path)


def transport_error(exc: requests.RequestException | PlainTransportError, url: str, *,
                    timeout: object = None) -> FcrctlError:
    """A requests/urllib3 exception (or a PlainTransportError) -> Unavailable (or AuthError) naming host and port."""
    if isinstance(exc, PlainTransportError):
        return _plain_transport_error(exc, url, timeout)
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError

    where = host_port(url)
    if isinstance(exc, requests.exceptions.SSLError):
        return Unavailable(
            f"TLS verification failed for {where}: use --ca-bundle FILE to trust the server's CA (or --insecure)"
        )
    chain = _chain(exc)
    within = f" within {timeout:g} s" if isinstance(timeout, int | float) else ""
    connect_failed = any(isinstance(e, NewConnectionError) for e in chain)
    if not connect_failed and (
        isinstance(exc, requests.exceptions.ConnectTimeout) or any(isinstance(e, ConnectTimeoutError) for e in chain)
    ):
        return Unavailable(f"cannot connect to {where}: no connection{within}: is the server running and reachable?")
    if isinstance(exc, requests.exceptions.ReadTimeout) or any(isinstance(e, ReadTimeoutError) for e in chain):
        return Unavailable(f"no answer from {where}{within} (connected, but the server did not respond): "
                           "check the server, or raise --timeout")
    if (malformed := _malformed(chain)) is not None:
        return Unavailable(f"{where} answered with a malformed HTTP response ({malformed}): "
                           "check that the URL names a Fedora server")
    if not connect_failed and (
        isinstance(exc, requests.exceptions.ChunkedEncodingError)
        or any(isinstance(e, (ProtocolError, *PLAIN_DROPPED)) for e in chain)
    ):
        return Unavailable(f"connection to {where} dropped before the exchange was complete ({_how(chain)}): "
                           "check the server (did it restart?), then retry")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Unavailable(f"cannot connect to {where}: {_reason(exc)}: is the server running and reachable?")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return BadInput(f"invalid URL for {where}: {_reason(exc)}")
    return Unavailable(f"request to {where} failed: {_reason(exc)}")


def _plain_transport_error(exc: PlainTransportError, url: str, timeout: object) -> FcrctlError:
    """transport_error's messages for the same failures met through http.client."""
    import ssl  # (http.client imported it already)

    where = host_port(url)
    chain = _chain(exc)
    within = f" within {timeout:g} s" if isinstance(timeout, int | float) else ""
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return Unavailable(
            f"TLS verification failed for {where}: use --ca-bundle FILE to trust the server's CA (or --insecure)"
        )
    if any(isinstance(e, TimeoutError) for e in chain):
        return Unavailable(f"no answer from {where}{within} (connected, but the server did not respond): "
                           "check the server, or raise --timeout")
    if (malformed := _malformed(chain)) is not None:
        return Unavailable(f"{where} answered with a malformed HTTP response ({malformed}): "
                           "check that the URL names a Fedora server")
    if any(isinstance(e, PLAIN_DROPPED) for e in chain):
        return Unavailable(f"connection to {where} dropped before the exchange was complete ({_how(chain)}): "
                           "check the server (did it restart?), then retry")
    return Unavailable(f"cannot connect to {where}: {_reason(exc)}: is the server running and reachable?")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception nested in it (urllib3 wraps causes in reasons and args)."""
    out: list[BaseException] = []
    todo = [exc]
    while todo and len(out) < 20:
        inner = todo.pop()
        if any(inner is seen for seen in out):
            continue
        out.append(inner)
        nested = (getattr(inner, "reason", None), *inner.args, inner.__cause__)
        todo += [e for e in nested if isinstance(e, BaseException)]
    return out


def _malformed(chain: list[BaseException]) -> str | None:
    """What http.client refused to parse in an answer (a status line that is not HTTP, a header line past
    64 KiB, over 100 headers), shortened: the server's bytes are not echoed whole. None if nothing was."""
    for exc in chain:
        if isinstance(exc, http.client.HTTPException) and not isinstance(exc, PLAIN_DROPPED):
            said = repr(str(exc))
            return f"{type(exc).__name__}: {said[:60] + '...' if len(said) > 60 else said}"
    return None


def _how(chain: list[BaseException]) -> str:
    chunked = getattr(sys.modules.get("requests.exceptions"), "ChunkedEncodingError", ())  # (requests not loaded: none)
    for exc in chain:
        if isinstance(exc, http.client.RemoteDisconnected):
            return "the server closed it without answering"
        if isinstance(exc, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(exc, BrokenPipeError):
            return "the server closed it while the request was being sent"
        if isinstance(exc, (http.client.IncompleteRead, chunked)):
            return "the answer was cut off"
    return "connection aborted"


def _reason(exc: BaseException) -> str:
    # urllib3 nests the useful reason (refused, reset, name resolution) inside wrappers.
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or (inner.args[0] if inner.args else None)
        if isinstance(nxt, BaseException) and nxt is not inner:
            inner = nxt
            continue
        break
    text = str(inner)
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower():
        return "connection reset by peer"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "host name not found"
    text = re.sub(r"<urllib3[^>]*>:?\s*", "", text)
    text = re.sub(r"\(Caused by .*", "", text).strip(" :")
    return text[:160] or type(exc).__name__
