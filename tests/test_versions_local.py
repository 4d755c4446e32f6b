"""Versions of the local repository, named by id, label or memento wherever a version is named;
an explicit version owns its memento (its second); labels are only what a user gave."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec

TTL = '<> <http://purl.org/dc/elements/1.1/title> "{}" .\n'


@pytest.fixture
def repo(tmp_path: Path) -> str:
    path = tmp_path / "repo"
    open_repository(str(path), create=True).close()
    return str(path)


def run(repo: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--repo", repo, *args])


def put(repo: str, tmp_path: Path, title: str, *, create: bool = False) -> None:
    body = tmp_path / f"{title}.ttl"
    body.write_text(TTL.format(title))
    result = run(repo, "create" if create else "put", "/moby", "--file", str(body))
    assert result.exit_code == 0, result.stderr


def test_a_label_names_a_version_for_get_info_and_revert(repo: str, tmp_path: Path) -> None:
    put(repo, tmp_path, "draft", create=True)
    assert run(repo, "versions", "create", "/moby", "--label", "reviewed").exit_code == 0
    put(repo, tmp_path, "final")
    got = run(repo, "versions", "get", "/moby", "reviewed")
    assert got.exit_code == 0, got.stderr
    assert "draft" in got.stdout and "final" not in got.stdout
    assert run(repo, "info", "/moby", "--version", "reviewed").exit_code == 0
    assert "draft" in run(repo, "get", "/moby", "--version", "reviewed").stdout
    assert run(repo, "versions", "revert", "/moby", "reviewed").exit_code == 0
    assert "draft" in run(repo, "get", "/moby").stdout


def test_only_given_labels_are_labels(repo: str, tmp_path: Path) -> None:
    put(repo, tmp_path, "one", create=True)
    first = run(repo, "versions", "create", "/moby").stdout.strip()
    put(repo, tmp_path, "two")
    assert run(repo, "versions", "revert", "/moby", first).exit_code == 0  # its OCFL message says "revert to"
    listing = json.loads(run(repo, "--json", "versions", "list", "/moby").stdout)
    assert [v["label"] for v in listing] == [None] * len(listing)


def test_an_unknown_version_says_so_and_names_a_real_command(repo: str, tmp_path: Path) -> None:
    put(repo, tmp_path, "one", create=True)
    result = run(repo, "versions", "get", "/moby", "nonesuch")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "/moby has no version 'nonesuch'" in result.stderr
    assert "fcrctl versions list /moby" in result.stderr


def test_labels_are_unique_and_unambiguous(repo: str, tmp_path: Path) -> None:
    put(repo, tmp_path, "one", create=True)
    assert run(repo, "versions", "create", "/moby", "--label", "ok").exit_code == 0
    again = run(repo, "versions", "create", "/moby", "--label", "ok")
    assert again.exit_code == ExitCode.CONFLICT and "already has a version labelled 'ok'" in again.stderr
    for bad in ("20261205162415", " ", "a\tb"):
        result = run(repo, "versions", "create", "/moby", "--label", bad)
        assert result.exit_code == ExitCode.BAD_INPUT, (bad, result.stderr)
    assert len(json.loads(run(repo, "--json", "versions", "list", "/moby").stdout)) == 2


def test_a_label_like_an_id_names_its_own_version(repo: str, tmp_path: Path) -> None:
    """Fedora 4 clients label versions v1, v2...: such a label names the version it was given to."""
    put(repo, tmp_path, "one", create=True)
    put(repo, tmp_path, "two")
    assert run(repo, "versions", "create", "/moby", "--label", "v1").exit_code == 0
    listing = json.loads(run(repo, "--json", "versions", "list", "/moby").stdout)
    labelled = [v for v in listing if v["label"] == "v1"]
    assert len(labelled) == 1 and labelled[0]["id"] != "v1"
    put(repo, tmp_path, "three")
    got = run(repo, "versions", "get", "/moby", "v1")
    assert got.exit_code == 0, got.stderr
    assert "two" in got.stdout and "one" not in got.stdout and "three" not in got.stdout


def test_a_label_shaped_like_an_id_names_its_version_as_in_fedora_4(repo: str, tmp_path: Path) -> None:
    put(repo, tmp_path, "one", create=True)  # v1
    put(repo, tmp_path, "two")  # v2
    assert run(repo, "versions", "create", "/moby", "--label", "v1").exit_code == 0  # v3, labelled v1
    put(repo, tmp_path, "three")
    assert "two" in run(repo, "versions", "get", "/moby", "v1").stdout
    assert "two" in run(repo, "versions", "get", "/moby", "v2").stdout  # v2 is still its id


def test_explicit_versions_own_their_memento(repo: str) -> None:
    local = open_repository(repo)
    try:
        local.create("/b", ResourceSpec(content=io.BytesIO(b"zero"), binary=True))
        first = local.create_version("/b", label="first")
        local.replace("/b", ResourceSpec(content=io.BytesIO(b"one"), binary=True))  # at once: same second?
        second = local.create_version("/b")
        local.replace("/b", ResourceSpec(content=io.BytesIO(b"two"), binary=True))
        versions = local.versions("/b")
        mementos = [v.memento for v in versions]
        assert mementos.count(first.memento) == 1 and mementos.count(second.memento) == 1
        for version, data in ((first, b"zero"), (second, b"one")):
            with local.open_binary("/b", version=version.memento) as content:
                assert content.stream.read() == data
    finally:
        local.close()
