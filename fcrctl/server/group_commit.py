"""Group commit: creates that arrive together over serve share one durable commit

A create alone costs its own commit: its files and directories synced, one by one, with the
writer lock held, so concurrent PUTs (``fcrctl import --jobs 4``) queue behind each other's
fsyncs. Here the first PUT to arrive leads: it takes every create waiting at that moment (its
own included), stages them in one write batch (the local repository's ``batch``, as a local
import does) and commits them in one go; PUTs that arrive meanwhile wait for the next group.
Each is still answered only once its commit is durable, and a batch is wholly in or wholly out
after a crash (batch.py), so a 2xx means what it meant. A create the batch refuses (a parent not
there yet or in the same group, an archival group's member) is written the ordinary way.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from fcrctl.errors import Unavailable
from fcrctl.repository.base import Repository, ResourceInfo, ResourceSpec

_GROUPS: weakref.WeakKeyDictionary[Any, GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def create(repo: Repository, path: str, spec: ResourceSpec) -> ResourceInfo:
    """``repo.create(path, spec, parents=True)``, in a group commit where ``repo`` has write batches."""
    if not callable(getattr(repo, "batch", None)) or getattr(repo, "transaction_id", None) is not None:
        return repo.create(path, spec, parents=True)
    with _GROUPS_LOCK:
        group = _GROUPS.get(repo)
        if group is None:
            group = _GROUPS[repo] = GroupCommit(repo)
    return group.create(path, spec)


class _Waiting:
    __slots__ = ("path", "spec", "done", "refused", "committed", "error")

    def __init__(self, path: str, spec: ResourceSpec) -> None:
        self.path, self.spec = path, spec
        self.done = False  # set by the leader that committed (or refused) it
        self.refused = False
        self.committed = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, repo: Repository) -> None:
        self._repo: Any = repo
        self._queue: list[_Waiting] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def create(self, path: str, spec: ResourceSpec) -> ResourceInfo:
        item = _Waiting(path, spec)
        with self._queue_lock:
            self._queue.append(item)
        with self._leader:  # one group commits at a time; by the time a waiter gets here, it may be done
            if not item.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit(group)
        if item.error is not None:
            raise item.error
        if item.refused:
            return self._repo.create(path, spec, parents=True)
        return self._repo.info(path)

    def _commit(self, group: list[_Waiting]) -> None:
        batch = self._repo.batch()
        staged: list[_Waiting] = []
        try:
            for item in group:
                try:
                    if batch.create(item.path, item.spec):
                        staged.append(item)
                    else:
                        item.refused = True
                except Exception as exc:  # noqa: BLE001 - this request's own error, raised in its thread
                    item.error = exc
            try:
                batch.commit()
            except Exception as exc:  # noqa: BLE001 - none of the group is in: each request hears why
                for item in staged:
                    item.error = exc
            else:
                for item in staged:
                    item.committed = True
        finally:
            batch.discard()  # after commit: nothing left, and the writer lock already let go
            for item in group:
                if not (item.committed or item.refused or item.error):  # the leader was cut off
                    item.error = Unavailable("the write was cut off before it was committed: try again")
                item.done = True
