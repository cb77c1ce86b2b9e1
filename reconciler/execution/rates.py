"""Per-operation request rates: a token bucket per API operation, shared by every worker thread.

AWS Clean Rooms sets a request-rate quota on every API operation (the quotas page: 5 per second
for most). Retrying ThrottlingException works, but each throttled call is a wasted round trip
and a backoff; a bucket per operation keeps a parallel read or apply under the rate instead.
The limits are opt-in (``Boto3Backend(rates=...)``): nothing is throttled unless asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["RateLimits", "TokenBucket"]


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
    _buckets: dict[str, TokenBucket | None] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def take(self, operation: str) -> float:
        """Wait for ``operation``'s next token (no wait when it has no limit); return the wait."""
        with self._lock:
            if operation not in self._buckets:
                rate = self.per_operation.get(operation, self.default)
                self._buckets[operation] = None if rate is None else TokenBucket(rate, self.burst)
            bucket = self._buckets[operation]
        return 0.0 if bucket is None else bucket.take()
