"""Differentially private answers to a validated SQL query over DP tables (DIFFERENTIAL_PRIVACY.md 2.2).

Two steps, so that refusals never touch data or budget:

1. ``reconciler.engine.dp_query`` checks the query's shape on the binder's facts (refusing SQL
   that DP cannot answer, before any data is read) and builds a ``DPQuery``: the final SELECT's
   distinct aggregates (what the budget is charged for), its group keys, the user-identifier
   column after all joins, and the final SELECT rewritten to read noisy values.
2. ``execute(con, query, ...)`` runs on the caller's DuckDB connection: it builds user-level
   rows after every join, samples each user down to the user contribution limit (UCL) in a
   secret hash order, chooses UCL and clamping bounds privately (``bounds.py``), sums exact
   fixed-point integers per group, adds discrete Laplace noise per group and release, and only
   then applies the query's own math, HAVING, ORDER BY and LIMIT to the noisy values.

All SQL this package generates lives here. Budget admission is ``accountant.py``'s job: call it
between the two steps with ``DPQuery.kinds``.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from reconciler.dp.bounds import (
    UCL_LADDER,
    VALUE_LADDER_EXPONENTS,
    is_unsigned,
    select_rung,
    value_candidates,
)
from reconciler.dp.calibrate import RELEASES, AggregateType, epsilon_unit, unit_scale
from reconciler.dp.noise import NoiseSource

if TYPE_CHECKING:  # DuckDB is imported by whoever opens the connection, not by the check
    import duckdb

__all__ = ["Cell", "DPAggregate", "DPQuery", "DPResult", "execute"]

#: Fixed-point precision: each clamped value keeps this many bits below its bound's magnitude.
FIXED_POINT_BITS = 20

#: Probability that a group with one user is released anyway (the delta of partition selection).
SELECTION_DELTA = 1e-6

#: Aggregates released as integers (BIGINT); the others are DOUBLE.
_COUNTS = frozenset({AggregateType.COUNT, AggregateType.COUNT_DISTINCT})
#: Aggregates whose releases include a noisy count (what the group selection reuses).
_COUNTED = frozenset(
    {AggregateType.COUNT, AggregateType.COUNT_DISTINCT, AggregateType.AVG, AggregateType.STDDEV}
)
#: How many exact statistics the aggregation query returns per aggregate (count, sum, sum of squares).
_WIDTH: Mapping[AggregateType, int] = {
    AggregateType.COUNT: 1,
    AggregateType.COUNT_DISTINCT: 1,
    AggregateType.SUM: 2,
    AggregateType.AVG: 2,
    AggregateType.STDDEV: 3,
}

_SIMPLE_AGGREGATES: Mapping[type[exp.Expr], AggregateType] = {
    exp.Sum: AggregateType.SUM,
    exp.Avg: AggregateType.AVG,
    exp.Stddev: AggregateType.STDDEV,
    exp.StddevSamp: AggregateType.STDDEV,
}


@dataclass(frozen=True)
class DPAggregate:
    """One distinct aggregate expression of the final SELECT (charged once, however often used)."""

    index: int
    kind: AggregateType
    expression: str
    argument: exp.Expr | None  # None for COUNT(*) and COUNT(DISTINCT user)
    distinct: bool = False  # COUNT(DISTINCT x) with x not the user identifier
    on_user: bool = False  # COUNT(DISTINCT user identifier)


@dataclass(frozen=True)
class DPQuery:
    """What ``analyze`` found: enough to charge the budget and to ``execute`` (no data read yet)."""

    ctes: tuple[exp.CTE, ...]
    rows: exp.Select  # the final SELECT's FROM/JOIN/WHERE with user-level outputs
    group_keys: tuple[exp.Expr, ...]
    aggregates: tuple[DPAggregate, ...]
    post: exp.Select  # the final SELECT over __dp_out (noisy values and group keys)

    @property
    def selects_groups(self) -> bool:
        """A grouped query releases only the groups whose noisy count clears a threshold.

        Group keys come from the data, so releasing every group present would tell whether one
        user, alone in a group, is there. A group is released only when its noisy distinct-user
        count (each user counted in one group, so sensitivity 1 whatever the contribution limit)
        reaches the level a one-user group reaches with probability at most ``SELECTION_DELTA``:
        the (epsilon, delta) partition selection of Wilson et al., "Differentially Private SQL
        with Bounded User Contribution" (2020). The query's own COUNT(DISTINCT user) is reused;
        without one, the selection's count is one more COUNT_DISTINCT to pay. AWS documents no
        handling of small groups; this is the safer answer.
        """
        return bool(self.group_keys)

    @property
    def own_selection(self) -> bool:
        """The group selection needs a release of its own (the query counts no distinct users)."""
        return self.selects_groups and not any(a.on_user for a in self.aggregates)

    @property
    def kinds(self) -> tuple[AggregateType, ...]:
        """One aggregate type per distinct aggregate (plus the selection's own count when it needs
        one): what admission charges."""
        own = tuple(a.kind for a in self.aggregates)
        return (*own, AggregateType.COUNT_DISTINCT) if self.own_selection else own


@dataclass(frozen=True)
class Cell:
    """Test-only audit of one noisy release: never exposed through the emulator's API."""

    group_key: tuple[Any, ...]
    aggregate_index: int
    release: str
    true_value: int
    noise: int
    scale: Fraction


@dataclass(frozen=True)
class DPResult:
    """Noisy result rows plus what AWS reports in ``protectedQuery.differentialPrivacy``."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    sensitivity_parameters: tuple[dict[str, Any], ...]
    private: bool  # False when the noise came from a seed (dry runs, tests)
    audit: tuple[Cell, ...] = field(default=(), repr=False)
    types: tuple[str, ...] = ()  # DuckDB type names of ``columns``

    def to_api(self) -> dict[str, Any]:
        """The API's ``DifferentialPrivacyParameters``."""
        return {"sensitivityParameters": [dict(p) for p in self.sensitivity_parameters]}


# ---------------------------------------------------------------- execution

#: Distinct users of a group, each user counted in the one group of its first sampled row, so that
#: one user moves one count by at most 1 (sensitivity 1 across all groups).
_USERS = "count(DISTINCT __dp_uid) FILTER (WHERE __dp_rn <= 1)"


@dataclass
class _Plan:
    """Per-aggregate choices made during execution (UCL, bounds, fixed-point shift)."""

    ucl: int = 1
    low: Fraction = Fraction(0)
    high: Fraction = Fraction(0)
    shift: int = 0  # values are stored as round(x * 2**shift)

    @property
    def magnitude_units(self) -> int:
        """max(|low|, |high|) in fixed-point units (a power of two, or 0)."""
        return int(max(-self.low, self.high) * Fraction(2) ** self.shift)


#: The UCL candidates for ``select_rung``: (rung, log2 of the UCL).
_UCL_CANDIDATES = tuple((i, i) for i in range(len(UCL_LADDER)))


def _ladder_value(index: int) -> Fraction:
    return Fraction(0) if index == 0 else Fraction(2) ** VALUE_LADDER_EXPONENTS[index - 1]


def _ladder_exponent(index: int) -> int:
    """log2 of a VALUE rung for the selection's prior (magnitude 0 counts as one rung below the ladder)."""
    return VALUE_LADDER_EXPONENTS[0] - 1 if index == 0 else VALUE_LADDER_EXPONENTS[index - 1]


def _rung_sql(value: str) -> str:
    """SQL: the VALUE ladder index of a non-negative DOUBLE (0 for 0, else the smallest 2**k >= v)."""
    lo, hi = VALUE_LADDER_EXPONENTS[0], VALUE_LADDER_EXPONENTS[-1]
    e = f"ceil(log2({value}))"
    exact = (
        f"(CASE WHEN {value} > pow(2, {e}) THEN {e} + 1 "
        f"WHEN {value} <= pow(2, {e} - 1) THEN {e} - 1 ELSE {e} END)"
    )
    return (
        f"(CASE WHEN {value} <= 0 THEN 0 WHEN {value} <= pow(2, {lo}) THEN 1 "
        f"WHEN {value} > pow(2, {hi}) THEN {hi - lo + 1} ELSE CAST({exact} AS INTEGER) - ({lo}) + 1 END)"
    )


class _Runner:
    """One execution of a DPQuery: the SQL it sends and the noise it draws."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        query: DPQuery,
        users_noise: int,
        noise: NoiseSource,
        query_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.con, self.query, self.noise, self.query_id = con, query, noise, query_id
        self.parameters = dict(parameters or {})
        self.unit_scale = unit_scale(users_noise)
        self.epsilon_unit = epsilon_unit(users_noise)
        self.audit: list[Cell] = []
        token = noise.token(query_id, "sample")
        keys = ", ".join(
            ["__dp_uid"]
            + [f"__dp_g{j}" for j in range(len(query.group_keys))]
            + [f"__dp_a{a.index}" for a in query.aggregates if a.argument is not None]
        )
        ctes = [c.sql(dialect="duckdb") for c in query.ctes]
        ctes.append(f"__dp_rows AS ({query.rows.sql(dialect='duckdb')})")
        ctes.append(
            "__dp_ranked AS (SELECT *, row_number() OVER (PARTITION BY __dp_uid ORDER BY "
            f"md5('{token}' || CAST(row({keys}) AS VARCHAR))) AS __dp_rn FROM __dp_rows)"
        )
        self.source = "WITH " + ", ".join(ctes)
        self.table = f"__dp_ranked_{secrets.token_hex(8)}"
        self.with_ = f"WITH __dp_ranked AS (FROM {self.table}), __dp_rows AS (FROM {self.table})"

    def sql(self, statement: str) -> duckdb.DuckDBPyConnection:
        """Run one statement; bound parameters go only to statements that contain the user's SQL."""
        uses_query = self.parameters and self.source in statement
        return self.con.execute(statement, self.parameters if uses_query else None)

    def fetch(self, select: str) -> list[tuple[Any, ...]]:
        return self.sql(f"{self.with_} {select}").fetchall()

    def column_type(self, index: int) -> str:
        """The DuckDB type of an aggregate's argument (schema, not data: no row is read)."""
        description = self.sql(f"{self.with_} SELECT __dp_a{index} FROM __dp_ranked LIMIT 0").description
        return str(description[0][1]) if description else "DOUBLE"

    def choose_ucls(self, plans: dict[int, _Plan]) -> None:
        needing = [a for a in self.query.aggregates if "ucl" in RELEASES[a.kind]]
        if not needing:
            return
        histogram: dict[int, int] = {}
        for per_user, users in self.fetch(
            "SELECT n, count(*) FROM (SELECT count(*) AS n FROM __dp_rows GROUP BY __dp_uid) GROUP BY n"
        ):
            rung = next((i for i, c in enumerate(UCL_LADDER) if per_user <= c), len(UCL_LADDER) - 1)
            histogram[rung] = histogram.get(rung, 0) + users
        for a in needing:
            rng = self.noise.rng(self.query_id, a.index, None, "ucl")
            rung = select_rung(histogram, _UCL_CANDIDATES, self.epsilon_unit, rng)
            plans[a.index].ucl = UCL_LADDER[rung]

    def choose_bounds(self, plans: dict[int, _Plan]) -> None:
        """Pick a magnitude M per aggregate from each user's largest |value|; clamp to [-M, M].

        One symmetric selection spends the whole unit, so it is sharper than two one-sided ones
        and never reveals whether negative values exist. Unsigned integer columns (their type
        says so; no data is read) clamp to [0, M]. The ladder's ends come from the type.
        """
        needing = [a for a in self.query.aggregates if "bounds" in RELEASES[a.kind]]
        if not needing:
            return
        shared: dict[tuple[str, int], int] = {}  # (argument, UCL) -> the aggregate whose histogram it is
        for a in needing:
            assert a.argument is not None
            shared.setdefault((a.argument.sql(), plans[a.index].ucl), a.index)
        parts = []
        for index in shared.values():
            per_user = (
                f"SELECT max(abs(CAST(__dp_a{index} AS DOUBLE))) AS m FROM __dp_ranked "
                f"WHERE __dp_rn <= {plans[index].ucl} AND __dp_a{index} IS NOT NULL GROUP BY __dp_uid"
            )
            parts.append(
                f"SELECT {index} AS agg, {_rung_sql('m')} AS rung, count(*) AS n "
                f"FROM ({per_user}) GROUP BY ALL"
            )
        by_index: dict[int, dict[int, int]] = {}
        for index, rung, n in self.fetch(" UNION ALL ".join(parts)):
            by_index.setdefault(int(index), {})[int(rung)] = int(n)
        histograms = {
            a.index: by_index.get(shared[(a.argument.sql(), plans[a.index].ucl)], {})
            for a in needing
            if a.argument is not None
        }
        for a in needing:
            plan = plans[a.index]
            column_type = self.column_type(a.index)
            candidates = [(i, _ladder_exponent(i)) for i in value_candidates(column_type)]
            rng = self.noise.rng(self.query_id, a.index, None, "bounds")
            rung = select_rung(histograms.get(a.index, {}), candidates, self.epsilon_unit, rng)
            magnitude = _ladder_value(rung)
            plan.high, plan.low = magnitude, Fraction(0) if is_unsigned(column_type) else -magnitude
            if magnitude > 0:
                exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
                plan.shift = FIXED_POINT_BITS - exponent

    def aggregate_sql(self, plans: dict[int, _Plan]) -> str:
        columns = []
        for a in self.query.aggregates:
            plan = plans[a.index]
            arg = f"__dp_a{a.index}"
            where = f"FILTER (WHERE __dp_rn <= {plan.ucl}" + (
                f" AND {arg} IS NOT NULL)" if a.argument is not None else ")"
            )
            if a.on_user:
                columns.append(_USERS)
            elif a.kind == AggregateType.COUNT:
                columns.append(
                    f"count({'DISTINCT ' if a.distinct else ''}"
                    f"{arg if a.argument is not None else '*'}) {where}"
                )
            else:
                fixed = (
                    f"CAST(CAST(round(least(greatest(CAST({arg} AS DOUBLE), {float(plan.low)!r}), "
                    f"{float(plan.high)!r})"
                    f" * pow(2, {plan.shift})) AS BIGINT) AS HUGEINT)"
                )
                columns += [f"count({arg}) {where}", f"coalesce(sum({fixed}) {where}, 0)"]
                if a.kind == AggregateType.STDDEV:
                    columns.append(f"coalesce(sum({fixed} * {fixed}) {where}, 0)")
        if self.query.own_selection:
            columns.append(_USERS)  # the selection's count: each user counted in one group
        keys = [f"__dp_g{j}" for j in range(len(self.query.group_keys))]
        if not keys:
            return f"SELECT 1 AS __dp_gid, {', '.join(columns)} FROM __dp_ranked"
        listed = ", ".join(keys)
        return (
            f"SELECT row_number() OVER (ORDER BY {listed}) AS __dp_gid, {listed}, {', '.join(columns)} "
            f"FROM __dp_ranked GROUP BY {listed}"
        )

    def noisy(self, index: int, group: tuple[Any, ...], release: str, true: int, sensitivity: int) -> int:
        scale = self.unit_scale * sensitivity
        noise = self.noise.discrete_laplace(
            scale, query_id=self.query_id, aggregate_index=index, group_key=list(group), purpose=release
        )
        self.audit.append(Cell(group, index, release, int(true), noise, scale))
        return int(true) + noise

    def release(self, a: DPAggregate, plan: _Plan, group: tuple[Any, ...], values: list[int]) -> Fraction:
        """Noisy value of one aggregate in one group, from its exact integer statistics."""
        if a.kind in _COUNTS:
            return Fraction(self.noisy(a.index, group, "count", values[0], 1 if a.on_user else plan.ucl))
        m = plan.magnitude_units
        count = self.noisy(a.index, group, "count", values[0], plan.ucl) if a.kind != AggregateType.SUM else 0
        total = (
            Fraction(self.noisy(a.index, group, "sum", values[1], plan.ucl * m)) / Fraction(2) ** plan.shift
        )
        if a.kind == AggregateType.SUM:
            return total
        n = max(count, 1)
        if a.kind == AggregateType.AVG:
            return min(max(total / n, plan.low), plan.high)
        squares = (
            Fraction(self.noisy(a.index, group, "sumsq", values[2], plan.ucl * m * m))
            / Fraction(4) ** plan.shift
        )
        n = max(count, 2)
        variance = max(Fraction(0), (squares - total * total / n) / (n - 1))
        return min(variance, (plan.high - plan.low) ** 2)

    def run(self) -> DPResult:
        """Materialise the sampled user-level rows once (a temporary table), release, clean up."""
        if all(a.on_user for a in self.query.aggregates):  # no selection: one pass over the rows
            self.with_ = self.source
            return self._release_all()
        self.sql(f"CREATE TEMP TABLE {self.table} AS {self.source} FROM __dp_ranked")
        try:
            return self._release_all()
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {self.table}")

    def _release_all(self) -> DPResult:
        plans = {a.index: _Plan(ucl=1) for a in self.query.aggregates}
        self.choose_ucls(plans)
        self.choose_bounds(plans)
        nkeys = len(self.query.group_keys)
        noisy_rows = []
        for row in self.fetch(self.aggregate_sql(plans)):
            gid, group, rest = row[0], tuple(row[1 : 1 + nkeys]), list(row[1 + nkeys :])
            group = tuple(_plain(v) for v in group)
            values: list[Any] = [gid]
            users: Fraction | None = None  # the group's noisy distinct-user count (selection)
            for a in self.query.aggregates:
                stats, rest = rest[: _WIDTH[a.kind]], rest[_WIDTH[a.kind] :]
                value = self.release(a, plans[a.index], group, [int(s) for s in stats])
                if a.on_user and users is None:
                    users = value
                if a.kind in _COUNTS:
                    values.append(int(value))
                elif a.kind == AggregateType.STDDEV:
                    values.append(float(value) ** 0.5)
                else:
                    values.append(float(value))
            if self.query.own_selection:
                users = Fraction(self.noisy(-1, group, "users", int(rest[0]), 1))
            if self.query.selects_groups and users is not None and users < self.selection_threshold():
                continue
            noisy_rows.append(values)
        columns, types, rows = self.post_process(noisy_rows)
        return DPResult(
            columns, rows, self.sensitivity(plans), self.noise.is_private, tuple(self.audit), types
        )

    def post_process(
        self, noisy_rows: list[list[Any]]
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[Any, ...], ...]]:
        names = ["__dp_gid"] + [f"__dp_n{a.index}" for a in self.query.aggregates]
        types = ["BIGINT"] + ["BIGINT" if a.kind in _COUNTS else "DOUBLE" for a in self.query.aggregates]
        if noisy_rows:
            literal = ", ".join(
                "(" + ", ".join(f"CAST({v!r} AS {t})" for v, t in zip(r, types, strict=True)) + ")"
                for r in noisy_rows
            )
            noisy = f"__dp_noisy({', '.join(names)}) AS (VALUES {literal})"
        else:
            nulls = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in zip(names, types, strict=True))
            noisy = f"__dp_noisy AS (SELECT {nulls} WHERE false)"
        keys = [f"__dp_g{j}" for j in range(len(self.query.group_keys))]
        groups = (
            f"__dp_groups AS (SELECT row_number() OVER (ORDER BY {', '.join(keys)}) AS __dp_gid, "
            f"{', '.join(keys)} "
            f"FROM __dp_rows GROUP BY {', '.join(keys)})"
            if keys
            else "__dp_groups AS (SELECT 1 AS __dp_gid)"
        )
        out = "__dp_out AS (SELECT * FROM __dp_groups JOIN __dp_noisy USING (__dp_gid))"
        cursor = self.sql(f"{self.with_}, {groups}, {noisy}, {out} {self.query.post.sql(dialect='duckdb')}")
        rows = tuple(tuple(r) for r in cursor.fetchall())
        description = cursor.description or ()
        return tuple(d[0] for d in description), tuple(str(d[1]) for d in description), rows

    def selection_threshold(self) -> int:
        """The noisy distinct-user count a group needs to be released: a group of one user reaches
        it with probability at most ``SELECTION_DELTA`` (discrete Laplace, sensitivity 1)."""
        a = math.exp(-1 / float(self.unit_scale))
        return 1 + math.ceil(math.log(SELECTION_DELTA * (1 + a)) / math.log(a))

    def sensitivity(self, plans: dict[int, _Plan]) -> tuple[dict[str, Any], ...]:
        out = []
        for a in self.query.aggregates:
            plan = plans[a.index]
            entry: dict[str, Any] = {
                "aggregationType": a.kind.value,
                "aggregationExpression": a.expression,
                "userContributionLimit": 1 if a.on_user else plan.ucl,
            }
            if "bounds" in RELEASES[a.kind]:
                entry["minColumnValue"] = float(plan.low)
                entry["maxColumnValue"] = float(plan.high)
            out.append(entry)
        return tuple(out)


def _plain(value: Any) -> Any:
    """A JSON-stable form of a group key value (for seeding and the audit)."""
    return (
        value
        if isinstance(value, int | str | float | bool | type(None))
        else json.loads(json.dumps(value, default=str))
    )


def execute(
    con: duckdb.DuckDBPyConnection,
    query: DPQuery,
    *,
    users_noise: int,
    noise: NoiseSource | None = None,
    query_id: str,
    parameters: Mapping[str, Any] | None = None,
) -> DPResult:
    """Run an analyzed (and already admitted) DP query on ``con`` and return noisy rows.

    Args:
        con: a DuckDB connection where the query's tables resolve as the engine set them up.
        query: what ``analyze`` returned.
        users_noise: the privacy budget template's usersNoisePerQuery.
        noise: the randomness; ``None`` means ``NoiseSource.secure()``.
        query_id: the protected query's id (labels seeded draws).
        parameters: values of the query's ``$name`` placeholders (analysis template parameters
            bound as prepared-statement parameters, as the engine does).

    Returns:
        The noisy ``DPResult``.
    """
    return _Runner(con, query, users_noise, noise or NoiseSource.secure(), query_id, parameters).run()
