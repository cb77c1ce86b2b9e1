"""Retries: which failures are transient, how long to back off, and bounded waits for statuses.

A call that fails with a ``RetryableBackendError`` (throttling, 5xx, connection errors, AWS's
``IAM_SYNCHRONIZATION_DELAY``) is tried again after a *capped exponential backoff with full
jitter* (AWS Architecture Blog, "Exponential Backoff And Jitter": sleep ``U(0, min(cap, base *
2^n))``), until it succeeds, fails terminally, runs out of attempts, or would pass its deadline.
Every retry is reported through ``on_retry`` so that apply can print and count them; botocore's
own retries would be invisible. ``wait_for`` polls an asynchronous status (a protected query, a
change request) until it is done, has failed, or a time limit passes: never forever.

The clock, the sleep and the random source are parameters, so tests run without waiting. This
module knows nothing about boto3: ``translate`` classifies botocore's errors with
``is_retryable`` at its boundary and raises the BackendErrors retried here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import RetryableBackendError, TerminalBackendError

__all__ = [
    "RETRYABLE_CODES",
    "RETRYABLE_REASONS",
    "Backoff",
    "is_retryable",
    "wait_for",
    "with_retries",
]

T = TypeVar("T")

#: AWS error codes that retrying can fix (botocore's transient list plus Clean Rooms').
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

#: Error ``reason`` values that mean "try again shortly" rather than "wrong input": a role that
#: was just created is not yet visible to Clean Rooms.
RETRYABLE_REASONS = frozenset({"IAM_SYNCHRONIZATION_DELAY"})


def is_retryable(code: str, status: int = 0, reason: str = "") -> bool:
    """Whether an AWS error is transient.

    Args:
        code: the error code (``ThrottlingException``).
        status: the HTTP status (any 5xx is transient).
        reason: Clean Rooms' ``reason`` field, when the error has one.

    Returns:
        True when the same call may succeed if tried again later.
    """
    return code in RETRYABLE_CODES or status >= 500 or reason in RETRYABLE_REASONS


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter, bounded by attempts and by elapsed time.

    Args:
        attempts: total tries per call (1: no retry).
        base: ceiling of the first backoff, seconds.
        cap: largest backoff, seconds.
        deadline: give up rather than sleep past this many seconds since the first try
            (None: attempts alone bound it).
    """

    attempts: int = 8
    base: float = 0.05
    cap: float = 2.0
    deadline: float | None = 120.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based): ``U(0, min(cap, base*2^(n-1)))``."""
        ceiling = min(self.cap, self.base * (2 ** min(attempt - 1, 62)))
        return (rng or random).uniform(0, ceiling)


def with_retries(
    fn: Callable[[], T],
    policy: Backoff,
    *,
    on_retry: Callable[[int, RetryableBackendError], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` until it succeeds, fails terminally, or the policy gives up.

    Args:
        fn: the call; it raises ``RetryableBackendError`` for transient failures.
        policy: how often and how long to wait.
        on_retry: told (retry number, error) before each wait, so retries can be reported.
        sleep: waits (tests pass a fake).
        clock: monotonic seconds (tests pass a fake).
        rng: the jitter's random source.

    Returns:
        What ``fn`` returned.

    Raises:
        RetryableBackendError: the last transient error, its message saying how often it was tried.
        TerminalBackendError: whatever ``fn`` raised that retrying cannot fix (not retried).
    """
    start = clock()
    attempt = 0
    while True:
        try:
            return fn()
        except RetryableBackendError as exc:
            attempt += 1
            pause = policy.delay(attempt, rng)
            out_of_time = policy.deadline is not None and clock() - start + pause > policy.deadline
            if attempt >= policy.attempts or out_of_time:
                why = f"{attempt} attempts" + (f" and {clock() - start:.1f} s" if out_of_time else "")
                exc.message = f"{exc.message} (gave up after {why})"
                exc.args = (exc.message,)
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            sleep(pause)


def wait_for(
    poll: Callable[[], T],
    *,
    done: Callable[[T], bool],
    failed: Callable[[T], str | None] = lambda _: None,
    what: str,
    timeout: float = 300.0,
    interval: float = 1.0,
    max_interval: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Poll an asynchronous status until it is done; never wait longer than ``timeout``.

    The interval doubles after each poll, up to ``max_interval``.

    Args:
        poll: reads the current status (its own transient errors should be retried inside).
        done: whether a status is final and good.
        failed: a reason when a status is final and bad, else None.
        what: names the thing waited for, in messages ("protected query 1a2b to finish").
        timeout: seconds before giving up.
        interval: seconds between the first polls.
        max_interval: longest pause between polls.
        sleep: waits (tests pass a fake).
        clock: monotonic seconds (tests pass a fake).

    Returns:
        The last status read (one for which ``done`` is true).

    Raises:
        TerminalBackendError: the status failed, or ``timeout`` passed (the message gives the
            last status read).
    """
    start = clock()
    pause = interval
    while True:
        status = poll()
        if done(status):
            return status
        reason = failed(status)
        if reason is not None:
            raise TerminalBackendError(f"gave up waiting for {what}: {reason}")
        elapsed = clock() - start
        if elapsed + pause > timeout:
            raise TerminalBackendError(
                f"gave up waiting for {what} after {elapsed:.0f} s (limit {timeout:.0f} s);"
                f" last status: {status}",
                hint="it may still finish: check it later, then run `reconciler plan` again",
            )
        sleep(pause)
        pause = min(max_interval, pause * 2)
