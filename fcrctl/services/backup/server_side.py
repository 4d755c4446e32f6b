"""Server-side backups, as Fedora 4/5 offer them: ``POST {base}/fcr:backup`` and
``POST {base}/fcr:restore``, each with an optional plain-text body naming a directory on the
server.

Both are admin-only and confined: they answer 403 unless the request comes from an auth-file
user marked admin and the server was started with ``--backup-dir DIR``; the directory in a
body must be under DIR (a server without authentication never does them: anyone could
replace its content).

- fcr:backup: takes a snapshot of the served (local) repository; with a body DIR, also writes
  it to DIR (``DIR/backup.json`` + ``DIR/ocfl-root/``; DIR new or empty). 200, body: the
  server-side directory holding the backup (Fedora answers with the directory too).
- fcr:restore: body DIR (required here) is such a directory, or a snapshot directory under
  REPO/backups. Restores it with a fail-safe snapshot first. 200, JSON
  ``{"restored": id, "previous": fail-safe id}``.

Both ends live here: :func:`handle_backup` / :func:`handle_restore` for ``fcrctl serve``
(plugged in with ``FedoraApp.route``) and :func:`request_backup` / :func:`request_restore`
for ``fcrctl backup --server-side`` against any server with these endpoints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl.errors import BadInput, Conflict, NotFound, Unsupported
from fcrctl.repository.base import Repository
from fcrctl.services.backup import tree
from fcrctl.services.backup.snapshot import (
    EPOCH_KEY,
    META,
    TREE,
    BackupHome,
    BackupInfo,
    Snapshottable,
    check_id,
    take,
    write_meta,
)

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from fcrctl.server.context import Context


def export_snapshot(home: BackupHome, backup_id: str, target: Path) -> Path:
    """Copy (hard links where possible) a snapshot to ``target`` (new or empty)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(f"{target} exists and is not an empty directory: give a new or empty directory")
    target.mkdir(parents=True, exist_ok=True)
    info = home.get(backup_id)
    home.link(info, target / TREE)
    info.extra.pop(EPOCH_KEY, None)  # the copy holds every file itself
    write_meta(target, info)
    return target


def import_snapshot(home: BackupHome, source: Path) -> BackupInfo:
    """Make a snapshot directory elsewhere (DIR/backup.json + DIR/ocfl-root) known to ``home``."""
    if not (source / META).is_file() or not (source / TREE).is_dir():
        raise NotFound(f"{source} holds no fcrctl backup ({META} and {TREE}/): give a directory fcr:backup wrote")
    info = BackupHome._read(source)
    check_id(info.id)  # it names a directory under home
    if (home.root / info.id).exists():
        return home.get(info.id)
    if info.epoch is not None:  # a copy of a local snapshot dir: its objects were never in it
        raise BadInput(f"{source} is a copy of a local snapshot, which reads its objects from its repository: "
                       f"use a directory fcr:backup wrote, or a store (upload-backup)")
    with tree.staging_dir(home.root) as staged:
        tree.link_tree(source / TREE, staged / TREE)
        return home.install(staged, info)


# -- server ---------------------------------------------------------------------------------------
def _local(repo: Repository) -> Snapshottable:
    if not isinstance(repo, Snapshottable):
        raise Unsupported("server-side backups need a local repository behind the server")
    return repo


def _refusal(ctx: Context) -> str | None:
    """Why this request may not back up or restore the server, or None if it may."""
    if ctx.config.backup_dir is None:
        return "server-side backups are off: the server must be started with --backup-dir DIR"
    if ctx.user is None:
        return "server-side backups need an admin user: the server runs without --auth-file"
    if not ctx.admin:
        return f"server-side backups need an admin user; {ctx.user} is not one (serve --add-user NAME --admin)"
    return None


def _forbidden(message: str) -> Response:
    from fcrctl.server import responses

    return responses.text(403, message)


def _body_dir(ctx: Context) -> Path | None:
    """The directory the body names, which must lie under the server's --backup-dir."""
    text = ctx.read_body().decode("utf-8", "replace").strip()
    if not text:
        return None
    where = Path(text)
    if not where.is_absolute() or "\0" in text:
        raise BadInput(f"the backup directory must be an absolute path on the server, not {text!r}")
    allowed = Path(os.path.realpath(str(ctx.config.backup_dir)))
    # resolved: a symlink or a .. under the allowed directory must not lead out of it
    resolved = Path(os.path.realpath(where))
    if resolved == allowed or allowed not in resolved.parents:
        raise _OutsideBackupDir(f"{text} is not under the server's backup directory: give a directory in it")
    return resolved


class _OutsideBackupDir(BadInput):
    """A body naming a directory outside --backup-dir (answered 403)."""


def handle_backup(ctx: Context) -> Response:
    from werkzeug.wrappers import Response

    refused = _refusal(ctx)
    if refused is not None:
        return _forbidden(refused)
    repo = _local(ctx.repo)
    home = BackupHome(Path(repo.location) / "backups")
    try:
        target = _body_dir(ctx)
    except _OutsideBackupDir as e:
        return _forbidden(e.message)
    if target is not None and target.exists() and (not target.is_dir() or any(target.iterdir())):
        # before the snapshot: a refused request leaves no backup behind
        raise Conflict(f"{target} exists and is not an empty directory: give a new or empty directory")
    info = take(ctx.repo, home, label="server-side", unique=True)
    if target is None:
        where = home.path(info.id)
    else:
        try:
            where = export_snapshot(home, info.id, target)
        except BaseException:
            home.delete(info.id)  # the request failed: it leaves no backup it made
            raise
    return Response(str(where), status=200, mimetype="text/plain", headers={"Fcrctl-Backup-Id": info.id})


def handle_restore(ctx: Context) -> Response:
    from werkzeug.wrappers import Response

    from fcrctl.services.backup.restore import restore

    refused = _refusal(ctx)
    if refused is not None:
        return _forbidden(refused)
    repo = _local(ctx.repo)
    home = BackupHome(Path(repo.location) / "backups")
    try:
        source = _body_dir(ctx)
    except _OutsideBackupDir as e:
        return _forbidden(e.message)
    if source is None:
        raise BadInput("fcr:restore needs the backup directory in the request body")
    info = import_snapshot(home, source)
    result = restore(ctx.repo, home, info.id)
    return Response(json.dumps(result.to_json()), status=200, mimetype="application/json")


def register(app: Any) -> None:
    """Plug both endpoints into a FedoraApp."""
    from fcrctl.server import routing as rt

    app.route(rt.BACKUP, "POST", handle_backup)
    app.route(rt.RESTORE, "POST", handle_restore)


# -- client -----------------------------------------------------------------------------------------
def _post(repo: Repository, endpoint: str, directory: str | None) -> Any:
    send = getattr(repo, "_send", None)
    if send is None or "://" not in repo.location:
        raise Unsupported(f"--server-side needs a remote server; {repo.location} is local (use a plain backup)")
    body = (directory or "").encode("utf-8")
    return send("POST", f"{repo.location}/{endpoint}", data=body, headers={"Content-Type": "text/plain"},
                what=endpoint)


def request_backup(repo: Repository, directory: str | None) -> dict[str, Any]:
    response = _post(repo, "fcr:backup", directory)
    where = response.text.strip() or (directory or "")
    return {"serverSide": True, "directory": where, "id": response.headers.get("Fcrctl-Backup-Id"),
            "repository": repo.location}


def request_restore(repo: Repository, directory: str) -> dict[str, Any]:
    response = _post(repo, "fcr:restore", directory)
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    return {"serverSide": True, "directory": directory, "repository": repo.location, **doc}
