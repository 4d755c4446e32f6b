"""Shared helpers for the backup tests: a small repository, the CLI runner, tree digests."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec

TTL = '<> <http://purl.org/dc/elements/1.1/title> "{}" .'


def make_repo(path: Path, *, binaries: int = 3) -> None:
    from rdflib import Graph

    repo = open_repository(str(path), create=True)
    try:
        g = Graph().parse(data=TTL.format("Top").replace("<>", "<info:fedora/top>"), format="turtle")
        repo.create("/top", ResourceSpec(graph=g))
        repo.create("/top/sub", ResourceSpec())
        for i in range(binaries):
            repo.create(
                f"/top/sub/b{i}",
                ResourceSpec(
                    content=io.BytesIO(f"binary {i} ".encode() * 50), mime_type="text/plain", filename=f"b{i}.txt"
                ),
            )
        repo.create("/other", ResourceSpec())
    finally:
        repo.close()


def run(repo: Path | str, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, ["--repo", str(repo), *args], input=input)


def ok_json(repo: Path | str, *args: str) -> Any:
    result = run(repo, "--json", *args)
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def paths_in(repo_path: Path) -> list[str]:
    repo = open_repository(str(repo_path))
    try:
        return sorted(i.path for i in repo.children("/", recursive=True))
    finally:
        repo.close()


def snapshot_tree(repo_dir: Path, backup_id: str) -> Path:
    """A complete storage root of the snapshot: its own tree when it holds one (downloaded), else
    linked from where its objects are (the live root, retention generations)."""
    from fcrctl.services.backup.snapshot import BackupHome

    home = BackupHome(repo_dir / "backups")
    return home.full_tree(home.get(backup_id))


def object_file(repo_dir: Path, backup_id: str, name: str) -> Path:
    """The file a snapshot reads for ``name`` (a content file's name): damage it to damage the
    snapshot, as damaging a hard-linked copy would."""
    from fcrctl.services.backup import rootstate
    from fcrctl.services.backup.snapshot import BackupHome

    home = BackupHome(repo_dir / "backups")
    info = home.get(backup_id)
    state = rootstate.RootState.load(home.path(backup_id) / rootstate.STATE_FILE)
    sources = home.sources_of(info)
    for o in state.objects.values():
        found = sources.locate(o)
        if found is not None:
            hits = sorted(Path(found[0]).rglob(name))
            if hits:
                return hits[0]
    raise FileNotFoundError(name)
