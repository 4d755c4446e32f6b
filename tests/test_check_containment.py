"""fcrctl check's tests across objects (parents, index agreement) run on a temporary SQLite
database, not on a dict of every resource: the same findings, with memory that stays flat."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import Problem, ResourceSpec
from fcrctl.repository.local.check_containment import FoundResources
from fcrctl.repository.local.check_object import Resource


def found(*chunks: dict[str, Resource]) -> list[Problem]:
    with FoundResources() as store:
        for chunk in chunks:
            store.add(chunk)
        return list(store.parent_problems())


def live(parent: str | None) -> Resource:
    return Resource(parent, False, "t", True)


def test_parents_missing_or_deleted_are_reported_by_path() -> None:
    problems = found(
        {"info:fedora": live(None), "info:fedora/a": live("info:fedora"),
         "info:fedora/gone": Resource("info:fedora", True, None, True)},
        {"info:fedora/gone/child": live("info:fedora/gone"), "info:fedora/lost/b": live("info:fedora/lost"),
         "info:fedora/gone/dead": Resource("info:fedora/gone", True, None, True)},
    )
    assert problems == [
        Problem("/gone/child", "parent /gone is deleted but this resource is not"),
        Problem("/lost/b", "parent /lost does not exist"),
    ]


def test_an_id_met_again_replaces_what_was_met_before() -> None:
    # the same id in two objects (a copied object directory): the later one counts, as a dict's update did
    first = {"info:fedora/p": live(None), "info:fedora/p/c": live("info:fedora/p")}
    assert found(first, {"info:fedora/p": Resource(None, True, None, True)}) == [
        Problem("/p/c", "parent /p is deleted but this resource is not")]
    assert found({"info:fedora/p": Resource(None, True, None, True)}, first) == []


def test_index_disagreements_are_counted(tmp_path: Path) -> None:
    where = tmp_path / "repo"
    repo = open_repository(str(where), create=True)
    for i in range(5):
        repo.create(f"/c/x{i}", ResourceSpec(content=io.BytesIO(b"x") if i == 4 else None), parents=True)
    repo.close()
    run = lambda: CliRunner().invoke(app, ["--repo", str(where), "--json", "check"])  # noqa: E731
    assert run().exit_code == 0
    db = sqlite3.connect(where / "index.sqlite")
    db.execute("DELETE FROM resources WHERE path = '/c/x0'")  # found, not indexed
    db.execute("UPDATE resources SET deleted = 1 WHERE path = '/c/x1'")  # deleted in the index only
    db.execute("UPDATE resources SET headers = json_set(headers, '$.stateToken', 'old') WHERE path = '/c/x2'")
    db.execute("INSERT INTO resources SELECT '/c/ghost', parent, object_id, object_rel, model, deleted, headers, "
               "content_file, desc_headers, desc_file, sort_key || 'g' FROM resources WHERE path = '/c/x3'")
    db.commit()
    db.close()
    result = run()
    assert result.exit_code == ExitCode.CORRUPT
    assert [(p["where"], p["message"]) for p in json.loads(result.stdout)["problems"]] == [
        ("index", "the index disagrees with the OCFL root on 4 resources: run `fcrctl reindex`")]



def test_a_full_temporary_directory_is_a_one_line_error() -> None:
    from fcrctl.errors import NoSpace

    with FoundResources() as store:
        store._db.execute("PRAGMA max_page_count = 8")  # SQLite's own "database or disk is full"
        with pytest.raises(NoSpace, match=r"free space in the temporary directory \(TMPDIR\)"):
            for i in range(100):
                store.add({f"info:fedora/x{i}-{k}": live("info:fedora") for k in range(100)})


def test_index_agreement_counts_each_path_once_and_trusts_only_sound_objects(tmp_path: Path) -> None:
    """The comparison is one sorted merge of both sides by path: each case of the old per-resource
    join gives the same count (unsound objects' resources are not held against the index)."""
    from fcrctl.repository.local.index import Index, ObjectEntries, Row

    indexed = {"/same": (False, "t1"), "/token": (False, "t1"), "/deleted": (False, "t1"), "/ghost": (False, "t1"),
               "/none": (False, None), "/none-vs-token": (False, None), "/unsound": (False, "t1"),
               "/empty-token": (False, "")}
    index = Index(tmp_path / "index.sqlite")
    with index.transaction():
        index.add([ObjectEntries(f"info:fedora{p}", [Row(p, "/", f"info:fedora{p}", "rel", "m", deleted,
                                                         {} if token is None else {"stateToken": token})])
                   for p, (deleted, token) in indexed.items()])
    index.close()
    met = {"/same": Resource("info:fedora", False, "t1", True),
           "/token": Resource("info:fedora", False, "t2", True),  # another state token: 1
           "/deleted": Resource("info:fedora", True, "t1", True),  # deleted in the root only: 1
           "/none": Resource("info:fedora", False, None, True),
           "/none-vs-token": Resource("info:fedora", False, "N", True),  # a token where the index has none: 1
           "/unsound": Resource("info:fedora", True, "t9", False),  # its object failed its checks: 0
           "/empty-token": Resource("info:fedora", False, None, True),  # no token against an empty one: 1
           "/unindexed": Resource("info:fedora", False, "t1", True),  # found, not indexed: 1
           "/unindexed-unsound": Resource("info:fedora", False, "t1", False)}  # 0; /ghost indexed only: 1
    with FoundResources() as store:
        store.add({f"info:fedora{p}": r for p, r in met.items()})
        assert store.index_disagreements(tmp_path / "index.sqlite") == 6
