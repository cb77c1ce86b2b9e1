"""Red-team attacks whose proof is in the data: what comes back (or what an error says) must not leak.

Fixture: ``purchases`` has regions with 5, 3, 2 and 1 distinct people (a: p0-p4 plus a NULL
person, b: p5-p7 twice, c: p8-p9 twice, d: p10) and an ``email`` column the rule keeps out of
the output; ``impressions`` is a second member's table. Each test runs the attack through
``check`` + ``execute`` and compares with what a faithful engine may return, computed here.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from engines import engine_fixture, run_on  # noqa: F401 (the engine fixture)

from reconciler.engine import Collaboration, Request, Table, check, enforce, parse_policy
from reconciler.engine.run import DataError

R, A = "111111111111", "222222222222"
PURCHASES = (
    [(f"p{i}", "a", 10.0 + i, f"e{i}") for i in range(5)]
    + [(f"p{i}", "b", 1.0, f"e{i}") for i in (5, 6, 7, 5, 6, 7)]
    + [(f"p{i}", "c", 2.0, f"e{i}") for i in (8, 9, 8, 9)]
    + [("p10", "d", 7.0, "e10"), (None, "a", 100.0, None)]
)
SMALL = {"c", "d"}  # regions with fewer than 3 distinct people


def _custom(threshold: dict[str, Any] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "allowedAnalyses": ["ANY_QUERY"],
        "allowedAnalysisProviders": [R],
        "disallowedOutputColumns": ["email", "person"],
    }
    if threshold is not None:
        rule["aggregationThresholds"] = [threshold]
    return {"custom": rule}


def _threshold(overrides: dict[str, int] | None = None) -> dict[str, Any]:
    threshold: dict[str, Any] = {
        "identityColumns": ["person"],
        "minimumIdentityCount": 3,
        "type": "COUNT_DISTINCT",
        "allowedAggregateExpressionType": "ANY_EXPRESSION",
    }
    if overrides:
        threshold["outputColumnThresholds"] = [
            {"outputColumnName": k, "minimumIdentityCount": v} for k, v in overrides.items()
        ]
    return threshold


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("redteam") / "purchases.parquet"
    con = duckdb.connect()
    con.execute("CREATE TABLE p (person VARCHAR, region VARCHAR, amount DOUBLE, email VARCHAR)")
    con.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", PURCHASES)
    con.execute(f"COPY p TO '{path}' (FORMAT parquet)")
    con.close()
    return str(path)


def _collab(data: str, policy: dict[str, Any], engine: str = "SPARK") -> Collaboration:
    columns = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE", "email": "VARCHAR"}
    table = Table("purchases", R, columns, parse_policy(policy, columns=list(columns)), data=data)
    return Collaboration(engine, {R: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"})}, {"purchases": table})


def _rows(engine: str, collab: Collaboration, sql: str) -> list[tuple[Any, ...]]:
    return sorted(run_on(engine, check(Request(R, sql), collab)).rows, key=repr)


EMAILS = {e for *_, e in PURCHASES if e}


@pytest.mark.parametrize("engine", ["SPARK", "CLEAN_ROOMS_SQL"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COLUMNS('ema.*') FROM purchases",
        "SELECT region, COLUMNS(x -> x LIKE 'e%') FROM purchases",
        "SELECT COLUMNS(*) FROM purchases",
        "SELECT * LIKE 'e%' FROM purchases",
        "SELECT * SIMILAR TO 'e.*' FROM purchases",
        "SELECT COUNT(*), MAX(COLUMNS('ema.*')) FROM purchases",
    ],
)
def test_pattern_column_selections_never_reach_a_disallowed_column(data: str, engine: str, sql: str) -> None:
    """Was a hole: DuckDB expanded these to ``email`` after every name-based check had passed."""
    verdict = enforce(Request(R, sql), _collab(data, _custom(), engine))
    assert (verdict.reason, verdict.table, verdict.rule) == ("disallowed_construct", "purchases", "CUSTOM")
    assert verdict.fragment and verdict.fragment in sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, COUNT(region) FROM purchases GROUP BY region",
        "SELECT region || CAST(COUNT(*) AS STRING) AS r FROM purchases GROUP BY region",
        "SELECT region || CAST(COUNT(*) OVER (PARTITION BY region) AS STRING) AS r FROM purchases",
        "SELECT region, MAX(region), COUNT(region) FROM purchases GROUP BY region",
        "SELECT region FROM purchases GROUP BY region HAVING COUNT(*) = 1",
        "WITH t AS (SELECT region, COUNT(*) AS n FROM purchases GROUP BY region)"
        " SELECT region FROM t WHERE n < 3",
        "SELECT region FROM purchases",
    ],
)
def test_an_exempt_column_does_not_carry_small_group_sizes(data: str, sql: str, engine: str) -> None:
    """Was a hole: with ``region`` exempt (override 0), these returned region d's count of 1."""
    rows = _rows(engine, _collab(data, _custom(_threshold({"region": 0}))), sql)
    regions = {str(row[0])[0] for row in rows}
    assert not regions & SMALL, rows


def test_the_documented_override_exemption_still_lists_every_value(data: str, engine: str) -> None:
    collab = _collab(data, _custom(_threshold({"region": 0})))
    expected = [(r,) for r in "abcd"]
    assert _rows(engine, collab, "SELECT DISTINCT region FROM purchases") == expected
    assert _rows(engine, collab, "SELECT region FROM purchases GROUP BY region") == expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region FROM purchases WHERE error(email) IS NULL",
        "SELECT region FROM purchases WHERE strptime(email, '%d') IS NULL",
        "SELECT region FROM purchases WHERE regexp_matches(region, email || '(')",
        "SELECT nosuch(region) FROM purchases",
    ],
)
def test_duckdb_functions_are_not_on_the_allow_list(data: str, sql: str) -> None:
    """Was a hole: DuckDB-only functions ran, and DuckDB's message (``Invalid Input Error: e0``)
    reached the user verbatim. They are not Spark SQL functions AWS documents: refused, nothing read."""
    verdict = enforce(Request(R, sql), _collab(data, _custom()))
    assert verdict.reason == "disallowed_function"
    assert not any(e in verdict.text() for e in EMAILS)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, COUNT(*) FROM purchases WHERE CAST(CASE WHEN region = 'd' THEN 'x' ELSE '1' END "
        "AS INT) = 1 GROUP BY region",
        "SELECT region, COUNT(*) FROM purchases WHERE unhex(email) IS NULL GROUP BY region",
        "SELECT region, COUNT(*) FROM purchases WHERE to_date(email) IS NULL GROUP BY region",
        "SELECT region, SUM(CAST(amount AS BIGINT) * 4611686018427387904) FROM purchases GROUP BY region",
        "SELECT region, COUNT(*) FROM purchases GROUP BY region HAVING 10 DIV (COUNT(*) - 1) >= 0",
        "SELECT region, COUNT(*) FROM purchases WHERE get_json_object(email, '$.a') IS NULL GROUP BY region",
    ],
)
def test_operations_that_can_fail_on_a_row_never_fail(data: str, sql: str, engine: str) -> None:
    """Errors are not answers (4.1 item 6): an operation that fails on some value (a bad CAST, bad
    base64, a bad pattern, an overflow, a division by zero in HAVING) yields NULL instead, so
    whether the query succeeds never depends on a row, least of all one the threshold drops."""
    collab = _collab(data, _custom(_threshold()))
    rows = run_on(engine, check(Request(R, sql), collab)).rows
    assert not {str(r[0]) for r in rows} & SMALL


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, COUNT(*) FROM purchases WHERE email RLIKE CONCAT(email, '(') GROUP BY region",
        "SELECT region, COUNT(*) FROM purchases WHERE region RLIKE '(?i)A' GROUP BY region",
        "SELECT region, COUNT(*) FROM purchases WHERE email = amount GROUP BY region",
    ],
)
def test_spark_semantics_the_local_engine_cannot_vouch_for_are_refused(data: str, sql: str) -> None:
    """A pattern built from a row (Java and RE2 differ, and a bad one fails only on some rows), a
    flag Java and RE2 read differently, and a comparison through Spark's implicit cast are refused
    before any data is read, rather than answered differently from Spark."""
    verdict = enforce(Request(R, sql), _collab(data, _custom(_threshold())))
    assert verdict.reason == "disallowed_construct"
    assert "local engine" in verdict.message


def test_planning_errors_keep_their_message(data: str) -> None:
    prepared = check(
        Request(R, "SELECT region + INTERVAL '1' DAY AS r FROM purchases"),
        _collab(data, _custom(), "CLEAN_ROOMS_SQL"),
    )
    with pytest.raises(DataError) as failed:  # DuckDB's first line is kept (not its words: its kind)
        run_on("duckdb", prepared)  # CLEAN_ROOMS_SQL: DuckDB only
    assert failed.value.code == "MALFORMED_QUERY" and failed.value.message.startswith("the query failed: ")
    assert "withheld" not in failed.value.message


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT SUBSTRING(person, 1, 2) AS l FROM purchases", "SUBSTRING("),
        ("SELECT COALESCE(upper(email), region) AS t FROM purchases", "COALESCE("),
    ],
)
def test_refusal_fragments_keep_the_function_name(data: str, sql: str, fragment: str) -> None:
    """Was poor: the fragment started after the function name (``person, 1, 2) AS l``)."""
    verdict = enforce(Request(R, sql), _collab(data, _custom()))
    assert verdict.reason == "output_column_disallowed"
    assert fragment in verdict.fragment.upper()
    assert verdict.fragment.count("(") == verdict.fragment.count(")")


def test_spark_escapes_stay_inside_one_literal(data: str, engine: str) -> None:
    """A backslash-escaped quote in Spark text is one character in DuckDB, never the end of the string."""
    collab = _collab(data, _custom())
    assert _rows(engine, collab, r"SELECT region FROM purchases WHERE region = 'a\' OR 1=1 --'") == []
    assert _rows(engine, collab, r"SELECT DISTINCT 'x\\' AS s FROM purchases") == [("x\\",)]


def test_threshold_counts_null_identities_as_nobody(data: str, engine: str) -> None:
    """Region a has 5 people plus a NULL person; the NULL row adds to the sum but to no count."""
    collab = _collab(data, _custom(_threshold()))
    assert _rows(engine, collab, "SELECT region, SUM(amount) FROM purchases GROUP BY region") == [
        ("a", 160.0),
        ("b", 6.0),
    ]
    assert (
        _rows(
            engine, collab, "SELECT region, SUM(amount) FROM purchases WHERE person IS NULL GROUP BY region"
        )
        == []
    )


def test_clean_rooms_sql_version_is_refused(data: str) -> None:
    """Was a hole on CLEAN_ROOMS_SQL: the Redshift reader names VERSION() CURRENT_VERSION."""
    collab = _collab(data, _custom(), "CLEAN_ROOMS_SQL")
    verdict = enforce(Request(R, "SELECT version() FROM purchases"), collab)
    assert verdict.reason == "file_or_system_access"
