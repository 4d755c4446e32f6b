"""The client tells Fedora 4.7, 5.x and 6 apart by what their root answers, without ``--api``.

Fedora 6 links its Atomic-ID transaction endpoint. Fedora 5.0 and 5.1 send ``Accept-External-Content-Handling``
on every resource (fcrepo tag ``fcrepo-5.1.1``, ``ContentExposingResource.addLinkAndOptionsHttpHeaders``),
which 4.7.5 has no word for, and link a versioned resource's Memento TimeGate (``addResourceLinkHeaders``);
a real 5.1's root is not versioned, so it links none. Checked against a real ``fcrctl serve`` in each dialect."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from fcrctl.repository import open_repository
from fcrctl.repository.base import DIRECT_CONTAINER, INDIRECT_CONTAINER, ResourceSpec
from fcrctl.repository.http import dialect
from tests.contract.helpers import container, turtle
from tests.server_fixture import start_server

LDP = "http://www.w3.org/ns/ldp#"
PCDM = "http://pcdm.org/models#"
ROOT_TYPES = [LDP + "Resource", LDP + "Container", LDP + "BasicContainer", LDP + "RDFSource"]


@pytest.mark.parametrize("served", ["fedora4", "fedora5", "fedora6"])
def test_each_serve_dialect_is_detected(tmp_path: Path, served: str) -> None:
    with start_server(tmp_path / "repo", dialect=served) as server:
        repo = open_repository(server.url)
        try:
            assert repo.capabilities.dialect == served  # type: ignore[attr-defined]
        finally:
            repo.close()


def test_fedora4_sends_no_external_content_header(tmp_path: Path) -> None:
    with start_server(tmp_path / "repo", dialect="fedora4") as server:
        assert "Accept-External-Content-Handling" not in requests.head(server.root).headers
        assert "Accept-External-Content-Handling" not in requests.get(server.root).headers


def test_a_real_fedora5_root_is_told_from_4_7() -> None:
    """5.1's root as addResourceHttpHeaders writes it: types and its acl link (no TimeMap: the root is not
    versioned), and the external-content header; 4.7.5's: the types only."""
    rels = {"type": ROOT_TYPES, "acl": ["http://localhost:8080/rest/fcr:acl"]}
    assert dialect.detect(rels, external_content=True).name == "fedora5"
    assert dialect.detect({"type": ROOT_TYPES}).name == "fedora4"
    versioned = {"type": [*ROOT_TYPES, dialect.MEMENTO_TIMEGATE], "timegate": ["http://localhost:8080/rest/"]}
    assert dialect.detect(versioned).name == "fedora5"
    six = {**rels, dialect.TX_ENDPOINT_REL: ["http://localhost:8080/rest/fcr:tx"]}
    assert dialect.detect(six, external_content=True).name == "fedora6"
    assert dialect.detect(six, api="fedora4").name == "fedora4"


def test_fedora5_takes_direct_and_indirect_containers_without_api(tmp_path: Path) -> None:
    """Read as 4.7, the client put the type in the body and 5.1 (and serve's fedora5) refused it with 409."""
    with start_server(tmp_path / "repo", dialect="fedora5") as server:
        repo = open_repository(server.url)
        try:
            repo.create("/work", container("/work"))
            body = f"<> <{LDP}membershipResource> </work> ; <{LDP}hasMemberRelation> <{PCDM}hasMember> ."
            repo.create("/work/members", ResourceSpec(graph=turtle("/work/members", body), model=DIRECT_CONTAINER))
            assert repo.info("/work/members").model == DIRECT_CONTAINER
            body += f" <> <{LDP}insertedContentRelation> <http://www.openarchives.org/ore/terms/proxyFor> ."
            repo.create("/work/files", ResourceSpec(graph=turtle("/work/files", body), model=INDIRECT_CONTAINER))
            assert repo.info("/work/files").model == INDIRECT_CONTAINER
        finally:
            repo.close()
