"""The access log: one line per request, in Common Log Format or as JSON lines.

    app = AccessLog(app, open_log("-"), "clf")     # stdout; or a FILE, appended to

Never logged: passwords and tokens. The user is the one the server authenticated (never what an
Authorization header claims), no header is logged, and query parameters whose names carry
secrets (token, password, key, signature...) are written as ``REDACTED``, and so are path
parameters (``/a;password=...``) with such names. A line is written
when the response has been sent (or the client went away), with the bytes that went out.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote_plus

from fcrctl.errors import BadInput

FORMATS = ("clf", "json")
USER_KEY = "fcrctl.user"  # set in the WSGI environ by the app once it authenticated the request
_SECRET_PARAM = re.compile(r"(token|pass|pwd|secret|key|sig|auth|credential|session|jwt|bearer)", re.IGNORECASE)
_UNPRINTABLE = re.compile(r'[\x00-\x1f\x7f"\\]')


def open_log(target: str) -> IO[str]:
    """``-`` is stdout; anything else a file opened for appending (line buffered)."""
    if target == "-":
        return sys.stdout
    try:
        return Path(target).open("a", encoding="utf-8", buffering=1)
    except OSError as err:
        raise BadInput(f"cannot open access log {target}: {err.strerror or err}: give a writable file or -") from None


def redacted_query(query: str) -> str:
    """The query string with the values of secret-looking parameters replaced."""
    if not query:
        return ""
    parts = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        secret = sep and _SECRET_PARAM.search(unquote_plus(name))  # the name as the server reads it
        parts.append(f"{name}=REDACTED" if secret else pair)
    return "&".join(parts)


_PATH_PARAM = re.compile(r";([^;=/]*)=([^;]*)")


def redacted_path(path: str) -> str:
    """The decoded path with the values of secret-looking path parameters (``;password=...``)
    replaced: each up to the next ``;`` (not ``/``: a value's ``%2F`` is a ``/`` once decoded)."""
    if ";" not in path:
        return path
    return _PATH_PARAM.sub(lambda m: f";{m.group(1)}=REDACTED" if _SECRET_PARAM.search(m.group(1)) else m.group(0),
                           path)


def _clean(text: str) -> str:
    """No line breaks or quotes from the client reach the log (log injection)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


class AccessLog:
    """WSGI middleware writing one line per request to ``out``."""

    def __init__(self, app: Callable[..., Any], out: IO[str], fmt: str = "clf") -> None:
        if fmt not in FORMATS:
            raise BadInput(f"unknown access log format {fmt!r}: use clf or json")
        self.app, self.out, self.fmt = app, out, fmt
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        status: list[str] = ["500"]

        def recording_start_response(code: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, *exc)

        body = self.app(environ, recording_start_response)
        return _Counted(body, lambda sent: self._write(environ, status[0], sent, time.monotonic() - started))

    def _write(self, environ: dict[str, Any], status: str, sent: int, seconds: float) -> None:
        path = quote(redacted_path(environ.get("PATH_INFO", "")), safe="/:@!$&'()*+,;=~-._")
        query = redacted_query(environ.get("QUERY_STRING", ""))
        target = _clean(environ.get("SCRIPT_NAME", "") + path + (f"?{query}" if query else ""))
        method = _clean(environ.get("REQUEST_METHOD", "-"))
        remote = environ.get("REMOTE_ADDR") or "-"
        user = environ.get(USER_KEY)
        now = datetime.now(UTC)
        if self.fmt == "json":
            line = json.dumps(
                {
                    "time": now.isoformat().replace("+00:00", "Z"),
                    "remote": remote,
                    "user": user,
                    "method": method,
                    "path": target,
                    "status": int(status),
                    "bytes": sent,
                    "ms": round(seconds * 1000, 2),
                }
            )
        else:
            stamp = now.strftime("%d/%b/%Y:%H:%M:%S +0000")
            protocol = _clean(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
            line = (
                f'{remote} - {_clean(user) if user else "-"} [{stamp}] "{method} {target} {protocol}" '
                f"{status} {sent or '-'}"
            )
        with self._lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (OSError, ValueError):
                pass  # a full disk or a closed stdout must not fail the request


class _Counted:
    """The response body, counting what goes out; reports once when closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body, self._done, self._sent, self._reported = body, done, 0, False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._reported:
                self._reported = True
                self._done(self._sent)
