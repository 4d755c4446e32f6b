"""A commit of many new objects links one namaste file into each; past the file system's link limit it
writes the file instead of failing the commit."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fcrctl.repository.base import ResourceSpec
from fcrctl.repository.local import ocfl_write
from fcrctl.repository.local.repository import LocalRepository
from fcrctl.repository.local.store import PARALLEL_FROM
from tests.ocfl_check import assert_valid_ocfl


def test_new_objects_past_the_link_limit_still_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_link = os.link
    links = []

    def link(src: str | os.PathLike, dst: str | os.PathLike, *args: object, **kwargs: object) -> None:
        if os.path.basename(str(dst)).startswith("0=ocfl_object"):
            links.append(dst)
            if len(links) > 3:  # as ext4 answers the 65,001st link of one file
                raise OSError(errno.EMLINK, "Too many links")
        real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(ocfl_write.os, "link", link)
    repo = LocalRepository.open(str(tmp_path / "repo"), create=True)
    try:
        info = repo.begin_transaction()
        tx = repo.in_transaction(info.id)
        count = PARALLEL_FROM + 4
        for i in range(count):
            tx.create(f"/x{i}", ResourceSpec())
        repo.commit_transaction(info.id)
        assert len(links) > 3 and sum(1 for _ in repo.children("/")) == count
    finally:
        repo.close()
    assert_valid_ocfl(tmp_path / "repo" / "ocfl-root")
