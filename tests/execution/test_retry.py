"""Backoff with full jitter, reported retries, deadlines, and bounded waits for statuses."""

from __future__ import annotations

import random

import pytest

from reconciler.errors import RetryableBackendError, TerminalBackendError
from reconciler.execution.retry import Backoff, is_retryable, wait_for, with_retries


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "ok"

    return calls, fn


@pytest.mark.parametrize(
    ("code", "status", "reason", "expected"),
    [
        ("ThrottlingException", 429, "", True),
        ("InternalServerException", 500, "", True),
        ("Whatever", 503, "", True),
        ("ValidationException", 400, "IAM_SYNCHRONIZATION_DELAY", True),
        ("ValidationException", 400, "INVALID_CONFIGURATION", False),
        ("AccessDeniedException", 403, "", False),
        ("ConflictException", 409, "ALREADY_EXISTS", False),
    ],
)
def test_classification(code: str, status: int, reason: str, expected: bool) -> None:
    assert is_retryable(code, status, reason) is expected


def test_full_jitter_stays_under_the_capped_exponential_ceiling() -> None:
    policy = Backoff(attempts=20, base=0.1, cap=1.0)
    rng = random.Random(7)
    for attempt in range(1, 20):
        ceiling = min(1.0, 0.1 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range
    assert policy.delay(10_000, rng) <= 1.0  # no overflow for huge attempt numbers


def test_transient_errors_are_retried_and_each_retry_is_reported() -> None:
    clock = FakeClock()
    calls, fn = failing(3, RetryableBackendError("slow down", code="ThrottlingException"))
    seen: list[tuple[int, str]] = []
    result = with_retries(
        fn,  # type: ignore[arg-type]
        Backoff(attempts=5, base=0.1, cap=0.2),
        on_retry=lambda n, exc: seen.append((n, exc.code)),
        sleep=clock.sleep,
        clock=clock,
    )
    assert result == "ok" and len(calls) == 4
    assert seen == [(1, "ThrottlingException"), (2, "ThrottlingException"), (3, "ThrottlingException")]
    assert len(clock.sleeps) == 3 and all(0 <= s <= 0.2 for s in clock.sleeps)


def test_gives_up_after_the_attempts_saying_so() -> None:
    clock = FakeClock()
    calls, fn = failing(99, RetryableBackendError("busy", code="InternalServerException"))
    with pytest.raises(RetryableBackendError, match=r"gave up after 3 attempts"):
        with_retries(fn, Backoff(attempts=3), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert len(calls) == 3


def test_gives_up_rather_than_sleep_past_the_deadline() -> None:
    clock = FakeClock()
    calls, fn = failing(99, RetryableBackendError("busy"))
    policy = Backoff(attempts=1000, base=1.0, cap=1.0, deadline=5.0)
    with pytest.raises(RetryableBackendError, match=r"gave up after \d+ attempts and"):
        with_retries(fn, policy, sleep=clock.sleep, clock=clock, rng=random.Random(1))  # type: ignore[arg-type]
    assert clock.now <= 5.0 and 3 < len(calls) < 1000


def test_terminal_errors_are_not_retried() -> None:
    clock = FakeClock()
    calls, fn = failing(1, TerminalBackendError("denied", code="AccessDeniedException"))
    with pytest.raises(TerminalBackendError):
        with_retries(fn, Backoff(), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert len(calls) == 1 and clock.sleeps == []


def test_wait_for_returns_the_final_status_backing_off() -> None:
    clock = FakeClock()
    statuses = iter(["SUBMITTED", "STARTED", "STARTED", "SUCCESS"])
    result = wait_for(
        lambda: next(statuses),
        done=lambda s: s == "SUCCESS",
        what="query q1 to finish",
        interval=1,
        max_interval=3,
        sleep=clock.sleep,
        clock=clock,
    )
    assert result == "SUCCESS" and clock.sleeps == [1, 2, 3]


def test_wait_for_stops_on_a_failed_status() -> None:
    clock = FakeClock()
    with pytest.raises(TerminalBackendError, match="query q1 to finish: it FAILED"):
        wait_for(
            lambda: "FAILED",
            done=lambda s: s == "SUCCESS",
            failed=lambda s: f"it {s}" if s == "FAILED" else None,
            what="query q1 to finish",
            sleep=clock.sleep,
            clock=clock,
        )


def test_wait_for_is_bounded() -> None:
    clock = FakeClock()
    with pytest.raises(TerminalBackendError, match=r"after \d+ s \(limit 30 s\); last status: STARTED"):
        wait_for(
            lambda: "STARTED", done=lambda s: False, what="q", timeout=30, sleep=clock.sleep, clock=clock
        )
    assert clock.now <= 30
