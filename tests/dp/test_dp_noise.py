"""The exact discrete Laplace sampler and the noise sources (DIFFERENTIAL_PRIVACY.md section 4.1-4.2)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from dp_helpers import chi_square_z, dlap_variance

from reconciler.dp.noise import NoiseSource, bernoulli_exp, discrete_laplace, discrete_laplace_pmf

DRAWS = 20_000


@pytest.mark.parametrize("scale", [Fraction(1, 2), Fraction(3), Fraction(10), Fraction(167, 5)])
def test_sampler_matches_the_discrete_laplace_pmf(scale: Fraction) -> None:
    rng = random.Random(0)
    draws = [discrete_laplace(scale, rng) for _ in range(DRAWS)]
    b = float(scale)
    # Bins: each integer in [-K, K] where the expected count is >= 5, plus two tails.
    k = 0
    while DRAWS * discrete_laplace_pmf(k + 1, b) >= 5:
        k += 1
    inside = {y: DRAWS * discrete_laplace_pmf(y, b) for y in range(-k, k + 1)}
    tail = (DRAWS - sum(inside.values())) / 2
    observed = (
        [sum(1 for d in draws if d < -k)]
        + [draws.count(y) for y in inside]
        + [sum(1 for d in draws if d > k)]
    )
    expected = [tail, *inside.values(), tail]
    assert chi_square_z(observed, expected) < 3.09  # p > 0.001
    mean = sum(draws) / DRAWS
    variance = sum(d * d for d in draws) / DRAWS
    assert abs(mean) < 4 * math.sqrt(dlap_variance(b) / DRAWS)
    assert variance == pytest.approx(dlap_variance(b), rel=0.05)


def test_pmf_sums_to_one_and_is_symmetric() -> None:
    total = sum(discrete_laplace_pmf(y, 3.0) for y in range(-400, 401))
    assert total == pytest.approx(1.0, abs=1e-12)
    assert discrete_laplace_pmf(-4, 3.0) == discrete_laplace_pmf(4, 3.0)


@pytest.mark.parametrize("gamma", [Fraction(0), Fraction(1, 3), Fraction(1), Fraction(5, 2)])
def test_bernoulli_exp_has_probability_exp_minus_gamma(gamma: Fraction) -> None:
    rng = random.Random(1)
    n = 20_000
    hits = sum(bernoulli_exp(gamma, rng) for _ in range(n))
    p = math.exp(-float(gamma))
    assert abs(hits / n - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-9


def test_zero_scale_adds_nothing_and_negative_scale_is_a_bug() -> None:
    assert discrete_laplace(Fraction(0), random.Random(0)) == 0
    with pytest.raises(ValueError):
        discrete_laplace(Fraction(-1), random.Random(0))


def test_seeded_draws_are_reproducible_and_independent_per_label() -> None:
    a, b = NoiseSource.seeded(7), NoiseSource.seeded(7)
    labels = {"query_id": "q1", "aggregate_index": 0, "group_key": ["east"], "purpose": "count"}
    assert a.discrete_laplace(Fraction(50), **labels) == b.discrete_laplace(Fraction(50), **labels)
    streams = {
        NoiseSource.seeded(7).discrete_laplace(Fraction(1000), **{**labels, "group_key": [g]})
        for g in range(20)
    }
    assert len(streams) > 15  # other groups get other noise
    other_seed = [
        NoiseSource.seeded(8).discrete_laplace(Fraction(1000), **{**labels, "group_key": [g]})
        for g in range(5)
    ]
    same_seed = [
        NoiseSource.seeded(7).discrete_laplace(Fraction(1000), **{**labels, "group_key": [g]})
        for g in range(5)
    ]
    assert other_seed != same_seed
    assert not a.is_private
    assert a.token("q1", "sample") == b.token("q1", "sample") != NoiseSource.seeded(8).token("q1", "sample")


def test_secure_mode_is_the_default_and_never_repeats() -> None:
    source = NoiseSource.secure()
    assert source.is_private and NoiseSource() == source
    labels = {"query_id": "q1", "aggregate_index": 0, "group_key": None, "purpose": "count"}
    draws = [source.discrete_laplace(Fraction(10**6), **labels) for _ in range(5)]
    assert len(set(draws)) > 1
    assert source.token("q1", "sample") != source.token("q1", "sample")
