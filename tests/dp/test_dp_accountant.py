"""Calibration and budget accounting: exact costs, refresh, refusal, updates, access budgets."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from dp_helpers import UTC_JAN, dlap_within
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.aws_model import service_model
from reconciler.dp import (
    AccessBudgetParameter,
    AccessBudgetParams,
    Accountant,
    AggregateType,
    BudgetExhausted,
    BudgetUpdateRefused,
    Debit,
    DPBudgetParams,
    MemoryLedger,
    aggregate_cost,
    check_dp_update,
    dp_budget,
    epsilon_unit,
    max_counts,
    preview_privacy_impact,
    unit_scale,
)
from reconciler.dp.accountant import AccessPeriod
from reconciler.dp.calibrate import CONFIDENCE, RELEASES, weight

C, CD, S, A, SD = (
    AggregateType.COUNT,
    AggregateType.COUNT_DISTINCT,
    AggregateType.SUM,
    AggregateType.AVG,
    AggregateType.STDDEV,
)


class Clock:
    """A fake clock the tests move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# ---------------------------------------------------------------- calibration


def test_aggregate_types_are_the_api_enum() -> None:
    enum = service_model().shape_for("DifferentialPrivacyAggregationType").enum
    assert sorted(t.value for t in AggregateType) == sorted(enum)


@pytest.mark.parametrize("noise", [10, 30, 100])
def test_one_release_costs_ln20_over_n_and_hits_the_confidence(noise: int) -> None:
    assert float(epsilon_unit(noise)) == pytest.approx(math.log(20) / noise, rel=1e-5)
    assert unit_scale(noise).denominator <= 2**20  # an exact dyadic fraction, rounded up
    assert unit_scale(noise) >= Fraction(noise) / Fraction(math.log(20))
    # P(|noise| <= N * sensitivity) for the discrete distribution actually used: at least the
    # confidence (integer outcomes only add mass inside the interval), and not much more.
    assert float(CONFIDENCE) <= dlap_within(noise, float(unit_scale(noise))) <= float(CONFIDENCE) + 0.01


def test_weights_follow_the_observed_cost_order_and_equal_the_releases() -> None:
    assert [weight(t) for t in (CD, C, S, A, SD)] == [1, 2, 3, 4, 5]
    assert all(weight(t) == len(RELEASES[t]) for t in AggregateType)


def test_max_counts_match_the_design_example() -> None:
    assert [max_counts(Fraction(10), 30)[t] for t in (CD, C, S, A, SD)] == [100, 50, 33, 25, 20]
    assert max_counts(Fraction(1), 10)[A] == 0  # AVG cannot run at all with epsilon 1, noise 10


def test_preview_privacy_impact_is_a_fresh_budget() -> None:
    params = DPBudgetParams(10, 30)
    fresh = dp_budget(params, [], UTC_JAN)
    impact = preview_privacy_impact(10, 30)
    assert [a["maxCount"] for a in impact["aggregations"]] == [
        a["remainingCount"] for a in fresh["aggregations"]
    ]
    assert {a["type"] for a in impact["aggregations"]} == {t.value for t in AggregateType}


# ---------------------------------------------------------------- DP budget


def test_each_query_takes_exactly_its_documented_cost() -> None:
    params = DPBudgetParams(10, 30)
    accountant = Accountant(MemoryLedger(), Clock(UTC_JAN))
    accountant.admit("q1", [C, S], [("b", params)])
    assert accountant.remaining_epsilon("b", params) == 10 - 5 * epsilon_unit(30)
    counts = {a["type"]: a["remainingCount"] for a in accountant.dp_budget("b", params)["aggregations"]}
    assert counts == {
        t.value: math.floor((10 - 5 * epsilon_unit(30)) / aggregate_cost(t, 30)) for t in AggregateType
    }
    assert counts["COUNT_DISTINCT"] == 95 and counts["AVG"] == 23


def test_exhausted_budget_refuses_clearly_and_spends_nothing() -> None:
    params = DPBudgetParams(1, 10)  # 3 units of 0.2996: three COUNT DISTINCTs, one COUNT
    ledger = MemoryLedger()
    accountant = Accountant(ledger, Clock(UTC_JAN))
    accountant.admit("q1", [C], [("b", params)])
    before = list(ledger.debits("b"))
    with pytest.raises(BudgetExhausted) as info:
        accountant.admit("q2", [C, S], [("b", params)])
    text = info.value.to_text()
    assert "COUNT needs 1 (remaining 0 of 1)" in text
    assert "SUM needs 1 (remaining 0 of 1)" in text
    assert "spent nothing" in text and "does not refresh" in text
    assert list(ledger.debits("b")) == before
    accountant.admit("q3", [CD], [("b", params)])  # what still fits still runs


def test_calendar_month_refresh_with_a_fake_clock() -> None:
    clock = Clock(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    params = DPBudgetParams(1, 10, "CALENDAR_MONTH")
    accountant = Accountant(MemoryLedger(), clock)
    accountant.admit("q1", [CD, CD, CD], [("b", params)])
    with pytest.raises(BudgetExhausted, match="refreshes on 2026-02-01"):
        accountant.admit("q2", [CD], [("b", params)])
    clock.now = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    assert accountant.remaining_epsilon("b", params) == 1
    accountant.admit("q3", [CD], [("b", params)])
    clock.now = datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert accountant.remaining_epsilon("b", params) == 1  # December -> January across a year too


def test_no_refresh_when_auto_refresh_is_none() -> None:
    clock = Clock(UTC_JAN)
    params = DPBudgetParams(1, 10, "NONE")
    accountant = Accountant(MemoryLedger(), clock)
    accountant.admit("q1", [C], [("b", params)])
    clock.now = UTC_JAN + timedelta(days=400)
    assert accountant.remaining_epsilon("b", params) == 1 - 2 * epsilon_unit(10)


def test_update_rules() -> None:
    old = DPBudgetParams(5, 30, "CALENDAR_MONTH")
    check_dp_update(old, DPBudgetParams(3, 30, "CALENDAR_MONTH"), [])  # lowering before any query is fine
    debit = Debit("b", "q1", UTC_JAN, (C,), aggregate_cost(C, 30))
    with pytest.raises(BudgetUpdateRefused, match="cannot be lowered"):
        check_dp_update(old, DPBudgetParams(3, 30, "CALENDAR_MONTH"), [debit])
    with pytest.raises(BudgetUpdateRefused, match="autoRefresh"):
        check_dp_update(old, DPBudgetParams(5, 30, "NONE"), [])
    check_dp_update(old, DPBudgetParams(8, 10, "CALENDAR_MONTH"), [debit])  # raise epsilon, change noise
    # Raising epsilon adds the difference to what remains; a new noise level changes future costs only.
    assert dp_budget(DPBudgetParams(8, 30), [debit], UTC_JAN)["epsilon"] == 8
    from reconciler.dp import remaining_epsilon

    assert remaining_epsilon(DPBudgetParams(8, 10), [debit], UTC_JAN) == 8 - aggregate_cost(C, 30)


def test_ten_thousand_debits_do_not_drift() -> None:
    params = DPBudgetParams(20, 100)
    ledger = MemoryLedger()
    cost = aggregate_cost(CD, 100)
    ledger.rows["b"] = [Debit("b", f"q{i}", UTC_JAN, (CD,), cost) for i in range(600)]
    accountant = Accountant(ledger, Clock(UTC_JAN))
    assert accountant.remaining_epsilon("b", params) == 20 - 600 * cost
    total = sum((cost for _ in range(10_000)), Fraction(0))
    assert total == 10_000 * cost  # exact, unlike 10 000 float additions


def test_concurrent_admissions_never_overspend() -> None:
    params = DPBudgetParams(1, 10)  # exactly 3 COUNT DISTINCTs
    ledger = MemoryLedger()
    accountant = Accountant(ledger, Clock(UTC_JAN))
    admitted: list[str] = []

    def one(i: int) -> None:
        try:
            accountant.admit(f"q{i}", [CD], [("b", params)])
            admitted.append(f"q{i}")
        except BudgetExhausted:
            pass

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 3 == len(ledger.debits("b"))


@settings(max_examples=60, deadline=None)
@given(
    epsilon=st.integers(1, 20),
    noise=st.integers(10, 100),
    queries=st.lists(st.lists(st.sampled_from(list(AggregateType)), min_size=1, max_size=4), max_size=40),
)
def test_remaining_never_goes_below_zero(
    epsilon: int, noise: int, queries: list[list[AggregateType]]
) -> None:
    params = DPBudgetParams(epsilon, noise)
    ledger = MemoryLedger()
    accountant = Accountant(ledger, Clock(UTC_JAN))
    for i, kinds in enumerate(queries):
        try:
            accountant.admit(f"q{i}", kinds, [("b", params)])
        except BudgetExhausted:
            pass
        assert accountant.remaining_epsilon("b", params) >= 0
    assert sum((d.epsilon for d in ledger.debits("b")), Fraction(0)) <= epsilon


def test_debit_rows_round_trip_exactly() -> None:
    debit = Debit("b", "q1", UTC_JAN, (C, S), Fraction(123456789, 2**20))
    row = debit.to_row()
    assert all(isinstance(v, str) for v in row.values())
    assert Debit.from_row(row) == debit


# ---------------------------------------------------------------- access budgets


def _access(*parameters: AccessBudgetParameter, reset: datetime = UTC_JAN) -> AccessBudgetParams:
    return AccessBudgetParams(
        "arn:aws:cleanrooms:us-east-1:111111111111:configuredtableassociation/x", parameters, reset
    )


def test_daily_access_budget_refreshes_at_midnight_utc() -> None:
    clock = Clock(UTC_JAN)
    params = _access(AccessBudgetParameter(AccessPeriod.CALENDAR_DAY, 2, "ENABLED"))
    accountant = Accountant(MemoryLedger(), clock)
    accountant.admit("q1", [], [("t", params)])
    accountant.admit("q2", [], [("t", params)])
    with pytest.raises(BudgetExhausted, match="access budget"):
        accountant.admit("q3", [], [("t", params)])
    clock.now = datetime(2026, 1, 16, 0, 0, tzinfo=UTC)
    view = accountant.access_budget("t", params)
    assert view["aggregateRemainingBudget"] == 2
    assert view["details"][0]["startTime"] == datetime(2026, 1, 16, tzinfo=UTC)
    assert view["details"][0]["endTime"] == datetime(2026, 1, 17, tzinfo=UTC)


def test_weekly_budget_starts_monday_and_lifetime_takes_the_minimum() -> None:
    clock = Clock(datetime(2026, 1, 14, tzinfo=UTC))  # a Wednesday
    params = _access(
        AccessBudgetParameter(AccessPeriod.CALENDAR_WEEK, 5, "ENABLED"),
        AccessBudgetParameter(AccessPeriod.LIFETIME, 3),
        reset=datetime(2026, 1, 1, tzinfo=UTC),
    )
    accountant = Accountant(MemoryLedger(), clock)
    for i in range(3):
        accountant.admit(f"q{i}", [], [("t", params)])
    view = accountant.access_budget("t", params)
    assert view["details"][0]["startTime"] == datetime(2026, 1, 12, tzinfo=UTC)  # Monday
    assert [d["remainingBudget"] for d in view["details"]] == [2, 0]
    assert view["aggregateRemainingBudget"] == 0
    assert "autoRefresh" not in view["details"][1] and "endTime" not in view["details"][1]


def test_disabled_refresh_keeps_the_balance_until_the_budget_is_edited() -> None:
    clock = Clock(UTC_JAN)
    params = _access(AccessBudgetParameter(AccessPeriod.CALENDAR_DAY, 1, "DISABLED"))
    ledger = MemoryLedger()
    accountant = Accountant(ledger, clock)
    accountant.admit("q1", [], [("t", params)])
    clock.now = UTC_JAN + timedelta(days=3)
    assert accountant.access_budget("t", params)["aggregateRemainingBudget"] == 0
    edited = _access(AccessBudgetParameter(AccessPeriod.CALENDAR_DAY, 1, "DISABLED"), reset=clock.now)
    assert accountant.access_budget("t", edited)["aggregateRemainingBudget"] == 1  # editing resets


def test_a_query_short_on_one_budget_takes_from_none() -> None:
    ledger = MemoryLedger()
    accountant = Accountant(ledger, Clock(UTC_JAN))
    empty = _access(AccessBudgetParameter(AccessPeriod.LIFETIME, 0))
    with pytest.raises(BudgetExhausted):
        accountant.admit("q1", [CD], [("b", DPBudgetParams(10, 30)), ("t", empty)])
    assert ledger.rows == {}
