"""A pytest plugin (``-p _pytest_cpu`` with bench/ on PYTHONPATH) that measures each test's CPU
seconds (its process and the children it reaped: CLI subprocesses, forked workers, servers it
stopped) per phase, beside its wall time. On a machine other jobs load, CPU seconds compare two
runs where wall times do not. ``--cpu-json FILE`` writes one record per test phase; the
controller (or the only process, without xdist) writes it."""

from __future__ import annotations

import json
import resource
import time
from typing import Any

import pytest

_KEY = pytest.StashKey[dict[str, float]]()
_records: list[dict[str, Any]] = []


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cpu-json", default=None, help="write each test phase's CPU and wall seconds to this file")


def _measure(item: pytest.Item, when: str) -> Any:
    start = _cpu()
    yield
    item.stash.setdefault(_KEY, {})[when] = _cpu() - start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    yield from _measure(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    yield from _measure(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    yield from _measure(item, "teardown")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    cpu = item.stash.get(_KEY, {}).get(call.when)
    if cpu is not None:
        report.user_properties.append(("cpu_s", round(cpu, 4)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    cpu = dict(report.user_properties).get("cpu_s")
    if cpu is not None:
        _records.append({"test": report.nodeid, "phase": report.when, "cpu": cpu,
                         "wall": round(report.duration, 4), "outcome": report.outcome})


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("cpu_json")
    if path and not hasattr(session.config, "workerinput"):  # the xdist controller, or a plain run
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"finished": time.time(), "records": _records}, out)
