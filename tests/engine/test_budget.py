"""The check's budget (ANALYSIS_RULES.md 4.1 item 7): refusals name the limit and the fix; the walks it saves.

The DoS suite (``test_dos.py``) holds the attacks to time and memory; these tests hold what a
refusal says and that the shortcuts the check takes for speed (one walk of the parsed tree,
shared by the stages) see exactly the nodes a full walk sees.
"""

from __future__ import annotations

import gc

import pytest
import sqlglot
from sqlglot import exp

from reconciler.collector import collector_paused
from reconciler.engine import Collaboration, Reason, Request, Table, check, parse_policy
from reconciler.engine.budget import LIMITS, OverBudget, check_tree
from reconciler.engine.enforce import CheckState
from reconciler.errors import QueryRejected

QUERIER = "111111111111"
COLUMNS = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE", "n": "BIGINT"}


@pytest.fixture(scope="module")
def collaboration() -> Collaboration:
    policy = parse_policy(
        {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "allowedAnalysisProviders": [QUERIER],
                "disallowedOutputColumns": ["person"],
            }
        },
        columns=list(COLUMNS),
    )
    tables = {"t": Table("t", QUERIER, COLUMNS, policy)}
    return Collaboration("SPARK", {QUERIER: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"})}, tables)


def _refusal(sql: str, collaboration: Collaboration) -> str:
    with pytest.raises(QueryRejected) as caught:
        check(Request(QUERIER, sql), collaboration)
    assert caught.value.verdict is not None and caught.value.verdict.reason is Reason.OTHER
    return str(caught.value)


def test_many_group_keys_are_refused_by_the_bound_node_limit_with_its_value_and_the_fix(
    collaboration: Collaboration,
) -> None:
    keys = LIMITS.bound_nodes // 3 + 100  # n + i binds three nodes
    text = _refusal(
        "SELECT COUNT(*) AS k FROM t GROUP BY " + ", ".join(f"n + {i}" for i in range(keys)), collaboration
    )
    assert f"more than {LIMITS.bound_nodes:,} nodes" in text
    assert "split the analysis into smaller queries" in text


def test_a_select_alias_reused_in_order_by_counts_each_copy(collaboration: Collaboration) -> None:
    item = " + ".join(["amount"] * 50)  # about 100 nodes, copied once per ORDER BY use
    uses = LIMITS.bound_nodes // 100 + 50
    text = _refusal(f"SELECT {item} AS a FROM t ORDER BY " + ", ".join(["a"] * uses), collaboration)
    assert f"more than {LIMITS.bound_nodes:,} nodes" in text and "SELECT alias" in text


def test_the_same_query_under_the_limit_is_answered(collaboration: Collaboration) -> None:
    item = " + ".join(["amount"] * 50)
    check(Request(QUERIER, f"SELECT {item} AS a FROM t ORDER BY " + ", ".join(["a"] * 20)), collaboration)


def test_a_lateral_alias_past_the_chain_limit_is_refused_naming_the_limit_and_the_fix(
    collaboration: Collaboration,
) -> None:
    depth = LIMITS.alias_chain + 1
    items = ["amount AS c1", *(f"c{i - 1} + 1 AS c{i}" for i in range(2, depth + 2))]
    text = _refusal(f"SELECT {', '.join(items)} FROM t", collaboration)
    assert f"nest at most {LIMITS.alias_chain} deep" in text
    assert "compute the earlier ones in a subquery or CTE" in text


@pytest.mark.parametrize(
    "sql",
    [
        "WITH c AS (SELECT n, region FROM t WHERE n > 1) SELECT region, COUNT(*) AS k "
        "FROM c JOIN t ON c.n = t.n GROUP BY region HAVING COUNT(*) > 1 ORDER BY 2 LIMIT 5",
        "SELECT CASE WHEN n IN (1, 2) THEN UPPER(region) ELSE CONCAT(region, '-') END AS r, "
        "SUM(amount) OVER (PARTITION BY region) AS s FROM t",
        "SELECT x FROM (SELECT n AS x FROM t UNION ALL SELECT n FROM t) s WHERE x BETWEEN 1 AND 3",
    ],
)
def test_check_tree_lists_the_nodes_of_a_full_walk_in_its_order(sql: str) -> None:
    tree = sqlglot.parse_one(sql, read="spark")
    assert [id(n) for n in check_tree(tree)] == [id(n) for n in tree.walk()]


def test_the_stages_node_lookup_equals_find_all_until_the_tree_changes(collaboration: Collaboration) -> None:
    sql = (
        "WITH c AS (SELECT n FROM t) "
        "SELECT UPPER(region) AS r, COUNT(*) AS k FROM t JOIN c ON t.n = c.n GROUP BY 1"
    )
    ctx = CheckState(Request(QUERIER, sql), collaboration)
    ctx.tree = sqlglot.parse_one(sql, read="spark")
    ctx.nodes = check_tree(ctx.tree)
    for types in [(exp.Table,), (exp.Func,), (exp.CTE,), (exp.Column, exp.Alias), (exp.Dot,)]:
        assert [id(n) for n in ctx.find_all(*types)] == [id(n) for n in ctx.tree.find_all(*types)]
    ctx.tree.find(exp.Table).replace(exp.to_table("u"))  # type: ignore[union-attr]
    ctx.nodes = None  # what every stage that changes the tree does
    assert [t.name for t in ctx.find_all(exp.Table)] == [t.name for t in ctx.tree.find_all(exp.Table)]


def test_check_tree_refuses_a_tree_over_the_node_limit() -> None:
    tree = sqlglot.parse_one("SELECT " + ", ".join(["n"] * 100) + " FROM t", read="spark")
    with pytest.raises(OverBudget, match="number of nodes of the parsed query"):
        check_tree(tree, type(LIMITS)(nodes=50))


def test_the_collector_is_paused_during_a_check_and_restored_after_it(collaboration: Collaboration) -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # re-entrant: the inner one does not turn it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        check(Request(QUERIER, "SELECT COUNT(*) AS k FROM t"), collaboration)
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
    with pytest.raises(QueryRejected):
        check(Request(QUERIER, "SELECT nope FROM t"), collaboration)
    assert gc.isenabled()  # restored after a refusal too
