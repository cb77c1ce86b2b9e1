"""How much noise a release gets and what it costs, as exact fractions (DIFFERENTIAL_PRIVACY.md 2.1-2.3).

``usersNoisePerQuery`` N means: the noise on a release with per-user sensitivity D stays within
``+-N*D`` with probability about ``CONFIDENCE``. So the scale per unit of sensitivity is
``N / ln(1 / (1 - CONFIDENCE))``, rounded UP to a multiple of ``2**-SCALE_BITS`` so that it is a
``Fraction``, and one release costs ``EPSILON_UNIT = 1 / unit_scale`` exactly. Each aggregate
type is a fixed list of releases (``RELEASES``); its weight is the length of that list, so what
is charged is exactly what the mechanism spends. Budget arithmetic never touches a float.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

__all__ = [
    "CONFIDENCE",
    "RELEASES",
    "SCALE_BITS",
    "AggregateType",
    "aggregate_cost",
    "epsilon_unit",
    "max_counts",
    "query_cost",
    "unit_scale",
    "weight",
]

#: P(|noise| <= N * sensitivity) that the calibration aims for (AWS: "with high probability").
CONFIDENCE = Fraction(95, 100)
#: Noise scales are rounded up to a multiple of 2**-SCALE_BITS.
SCALE_BITS = 20


class AggregateType(enum.StrEnum):
    """The API's ``DifferentialPrivacyAggregationType`` (checked against botocore in the tests)."""

    COUNT_DISTINCT = "COUNT_DISTINCT"
    COUNT = "COUNT"
    SUM = "SUM"
    AVG = "AVG"
    STDDEV = "STDDEV"


#: What one aggregate of each type releases, in order; each release costs one EPSILON_UNIT.
#: "ucl" picks the user contribution limit and "bounds" the clamping range privately (bounds.py).
#: COUNT(DISTINCT user) needs neither: each user is sampled down to one row (AWS: "UCL is 1").
RELEASES: Mapping[AggregateType, tuple[str, ...]] = {
    AggregateType.COUNT_DISTINCT: ("count",),
    AggregateType.COUNT: ("ucl", "count"),
    AggregateType.SUM: ("ucl", "bounds", "sum"),
    AggregateType.AVG: ("ucl", "bounds", "sum", "count"),
    AggregateType.STDDEV: ("ucl", "bounds", "count", "sum", "sumsq"),
}


def weight(kind: AggregateType) -> int:
    """How many EPSILON_UNITs one aggregate of this type costs (1, 2, 3, 4, 5 in RELEASES order)."""
    return len(RELEASES[kind])


def unit_scale(users_noise: int) -> Fraction:
    """The discrete Laplace scale per unit of sensitivity for ``usersNoisePerQuery``.

    Args:
        users_noise: the template's usersNoisePerQuery (10-100).

    Returns:
        ``ceil(N / ln 20 * 2**20) / 2**20`` as a Fraction.
    """
    grid = 2**SCALE_BITS
    raw = users_noise / math.log(1 / (1 - float(CONFIDENCE)))
    return Fraction(math.ceil(raw * grid), grid)


def epsilon_unit(users_noise: int) -> Fraction:
    """The epsilon one release costs: sensitivity / scale = ``1 / unit_scale(N)`` (about ln 20 / N)."""
    return 1 / unit_scale(users_noise)


def aggregate_cost(kind: AggregateType, users_noise: int) -> Fraction:
    """The epsilon one aggregate of this type costs, once per query whatever the number of groups."""
    return weight(kind) * epsilon_unit(users_noise)


def query_cost(kinds: Iterable[AggregateType], users_noise: int) -> Fraction:
    """The epsilon a query with these aggregates costs (each distinct aggregate expression once)."""
    return sum((aggregate_cost(k, users_noise) for k in kinds), Fraction(0))


def max_counts(epsilon: Fraction, users_noise: int) -> dict[AggregateType, int]:
    """How many aggregates of each type ``epsilon`` buys (the console's "gas gauge").

    Args:
        epsilon: a total or remaining epsilon.
        users_noise: usersNoisePerQuery.

    Returns:
        ``floor(epsilon / cost(type))`` per type, in RELEASES order.
    """
    return {k: max(0, math.floor(epsilon / aggregate_cost(k, users_noise))) for k in RELEASES}
