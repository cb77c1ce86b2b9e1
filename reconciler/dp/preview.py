"""What a DP query would cost and how noisy it would be, without reading data or spending budget.

``reconciler query --preview`` calls ``preview_query`` on the DPQuery the engine's check built
(the same one a real run charges), with the same cost function as a real run, applied to the
current ledger with nothing appended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from reconciler.dp.accountant import Debit, DPBudgetParams, remaining_epsilon
from reconciler.dp.calibrate import CONFIDENCE, AggregateType, aggregate_cost, max_counts, query_cost
from reconciler.dp.mechanism import DPQuery

__all__ = ["AggregatePreview", "QueryPreview", "preview_query"]

#: How each type's noise reads, in units the user knows (N = usersNoisePerQuery).
_NOISE_TEXT: Mapping[AggregateType, str] = {
    AggregateType.COUNT_DISTINCT: "+-{n} users",
    AggregateType.COUNT: "+-{n} x UCL rows",
    AggregateType.SUM: "+-{n} x UCL x max(|min|, |max|)",
    AggregateType.AVG: "noisy SUM / noisy COUNT, each +-{n} x UCL (x bound)",
    AggregateType.STDDEV: "from noisy COUNT, SUM and SUM of squares, each +-{n} x UCL (x bound, bound^2)",
}


@dataclass(frozen=True)
class AggregatePreview:
    """One aggregate of the query: its type, cost and noise at the calibration's confidence."""

    expression: str
    kind: AggregateType
    epsilon: Fraction
    noise: str


@dataclass(frozen=True)
class QueryPreview:
    """The preview of one query against one budget (nothing spent)."""

    aggregates: tuple[AggregatePreview, ...]
    cost: Fraction
    remaining_before: Fraction
    params: DPBudgetParams

    @property
    def would_run(self) -> bool:
        """True when the remaining budget covers the query."""
        return self.cost <= self.remaining_before

    @property
    def remaining_after(self) -> Fraction:
        """Epsilon left after the query (unchanged if it would be refused)."""
        return self.remaining_before - self.cost if self.would_run else self.remaining_before

    def to_text(self) -> str:
        """A short human-readable report."""
        n = self.params.users_noise_per_query
        lines = [
            f"Differential privacy preview (epsilon {self.params.epsilon}, usersNoisePerQuery {n}; "
            f"noise bounds hold with probability {float(CONFIDENCE):.0%}; "
            "UCL and bounds are chosen privately at run time):"
        ]
        for a in self.aggregates:
            lines.append(
                f"  {a.expression}: {a.kind.value}, costs epsilon {float(a.epsilon):.4f}, noise {a.noise}"
            )
        before = max_counts(self.remaining_before, n)
        after = max_counts(self.remaining_after, n)
        lines.append(
            f"  total cost epsilon {float(self.cost):.4f}; remaining {float(self.remaining_before):.4f} -> "
            f"{float(self.remaining_after):.4f}" + ("" if self.would_run else " (the query would be REFUSED)")
        )
        lines.append(
            "  remaining aggregations: " + ", ".join(f"{k.value} {before[k]} -> {after[k]}" for k in before)
        )
        return "\n".join(lines)


def preview_query(
    query: DPQuery, params: DPBudgetParams, debits: Iterable[Debit], now: datetime
) -> QueryPreview:
    """Cost and expected noise of a DP query under a budget; spends nothing and reads no data.

    Args:
        query: the analyzed DP query.
        params: the collaboration's DP template parameters.
        debits: the budget's ledger rows so far (none for a fresh budget).
        now: the current time (injected).

    Returns:
        The ``QueryPreview``.
    """
    n = params.users_noise_per_query
    aggregates = tuple(
        AggregatePreview(a.expression, a.kind, aggregate_cost(a.kind, n), _NOISE_TEXT[a.kind].format(n=n))
        for a in query.aggregates
    )
    if query.own_selection:  # the distinct-user count that decides which groups are released
        distinct = AggregateType.COUNT_DISTINCT
        aggregates += (
            AggregatePreview(
                "group selection: COUNT(DISTINCT user) per group",
                distinct,
                aggregate_cost(distinct, n),
                _NOISE_TEXT[distinct].format(n=n) + "; groups below the selection threshold are not released",
            ),
        )
    return QueryPreview(
        aggregates, query_cost(query.kinds, n), remaining_epsilon(params, debits, now), params
    )
