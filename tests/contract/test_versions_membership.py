"""Repository contract: versions, direct/indirect membership. Runs on every backend."""

from __future__ import annotations

import pytest

from fcrctl.errors import Unsupported
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, Repository, ResourceSpec
from tests.contract.helpers import binary, container, objects, titles, turtle

PCDM = "http://pcdm.org/models#"
ORE = "http://www.openarchives.org/ore/terms/"


def label(repo: Repository, text: str) -> str | None:
    """Fedora 6 versions are Mementos: they have datetimes, not labels."""
    return text if repo.capabilities.label_versions else None


def test_versions_create_list_get_revert(repo: Repository) -> None:
    repo.create("/doc", container("/doc", "first"))
    v1 = repo.create_version("/doc", label=label(repo, "before-edit"))
    repo.replace("/doc", container("/doc", "second"))
    versions = repo.versions("/doc")
    assert v1.id in [v.id for v in versions]
    if repo.capabilities.label_versions:
        assert any(v.label == "before-edit" for v in versions)
    assert titles(repo.get_rdf("/doc", version=v1.id), "/doc") == {"first"}
    repo.revert("/doc", v1.id)
    assert titles(repo.get_rdf("/doc"), "/doc") == {"first"}


def test_binary_versions(repo: Repository) -> None:
    repo.create("/b", binary(b"one"))
    v1 = repo.create_version("/b", label=label(repo, "one"))
    repo.replace("/b", binary(b"two"))
    with repo.open_binary("/b", version=v1.id) as old:
        assert old.stream.read() == b"one"


def test_delete_version_follows_capabilities(repo: Repository) -> None:
    repo.create("/v", container("/v"))
    version = repo.create_version("/v", label=label(repo, "x"))
    repo.create_version("/v", label=label(repo, "y"))  # Fedora 4.7 never deletes the latest version (400)
    if repo.capabilities.delete_versions:
        repo.delete_version("/v", version.id)
        assert version.id not in [v.id for v in repo.versions("/v")]
    else:
        with pytest.raises(Unsupported):
            repo.delete_version("/v", version.id)


def test_direct_container_membership(repo: Repository) -> None:
    repo.create("/work", container("/work"))
    body = (
        "<> <http://www.w3.org/ns/ldp#membershipResource> </work> ;"
        f" <http://www.w3.org/ns/ldp#hasMemberRelation> <{PCDM}hasMember> ."
    )
    repo.create("/work/members", ResourceSpec(graph=turtle("/work/members", body), model=DIRECT_CONTAINER))
    assert repo.info("/work/members").model == DIRECT_CONTAINER
    repo.create("/work/members/p1", container("/work/members/p1"))
    repo.create("/work/members/p2", binary(b"page"))
    graph = repo.get_rdf("/work")
    assert objects(graph, "/work", PCDM + "hasMember") == {"info:fedora/work/members/p1", "info:fedora/work/members/p2"}


def test_indirect_container_membership(repo: Repository) -> None:
    repo.create("/book", container("/book"))
    repo.create("/file", container("/file"))
    body = (
        "<> <http://www.w3.org/ns/ldp#membershipResource> </book> ;"
        f" <http://www.w3.org/ns/ldp#hasMemberRelation> <{PCDM}hasFile> ;"
        f" <http://www.w3.org/ns/ldp#insertedContentRelation> <{ORE}proxyFor> ."
    )
    repo.create("/book/files", ResourceSpec(graph=turtle("/book/files", body), model=INDIRECT_CONTAINER))
    repo.create("/book/files/proxy", ResourceSpec(graph=turtle("/book/files/proxy", f"<> <{ORE}proxyFor> </file> .")))
    assert objects(repo.get_rdf("/book"), "/book", PCDM + "hasFile") == {"info:fedora/file"}
