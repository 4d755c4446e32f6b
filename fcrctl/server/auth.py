"""HTTP basic authentication for ``fcrctl serve`` against an auth file of hashed passwords.

The auth file has one ``user:hash`` line per user (``#`` comments allowed), optionally followed
by whitespace and ``admin`` for a user who bypasses access control (as Fedora's fedoraAdmin
role does); the hash is werkzeug's ``generate_password_hash`` (scrypt), so the file never holds
a password. Checking
scrypt costs tens of milliseconds, so a successful check is remembered as an HMAC of the
password under a per-process random key: later requests cost one HMAC, and no password is
kept in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from werkzeug.datastructures import Authorization
from werkzeug.security import check_password_hash, generate_password_hash

from fcrctl.errors import AuthError, BadInput

DEFAULT_LOGIN_FAILURES = 10  # per client address per minute; more are answered 429 without hashing


class TooManyFailures(AuthError):
    """A client address that failed to log in too often lately (429 with Retry-After)."""

    kind = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FailureBudget:
    """Failed logins per client address, a token bucket of ``per_minute`` tokens refilled
    evenly over a minute. A check that needs scrypt takes a token first (so 16 concurrent
    attempts cannot all slip in) and gets it back when the password was right."""

    MAX_ADDRESSES = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, address: str) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        with self._lock:
            now = self._clock()
            tokens, when = self._buckets.get(address, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - when) * rate)
            if tokens < 1:
                self._buckets[address] = (tokens, now)
                return (1 - tokens) / rate
            if len(self._buckets) >= self.MAX_ADDRESSES and address not in self._buckets:
                self._forget_rested(now, rate)
            self._buckets[address] = (tokens - 1, now)
            return 0.0

    def give_back(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        with self._lock:
            tokens, when = self._buckets.get(address, (0.0, self._clock()))
            self._buckets[address] = (min(float(self.per_minute), tokens + 1), when)

    def _forget_rested(self, now: float, rate: float) -> None:
        """Drop addresses whose bucket has refilled (they are as good as new); bounded memory."""
        full = [a for a, (t, w) in self._buckets.items() if t + (now - w) * rate >= self.per_minute]
        for address in full or list(self._buckets)[: self.MAX_ADDRESSES // 10]:
            del self._buckets[address]


# checked for unknown users too, so a response's timing does not tell which users exist
_DUMMY_HASH = generate_password_hash("not a password: timing equaliser")


def hash_password(password: str) -> str:
    if not password:
        raise BadInput("empty password: give a non-empty one")
    return generate_password_hash(password)


@dataclass(frozen=True)
class User:
    hashed: str
    admin: bool = False


def read_auth_file(path: Path | str) -> dict[str, User]:
    """user -> User. BadInput when the file is missing or malformed (never echoing hashes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BadInput(f"cannot read auth file {path}: {err.strerror or err}") from None
    users: dict[str, User] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry, _, roles = line.partition(" ")
        user, sep, hashed = entry.partition(":")
        if not sep or not user or "$" not in hashed or roles.strip() not in ("", "admin"):
            raise BadInput(
                f"auth file {path} line {number}: expected USER:HASH [admin] (add users with fcrctl serve --add-user)"
            )
        users[user] = User(hashed, admin=roles.strip() == "admin")
    return users


def add_user(path: Path | str, user: str, password: str, *, admin: bool = False) -> None:
    """Add or replace ``user`` in the auth file, written atomically and readable by its owner only."""
    if not user or ":" in user or any(c.isspace() for c in user):
        raise BadInput(f"user name {user!r} must be non-empty, without ':' or spaces")
    path = Path(path)
    users = read_auth_file(path) if path.exists() else {}
    users[user] = User(hash_password(password), admin=admin)
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("# fcrctl serve auth file: USER:HASH [admin] (werkzeug password hashes)\n")
            out.writelines(
                f"{name}:{entry.hashed}{' admin' if entry.admin else ''}\n" for name, entry in sorted(users.items())
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise BadInput(f"cannot write auth file {path}: {err.strerror or err}") from None


class BasicAuth:
    """Checks an Authorization header; raises AuthError (401) when it is missing or wrong."""

    def __init__(self, users: dict[str, User], *, failures_per_minute: int = DEFAULT_LOGIN_FAILURES) -> None:
        if not users:
            raise BadInput("the auth file has no users: add one with fcrctl serve --add-user USER --auth-file FILE")
        self._users = dict(users)
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.failures = FailureBudget(failures_per_minute)

    @classmethod
    def from_file(cls, path: Path | str, *, failures_per_minute: int = DEFAULT_LOGIN_FAILURES) -> BasicAuth:
        return cls(read_auth_file(path), failures_per_minute=failures_per_minute)

    def is_admin(self, user: str) -> bool:
        entry = self._users.get(user)
        return entry is not None and entry.admin

    def authenticate(self, authorization: Authorization | None, *, address: str | None = None) -> str:
        if authorization is None or authorization.type != "basic":
            raise AuthError("authentication required: send HTTP basic credentials")
        user = authorization.username or ""
        password = authorization.password or ""
        token = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, token):
            return user
        # each scrypt costs tens of ms of CPU: an address that keeps failing must not buy more
        client = address or "unknown"
        wait = self.failures.take(client)
        if wait:
            raise TooManyFailures(
                f"too many failed logins from {client}: try again in {int(wait) + 1} s",
                retry_after=int(wait) + 1,
            )
        entry = self._users.get(user)
        hashed = entry.hashed if entry is not None else None
        ok = check_password_hash(hashed or _DUMMY_HASH, password) and hashed is not None
        if not ok:
            raise AuthError("wrong user name or password")
        self.failures.give_back(client)
        with self._lock:
            self._verified[user] = token
        return user
