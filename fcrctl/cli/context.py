"""Per-invocation state: resolved settings, the printer, and a lazily opened repository.

Settings come, in order of precedence, from command-line options, environment variables
(typer reads ``FCRCTL_*``), the selected profile in ``$XDG_CONFIG_HOME/fcrctl/config.toml``,
and defaults. The repository is opened on first use, so ``--help`` and argument errors never
touch the disk or the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import typer

from fcrctl.cli.output import Printer
from fcrctl.errors import BadInput, NotARepository, ReadOnly, Unsupported
from fcrctl.repository.base import Repository

# Options the HTTP backend consumes; passed to open_repository only when set.
HTTP_OPTIONS = ("api", "user", "password_file", "token_file", "ca_bundle", "insecure", "timeout")
PROFILE_KEYS = frozenset({"repo", *HTTP_OPTIONS})


@dataclass
class Settings:
    repo: str | None = None
    json: bool = False
    quiet: bool = False
    verbose: int = 0
    traceback: bool = False
    profile: str | None = None
    api: str | None = None
    user: str | None = None
    password_file: str | None = None
    token_file: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    timeout: float | None = None
    tx: str | None = None  # run inside this transaction (--tx / FCRCTL_TX)

    def with_profile(self, profile: dict[str, Any]) -> Settings:
        """Fill the settings not given on the command line or in the environment from a profile."""
        for f in fields(self):
            if f.name in profile and getattr(self, f.name) in (None, False):
                setattr(self, f.name, profile[f.name])
        return self


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "fcrctl"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "fcrctl"


def default_repository() -> Path:
    return data_home() / "repository"


def load_profile(name: str | None, config_file: Path | None = None) -> dict[str, Any]:
    """``[profiles.NAME]`` from the config file; ``default`` applies when no name is given."""
    path = config_file or config_home() / "config.toml"
    if not path.exists():
        if name:
            raise BadInput(f"profile {name!r} not found: {path} does not exist (add a [profiles.{name}] table)")
        return {}
    import tomllib

    try:
        with path.open("rb") as fh:
            config = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    profiles = config.get("profiles", {})
    if not isinstance(profiles, dict):
        raise BadInput(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    if name is None:
        profile = profiles.get("default", {})
    elif name in profiles:
        profile = profiles[name]
    else:
        known = ", ".join(sorted(profiles)) or "none"
        raise BadInput(f"profile {name!r} not found in {path} (profiles: {known})")
    if not isinstance(profile, dict):
        raise BadInput(f"{path}: [profiles.{name or 'default'}] must be a table")
    if "password" in profile:
        raise BadInput(f"{path}: passwords do not belong in config files: use password_file or FCRCTL_PASSWORD")
    unknown = sorted(set(profile) - PROFILE_KEYS)
    if unknown:
        raise BadInput(f"{path}: unknown key {unknown[0]!r} in [profiles.{name or 'default'}]")
    return profile


def check_utf8_directory(target: str) -> None:
    """A repository's directory must have a UTF-8 path: it is written into backups, JSON and URLs."""
    from fcrctl.names import is_utf8, utf8_name

    if not is_utf8(target):
        raise BadInput(f"repository directory {utf8_name(target)} (shown with %XX for its other bytes) is not "
                       "UTF-8: rename it, or reach it through a symlink whose path is UTF-8")


class Cli:
    """What a command needs: settings, a printer, and the repository (opened on first use)."""

    def __init__(self, settings: Settings, printer: Printer | None = None) -> None:
        self.settings = settings
        self.out = printer or Printer(json_mode=settings.json, quiet=settings.quiet, verbose=settings.verbose)
        self._repo: Repository | None = None
        self._plain: Repository | None = None  # without --tx, for the tx commands
        self._keepalive: Any = None

    @classmethod
    def of(cls, ctx: typer.Context, *, json: bool = False) -> Cli:
        cli = ctx.find_object(Cli)
        if cli is None:  # a command invoked without the main callback (only in unusual embeddings)
            cli = cls(Settings())
            ctx.obj = cli
        if json:
            cli.settings.json = cli.out.json_mode = True
        return cli

    @property
    def target(self) -> str:
        return self.settings.repo or str(default_repository())

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = self._open()
        return self._repo

    def writable(self) -> Repository:
        """The repository, after checking that it accepts writes."""
        repo = self.repo
        if not repo.capabilities.writable:
            raise ReadOnly(f"repository {repo.location} is read-only: nothing was changed")
        return repo

    def require(self, capability: str, what: str) -> Repository:
        """The repository, after checking one of its capabilities (Unsupported otherwise)."""
        repo = self.repo
        if not getattr(repo.capabilities, capability):
            raise Unsupported(f"{what} is not supported by this repository ({repo.location})")
        return repo

    def transactional(self) -> Any:
        """The repository itself (never a --tx view), after checking it has transactions."""
        if self._plain is None:
            self._plain = self._open(tx=False)
        if not self._plain.capabilities.transactions and not self._plain.capabilities.writable:
            raise ReadOnly(f"repository {self._plain.location} is read-only: transactions need write access")
        if not self._plain.capabilities.transactions:
            raise Unsupported(f"transactions are not supported by this repository ({self._plain.location})")
        return self._plain

    def open_plain(self) -> Repository:
        """A new handle on the repository (for a keepalive thread); the caller closes it."""
        return self._open(tx=False, quiet=True)

    def child_env(self) -> dict[str, str]:
        """Environment for commands run by fcrctl that call fcrctl again (tx run)."""
        return {"FCRCTL_REPO": self.target}

    def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()
            self._keepalive = None
        for name in ("_repo", "_plain"):
            repo = getattr(self, name)
            if repo is not None:
                setattr(self, name, None)
                repo.close()

    def _open(self, *, tx: bool = True, quiet: bool = False) -> Repository:
        from fcrctl.repository import open_repository, scheme_of

        s = self.settings
        target = self.target
        options: dict[str, Any] = {}
        scheme = scheme_of(target)
        if scheme in ("http", "https"):
            options = {k: getattr(s, k) for k in HTTP_OPTIONS if getattr(s, k) not in (None, False)}
            if s.insecure:
                self.out.warn(
                    "--insecure: TLS certificates are not verified; others on the network can read and change traffic"
                )
        elif scheme == "file" and not target.startswith("file://"):
            target = str(Path(target).expanduser())
            check_utf8_directory(target)
            if s.repo is None:
                # Only the default repository is created on first use; a mistyped --repo must not be.
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                options["create"] = True
        if tx and s.tx:
            options["tx"] = s.tx
        try:
            repo = open_repository(target, **options)
        except NotARepository as exc:
            if "fcrctl init" in exc.message:
                raise
            raise NotARepository(f"{exc.message} (create one with: fcrctl init {target})", path=exc.path) from exc
        if quiet:
            return repo
        self.out.debug(f"repository: {repo.location}")
        if tx and s.tx:
            # a long command (upload, import, bulk delete) must not lose its transaction to the timeout
            from fcrctl.services.transactions import KeepAlive

            self._keepalive = KeepAlive(self.open_plain, s.tx).start()
        return repo
