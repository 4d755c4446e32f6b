"""import --verify compares each imported ACL with the export's fcr%3Aacl (issue 17): its triples less
the server-managed ones; a difference is reported and exits non-zero, locally and through serve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcrctl.errors import ExitCode
from tests.server_fixture import start_server
from tests.test_transfer import FIXTURES, run

SOURCES = {"4.7.5": FIXTURES / "4.7.5-export", "5.x bag": FIXTURES / "sample" / "bag"}
PROTECTED = {"4.7.5": "/container1", "5.x bag": "/image0"}
OTHER_RULES = """@prefix acl: <http://www.w3.org/ns/auth/acl#> .
<#auth0> a acl:Authorization ; acl:accessTo <{target}> ; acl:mode acl:Read ; acl:agent "someone-else" .
"""


def _verified(repo: Path | str, source: Path) -> tuple[int, dict]:
    """import --resume --verify: everything there already, so only the comparison runs."""
    result = run(repo, "--json", "import", str(source), "--resume", "--verify")
    return result.exit_code, json.loads(result.stdout)


def _tamper(repo: Path | str, path: str, tmp_path: Path, url: str) -> None:
    rules = tmp_path / "rules.ttl"
    rules.write_text(OTHER_RULES.format(target=url))
    result = run(repo, "acl", "set", path, "--file", str(rules))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", SOURCES)
def test_a_tampered_acl_fails_verify_locally(tmp_path: Path, name: str) -> None:
    target, path = tmp_path / "repo", PROTECTED[name]
    result = run(target, "--json", "import", str(SOURCES[name]), "--verify")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["acl"] == 1
    _tamper(target, path, tmp_path, f"info:fedora{path}")
    code, report = _verified(target, SOURCES[name])
    assert code == ExitCode.PARTIAL
    assert report["failed_items"] == [{"path": path, "reason": "verify: ACL triples differ from the export's fcr:acl"}]
    assert run(target, "acl", "delete", path).exit_code == 0
    code, report = _verified(target, SOURCES[name])
    assert code == ExitCode.PARTIAL
    assert "the repository has none" in report["failed_items"][0]["reason"]


def test_a_tampered_acl_fails_verify_through_serve(tmp_path: Path) -> None:
    with start_server(tmp_path / "served", dialect="fedora6") as served:
        result = run(served.url, "--json", "import", str(SOURCES["4.7.5"]), "--verify")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["counts"]["acl"] == 1
        _tamper(served.url, "/container1", tmp_path, served.url.rstrip("/") + "/container1")
        code, report = _verified(served.url, SOURCES["4.7.5"])
    assert code == ExitCode.PARTIAL
    assert [item["path"] for item in report["failed_items"]] == ["/container1"]
    assert "ACL" in report["failed_items"][0]["reason"]
