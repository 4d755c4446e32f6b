"""One versions model on every backend: the same CLI scenario run against the local repository and
against `fcrctl serve` in each dialect prints the same thing (mementos and dates aside, which are
the clock's), names a version by id, label or memento alike, and says the same when one is missing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode
from fcrctl.repository import open_repository
from tests.server_fixture import start_server

TTL = '<> <http://purl.org/dc/elements/1.1/title> "{}" .\n'


class Backend:
    def __init__(self, name: str, args: list[str], work: Path) -> None:
        self.name, self.args, self.work = name, args, work

    def run(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(app, [*self.args, *args])
        assert result.exit_code == code, (self.name, args, result.stdout, result.stderr)
        return result

    def put(self, title: str, *, create: bool = False) -> None:
        body = self.work / f"{title}.ttl"
        body.write_text(TTL.format(title))
        self.run("create" if create else "put", "/moby", "--file", str(body))


def backend(name: str, tmp_path: Path) -> Iterator[Backend]:
    repo = tmp_path / name
    open_repository(str(repo), create=True).close()
    if name == "local":
        yield Backend(name, ["--repo", str(repo)], tmp_path)
        return
    with start_server(repo, dialect=name) as handle:
        yield Backend(name, ["--repo", handle.url, "--api", name], tmp_path)


@pytest.fixture(params=["local", "fedora4", "fedora5", "fedora6"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend(request.param, tmp_path)


@pytest.fixture(params=["local", "fedora4"])
def labelling(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from backend(request.param, tmp_path)


def normalised(text: str, seen: dict[str, str] | None = None) -> str:
    """Base URIs -> BASE; mementos -> M1, M2... in order of first appearance; dates -> DATE; table
    padding -> one space."""
    seen = {} if seen is None else seen
    text = re.sub(r"http://127\.0\.0\.1:\d+/rest|info:fedora", "BASE", text)  # where the repository is
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "DATE", text)
    text = re.sub(r"\b\d{14}\b", lambda m: seen.setdefault(m.group(), f"M{len(seen) + 1}"), text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def scenario(b: Backend) -> list[str]:
    """Two versions made within one second, read, listed, a missing one asked for, reverted."""
    b.put("one", create=True)
    first = b.run("versions", "create", "/moby").stdout.strip()
    b.put("two")
    second = b.run("versions", "create", "/moby").stdout.strip()
    assert re.fullmatch(r"\d{14}", first) and re.fullmatch(r"\d{14}", second) and first != second, b.name
    out = [first, second, b.run("versions", "list", "/moby").stdout]
    out.append(b.run("versions", "get", "/moby", first).stdout)
    out.append(b.run("versions", "get", "/moby", second).stdout)
    out.append(b.run("info", "/moby", "--version", first).stdout.count("\n"))
    missing = b.run("versions", "get", "/moby", "v9", code=ExitCode.NOT_FOUND)
    out.append(missing.stderr)
    b.run("versions", "revert", "/moby", first)
    out.append(b.run("get", "/moby").stdout.count('"one"'))
    listing = json.loads(b.run("--json", "versions", "list", "/moby").stdout)
    out.append([sorted(v) for v in listing])
    out.append([v["label"] for v in listing])
    out.append(json.loads(b.run("--json", "versions", "create", "/moby").stdout).keys() == listing[0].keys())
    seen: dict[str, str] = {}
    return [normalised(x, seen) if isinstance(x, str) else x for x in out]


def test_the_same_scenario_prints_the_same_on_every_backend(any_backend: Backend, tmp_path: Path) -> None:
    got = scenario(any_backend)
    with open_repository(str(tmp_path / "reference"), create=True):
        pass
    reference = scenario(Backend("local", ["--repo", str(tmp_path / "reference")], tmp_path))
    assert got == reference
    assert got[0] == "M1" and got[1] == "M2"
    assert "label" in got[2] and "v1" not in got[2]  # no id dressed up as a label
    assert "/moby has no version 'v9' (by id, label or memento): list them with `fcrctl versions list /moby`" \
        in got[6]


def test_a_label_names_a_version_alike_locally_and_over_fedora4(labelling: Backend) -> None:
    b = labelling
    b.put("draft", create=True)
    b.run("versions", "create", "/moby")
    b.put("reviewed")
    made = json.loads(b.run("--json", "versions", "create", "/moby", "--label", "rev").stdout)
    assert made["label"] == "rev"
    b.put("edited")
    listing = json.loads(b.run("--json", "versions", "list", "/moby").stdout)
    assert [v["memento"] for v in listing if v["label"]] == [made["memento"]]
    table = normalised(b.run("versions", "list", "/moby").stdout, {made["memento"]: "MADE"}).splitlines()
    assert [row for row in table if "rev" in row] == ["MADE DATE rev"]
    assert all(row.endswith("DATE") for row in table if row.startswith("M") and "MADE" not in row)
    for name in ("rev", made["memento"], made["id"]):
        assert '"reviewed"' in b.run("versions", "get", "/moby", name).stdout, (b.name, name)
        assert b.run("info", "/moby", "--version", name).exit_code == 0
    b.run("versions", "revert", "/moby", "rev")
    assert '"reviewed"' in b.run("get", "/moby").stdout
    taken = b.run("versions", "create", "/moby", "--label", "rev", code=ExitCode.CONFLICT)
    assert "rev" in taken.stderr


def test_a_missing_version_over_http_names_the_version_not_the_resource(tmp_path: Path) -> None:
    for b in backend("fedora6", tmp_path):
        b.put("one", create=True)
        b.run("versions", "create", "/moby")
        for ask in (["versions", "get", "/moby", "20000101000000"], ["info", "/moby", "--version", "nope"],
                    ["versions", "revert", "/moby", "nope"]):
            result = b.run(*ask, code=ExitCode.NOT_FOUND)
            assert result.stderr.strip().endswith(
                "/moby has no version '" + ask[-1] + "' (by id, label or memento): "
                "list them with `fcrctl versions list /moby`"), result.stderr


def test_fedora4_reports_and_stores_only_given_labels(tmp_path: Path) -> None:
    import requests
    from rdflib import Graph, URIRef

    from fcrctl import rdf

    repo = tmp_path / "served"
    open_repository(str(repo), create=True).close()
    with start_server(repo, dialect="fedora4") as handle:
        b = Backend("fedora4", ["--repo", handle.url, "--api", "fedora4"], tmp_path)
        b.put("one", create=True)
        b.run("versions", "create", "/moby")  # the client must send a Slug: it invents one
        b.run("versions", "create", "/moby", "--label", "rev")
        listing = Graph().parse(data=requests.get(handle.url + "/moby/fcr:versions", timeout=10).content,
                                format="turtle")
        # 4.7 labels every listed version with its URL's last segment (clients read a label off each):
        # an unlabelled one by its created time, in the shape the client invented and reads as no label
        named = {str(v).rsplit("/", 1)[1]: str(listing.value(v, URIRef(rdf.FEDORA + "hasVersionLabel")))
                 for v in listing.objects(None, URIRef(rdf.FEDORA + "hasVersion"))}
        assert len(named) == 3 and all(segment == label for segment, label in named.items())
        assert sorted(n if n == "rev" else re.sub(r"^v\d{20}$", "TIME", n) for n in named) == ["TIME", "TIME", "rev"]
        assert [v["label"] for v in json.loads(b.run("--json", "versions", "list", "/moby").stdout)] == [
            None, None, "rev"]
    with open_repository(str(repo)) as local:
        assert [v.label for v in local.versions("/moby")] == [None, None, "rev"]
