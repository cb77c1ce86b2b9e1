"""Shared helpers for the DP tests: small DuckDB tables and exact discrete Laplace facts."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import sqlglot

from reconciler.dp import DPQuery, DPResult, NoiseSource, analyze, execute

UTC_JAN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


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
) -> DPResult:
    """Run ``sql`` as a DP query (seeded unless ``seed`` is None)."""
    source = NoiseSource.secure() if seed is None else NoiseSource.seeded(seed)
    query = _analyzed(sql, tuple(sorted((dp_tables or {"purchases": "user_id"}).items())))
    return execute(con, query, users_noise=noise, noise=source, query_id=query_id)


@functools.cache
def _analyzed(sql: str, dp_tables: tuple[tuple[str, str], ...]) -> DPQuery:
    """Parse and analyze once per SQL text (the statistical tests run one query many times)."""
    return analyze(sqlglot.parse_one(sql, read="duckdb"), dict(dp_tables))


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
