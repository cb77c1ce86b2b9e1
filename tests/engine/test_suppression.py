"""S7: groups below the minimum vanish silently; the surviving groups are computed independently.

Fixture: purchases has regions with 5, 3, 2 and 1 distinct people (some with several rows), and
impressions covers part of those people; each expectation is recomputed in plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pytest
from engines import engine_fixture, run_on  # noqa: F401 (the engine fixture)

from reconciler.engine import Collaboration, Request, Table, check, parse_policy

R, A = "111111111111", "222222222222"
# (person, region, amount): region a has 5 people, b 3 (6 rows), c 2 (4 rows), d 1.
PURCHASES = (
    [(f"p{i}", "a", 10.0 + i) for i in range(5)]
    + [(f"p{i}", "b", 1.0) for i in (5, 6, 7, 5, 6, 7)]
    + [(f"p{i}", "c", 2.0) for i in (8, 9, 8, 9)]
    + [("p10", "d", 7.0)]
    + [(None, "a", 100.0)]
)
# (person, channel): web sees p0..p4 and p5; tv sees p5, p6, p8.
IMPRESSIONS = [(f"p{i}", "web") for i in range(6)] + [("p5", "tv"), ("p6", "tv"), ("p8", "tv")]


def _threshold(minimum: int, overrides: dict[str, int] | None = None) -> dict[str, Any]:
    threshold: dict[str, Any] = {
        "identityColumns": ["person"],
        "minimumIdentityCount": minimum,
        "type": "COUNT_DISTINCT",
        "allowedAggregateExpressionType": "ANY_EXPRESSION",
    }
    if overrides:
        threshold["outputColumnThresholds"] = [
            {"outputColumnName": k, "minimumIdentityCount": v} for k, v in overrides.items()
        ]
    return {
        "custom": {
            "allowedAnalyses": ["ANY_QUERY"],
            "allowedAnalysisProviders": [R],
            "aggregationThresholds": [threshold],
        }
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("suppression")
    con = duckdb.connect()
    out = {}
    for name, columns, rows in (
        ("purchases", "person VARCHAR, region VARCHAR, amount DOUBLE", PURCHASES),
        ("impressions", "person VARCHAR, channel VARCHAR", IMPRESSIONS),
    ):
        con.execute(f"CREATE TABLE {name} ({columns})")
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        out[name] = str(path / f"{name}.parquet")
        con.execute(f"COPY {name} TO '{out[name]}' (FORMAT parquet)")
    return out


def _collab(
    files: dict[str, str], purchases: dict[str, Any], impressions: dict[str, Any] | None = None
) -> Collaboration:
    p_cols = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE"}
    i_cols = {"person": "VARCHAR", "channel": "VARCHAR"}
    tables = {"purchases": Table("purchases", R, p_cols, parse_policy(purchases), data=files["purchases"])}
    tables["impressions"] = Table(
        "impressions", A, i_cols, parse_policy(impressions or _threshold(2)), data=files["impressions"]
    )
    return Collaboration("SPARK", {R: frozenset({"CAN_QUERY"}), A: frozenset()}, tables)


def _run(engine: str, collab: Collaboration, sql: str) -> list[tuple[Any, ...]]:
    return sorted(run_on(engine, check(Request(R, sql), collab)).rows, key=repr)


def _people_by(key_index: int, rows: list[tuple[Any, ...]]) -> dict[Any, set[str]]:
    groups: dict[Any, set[str]] = defaultdict(set)
    for row in rows:
        groups[row[key_index]]
        if row[0] is not None:
            groups[row[key_index]].add(row[0])
    return groups


def test_groups_below_the_minimum_vanish(files: dict[str, str], engine: str) -> None:
    got = _run(
        engine, _collab(files, _threshold(3)), "SELECT region, COUNT(*) AS n FROM purchases GROUP BY region"
    )
    people = _people_by(1, PURCHASES)
    rows_per_region = defaultdict(int)
    for _, region, _ in PURCHASES:
        rows_per_region[region] += 1
    expected = sorted(((r, rows_per_region[r]) for r, p in people.items() if len(p) >= 3), key=repr)
    assert got == expected
    assert {r for r, _ in got} == {"a", "b"}  # c (2 people) and d (1 person) are gone


def test_aggregation_rule_output_constraint_suppresses_the_same_way(files: dict[str, str]) -> None:
    policy = {
        "aggregation": {
            "aggregateColumns": [{"columnNames": ["amount"], "function": "SUM"}],
            "joinColumns": ["person"],
            "dimensionColumns": ["region"],
            "scalarFunctions": [],
            "outputConstraints": [{"columnName": "person", "minimum": 2, "type": "COUNT_DISTINCT"}],
        }
    }
    collab = _collab(files, policy, policy)
    collab = Collaboration("CLEAN_ROOMS_SQL", collab.abilities, {"purchases": collab.tables["purchases"]})
    got = _run(
        "duckdb",
        collab,  # CLEAN_ROOMS_SQL: DuckDB only
        "SELECT region, SUM(amount) FROM purchases GROUP BY region",
    )
    sums: dict[str, float] = defaultdict(float)
    for _, region, amount in PURCHASES:
        sums[region] += amount
    people = _people_by(1, PURCHASES)
    assert got == sorted(((r, sums[r]) for r in sums if len(people[r]) >= 2), key=repr)


def test_an_override_of_zero_exempts_only_that_column(files: dict[str, str], engine: str) -> None:
    collab = _collab(files, _threshold(3, {"region": 0}))
    assert _run(engine, collab, "SELECT DISTINCT region FROM purchases") == [("a",), ("b",), ("c",), ("d",)]
    assert {r for r, _ in _run(engine, collab, "SELECT region, COUNT(*) FROM purchases GROUP BY region")} == {
        "a",
        "b",
    }


def test_an_override_can_raise_the_bar(files: dict[str, str], engine: str) -> None:
    collab = _collab(files, _threshold(2, {"region": 4}))
    assert {
        r for r, _ in _run(engine, collab, "SELECT region, SUM(amount) FROM purchases GROUP BY region")
    } == {"a"}


def test_a_cte_that_drops_the_identity_still_carries_contributors(files: dict[str, str], engine: str) -> None:
    sql = "WITH c AS (SELECT region, COUNT(*) AS n FROM purchases GROUP BY region) SELECT * FROM c"
    got = _run(engine, _collab(files, _threshold(3)), sql)
    assert [r for r, _ in got] == ["a", "b"]
    assert all(not str(c).startswith("__cr_") for row in got for c in row)


def test_join_needs_each_tables_minimum(files: dict[str, str], engine: str) -> None:
    collab = _collab(files, _threshold(3), _threshold(2))
    sql = (
        "SELECT i.channel, p.region, COUNT(*) FROM purchases p JOIN impressions i ON p.person = i.person "
        "GROUP BY i.channel, p.region"
    )
    joined = [(p, r, ch) for (p, r, _) in PURCHASES for (q, ch) in IMPRESSIONS if p is not None and p == q]
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for person, region, channel in joined:
        groups[(channel, region)].append(person)
    expected = sorted(((ch, r, len(ps)) for (ch, r), ps in groups.items() if len(set(ps)) >= 3), key=repr)
    assert _run(engine, collab, sql) == expected
    assert expected  # the fixture keeps at least one group


def test_outer_join_rows_without_the_other_side_are_suppressed(files: dict[str, str], engine: str) -> None:
    collab = _collab(files, _threshold(2), _threshold(2))
    sql = (
        "SELECT i.channel, COUNT(*) FROM purchases p LEFT JOIN impressions i ON p.person = i.person "
        "GROUP BY i.channel"
    )
    assert {c for c, _ in _run(engine, collab, sql)} == {
        "web",
        "tv",
    }  # the NULL channel group has no impressions people


def test_union_branches_are_thresholded_separately(files: dict[str, str], engine: str) -> None:
    sql = (
        "SELECT region AS k, COUNT(*) AS n FROM purchases GROUP BY region "
        "UNION ALL SELECT channel, COUNT(*) FROM impressions GROUP BY channel"
    )
    got = _run(engine, _collab(files, _threshold(3), _threshold(3)), sql)
    assert {k for k, _ in got} == {"a", "b", "web", "tv"}


def test_limit_and_windows_see_only_surviving_groups(files: dict[str, str], engine: str) -> None:
    collab = _collab(files, _threshold(3))
    # a and b both have 6 rows: the tie-break on region makes the one row LIMIT keeps deterministic.
    sql = "SELECT region, COUNT(*) AS n FROM purchases GROUP BY region ORDER BY n, region DESC LIMIT 1"
    assert _run(engine, collab, sql) == [("b", 6)]
    totals = _run(
        engine, collab, "SELECT region, SUM(COUNT(*)) OVER () AS total FROM purchases GROUP BY region"
    )
    assert totals == [("a", 12), ("b", 12)]  # 6 rows in a, 6 in b; c and d never counted


def test_everything_suppressed_gives_an_empty_result_with_columns(files: dict[str, str], engine: str) -> None:
    result = run_on(
        engine,
        check(
            Request(R, "SELECT region, COUNT(*) AS n FROM purchases GROUP BY region"),
            _collab(files, _threshold(50)),
        ),
    )
    assert result.rows == () and result.columns == ("region", "n")


def test_row_level_final_select_returns_nothing_under_a_threshold(files: dict[str, str], engine: str) -> None:
    assert _run(engine, _collab(files, _threshold(2)), "SELECT region, amount FROM purchases") == []


def test_single_table_count_is_exempt_as_documented(files: dict[str, str], engine: str) -> None:
    collab = _collab(files, _threshold(3))
    assert _run(engine, collab, "SELECT COUNT(*) FROM purchases WHERE region = 'd'") == [(1,)]
    assert (
        _run(engine, collab, "SELECT region, COUNT(*) FROM purchases WHERE region = 'd' GROUP BY region")
        == []
    )
