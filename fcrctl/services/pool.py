"""A thread pool with a bounded queue, for walks over repositories too big to queue at once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BoundedPool(Generic[T]):
    """``submit`` blocks once ``limit`` tasks are pending, so memory stays bounded however long the
    walk; each result goes to ``on_done`` (exceptions re-raise there). Leaving the block waits
    for the rest, or cancels what has not started when the block raised."""

    def __init__(
        self, workers: int, limit: int, *, name: str = "fcrctl", on_done: Callable[[T], Any] | None = None
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._limit = max(1, limit)
        self._on_done = on_done
        self._pending: set[Future[T]] = set()

    def __enter__(self) -> BoundedPool[T]:
        return self

    def submit(self, fn: Callable[..., T], *args: Any) -> None:
        self._pending.add(self._pool.submit(fn, *args))
        if len(self._pending) >= self._limit:
            done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
            for future in done:
                self._finish(future)

    def _finish(self, future: Future[T]) -> None:
        result = future.result()
        if self._on_done is not None:
            self._on_done(result)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                for future in as_completed(self._pending):  # a failure surfaces as soon as it happens
                    self._pending.discard(future)
                    self._finish(future)
        finally:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True)
