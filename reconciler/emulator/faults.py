"""Fault injection for tests and benchmarks, set by ``RECONCILER_LOCAL_FAULTS`` (JSON).

Keys (all optional)::

    {"throttle_rate": 0.3, "latency_ms": 50, "crash_after_writes": 7, "seed": 1}

- ``throttle_rate``: fraction of calls answered with ``ThrottlingException`` (seeded by ``seed``).
- ``latency_ms``: sleep this long in every call.
- ``crash_after_writes``: after this many successful write calls the process ends at once with
  status 137 and no cleanup (as if killed); the last write is already committed.

Anything else in the variable is an error naming the variable and the bad key.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.errors import LocalFaultsError, throttled

__all__ = ["ENV_VAR", "Faults"]

ENV_VAR = "RECONCILER_LOCAL_FAULTS"
_KEYS = {"throttle_rate": float, "latency_ms": float, "crash_after_writes": int, "seed": int}


@dataclass
class Faults:
    """The active fault settings and the state they need (random stream, write count)."""

    throttle_rate: float = 0.0
    latency_ms: float = 0.0
    crash_after_writes: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._writes = 0

    @property
    def active(self) -> bool:
        """True when any fault is configured (the fast path skips all of this otherwise)."""
        return bool(self.throttle_rate or self.latency_ms or self.crash_after_writes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Faults:
        """Parse ``RECONCILER_LOCAL_FAULTS``; an unset or empty variable means no faults.

        Raises:
            LocalFaultsError: the value is not a JSON object of the known keys with valid values.
        """
        text = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
        if not text:
            return cls()
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LocalFaultsError(
                f"{ENV_VAR} is not valid JSON: {exc.msg} at column {exc.colno}",
                hint='example: {"throttle_rate": 0.3, "latency_ms": 50, "crash_after_writes": 7, "seed": 1}',
            ) from None
        if not isinstance(data, dict):
            raise LocalFaultsError(f"{ENV_VAR} must be a JSON object, not {type(data).__name__}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            kind = _KEYS.get(key)
            if kind is None:
                raise LocalFaultsError(
                    f"{ENV_VAR} has an unknown key {key!r}", hint=f"known keys: {', '.join(sorted(_KEYS))}"
                )
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (kind is int and value != int(value))
            ):
                raise LocalFaultsError(
                    f"{ENV_VAR}: {key} must be {'an integer' if kind is int else 'a number'}"
                )
            values[key] = kind(value)
        if not 0.0 <= values.get("throttle_rate", 0.0) <= 1.0:
            raise LocalFaultsError(f"{ENV_VAR}: throttle_rate must be between 0 and 1")
        if values.get("latency_ms", 0.0) < 0:
            raise LocalFaultsError(f"{ENV_VAR}: latency_ms cannot be negative")
        if values.get("crash_after_writes", 1) < 1:
            raise LocalFaultsError(f"{ENV_VAR}: crash_after_writes must be at least 1")
        return cls(**values)

    def before_call(self) -> None:
        """Sleep and maybe throttle, before the call touches anything."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if self.throttle_rate and self._random.random() < self.throttle_rate:
            raise throttled()

    def after_write(self) -> None:
        """Count a committed write; end the process abruptly when the limit is reached."""
        if self.crash_after_writes is None:
            return
        self._writes += 1
        if self._writes >= self.crash_after_writes:
            os._exit(137)
