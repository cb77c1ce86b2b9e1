"""Exact discrete Laplace noise and where its randomness comes from.

The sampler is Canonne, Kamath and Steinke's (arXiv 2004.00010, section 5): it uses only integer
and ``fractions.Fraction`` arithmetic, so no floating-point bit of the output depends on the
data (Mironov, CCS 2012). ``NoiseSource`` owns the random bits: ``secure`` (the default, the
operating system's CSPRNG) or ``seeded`` (HMAC-SHA256 sub-seeds per draw, for tests and dry runs
only; results are then reproducible and independent of row or group order, and NOT private).
This module knows nothing about queries or budgets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

__all__ = [
    "NoiseSource",
    "RandomBits",
    "bernoulli",
    "bernoulli_exp",
    "discrete_laplace",
    "discrete_laplace_pmf",
]


class RandomBits(Protocol):
    """The only thing the samplers need from a generator (``random.Random`` and ``SystemRandom``)."""

    def randrange(self, start: int, stop: int = ..., step: int = ...) -> int: ...


def bernoulli(p: Fraction, rng: RandomBits) -> bool:
    """Return True with probability exactly ``p`` (0 <= p <= 1).

    Args:
        p: the probability, as an exact fraction.
        rng: the source of uniform integers.

    Returns:
        One Bernoulli(p) draw.
    """
    return rng.randrange(p.denominator) < p.numerator


def bernoulli_exp(gamma: Fraction, rng: RandomBits) -> bool:
    """Return True with probability exactly ``exp(-gamma)`` for rational ``gamma >= 0`` (CKS20 Alg. 1).

    Args:
        gamma: the exponent, as an exact fraction.
        rng: the source of uniform integers.

    Returns:
        One Bernoulli(exp(-gamma)) draw.
    """
    return _bernoulli_exp(gamma.numerator, gamma.denominator, rng)


def _bernoulli_exp(num: int, den: int, rng: RandomBits) -> bool:
    """Bernoulli(exp(-num/den)) in plain integers (the hot loop; Fractions here cost 3x)."""
    while num > den:
        if not _bernoulli_exp_at_most_one(1, 1, rng):
            return False
        num -= den
    return _bernoulli_exp_at_most_one(num, den, rng)


def _bernoulli_exp_at_most_one(num: int, den: int, rng: RandomBits) -> bool:
    k = 1
    while rng.randrange(den * k) < num:  # Bernoulli(gamma / k)
        k += 1
    return k % 2 == 1


def discrete_laplace(scale: Fraction, rng: RandomBits) -> int:
    """Draw an integer ``y`` with probability proportional to ``exp(-|y| / scale)`` (CKS20 Alg. 2).

    Args:
        scale: the scale ``b`` (> 0, or 0 for no noise), as an exact fraction.
        rng: the source of uniform integers.

    Returns:
        One discrete Laplace draw.
    """
    if scale < 0:
        raise ValueError(f"noise scale must be >= 0, got {scale}")
    if scale == 0:
        return 0
    t, s = scale.numerator, scale.denominator  # X below is geometric with scale t; Y = floor(X / s)
    while True:
        u = rng.randrange(t)
        if not _bernoulli_exp(u, t, rng):
            continue
        v = 0
        while _bernoulli_exp_at_most_one(1, 1, rng):
            v += 1
        y = (u + t * v) // s
        negative = rng.randrange(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def discrete_laplace_pmf(y: int, scale: float) -> float:
    """The probability of ``y`` under discrete Laplace with this scale (for tests and previews).

    Args:
        y: the integer outcome.
        scale: the scale ``b`` (> 0).

    Returns:
        ``(1 - a) / (1 + a) * a ** |y|`` with ``a = exp(-1 / b)``.
    """
    import math

    a = math.exp(-1.0 / scale)
    return (1 - a) / (1 + a) * a ** abs(y)


@dataclass(frozen=True)
class NoiseSource:
    """Where noise comes from: ``NoiseSource.secure()`` (default) or ``NoiseSource.seeded(seed)``.

    A seeded source derives one generator per draw from
    ``HMAC-SHA256(seed, query_id | aggregate_index | group_key | purpose)``, so a dry run gives
    the same numbers whatever the row order, group order or thread count. AWS has no seed: the
    seed comes only from local test or dry-run settings, never from an API request.
    """

    seed: bytes | None = None

    @classmethod
    def secure(cls) -> NoiseSource:
        """The default: the operating system's CSPRNG; no run can be replayed."""
        return cls(None)

    @classmethod
    def seeded(cls, seed: int | str | bytes) -> NoiseSource:
        """A reproducible source for tests and dry runs; its results are not private.

        Args:
            seed: any int, text or bytes.

        Returns:
            The seeded source.
        """
        raw = seed if isinstance(seed, bytes) else str(seed).encode()
        return cls(raw)

    @property
    def is_private(self) -> bool:
        """True when nobody can replay the noise (secure mode)."""
        return self.seed is None

    def rng(self, query_id: str, aggregate_index: int, group_key: object, purpose: str) -> RandomBits:
        """The generator for one draw (secure: the shared CSPRNG; seeded: a derived ``random.Random``).

        Args:
            query_id: the protected query's id.
            aggregate_index: which aggregate of the query (-1 for query-wide draws).
            group_key: the output group (JSON-serialisable; ``None`` for no group).
            purpose: what the draw is for ("count", "sum", "ucl", ...).

        Returns:
            A generator with ``randrange``.
        """
        if self.seed is None:
            return _SYSTEM
        label = json.dumps([query_id, aggregate_index, group_key, purpose], default=str, sort_keys=True)
        digest = hmac.new(self.seed, label.encode(), hashlib.sha256).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def discrete_laplace(
        self, scale: Fraction, *, query_id: str, aggregate_index: int, group_key: object, purpose: str
    ) -> int:
        """One discrete Laplace draw for a named release (see ``rng`` for the arguments)."""
        return discrete_laplace(scale, self.rng(query_id, aggregate_index, group_key, purpose))

    def token(self, query_id: str, purpose: str) -> str:
        """A 32-hex-digit secret for hashing rows into a random order inside SQL (user sampling).

        Args:
            query_id: the protected query's id.
            purpose: what the order is for.

        Returns:
            Random hex (secure) or an HMAC-derived one (seeded).
        """
        if self.seed is None:
            return secrets.token_hex(16)
        label = json.dumps([query_id, purpose]).encode()
        return hmac.new(self.seed, label, hashlib.sha256).hexdigest()[:32]


_SYSTEM = secrets.SystemRandom()
