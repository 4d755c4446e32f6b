"""Export with versions over HTTP reads each memento in the fewest requests (counted at a real serve's access
log): a container's one GET, a binary's the GETs of its content and of its description, none of them a HEAD
or a TimeMap read again; and it writes exactly what the longer way (info, get_rdf, open_binary) wrote."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcrctl.cli.main import app
from fcrctl.repository.http.repository import HttpRepository
from tests.server_fixture import start_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _versioned_export  # noqa: E402

COUNT, VERSIONS = 6, 3
MEMENTO = re.compile(r'"(\w+) /rest/data/p0/r(\d+)(/fcr:metadata)?/fcr:versions/\d{14} ')


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local repository of COUNT resources with VERSIONS mementos each (every 2nd a binary), imported with
    their dates so that every memento has a second of its own."""
    work = tmp_path_factory.mktemp("versioned")
    _versioned_export.write(work / "tree", COUNT, VERSIONS, binary_every=2, acl_every=0)
    assert CliRunner().invoke(app, ["--repo", str(work / "repo"), "init"]).exit_code == 0
    result = CliRunner().invoke(app, ["--repo", str(work / "repo"), "import", str(work / "tree")])
    assert result.exit_code == 0, result.stdout + result.stderr
    return work / "repo"


def _export(url: str, out: Path) -> None:
    result = CliRunner().invoke(app, ["--repo", url, "export", "/data", str(out)])
    assert result.exit_code == 0, result.stdout + result.stderr


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("dialect", ["fedora5", "fedora6"])
def test_one_request_per_container_memento_two_per_binary_memento(source: Path, tmp_path: Path,
                                                                   dialect: str) -> None:
    log = tmp_path / "access.log"
    with start_server(source, dialect=dialect, subprocess=True, process_args=("--access-log", str(log))) as served:
        _export(served.url, tmp_path / "out")
        time.sleep(0.3)  # the last line is written once its response is sent
    per: dict[tuple[int, str], int] = {}
    for line in log.read_text().splitlines():
        found = MEMENTO.search(line)
        if found:
            assert found.group(1) == "GET", line
            key = (int(found.group(2)), "description" if found.group(3) else "memento")
            per[key] = per.get(key, 0) + 1
    for n in range(COUNT):
        mementos = VERSIONS + (n % 7 == 3)  # (_versioned_export: every 7th changed after its last memento)
        if n % 2 == 0:  # a binary: its content's GET and its description's, once each
            assert per[(n, "memento")] == per[(n, "description")] == mementos, per
        else:
            assert per[(n, "memento")] == mementos and (n, "description") not in per, per
    timemaps = re.findall(r'"GET /rest/data/p0/r(\d+)/fcr:versions ', log.read_text())
    assert sorted(timemaps) == [str(n) for n in range(COUNT)]  # each TimeMap read once


def test_what_is_written_is_what_the_long_way_wrote(source: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with start_server(source, dialect="fedora6") as served:
        _export(served.url, tmp_path / "short")
        monkeypatch.delattr(HttpRepository, "memento")
        _export(served.url, tmp_path / "long")
    short, long = _tree(tmp_path / "short"), _tree(tmp_path / "long")
    assert any("fcr%3Aversions/" in name for name in short)
    assert short == long
