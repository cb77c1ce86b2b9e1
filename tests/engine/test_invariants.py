"""Red-team tests of the invariants of ANALYSIS_RULES.md 4.1, checked on the data (issue 11, classes 1-6).

Fixture: ``people`` is a partner's table with an aggregation threshold of 3 distinct ``uid`` and
comparison controls (literal comparisons only on ``region`` and ``day``, column comparisons only
on ``uid``); ``email`` and ``uid`` are disallowed output columns. Planted groups: region ``big``
has 7 people (and one row with a NULL person), ``mid`` 3 people, ``tiny`` 1 person (``u9``,
whose email, zip and age are canaries). ``mine`` is the querier's own table without controls.

Every allowed query runs through ``check`` + ``execute`` and is compared with what a faithful
engine may return, computed here in plain DuckDB on the same file; refusals are checked by their
reason class. Tests named ``test_hole_*`` show holes found by this review: they fail until the
engine closes them (see the module's report in the task notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reconciler.engine import (
    Collaboration,
    Request,
    Table,
    Template,
    check,
    enforce,
    execute,
    parse_policy,
)
from reconciler.engine.run import DataError
from reconciler.engine.templates import Parameter, request_for
from reconciler.errors import QueryRejected

R, A = "111111111111", "222222222222"
COLUMNS = {
    "uid": "VARCHAR",
    "email": "VARCHAR",
    "zip": "VARCHAR",
    "region": "VARCHAR",
    "age": "INTEGER",
    "amount": "DOUBLE",
    "js": "VARCHAR",
    "day": "DATE",
}
Row = tuple[Any, ...]


def _person(uid: str | None, region: str, zip_: str, age: int, amount: float, day: str = "2024-01-01") -> Row:
    email = "CANARY-u9@x" if uid == "u9" else f"mail-{uid}@x"
    return (uid, email, zip_, region, age, amount, f'{{"k": "{region}"}}', day)


PEOPLE: list[Row] = (
    [_person(f"u{i}", "big", "10001", 30 + i, 10.0 + i) for i in range(6)]
    + [_person("u10", "big", "10002", 41, 1.0, "2024-02-02"), _person(None, "big", "10001", 50, 100.0)]
    + [_person(f"u{i}", "mid", "10002", 40, 5.0, "2024-02-01") for i in (6, 7, 8, 6)]
    + [_person("u9", "tiny", "99999", 99, -7.0, "2024-03-01")]
)
CANARIES = ("CANARY", "mail-", "99999")
MINE = [("u1", 7), ("u2", 1), ("u9", 9)]


def _write(path: Path, rows: Sequence[Row], columns: dict[str, str] = COLUMNS) -> str:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (" + ", ".join(f"{c} {t}" for c, t in columns.items()) + ")")
    if rows:
        con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(columns))})", [list(r) for r in rows])
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    con.close()
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("invariants")
    return {
        "people": _write(root / "people.parquet", PEOPLE),
        "mine": _write(root / "mine.parquet", MINE, {"s": "VARCHAR", "k": "INTEGER"}),
        "root": str(root),
    }


def _policy(
    *,
    threshold: bool = True,
    controls: bool = True,
    overrides: dict[str, int] | None = None,
    columns_only: bool = False,
    disallowed: Sequence[str] = ("email", "uid"),
    templates: Sequence[str] = (),
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "allowedAnalyses": ["ANY_QUERY", *templates],
        "allowedAnalysisProviders": [R],
        "disallowedOutputColumns": list(disallowed),
    }
    if threshold:
        limit: dict[str, Any] = {
            "identityColumns": ["uid"],
            "minimumIdentityCount": 3,
            "type": "COUNT_DISTINCT",
            "allowedAggregateExpressionType": "COLUMNS_ONLY" if columns_only else "ANY_EXPRESSION",
        }
        if overrides:
            limit["outputColumnThresholds"] = [
                {"outputColumnName": k, "minimumIdentityCount": v} for k, v in overrides.items()
            ]
        rule["aggregationThresholds"] = [limit]
    if controls:
        rule["comparisonControls"] = {
            "allowedLiteralComparisonColumns": ["region", "day"],
            "allowedColumnComparisonColumns": ["uid"],
        }
    return {"custom": rule}


FULL = _policy()
THRESHOLD_ONLY = _policy(controls=False)
EXEMPT_REGION = _policy(controls=False, overrides={"region": 0})


def _collab(
    files: dict[str, str],
    policy: dict[str, Any] = FULL,
    *,
    people: str | None = None,
    engine: str = "SPARK",
    columns: dict[str, str] = COLUMNS,
) -> Collaboration:
    mine_columns = {"s": "VARCHAR", "k": "INTEGER"}
    mine_rule = {"custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [R]}}
    tables = {
        "people": Table(
            "people", A, columns, parse_policy(policy, columns=list(columns)), data=people or files["people"]
        ),
        "mine": Table(
            "mine", R, mine_columns, parse_policy(mine_rule, columns=list(mine_columns)), data=files["mine"]
        ),
    }
    return Collaboration(engine, {R: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"}), A: frozenset()}, tables)


def _run(collab: Collaboration, sql: str) -> list[Row]:
    return sorted(execute(check(Request(R, sql), collab)).rows, key=repr)


def _reason(collab: Collaboration, sql: str) -> str:
    verdict = enforce(Request(R, sql), collab)
    return "allowed" if verdict.allowed else str(verdict.reason)


def _faithful(path: str, sql: str) -> list[Row]:
    """Plain DuckDB on the same file (``people`` is the table), for the expected answer."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW people AS SELECT * FROM read_parquet('{path}')")
    rows = con.execute(sql).fetchall()
    con.close()
    return sorted((tuple(r) for r in rows), key=repr)


def _no_canary(rows: Sequence[Row]) -> None:
    text = repr(rows)
    assert not any(c in text for c in CANARIES), rows


# == class 1: renaming ==============================================================================
@pytest.mark.parametrize(
    "sql",
    [
        # the first column of people is uid, whatever the alias list calls it
        "SELECT region, COUNT(*) AS n FROM people AS p(region, e, z, r, a, g, j, d) GROUP BY region",
        # email renamed through a CTE column list
        "WITH c(region, n) AS (SELECT email, age FROM people) SELECT region, COUNT(*) FROM c GROUP BY region",
        # a derived-table column list swaps names
        "SELECT zip, COUNT(*) FROM (SELECT zip, email FROM people) s(email, zip) GROUP BY zip",
        # a set operation merges by position: the second branch's email is the output
        "WITH c(region) AS (SELECT region FROM people UNION ALL SELECT email FROM people) "
        "SELECT region, COUNT(*) FROM c GROUP BY region",
        # two renames in a row
        "SELECT y, COUNT(*) FROM (SELECT x FROM people AS p(x, a, b, c, d, e, f, g)) s(y) GROUP BY y",
    ],
)
def test_renamed_disallowed_columns_never_reach_the_output(files: dict[str, str], sql: str) -> None:
    assert _reason(_collab(files), sql) == "output_column_disallowed"


def test_a_column_named_like_a_disallowed_one_outputs_its_own_values(files: dict[str, str]) -> None:
    """``s(email, z)`` names region ``email``: it is region, so it may be output, and no email comes back."""
    sql = "SELECT email, COUNT(*) AS n FROM (SELECT region, zip FROM people) s(email, z) GROUP BY email"
    rows = _run(_collab(files), sql)
    _no_canary(rows)
    expected = _faithful(
        files["people"],
        "SELECT region, COUNT(*) FROM people GROUP BY region HAVING COUNT(DISTINCT uid) >= 3",
    )
    assert rows == expected == [("big", 8), ("mid", 4)]


def test_the_threshold_counts_the_base_identity_whatever_column_is_called_uid(files: dict[str, str]) -> None:
    """``p(x, ..., uid)`` calls ``day`` uid: the hidden count must still be of the base uid column."""
    sql = "SELECT r, COUNT(*) AS n FROM people AS p(x, e, z, r, a, g, j, uid) GROUP BY r"
    expected = _faithful(
        files["people"], "SELECT region, COUNT(*) FROM people GROUP BY region HAVING COUNT(DISTINCT uid) >= 3"
    )
    assert _run(_collab(files), sql) == expected
    # grouping by the column called uid (base: day) is grouping by day: days hold 1 to 6 people
    by_day = _run(
        _collab(files),
        "SELECT uid AS d, COUNT(*) AS n FROM people AS p(x, e, z, r, a, g, j, uid) GROUP BY uid",
    )
    assert by_day == _faithful(
        files["people"], "SELECT day, COUNT(*) FROM people GROUP BY day HAVING COUNT(DISTINCT uid) >= 3"
    )


def test_comparison_controls_follow_swapped_cte_column_names(files: dict[str, str]) -> None:
    """``c(zip, region)`` swaps the names: ``zip = 'big'`` compares region (allowed), ``region = '99999'``
    compares zip (not allowed)."""
    collab = _collab(files)
    base = "WITH c(zip, region) AS (SELECT region, zip FROM people) SELECT zip AS r, COUNT(*) AS n FROM c"
    assert _run(collab, f"{base} WHERE zip = 'big' GROUP BY zip") == [("big", 8)]
    verdict = enforce(Request(R, f"{base} WHERE region = '99999' GROUP BY zip"), collab)
    assert verdict.reason == "comparison_not_allowed" and "zip" in verdict.message


def test_set_operation_positional_merge_carries_comparison_controls(files: dict[str, str]) -> None:
    """Column x of the union is region in one branch and zip in the other: comparing x compares zip."""
    sql = (
        "SELECT x, COUNT(*) FROM (SELECT region AS x, uid FROM people "
        "UNION ALL SELECT zip, uid FROM people) s "
        "WHERE x = 'tiny' GROUP BY x"
    )
    verdict = enforce(Request(R, sql), _collab(files))
    assert verdict.reason == "comparison_not_allowed" and "zip" in verdict.message


def test_self_join_through_renamed_references_thresholds_each_reference(files: dict[str, str]) -> None:
    """Two references with different column lists: each must meet the minimum on its own base uid."""
    sql = (
        "SELECT a.r, COUNT(*) AS n FROM people AS a(id, e, z, r, g, m, j, d) "
        "JOIN people AS b(k, e2, z2, r2, g2, m2, j2, d2) ON a.id = b.k GROUP BY a.r"
    )
    expected = _faithful(
        files["people"],
        "SELECT a.region, COUNT(*) FROM people a JOIN people b ON a.uid = b.uid GROUP BY a.region "
        "HAVING COUNT(DISTINCT a.uid) >= 3 AND COUNT(DISTINCT b.uid) >= 3",
    )
    assert _run(_collab(files), sql) == expected == [("big", 7), ("mid", 6)]


def test_using_on_renamed_columns_compares_the_base_columns(files: dict[str, str]) -> None:
    """``USING (k)`` where k is uid on one side and zip on the other is a column comparison of zip."""
    sql = (
        "SELECT COUNT(*) FROM people AS a(k, e, z, r, g, m, j, d) "
        "JOIN (SELECT zip AS k, region FROM people) b USING (k)"
    )
    verdict = enforce(Request(R, sql), _collab(files))
    assert verdict.reason == "comparison_not_allowed" and "zip" in verdict.message


# == class 2: PIVOT / UNPIVOT ========================================================================
PIVOTS = [
    "SELECT * FROM people PIVOT (COUNT(*) FOR region IN ('big', 'mid'))",
    "SELECT * FROM people PIVOT (COUNT(*) AS n, MAX(email) AS e FOR region IN ('big' AS b, 'tiny' AS t)) p",
    "SELECT * FROM people PIVOT (COUNT(*) FOR (region, zip) IN (('tiny', '10001') AS x))",
    "SELECT * FROM (SELECT region, email FROM people) PIVOT (MAX(email) FOR region IN ('tiny'))",
    "WITH c AS (SELECT region, email FROM people) SELECT * FROM c PIVOT (MAX(email) FOR region IN ('tiny'))",
    "SELECT * FROM people UNPIVOT (v FOR k IN (email, zip))",
    "SELECT * FROM people UNPIVOT INCLUDE NULLS (v FOR k IN (email AS e, zip AS z))",
    "SELECT * FROM people UNPIVOT ((v1, v2) FOR k IN ((email, zip) AS a))",
    "SELECT m.s, COUNT(*) FROM mine m JOIN people UNPIVOT (v FOR k IN (email, zip)) u ON m.s = u.uid "
    "GROUP BY m.s",
    "SELECT region, (SELECT COUNT(*) FROM people PIVOT (COUNT(*) FOR region IN ('tiny'))) AS x FROM people",
    "PIVOT people ON region USING MAX(email)",
    "UNPIVOT people ON email, zip INTO NAME k VALUE v",
    "SELECT * FROM (PIVOT people ON region USING MAX(email))",
]


@pytest.mark.parametrize("engine", ["SPARK", "CLEAN_ROOMS_SQL"])
@pytest.mark.parametrize("sql", PIVOTS)
def test_every_pivot_form_is_refused_and_quotes_no_data(files: dict[str, str], engine: str, sql: str) -> None:
    """PIVOT / UNPIVOT are refused in every position and dialect (custom rule without controls)."""
    collab = _collab(files, _policy(threshold=False, controls=False), engine=engine)
    verdict = enforce(Request(R, sql), collab)
    assert verdict.reason == "disallowed_construct", verdict
    assert not any(c in verdict.text() for c in CANARIES)


@pytest.mark.parametrize("sql", PIVOTS[:10])
def test_pivots_are_refused_under_thresholds_and_controls(files: dict[str, str], sql: str) -> None:
    assert _reason(_collab(files), sql) == "disallowed_construct"


# == class 3: comparisons without comparison operators ==============================================
@pytest.mark.parametrize(
    ("sql", "column"),
    [
        ("SELECT region, SUM(ABS(age - 99)) AS s FROM people GROUP BY region", "age"),
        ("SELECT region, SUM(ROUND(amount / 100)) AS s FROM people GROUP BY region", "amount"),
        ("SELECT FLOOR(age / 50) AS b, COUNT(*) FROM people GROUP BY FLOOR(age / 50)", "age"),
        ("SELECT region, COUNT(*) FROM people GROUP BY region, SIGN(amount)", "amount"),
        ("SELECT region, LENGTH(LTRIM(zip, '9')) AS l, COUNT(*) FROM people GROUP BY 1, 2", "zip"),
        ("SELECT region, LENGTH(REPLACE(zip, '9', '')) AS l, COUNT(*) FROM people GROUP BY 1, 2", "zip"),
        ("SELECT region, POSITION('9' IN zip) AS l, COUNT(*) FROM people GROUP BY 1, 2", "zip"),
        ("SELECT region, SIZE(SPLIT(zip, '9')) AS l, COUNT(*) FROM people GROUP BY 1, 2", "zip"),
        ("SELECT region, COUNT(NULLIF(zip, '99999')) AS n FROM people GROUP BY region", "zip"),
        (
            "SELECT region, COUNT(*) FROM people WHERE COALESCE(NULLIF(zip, '99999'), 'x') = 'x' "
            "GROUP BY region",
            "zip",
        ),
        (
            "SELECT region, COUNT(*) FROM people WHERE ARRAY('a', 'b')[age - 98] IS NULL GROUP BY region",
            "age",
        ),
        ("SELECT region, COUNT(*) FROM people WHERE MAP('99999', 1)[zip] IS NULL GROUP BY region", "zip"),
        (
            "SELECT region, COUNT(*) FROM people "
            "WHERE get_json_object('{\"99999\": 1}', CONCAT('$.', zip)) IS NULL GROUP BY region",
            "zip",
        ),
        ("SELECT region, COUNT(*) FROM people WHERE (age > 98) = FALSE GROUP BY region", "age"),
        (
            "SELECT region, COUNT(*) FROM people WHERE NOT CAST(amount + 7 AS BOOLEAN) GROUP BY region",
            "amount",
        ),
        ("SELECT region, COUNT(*) FROM people WHERE zip RLIKE '^9' GROUP BY region", "zip"),
        ("SELECT region, COUNT(*) FROM people GROUP BY region HAVING SUM(SIGN(age - 99)) < 0", "age"),
        ("SELECT region, COUNT(*) FROM people GROUP BY region HAVING CAST(MAX(age) - 99 AS BOOLEAN)", "age"),
        (
            "SELECT region, SUM(CASE WHEN GREATEST(age, 98) = age THEN 1 END) AS s FROM people "
            "GROUP BY region",
            "age",
        ),
        (
            "SELECT p.region, COUNT(*) FROM people p JOIN mine m ON SIGN(p.age - m.k) = 1 GROUP BY p.region",
            "age",
        ),
        ("SELECT p.region, COUNT(*) FROM people p JOIN mine m ON ABS(p.age) = m.k GROUP BY p.region", "age"),
        (
            "SELECT region, COUNT(*) FROM people WHERE ARRAY_CONTAINS(ARRAY(zip), '99999') GROUP BY region",
            "zip",
        ),
        ("SELECT region, COUNT(*) FROM people WHERE TRIM(BOTH '9' FROM uid) = uid GROUP BY region", "uid"),
    ],
)
def test_comparisons_without_operators_are_comparisons(files: dict[str, str], sql: str, column: str) -> None:
    verdict = enforce(Request(R, sql), _collab(files))
    assert verdict.reason == "comparison_not_allowed", verdict
    assert column in verdict.message


def test_an_allowed_column_may_still_be_compared_without_an_operator(files: dict[str, str]) -> None:
    """Positions judge the column: region is literal-comparable, so trimming it decides fine."""
    sql = "SELECT LENGTH(TRIM(LEADING 'b' FROM region)) AS l, COUNT(*) AS n FROM people GROUP BY 1"
    expected = _faithful(
        files["people"],
        "SELECT LENGTH(LTRIM(region, 'b')), COUNT(*) FROM people GROUP BY 1 HAVING COUNT(DISTINCT uid) >= 3",
    )
    assert _run(_collab(files), sql) == expected


def test_template_parameters_are_literals_in_comparing_positions(files: dict[str, str]) -> None:
    """A parameter stands for a literal: ABS(age - :p) in HAVING, and POSITION(:p IN zip), compare."""
    policy = _policy(templates=("arn:tmpl/a", "arn:tmpl/b"))
    collab = _collab(files, policy)
    runs = [
        Template(
            "a",
            "SELECT region, COUNT(*) FROM people GROUP BY region HAVING MIN(ABS(age - :p)) = 0",
            [Parameter("p", "INTEGER", "99")],
            "arn:tmpl/a",
            R,
        ),
        Template(
            "b",
            "SELECT region, SUM(POSITION(:p IN zip)) AS s FROM people GROUP BY region",
            [Parameter("p", "VARCHAR", "9")],
            "arn:tmpl/b",
            R,
        ),
    ]
    for template in runs:
        verdict = enforce(request_for(template, R, {}), collab)
        assert verdict.reason == "comparison_not_allowed", template.sql


def test_was_a_hole_map_lookup_with_a_constant_key_compares_a_controlled_column(
    files: dict[str, str],
) -> None:
    """Was a hole, now closed.

    ``MAP(zip, 1)['10001']`` is 1 exactly when zip = '10001' (a literal comparison of zip, which
    the controls forbid), yet it is accepted: ``_lookup`` records a comparison only when the key is not
    a constant, and the map's keys here are the data. The count then says how many people in a released
    group have zip 10001."""
    for sql in (
        "SELECT region, COUNT(MAP(zip, 1)['10001']) AS n FROM people GROUP BY region",
        "SELECT region, SUM(MAP(zip, amount)['10001']) AS s FROM people GROUP BY region",
        "SELECT MAP(zip, 'y')['10001'] AS is_10001, COUNT(*) AS n FROM people GROUP BY 1",
    ):
        assert _reason(_collab(files), sql) == "comparison_not_allowed", sql


def test_was_a_hole_map_lookup_tests_the_identity_against_a_literal(files: dict[str, str]) -> None:
    """Was a hole, now closed.

    with uid allowed in the output, ``COUNT(MAP(uid, 1)['u0'])`` tells whether person u0 is in
    each released group: a literal comparison of the identity column, which is never allowed (8.6.5)."""
    collab = _collab(files, _policy(disallowed=("email",)))
    sql = "SELECT region, COUNT(MAP(uid, 1)['u0']) AS is_u0_here FROM people GROUP BY region"
    try:
        rows = _run(collab, sql)
    except QueryRejected as exc:
        assert exc.verdict.reason == "comparison_not_allowed"
        return
    pytest.fail(f"u0's membership of each group came back: {rows}")


def test_was_a_hole_map_with_a_duplicate_key_is_a_comparison(files: dict[str, str]) -> None:
    """Was a hole, now closed.

    ``MAP(zip, 1, '10001', 2)`` fails (duplicate key) exactly when zip = '10001'; the engine wraps
    it in TRY, so it is NULL there, and COUNT / CARDINALITY read the comparison's outcome. The MAP
    constructor's value is not marked as branching, so nothing records it."""
    collab = _collab(files)
    for sql in (
        "SELECT region, COUNT(MAP(zip, 1, '10001', 2)) AS n FROM people GROUP BY region",
        "SELECT region, SUM(CARDINALITY(MAP(zip, 1, '10002', 2))) AS n FROM people GROUP BY region",
        "SELECT region, CARDINALITY(MAP(zip, 1, '10002', 2)) AS c, COUNT(*) AS n FROM people GROUP BY 1, 2",
    ):
        assert _reason(collab, sql) == "comparison_not_allowed", sql


# == class 4: implicit casts in joins ================================================================
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT p.region, COUNT(*) FROM people p JOIN mine m ON p.uid = m.k GROUP BY p.region",
        "SELECT p.region, COUNT(*) FROM people p JOIN (SELECT k AS uid FROM mine) m USING (uid) GROUP BY 1",
        "SELECT p.region, COUNT(*) FROM people p NATURAL JOIN (SELECT k AS uid FROM mine) m GROUP BY 1",
        "SELECT p.region, COUNT(*) FROM people p JOIN mine m ON p.uid IN (m.k) GROUP BY p.region",
        "SELECT p.region, COUNT(*) FROM people p JOIN mine m ON p.uid BETWEEN m.k AND m.k GROUP BY p.region",
        "SELECT p.region, COUNT(*) FROM people p, mine m WHERE p.uid = m.k GROUP BY p.region",
        "SELECT p.region, COUNT(*) FROM people p JOIN mine m ON p.uid = COALESCE(m.k, 0 * m.k) GROUP BY 1",
        "SELECT p.region, COUNT(*) FROM people p JOIN mine m ON p.uid = m.s OR p.uid = m.k GROUP BY p.region",
        "SELECT p.region, COUNT(*) FROM people p JOIN people q ON p.uid = q.age GROUP BY p.region",
        "SELECT p.region, COUNT(*) FROM people p JOIN people q ON p.uid = q.day GROUP BY p.region",
    ],
)
def test_identity_compared_with_non_string_values_is_refused(files: dict[str, str], sql: str) -> None:
    assert _reason(_collab(files), sql) == "comparison_not_allowed"


def test_identity_joined_to_a_string_column_runs_without_casts(files: dict[str, str]) -> None:
    sql = "SELECT p.region, COUNT(*) AS n FROM people p JOIN mine m ON p.uid = m.s GROUP BY p.region"
    assert _run(_collab(files), sql) == []  # u1 and u2 are in big (2 people), u9 alone in tiny
    explicit = (
        "SELECT p.region, COUNT(*) AS n FROM people p JOIN mine m "
        "ON p.uid = CONCAT('u', CAST(m.k AS STRING)) "
        "GROUP BY p.region"
    )
    assert _reason(_collab(files), explicit) == "comparison_not_allowed"  # a literal mixed into the key


@pytest.mark.parametrize("kind", ["INTEGER", "BIGINT", "DOUBLE", "DATE", "BOOLEAN", "DECIMAL(10,0)", "BLOB"])
def test_non_string_identity_columns_are_refused(files: dict[str, str], kind: str) -> None:
    columns = {**COLUMNS, "uid": kind}
    verdict = enforce(
        Request(R, "SELECT region, COUNT(*) FROM people GROUP BY region"),
        _collab(files, columns=columns),
    )
    assert verdict.reason == "other" and "string" in verdict.message


def test_was_a_hole_struct_field_hides_the_type_of_an_identity_join(
    files: dict[str, str], tmp_path: Path
) -> None:
    """Was a hole, now closed.

    ``NAMED_STRUCT('a', m.k).a`` is an INTEGER the binder types UNKNOWN, so the join of the
    string identity to it is not refused; DuckDB then casts uid to INTEGER. With numeric-looking ids,
    '7', '07' and '007' (three people) all equal 7; with any non-numeric id the query fails."""
    rows = [_person(u, "r7", "1", 30, 1.0) for u in ("7", "07", "007")] + [_person("u9", "tiny", "9", 1, 1.0)]
    people = _write(tmp_path / "numeric.parquet", rows)
    collab = _collab(files, people=people)
    sql = (
        "SELECT p.region, COUNT(*) AS n FROM people p JOIN mine m ON p.uid = NAMED_STRUCT('a', m.k).a "
        "GROUP BY p.region"
    )
    plain = sql.replace("NAMED_STRUCT('a', m.k).a", "m.k")
    assert _reason(collab, plain) == "comparison_not_allowed"
    assert _reason(collab, sql) == "comparison_not_allowed", (
        f"ran with an implicit cast: {_outcome(collab, sql)}"
    )


def test_was_a_hole_uuid_identity_join_counts_the_queriers_column(
    files: dict[str, str], tmp_path: Path
) -> None:
    """Was a hole, now closed.

    a UUID identity column passes as a string type, so ``ON p.uid = m.s`` with m.s VARCHAR is
    taken as a cast-free equality, and the hidden count may be taken on m.s (the query already counts
    it). DuckDB casts m.s to UUID, so upper- and lower-case spellings of one UUID are one partner
    identity but two querier values: a row backed by 2 partner identities passes a minimum of 3."""
    ids = [f"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1{i}" for i in range(2)]
    con = duckdb.connect()
    partner = tmp_path / "partner.parquet"
    querier = tmp_path / "querier.parquet"
    con.execute("CREATE TABLE p (uid UUID, region VARCHAR)")
    con.executemany("INSERT INTO p VALUES (?::UUID, 'x')", [[u] for u in ids])
    con.execute(f"COPY p TO '{partner}' (FORMAT parquet)")
    con.execute("CREATE TABLE q (s VARCHAR)")
    con.executemany("INSERT INTO q VALUES (?)", [[v] for u in ids for v in (u, u.upper())])
    con.execute(f"COPY q TO '{querier}' (FORMAT parquet)")
    con.close()
    p_columns, q_columns = {"uid": "UUID", "region": "VARCHAR"}, {"s": "VARCHAR"}
    threshold = _policy(controls=False, disallowed=("uid",))
    open_rule = {"custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [R]}}
    tables = {
        "p": Table("p", A, p_columns, parse_policy(threshold, columns=list(p_columns)), data=str(partner)),
        "q": Table("q", R, q_columns, parse_policy(open_rule, columns=list(q_columns)), data=str(querier)),
    }
    collab = Collaboration("SPARK", {R: frozenset({"CAN_QUERY"}), A: frozenset()}, tables)
    sql = "SELECT p.region, COUNT(DISTINCT q.s) AS k FROM p JOIN q ON p.uid = q.s GROUP BY p.region"
    try:
        rows = _run(collab, sql)
    except (QueryRejected, DataError):
        return
    assert rows == [], f"a row backed by {len(ids)} partner identities passed a minimum of 3: {rows}"


# == class 5: threshold laundering ==================================================================
def _thresholded(path: str, keys: str, select: str = "") -> list[Row]:
    items = f"{keys}{', ' + select if select else ''}"
    return _faithful(path, f"SELECT {items} FROM people GROUP BY {keys} HAVING COUNT(DISTINCT uid) >= 3")


def test_exempt_column_grouped_with_another_key_keeps_the_minimum(files: dict[str, str]) -> None:
    """region is exempt (override 0); a hidden second grouping key makes one group per zip and region."""
    rows = _run(_collab(files, EXEMPT_REGION), "SELECT region FROM people GROUP BY region, zip")
    expected = [(r,) for r, _z in _thresholded(files["people"], "region, zip")]
    assert sorted(rows) == sorted(expected) == [("big",), ("mid",)]


def test_exempt_column_grouped_per_identity_keeps_the_minimum(files: dict[str, str]) -> None:
    """Grouping the exempt column by uid (directly, or in a derived table) lists one row per person."""
    collab = _collab(files, EXEMPT_REGION)
    for sql in (
        "SELECT region FROM people GROUP BY region, uid",
        "SELECT region FROM (SELECT region, uid FROM people GROUP BY region, uid) s",
        "SELECT DISTINCT region FROM (SELECT region, uid FROM people GROUP BY region, uid) s",
        "SELECT region, COUNT(*) AS n FROM (SELECT DISTINCT region, uid FROM people) s GROUP BY region",
    ):
        assert ("tiny",) not in [r[:1] for r in _run(collab, sql)], sql
    # ... while the documented exemption still lists every region
    assert _run(collab, "SELECT DISTINCT region FROM people") == [("big",), ("mid",), ("tiny",)]


def test_cte_aggregates_collected_into_one_row_only_hold_released_groups(files: dict[str, str]) -> None:
    """Per-zip counts computed in a CTE and gathered into one final row: zip 99999 (one person) and
    10002 (mid plus u10, 4 people) -- only groups with 3 people may be read downstream."""
    collab = _collab(files, THRESHOLD_ONLY)
    sql = (
        "WITH c AS (SELECT zip, COUNT(*) AS n, SUM(age) AS a FROM people GROUP BY zip) "
        "SELECT COLLECT_LIST(n) AS ns, SUM(a) AS ages, COUNT(*) AS k FROM c"
    )
    groups = _thresholded(files["people"], "zip", "COUNT(*), SUM(age)")
    (row,) = _run(collab, sql)
    assert sorted(row[0]) == sorted(n for _z, n, _a in groups) == [5, 7]
    assert row[1:] == (sum(a for *_, a in groups), len(groups))


def test_windows_in_ctes_must_stay_within_one_identity(files: dict[str, str]) -> None:
    collab = _collab(files, THRESHOLD_ONLY)
    across = (
        "WITH c AS (SELECT region, COUNT(*) OVER (PARTITION BY region) AS n FROM people) "
        "SELECT n, COUNT(*) FROM c GROUP BY n"
    )
    assert _reason(collab, across) == "disallowed_construct"
    unpartitioned = (
        "WITH c AS (SELECT region, LAG(age) OVER (ORDER BY age) AS prev FROM people) "
        "SELECT region, COUNT(*) FROM c GROUP BY region"
    )
    assert _reason(collab, unpartitioned) == "disallowed_construct"
    ordered = (
        "WITH c AS (SELECT region, uid, SUM(amount) OVER (PARTITION BY uid) AS total FROM people) "
        "SELECT region, COUNT(*) AS n FROM c GROUP BY region"
    )
    assert _run(collab, ordered) == _thresholded(files["people"], "region", "COUNT(*)")


def test_distinct_in_a_cte_meets_the_threshold_before_it_is_read(files: dict[str, str]) -> None:
    collab = _collab(files, THRESHOLD_ONLY)
    (row,) = _run(
        collab, "WITH c AS (SELECT DISTINCT zip FROM people) SELECT COLLECT_LIST(zip) AS z, COUNT(*) FROM c"
    )
    assert sorted(row[0]) == sorted(z for (z,) in _thresholded(files["people"], "zip"))
    _no_canary([row])


def test_union_in_a_cte_is_refused_and_union_all_keeps_small_branches_small(files: dict[str, str]) -> None:
    collab = _collab(files, THRESHOLD_ONLY)
    union = "WITH c AS (SELECT zip FROM people UNION SELECT region FROM people) SELECT COUNT(*) FROM c"
    assert _reason(collab, union) == "disallowed_construct"
    union_all = (
        "WITH c AS (SELECT region, uid FROM people WHERE region = 'tiny' "
        "UNION ALL SELECT region, uid FROM people WHERE region = 'mid') "
        "SELECT region, COUNT(*) AS n FROM c GROUP BY region"
    )
    assert _run(collab, union_all) == [("mid", 4)]


def test_aggregated_cte_read_by_a_grouped_final_select_keeps_both_thresholds(files: dict[str, str]) -> None:
    """A CTE per (region, zip) re-grouped by region: its small groups are gone before the final SELECT
    reads them (big/10002 is u10 alone, tiny is u9 alone), and the final groups meet the minimum too."""
    collab = _collab(files, THRESHOLD_ONLY)
    sql = (
        "WITH c AS (SELECT region, zip, MAX(age) AS oldest FROM people GROUP BY region, zip) "
        "SELECT region, MAX(oldest) AS m, COUNT(*) AS k FROM c GROUP BY region"
    )
    expected = _faithful(
        files["people"],
        "WITH c AS (SELECT region, zip, MAX(age) AS oldest, LIST(DISTINCT uid) AS ids FROM people "
        "GROUP BY region, zip HAVING COUNT(DISTINCT uid) >= 3) "
        "SELECT region, MAX(oldest), COUNT(*) FROM c GROUP BY region "
        "HAVING LEN(LIST_DISTINCT(FLATTEN(LIST(ids)))) >= 3",
    )
    assert _run(collab, sql) == expected == [("big", 50, 1), ("mid", 40, 1)]


# == class 6: error oracles =========================================================================
def _outcome(collab: Collaboration, sql: str) -> tuple[str, Any]:
    try:
        return "rows", _run(collab, sql)
    except QueryRejected as exc:
        return "refused", str(exc.verdict.reason)
    except DataError as exc:
        return "failed", exc.code


def _perturbed(files: dict[str, str], tmp_path: Path, extra: Sequence[Row]) -> dict[str, str]:
    """D (the fixture) and D': the same data plus rows of the small group only."""
    return {"D": files["people"], "D'": _write(tmp_path / "perturbed.parquet", [*PEOPLE, *extra])}


def _same_outcome(files: dict[str, str], policy: dict[str, Any], data: dict[str, str], sql: str) -> None:
    outcomes = {name: _outcome(_collab(files, policy, people=path), sql) for name, path in data.items()}
    assert outcomes["D"] == outcomes["D'"], outcomes


@pytest.mark.parametrize(
    ("sql", "extra"),
    [
        # a text-to-number cast that fails only on the small group's value
        (
            "SELECT region, COUNT(*) AS n FROM people WHERE CAST(zip AS INT) > 0 GROUP BY region",
            [_person("u9", "tiny", "9x9", 99, -7.0)],
        ),
        # a division by zero only in the small group
        (
            "SELECT region, SUM(10 / (age - 99)) AS s FROM people GROUP BY region",
            [_person("u9", "tiny", "99999", 99, -7.0)],
        ),
        # a date parse only the small group's value breaks
        (
            "SELECT region, COUNT(TO_DATE(zip)) AS n FROM people GROUP BY region",
            [_person("u9", "tiny", "2024-13-45", 99, -7.0)],
        ),
        # a duplicate map key only in the small group
        (
            "SELECT region, COUNT(MAP(zip, 1, region, 2)) AS n FROM people GROUP BY region",
            [_person("u9", "tiny", "tiny", 99, -7.0)],
        ),
        # invalid base64 only in the small group
        (
            "SELECT region, COUNT(UNBASE64(zip)) AS n FROM people GROUP BY region",
            [_person("u9", "tiny", "!!!", 99, -7.0)],
        ),
        # an integer overflow only in the small group
        (
            "SELECT region, SUM(age * 10000000000000000) AS s FROM people GROUP BY region",
            [_person("u9", "tiny", "99999", 999, -7.0)],
        ),
        # an invalid JSON document only in the small group
        (
            "SELECT region, COUNT(get_json_object(zip, '$.a')) AS n FROM people GROUP BY region",
            [_person("u9", "tiny", "{not json", 99, -7.0)],
        ),
    ],
)
def test_failures_do_not_depend_on_suppressed_rows(
    files: dict[str, str], tmp_path: Path, sql: str, extra: list[Row]
) -> None:
    _same_outcome(files, THRESHOLD_ONLY, _perturbed(files, tmp_path, extra), sql)


def test_an_error_in_a_having_expression_sees_only_released_groups(
    files: dict[str, str], tmp_path: Path
) -> None:
    """``10 / (COUNT(*) - 2)`` divides by zero only for a group of 2 rows (tiny, once u9 has 2 rows)."""
    sql = "SELECT region, COUNT(*) AS n FROM people GROUP BY region HAVING 10 / (COUNT(*) - 2) > 0"
    data = _perturbed(files, tmp_path, [_person("u9", "tiny", "99999", 99, -7.0)])
    _same_outcome(files, THRESHOLD_ONLY, data, sql)
    assert _outcome(_collab(files, THRESHOLD_ONLY, people=data["D'"]), sql) == (
        "rows",
        [("big", 8), ("mid", 4)],
    )


def test_was_a_hole_lpad_with_empty_padding_fails_on_short_values(
    files: dict[str, str], tmp_path: Path
) -> None:
    """Was a hole, now closed.

    ``LPAD(zip, 5, '')`` raises "Insufficient padding" for a zip shorter than 5; LPAD is neither
    branching nor comparing in ``functions``, so it is not TRY-wrapped. Whether the query fails then
    tells whether the suppressed tiny group holds a short zip -- under full comparison controls, where
    zip may not even be compared with a literal."""
    sql = "SELECT region, COUNT(LPAD(zip, 5, '')) AS n FROM people WHERE region = 'tiny' GROUP BY region"
    data = _perturbed(files, tmp_path, [_person("u9", "tiny", "999", 99, -7.0)])
    _same_outcome(files, FULL, data, sql)


def test_was_a_hole_aggregate_overflow_in_a_suppressed_group_fails_the_query(
    files: dict[str, str], tmp_path: Path
) -> None:
    """Was a hole, now closed.

    SUM over a DECIMAL(38, 0) column overflows (an aggregate error, outside TRY) in a group the
    threshold then drops: one extra row of the lone person in group tiny makes the whole query fail,
    even under COLUMNS_ONLY and full comparison controls."""
    columns = {**COLUMNS, "big": "DECIMAL(38,0)"}
    base = [(*row, 1) for row in PEOPLE[:-1]] + [(*PEOPLE[-1], 6 * 10**37)]
    d = _write(tmp_path / "d.parquet", base, columns)
    d2 = _write(tmp_path / "d2.parquet", [*base, (*PEOPLE[-1], 6 * 10**37)], columns)
    policy = _policy(columns_only=True)
    sql = "SELECT region, SUM(big) AS s FROM people GROUP BY region"
    outcomes = {
        name: _outcome(_collab(files, policy, people=path, columns=columns), sql)
        for name, path in (("D", d), ("D'", d2))
    }
    # Closed by refusing SUM / AVG of a DECIMAL wider than 18 digits (an aggregate cannot be TRY-wrapped):
    # the outcome is the same refusal on D and D', so it says nothing about the dropped group.
    assert outcomes["D"] == outcomes["D'"] == ("refused", "disallowed_construct"), outcomes


# == beyond the classes ==============================================================================
def test_was_a_hole_extract_unit_injects_sql_on_clean_rooms_sql(files: dict[str, str]) -> None:
    """Was a hole (critical), now closed.

    on CLEAN_ROOMS_SQL, the unit of EXTRACT / DATE_PART is a quoted identifier whose
    text sqlglot writes into the DuckDB statement verbatim (``_setting`` accepts any keyword when the
    dialect has no unit list). The text below closes the call and adds a scalar subquery over the
    whole table: every disallowed email comes back."""
    collab = _collab(
        files, _policy(threshold=False, controls=False, disallowed=("email",)), engine="CLEAN_ROOMS_SQL"
    )
    unit = "EPOCH FROM __t0.day)), (SELECT STRING_AGG(email, ',') FROM people) AS leak, TRY(EXTRACT(EPOCH"
    for sql in (
        f'SELECT EXTRACT("{unit}" FROM day) AS d FROM people',
        f'SELECT DATE_PART("{unit}", day) AS d FROM people',
    ):
        try:
            rows = _run(collab, sql)
        except (QueryRejected, DataError):
            continue
        _no_canary(rows)


def test_was_a_hole_extract_unit_injection_bypasses_the_aggregation_rule(tmp_path: Path) -> None:
    """Was a hole (critical), now closed.

    the same injection through an aggregation rule that lists EXTRACT: email is in
    no list of the rule (``disallowed_column``), yet all emails come back in one released group."""
    columns = {
        "user_id": "VARCHAR",
        "email": "VARCHAR",
        "campaign": "VARCHAR",
        "amount": "DOUBLE",
        "day": "DATE",
    }
    rows = [(f"u{i}", f"mail-{i}@x", "c", 1.0, "2024-01-01") for i in range(5)]
    data = _write(tmp_path / "agg.parquet", rows, columns)
    policy = {
        "aggregation": {
            "aggregateColumns": [{"columnNames": ["amount"], "function": "SUM"}],
            "joinColumns": ["user_id"],
            "dimensionColumns": ["campaign", "day"],
            "scalarFunctions": ["EXTRACT"],
            "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}],
        }
    }
    table = Table("purchases", R, columns, parse_policy(policy, columns=list(columns)), data=data)
    collab = Collaboration("CLEAN_ROOMS_SQL", {R: frozenset({"CAN_QUERY"})}, {"purchases": table})
    unit = (
        "EPOCH FROM DATE '2024-01-01')) || (SELECT STRING_AGG(email, ',') FROM purchases) "
        "|| TRY(0 * EXTRACT(EPOCH"
    )
    sql = (
        f'SELECT EXTRACT("{unit}" FROM day) AS y, SUM(amount) AS s FROM purchases '
        f'GROUP BY EXTRACT("{unit}" FROM day)'
    )
    assert enforce(Request(R, "SELECT email, SUM(amount) FROM purchases GROUP BY email"), collab).reason == (
        "disallowed_column"
    )
    try:
        got = _run(collab, sql)
    except (QueryRejected, DataError):
        return
    _no_canary(got)


def test_was_a_hole_nan_parameter_becomes_a_column_reference(files: dict[str, str], tmp_path: Path) -> None:
    """Was a hole, now closed.

    a DOUBLE parameter ``NaN`` (also ``Infinity``, ``sNaN1``) is bound as ``Literal.number('NaN')``,
    which DuckDB reads as an identifier: ``amount > NaN`` compares amount with a column named ``nan``,
    a column the binder never saw (here disallowed and not comparable). A faithful engine compares with
    the number NaN (no row is greater) or refuses the value."""
    columns = {**COLUMNS, "nan": "DOUBLE"}
    rows = [(*row, 1000.0 if row[0] in ("u0", "u1", "u2", "u3") else -1000.0) for row in PEOPLE]
    data = _write(tmp_path / "nan.parquet", rows, columns)
    policy = _policy(disallowed=("email", "uid", "nan"), templates=("arn:tmpl/floor",))
    policy["custom"]["comparisonControls"]["allowedLiteralComparisonColumns"].append("amount")
    collab = _collab(files, policy, people=data, columns=columns)
    template = Template(
        "floor",
        "SELECT region, COUNT(*) AS n FROM people WHERE amount < :floor GROUP BY region",
        [Parameter("floor", "DOUBLE", "0")],
        "arn:tmpl/floor",
        R,
    )
    try:
        got = sorted(execute(check(request_for(template, R, {"floor": "NaN"}), collab)).rows)
    except (QueryRejected, DataError):
        return
    faithful = _faithful(
        data,
        "SELECT region, COUNT(*) FROM people WHERE amount < CAST('NaN' AS DOUBLE) GROUP BY region "
        "HAVING COUNT(DISTINCT uid) >= 3",
    )
    assert got == faithful, f"the hidden column nan decided the rows: {got}"


def test_was_a_hole_columns_only_accepts_an_aggregate_of_a_per_user_count(files: dict[str, str]) -> None:
    """Was a hole, now closed.

    8.6.6 says ``AVG(n)`` over a per-user ``COUNT(*) AS n`` is refused under COLUMNS_ONLY; the
    binder gives COUNT(*) (no data argument) a constant Value, and constants pass C6."""
    collab = _collab(files, _policy(columns_only=True))
    sql = (
        "WITH per AS (SELECT uid, COUNT(*) AS n FROM people GROUP BY uid) "
        "SELECT AVG(n) AS a, COUNT(*) AS k FROM per"
    )
    assert _reason(collab, sql) == "aggregate_expression_not_allowed"
