"""Private choice of clamping bounds and UCL: useful on small tables, and a proper DP mechanism.

All runs are seeded (reproducible); small tables and usersNoisePerQuery 30 (epsilon ~0.1 per
selection) are the hard case the example stack hits: ~100 users per region.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction

import pytest
from dp_helpers import chi_square_z, connect, run

from reconciler.dp.bounds import PRIOR_PER_DOUBLING, select_rung, value_candidates

N = 30
RUNS = 200


def _bounds(table: str, runs: int = RUNS) -> list[tuple[float, float]]:
    con = connect(purchases=table)
    out = []
    for seed in range(runs):
        params = run(con, "SELECT SUM(amount) FROM purchases", seed, noise=N, query_id=f"q{seed}")
        entry = params.sensitivity_parameters[0]
        out.append((float(entry["minColumnValue"]), float(entry["maxColumnValue"])))
    return out


def test_small_table_gets_a_bound_near_its_high_quantile() -> None:
    """150 users with values in [0, 500]: the bound is 512 or close, never ~2**34 (issue 8)."""
    table = "SELECT 'u' || i AS user_id, ((i * 7919) % 501)::DOUBLE AS amount FROM range(150) t(i)"
    median = connect(purchases=table).execute("SELECT median(amount) FROM purchases").fetchone()
    assert median is not None
    highs = [high for _, high in _bounds(table)]
    assert sum(high <= 2048 for high in highs) >= 0.95 * RUNS
    assert sum(high >= median[0] for high in highs) >= 0.95 * RUNS
    assert Counter(highs).most_common(1)[0][0] == 512


def test_a_hundred_small_scores_clamp_within_a_power_of_two_of_their_top() -> None:
    """Like the example's engagement scores: 114 users, values 1..87 spread over several rungs."""
    table = "SELECT 'u' || i AS user_id, (1 + (i * 37) % 87)::DOUBLE AS amount FROM range(114) t(i)"
    highs = [high for _, high in _bounds(table, 100)]
    assert sum(32 <= high <= 256 for high in highs) >= 95
    assert max(highs) < 2**20


def test_the_column_type_sets_the_ladder() -> None:
    """Schema, not data: integers have no fractional rungs, DECIMAL none below its grid."""
    assert value_candidates("INTEGER") == (0,) + tuple(range(11, 11 + 32))  # 2**0 .. 2**31
    assert value_candidates("TINYINT")[-1] == 11 + 7  # 2**7
    assert value_candidates("DOUBLE") == tuple(range(52))  # the whole ladder, 2**-10 .. 2**40
    decimal = value_candidates("DECIMAL(9,2)")
    assert decimal[1] == 11 - 7 and decimal[-1] == 11 + 24  # grid 0.01 > 2**-7; 10**7 <= 2**24


def test_unsigned_integers_clamp_to_zero_and_integers_never_get_fractional_bounds() -> None:
    table = "SELECT 'u' || i AS user_id, (i % 3)::{} AS amount FROM range(120) t(i)"
    unsigned = _bounds(table.format("UTINYINT"), 20)
    assert all(low == 0 and high >= 1 for low, high in unsigned)
    signed = _bounds(table.format("INTEGER"), 20)
    assert all(low == -high and (high == 0 or high >= 1) for low, high in signed)


# -------------------------------------------------------------- the mechanism itself


def _exact(histogram: dict[int, int], candidates: list[tuple[int, int]], epsilon: Fraction) -> list[float]:
    """Permute-and-flip's output distribution: P(r) = p_r * integral_0^1 prod_{j != r} (1 - t p_j) dt.

    Recomputes the utilities independently of bounds.py (users at or just below, minus above).
    """
    indexes = [i for i, _ in candidates]
    position = {rung: next(p for p, i in enumerate(indexes) if rung <= i) for rung in histogram}
    scores = []
    for p, (_, exponent) in enumerate(candidates):
        window = sum(n for rung, n in histogram.items() if position[rung] in (p, p - 1))
        above = sum(n for rung, n in histogram.items() if position[rung] > p)
        scores.append(float(epsilon) / 2 * (window - above) - float(PRIOR_PER_DOUBLING) * abs(exponent))
    accept = [math.exp(s - max(scores)) for s in scores]
    steps = 4000  # midpoint rule; the integrand is a smooth polynomial in t
    out = []
    for r, p_r in enumerate(accept):
        total = 0.0
        for k in range(steps):
            t = (k + 0.5) / steps
            total += math.prod(1 - t * p for j, p in enumerate(accept) if j != r)
        out.append(p_r * total / steps)
    return out


CANDIDATES = [(i, i - 3) for i in range(8)]  # rungs 2**-3 .. 2**4
EPSILON = Fraction(1, 2)


def test_select_rung_samples_the_permute_and_flip_distribution() -> None:
    histogram = {4: 3, 5: 6, 6: 2}
    expected = _exact(histogram, CANDIDATES, EPSILON)
    rng = random.Random(7)
    draws = 4000
    counts = Counter(select_rung(histogram, CANDIDATES, EPSILON, rng) for _ in range(draws))
    kept = [r for r, p in enumerate(expected) if p * draws >= 5]
    observed = [counts[r] for r in kept] + [draws - sum(counts[r] for r in kept)]
    wanted = [expected[r] * draws for r in kept] + [draws * (1 - sum(expected[r] for r in kept))]
    if wanted[-1] < 5:  # nothing meaningful outside the kept rungs
        observed, wanted = observed[:-1], wanted[:-1]
        wanted[-1] += draws - sum(wanted)
    assert chi_square_z(observed, wanted) < 3.09


@pytest.mark.parametrize("rung", range(8))
def test_one_user_changes_any_outcome_by_at_most_e_to_the_epsilon(rung: int) -> None:
    """Adding a user at any rung: every output's probability moves by a factor <= e^epsilon."""
    base = {1: 2, 4: 3, 5: 6, 6: 2}
    neighbour = dict(base)
    neighbour[rung] = neighbour.get(rung, 0) + 1
    p, q = _exact(base, CANDIDATES, EPSILON), _exact(neighbour, CANDIDATES, EPSILON)
    worst = max(max(a / b, b / a) for a, b in zip(p, q, strict=True))
    assert worst <= math.exp(float(EPSILON)) * (1 + 1e-6)
