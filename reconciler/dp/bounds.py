"""Private choice of the user contribution limit (UCL) and of clamping bounds.

Reporting the data's exact extremes would leak the heaviest user or the largest value, so both
are picked from a power-of-two ladder by an exponential mechanism (permute-and-flip, McKenna and
Sheldon 2020, sampled exactly with ``bernoulli_exp``). Each user sits at one rung (the smallest
candidate that holds their row count or their largest |value|). A candidate's utility is the
number of users at it or at the candidate just below (its "window": the bound is tight) minus
the number of users above it (they get clamped). One user moves any candidate's utility by at
most 1, so selection at ``exp(epsilon * utility / 2)`` is epsilon-DP.

On top comes a fixed (data-independent) preference for magnitudes near 1: ``PRIOR_PER_DOUBLING``
nats per power of two away from 2**0. Rungs above the data hold nobody, so nothing in the data
tells 2**10 from 2**40; without this preference a small table (a hundred users, epsilon ~0.1)
would pick among the dozens of empty rungs above its data about as often as the right one. The
price: when values are large and users few (say 100 users at ~2**17 with usersNoisePerQuery 30),
the prior can outweigh the data and the bound comes out too small; more users fix it.

The ladder is also restricted by the column's type, which is schema (public, as ``GetSchema``
shows it), not data: integers have no fractional rungs and none above their range; DECIMAL(p, s)
none below its grid 10**-s or above 10**(p-s). Inputs are per-user histograms computed in SQL
by the caller; this module reads no data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction

from reconciler.dp.noise import RandomBits, bernoulli_exp

__all__ = [
    "PRIOR_PER_DOUBLING",
    "UCL_LADDER",
    "VALUE_LADDER_EXPONENTS",
    "is_unsigned",
    "select_rung",
    "value_candidates",
]

#: Candidate user contribution limits (rung i is 2**i).
UCL_LADDER: tuple[int, ...] = tuple(2**k for k in range(11))
#: Candidate magnitudes of clamping bounds: rung 0 is 0, rung i >= 1 is 2**VALUE_LADDER_EXPONENTS[i-1].
VALUE_LADDER_EXPONENTS: tuple[int, ...] = tuple(range(-10, 41))
#: The data-independent preference: this many nats per power of two between a rung and 2**0.
PRIOR_PER_DOUBLING = Fraction(1, 2)

#: Integer column types: (value bits, signed). Their ladder has no fractional rungs.
_INTEGER_TYPES: Mapping[str, tuple[int, bool]] = {
    "TINYINT": (8, True),
    "SMALLINT": (16, True),
    "INTEGER": (32, True),
    "BIGINT": (64, True),
    "HUGEINT": (128, True),
    "UTINYINT": (8, False),
    "USMALLINT": (16, False),
    "UINTEGER": (32, False),
    "UBIGINT": (64, False),
    "UHUGEINT": (128, False),
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def is_unsigned(column_type: str) -> bool:
    """True for unsigned integer types: their bounds are [0, M], not [-M, M]."""
    spec = _INTEGER_TYPES.get(column_type.upper())
    return spec is not None and not spec[1]


def value_candidates(column_type: str) -> tuple[int, ...]:
    """The VALUE ladder rungs (indexes, 0 = magnitude 0) a column of this DuckDB type may use.

    Args:
        column_type: the type of the aggregated expression, e.g. ``DOUBLE``, ``INTEGER``,
            ``DECIMAL(18,3)`` (unknown types get the whole ladder).

    Returns:
        Ascending rung indexes, always including 0.
    """
    low, high = VALUE_LADDER_EXPONENTS[0], VALUE_LADDER_EXPONENTS[-1]
    kind = column_type.upper()
    if kind in _INTEGER_TYPES:
        bits, signed = _INTEGER_TYPES[kind]
        low, high = 0, min(high, bits - 1 if signed else bits)
    elif match := _DECIMAL.fullmatch(kind):
        precision, scale = int(match[1]), int(match[2])
        low = max(low, math.floor(-scale * math.log2(10)))
        high = min(high, max(low, math.ceil((precision - scale) * math.log2(10))))
    return (0,) + tuple(i + 1 for i, exponent in enumerate(VALUE_LADDER_EXPONENTS) if low <= exponent <= high)


def select_rung(
    histogram: Mapping[int, int],
    candidates: Sequence[tuple[int, int]],
    epsilon: Fraction,
    rng: RandomBits,
) -> int:
    """Choose a rung that few users exceed and many sit just below, privately (epsilon-DP).

    Args:
        histogram: rung index -> how many users sit at that rung (each user in one rung).
        candidates: (rung index, log2 of its value) for each rung that may be chosen, ascending.
        epsilon: what this selection may spend (> 0).
        rng: the source of uniform integers (the selection's own generator).

    Returns:
        The chosen rung index.
    """
    indexes = [index for index, _ in candidates]
    at = [0] * len(candidates)  # users whose smallest sufficient candidate is this one
    above_top = 0
    for rung, users in histogram.items():
        position = next((p for p, index in enumerate(indexes) if rung <= index), None)
        if position is None:
            above_top += users
        else:
            at[position] += users
    scores = []
    above = above_top + sum(at)
    for position, (_, exponent) in enumerate(candidates):
        above -= at[position]
        window = at[position] + (at[position - 1] if position else 0)
        scores.append(epsilon / 2 * (window - above) - PRIOR_PER_DOUBLING * abs(exponent))
    best = max(scores)
    order = list(range(len(candidates)))
    for i in range(len(order) - 1, 0, -1):  # Fisher-Yates with the selection's generator
        j = rng.randrange(i + 1)
        order[i], order[j] = order[j], order[i]
    for position in order:  # permute-and-flip: the best candidate always accepts
        if bernoulli_exp(best - scores[position], rng):
            return indexes[position]
    raise AssertionError("unreachable: the best candidate accepts with probability 1")
