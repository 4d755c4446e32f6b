"""BoundedPool: the queue stays bounded, every result is delivered, a failure stops the rest."""

from __future__ import annotations

import threading
import time

import pytest

from fcrctl.services.pool import BoundedPool


def test_every_result_is_delivered_and_the_queue_stays_bounded() -> None:
    results: list[int] = []
    running = 0
    most = 0
    lock = threading.Lock()

    def task(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002)
        with lock:
            running -= 1
        return n

    submitted_ahead = 0
    with BoundedPool[int](2, 4, on_done=results.append) as pool:
        for n in range(50):
            pool.submit(task, n)
            submitted_ahead = max(submitted_ahead, n + 1 - len(results))
    assert sorted(results) == list(range(50))
    assert submitted_ahead <= 4  # never more than `limit` tasks waiting for their results
    assert most <= 2


def test_a_failing_task_raises_and_cancels_what_has_not_started() -> None:
    started: list[int] = []

    def task(n: int) -> None:
        started.append(n)
        if n == 0:
            raise ValueError("boom")
        time.sleep(0.01)

    with pytest.raises(ValueError, match="boom"), BoundedPool[None](1, 1000) as pool:
        for n in range(100):
            pool.submit(task, n)
    assert len(started) < 100
