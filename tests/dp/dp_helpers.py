"""Shared helpers for the DP tests: small DuckDB tables and exact discrete Laplace facts."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb

from reconciler.dp import DPQuery, DPResult, NoiseSource, execute
from reconciler.engine import Collaboration, Request, Table, check, parse_policy
from reconciler.engine.templates import Parameter, Template, request_for

UTC_JAN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
QUERIER = "111111111111"


def connect(**tables: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with each ``name=SELECT ...`` materialised as a table."""
    con = duckdb.connect()
    for name, select in tables.items():
        con.execute(f"CREATE TABLE {name} AS {select}")
    return con


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    seed: int | None,
    *,
    noise: int = 30,
    dp_tables: dict[str, str] | None = None,
    query_id: str = "q",
    parameters: dict[str, str] | None = None,
) -> DPResult:
    """Run ``sql`` (Spark SQL; ``:name`` parameters from ``parameters``) as a DP query, seeded unless None."""
    source = NoiseSource.secure() if seed is None else NoiseSource.seeded(seed)
    query = analyze(con, sql, dp_tables, parameters)
    return execute(con, query, users_noise=noise, noise=source, query_id=query_id)


def analyze(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    dp_tables: dict[str, str] | None = None,
    parameters: dict[str, str] | None = None,
) -> DPQuery:
    """The engine's DPQuery for ``sql`` over the connection's tables (raises QueryRejected)."""
    schema = tuple(
        (table, tuple(con.execute(f'DESCRIBE "{table}"').fetchall()))
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()
    )
    dp = tuple(sorted((dp_tables or {"purchases": "user_id"}).items()))
    return _analyzed(sql, schema, dp, tuple(sorted((parameters or {}).items())))


@functools.cache
def _analyzed(
    sql: str,
    schema: tuple[tuple[str, tuple[tuple[object, ...], ...]], ...],
    dp_tables: tuple[tuple[str, str], ...],
    parameters: tuple[tuple[str, str], ...],
) -> DPQuery:
    """Check once per SQL text and schema (the statistical tests run one query many times)."""
    users = dict(dp_tables)
    tables = {}
    for name, columns in schema:
        custom: dict[str, object] = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [QUERIER]}
        if name in users:
            custom["differentialPrivacy"] = {"columns": [{"name": users[name]}]}
        names = {str(c[0]).lower(): str(c[1]) for c in columns}
        tables[name] = Table(name, QUERIER, names, parse_policy({"custom": custom}, columns=list(names)))
    collaboration = Collaboration("SPARK", {QUERIER: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"})}, tables)
    if parameters:
        template = Template("t", sql, [Parameter(k, "STRING") for k, _ in parameters], "arn:t", QUERIER)
        request = request_for(template, QUERIER, dict(parameters))
        tables = {n: t for n, t in tables.items()}
        collaboration = Collaboration(
            "SPARK",
            collaboration.abilities,
            {
                n: Table(
                    n,
                    QUERIER,
                    t.columns,
                    parse_policy(
                        {"custom": {**_custom(n, users), "allowedAnalyses": ["arn:t"]}},
                        columns=list(t.columns),
                    ),
                )
                for n, t in tables.items()
            },
        )
    else:
        request = Request(QUERIER, sql)
    prepared = check(request, collaboration)
    assert prepared.dp is not None, "not a DP query"
    return prepared.dp


def _custom(name: str, users: dict[str, str]) -> dict[str, object]:
    custom: dict[str, object] = {"allowedAnalysisProviders": [QUERIER]}
    if name in users:
        custom["differentialPrivacy"] = {"columns": [{"name": users[name]}]}
    return custom


def dlap_variance(scale: float) -> float:
    """Variance of discrete Laplace with this scale: 2a / (1 - a)^2, a = exp(-1/scale)."""
    a = math.exp(-1 / scale)
    return 2 * a / (1 - a) ** 2


def dlap_within(k: float, scale: float) -> float:
    """P(|Y| <= k) for discrete Laplace with this scale."""
    a = math.exp(-1 / scale)
    return 1 - 2 * a ** (math.floor(k) + 1) / (1 + a)


def mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def chi_square_z(observed: Sequence[int], expected: Sequence[float]) -> float:
    """Wilson-Hilferty z-score of a chi-square statistic (z > 3.09 means p < 0.001); no scipy needed."""
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    k = len(observed) - 1
    return ((stat / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
