"""Request-rate limits: a token bucket per operation keeps calls under the rate, in arrival order."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.execution.backend import Boto3Backend
from reconciler.execution.clients import Account
from reconciler.execution.rates import RateLimits, TokenBucket, limits_for

RETAILER = Account("retailer", "123456789012")
STACK = Path(__file__).resolve().parents[2] / "specs" / "retail-adtech"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_a_burst_is_served_at_once_then_one_token_per_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(5.0, 3, clock=lambda: clock.now, sleep=clock.sleep)
    waits = [bucket.take() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.2, 0.4])  # the 4th and 5th reserve later tokens
    clock.now = 10.0  # an idle bucket refills, but only up to its burst
    assert [bucket.take() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.2])


def test_calls_spread_over_time_do_not_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, 1, clock=lambda: clock.now, sleep=clock.sleep)
    for i in range(5):
        clock.now = i * 0.5
        assert bucket.take() == 0.0
    assert clock.waits == []


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(0.0)
    with pytest.raises(ValueError, match="burst >= 1"):
        TokenBucket(1.0, 0)


class CountingClients:
    """A ClientSource whose client records which operations were called, and from how many threads."""

    name = "local"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def client(self, account: Account, service: str = "cleanrooms") -> Any:
        calls = self.calls

        class Client:
            def __getattr__(self, method: str) -> Any:
                return lambda **_: calls.append(method) or {}

        return Client()

    def close(self) -> None:
        pass


def test_the_backend_takes_a_token_of_each_operation_it_calls() -> None:
    taken: list[str] = []

    class Recording(RateLimits):
        def take(self, operation: str, scope: str = "") -> float:
            taken.append(f"{scope} {operation}")
            return super().take(operation, scope)

    clients = CountingClients()
    backend = Boto3Backend(clients, [RETAILER], rates=Recording(per_operation={"GetMembership": 1000.0}))
    backend.call(RETAILER, "GetMembership", {})
    backend.call(RETAILER, "ListMemberships", {})
    assert taken == ["123456789012/us-east-1 GetMembership", "123456789012/us-east-1 ListMemberships"]
    assert clients.calls == ["get_membership", "list_memberships"]


def test_only_limited_operations_get_a_bucket_and_threads_share_it() -> None:
    limits = RateLimits(per_operation={"GetMembership": 1e9}, burst=1)
    threads = [
        threading.Thread(target=lambda: [limits.take("GetMembership") for _ in range(50)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limits.take("ListMemberships") == 0.0
    assert limits._buckets[("", "ListMemberships")] is None
    bucket = limits._buckets[("", "GetMembership")]
    assert isinstance(bucket, TokenBucket) and bucket.rate == 1e9


def test_each_account_and_region_has_buckets_of_its_own() -> None:
    """AWS counts the quota per account and Region: one account's calls never wait for another's."""
    limits = RateLimits(default=1.0, burst=1)
    assert limits.take("GetMembership", "111111111111/us-east-1") == 0.0
    assert limits.take("GetMembership", "222222222222/us-east-1") == 0.0
    assert limits.take("GetMembership", "111111111111/us-west-2") == 0.0
    assert len(limits._buckets) == 3


def test_the_limit_comes_from_the_environment_and_is_off_unless_asked() -> None:
    assert limits_for({}) is None
    assert limits_for({"RECONCILER_MAX_RATE": "0"}) is None
    limits = limits_for({"RECONCILER_MAX_RATE": "7.5"})
    assert limits is not None and limits.default == 7.5 and limits.burst == 7
    for bad in ("fast", "-1", "inf", "nan"):
        with pytest.raises(PlanError, match="RECONCILER_MAX_RATE") as caught:
            limits_for({"RECONCILER_MAX_RATE": bad})
        assert "default quota is 5" in (caught.value.hint or "")


def test_a_workspace_runs_with_the_limit_the_environment_sets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from reconciler import workflow

    monkeypatch.setenv("RECONCILER_MAX_RATE", "3")
    with workflow.open_workspace(STACK, root=tmp_path, clients=CountingClients()) as ws:
        assert ws.backend.rates is not None and ws.backend.rates.default == 3.0
    monkeypatch.delenv("RECONCILER_MAX_RATE")
    with workflow.open_workspace(STACK, root=tmp_path, clients=CountingClients()) as ws:
        assert ws.backend.rates is None


def test_a_bad_limit_is_a_clear_error_at_the_command_line(tmp_path: Any) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", str(STACK)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "RECONCILER_MAX_RATE": "fast"},
        check=False,
    )
    assert done.returncode != 0
    assert "RECONCILER_MAX_RATE='fast' is not a rate" in done.stderr
    assert "Traceback" not in done.stderr
