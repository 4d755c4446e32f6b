"""Credentials and TLS settings for a remote repository, resolved once when it is opened.

Basic auth: the user comes from ``--user``, the URL's userinfo, ``FCRCTL_USER`` or ~/.netrc;
the password from the URL, ``--password-file``, ``FCRCTL_PASSWORD``, ~/.netrc, or a prompt
(only when stdin is a terminal). Bearer tokens come from ``--token-file`` or ``FCRCTL_TOKEN``.
Secrets never reach argv, reprs or messages: :attr:`AuthConfig.secrets` lists what to redact.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from fcrctl.errors import BadInput

if TYPE_CHECKING:
    import requests


class HeaderAuth:
    """An ``Authorization`` header, set by requests on each request (as its auth callables do) and
    sent as it is by the http.client path (plain.py): one header, whichever way a request goes."""

    def __init__(self, header: str) -> None:
        self.header = header

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = self.header
        return request


class BearerAuth(HeaderAuth):
    """``Authorization: Bearer ...``; the token stays out of repr()."""

    def __init__(self, token: str) -> None:
        super().__init__(f"Bearer {token}")

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class BasicAuth(HeaderAuth):
    """``Authorization: Basic ...`` of a user and password encoded as requests' HTTPBasicAuth encodes
    them (latin-1); one latin-1 cannot spell goes as UTF-8 (RFC 7617), where requests would fail."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        pair = f"{username}:{password}"
        try:
            raw = pair.encode("latin1")
        except UnicodeEncodeError:
            raw = pair.encode("utf-8")
        super().__init__("Basic " + base64.b64encode(raw).decode("ascii"))

    def __repr__(self) -> str:
        return f"BasicAuth(user={self.username!r}, password=***)"


@dataclass
class AuthConfig:
    auth: HeaderAuth | None = None
    verify: bool | str = True
    cert: str | tuple[str, str] | None = None
    secrets: list[str] = field(default_factory=list, repr=False)
    user: str | None = None

    def apply(self, session: requests.Session) -> None:
        session.auth = self.auth
        session.verify = self.verify
        session.cert = self.cert


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``https://u:p@host/rest`` -> (``https://host/rest``, ``u``, ``p``); userinfo is percent-decoded."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, user, password


def _read_secret_file(path: str | os.PathLike[str], what: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}") from None
    value = text.splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise BadInput(f"{what} file {str(path)!r} is empty: put the {what} on its first line")
    return value


def _netrc_lookup(host: str, netrc_path: str | None) -> tuple[str | None, str | None]:
    path = netrc_path or os.path.join(os.path.expanduser("~"), ".netrc")  # (netrc's own default)
    if not os.path.exists(path):
        return None, None  # (netrc is not imported for nothing)
    import netrc

    try:
        entries = netrc.netrc(netrc_path)
    except (OSError, netrc.NetrcParseError):
        # A missing or unreadable ~/.netrc simply offers no credentials.
        return None, None
    found = entries.authenticators(host)
    if not found:
        return None, None
    login, _account, password = found
    return login or None, password or None


def resolve(
    url: str,
    *,
    user: str | None = None,
    password_file: str | None = None,
    token_file: str | None = None,
    ca_bundle: str | None = None,
    insecure: bool = False,
    cert: str | tuple[str, str] | list[str] | None = None,
    key: str | None = None,
    env: Mapping[str, str] | None = None,
    netrc_path: str | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, AuthConfig]:
    """Work out auth and TLS settings; returns (URL without userinfo, config)."""
    env = os.environ if env is None else env
    clean_url, url_user, url_password = split_userinfo(url)
    host = urlsplit(clean_url).hostname or ""
    config = AuthConfig()

    name = user or url_user or env.get("FCRCTL_USER") or None
    password = url_password
    if password is None and password_file:
        password = _read_secret_file(password_file, "password")
    if password is None and env.get("FCRCTL_PASSWORD"):
        password = env["FCRCTL_PASSWORD"]
    token = _read_secret_file(token_file, "token") if token_file else (env.get("FCRCTL_TOKEN") or None)

    if name is None and token is None:
        netrc_user, netrc_password = _netrc_lookup(host, netrc_path or env.get("NETRC"))
        if netrc_user:
            name = netrc_user
            password = password if password is not None else netrc_password
    elif name is not None and password is None:
        netrc_user, netrc_password = _netrc_lookup(host, netrc_path or env.get("NETRC"))
        if netrc_user == name:
            password = netrc_password

    if name is not None:
        if password is None:
            tty = sys.stdin.isatty() if interactive is None else interactive
            if not tty:
                raise BadInput(
                    f"no password for user {name!r}: set FCRCTL_PASSWORD, use --password-file, or add it to ~/.netrc"
                )
            if prompt is None:
                from getpass import getpass as prompt
            password = prompt(f"Password for {name} at {host}: ")
        config.auth = BasicAuth(name, password)
        config.user = name
        config.secrets.append(password)
    elif token is not None:
        config.auth = BearerAuth(token)
        config.secrets.append(token)

    if insecure:
        config.verify = False
        (warn or _warn_stderr)(
            f"warning: TLS certificate verification is OFF for {host} (--insecure): "
            "anyone on the network path can read and alter this traffic"
        )
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    elif ca_bundle:
        bundle = Path(ca_bundle).expanduser()
        if not bundle.is_file():
            raise BadInput(f"CA bundle {ca_bundle!r} does not exist: give a PEM file with --ca-bundle")
        config.verify = str(bundle)

    if cert:
        if isinstance(cert, tuple | list):
            config.cert = (str(cert[0]), str(cert[1]))
        elif key:
            config.cert = (str(cert), str(key))
        else:
            config.cert = str(cert)
        for item in config.cert if isinstance(config.cert, tuple) else (config.cert,):
            if not Path(item).expanduser().is_file():
                raise BadInput(f"client certificate file {item!r} does not exist: check --cert")
    return clean_url, config


def _warn_stderr(message: str) -> None:
    print(message, file=sys.stderr)
