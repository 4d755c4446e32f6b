"""Import into `fcrctl serve`: one request per resource, and serve's group commit keeps every 2xx durable.

An import over serve used to make four requests a resource (HEAD of the parent and of the path, the
PUT, a GET of what it wrote); now a resource under a container the import made itself is one PUT.
serve commits the creates that arrive together in one write batch (server/group_commit.py): each
is still answered only once it is durable, and a bad or conflicting one fails alone.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from rdflib import URIRef

from fcrctl.errors import Conflict, Gone
from fcrctl.repository import open_repository
from fcrctl.repository.base import ResourceSpec
from tests.server_fixture import start_server
from tests.test_transfer import DC, graph_of, run

CHILDREN, GRANDCHILDREN = 12, 4


def _source(path: Path) -> Path:
    """An export of /col with CHILDREN containers of GRANDCHILDREN containers each, and a binary."""
    repo = open_repository(str(path / "repo"), create=True)
    try:
        repo.create("/col", ResourceSpec(graph=graph_of(("info:fedora/col", DC + "title", "col"))))
        for i in range(CHILDREN):
            repo.create(f"/col/c{i}", ResourceSpec(graph=graph_of(
                (f"info:fedora/col/c{i}", DC + "relation", URIRef("info:fedora/col")))))
            for j in range(GRANDCHILDREN):
                repo.create(f"/col/c{i}/g{j}", ResourceSpec(graph=graph_of(
                    (f"info:fedora/col/c{i}/g{j}", DC + "title", f"grandchild {i}.{j} \u00e9"))))
        repo.create("/col/b", ResourceSpec(content=io.BytesIO(b"bytes"), binary=True, mime_type="text/plain"))
    finally:
        repo.close()
    result = run(path / "repo", "export", "/", str(path / "export"), "--no-versions")
    assert result.exit_code == 0, result.output
    return path / "export"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _source(tmp_path_factory.mktemp("source"))


@pytest.mark.parametrize("dialect", ["fedora4", "fedora5", "fedora6"])
def test_import_over_serve_makes_one_request_per_resource(source: Path, tmp_path: Path, dialect: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    send = requests.adapters.HTTPAdapter.send

    def counted(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: object,
                **kwargs: object) -> requests.Response:
        sent.append(f"{request.method} {request.url}")
        return send(self, request, *args, **kwargs)  # type: ignore[arg-type]

    with start_server(tmp_path / "served", dialect=dialect) as served:
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counted)
        result = run(served.url, "--json", "import", str(source), "--jobs", "3")
        monkeypatch.undo()
        assert result.exit_code == 0, result.output
        resources = json.loads(result.stdout)["resources"]
        assert resources == 2 + CHILDREN * (1 + GRANDCHILDREN) + 1  # the root, /col, its tree, the binary
        # the root and /col (whose parent it did not make) are asked about first; nothing else is
        asked = [line for line in sent if not line.startswith("PUT ")]
        assert len(asked) <= 4, asked
        assert len(sent) <= resources + 4, "\n".join(sent)
        assert run(served.url, "import", str(source), "--verify", "--resume").exit_code == 0


def test_a_made_parent_still_refuses_a_second_create_and_sees_tombstones(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The client skips the HEADs under a container it made itself, not the answers they gave:
    Fedora 4.7 ignores If-None-Match (serve does not), so a second create of one path must be
    refused before its PUT is sent."""
    with start_server(tmp_path / "served", dialect="fedora4") as served:
        repo = open_repository(served.url)
        write_only = repo.write_only  # type: ignore[attr-defined]
        write_only("/made", ResourceSpec(), new=True)
        write_only("/made/a", ResourceSpec(graph=graph_of(("info:fedora/made/a", DC + "title", "one"))), new=True)
        methods: list[str] = []
        send = requests.adapters.HTTPAdapter.send

        def counted(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: object,
                    **kwargs: object) -> requests.Response:
            methods.append(str(request.method))
            return send(self, request, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counted)
        with pytest.raises(Conflict):
            write_only("/made/a", ResourceSpec(graph=graph_of(("info:fedora/made/a", DC + "title", "two"))), new=True)
        monkeypatch.undo()
        assert "PUT" not in methods, methods
        assert any(str(o) == "one" for o in repo.get_rdf("/made/a").objects())
        repo.delete("/made/a")
        with pytest.raises(Gone):
            write_only("/made/a", ResourceSpec(), new=True)
        repo.close()


def _put(url: str, body: str, headers: dict[str, str] | None = None) -> int:
    return requests.put(url, data=body.encode(), timeout=30,
                        headers={"Content-Type": "application/n-triples", **(headers or {})}).status_code


def test_concurrent_creates_of_one_path_give_one_201(tmp_path: Path) -> None:
    with start_server(tmp_path / "served", dialect="fedora6") as served:
        assert _put(served.url + "/p", "") == 201
        statuses: list[int] = []
        start = threading.Barrier(8)

        def create(n: int) -> None:
            start.wait()
            statuses.append(_put(served.url + "/p/same", f'<{served.url}/p/same> <{DC}title> "{n}" .\n',
                                 {"If-None-Match": "*"}))

        threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses).count(201) == 1, statuses
        assert all(status in (201, 409, 412) for status in statuses), statuses


def test_a_bad_create_fails_alone_in_its_group(tmp_path: Path) -> None:
    """Bad digests, bad RDF and a missing-parent create arrive with good ones: each bad one gets its
    own error and leaves nothing, the good ones are all there."""
    with start_server(tmp_path / "served", dialect="fedora6") as served:
        assert _put(served.url + "/q", "") == 201
        results: dict[str, int] = {}
        start = threading.Barrier(12)

        def good(n: int) -> None:
            start.wait()
            results[f"good{n}"] = _put(f"{served.url}/q/good{n}", f'<{served.url}/q/good{n}> <{DC}title> "x" .\n')

        def bad_rdf() -> None:
            start.wait()
            results["badrdf"] = _put(served.url + "/q/badrdf", "<not n-triples")

        def bad_digest() -> None:
            start.wait()
            results["baddigest"] = requests.put(
                served.url + "/q/baddigest", data=b"bytes", timeout=30,
                headers={"Content-Type": "text/plain", "Digest": "sha=" + "0" * 40}).status_code

        threads = [threading.Thread(target=good, args=(n,)) for n in range(10)]
        threads += [threading.Thread(target=bad_rdf), threading.Thread(target=bad_digest)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results["badrdf"] == 400 and results["baddigest"] == 409, results
        assert all(results[f"good{n}"] == 201 for n in range(10)), results
        for name in ("badrdf", "baddigest"):
            assert requests.head(f"{served.url}/q/{name}", timeout=30).status_code == 404
        for n in range(10):
            assert requests.head(f"{served.url}/q/good{n}", timeout=30).status_code == 200


def test_a_created_answer_survives_kill_9_of_the_server(tmp_path: Path) -> None:
    """Writers PUT as fast as they can; the server is killed -9 mid-stream. Every path answered
    201 is in the repository when it is opened again, with its triples."""
    served = start_server(tmp_path / "served", dialect="fedora6", subprocess=True)
    answered: list[str] = []
    stop = threading.Event()
    try:
        assert _put(served.url + "/k", "") == 201

        def writer(w: int) -> None:
            session = requests.Session()
            for i in range(100_000):
                if stop.is_set():
                    return
                path = f"/k/w{w}-{i}"
                try:
                    status = session.put(served.url + path, data=f'<{served.url}{path}> <{DC}title> "{i}" .\n',
                                         headers={"Content-Type": "application/n-triples"}, timeout=30).status_code
                except requests.RequestException:
                    return
                if status == 201:
                    answered.append(path)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(answered) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert served.pid is not None
        os.kill(served.pid, signal.SIGKILL)  # while the writers' next PUTs are in flight
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        served.stop()
    assert len(answered) >= 40
    repo = open_repository(str(tmp_path / "served"))  # a dead writer's leftovers are repaired on open
    try:
        for path in answered:
            title = [str(o) for o in repo.get_rdf(path).objects(predicate=URIRef(DC + "title"))]
            assert title == [path.rsplit("-", 1)[1]], path
        assert list(repo.check()) == []
    finally:
        repo.close()


def test_the_made_record_stays_useful_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """An export writes a directory's files before its subdirectories: every parent is made long
    before its children. A record dropping the oldest entries first lost those parents (a 30,000-resource
    import over serve made 1.9 requests a resource): past its bound it must keep them."""
    from fcrctl.repository.http import made_here

    monkeypatch.setattr(made_here, "LIMIT", 50)
    made = made_here.MadeHere()
    made.remember("/data")
    fast = 0
    for k in range(30):  # the parents first, as the export's tree order writes them
        fast += made.free_under_made(f"/data/p{k}")
        made.remember(f"/data/p{k}")
    for k in range(30):
        for i in range(10):
            fast += made.free_under_made(f"/data/p{k}/r{i}")
            made.remember(f"/data/p{k}/r{i}")
    assert fast == 30 + 30 * 10
    assert not made.free_under_made("/data/p29")  # made here: a second create of it is not free
