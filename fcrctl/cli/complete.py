"""Shell completion of option and argument values (typer's protocol: the scripts in completions/
call back into fcrctl, so these lists are always the CLI's own).

Fixed vocabularies come from where the CLI defines them; backup and transaction ids are read
from the repository the command line names (--repo, FCRCTL_REPO, the profile, the default).
A completion must never fail in the user's shell: a repository that cannot be read offers none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import typer

RDF_FORMATS = ("turtle", "ntriples", "rdfxml", "jsonld", "n3")
API_DIALECTS = ("fedora4", "fedora5", "fedora6")
OMIT_VALUES = ("containment", "membership", "server-managed")
INCLUDE_VALUES = ("inbound", "children")
EXPORT_FORMATS = ("turtle", "ntriples", "jsonld", "rdfxml")  # export --format


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


def rdf_formats(incomplete: str) -> list[str]:
    return _starting(RDF_FORMATS, incomplete)


def export_formats(incomplete: str) -> list[str]:
    return _starting(EXPORT_FORMATS, incomplete)


def api_dialects(incomplete: str) -> list[str]:
    return _starting(API_DIALECTS, incomplete)


def container_types(incomplete: str) -> list[str]:
    from fcrctl.repository.base import MODEL_NAMES

    return _starting(MODEL_NAMES, incomplete)


def handlings(incomplete: str) -> list[str]:
    from fcrctl.repository.base import EXTERNAL_HANDLINGS

    return _starting(EXTERNAL_HANDLINGS, incomplete)


def omit_values(incomplete: str) -> list[str]:
    return _starting(OMIT_VALUES, incomplete)


def include_values(incomplete: str) -> list[str]:
    return _starting(INCLUDE_VALUES, incomplete)


def backup_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Ids of the backups the command would see: in --from STORE if given, else the repository's."""
    from fcrctl.errors import FcrctlError

    try:
        source = ctx.params.get("source")
        if source:
            from fcrctl.services.backup import manifest
            from fcrctl.services.backup.stores import open_store

            backups = manifest.list_store(open_store(source))
        else:
            from fcrctl.cli.context import data_home
            from fcrctl.services.backup.snapshot import BackupHome, home_for

            repo = _open(ctx)
            try:
                backups = BackupHome(home_for(repo, data_home())).list()
            finally:
                repo.close()
        return _starting((b.id for b in backups), incomplete)
    except (FcrctlError, OSError, ValueError):
        return []


def transaction_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    from fcrctl.errors import FcrctlError

    try:
        repo = _open(ctx)
        try:
            return _starting((t.id for t in repo.transactions()), incomplete)  # type: ignore[attr-defined]
        finally:
            repo.close()
    except (FcrctlError, OSError, ValueError, AttributeError):
        return []


def _open(ctx: typer.Context) -> Any:
    """The repository named on the command line being completed (never created by completing)."""
    from fcrctl.cli.context import default_repository, load_profile
    from fcrctl.repository import open_repository, scheme_of

    root = ctx.find_root().params
    profile = root.get("profile") or os.environ.get("FCRCTL_PROFILE") or None
    target = root.get("repo") or os.environ.get("FCRCTL_REPO") or load_profile(profile).get("repo")
    target = str(target or default_repository())
    options: dict[str, Any] = {}
    if scheme_of(target) in ("http", "https"):
        options = {k: root[k] for k in ("api", "user", "password_file", "token_file", "ca_bundle", "timeout")
                   if root.get(k)}
    else:
        target = os.path.expanduser(target)
    return open_repository(target, **options)
