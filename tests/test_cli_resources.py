"""End-to-end CLI tests against a real local repository (in-process, typer's CliRunner).

Each test checks the exit code, stdout, stderr and the repository afterwards; each bad-input
case also checks that the OCFL tree is byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcrctl.cli.main import app
from fcrctl.errors import ExitCode

HERE = Path(__file__).parent
DC_TITLE = "http://purl.org/dc/elements/1.1/title"
TTL = '@prefix dc: <http://purl.org/dc/elements/1.1/> .\n<> dc:title "{}" .\n'

Fcrctl = Callable[..., Result]


@pytest.fixture
def fc(repo_path: Path) -> Fcrctl:
    """Run fcrctl against a fresh repository at ``repo_path``."""
    runner = CliRunner()

    def run(*args: str, input: bytes | str | None = None, ok: bool = True) -> Result:
        result = runner.invoke(app, ["--repo", str(repo_path), *args], input=input)
        if ok:
            assert result.exit_code == 0, f"{args}: {result.exit_code} {result.stderr}"
        return result

    run("init", str(repo_path))
    return run


def snapshot(repo_path: Path) -> dict[str, str]:
    """Every file under ocfl-root with its sha256: equal snapshots mean an unchanged repository."""
    root = repo_path / "ocfl-root"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def one_error_line(result: Result, code: ExitCode, *needles: str) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}: {result.stderr}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fcrctl: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def write(tmp_path: Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


# -- happy paths ----------------------------------------------------------------------------


def test_init_refuses_a_non_empty_directory(fc: Fcrctl, repo_path: Path, tmp_path: Path) -> None:
    one_error_line(fc("init", str(repo_path), ok=False), ExitCode.CONFLICT, "is already a repository")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "f").write_text("x")
    one_error_line(fc("init", str(tmp_path / "other"), ok=False), ExitCode.CONFLICT, "not empty")


def test_create_ls_info_get_container(fc: Fcrctl, tmp_path: Path) -> None:
    assert fc("create", "/a").stdout == "/a\n"
    body = write(tmp_path, "b.ttl", TTL.format("Bee"))
    assert fc("create", "/a/b", "--file", body).stdout == "/a/b\n"
    assert fc("ls", "/").stdout == "/a\n"
    assert fc("ls", "-R", "/").stdout.splitlines() == ["/a", "/a/b"]
    info = fc("info", "/a/b").stdout
    assert "ldp:BasicContainer" in info and "etag" in info
    turtle = fc("get", "/a/b").stdout
    assert "Bee" in turtle and "dc:title" in turtle
    ntriples = fc("get", "/a/b", "--accept", "ntriples").stdout
    assert f'<info:fedora/a/b> <{DC_TITLE}> "Bee" .' in ntriples
    doc = json.loads(fc("info", "--json", "/a/b").stdout)
    assert doc["path"] == "/a/b" and doc["model"].endswith("BasicContainer")
    minimal = fc("get", "/a", "--omit", "containment").stdout
    assert "info:fedora/a/b" not in minimal


def test_ls_long_and_json_lines(fc: Fcrctl, tmp_path: Path) -> None:
    fc("create", "/c")
    fc("create", "/c/bin", "--file", write(tmp_path, "x.txt", "12345"))
    long = fc("ls", "--long", "/c").stdout.split()
    assert long[:2] == ["binary", "5"] and long[-1] == "/c/bin"
    lines = [json.loads(line) for line in fc("--json", "ls", "-R", "/").stdout.splitlines()]
    assert [d["path"] for d in lines] == ["/c", "/c/bin"]


def test_binary_round_trip_range_output_and_description(fc: Fcrctl, tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    src = write(tmp_path, "data.bin", data)
    sha1 = hashlib.sha1(data).hexdigest()
    fc("create", "/bin", "--file", src, "--digest", f"sha1={sha1}", "--filename", "orig.bin")
    out = tmp_path / "copy.bin"
    fc("get", "/bin", "-o", str(out))
    assert out.read_bytes() == data
    assert fc("get", "/bin", "--range", "10-19").stdout_bytes == data[10:20]
    info = json.loads(fc("info", "/bin", "--json").stdout)
    assert info["size"] == len(data) and info["digests"]["sha1"] == sha1 and info["filename"] == "orig.bin"
    assert info["mime_type"] == "application/octet-stream"
    description = fc("get", "/bin/fcr:metadata").stdout
    assert "orig.bin" in description


def test_create_from_stdin_with_content_type(fc: Fcrctl) -> None:
    fc("create", "/s", "--file", "-", "--content-type", "text/plain", input=b"hello\n")
    assert fc("get", "/s").stdout == "hello\n"
    fc("create", "/r", "--file", "-", "--content-type", "turtle", input=TTL.format("From stdin"))
    assert "From stdin" in fc("get", "/r").stdout


def test_binary_flag_keeps_rdf_as_bytes(fc: Fcrctl, tmp_path: Path) -> None:
    body = write(tmp_path, "doc.ttl", TTL.format("raw"))
    fc("create", "/raw", "--file", body, "--binary")
    assert fc("get", "/raw").stdout == TTL.format("raw")


def test_create_in_parent_with_and_without_slug(fc: Fcrctl, tmp_path: Path) -> None:
    fc("create", "/p")
    assert fc("create", "--in", "/p", "--slug", "named").stdout == "/p/named\n"
    made = fc("create", "--in", "/p", "--file", write(tmp_path, "t.ttl", TTL.format("Kid"))).stdout.strip()
    assert made.startswith("/p/") and made != "/p/named"
    assert "Kid" in fc("get", made).stdout  # <> in the body named the new resource


def test_create_parents(fc: Fcrctl) -> None:
    fc("create", "/x/y/z", "--parents")
    assert fc("ls", "-R", "/").stdout.splitlines() == ["/x", "/x/y", "/x/y/z"]


def test_put_patch_and_etags(fc: Fcrctl, tmp_path: Path) -> None:
    fc("create", "/d", "--file", write(tmp_path, "d.ttl", TTL.format("One")))
    etag = json.loads(fc("info", "/d", "--json").stdout)["etag"]
    fc("put", "/d", "--file", write(tmp_path, "d2.ttl", TTL.format("Two")), "--if-match", etag)
    assert "Two" in fc("get", "/d").stdout and "One" not in fc("get", "/d").stdout
    fc("patch", "/d", "--update", f'INSERT DATA {{ <> <{DC_TITLE}> "Three" }}')
    assert "Three" in fc("get", "/d").stdout
    update = write(tmp_path, "u.ru", f'DELETE DATA {{ <> <{DC_TITLE}> "Two" }}')
    fc("patch", "/d", "--file", update)
    got = fc("get", "/d").stdout
    assert "Three" in got and '"Two"' not in got
    created = json.loads(fc("--json", "put", "/fresh", "--file", write(tmp_path, "f.ttl", TTL.format("F"))).stdout)
    assert created["created"] is True


def test_delete_gone_purge_reuse(fc: Fcrctl) -> None:
    fc("create", "/t")
    fc("create", "/t/child")
    assert fc("delete", "/t").stdout == "deleted /t\n"
    one_error_line(fc("info", "/t", ok=False), ExitCode.GONE)
    one_error_line(fc("get", "/t/child", ok=False), ExitCode.GONE)
    one_error_line(fc("create", "/t", ok=False), ExitCode.GONE)
    fc("purge", "/t")
    one_error_line(fc("info", "/t", ok=False), ExitCode.NOT_FOUND)
    fc("create", "/t")
    fc("delete", "/t", "--purge")
    one_error_line(fc("info", "/t", ok=False), ExitCode.NOT_FOUND)


def test_move_and_copy(fc: Fcrctl, tmp_path: Path) -> None:
    fc("create", "/m", "--file", write(tmp_path, "m.ttl", TTL.format("Moved")))
    fc("create", "/m/kid")
    assert fc("copy", "/m", "/m2").stdout == "/m2\n"
    assert fc("move", "/m", "/n").stdout == "/n\n"
    assert "Moved" in fc("get", "/n").stdout and "Moved" in fc("get", "/m2").stdout
    assert fc("ls", "/n").stdout == "/n/kid\n"
    one_error_line(fc("info", "/m", ok=False), ExitCode.GONE)
    one_error_line(fc("copy", "/n", "/m2", ok=False), ExitCode.CONFLICT)
    one_error_line(fc("move", "/nothing", "/z", ok=False), ExitCode.NOT_FOUND)


def test_versions(fc: Fcrctl, tmp_path: Path) -> None:
    fc("create", "/v", "--file", write(tmp_path, "v1.ttl", TTL.format("First")))
    first = fc("versions", "create", "/v", "--label", "first").stdout.strip()
    fc("put", "/v", "--file", write(tmp_path, "v2.ttl", TTL.format("Second")))
    listing = json.loads(fc("versions", "list", "/v", "--json").stdout)
    assert any(v["label"] == "first" for v in listing)
    assert "First" in fc("versions", "get", "/v", first).stdout
    fc("versions", "revert", "/v", first)
    assert "First" in fc("get", "/v").stdout
    table = fc("versions", "list", "/v").stdout
    assert "first" in table and "version" in table
    one_error_line(fc("versions", "delete", "/v", first, ok=False), ExitCode.UNSUPPORTED, "not supported")


def test_reindex(fc: Fcrctl) -> None:
    fc("create", "/r1")
    fc("create", "/r1/r2")
    assert fc("reindex").stdout.startswith("reindexed ")
    assert fc("ls", "-R", "/").stdout.splitlines() == ["/r1", "/r1/r2"]


# -- bad input: one line, its exit code, repository unchanged ----------------------------------


@pytest.fixture
def populated(fc: Fcrctl, tmp_path: Path) -> Fcrctl:
    fc("create", "/box", "--file", write(tmp_path, "box.ttl", TTL.format("Box")))
    fc("create", "/box/file", "--file", write(tmp_path, "f.txt", "content"))
    fc("create", "/gone")
    fc("delete", "/gone")
    return fc


BAD_TURTLE = '@prefix dc: <http://purl.org/dc/elements/1.1/> .\n<> dc:title "ok" .\n<> dc:title "unterminated .\n'
BAD_CASES: list[tuple[str, list[str], ExitCode, tuple[str, ...]]] = [
    ("malformed turtle", ["create", "/new", "--file", "{bad.ttl}"], ExitCode.BAD_INPUT, ("bad.ttl", "line 3")),
    ("malformed put", ["put", "/box", "--file", "{bad.ttl}"], ExitCode.BAD_INPUT, ("bad.ttl", "line")),
    ("malformed json-ld", ["create", "/new", "--file", "{bad.jsonld}"], ExitCode.BAD_INPUT, ("bad.jsonld", "line")),
    ("malformed rdf/xml", ["create", "/new", "--file", "{bad.rdf}"], ExitCode.BAD_INPUT, ("bad.rdf",)),
    ("invalid sparql", ["patch", "/box", "--update", "INSERT NONSENSE"], ExitCode.BAD_INPUT, ()),
    ("non-utf8 sparql", ["patch", "/box", "--file", "{latin1.rq}"], ExitCode.BAD_INPUT, ("latin1.rq", "not UTF-8")),
    ("unknown format", ["get", "/box", "--accept", "yaml"], ExitCode.BAD_INPUT, ("unknown RDF format",)),
    (
        "digest mismatch",
        ["create", "/new", "--file", "{data.txt}", "--digest", "sha1=" + "0" * 40],
        ExitCode.CORRUPT,
        ("0" * 40, hashlib.sha1(b"data").hexdigest()),
    ),
    (
        "unsupported digest",
        ["create", "/new", "--file", "{data.txt}", "--digest", "crc32=00"],
        ExitCode.BAD_INPUT,
        ("crc32",),
    ),
    ("create under a binary", ["create", "/box/file/child"], None, ()),  # type: ignore[list-item]
    ("dot-dot path", ["create", "/box/../x"], ExitCode.BAD_INPUT, ("'..'",)),
    ("empty segment", ["create", "/box//x"], ExitCode.BAD_INPUT, ("empty segment",)),
    ("fcr: segment", ["create", "/box/fcr:acl"], ExitCode.BAD_INPUT, ("reserved",)),
    ("control character", ["create", "/box/a\x01b"], ExitCode.BAD_INPUT, ("control character",)),
    ("space in a name", ["create", "/box/a b"], ExitCode.BAD_INPUT, ("URIs cannot hold",)),
    ("too long name", ["create", "/" + "x" * 400], ExitCode.BAD_INPUT, ("too long",)),
    ("binary to container", ["put", "/box/file", "--file", "{good.ttl}"], ExitCode.CONFLICT, ()),
    ("container to binary", ["put", "/box", "--file", "{data.txt}"], ExitCode.CONFLICT, ()),
    (
        "if-match mismatch",
        ["put", "/box", "--file", "{good.ttl}", "--if-match", '"nope"'],
        ExitCode.PRECONDITION_FAILED,
        (),
    ),
    ("delete if-match", ["delete", "/box", "--if-match", '"nope"'], ExitCode.PRECONDITION_FAILED, ()),
    ("put on tombstone", ["put", "/gone", "--file", "{good.ttl}"], ExitCode.GONE, ()),
    ("patch tombstone", ["patch", "/gone", "--update", "INSERT DATA {}"], ExitCode.GONE, ()),
    ("create existing", ["create", "/box"], ExitCode.CONFLICT, ()),
    ("server-managed triple", ["put", "/box", "--file", "{managed.ttl}"], ExitCode.CONFLICT, ()),
]
FILES: dict[str, str | bytes] = {
    "bad.ttl": BAD_TURTLE,
    "bad.jsonld": '{"@id": "",\n "http://purl.org/dc/elements/1.1/title": \n}',
    "bad.rdf": '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n<oops>\n',
    "data.txt": "data",
    "latin1.rq": 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "caf\xe9" }'.encode("latin-1"),
    "good.ttl": TTL.format("Good"),
    "managed.ttl": '<> <http://fedora.info/definitions/v4/repository#created> "2020-01-01T00:00:00Z" .\n',
}


@pytest.mark.parametrize(("name", "args", "code", "needles"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_changes_nothing(
    populated: Fcrctl,
    repo_path: Path,
    tmp_path: Path,
    name: str,
    args: list[str],
    code: ExitCode | None,
    needles: tuple[str, ...],
) -> None:
    files = {key: write(tmp_path, key, value) for key, value in FILES.items()}
    args = [files[a[1:-1]] if a.startswith("{") else a for a in args]
    before = snapshot(repo_path)
    result = populated(*args, ok=False)
    if code is None:  # the backend picks the code (conflict or bad input); it must still fail cleanly
        assert result.exit_code in (ExitCode.BAD_INPUT, ExitCode.CONFLICT), result.stderr
        code = ExitCode(result.exit_code)
    one_error_line(result, code, *needles)
    assert result.stdout == ""
    assert snapshot(repo_path) == before


def test_lenient_ignores_server_managed_triples(populated: Fcrctl, tmp_path: Path) -> None:
    body = write(tmp_path, "m.ttl", FILES["managed.ttl"] + f'<> <{DC_TITLE}> "Lenient" .\n')
    populated("put", "/box", "--file", body, "--lenient")
    assert "Lenient" in populated("get", "/box").stdout


def test_json_errors(populated: Fcrctl) -> None:
    result = populated("--json", "info", "/gone", ok=False)
    assert result.exit_code == ExitCode.GONE
    doc = json.loads(result.stderr)
    assert doc["error"] == "gone" and doc["exit_code"] == 5


def test_repo_that_is_not_a_repository(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    (empty / "stuff.txt").write_text("x")
    result = CliRunner().invoke(app, ["--repo", str(empty), "ls"])
    line = one_error_line(result, ExitCode.NOT_A_REPOSITORY, "fcrctl init")
    assert str(empty) in line
    assert sorted(p.name for p in empty.iterdir()) == ["stuff.txt"]
    missing = tmp_path / "missing"
    result = CliRunner().invoke(app, ["--repo", str(missing), "create", "/a"])
    one_error_line(result, ExitCode.NOT_A_REPOSITORY, "fcrctl init")
    assert not missing.exists()


def test_default_repository_is_created_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()
    assert runner.invoke(app, ["create", "/hello"]).exit_code == 0
    assert runner.invoke(app, ["ls", "/"]).stdout == "/hello\n"
    assert (tmp_path / "xdg" / "fcrctl" / "repository" / "ocfl-root").is_dir()


def test_env_var_selects_the_repository(fc: Fcrctl, repo_path: Path) -> None:
    fc("create", "/via-flag")
    result = CliRunner().invoke(app, ["ls"], env={"FCRCTL_REPO": str(repo_path)})
    assert result.stdout == "/via-flag\n"


def test_read_only_repository(tmp_path: Path) -> None:
    """A Fedora 6 storage root opened directly is read-only (works as root, unlike chmod)."""
    root = tmp_path / "fedora-root"
    shutil.copytree(HERE / "fixtures" / "fedora6-ocfl" / "test-rebuild-invalid", root)
    before = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    runner = CliRunner()
    listed = runner.invoke(app, ["--repo", str(root), "ls", "-R", "/"])
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.strip()
    assert "fcrctl: warning: skipping invalid OCFL object" in listed.stderr  # reported, the rest still served
    result = runner.invoke(app, ["--repo", str(root), "create", "/new"])
    one_error_line(result, ExitCode.BAD_INPUT, "read-only", "nothing was changed")
    result = runner.invoke(app, ["--repo", str(root), "delete", listed.stdout.split()[0]])
    one_error_line(result, ExitCode.BAD_INPUT, "read-only")
    assert {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
