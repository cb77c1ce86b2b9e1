"""The differential suite: every corpus query answers the same on DuckDB (with the Spark-semantics
layer) and on real Spark 4.3 in local mode (``--engine spark``), through the same check.

One Spark session serves the whole run (``reconciler.engine.spark.session`` keeps it per process).
Answers are compared as multisets of rows with Python types kept apart (``Decimal`` is not
``float``, ``int`` is not ``bool``); DOUBLE values may differ in the last bits where the two
engines add in a different order (relative tolerance 1e-9, as two Spark runs on different
partitionings may), NaN equals NaN, and -0.0 equals 0.0. Each difference class of issue 14 has
a test of its own below the corpus.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import sqlglot
from corpus import EXPRESSIONS, QUERIES_EXTRA, REFUSED, TABLES, R, queries
from sqlglot import exp

from reconciler.engine import Collaboration, Request, Result, Table, check, enforce, execute, parse_policy
from reconciler.engine.functions import FUNCTIONS, SPARK, lookup
from reconciler.engine.run import DataError
from reconciler.errors import QueryRejected

pytestmark = pytest.mark.spark

CORPUS = queries()


@pytest.fixture(scope="module")
def collab(tmp_path_factory: pytest.TempPathFactory) -> Collaboration:
    root = tmp_path_factory.mktemp("differential")
    tables = {}
    con = duckdb.connect()
    for name, (owner, columns, rows, policy) in TABLES.items():
        path = root / f"{name}.parquet"
        con.execute(f"CREATE TABLE {name} (" + ", ".join(f"{c} {t}" for c, t in columns.items()) + ")")
        con.executemany(
            f"INSERT INTO {name} VALUES ({', '.join('?' * len(columns))})", [list(r) for r in rows]
        )
        con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        tables[name] = Table(
            name, owner, columns, parse_policy(policy, columns=list(columns)), data=str(path)
        )
    con.close()
    abilities = {R: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"}), "222222222222": frozenset()}
    return Collaboration("SPARK", abilities, tables)


@pytest.fixture(scope="module", autouse=True)
def spark() -> Iterator[None]:
    from reconciler.engine.spark import session

    session.session()  # started once for the module; every query gets a child session of it
    yield


def _spark(prepared: Any) -> Result:
    from reconciler.engine.spark import session

    return session.execute(prepared)


# -- comparison -----------------------------------------------------------------------------------
def _norm(value: Any) -> Any:
    """A value as a comparable key: its kind and a canonical form."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, float):
        return ("f", "nan" if math.isnan(value) else 0.0 if value == 0 else float(f"{value:.9g}"))
    if isinstance(value, int):
        return ("i", value)
    if isinstance(value, Decimal):
        return ("d", value.normalize() if value != 0 else Decimal(0))
    if isinstance(value, dt.datetime):
        return ("ts", value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.UTC))
    if isinstance(value, dt.date):
        return ("date", value)
    if isinstance(value, (list, tuple)):
        return ("l", tuple(_norm(v) for v in value))
    if isinstance(value, dict):
        return (
            "m",
            tuple(sorted(((repr(_norm(k)), _norm(v)) for k, v in value.items()), key=repr)),
        )  # no order
    if isinstance(value, (bytes, bytearray)):
        return ("bin", bytes(value))
    return (type(value).__name__, value)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        if a and a[0] == "f" and b[0] == "f" and len(a) == 2:
            x, y = a[1], b[1]
            return x == y or (x != "nan" and y != "nan" and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12))
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _rows(result: Result) -> list[tuple[Any, ...]]:
    return sorted((tuple(_norm(v) for v in row) for row in result.rows), key=repr)


def outcome(prepared: Any, run: Any) -> tuple[str, Any]:
    try:
        return "rows", _rows(run(prepared))
    except DataError as exc:
        return "failed", exc.code


def assert_same(collab: Collaboration, sql: str) -> list[tuple[Any, ...]]:
    """Both engines' outcome for ``sql``, required to be the same; returns DuckDB's rows."""
    prepared = check(Request(R, sql), collab)
    duck, spark = outcome(prepared, execute), outcome(prepared, _spark)
    assert duck[0] == spark[0] == "rows", f"{sql}\nDuckDB: {duck}\nSpark: {spark}"
    same = len(duck[1]) == len(spark[1]) and all(_close(a, b) for a, b in zip(duck[1], spark[1], strict=True))
    assert same, f"{sql}\n{prepared.sql}\n{prepared.spark_sql}\nDuckDB: {duck[1]}\nSpark:  {spark[1]}"
    rows: list[tuple[Any, ...]] = duck[1]
    return rows


# -- the corpus -----------------------------------------------------------------------------------
def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 300
    assert len(set(CORPUS)) == len(CORPUS)


def test_every_accepted_spark_function_is_in_the_corpus() -> None:
    seen: set[str] = set()
    for sql in CORPUS:
        for node in sqlglot.parse_one(sql, read="spark").walk():
            if isinstance(node, (exp.Func, exp.Binary, exp.Unary)):
                found = lookup(node) if isinstance(node, exp.Func) else None
                if found is None:
                    found = next((f for f in FUNCTIONS if type(node) in f.nodes), None)
                if found is not None:
                    seen.add(found.name)
    nondeterministic = {"RAND", "UUID", "ANY_VALUE", "FIRST", "LAST"}  # cannot be compared
    unreachable = {"PERCENTILE_CONT"}  # only WITHIN GROUP, which the binder refuses
    wanted = {f.name for f in FUNCTIONS if SPARK in f.dialects} - nondeterministic - unreachable
    assert wanted - seen == set(), sorted(wanted - seen)


@pytest.mark.parametrize("sql", CORPUS)
def test_both_engines_answer_the_same(collab: Collaboration, sql: str) -> None:
    assert_same(collab, sql)


# -- one test per difference class of issue 14 ----------------------------------------------------
def _value(collab: Collaboration, expression: str, where: str = "uid = 'u1'") -> Any:
    rows = assert_same(collab, f"SELECT {expression} AS v FROM t WHERE {where}")
    assert len(rows) == 1
    return rows[0][0]


@pytest.mark.parametrize(
    ("expression", "where"),
    [
        ("i / 0", "uid = 'u1'"),  # DIVIDE_BY_ZERO
        ("i % 0", "uid = 'u1'"),
        ("i DIV 0", "uid = 'u1'"),
        ("CAST(s AS INT)", "uid = 'u1'"),  # CAST_INVALID_INPUT
        ("CAST(js AS DATE)", "uid = 'u4'"),
        ("i + 1", "uid = 'u4'"),  # ARITHMETIC_OVERFLOW (INT)
        ("b * 2", "uid = 'u4'"),  # ARITHMETIC_OVERFLOW (BIGINT)
        ("-b - 2", "uid = 'u4'"),
        ("ABS(i - 2147483647 - 1)", "uid = 'u5'"),
        ("ARRAY(i, 2)[5]", "uid = 'u1'"),  # INVALID_ARRAY_INDEX
        ("CAST(d AS INT)", "uid = 'u5'"),  # CAST_OVERFLOW
        ("MAP(g, 1, 'x', 2)", "uid = 'u1'"),  # DUPLICATED_MAP_KEY
    ],
)
def test_ansi_errors_are_null_on_both_engines(collab: Collaboration, expression: str, where: str) -> None:
    """Where Spark's ANSI mode raises on a value, both engines answer NULL: whether a query fails must
    not depend on rows the thresholds may drop (ANALYSIS_RULES.md 4.1 item 6; README)."""
    assert _value(collab, expression, where) == ("b", None)


def test_a_bigint_sum_that_overflows_is_null_on_both_engines(collab: Collaboration) -> None:
    assert assert_same(collab, "SELECT SUM(b) AS s FROM t WHERE b > 0") == [(("b", None),)]


def test_cast_to_int_truncates(collab: Collaboration) -> None:
    assert _value(collab, "CAST(d AS INT)", "uid = 'u2'") == ("i", 2)  # 2.5 -> 2 (DuckDB alone rounds: 3)
    assert _value(collab, "CAST(d AS INT)", "uid = 'u4'") == ("i", -2)
    assert _value(collab, "CAST(2.7D AS INT)") == ("i", 2)


def test_round_of_a_double_is_half_up(collab: Collaboration) -> None:
    assert _value(collab, "ROUND(d, 2)") == ("f", 0.29)  # 0.285 (DuckDB alone: 0.28)
    assert _value(collab, "ROUND(d, 2)", "uid = 'u9'") == ("f", 2.68)  # 2.675
    assert _value(collab, "ROUND(d)", "uid = 'u4'") == ("f", -3.0)


def test_regexp_replace_and_its_back_references_are_refused(collab: Collaboration) -> None:
    verdict = enforce(Request(R, "SELECT REGEXP_REPLACE(s, '(a)', '$1$1') AS v FROM t"), collab)
    assert verdict.reason == "disallowed_function"


def test_upper_and_lower_use_full_case_mapping(collab: Collaboration) -> None:
    assert _value(collab, "UPPER(s)", "uid = 'u2'") == ("str", "SSTRASSE")
    assert _value(collab, "LOWER(s)", "uid = 'u4'") == ("str", "οδος")  # final sigma
    assert _value(collab, "LOWER(s)", "uid = 'u8'") == ("str", "i̇x")


def test_like_escapes_with_a_backslash(collab: Collaboration) -> None:
    rows = assert_same(collab, "SELECT uid FROM t WHERE s LIKE 'a\\\\_b%'")
    assert rows == [(("str", "u5"),)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DAYOFWEEK(dt) AS v FROM t",
        "SELECT EXTRACT(DOW FROM dt) AS v FROM t",
        "SELECT PERCENTILE(d, 0.5) AS v FROM t",
        "SELECT APPROX_PERCENTILE(d, 0.5) AS v FROM t",
        "SELECT APPROX_COUNT_DISTINCT(s) AS v FROM t",
        "SELECT FROM_UTC_TIMESTAMP(ts, 'America/New_York') AS v FROM t",
        "SELECT UNBASE64(s) AS v FROM t",
        "SELECT TO_TIMESTAMP(s) AS v FROM t",
        "SELECT TO_DATE(s, 'yyyy-MM-dd') AS v FROM t",
        "SELECT dec / 2 AS v FROM t",
        "SELECT s + 1 AS v FROM t",
        "SELECT uid FROM t WHERE s RLIKE CONCAT(s, 'x')",
    ],
)
def test_what_cannot_be_made_faithful_is_refused(collab: Collaboration, sql: str) -> None:
    """dayofweek counts from Sunday = 1, percentiles interpolate, the approximations, time zones,
    lenient base64 and timestamps, Java date patterns, DECIMAL division, implicit casts from text,
    patterns from rows: refused before any data is read, never answered differently."""
    verdict = enforce(Request(R, sql), collab)
    assert not verdict.allowed
    assert verdict.reason in ("disallowed_function", "disallowed_construct")


def test_timestamps_are_utc_whatever_the_machine_zone(collab: Collaboration) -> None:
    assert _value(collab, "ts") == ("ts", dt.datetime(2024, 1, 7, 10, 20, 30, 500000))
    assert _value(collab, "CAST(ts AS STRING)") == ("str", "2024-01-07 10:20:30.5")
    assert _value(collab, "HOUR(ts)", "uid = 'u6'") == ("i", 1)


def test_decimals_stay_decimal(collab: Collaboration) -> None:
    rows = assert_same(collab, "SELECT SUM(dec) AS s, MAX(dec * 2) AS m FROM t")
    assert rows == [(("d", Decimal("100000008.87")), ("d", Decimal("199999999.98")))]
    assert _value(collab, "dec + 1.5")[0] == "d"


@pytest.mark.parametrize(
    ("expression", "where", "expected"),
    [
        ("LPAD(s, 2, '')", "uid = 'u1'", ("str", "ab")),
        ("SUBSTRING(s, 0, 2)", "uid = 'u1'", ("str", "ab")),
        ("LEFT(s, 0)", "uid = 'u1'", ("str", "")),
        ("CAST(s AS INT)", "uid = 'u7'", ("i", 42)),
        ("CAST('2024' AS DATE)", "uid = 'u1'", ("date", dt.date(2024, 1, 1))),
        ("LN(i)", "uid = 'u5'", ("b", None)),
        ("CAST(d AS STRING)", "uid = 'u5'", ("str", "1.0E10")),
        ("s || d", "uid = 'u7'", ("str", "  42 1.0E-7")),
        ("FLOOR(d)", "uid = 'u2'", ("i", 2)),
        ("SIGN(i)", "uid = 'u2'", ("f", -1.0)),
        ("ARRAY_CONTAINS(ARRAY(i, NULL), 3)", "uid = 'u1'", ("b", None)),
        ("TO_JSON(NAMED_STRUCT('a', i, 'b', s))", "uid = 'u3'", ("str", "{}")),
    ],
)
def test_queries_duckdb_answered_differently_now_answer_as_spark(
    collab: Collaboration, expression: str, where: str, expected: Any
) -> None:
    assert _value(collab, expression, where) == expected


def test_suppressed_groups_never_come_back_on_either_engine(collab: Collaboration) -> None:
    rows = assert_same(collab, "SELECT region, COUNT(*) AS n FROM p GROUP BY region")
    assert rows == [(("str", "big"), ("i", 8)), (("str", "mid"), ("i", 3))]  # 'two' and 'one' are dropped


def test_corpus_lists_stay_in_step() -> None:
    assert len(EXPRESSIONS) + len(QUERIES_EXTRA) == len(CORPUS)
    assert set(REFUSED).isdisjoint(CORPUS)


@pytest.mark.parametrize(("sql", "who"), sorted(REFUSED.items()))
def test_what_the_corpus_does_not_run_is_refused(collab: Collaboration, sql: str, who: str) -> None:
    """Refused by the check on both engines, or by ``--engine spark`` alone (with its reason),
    never answered differently."""
    if who == "both":
        with pytest.raises(QueryRejected):
            check(Request(R, sql), collab)
        return
    prepared = check(Request(R, sql), collab)
    assert prepared.spark_refusal and "not supported by --engine spark" in prepared.spark_refusal
    with pytest.raises(QueryRejected, match="not supported by --engine spark"):
        _spark(prepared)
    assert execute(prepared).rows is not None


@pytest.mark.parametrize(
    "sql", ["SELECT uid, i FROM t", "SELECT region, COUNT(*) AS n FROM p GROUP BY region"]
)
def test_refusals_match_too(collab: Collaboration, sql: str) -> None:
    """The check is shared: a query either runs on both engines or is refused before either runs."""
    try:
        prepared = check(Request(R, sql), collab)
    except QueryRejected:  # pragma: no cover - these are accepted
        pytest.fail(sql)
    assert prepared.spark_sql and not prepared.spark_refusal
