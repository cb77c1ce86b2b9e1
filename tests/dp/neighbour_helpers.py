"""Neighbouring datasets for DP audits through the engine's public API, and the statistics to judge them.

The collaboration: the querier (``QUERIER``) may query and receive results; a data provider
(``PROVIDER``) owns two tables with differential privacy on ``user_id`` (``purchases``,
``visits``); the querier owns ``segments`` (custom rule, no DP), which it may fill as it likes.

Dataset D (``base_tables``) holds ordinary users plus planted adversarial ones:

- ``whale``: the largest contribution (400 purchases of 1e6 and 20 visits of 1e5 minutes);
- ``dup``: one purchase row repeated 200 times (identical rows, same order id);
- ``both``: 30 purchases and 30 visits, so a join on ``user_id`` gives 900 rows;
- ``loner``: the only user of region ``solo``.

D' for a target is D with every row of that user removed from the DP tables (the privacy unit
is the user); the querier's own ``segments`` does not change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import sqlglot

from reconciler.dp import BudgetRef, DPBudgetParams, NoiseSource, plan_admission
from reconciler.engine import (
    Collaboration,
    DPRun,
    Prepared,
    Request,
    Result,
    Table,
    check,
    execute,
    parse_policy,
)

QUERIER = "111111111111"
PROVIDER = "222222222222"
USERS = 300
REGIONS = ("north", "south", "east", "west")
SCHEMAS: Mapping[str, Mapping[str, str]] = {
    "purchases": {"user_id": "VARCHAR", "order_id": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE"},
    "visits": {"user_id": "VARCHAR", "page": "VARCHAR", "minutes": "DOUBLE"},
    "segments": {"user_id": "VARCHAR", "seg": "VARCHAR"},
}
DP_TABLES = frozenset({"purchases", "visits"})
TARGETS = ("whale", "dup", "both", "loner")
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

_REGION = "['north', 'south', 'east', 'west'][1 + (u % 4)]"
_TABLES: Mapping[str, str] = {
    # u000..u299 with 1-3 purchases each (amount 0..49), then the planted users.
    "purchases": (
        f"SELECT printf('u%03d', u) AS user_id, printf('o%d-%d', u, k) AS order_id, {_REGION} AS region, "
        f"CAST((u * 37 + k * 11) % 50 AS DOUBLE) AS amount "
        f"FROM range({USERS}) a(u), range(3) b(k) WHERE k <= u % 3 "
        "UNION ALL SELECT 'whale', 'ow' || k, 'north', 1e6 FROM range(400) t(k) "
        "UNION ALL SELECT 'dup', 'od', 'south', 49.0 FROM range(200) t(k) "
        "UNION ALL SELECT 'both', 'ob' || k, 'east', 40.0 FROM range(30) t(k) "
        "UNION ALL SELECT 'loner', 'ol', 'solo', 30.0"
    ),
    # every even user has 1-2 visits; the whale and 'both' visit a lot.
    "visits": (
        "SELECT printf('u%03d', u) AS user_id, 'p' || (u % 5) AS page, CAST(u % 20 AS DOUBLE) AS minutes "
        f"FROM range(0, {USERS}, 2) a(u), range(2) b(k) WHERE k <= u % 4 / 2 "
        "UNION ALL SELECT 'whale', 'p0', 1e5 FROM range(20) "
        "UNION ALL SELECT 'both', 'p1', 15.0 FROM range(30) "
        "UNION ALL SELECT 'dup', 'p2', 5.0 FROM range(50)"
    ),
    # the querier's own table: every user in a segment, and each target's key 40 times.
    "segments": (
        f"SELECT printf('u%03d', u) AS user_id, ['a', 'b'][1 + u % 2] AS seg FROM range({USERS}) t(u) "
        "UNION ALL SELECT name, 'a' FROM (VALUES ('whale'), ('dup'), ('both'), ('loner')) v(name), range(40)"
    ),
}


def write_datasets(directory: Path) -> dict[str | None, dict[str, str]]:
    """Parquet files for D (key None) and for D minus each target: dataset -> table -> path."""
    out: dict[str | None, dict[str, str]] = {}
    with duckdb.connect() as con:
        for name, select in _TABLES.items():
            con.execute(f"CREATE TABLE {name} AS {select}")
        for target in (None, *TARGETS):
            paths = {}
            for name in _TABLES:
                path = directory / f"{target or 'D'}-{name}.parquet"
                where = f" WHERE user_id <> '{target}'" if target and name in DP_TABLES else ""
                con.execute(f"COPY (SELECT * FROM {name}{where}) TO '{path}' (FORMAT parquet)")
                paths[name] = str(path)
            out[target] = paths
    return out


def collaboration(paths: Mapping[str, str] | None = None, engine: str = "SPARK") -> Collaboration:
    """The collaboration over these data files (no files: for checks that must not read data)."""
    tables = {}
    for name, columns in SCHEMAS.items():
        custom: dict[str, Any] = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [QUERIER]}
        if name in DP_TABLES:
            custom["differentialPrivacy"] = {"columns": [{"name": "user_id"}]}
        tables[name] = Table(
            name=name,
            owner=PROVIDER if name in DP_TABLES else QUERIER,
            columns=dict(columns),
            rule=parse_policy({"v1": {"custom": custom}}, columns=list(columns)),
            data=(paths or {}).get(name, f"/nonexistent/never-read/{name}.parquet"),
        )
    abilities = {QUERIER: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"}), PROVIDER: frozenset()}
    return Collaboration(engine, abilities, tables)


def prepare(sql: str, paths: Mapping[str, str] | None = None) -> Prepared:
    """``check`` the query as the querier (raises ``QueryRejected`` before any data is read)."""
    return check(Request(querier=QUERIER, sql=sql, receivers=[QUERIER]), collaboration(paths))


def exact(sql: str, paths: Mapping[str, str]) -> list[tuple[Any, ...]]:
    """The query's exact answer in plain DuckDB (no engine, no noise): what the attacker knows of D, D'."""
    with duckdb.connect() as con:
        for name, path in paths.items():
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        return con.execute(sqlglot.transpile(sql, read="spark", write="duckdb")[0]).fetchall()


def charged(prepared: Prepared, users_noise: int, kinds: Sequence[Any] | None = None) -> Fraction:
    """The epsilon the accountant debits for this query (or for ``kinds``, a part of its aggregates)."""
    assert prepared.dp is not None, "not a differentially private query"
    budget = BudgetRef("dp-budget", DPBudgetParams(20, users_noise))
    (debit,) = plan_admission("audit", tuple(prepared.dp.kinds if kinds is None else kinds), [budget], NOW)
    return debit.epsilon


def run_many(prepared: Prepared, users_noise: int, seeds: Sequence[int], label: str) -> list[Result]:
    """Answer the query once per seed (distinct query ids), on two threads (DuckDB releases the GIL)."""

    def one(seed: int) -> Result:
        return execute(prepared, DPRun(users_noise, f"{label}-{seed}", NoiseSource.seeded(seed)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, seeds))


# ---------------------------------------------------------------- binomial bounds


def _log_binom_cdf(k: int, n: int, p: float) -> float:
    """log P(X <= k), X ~ Binomial(n, p) (log-sum-exp over the terms; exact enough for n <= 10**4)."""
    if p <= 0:
        return 0.0
    if p >= 1:
        return 0.0 if k >= n else -math.inf
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
        for i in range(k + 1)
    ]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """One-sided (1 - alpha) Clopper-Pearson bounds (lower, upper) on p after k successes in n trials."""

    def solve(predicate: Callable[[float], bool]) -> float:  # smallest p in [0, 1] with predicate true
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if predicate(mid) else (mid, hi)
        return hi

    log_alpha = math.log(alpha)
    # upper: the p at which P(X <= k) falls to alpha; lower: the p at which P(X >= k) rises to alpha.
    upper = 1.0 if k == n else solve(lambda p: _log_binom_cdf(k, n, p) <= log_alpha)
    lower = 0.0 if k == 0 else solve(lambda p: _log_binom_cdf(k - 1, n, p) < math.log1p(-alpha))
    return lower, upper


# ---------------------------------------------------------------- the attacker


@dataclass(frozen=True)
class Audit:
    """What the best threshold test found on the held-out runs, and whether it breaks the bound.

    The attacker says "the first dataset" when ``stat <= threshold`` (or ``>=``). ``hits`` counts
    that answer on the first dataset's held-out runs and ``false_hits`` on the second's.
    """

    stat: str
    threshold: float
    direction: str
    first: str  # which dataset the test claims: "D" or "D'"
    hits: int
    false_hits: int
    runs: int
    epsilon: float
    alpha: float

    @property
    def lower_hit_rate(self) -> float:
        return clopper_pearson(self.hits, self.runs, self.alpha)[0]

    @property
    def upper_false_rate(self) -> float:
        return clopper_pearson(self.false_hits, self.runs, self.alpha)[1]

    @property
    def within_bound(self) -> bool:
        """P[says X | X] <= e^eps * P[says X | Y], tested with a binomial bound on each side."""
        return self.lower_hit_rate <= math.exp(self.epsilon) * self.upper_false_rate

    @property
    def advantage(self) -> float:
        """ln(P[says X | X] / P[says X | Y]) on the held-out runs (point estimate, +0.5 smoothing)."""
        return math.log((self.hits + 0.5) / (self.false_hits + 0.5))

    @property
    def advantage_lower(self) -> float:
        """A lower confidence bound on that log ratio (infinite when the false rate bound is 0)."""
        low, high = self.lower_hit_rate, self.upper_false_rate
        return math.inf if high == 0 else (math.log(low / high) if low > 0 else -math.inf)

    def describe(self) -> str:
        return (
            f"test {self.stat} {self.direction} {self.threshold:g} says {self.first}: "
            f"{self.hits}/{self.runs} on {self.first}, {self.false_hits}/{self.runs} on the other; "
            f"ln-ratio {self.advantage:.3f} (lower bound {self.advantage_lower:.3f}) "
            f"vs epsilon {self.epsilon:.4f}"
        )


def _count(values: Sequence[float], threshold: float, direction: str) -> int:
    return sum((v <= threshold) if direction == "<=" else (v >= threshold) for v in values)


def _rate(values: Sequence[float], threshold: float, direction: str) -> float:
    return _count(values, threshold, direction) / len(values)


def best_threshold_test(
    on_d: Mapping[str, Sequence[float]],
    on_d2: Mapping[str, Sequence[float]],
    epsilons: Mapping[str, float],
    calibration: int,
    alpha: float = 1e-3,
) -> Audit:
    """Choose the attacker's threshold test on the first ``calibration`` runs, judge it on the rest.

    Candidates: every statistic, every threshold among the calibration values (and the midpoint
    of the two sides' medians), both directions, claiming either dataset. The pick maximises
    ``P[says X | X] - e^eps * P[says X | Y]`` on the calibration runs (the violation margin the
    assertion tests); the held-out runs then give an unbiased judgement of that one test.
    """
    best: tuple[float, str, float, str, str] | None = None
    for stat, eps in epsilons.items():
        bound = math.exp(eps)
        cal = {"D": list(on_d[stat][:calibration]), "D'": list(on_d2[stat][:calibration])}
        finite = sorted({v for vs in cal.values() for v in vs if math.isfinite(v)})
        medians = [sorted(vs)[len(vs) // 2] for vs in cal.values()]
        # the midpoint first, so that it wins ties (it is the attacker's natural pick)
        candidates = [sum(medians) / 2 if all(map(math.isfinite, medians)) else 0.0, *finite]
        if any(not math.isfinite(v) for vs in cal.values() for v in vs):
            candidates.append(-math.inf)
        for threshold in candidates:
            for direction in ("<=", ">="):
                for first, second in (("D", "D'"), ("D'", "D")):
                    margin = _rate(cal[first], threshold, direction) - bound * _rate(
                        cal[second], threshold, direction
                    )
                    if best is None or margin > best[0]:
                        best = (margin, stat, threshold, direction, first)
    assert best is not None
    _, stat, threshold, direction, first = best
    held = {"D": list(on_d[stat][calibration:]), "D'": list(on_d2[stat][calibration:])}
    second = "D'" if first == "D" else "D"
    runs = len(held[first])
    assert runs == len(held[second]) and runs > 0
    hits = _count(held[first], threshold, direction)
    false_hits = _count(held[second], threshold, direction)
    return Audit(stat, threshold, direction, first, hits, false_hits, runs, epsilons[stat], alpha)
