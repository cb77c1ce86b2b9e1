"""DP queries: what is refused (and why), bounding, clamping, reproducibility, post-processing."""

from __future__ import annotations

import pytest
from dp_helpers import analyze, connect, run

from reconciler.dp import AggregateType
from reconciler.errors import QueryRejected

DP = {"purchases": "user_id"}

PURCHASES = (
    "SELECT 'u' || (i % 1000) AS user_id, ['east', 'west'][1 + (i // 1000) % 2] AS region, "
    "((i * 7) % 50)::DOUBLE AS amount FROM range(3000) t(i)"
)
SEGMENTS = "SELECT 'u' || i AS user_id, i % 2 AS seg FROM range(1000) t(i)"


def _analyze(sql: str, dp: dict[str, str] = DP):  # type: ignore[no-untyped-def]
    return analyze(connect(purchases=PURCHASES, segs=SEGMENTS, visits=SEGMENTS), sql, dp)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT MIN(amount) FROM purchases", "MIN is not a differentially private aggregate"),
        ("SELECT MEDIAN(amount) FROM purchases", "MEDIAN is not a differentially private aggregate"),
        ("SELECT SUM(DISTINCT amount) FROM purchases", "SUM(DISTINCT ...) is not supported"),
        ("SELECT user_id, COUNT(*) FROM purchases GROUP BY user_id", "grouping by the user identifier"),
        (
            "SELECT region, COUNT(*), user_id FROM purchases GROUP BY region",
            "may not output the user identifier",
        ),
        ("SELECT region, amount, COUNT(*) FROM purchases GROUP BY region", "must appear in GROUP BY"),
        ("SELECT region FROM purchases", "must aggregate"),
        ("SELECT COUNT(*) FROM purchases UNION SELECT COUNT(*) FROM purchases", "set operators"),
        ("SELECT COUNT(*) FROM purchases WHERE amount > (SELECT 1)", "subqueries are supported only"),
        ("SELECT COUNT(*) FROM purchases WHERE user_id IN (SELECT user_id FROM segs)", "subqueries"),
        ("SELECT region, COUNT(*) OVER () FROM purchases", "window functions"),
        ("SELECT region, COUNT(*) FROM purchases GROUP BY ROLLUP (region)", "ROLLUP / CUBE / GROUPING SETS"),
        ("SELECT * FROM purchases", "must aggregate"),
        ("SELECT *, COUNT(*) FROM purchases", "may not output the user identifier"),
        (
            "WITH c AS (SELECT region FROM purchases) SELECT COUNT(*) FROM c",
            "does not output the user identifier",
        ),
        (
            "WITH c AS (SELECT user_id, region, SUM(amount) s FROM purchases "
            "GROUP BY region, user_id LIMIT 5) "
            "SELECT COUNT(*) FROM c",
            "LIMIT is not supported",
        ),
        (
            "WITH c AS (SELECT user_id, SUM(amount) AS s FROM purchases GROUP BY region, user_id HAVING 1=1) "
            "SELECT SUM(s) FROM c",
            None,
        ),
        (
            "WITH c AS (SELECT MAX(user_id) user_id, region FROM purchases GROUP BY region) "
            "SELECT COUNT(*) FROM c",
            "does not output the user identifier column 'user_id' (as a plain column)",
        ),
        (
            "WITH c AS (SELECT user_id, region FROM purchases) SELECT c.region, COUNT(*) FROM c "
            "CROSS JOIN purchases p GROUP BY c.region",
            "joined INNER with an equality",
        ),
        (
            "WITH c AS (SELECT CONCAT(user_id, '') AS user_id, amount FROM purchases) "
            "SELECT SUM(amount) FROM c",
            "does not output the user identifier",
        ),
        ("SELECT COUNT(*) FROM purchases a JOIN purchases b ON a.region = b.region", "equality on user_id"),
        ("SELECT COUNT(*) FROM purchases a JOIN segs s USING (user_id)", None),
    ],
)
def test_sql_dp_cannot_answer_is_refused_with_the_reason(sql: str, reason: str | None) -> None:
    if reason is None:
        _analyze(sql)
        return
    with pytest.raises(QueryRejected) as info:
        _analyze(sql)
    assert reason in info.value.message
    assert info.value.verdict is not None
    assert info.value.verdict.reason == ("disallowed_construct" if "ROLLUP" in sql else "other")


def test_two_dp_tables_must_share_the_user_column() -> None:
    with pytest.raises(QueryRejected, match="same user identifier"):
        _analyze(
            "SELECT COUNT(*) FROM purchases p JOIN visits v ON p.user_id = v.user_id",
            {"purchases": "user_id", "visits": "seg"},
        )


def test_a_query_that_reads_no_dp_table_is_not_a_dp_query() -> None:
    with pytest.raises(AssertionError, match="not a DP query"):
        _analyze("SELECT seg, COUNT(*) FROM segs GROUP BY seg")


def test_each_distinct_aggregate_is_charged_once() -> None:
    query = _analyze(
        "SELECT region, COUNT(*) AS n, SUM(amount) / COUNT(*) AS avg_by_hand, COUNT(DISTINCT user_id) "
        "FROM purchases GROUP BY region HAVING COUNT(*) > 10 ORDER BY SUM(amount) DESC"
    )
    assert query.kinds == (AggregateType.COUNT, AggregateType.SUM, AggregateType.COUNT_DISTINCT)


def test_count_distinct_of_another_column_is_a_count() -> None:
    assert _analyze("SELECT COUNT(DISTINCT region) FROM purchases").kinds == (AggregateType.COUNT,)


def test_no_exact_values_and_groups_as_written() -> None:
    con = connect(purchases=PURCHASES)
    result = run(
        con,
        "SELECT region, COUNT(*) AS n, SUM(amount) AS s FROM purchases GROUP BY region ORDER BY region",
        1,
    )
    assert result.columns == ("region", "n", "s")
    assert [r[0] for r in result.rows] == ["east", "west"]
    exact = dict(con.execute("SELECT region, COUNT(*) FROM purchases GROUP BY region").fetchall())
    assert all(isinstance(r[1], int) and isinstance(r[2], float) for r in result.rows)
    cells = [c for c in result.audit if c.release == "count"]
    assert {c.group_key for c in cells} == {("east",), ("west",)}
    assert any(r[1] != exact[r[0]] for r in result.rows)
    assert not result.private


def test_heavy_user_contributes_at_most_ucl_rows() -> None:
    con = connect(purchases=PURCHASES + " UNION ALL SELECT 'whale', 'east', 49.0 FROM range(1000)")
    result = run(con, "SELECT COUNT(*) FROM purchases", 3)
    ucl = result.sensitivity_parameters[0]["userContributionLimit"]
    assert ucl < 1000
    (cell,) = [c for c in result.audit if c.release == "count"]
    assert cell.true_value == 1000 * min(3, ucl) + min(1000, ucl)  # 1000 users x 3 rows, plus the whale's UCL
    assert result.rows[0][0] == cell.true_value + cell.noise


def test_outlier_is_clamped_and_bounds_are_not_the_data_extreme() -> None:
    con = connect(purchases=PURCHASES + " UNION ALL SELECT 'rich', 'east', 1e9")
    result = run(con, "SELECT SUM(amount) AS s FROM purchases", 5)
    params = result.sensitivity_parameters[0]
    assert params["maxColumnValue"] < 1e9
    assert params["minColumnValue"] == -params["maxColumnValue"]  # one symmetric magnitude bound
    assert result.rows[0][0] < 1e6  # the outlier's 1e9 is clamped away


def test_duplicating_a_key_in_the_queriers_table_does_not_raise_a_users_weight() -> None:
    dup = SEGMENTS + " UNION ALL " + " UNION ALL ".join([SEGMENTS] * 9)  # each segment row 10 times
    once = connect(purchases=PURCHASES, segs=SEGMENTS)
    many = connect(purchases=PURCHASES, segs=dup)
    sql = "SELECT COUNT(*) FROM purchases p JOIN segs s ON p.user_id = s.user_id"
    a, b = run(once, sql, 9), run(many, sql, 9)
    ucl_b = b.sensitivity_parameters[0]["userContributionLimit"]
    (cell_b,) = [c for c in b.audit if c.release == "count"]
    assert cell_b.true_value <= 1000 * ucl_b  # bounding happens after the join
    assert a.sensitivity_parameters[0]["userContributionLimit"] <= ucl_b


def test_same_seed_same_answer_whatever_the_row_order() -> None:
    sql = "SELECT region, COUNT(*), SUM(amount), AVG(amount), STDDEV(amount) FROM purchases GROUP BY region"
    ordered = connect(purchases=PURCHASES + " ORDER BY amount")
    shuffled = connect(purchases=PURCHASES + " ORDER BY md5(user_id || amount::VARCHAR)")
    shuffled.execute("SET threads = 1")
    first = run(ordered, sql, 11)
    assert run(shuffled, sql, 11).rows == first.rows
    assert run(ordered, sql, 12).rows != first.rows
    assert run(ordered, sql, None).rows != run(ordered, sql, None).rows  # secure mode: never replayable


def test_having_order_and_limit_see_only_noisy_values() -> None:
    con = connect(purchases=PURCHASES)
    sql = (
        "SELECT region, COUNT(*) AS n FROM purchases GROUP BY region HAVING COUNT(*) > 0 "
        "ORDER BY n DESC LIMIT 1"
    )
    for seed in range(5):
        result = run(con, sql, seed)
        noisy = {c.group_key[0]: c.true_value + c.noise for c in result.audit if c.release == "count"}
        assert len(noisy) == 2
        assert result.rows == ((max(noisy, key=lambda g: noisy[g]), max(noisy.values())),)
    # Two regions of exactly the same size: the noisy winner changes from seed to seed.
    tied = connect(
        purchases="SELECT 'u' || i AS user_id, ['east', 'west'][1 + i % 2] AS region FROM range(4000) t(i)"
    )
    winners = {run(tied, sql, seed).rows[0][0] for seed in range(12)}
    assert winners == {"east", "west"}


def test_empty_groups_and_empty_tables_still_get_noise() -> None:
    con = connect(purchases=PURCHASES + " LIMIT 0")
    result = run(con, "SELECT COUNT(DISTINCT user_id) FROM purchases", 2)
    assert len(result.rows) == 1 and isinstance(result.rows[0][0], int)
    grouped = run(con, "SELECT region, COUNT(*) FROM purchases GROUP BY region", 2)
    assert grouped.rows == ()


def test_ctes_and_joins_with_the_queriers_table() -> None:
    con = connect(purchases=PURCHASES, segs=SEGMENTS)
    sql = (
        "WITH per_user AS (SELECT user_id, SUM(amount) AS spend FROM purchases GROUP BY user_id) "
        "SELECT s.seg, COUNT(DISTINCT p.user_id) AS users, AVG(p.spend) AS avg_spend "
        "FROM per_user p JOIN segs s ON p.user_id = s.user_id GROUP BY s.seg ORDER BY s.seg"
    )
    result = run(con, sql, 4)
    assert [r[0] for r in result.rows] == [0, 1]
    assert [p["aggregationType"] for p in result.sensitivity_parameters] == ["COUNT_DISTINCT", "AVG"]
    assert result.to_api()["sensitivityParameters"][1]["aggregationExpression"] == "AVG(p.spend)"


@pytest.mark.parametrize(
    "select", ["COUNT(DISTINCT user_id) AS users", "COUNT(DISTINCT user_id) AS users, SUM(amount) AS total"]
)
def test_template_parameters_are_bound_not_spliced(select: str) -> None:
    con = connect(purchases=PURCHASES)
    sql = f"SELECT region, {select} FROM purchases WHERE region = :region GROUP BY region"
    result = run(con, sql, 1, parameters={"region": "west"})
    assert [r[0] for r in result.rows] == ["west"]
    injected = run(con, sql, 1, parameters={"region": "west' OR '1'='1"})
    assert injected.rows == ()


def test_a_group_of_one_user_is_never_released_and_big_groups_are() -> None:
    """Group keys come from the data: a group is released only when its noisy count clears the
    partition-selection threshold, so a user alone in a group cannot be seen by its group's row."""
    loner = " UNION ALL SELECT 'loner', 'solo', 1.0"
    con = connect(purchases=PURCHASES + loner)
    for seed in range(20):
        result = run(con, "SELECT region, COUNT(*) AS n FROM purchases GROUP BY region", seed)
        assert sorted(r[0] for r in result.rows) == ["east", "west"]


def test_the_selection_reuses_a_distinct_user_count_and_charges_one_when_there_is_none() -> None:
    con = connect(purchases=PURCHASES)
    grouped = "FROM purchases GROUP BY region"
    distinct, count, total = AggregateType.COUNT_DISTINCT, AggregateType.COUNT, AggregateType.SUM
    assert analyze(con, f"SELECT region, COUNT(DISTINCT user_id) {grouped}").kinds == (distinct,)
    assert analyze(con, f"SELECT region, COUNT(*) {grouped}").kinds == (count, distinct)
    assert analyze(con, f"SELECT region, SUM(amount) {grouped}").kinds == (total, distinct)
    assert analyze(con, "SELECT SUM(amount) FROM purchases").kinds == (total,)
