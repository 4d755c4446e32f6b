"""Transactions on every backend: local, and HttpRepository against serve in both styles."""

from __future__ import annotations

import uuid

import pytest

from fcrctl.errors import BadInput, Conflict, NotFound, TransactionGone
from fcrctl.repository.base import Repository
from tests.contract.helpers import binary, container, titles


def _paths(repo: Repository) -> set[str]:
    return {c.path for c in repo.children("/", recursive=True)}


def test_commit_applies_everything_and_isolates_until_then(repo: Repository) -> None:
    assert repo.capabilities.transactions
    repo.create("/old", container("/old", "old"))
    repo.create("/keep", container("/keep", "v1"))
    info = repo.begin_transaction(timeout=60)  # type: ignore[attr-defined]
    assert info.status == "open" and info.expires is not None
    inside = repo.in_transaction(info.id)  # type: ignore[attr-defined]
    inside.create("/batch", container("/batch", "b"))
    inside.create("/batch/bin", binary(b"payload"))
    inside.replace("/keep", container("/keep", "v2"))
    inside.delete("/old")
    # inside sees its own changes
    assert {"/batch", "/batch/bin", "/keep"} <= _paths(inside)
    assert "/old" not in _paths(inside)
    assert titles(inside.get_rdf("/keep"), "/keep") == {"v2"}
    with inside.open_binary("/batch/bin") as content:
        assert content.stream.read() == b"payload"
    # outside sees none of them
    assert _paths(repo) == {"/old", "/keep"}
    assert titles(repo.get_rdf("/keep"), "/keep") == {"v1"}
    with pytest.raises(NotFound):
        repo.info("/batch")
    status = repo.transaction_status(info.id)  # type: ignore[attr-defined]
    assert status.status == "open"
    assert status.changed is None or {"/batch", "/batch/bin", "/keep", "/old"} <= set(status.changed)
    assert info.id in {t.id for t in repo.transactions()}  # type: ignore[attr-defined]
    inside.close()
    assert repo.commit_transaction(info.id).status == "committed"  # type: ignore[attr-defined]
    assert _paths(repo) == {"/batch", "/batch/bin", "/keep"}
    assert titles(repo.get_rdf("/keep"), "/keep") == {"v2"}
    with repo.open_binary("/batch/bin") as content:
        assert content.stream.read() == b"payload"
    assert info.id not in {t.id for t in repo.transactions()}  # type: ignore[attr-defined]


def test_rollback_discards(repo: Repository) -> None:
    info = repo.begin_transaction()  # type: ignore[attr-defined]
    inside = repo.in_transaction(info.id)  # type: ignore[attr-defined]
    inside.create("/gone", container("/gone"))
    inside.close()
    repo.rollback_transaction(info.id)  # type: ignore[attr-defined]
    assert _paths(repo) == set()
    with pytest.raises(TransactionGone):
        repo.in_transaction(info.id)  # type: ignore[attr-defined]


def test_closed_unknown_and_malformed_ids(repo: Repository) -> None:
    info = repo.begin_transaction()  # type: ignore[attr-defined]
    repo.commit_transaction(info.id)  # type: ignore[attr-defined]
    for call in (repo.commit_transaction, repo.rollback_transaction, repo.keepalive_transaction):  # type: ignore[attr-defined]
        with pytest.raises(TransactionGone):
            call(info.id)
    with pytest.raises(TransactionGone):
        repo.transaction_status(str(uuid.uuid4()))  # type: ignore[attr-defined]
    with pytest.raises(TransactionGone):
        repo.in_transaction(str(uuid.uuid4()))  # type: ignore[attr-defined]
    for bad in ("nope", "../etc", "", "12345678-1234-1234-1234-12345678901z"):
        with pytest.raises(BadInput):
            repo.commit_transaction(bad)  # type: ignore[attr-defined]


def test_keepalive_moves_expiry(repo: Repository) -> None:
    info = repo.begin_transaction(timeout=30)  # type: ignore[attr-defined]
    again = repo.keepalive_transaction(info.id)  # type: ignore[attr-defined]
    assert again.status == "open" and again.expires is not None and again.expires >= info.expires.replace(microsecond=0)
    repo.rollback_transaction(info.id)  # type: ignore[attr-defined]


def test_conflict_names_resource_and_applies_nothing(repo: Repository) -> None:
    repo.create("/shared", container("/shared", "base"))
    first = repo.begin_transaction()  # type: ignore[attr-defined]
    second = repo.begin_transaction()  # type: ignore[attr-defined]
    a = repo.in_transaction(first.id)  # type: ignore[attr-defined]
    b = repo.in_transaction(second.id)  # type: ignore[attr-defined]
    a.replace("/shared", container("/shared", "from a"))
    b.replace("/shared", container("/shared", "from b"))
    b.create("/only-b", container("/only-b"))
    a.close()
    b.close()
    repo.commit_transaction(first.id)  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as caught:
        repo.commit_transaction(second.id)  # type: ignore[attr-defined]
    assert "/shared" in caught.value.message or "409" in caught.value.message
    assert titles(repo.get_rdf("/shared"), "/shared") == {"from a"}
    with pytest.raises(NotFound):
        repo.info("/only-b")
    repo.rollback_transaction(second.id)  # type: ignore[attr-defined]
