"""Closed transactions leave one record under staging/closed/, so opening a repository scans only
the transactions still open, however many were committed that day (issue 14: open stays O(1))."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fcrctl.errors import TransactionGone
from fcrctl.repository.local import LocalRepository
from tests.contract.helpers import container


def staged(where: Path) -> list[str]:
    """What staging/ holds, closed transactions' directories still being deleted left out."""
    return sorted(n for n in os.listdir(where / "staging") if not n.startswith(".trash-"))


def test_closed_transactions_leave_only_a_record(where: Path) -> None:
    with LocalRepository.open(str(where)) as repo:
        ids = []
        for i in range(3):
            info = repo.begin_transaction()
            with repo.in_transaction(info.id) as inside:
                inside.create(f"/a{i}", container(f"/a{i}"))
            ids.append(info.id)
        repo.commit_transaction(ids[0])
        repo.rollback_transaction(ids[1])
        assert staged(where) == sorted(["closed", ids[2]])
        assert repo.transaction_status(ids[0]).status == "committed"
        assert repo.transaction_status(ids[1]).status == "rolled_back"
        with pytest.raises(TransactionGone, match="already committed"):
            repo.commit_transaction(ids[0])
        with pytest.raises(TransactionGone, match="rolled back"):
            repo.in_transaction(ids[1])
        assert [t.id for t in repo.transactions()] == [ids[2]]
        repo.commit_transaction(ids[2])
    with LocalRepository.open(str(where)) as repo:
        assert {c.path for c in repo.children("/")} == {"/a0", "/a2"}
    assert staged(where) == ["closed"]


def test_records_an_older_fcrctl_kept_in_place_move_on_open(where: Path) -> None:
    staging = where / "staging"
    fresh, old, crashed = (f"0b0b0b0b-0000-4000-8000-00000000000{i}" for i in range(3))
    for tx_id, meta in ((fresh, {"status": "committed", "closed": time.time()}),
                        (old, {"status": "committed", "closed": time.time() - 2 * 86400}),
                        (crashed, {"status": "committing"})):
        (staging / tx_id).mkdir(parents=True)
        (staging / tx_id / "tx.json").write_text(json.dumps({"id": tx_id, "timeout": 60.0, **meta}))
    LocalRepository.open(str(where)).close()
    assert staged(where) == sorted(["closed", crashed])  # a cut-off commit is left to resolve
    assert [n for n in os.listdir(staging / "closed") if n.endswith(".json")] == [f"{fresh}.json"]
    with LocalRepository.open(str(where)) as repo:
        assert repo.transaction_status(fresh).status == "committed"
        with pytest.raises(TransactionGone):
            repo.transaction_status(old)
