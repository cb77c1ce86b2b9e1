"""Benchmark the local protected-query engine.

1. End to end: a two-table join and aggregate over 10 million generated rows (8M purchases,
   2M impressions, Parquet written by DuckDB into a temp dir), run through the engine (rule
   check, sealed DuckDB connection, threshold suppression in the statement) versus the same SQL
   run directly on DuckDB over the same files, in the same process.
   Target: ratio <= 1.0 (the Spark-semantics layer may not cost time).
2. Rule check: a 50-line query checked against custom rules with thresholds and comparison
   controls, cold (new text each time, so nothing is cached) and warm. Target: <= 10 ms (issue 18).

Run: ``python3 bench/bench_query.py [--rows 10000000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.engine import Collaboration, Request, Table, check, execute, parse_policy  # noqa: E402

QUERIER, PARTNER = "111111111111", "222222222222"
JOIN_SQL = (
    "SELECT i.channel, p.region, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue "
    "FROM purchases p JOIN impressions i ON p.user_id = i.user_id GROUP BY i.channel, p.region"
)


def _policy(literal: list[str]) -> dict[str, object]:
    return {
        "custom": {
            "allowedAnalyses": ["ANY_QUERY"],
            "allowedAnalysisProviders": [QUERIER],
            "aggregationThresholds": [
                {
                    "identityColumns": ["user_id"],
                    "minimumIdentityCount": 25,
                    "type": "COUNT_DISTINCT",
                    "allowedAggregateExpressionType": "ANY_EXPRESSION",
                }
            ],
            "comparisonControls": {
                "allowedLiteralComparisonColumns": literal,
                "allowedColumnComparisonColumns": ["user_id"],
            },
        }
    }


def generate(directory: Path, rows: int) -> tuple[Path, Path]:
    """Write purchases (80% of rows) and impressions (20%) as Parquet with DuckDB."""
    purchases, impressions = directory / "purchases.parquet", directory / "impressions.parquet"
    people = max(rows // 10, 1000)
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT 'u' || (hash(i) % {people}) AS user_id, 'r' || (i % 7) AS region, "
            f"(i % 1000) / 10.0 AS amount, DATE '2024-01-01' + CAST(i % 365 AS INTEGER) AS day "
            f"FROM range({rows * 8 // 10}) t(i)) TO '{purchases}' (FORMAT parquet)"
        )
        con.execute(
            f"COPY (SELECT 'u' || (hash(i + 7) % {people}) AS user_id, 'c' || (i % 5) AS channel "
            f"FROM range({rows * 2 // 10}) t(i)) TO '{impressions}' (FORMAT parquet)"
        )
    return purchases, impressions


def collaboration(purchases: Path, impressions: Path) -> Collaboration:
    p_cols = {"user_id": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE", "day": "DATE"}
    i_cols = {"user_id": "VARCHAR", "channel": "VARCHAR"}
    tables = {
        "purchases": Table(
            "purchases", QUERIER, p_cols, parse_policy(_policy(["region", "day"])), data=str(purchases)
        ),
        "impressions": Table(
            "impressions", PARTNER, i_cols, parse_policy(_policy(["channel"])), data=str(impressions)
        ),
    }
    return Collaboration("SPARK", {QUERIER: frozenset({"CAN_QUERY"}), PARTNER: frozenset()}, tables)


def raw(purchases: Path, impressions: Path) -> list[tuple[object, ...]]:
    """The same SQL straight on DuckDB over the same files (views, no checks, no suppression)."""
    with duckdb.connect() as con:
        con.execute(f"CREATE VIEW purchases AS SELECT * FROM read_parquet('{purchases}')")
        con.execute(f"CREATE VIEW impressions AS SELECT * FROM read_parquet('{impressions}')")
        return con.execute(JOIN_SQL).fetchall()


def timed(fn: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return times


FIFTY_LINES = """-- campaign overlap report {n}
WITH buyers AS (
    SELECT p.user_id,
           p.region,
           SUM(p.amount) AS spend,
           COUNT(*) AS orders
    FROM purchases p
    WHERE p.day >= DATE '2024-03-01'
      AND p.day < DATE '2024-06-01'
      AND p.region IN ('r1', 'r2', 'r3')
    GROUP BY p.user_id, p.region
),
exposed AS (
    SELECT i.user_id,
           i.channel
    FROM impressions i
    WHERE i.channel <> 'c4'
),
joined AS (
    SELECT b.user_id,
           b.region,
           e.channel,
           b.spend,
           b.orders
    FROM buyers b
    JOIN exposed e
      ON b.user_id = e.user_id
),
ranked AS (
    SELECT region,
           channel,
           spend,
           orders,
           user_id
    FROM joined
)
SELECT r.channel,
       r.region,
       COUNT(*) AS people,
       SUM(r.orders) AS orders,
       AVG(r.spend) AS avg_spend,
       MAX(r.spend) AS top_spend,
       ROUND(SUM(r.spend), 2) AS total_spend
FROM ranked r
WHERE r.region <> 'r0'
GROUP BY r.channel,
         r.region
ORDER BY r.channel,
         r.region
LIMIT 100"""


def bench_check(collab: Collaboration, repeat: int) -> tuple[float, float, float]:
    """Median ms of the check, cold (new text each time) and warm, and the cold one's median CPU ms
    (this process's CPU time: on a loaded machine the steadier figure)."""
    lines = FIFTY_LINES.format(n=0).count("\n") + 1
    assert lines >= 50, lines
    cold, cold_cpu = [], []
    for n in range(repeat):
        request = Request(QUERIER, FIFTY_LINES.format(n=f"{n}-{time.time_ns()}"))
        start, start_cpu = time.perf_counter(), time.process_time()
        check(request, collab)
        cold.append(time.perf_counter() - start)
        cold_cpu.append(time.process_time() - start_cpu)
    warm_request = Request(QUERIER, FIFTY_LINES.format(n="warm"))
    check(warm_request, collab)
    warm = timed(lambda: check(warm_request, collab), repeat)
    return statistics.median(cold) * 1000, statistics.median(warm) * 1000, statistics.median(cold_cpu) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # The raw side runs without a memory limit; the engine's default (1 GB, a safety bound for a
    # laptop) is too small for 10M joined rows on DuckDB 2.0, so the comparison gives it 4 GB.
    os.environ.setdefault("RECONCILER_QUERY_MEMORY", "4GB")
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        start = time.perf_counter()
        purchases, impressions = generate(Path(tmp), args.rows)
        print(f"generated {args.rows:,} rows of Parquet in {time.perf_counter() - start:.1f} s")
        collab = collaboration(purchases, impressions)
        request = Request(QUERIER, JOIN_SQL)
        engine_rows = execute(check(request, collab)).rows
        raw_rows = raw(purchases, impressions)
        print(f"groups: raw {len(raw_rows)}, engine {len(engine_rows)} (groups under 25 people suppressed)")
        raw_times, engine_times = [], []
        for _ in range(args.repeat):  # interleave so both see the same machine load
            raw_times += timed(lambda: raw(purchases, impressions), 1)
            engine_times += timed(lambda: execute(check(request, collab)), 1)
        raw_s, engine_s = statistics.median(raw_times), statistics.median(engine_times)
        ratio = engine_s / raw_s
        print(f"join+aggregate, raw DuckDB:   {raw_s * 1000:8.1f} ms (median of {args.repeat})")
        print(f"join+aggregate, engine:       {engine_s * 1000:8.1f} ms (median of {args.repeat})")
        verdict = "OK" if ratio <= 1.0 else "OVER"
        print(f"ratio engine/raw:             {ratio:8.3f}  (target <= 1.0) {verdict}")
        cold, warm, cold_cpu = bench_check(collab, max(args.repeat, 20))
        print(
            f"rule check, 50-line query:    {cold:8.2f} ms cold ({cold_cpu:.2f} ms CPU), {warm:.2f} ms warm"
            f" (target <= 10 ms) {'OK' if cold <= 10 else 'OVER'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
