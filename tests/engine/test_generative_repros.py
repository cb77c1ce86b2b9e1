"""Minimal reproductions of what the generative harness (test_generative.py) found, one per hole.

Each case runs through the same property as the generated examples (``generative.props``) on the
same planted fixture, so a fix that closes the class makes it pass without touching this file.
They are shrunk and then simplified by hand; the comment says what leaked against the engine as it
was when the harness was written (issue 11 classes in brackets).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from generative import plans, props

# (property, variant, SQL, what leaked)
SQL_CASES = [
    # P1: planted values reach the result
    (
        "p1",
        "recommended_columns_only",
        "SELECT COUNT(*) AS n, COLLECT_SET(t.region) AS r "
        "FROM purchases AS t(user_id, email, category, tier, amount, qty, code, pdate, region)",
        "every email: the derived column list names email 'region' [1]",
    ),
    (
        "p1",
        "disallowed_only",
        "SELECT DISTINCT t.c0 FROM purchases AS t(c0, c1, c2, c3, c4, c5, c6, c7, c8)",
        "every user_id under a fresh name from a derived column list [1]",
    ),
    (
        "p1",
        "disallowed_only",
        "SELECT MAX(t.c6) OVER (PARTITION BY t.c1) AS m, COUNT(*) OVER () AS n "
        "FROM impressions AS t(c0, c1, c2, c3, c4, c5, c6)",
        "devices through a window over a renamed column [1]",
    ),
    (
        "p1",
        "disallowed_only",
        "SELECT COUNT(*) AS n, COLLECT_SET(t.pv0) AS s "
        "FROM (SELECT * FROM (SELECT user_id, category, region, email FROM purchases) "
        "PIVOT (MAX(email) FOR region IN ('north' AS pv0, 'south' AS pv1))) AS t",
        "emails as PIVOT output columns [2]",
    ),
    (
        "p1",
        "disallowed_only",
        "SELECT COUNT(*) AS n, COLLECT_SET(t.val) AS s "
        "FROM (SELECT * FROM (SELECT user_id, region, email FROM purchases) "
        "UNPIVOT (val FOR col IN (email))) AS t",
        "emails as the UNPIVOT value column [2]",
    ),
    (
        "p1",
        "disallowed_only",
        "SELECT t.user_id FROM (SELECT * FROM (SELECT user_id, channel, device FROM impressions) "
        "UNPIVOT (val FOR col IN (channel, device))) AS t",
        "user_id passed through UNPIVOT untouched [2]",
    ),
    # P3: values of email/device (no comparison allowed) decide rows or groups
    (
        "p3",
        "recommended_columns_only",
        "SELECT t.region, COUNT(*) FROM purchases t "
        "WHERE CAST(LENGTH(t.email) - 15 AS BOOLEAN) GROUP BY t.region",
        "arithmetic cast to BOOLEAN filters on email's length [3]",
    ),
    (
        "p3",
        "recommended_any_expression",
        "SELECT t.region, COUNT(*) FROM purchases t JOIN impressions o "
        "ON t.user_id = o.user_id AND CAST(LENGTH(t.email) - 15 AS BOOLEAN) GROUP BY t.region",
        "the same cast in a join condition [3]",
    ),
    (
        "p3",
        "recommended_columns_only",
        "SELECT t.channel, COUNT(*) FROM impressions t GROUP BY t.channel "
        "HAVING CAST(LENGTH(CAST(MIN(t.device) AS STRING)) - 15 AS BOOLEAN)",
        "a boolean cast in HAVING over MIN(device) [3]",
    ),
    (
        "p3",
        "recommended_columns_only",
        "SELECT t.channel, COUNT(*) FROM impressions t GROUP BY t.channel, LENGTH(t.device) > 14",
        "GROUP BY a comparison of device splits groups by its length [3]",
    ),
    (
        "p3",
        "recommended_columns_only",
        "WITH w AS (SELECT *, SIGN(LENGTH(device) - 15) AS z FROM impressions) "
        "SELECT t.channel, COUNT(*) FROM w t GROUP BY t.channel, t.z",
        "SIGN of device's length computed in a CTE, grouped on [3]",
    ),
    (
        "p3",
        "recommended_any_expression",
        "SELECT t.channel, COUNT(*) FROM impressions t GROUP BY t.channel "
        "ORDER BY MIN(LENGTH(t.device)), 1, 2 LIMIT 1",
        "a sort key of device meeting a LIMIT picks the group [3]",
    ),
    (
        "p3",
        "recommended_any_expression",
        "SELECT t.campaign, COUNT(*) "
        "FROM impressions AS t(user_id, device, campaign, idate, cost, clicks, channel) "
        "WHERE t.channel BETWEEN 'A' AND 'M' GROUP BY t.campaign",
        "a literal comparison judged on 'channel' while it reads device [1]",
    ),
    (
        "p3",
        "recommended_any_expression",
        "WITH w AS (SELECT *, GET_JSON_OBJECT('{\"a\": 1}', CONCAT('$.', email)) AS z FROM purchases) "
        "SELECT t.region, COUNT(*) FROM w t GROUP BY t.region, t.z",
        "a JSON path keyed by email: answers or fails depending on the values [3, 6]",
    ),
    # P4: failing or not depends on rows of suppressed groups
    (
        "p4",
        "recommended_any_expression",
        "SELECT t.region, COUNT(*), SUM(t.qty DIV t.qty) FROM purchases t GROUP BY t.region",
        "division by zero in the rows of the suppressed regions (qty = 0) [6]",
    ),
    (
        "p4",
        "recommended_any_expression",
        "SELECT t.channel, COUNT(*), AVG(t.clicks * t.clicks) FROM impressions t GROUP BY t.channel",
        "INTEGER overflow in the rows of the suppressed channel [6]",
    ),
    (
        "p4",
        "recommended_columns_only",
        "SELECT t.region, COUNT(*) FROM purchases t "
        "WHERE CAST(UNBASE64(t.code) AS BOOLEAN) GROUP BY t.region",
        "a decoding failure in a WHERE, only on suppressed rows [6]",
    ),
    (
        "p4",
        "recommended_any_expression",
        "WITH w AS (SELECT region, SUM(qty DIV qty) AS f FROM purchases GROUP BY region) "
        "SELECT t.region, COUNT(*), SUM(t.f) FROM w t GROUP BY t.region",
        "an intermediate aggregate fails on a group that is suppressed later [5, 6]",
    ),
]

_COUNTS = "coalesce(len(list_distinct(flatten(list(__ids_0)))), 0)"
# (variant, engine SQL, oracle SQL ({p0}: purchases with its identity list __ids_0), output width, minimum,
#  what leaked)
PLAN_CASES = [
    (
        "recommended_any_expression",
        "SELECT p0.region, COUNT(*) "
        "FROM purchases AS p0(amount, region, category, tier, user_id, qty, code, pdate, email) "
        "GROUP BY p0.region",
        f"SELECT p0.region, COUNT(*), {_COUNTS} "
        "FROM {p0} AS p0(amount, region, category, tier, user_id, qty, code, pdate, email, __ids_0) "
        "GROUP BY p0.region",
        2,
        5,
        "isle4 (4 people) and isle2 (2): the threshold counts the column named user_id (amount) [1]",
    ),
    (
        "override_zero",
        "SELECT p0.region FROM purchases AS p0 GROUP BY p0.region, p0.user_id",
        f"SELECT p0.region, {_COUNTS} FROM {{p0}} AS p0 GROUP BY p0.region, p0.user_id",
        1,
        5,
        "one row per person and region: the exempt column grouped with the identity counts people [5]",
    ),
    (
        "recommended_any_expression",
        "WITH w AS (SELECT region, COUNT(*) AS n FROM purchases GROUP BY region) "
        "SELECT COUNT(*), MIN(w.n) FROM w",
        "WITH w AS (SELECT region, COUNT(*) AS n, list_distinct(flatten(list(__ids_0))) AS __ids_0 FROM {p0} "
        "AS purchases GROUP BY region HAVING len(list_distinct(flatten(list(__ids_0)))) >= 5) "
        f"SELECT COUNT(*), MIN(w.n), {_COUNTS} FROM w",
        2,
        5,
        "(7, 2): 7 regions, the smallest with 2 rows; CTE aggregates collected into one row [5]",
    ),
    (
        "thresholds_only",
        "WITH w AS (SELECT region, category, COUNT(*) AS n FROM purchases GROUP BY region, category) "
        "SELECT w.region, COUNT(*), MIN(w.n) FROM w GROUP BY w.region",
        "WITH w AS (SELECT region, category, COUNT(*) AS n, list_distinct(flatten(list(__ids_0))) AS __ids_0 "
        "FROM {p0} AS purchases GROUP BY region, category "
        "HAVING len(list_distinct(flatten(list(__ids_0)))) >= 5) "
        f"SELECT w.region, COUNT(*), MIN(w.n), {_COUNTS} FROM w GROUP BY w.region",
        3,
        5,
        "MIN(n) is the row count of a suppressed combination: (north, gems) 3, (south, tools) 2 [5]",
    ),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[props.Env]:
    e = props.make_env(tmp_path_factory.mktemp("repros"))
    yield e
    assert e.oracle is not None
    e.oracle.close()


@pytest.mark.parametrize(
    ("prop", "variant", "sql", "leaked"),
    SQL_CASES,
    ids=[f"{p}-{i}" for i, (p, *_) in enumerate(SQL_CASES)],
)
def test_sql_reproduction(env: props.Env, prop: str, variant: str, sql: str, leaked: str) -> None:
    getattr(props, prop)(env, variant, sql)


@pytest.mark.parametrize(
    ("variant", "sql", "oracle", "width", "minimum", "leaked"),
    PLAN_CASES,
    ids=[f"p2-{i}" for i in range(len(PLAN_CASES))],
)
def test_threshold_reproduction(
    env: props.Env, variant: str, sql: str, oracle: str, width: int, minimum: int, leaked: str
) -> None:
    base = plans.base_sql("purchases", 0, env.paths["base"])
    slot = plans.Slot(0, "purchases", "p0", "repro", [], "", "")
    plan = plans.Plan([slot], sql, oracle.format(p0=base), "group", {0: minimum}, False, width)
    props.p2(env, variant, plan)
