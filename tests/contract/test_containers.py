"""Repository contract: containers, RDF, conditions, tombstones. Runs on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcrctl import rdf
from fcrctl.errors import BadInput, Conflict, Gone, NotFound, PreconditionFailed
from fcrctl.repository.base import (
    BASIC_CONTAINER,
    Conditions,
    RdfPrefs,
    Repository,
    ResourceSpec,
)
from tests.contract.helpers import DC, binary, container, objects, titles, turtle

LDP_CONTAINS = rdf.LDP + "contains"


def test_root_exists_and_is_a_container(repo: Repository) -> None:
    info = repo.info("/")
    assert info.model == BASIC_CONTAINER
    assert not info.is_binary


def test_create_then_read_back(repo: Repository) -> None:
    info = repo.create("/books", container("/books", "Books"))
    assert info.path == "/books"
    assert info.model == BASIC_CONTAINER
    assert info.etag
    graph = repo.get_rdf("/books")
    assert titles(graph, "/books") == {"Books"}
    assert objects(graph, "/books", rdf.FEDORA + "created")
    assert rdf.LDP + "BasicContainer" in objects(graph, "/books", rdf.RDF_NS + "type")


def test_create_existing_is_conflict(repo: Repository) -> None:
    repo.create("/a", container("/a"))
    with pytest.raises(Conflict):
        repo.create("/a", container("/a"))


def test_create_without_parent(repo: Repository) -> None:
    with pytest.raises(NotFound):
        repo.create("/missing/child", container("/missing/child"))
    info = repo.create("/p/q/r", container("/p/q/r"), parents=True)
    assert info.path == "/p/q/r"
    assert repo.info("/p/q").model == BASIC_CONTAINER


def test_create_child_with_and_without_slug(repo: Repository) -> None:
    repo.create("/c", container("/c"))
    named = repo.create_child("/c", ResourceSpec(), slug="wanted")
    assert named.path == "/c/wanted"
    generated = repo.create_child("/c", ResourceSpec())
    assert generated.path.startswith("/c/") and generated.path != "/c/wanted"
    taken = repo.create_child("/c", ResourceSpec(), slug="wanted")
    assert taken.path != "/c/wanted"


def test_children_and_containment(repo: Repository) -> None:
    repo.create("/c", container("/c"))
    for name in ("b", "a", "c"):
        repo.create(f"/c/{name}", container(f"/c/{name}"))
    repo.create("/c/a/deep", container("/c/a/deep"))
    assert [i.path for i in repo.children("/c")] == ["/c/a", "/c/b", "/c/c"]
    assert sorted(i.path for i in repo.children("/c", recursive=True)) == ["/c/a", "/c/a/deep", "/c/b", "/c/c"]
    graph = repo.get_rdf("/c")
    assert objects(graph, "/c", LDP_CONTAINS) == {"info:fedora/c/a", "info:fedora/c/b", "info:fedora/c/c"}
    omitted = repo.get_rdf("/c", prefs=RdfPrefs(containment=False))
    assert not objects(omitted, "/c", LDP_CONTAINS)


def test_omit_server_managed(repo: Repository) -> None:
    repo.create("/x", container("/x", "X"))
    graph = repo.get_rdf("/x", prefs=RdfPrefs(server_managed=False))
    assert titles(graph, "/x") == {"X"}
    assert not objects(graph, "/x", rdf.FEDORA + "created")


def test_replace_changes_triples_and_etag(repo: Repository) -> None:
    first = repo.create("/r", container("/r", "one"))
    info, created = repo.replace("/r", container("/r", "two"))
    assert not created
    assert info.etag != first.etag
    assert titles(repo.get_rdf("/r"), "/r") == {"two"}


def test_replace_creates_when_absent(repo: Repository) -> None:
    info, created = repo.replace("/new", container("/new", "n"))
    assert created and info.path == "/new"


def test_server_managed_triples_refused_unless_lenient(repo: Repository) -> None:
    repo.create("/s", container("/s", "keep"))
    body = f'<> <{rdf.FEDORA}created> "2000-01-01T00:00:00Z" ; <{DC}title> "changed" .'
    with pytest.raises(Conflict, match="server-managed"):
        repo.replace("/s", ResourceSpec(graph=turtle("/s", body)))
    assert titles(repo.get_rdf("/s"), "/s") == {"keep"}
    repo.replace("/s", ResourceSpec(graph=turtle("/s", body), lenient=True))
    assert titles(repo.get_rdf("/s"), "/s") == {"changed"}


def test_patch_sparql_update(repo: Repository) -> None:
    repo.create("/p", container("/p", "old"))
    update = f'PREFIX dc: <{DC}> DELETE {{ <> dc:title ?t }} INSERT {{ <> dc:title "new" }} WHERE {{ <> dc:title ?t }}'
    repo.patch("/p", update)
    assert titles(repo.get_rdf("/p"), "/p") == {"new"}


def test_invalid_sparql_changes_nothing(repo: Repository) -> None:
    before = repo.create("/p", container("/p", "old"))
    with pytest.raises(BadInput):
        repo.patch("/p", "INSERT DATA { <> <broken }")
    assert repo.info("/p").etag == before.etag


def test_if_match_mismatch_is_precondition_failed(repo: Repository) -> None:
    info = repo.create("/m", container("/m", "v1"))
    with pytest.raises(PreconditionFailed):
        repo.replace("/m", container("/m", "v2"), conditions=Conditions(if_match='"not-the-etag"'))
    assert titles(repo.get_rdf("/m"), "/m") == {"v1"}
    repo.replace("/m", container("/m", "v2"), conditions=Conditions(if_match=info.etag))
    assert titles(repo.get_rdf("/m"), "/m") == {"v2"}


def test_if_unmodified_since(repo: Repository) -> None:
    info = repo.create("/u", container("/u", "v1"))
    with pytest.raises(PreconditionFailed):
        repo.delete("/u", conditions=Conditions(if_unmodified_since=info.modified - timedelta(days=1)))
    assert repo.info("/u").path == "/u"


def test_interaction_model_never_changes(repo: Repository) -> None:
    repo.create("/c", container("/c"))
    repo.create("/b", binary(b"data"))
    with pytest.raises(Conflict):
        repo.replace("/c", binary(b"now a binary"))
    with pytest.raises(Conflict):
        repo.replace("/b", container("/b", "now a container"))
    assert not repo.info("/c").is_binary
    assert repo.info("/b").is_binary


def test_cannot_create_under_a_binary(repo: Repository) -> None:
    repo.create("/b", binary(b"data"))
    with pytest.raises(Conflict):
        repo.create("/b/child", container("/b/child"))


def test_delete_leaves_tombstones_for_the_subtree(repo: Repository) -> None:
    repo.create("/d", container("/d"))
    repo.create("/d/e", container("/d/e"))
    repo.delete("/d")
    with pytest.raises(Gone):
        repo.info("/d")
    with pytest.raises(Gone):
        repo.info("/d/e")
    with pytest.raises(Gone):
        repo.create("/d", container("/d"))
    assert "/d" not in [i.path for i in repo.children("/")]
    with pytest.raises(NotFound):
        repo.info("/never")


def test_operations_on_tombstones_are_gone(repo: Repository) -> None:
    repo.create("/t", container("/t"))
    repo.delete("/t")
    with pytest.raises(Gone):
        repo.patch("/t", 'INSERT DATA { <> <http://purl.org/dc/elements/1.1/title> "x" }')
    with pytest.raises(Gone):
        repo.get_rdf("/t")
    with pytest.raises(Gone):
        repo.delete("/t")


def test_purge_frees_the_path(repo: Repository) -> None:
    repo.create("/g", container("/g"))
    repo.create("/g/h", container("/g/h"))
    with pytest.raises(Conflict):
        repo.purge("/g")  # live resources are deleted first, never purged directly
    repo.delete("/g")
    repo.purge("/g")
    with pytest.raises(NotFound):
        repo.info("/g")
    repo.create("/g", container("/g", "again"))
    assert titles(repo.get_rdf("/g"), "/g") == {"again"}


def test_move_subtree(repo: Repository) -> None:
    repo.create("/src", container("/src", "S"))
    repo.create("/src/kid", container("/src/kid", "K"))
    repo.create("/dst", container("/dst"))
    moved = repo.move("/src", "/dst/moved")
    assert moved.path == "/dst/moved"
    assert titles(repo.get_rdf("/dst/moved/kid"), "/dst/moved/kid") == {"K"}
    with pytest.raises(Gone):
        repo.info("/src")


def test_move_and_copy_errors(repo: Repository) -> None:
    repo.create("/a", container("/a"))
    repo.create("/b", container("/b"))
    with pytest.raises(Conflict):
        repo.move("/a", "/b")
    with pytest.raises(Conflict):
        repo.copy("/a", "/b")
    with pytest.raises(NotFound):
        repo.move("/nothing", "/c")
    with pytest.raises(NotFound):
        repo.copy("/nothing", "/c")


def test_copy_subtree(repo: Repository) -> None:
    repo.create("/orig", container("/orig", "O"))
    repo.create("/orig/kid", container("/orig/kid", "K"))
    repo.copy("/orig", "/dup")
    assert titles(repo.get_rdf("/dup"), "/dup") == {"O"}
    assert titles(repo.get_rdf("/dup/kid"), "/dup/kid") == {"K"}
    assert titles(repo.get_rdf("/orig"), "/orig") == {"O"}


def test_inbound_references(repo: Repository) -> None:
    repo.create("/target", container("/target"))
    repo.create("/ref", ResourceSpec(graph=turtle("/ref", f"<> <{DC}relation> </target> .")))
    without = repo.get_rdf("/target")
    assert not list(without.subjects(None, None).__iter__()) or "info:fedora/ref" not in {
        str(s) for s in without.subjects()
    }
    graph = repo.get_rdf("/target", prefs=RdfPrefs(inbound=True))
    assert "info:fedora/target" in objects(graph, "/ref", DC + "relation")
