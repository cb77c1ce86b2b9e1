"""Privacy budgets: an exact ledger of debits and the rules for spending, refreshing and updating.

A budget is never stored as a balance. What remains is computed from the template's parameters,
the ledger rows (query id, time, aggregates, epsilon) and the clock, so a raised epsilon, a
calendar-month refresh or a changed noise level needs no migration, and the numbers that
``ListPrivacyBudgets``, ``reconciler budget`` and the tests show are the same function of the
same rows. DIFFERENTIAL_PRIVACY templates hold epsilon (a ``Fraction``, never a float);
ACCESS_BUDGET templates count admitted queries per table association and period (1.8 of the
design). ``Accountant`` adds a lock and a store so that two admissions never overspend; a
refused query writes nothing. This module does not know SQL (``mechanism.py`` does).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

from reconciler.dp.calibrate import AggregateType, max_counts, query_cost
from reconciler.errors import QueryRejected, ReconcilerError

__all__ = [
    "Accountant",
    "AccessBudgetParameter",
    "AccessBudgetParams",
    "AccessPeriod",
    "BudgetExhausted",
    "BudgetRef",
    "BudgetUpdateRefused",
    "DPBudgetParams",
    "Debit",
    "LedgerStore",
    "MemoryLedger",
    "access_budget",
    "check_dp_update",
    "dp_budget",
    "plan_admission",
    "preview_privacy_impact",
    "refresh_start",
    "remaining_epsilon",
]


class BudgetExhausted(QueryRejected):
    """A query needs more privacy or access budget than remains; nothing was read or spent."""


class BudgetUpdateRefused(ReconcilerError):
    """An UpdatePrivacyBudgetTemplate that the service refuses (lower epsilon once queried)."""


@dataclass(frozen=True)
class DPBudgetParams:
    """A DIFFERENTIAL_PRIVACY template's parameters (epsilon 1-20, usersNoisePerQuery 10-100)."""

    epsilon: int
    users_noise_per_query: int
    auto_refresh: str = "NONE"  # CALENDAR_MONTH | NONE

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> DPBudgetParams:
        """Read an API-shaped ``PrivacyBudgetTemplate`` (or its create request)."""
        dp = template["parameters"]["differentialPrivacy"]
        return cls(int(dp["epsilon"]), int(dp["usersNoisePerQuery"]), template.get("autoRefresh", "NONE"))


class AccessPeriod(enum.StrEnum):
    """The API's ``AccessBudgetType``."""

    CALENDAR_DAY = "CALENDAR_DAY"
    CALENDAR_WEEK = "CALENDAR_WEEK"
    CALENDAR_MONTH = "CALENDAR_MONTH"
    LIFETIME = "LIFETIME"


@dataclass(frozen=True)
class AccessBudgetParameter:
    """One ``BudgetParameter``: at most ``budget`` queries per period (autoRefresh None for LIFETIME)."""

    type: AccessPeriod
    budget: int
    auto_refresh: str | None = None  # ENABLED | DISABLED


@dataclass(frozen=True)
class AccessBudgetParams:
    """An ACCESS_BUDGET template: the association it limits and its 1-2 parameters.

    ``reset_time`` is when the template was created or last updated: editing a budget resets
    its balance (AWS), so debits before it no longer count.
    """

    resource_arn: str
    parameters: tuple[AccessBudgetParameter, ...]
    reset_time: datetime

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> AccessBudgetParams:
        """Read an API-shaped ``PrivacyBudgetTemplate`` (``updateTime`` is the reset time)."""
        ab = template["parameters"]["accessBudget"]
        params = tuple(
            AccessBudgetParameter(AccessPeriod(p["type"]), int(p["budget"]), p.get("autoRefresh"))
            for p in ab["budgetParameters"]
        )
        return cls(ab["resourceArn"], params, _utc(template["updateTime"]))


@dataclass(frozen=True)
class Debit:
    """One ledger row: what an admitted query took from one budget (epsilon 0 for access budgets)."""

    budget_id: str
    query_id: str
    time: datetime
    aggregates: tuple[AggregateType, ...] = ()
    epsilon: Fraction = Fraction(0)

    def to_row(self) -> dict[str, str]:
        """A flat, exact, persistable form (epsilon as "numerator/denominator")."""
        return {
            "budget_id": self.budget_id,
            "query_id": self.query_id,
            "time": self.time.isoformat(),
            "aggregates": ",".join(self.aggregates),
            "epsilon": f"{self.epsilon.numerator}/{self.epsilon.denominator}",
        }

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Debit:
        """The inverse of ``to_row``."""
        aggregates = tuple(AggregateType(a) for a in row["aggregates"].split(",") if a)
        return cls(row["budget_id"], row["query_id"], _utc(row["time"]), aggregates, Fraction(row["epsilon"]))


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _period(kind: AccessPeriod | str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar period (day, ISO week from Monday, month) containing ``now``."""
    day = _utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == AccessPeriod.CALENDAR_DAY:
        return day, day + timedelta(days=1)
    if kind == AccessPeriod.CALENDAR_WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


# ---------------------------------------------------------------- differential privacy budget


def refresh_start(params: DPBudgetParams, now: datetime) -> datetime | None:
    """Since when debits count: the 1st of this month 00:00 UTC for CALENDAR_MONTH, else always."""
    return _period(AccessPeriod.CALENDAR_MONTH, now)[0] if params.auto_refresh == "CALENDAR_MONTH" else None


def remaining_epsilon(params: DPBudgetParams, debits: Iterable[Debit], now: datetime) -> Fraction:
    """Epsilon left: the template's epsilon minus this period's debits (never below zero).

    Args:
        params: the template's parameters (a raised epsilon adds to what remains).
        debits: the budget's ledger rows.
        now: the current time (injected).

    Returns:
        The remaining epsilon, exactly.
    """
    since = refresh_start(params, now)
    spent = sum((d.epsilon for d in debits if since is None or d.time >= since), Fraction(0))
    return max(Fraction(0), params.epsilon - spent)


def dp_budget(params: DPBudgetParams, debits: Iterable[Debit], now: datetime) -> dict[str, Any]:
    """The API's ``DifferentialPrivacyPrivacyBudget``: epsilon and per-type max/remaining counts."""
    left = max_counts(remaining_epsilon(params, debits, now), params.users_noise_per_query)
    total = max_counts(Fraction(params.epsilon), params.users_noise_per_query)
    return {
        "epsilon": params.epsilon,
        "aggregations": [
            {"type": kind.value, "maxCount": total[kind], "remainingCount": left[kind]} for kind in total
        ],
    }


def preview_privacy_impact(epsilon: int, users_noise: int) -> dict[str, Any]:
    """The API's ``DifferentialPrivacyPrivacyImpact`` for a hypothetical policy (no ledger)."""
    return {
        "aggregations": [
            {"type": kind.value, "maxCount": n}
            for kind, n in max_counts(Fraction(epsilon), users_noise).items()
        ]
    }


def check_dp_update(old: DPBudgetParams, new: DPBudgetParams, debits: Sequence[Debit]) -> None:
    """Refuse what UpdatePrivacyBudgetTemplate refuses: a lower epsilon once queried, a new autoRefresh.

    Raises:
        BudgetUpdateRefused: with the reason and what to do instead.
    """
    if new.auto_refresh != old.auto_refresh:
        raise BudgetUpdateRefused(
            f"autoRefresh cannot be changed ({old.auto_refresh} -> {new.auto_refresh})",
            hint="delete the privacy budget template and create a new one",
        )
    if new.epsilon < old.epsilon and debits:
        raise BudgetUpdateRefused(
            f"epsilon cannot be lowered from {old.epsilon} to {new.epsilon}: "
            "queries have already used this budget",
            hint="epsilon may only be raised once the budget has been used",
        )


def _describe_need(kinds: Sequence[AggregateType], params: DPBudgetParams, left: Fraction) -> str:
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    remaining = max_counts(left, params.users_noise_per_query)
    total = max_counts(Fraction(params.epsilon), params.users_noise_per_query)
    return ", ".join(
        f"{k.value} needs {n} (remaining {remaining[k]} of {total[k]})" for k, n in counts.items()
    )


# ---------------------------------------------------------------- access budgets


def _access_window(
    p: AccessBudgetParameter, reset: datetime, now: datetime
) -> tuple[datetime, datetime | None, datetime]:
    """(startTime, endTime, count debits since) for one parameter."""
    if p.type == AccessPeriod.LIFETIME:
        return reset, None, reset
    if p.auto_refresh == "ENABLED":
        start, end = _period(p.type, now)
        return start, end, max(start, reset)
    start, end = _period(p.type, reset)  # DISABLED: refreshed only by editing the budget
    return start, end, reset


def access_budget(params: AccessBudgetParams, debits: Iterable[Debit], now: datetime) -> dict[str, Any]:
    """The API's ``AccessBudget``: per-parameter windows and the smallest remainder.

    Args:
        params: the template's parameters.
        debits: this budget's ledger rows (one per admitted query that used the table).
        now: the current time (injected).

    Returns:
        ``{resourceArn, details: [...], aggregateRemainingBudget}``.
    """
    rows = list(debits)
    details = []
    for p in params.parameters:
        start, end, since = _access_window(p, params.reset_time, now)
        used = sum(1 for d in rows if d.time >= since)
        detail: dict[str, Any] = {
            "startTime": start,
            "remainingBudget": max(0, p.budget - used),
            "budget": p.budget,
            "budgetType": p.type.value,
        }
        if end is not None:
            detail["endTime"] = end
        if p.auto_refresh is not None:
            detail["autoRefresh"] = p.auto_refresh
        details.append(detail)
    return {
        "resourceArn": params.resource_arn,
        "details": details,
        "aggregateRemainingBudget": min(d["remainingBudget"] for d in details),
    }


# ---------------------------------------------------------------- admission


@dataclass(frozen=True)
class BudgetRef:
    """One budget a query must pass: its id, parameters and current ledger rows."""

    budget_id: str
    params: DPBudgetParams | AccessBudgetParams
    debits: tuple[Debit, ...] = ()


def plan_admission(
    query_id: str,
    aggregates: Sequence[AggregateType],
    budgets: Sequence[BudgetRef],
    now: datetime,
) -> list[Debit]:
    """Decide whether a query may run and what it takes from each budget; writes nothing.

    Args:
        query_id: the protected query's id.
        aggregates: one entry per distinct aggregate expression over DP tables (may be empty).
        budgets: the DP budget (if any DP table is used) and the access budget of every table used.
        now: the current time (injected).

    Returns:
        The debits to append, one per budget.

    Raises:
        BudgetExhausted: naming every budget that is short, each aggregate, its need and the
            remaining count.
    """
    problems: list[str] = []
    debits: list[Debit] = []
    for ref in budgets:
        if isinstance(ref.params, DPBudgetParams):
            cost = query_cost(aggregates, ref.params.users_noise_per_query)
            left = remaining_epsilon(ref.params, ref.debits, now)
            if cost > left:
                problems.append(
                    "differential privacy budget: "
                    + _describe_need(aggregates, ref.params, left)
                    + f"; the query needs epsilon {float(cost):.4f}, "
                    + f"{float(left):.4f} of {ref.params.epsilon} remains"
                    + _refresh_note(ref.params, now)
                )
            debits.append(Debit(ref.budget_id, query_id, now, tuple(aggregates), cost))
        else:
            remaining = access_budget(ref.params, ref.debits, now)["aggregateRemainingBudget"]
            if remaining < 1:
                problems.append(
                    f"access budget of {ref.params.resource_arn}: no queries remain in this period"
                )
            debits.append(Debit(ref.budget_id, query_id, now))
    if problems:
        raise BudgetExhausted(
            "the query was refused and spent nothing: " + "; ".join(problems),
            hint="raise epsilon (UpdatePrivacyBudgetTemplate), wait for the refresh, or use fewer aggregates",
        )
    return debits


def _refresh_note(params: DPBudgetParams, now: datetime) -> str:
    if params.auto_refresh != "CALENDAR_MONTH":
        return " (this budget does not refresh)"
    return f" (it refreshes on {_period(AccessPeriod.CALENDAR_MONTH, now)[1]:%Y-%m-%d} 00:00 UTC)"


class LedgerStore(Protocol):
    """Where ledger rows live (the emulator's store, or ``MemoryLedger`` in tests)."""

    def debits(self, budget_id: str) -> Sequence[Debit]: ...

    def append(self, debits: Sequence[Debit]) -> None: ...


@dataclass
class MemoryLedger:
    """A ``LedgerStore`` in a dict (tests, ``reconciler query`` without an emulator)."""

    rows: dict[str, list[Debit]] = field(default_factory=dict)

    def debits(self, budget_id: str) -> Sequence[Debit]:
        return tuple(self.rows.get(budget_id, ()))

    def append(self, debits: Sequence[Debit]) -> None:
        for d in debits:
            self.rows.setdefault(d.budget_id, []).append(d)


def _now() -> datetime:
    return datetime.now(UTC)


class Accountant:
    """Admission and budget views over a ``LedgerStore``, with an injectable clock and a lock.

    Check-then-debit runs under one lock, so concurrent admissions never overspend; a refused
    query appends nothing.
    """

    def __init__(self, store: LedgerStore, clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()

    def _ref(self, budget_id: str, params: DPBudgetParams | AccessBudgetParams) -> BudgetRef:
        return BudgetRef(budget_id, params, tuple(self.store.debits(budget_id)))

    def admit(
        self,
        query_id: str,
        aggregates: Sequence[AggregateType],
        budgets: Sequence[tuple[str, DPBudgetParams | AccessBudgetParams]],
    ) -> list[Debit]:
        """Check every budget and append the debits, atomically (see ``plan_admission``)."""
        with self._lock:
            refs = [self._ref(budget_id, params) for budget_id, params in budgets]
            debits = plan_admission(query_id, aggregates, refs, self.clock())
            self.store.append(debits)
            return debits

    def dp_budget(self, budget_id: str, params: DPBudgetParams) -> dict[str, Any]:
        """The API's DifferentialPrivacyPrivacyBudget for this ledger, now."""
        return dp_budget(params, self.store.debits(budget_id), self.clock())

    def access_budget(self, budget_id: str, params: AccessBudgetParams) -> dict[str, Any]:
        """The API's AccessBudget for this ledger, now."""
        return access_budget(params, self.store.debits(budget_id), self.clock())

    def remaining_epsilon(self, budget_id: str, params: DPBudgetParams) -> Fraction:
        """Exact epsilon left, now."""
        return remaining_epsilon(params, self.store.debits(budget_id), self.clock())
