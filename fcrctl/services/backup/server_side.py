"""Server-side backups, as Fedora 4/5 offer them: ``POST {base}/fcr:backup`` and
``POST {base}/fcr:restore``, each with an optional plain-text body naming a directory on the
server.

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


def _body_dir(ctx: Context) -> Path | None:
    text = ctx.read_body().decode("utf-8", "replace").strip()
    if not text:
        return None
    where = Path(text)
    if not where.is_absolute():
        raise BadInput(f"the backup directory must be an absolute path on the server, not {text!r}")
    return where


def handle_backup(ctx: Context) -> Response:
    from werkzeug.wrappers import Response

    repo = _local(ctx.repo)
    home = BackupHome(Path(repo.location) / "backups")
    target = _body_dir(ctx)
    info = take(ctx.repo, home, label="server-side")
    where = export_snapshot(home, info.id, target) if target is not None else home.path(info.id)
    return Response(str(where), status=200, mimetype="text/plain", headers={"Fcrctl-Backup-Id": info.id})


def handle_restore(ctx: Context) -> Response:
    from werkzeug.wrappers import Response

    from fcrctl.services.backup.restore import restore

    repo = _local(ctx.repo)
    home = BackupHome(Path(repo.location) / "backups")
    source = _body_dir(ctx)
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
