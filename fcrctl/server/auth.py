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
from dataclasses import dataclass
from pathlib import Path

from werkzeug.datastructures import Authorization
from werkzeug.security import check_password_hash, generate_password_hash

from fcrctl.errors import AuthError, BadInput

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

    def __init__(self, users: dict[str, User]) -> None:
        if not users:
            raise BadInput("the auth file has no users: add one with fcrctl serve --add-user USER --auth-file FILE")
        self._users = dict(users)
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path | str) -> BasicAuth:
        return cls(read_auth_file(path))

    def is_admin(self, user: str) -> bool:
        entry = self._users.get(user)
        return entry is not None and entry.admin

    def authenticate(self, authorization: Authorization | None) -> str:
        if authorization is None or authorization.type != "basic":
            raise AuthError("authentication required: send HTTP basic credentials")
        user = authorization.username or ""
        password = authorization.password or ""
        token = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, token):
            return user
        entry = self._users.get(user)
        hashed = entry.hashed if entry is not None else None
        ok = check_password_hash(hashed or _DUMMY_HASH, password) and hashed is not None
        if not ok:
            raise AuthError("wrong user name or password")
        with self._lock:
            self._verified[user] = token
        return user
