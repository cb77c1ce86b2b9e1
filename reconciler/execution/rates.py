"""Per-operation request rates: a token bucket per API operation, shared by every worker thread.

AWS Clean Rooms sets a request-rate quota on every API operation (the quotas page: 5 per second
for most). Retrying ThrottlingException works, but each throttled call is a wasted round trip
and a backoff; a bucket per operation keeps a parallel read or apply under the rate instead.
AWS counts the quota per account and Region, so each (account, Region, operation) has its own
bucket. ``limits_for`` reads the limit a command runs with from ``RECONCILER_MAX_RATE`` (calls
per second; AWS's default quota is 5, ``AWS_DEFAULT_RATE``). It is opt-in: unset, nothing is
throttled and AWS's ThrottlingException is retried with backoff, as before (a default of 5 would
slow every command against a raised quota, and against ``reconciler serve``, without a word).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.errors import PlanError

__all__ = ["AWS_DEFAULT_RATE", "ENV_VAR", "RateLimits", "TokenBucket", "limits_for"]

#: AWS Clean Rooms' default request-rate quota of each API operation (calls per second, per
#: account and Region; adjustable): the quotas page's row, as in ``emulator.quotas``.
AWS_DEFAULT_RATE = 5.0

#: Calls per second per operation per account; ``0`` for no limit.
ENV_VAR = "RECONCILER_MAX_RATE"


class TokenBucket:
    """``rate`` calls per second on average, bursts of up to ``burst`` at once.

    A caller that finds the bucket empty reserves the next token and sleeps until it is due, so
    waiting callers are served in the order they came and never more than ``rate`` per second.

    Args:
        rate: tokens added per second (> 0).
        burst: the most tokens the bucket holds (>= 1).
        clock: monotonic seconds (tests pass a fake one).
        sleep: how to wait (tests record the waits).

    >>> waits = []
    >>> bucket = TokenBucket(2.0, 1, clock=lambda: 0.0, sleep=waits.append)
    >>> [bucket.take() for _ in range(3)]
    [0.0, 0.5, 1.0]
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1 (got {rate}, {burst})")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take one token, waiting until one is due; return the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0  # below zero: a reservation of a token not yet added
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait:
            self._sleep(wait)
        return wait


@dataclass
class RateLimits:
    """Calls per second per operation: ``per_operation`` by name, else ``default`` (None: no limit).

    Args:
        default: the rate of an operation not named (None: unlimited).
        per_operation: operation name (``GetMembership``) -> calls per second.
        burst: calls an idle operation may make at once.
    """

    default: float | None = None
    per_operation: Mapping[str, float] = field(default_factory=dict)
    burst: int = 1
    _buckets: dict[tuple[str, str], TokenBucket | None] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def take(self, operation: str, scope: str = "") -> float:
        """Wait for ``operation``'s next token in ``scope`` (an account and Region; no wait when it
        has no limit); return the wait."""
        key = (scope, operation)
        with self._lock:
            if key not in self._buckets:
                rate = self.per_operation.get(operation, self.default)
                self._buckets[key] = None if rate is None else TokenBucket(rate, self.burst)
            bucket = self._buckets[key]
        return 0.0 if bucket is None else bucket.take()


def limits_for(environ: Mapping[str, str] = os.environ) -> RateLimits | None:
    """The rate limits a command runs with, from ``RECONCILER_MAX_RATE`` (None: no limit).

    >>> limits_for({}) is None
    True
    >>> limits_for({"RECONCILER_MAX_RATE": "5"}).default
    5.0
    >>> limits_for({"RECONCILER_MAX_RATE": "0"}) is None
    True

    Raises:
        PlanError: ``RECONCILER_MAX_RATE`` is not a number >= 0.
    """
    text = environ.get(ENV_VAR, "").strip()
    if not text:
        return None
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0 <= rate < float("inf"):
        raise PlanError(
            f"{ENV_VAR}={text!r} is not a rate",
            hint="give calls per second per API operation, account and Region (AWS's default quota"
            f" is {AWS_DEFAULT_RATE:g}; with a raised quota, its value), or 0 for no limit",
        )
    return RateLimits(default=rate, burst=max(1, int(rate))) if rate else None
