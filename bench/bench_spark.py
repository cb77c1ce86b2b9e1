"""Benchmark ``--engine spark`` (needs the ``spark`` extra and Java 17).

1. Spark session start-up: the first ``session()`` of the process (a JVM, local[*]).
2. The 10M-row join and aggregate of ``bench_query`` (8M purchases, 2M impressions, Parquet)
   through ``--engine spark`` (rule check, the checked and suppression-rewritten statement on a
   sealed child session, rows collected) against the same SQL on raw pyspark over the same
   files, in the same session and run, interleaved. Target: ratio <= 1.2.
3. The default path (DuckDB with Spark semantics) against raw DuckDB on the same SQL, as
   ``bench_query`` measures it. Target: ratio <= 1.0 (as ``bench_query`` reports it today).

The answers are compared as well: the engine's groups must be raw's groups minus those under the
threshold, with the same values, on both engines.

Run: ``python3 bench/bench_spark.py [--rows 10000000] [--repeat 3] [--master local[*]]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_query import JOIN_SQL, QUERIER, collaboration, generate, raw, timed  # noqa: E402

from reconciler.engine import Request, check, execute  # noqa: E402
from reconciler.engine.spark import session  # noqa: E402
from reconciler.engine.spark.session import SparkSettings  # noqa: E402


def raw_spark(spark: Any, purchases: Path, impressions: Path) -> list[tuple[object, ...]]:
    """The same SQL straight on pyspark over the same files (views, no checks, no suppression)."""
    child = spark.newSession()
    child.read.parquet(str(purchases)).createOrReplaceTempView("purchases")
    child.read.parquet(str(impressions)).createOrReplaceTempView("impressions")
    return [tuple(row) for row in child.sql(JOIN_SQL).collect()]


def _groups(rows: Sequence[tuple[object, ...]]) -> dict[tuple[object, ...], tuple[object, ...]]:
    return {
        tuple(row[:2]): tuple(round(v, 6) if isinstance(v, float) else v for v in row[2:]) for row in rows
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default=session.DEFAULT_MASTER)
    args = parser.parse_args()
    start = time.perf_counter()
    spark = session.session(args.master)
    print(f"Spark session start-up ({args.master}): {time.perf_counter() - start:8.1f} s")
    settings = SparkSettings(master=args.master)
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        start = time.perf_counter()
        purchases, impressions = generate(Path(tmp), args.rows)
        print(f"generated {args.rows:,} rows of Parquet in {time.perf_counter() - start:.1f} s")
        collab = collaboration(purchases, impressions)
        request = Request(QUERIER, JOIN_SQL)

        spark_rows = session.execute(check(request, collab), settings).rows  # warms the JVM's code too
        raw_spark_rows = raw_spark(spark, purchases, impressions)
        duck_rows = execute(check(request, collab)).rows
        raw_duck_rows = raw(purchases, impressions)
        kept = _groups(spark_rows)
        same = kept == _groups(duck_rows) and all(_groups(raw_spark_rows)[k] == v for k, v in kept.items())
        print(
            f"groups: raw {len(raw_spark_rows)} (Spark) / {len(raw_duck_rows)} (DuckDB), "
            f"engine {len(spark_rows)} (Spark) / {len(duck_rows)} (DuckDB); "
            f"answers {'the same' if same else 'DIFFER'}"
        )

        spark_times: list[float] = []
        raw_spark_times: list[float] = []
        duck_times: list[float] = []
        raw_duck_times: list[float] = []
        for _ in range(args.repeat):  # interleaved, so each pair sees the same machine load
            raw_spark_times += timed(lambda: raw_spark(spark, purchases, impressions), 1)
            spark_times += timed(lambda: session.execute(check(request, collab), settings), 1)
            raw_duck_times += timed(lambda: raw(purchases, impressions), 1)
            duck_times += timed(lambda: execute(check(request, collab)), 1)
    session.stop()
    rows = [
        ("raw pyspark", raw_spark_times),
        ("--engine spark", spark_times),
        ("raw DuckDB", raw_duck_times),
        ("default engine (DuckDB)", duck_times),
    ]
    for name, times in rows:
        median = statistics.median(times) * 1000
        print(f"join+aggregate, {name + ':':25} {median:9.1f} ms (median of {args.repeat})")
    spark_ratio = statistics.median(spark_times) / statistics.median(raw_spark_times)
    duck_ratio = statistics.median(duck_times) / statistics.median(raw_duck_times)
    spark_ok, duck_ok = "OK" if spark_ratio <= 1.2 else "OVER", "OK" if duck_ratio <= 1.0 else "OVER"
    print(f"ratio --engine spark / raw pyspark: {spark_ratio:6.3f} (target <= 1.2) {spark_ok}")
    print(f"ratio default engine / raw DuckDB:  {duck_ratio:6.3f} (target <= 1.0) {duck_ok}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
