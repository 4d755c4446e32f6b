"""Issue 20 item 14: failed logins cost an scrypt each, so they are limited per client address
(default 10 a minute, then 429 with Retry-After and no hashing); a user whose login is already
verified is not slowed down by someone else's flood. bench/auth_flood.py measures the latency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from fcrctl.server.auth import FailureBudget
from tests.security.conftest import session_of
from tests.server_fixture import start_server


def test_a_flood_of_bad_passwords_is_cut_off_without_hashing(tmp_path: Path, dialect: str, auth_file: str) -> None:
    with start_server(tmp_path / "repo", dialect=dialect, auth_file=auth_file) as server:
        alice = session_of("root")  # an admin: access control is not what is tested here
        assert alice.get(server.url + "/", timeout=10).status_code == 200  # verified once, remembered

        def bad(i: int) -> requests.Response:
            user = ("bob", "guess") if i % 2 else ("nobody", "guess")  # known and unknown users alike
            return requests.get(server.url + "/", auth=user, timeout=30)

        start = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(bad, range(48)))
            during = alice.get(server.url + "/", timeout=10)
        hashed_at_most = 10 + int((time.monotonic() - start) / 6) + 1  # a token comes back every 6 s
        statuses = [a.status_code for a in answers]
        assert statuses.count(401) <= hashed_at_most and statuses.count(429) >= 48 - hashed_at_most, statuses
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["Retry-After"]) >= 1 and "failed logins" in limited.text
        assert during.status_code == 200  # the verified user is not locked out by the flood
        # a login not yet verified waits too while the address is limited (a token comes back
        # every 6 s: make sure the bucket is empty right now, then try at once)
        assert any(bad(1).status_code == 429 for _ in range(20))
        assert session_of("bob").get(server.url + "/", timeout=10).status_code == 429


def test_without_a_limit_every_attempt_is_hashed(tmp_path: Path, auth_file: str) -> None:
    """--login-failures 0 is the old behaviour (what the benchmark's baseline runs)."""
    from fcrctl.server.auth import BasicAuth

    with start_server(tmp_path / "repo", auth=BasicAuth.from_file(auth_file, failures_per_minute=0)) as server:
        codes = {requests.get(server.url + "/", auth=("bob", "guess"), timeout=30).status_code for _ in range(12)}
        assert codes == {401}


def test_the_budget_refills_and_right_passwords_give_their_token_back() -> None:
    now = [0.0]
    budget = FailureBudget(6, clock=lambda: now[0])
    assert [budget.take("a") for _ in range(6)] == [0.0] * 6
    assert budget.take("a") > 0 and budget.take("b") == 0.0  # per address
    now[0] += 10  # six a minute: one every ten seconds
    assert budget.take("a") == 0.0 and budget.take("a") > 0
    budget.give_back("a")
    assert budget.take("a") == 0.0


def test_the_budget_forgets_addresses_within_bounds() -> None:
    now = [0.0]
    budget = FailureBudget(3, clock=lambda: now[0])
    budget.MAX_ADDRESSES = 100
    for i in range(1000):
        budget.take(f"10.0.{i // 250}.{i % 250}")
        now[0] += 0.01
    assert len(budget._buckets) <= 100  # noqa: SLF001
