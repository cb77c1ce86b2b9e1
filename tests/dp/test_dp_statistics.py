"""Statistical checks over many seeded runs: the noise has the configured size, exact answers are
never returned, and a differencing attack learns no more than the noise allows.

Every test uses fixed seeds, so it is deterministic (never flaky); the tolerances are stated
next to each assertion and are about 3.5 standard errors of the estimate.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import pytest
from dp_helpers import connect, dlap_variance, dlap_within, mean_sd, run

from reconciler.dp import unit_scale
from reconciler.dp.noise import discrete_laplace_pmf

N = 30  # usersNoisePerQuery
RUNS = 1000
USERS = 2000
# Two rows per user (amounts 0..99), plus one user with an outlier that clamping must absorb.
DATA = (
    f"SELECT 'u' || (i % {USERS}) AS user_id, ((i * 37) % 100)::DOUBLE AS amount "
    f"FROM range({2 * USERS}) t(i) "
    "UNION ALL SELECT 'outlier', 1e6"
)
SQL = (
    "SELECT COUNT(*) AS n, COUNT(DISTINCT user_id) AS users, SUM(amount) AS total, "
    "AVG(amount) AS mean, STDDEV(amount) AS sd FROM purchases"
)


@pytest.fixture(scope="module")
def runs() -> list[tuple[tuple[object, ...], tuple[dict[str, object], ...]]]:
    con = connect(purchases=DATA)
    out = []
    for seed in range(RUNS):
        result = run(con, SQL, seed, noise=N, query_id=f"q{seed}")
        out.append((result.rows[0], result.sensitivity_parameters))
    return out


@functools.cache
def _clamped(ucl: int, bound: float) -> tuple[int, float, float]:
    """Rows, sum and sum of squares after sampling to ``ucl`` rows per user and clamping to +-bound."""
    values = [float((i * 37) % 100) for i in range(2 * USERS)] + [1e6]
    assert ucl >= 2  # every user has at most two rows, so sampling keeps all of them
    clamped = [max(-bound, min(bound, v)) for v in values]
    return len(values), sum(clamped), sum(v * v for v in clamped)


def _unit(ucl: int = 1, bound: float = 1.0) -> float:
    return float(unit_scale(N)) * ucl * bound


@pytest.mark.slow
def test_count_distinct_noise_matches_the_configured_scale(runs) -> None:  # type: ignore[no-untyped-def]
    errors = [row[1] - (USERS + 1) for row, _ in runs]
    mean, sd = mean_sd(errors)
    theory = math.sqrt(dlap_variance(_unit()))
    assert abs(mean) < 4 * theory / math.sqrt(RUNS)
    assert sd == pytest.approx(theory, rel=0.10)  # +-10 %: the sd of a sample sd here is ~3 %
    inside = sum(abs(e) <= N for e in errors) / RUNS
    assert inside == pytest.approx(dlap_within(N, _unit()), abs=0.025)  # ~0.95, +-3.6 standard errors


@pytest.mark.slow
def test_exact_counts_are_never_returned_deliberately(runs) -> None:  # type: ignore[no-untyped-def]
    users = [row[1] for row, _ in runs]
    rows = [row[0] for row, _ in runs]
    # A run can hit the true value only when its noise happens to be 0 (probability ~1/(2b)).
    p_zero = discrete_laplace_pmf(0, _unit())
    assert sum(u == USERS + 1 for u in users) / RUNS <= p_zero + 0.02
    assert sum(r == 2 * USERS + 1 for r in rows) / RUNS <= p_zero + 0.02
    assert len(set(users)) > 50 and len(set(rows)) > 50


@pytest.mark.slow
def test_count_and_sum_noise_match_their_sensitivity(runs) -> None:  # type: ignore[no-untyped-def]
    count_z, sum_z, inside, expected_inside = [], [], 0, 0.0
    for row, params in runs:
        ucl = int(params[0]["userContributionLimit"])  # type: ignore[call-overload]
        true_rows, true_sum, _ = _clamped(ucl, float(params[2]["maxColumnValue"]))  # type: ignore[arg-type]
        count_z.append((row[0] - true_rows) / math.sqrt(dlap_variance(_unit(ucl))))
        sum_ucl = int(params[2]["userContributionLimit"])  # type: ignore[call-overload]
        bound = float(params[2]["maxColumnValue"])  # type: ignore[arg-type]
        grid = bound / 2**20
        scale = _unit(sum_ucl, bound) / grid  # the noise scale in fixed-point units
        error = (row[2] - true_sum) / grid
        sum_z.append(error / math.sqrt(dlap_variance(scale)))
        inside += abs(row[2] - true_sum) <= N * sum_ucl * bound
        expected_inside += dlap_within(N * sum_ucl * 2**20, scale) / RUNS
    for z in (count_z, sum_z):
        mean, sd = mean_sd(z)
        assert abs(mean) < 4 / math.sqrt(RUNS)
        assert sd == pytest.approx(1.0, rel=0.10)
    assert inside / RUNS == pytest.approx(expected_inside, abs=0.025)


@pytest.mark.slow
def test_sum_bounds_clamp_the_outlier_and_are_chosen_privately(runs) -> None:  # type: ignore[no-untyped-def]
    bounds = [float(params[2]["maxColumnValue"]) for _, params in runs]  # type: ignore[arg-type]
    assert max(bounds) < 1e6  # the outlier never sets the bound
    assert sum(b == 128 for b in bounds) / RUNS > 0.9  # the smallest power of two above 99, nearly always


@pytest.mark.slow
def test_avg_and_stddev_are_close_and_noisy(runs) -> None:  # type: ignore[no-untyped-def]
    avg_errors, sd_errors = [], []
    for row, params in runs:
        bound = float(params[3]["maxColumnValue"])  # type: ignore[arg-type]
        n, total, squares = _clamped(4, bound)
        true_mean = total / n
        avg_errors.append(row[3] - true_mean)
        sd_errors.append(row[4] - math.sqrt((squares - total * total / n) / (n - 1)))
    mean, sd = mean_sd(avg_errors)
    assert abs(mean) < 4 * sd / math.sqrt(RUNS) + 0.05  # nearly unbiased (a ratio of noisy values)
    assert 0 < sd < 2.0  # noisy, but at 4 000 rows the mean is still useful
    assert len(set(avg_errors)) == RUNS
    assert all(row[4] >= 0 for row, _ in runs)
    assert abs(mean_sd(sd_errors)[0]) < 2.0


@pytest.mark.slow
def test_differencing_attack_learns_no_more_than_the_noise_allows() -> None:
    """Two queries on data differing by one user: the difference estimates that user's presence
    (true difference 1) with the error distribution of two independent noises; a membership test
    built on it is bounded by the epsilon charged (TPR <= e^eps * FPR)."""
    base = "SELECT 'u' || i AS user_id FROM range(500) t(i)"
    without, with_target = connect(purchases=base), connect(purchases=base + " UNION ALL SELECT 'target'")
    sql = "SELECT COUNT(DISTINCT user_id) FROM purchases"
    runs = 500  # per side; the 1 000-run noise checks are above
    a = [run(without, sql, s, query_id=f"a{s}").rows[0][0] for s in range(runs)]
    b = [run(with_target, sql, s, query_id=f"b{s}").rows[0][0] for s in range(runs)]
    errors = [(y - x) - 1 for x, y in zip(a, b, strict=True)]  # the attacker's estimate minus the truth
    mean, sd = mean_sd(errors)
    expected_sd = math.sqrt(2 * dlap_variance(_unit()))  # two independent releases
    deciles = sorted(errors)[runs // 10 :: runs // 10]
    assert sd == pytest.approx(expected_sd, rel=0.10), f"error deciles {deciles}"
    assert abs(mean) < 4 * expected_sd / math.sqrt(runs)
    assert sum(abs(e) < 0.5 for e in errors) / runs < 0.05  # the exact answer is rarely recovered
    # Membership test "noisy count >= 501": TPR/FPR must not exceed e^epsilon (epsilon = one unit).
    tpr = sum(y >= 501 for y in b) / runs
    fpr = sum(x >= 501 for x in a) / runs
    epsilon = float(1 / unit_scale(N))
    slack = 4 * math.sqrt(tpr * (1 - tpr) / runs + fpr * (1 - fpr) / runs) / fpr
    assert math.log(tpr / fpr) <= epsilon + slack
    assert isinstance(Fraction(epsilon), Fraction)
