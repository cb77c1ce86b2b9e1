"""Denial-of-service cases for the local protected-query engine (issue 11, class 9; ANALYSIS_RULES.md 4.1.7).

Each case is a query built to make the check (parse, qualify, lineage, rule checks, transpiling) or the
execution (DuckDB) do work out of proportion to its text: exponential alias expansion, huge argument
lists, deep trees, many table references, huge values, cartesian products, long texts. The suite
(``test_dos.py``) runs each one in a child process (``dos_child.py``) and requires an answer or a
modeled refusal within the budget below.

Fixture tables (written by ``write_data``): ``t`` owned by the querier and ``u`` owned by a partner,
both ``(person VARCHAR, region VARCHAR, amount DOUBLE, n BIGINT)`` with ``ROWS`` rows, ``person``
holding canary values (``pcanary<i>``) that no error message may quote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The budget of issue 11: answered or refused within this wall time and peak resident memory.
WALL_SECONDS = 10.0
PEAK_MB = 1536.0
#: Hard caps on a child: past these it is killed and the case fails (never hangs the suite).
KILL_SECONDS = 30.0
KILL_RSS_MB = 3072.0

QUERIER, PARTNER = "111111111111", "222222222222"
ROWS = 3000
COLUMNS = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE", "n": "BIGINT"}
CANARY = "pcanary"

#: Rule variants a case can run under (policies as ``parse_policy`` takes them).
RULES = ("custom", "threshold", "aggregation")


def policy(rule: str) -> dict[str, Any]:
    """The analysis-rule policy of both tables under ``rule``."""
    if rule == "aggregation":
        return {
            "aggregation": {
                "aggregateColumns": [
                    {"columnNames": ["amount"], "function": "SUM"},
                    {"columnNames": ["person"], "function": "COUNT_DISTINCT"},
                ],
                "joinColumns": ["person"],
                "dimensionColumns": ["region", "n"],
                "scalarFunctions": ["ROUND", "LOWER", "UPPER", "COALESCE", "CAST"],
                "outputConstraints": [{"columnName": "person", "minimum": 2, "type": "COUNT_DISTINCT"}],
            }
        }
    body: dict[str, Any] = {
        "allowedAnalyses": ["ANY_QUERY"],
        "allowedAnalysisProviders": [QUERIER],
        "disallowedOutputColumns": ["person"],
    }
    if rule == "threshold":
        body["aggregationThresholds"] = [
            {
                "identityColumns": ["person"],
                "minimumIdentityCount": 2,
                "type": "COUNT_DISTINCT",
                "allowedAggregateExpressionType": "ANY_EXPRESSION",
            }
        ]
    return {"custom": body}


def write_data(directory: Path) -> dict[str, str]:
    """Parquet files for ``t`` and ``u`` (DuckDB); returns table name -> path."""
    import duckdb

    paths = {}
    with duckdb.connect() as con:
        for name, salt in (("t", 0), ("u", 7)):
            path = directory / f"{name}.parquet"
            con.execute(
                f"COPY (SELECT '{CANARY}' || ((i + {salt}) % 300) AS person, 'r' || (i % 10) AS region, "
                f"(i % 1000) / 10.0 AS amount, CAST(i AS BIGINT) AS n FROM range({ROWS}) r(i)) "
                f"TO '{path}' (FORMAT parquet)"
            )
            paths[name] = str(path)
    return paths


@dataclass(frozen=True)
class DosCase:
    """One attack: a query (built on demand: some are 500 KB), its dialect and rule variant.

    Attributes:
        id: the pytest id.
        kind: the attack class (alias, wide, deep, refs, exec, text).
        what: one line saying what it does.
        build: returns the SQL text.
        engine: ``SPARK`` or ``CLEAN_ROOMS_SQL``.
        rule: one of ``RULES``.
        e2e: also run it through the emulator with boto3.
    """

    id: str
    kind: str
    what: str
    build: Callable[[], str]
    engine: str = "SPARK"
    rule: str = "custom"
    e2e: bool = False


# -- builders -------------------------------------------------------------------------------------
def _until(head: str, item: Callable[[int], str], tail: str, chars: int, sep: str = ", ") -> str:
    """``head`` + items joined by ``sep`` + ``tail``, with as many items as fit in ``chars``."""
    parts: list[str] = []
    size = len(head) + len(tail)
    i = 1
    while True:
        piece = item(i)
        if size + len(piece) + (len(sep) if parts else 0) > chars:
            break
        size += len(piece) + (len(sep) if parts else 0)
        parts.append(piece)
        i += 1
    return head + sep.join(parts) + tail


def lateral_alias_chain(chars: int = 300, op: str = "{p} + {p}", first: str = "amount") -> str:
    """``SELECT amount AS c1, c1 + c1 AS c2, c2 + c2 AS c3, ...`` up to ``chars`` characters."""
    return _until(
        "SELECT ",
        lambda i: f"{first} AS c1" if i == 1 else f"{op.format(p=f'c{i - 1}')} AS c{i}",
        " FROM t",
        chars,
    )


def linear_alias_chain(aliases: int) -> str:
    """``SELECT amount AS c1, c1 + 1 AS c2, ...``: a deep but linear chain."""
    items = ["amount AS c1", *(f"c{i - 1} + 1 AS c{i}" for i in range(2, aliases + 1))]
    return f"SELECT {', '.join(items)} FROM t"


def cte_chain(levels: int, body: str, final: str, first: str = "SELECT amount AS x FROM t") -> str:
    """``WITH c0 AS (first), c1 AS (body over c0), ...`` then ``final`` over the last CTE."""
    ctes = [f"c0 AS ({first})"] + [f"c{i} AS ({body.format(p=f'c{i - 1}')})" for i in range(1, levels + 1)]
    return f"WITH {', '.join(ctes)} {final.format(p=f'c{levels}')}"


def nested_subqueries(levels: int, body: str, inner: str, final: str) -> str:
    """``final`` over ``levels`` nested derived tables, each ``body`` over the one inside."""
    sql = inner
    for i in range(levels):
        sql = body.format(p=f"({sql}) s{i}")
    return final.format(p=f"({sql}) top")


def args(
    function: str, count: int, arg: str = "amount", head: str = "SELECT ", tail: str = " AS g FROM t"
) -> str:
    return f"{head}{function}({', '.join([arg] * count)}){tail}"


def chain(
    op: str, count: int, term: str = "amount", head: str = "SELECT ", tail: str = " AS s FROM t"
) -> str:
    return head + f" {op} ".join([term] * count) + tail


def nested_calls(
    function: str, depth: int, inner: str, head: str = "SELECT ", tail: str = " AS s FROM t"
) -> str:
    return head + f"{function}(" * depth + inner + ")" * depth + tail


def in_list(count: int) -> str:
    items = ", ".join(f"'r{i}'" for i in range(count))
    return f"SELECT COUNT(*) AS k FROM t WHERE region IN ({items})"


def in_list_to(chars: int) -> str:
    """An IN list padded with spaces to exactly ``chars`` characters."""
    head, tail = "SELECT COUNT(*) AS k FROM t WHERE region IN (", ")"
    sql = _until(head, lambda i: f"'r{i:07d}'", tail, chars)
    return sql[: -len(tail)] + " " * (chars - len(sql)) + tail


def case_nested(depth: int) -> str:
    expr = "0"
    for i in range(depth):
        expr = f"CASE WHEN n = {i} THEN {i} ELSE {expr} END"
    return f"SELECT SUM({expr}) AS s FROM t"


def self_joins(count: int, on: bool) -> str:
    parts = ["t a1"]
    for i in range(2, count + 1):
        parts.append(f"JOIN t a{i} ON a{i - 1}.person = a{i}.person" if on else f"CROSS JOIN t a{i}")
    return f"SELECT COUNT(*) AS k FROM {' '.join(parts)}"


def union_all(count: int, branch: str = "SELECT n FROM t") -> str:
    return f"SELECT COUNT(*) AS k FROM ({' UNION ALL '.join([branch] * count)}) s"


def values_table(rows: int) -> str:
    values = ", ".join(f"({i})" for i in range(rows))
    return f"SELECT COUNT(*) AS k FROM t JOIN (VALUES {values}) AS v(k) ON t.n = v.k"


def windows(count: int) -> str:
    items = [
        f"SUM(amount) OVER (PARTITION BY region ORDER BY n ROWS BETWEEN {i} PRECEDING AND CURRENT ROW)"
        f" AS w{i}"
        for i in range(count)
    ]
    return f"SELECT {', '.join(items)} FROM t"


def nested_in_subqueries(depth: int) -> str:
    sql = "SELECT n FROM t"
    for _ in range(depth):
        sql = f"SELECT n FROM t WHERE n IN ({sql})"
    return f"SELECT COUNT(*) AS k FROM ({sql}) s"


def scalar_subqueries(count: int) -> str:
    items = ", ".join(f"(SELECT MAX(n) FROM t) AS m{i}" for i in range(count))
    return f"SELECT {items} FROM t LIMIT 1"


def exactly(chars: int, sql: str) -> str:
    assert len(sql) <= chars, (len(sql), chars)
    return sql + " " * (chars - len(sql))


SELF_CROSS_JOINS = 50
CASES: tuple[DosCase, ...] = (
    # -- alias chains and exponential expansion ----------------------------------------------------
    DosCase(
        "lateral_alias_chain_300",
        "alias",
        "issue: 300-char Spark lateral alias chain c(i) = c(i-1) + c(i-1)",
        lambda: lateral_alias_chain(300),
        e2e=True,
    ),
    DosCase(
        "lateral_alias_chain_concat",
        "alias",
        "300-char lateral chain doubling a string with CONCAT(c, c)",
        lambda: lateral_alias_chain(300, "CONCAT({p}, {p})", "region"),
    ),
    DosCase(
        "lateral_alias_chain_2kb",
        "alias",
        "2 KB lateral chain, each alias used three times",
        lambda: lateral_alias_chain(2000, "{p} * {p} - {p}"),
    ),
    DosCase(
        "lateral_alias_linear_2000",
        "alias",
        "2,000 aliases each one more than the previous (deep, linear)",
        lambda: linear_alias_chain(2000),
    ),
    DosCase(
        "lateral_alias_chain_threshold",
        "alias",
        "300-char lateral chain under an aggregation threshold",
        lambda: lateral_alias_chain(300, "{p} + {p}").replace(" FROM t", ", COUNT(*) AS k FROM t GROUP BY 1"),
        rule="threshold",
    ),
    DosCase(
        "lateral_alias_chain_redshift",
        "alias",
        "300-char lateral alias chain on CLEAN_ROOMS_SQL",
        lambda: lateral_alias_chain(300),
        engine="CLEAN_ROOMS_SQL",
    ),
    DosCase(
        "cte_expr_doubling_40",
        "alias",
        "40 CTEs, each SELECT x + x AS x FROM the previous",
        lambda: cte_chain(40, "SELECT x + x AS x FROM {p}", "SELECT SUM(x) AS s FROM {p}"),
    ),
    DosCase(
        "cte_twice_union_40",
        "alias",
        "40 CTEs, each reading the previous twice (UNION ALL): 2^40 expansion",
        lambda: cte_chain(
            40, "SELECT x FROM {p} UNION ALL SELECT x FROM {p}", "SELECT COUNT(*) AS k FROM {p}"
        ),
    ),
    DosCase(
        "cte_chain_2400_deep",
        "deep",
        "2,400 CTEs, each reading the previous once (binding recursed past Python's stack: RecursionError)",
        lambda: cte_chain(2400, "SELECT x + 1 AS x FROM {p}", "SELECT SUM(x) AS s FROM {p}"),
    ),
    DosCase(
        "cte_twice_join_30",
        "alias",
        "30 CTEs, each joining the previous with itself",
        lambda: cte_chain(
            30, "SELECT a.x + b.x AS x FROM {p} a JOIN {p} b ON a.x = b.x", "SELECT COUNT(*) AS k FROM {p}"
        ),
    ),
    DosCase(
        "subquery_expr_doubling_40",
        "alias",
        "40 nested derived tables, each SELECT x + x AS x",
        lambda: nested_subqueries(
            40, "SELECT x + x AS x FROM {p}", "SELECT amount AS x FROM t", "SELECT SUM(x) AS s FROM {p}"
        ),
    ),
    DosCase(
        "order_by_alias_reused_1000",
        "alias",
        "a 200-node SELECT item named 1,000 times in ORDER BY (each use is a copy: bound-node limit)",
        lambda: "SELECT " + " + ".join(["amount"] * 100) + " AS a FROM t ORDER BY " + ", ".join(["a"] * 1000),
    ),
    DosCase(
        "lateral_alias_reused_400",
        "alias",
        "a 200-node lateral alias used 400 times in one GREATEST (each use is a copy: bound-node limit)",
        lambda: (
            "SELECT "
            + " + ".join(["amount"] * 100)
            + " AS a, GREATEST("
            + ", ".join(["a"] * 400)
            + ") AS g FROM t"
        ),
    ),
    DosCase(
        "lateral_alias_chain_16_wide",
        "alias",
        "16 nested lateral aliases, each using the previous five times (5^k copies: the bound-node limit)",
        lambda: (
            "SELECT amount AS c1, "
            + ", ".join(f"c{i - 1} * c{i - 1} - c{i - 1} + c{i - 1} - c{i - 1} AS c{i}" for i in range(2, 18))
            + " FROM t"
        ),
    ),
    # -- wide argument lists -----------------------------------------------------------------------
    DosCase(
        "greatest_1000_args", "wide", "issue: GREATEST with 1,000 arguments", lambda: args("GREATEST", 1000)
    ),
    DosCase(
        "greatest_10000_args", "wide", "GREATEST with 10,000 arguments", lambda: args("GREATEST", 10_000)
    ),
    DosCase(
        "concat_10000_args",
        "wide",
        "CONCAT with 10,000 string arguments",
        lambda: args("CONCAT", 10_000, "region"),
    ),
    DosCase(
        "coalesce_10000_args", "wide", "COALESCE with 10,000 arguments", lambda: args("COALESCE", 10_000)
    ),
    DosCase("in_list_20000", "wide", "WHERE region IN (20,000 literals)", lambda: in_list(20_000)),
    DosCase(
        "group_by_10000_keys",
        "wide",
        "GROUP BY 10,000 expressions (no call's argument list: the bound-node limit)",
        lambda: "SELECT COUNT(*) AS k FROM t GROUP BY " + ", ".join(f"n + {i}" for i in range(10_000)),
    ),
    DosCase(
        "order_by_25000_keys",
        "wide",
        "ORDER BY 25,000 column keys under a LIMIT (three nodes each: the parsed-node limit)",
        lambda: "SELECT n FROM t ORDER BY " + ", ".join(["n"] * 25_000) + " LIMIT 5",
    ),
    DosCase(
        "array_10000_elements",
        "wide",
        "ARRAY_CONTAINS(ARRAY(10,000 literals), n)",
        lambda: f"SELECT ARRAY_CONTAINS(ARRAY({', '.join(str(i) for i in range(10_000))}), n) AS h FROM t",
    ),
    DosCase(
        "select_10000_aggregates",
        "wide",
        "10,000 output columns SUM(amount + i)",
        lambda: "SELECT " + ", ".join(f"SUM(amount + {i}) AS s{i}" for i in range(10_000)) + " FROM t",
    ),
    DosCase(
        "group_by_2000_exprs",
        "wide",
        "GROUP BY 2,000 expressions",
        lambda: "SELECT COUNT(*) AS k FROM t GROUP BY " + ", ".join(f"n + {i}" for i in range(2000)),
    ),
    DosCase(
        "values_40000_rows", "wide", "a joined VALUES table of 40,000 rows", lambda: values_table(40_000)
    ),
    DosCase("windows_1000", "wide", "1,000 window functions, each with its own frame", lambda: windows(1000)),
    DosCase(
        "aggregation_in_list_20000",
        "wide",
        "aggregation rule: dimension IN (20,000 literals)",
        lambda: (
            "SELECT region, SUM(amount) FROM t WHERE region IN ("
            + ", ".join(f"'r{i}'" for i in range(20_000))
            + ") GROUP BY region"
        ),
        rule="aggregation",
    ),
    # -- deep trees --------------------------------------------------------------------------------
    DosCase("plus_chain_20000", "deep", "issue: a 20,000-term + chain", lambda: chain("+", 20_000), e2e=True),
    DosCase(
        "nested_parens_300",
        "deep",
        "issue: 300 nested parentheses (a parse error or refusal)",
        lambda: "SELECT " + "(" * 300 + "amount" + ")" * 300 + " AS s FROM t",
        e2e=True,
    ),
    DosCase(
        "nested_parens_3000",
        "deep",
        "3,000 nested parentheses",
        lambda: "SELECT " + "(" * 3000 + "amount" + ")" * 3000 + " AS s FROM t",
    ),
    DosCase(
        "nested_parens_300_unbalanced",
        "deep",
        "300 opening parentheses never closed",
        lambda: "SELECT " + "(" * 300 + "amount AS s FROM t",
    ),
    DosCase(
        "nested_parens_300_redshift",
        "deep",
        "300 nested parentheses on CLEAN_ROOMS_SQL",
        lambda: "SELECT " + "(" * 300 + "amount" + ")" * 300 + " AS s FROM t",
        engine="CLEAN_ROOMS_SQL",
    ),
    DosCase(
        "plus_chain_redshift_9000",
        "deep",
        "a 9,000-term + chain on CLEAN_ROOMS_SQL (90 KB limit)",
        lambda: chain("+", 9000),
        engine="CLEAN_ROOMS_SQL",
    ),
    DosCase(
        "and_chain_20000",
        "deep",
        "WHERE with 20,000 ANDed comparisons",
        lambda: chain("AND", 20_000, "amount > 0", "SELECT COUNT(*) AS k FROM t WHERE ", ""),
    ),
    DosCase(
        "or_chain_10000",
        "deep",
        "WHERE with 10,000 ORed equalities",
        lambda: "SELECT COUNT(*) AS k FROM t WHERE " + " OR ".join(f"region = 'r{i}'" for i in range(10_000)),
    ),
    DosCase(
        "concat_pipe_chain_20000",
        "deep",
        "region || region || ... 20,000 times",
        lambda: chain("||", 20_000, "region"),
    ),
    DosCase("case_nested_1000", "deep", "CASE WHEN nested 1,000 deep", lambda: case_nested(1000)),
    DosCase(
        "upper_nested_5000",
        "deep",
        "UPPER(UPPER(...)) 5,000 deep",
        lambda: nested_calls("UPPER", 5000, "region"),
    ),
    DosCase(
        "unary_minus_nested_5000",
        "deep",
        "-(-(...(amount))) 5,000 deep",
        lambda: nested_calls("-", 5000, "amount"),
    ),
    DosCase(
        "not_chain_5000",
        "deep",
        "WHERE NOT NOT ... NOT (n = 1), 5,000 NOTs",
        lambda: "SELECT COUNT(*) AS k FROM t WHERE " + "NOT " * 5000 + "(n = 1)",
    ),
    DosCase(
        "subqueries_nested_300",
        "deep",
        "300 nested derived tables SELECT x FROM (...)",
        lambda: nested_subqueries(
            300, "SELECT x FROM {p}", "SELECT amount AS x FROM t", "SELECT SUM(x) AS s FROM {p}"
        ),
    ),
    DosCase(
        "aggregation_nested_parens_300",
        "deep",
        "aggregation rule: SUM of 300 nested parentheses",
        lambda: "SELECT region, SUM(" + "(" * 300 + "amount" + ")" * 300 + ") FROM t GROUP BY region",
        rule="aggregation",
    ),
    DosCase(
        "threshold_plus_chain_20000",
        "deep",
        "a 20,000-term + chain under an aggregation threshold",
        lambda: chain("+", 20_000, "amount", "SELECT region, SUM(", ") AS s FROM t GROUP BY region"),
        rule="threshold",
    ),
    # -- table references --------------------------------------------------------------------------
    DosCase(
        f"self_cross_joins_{SELF_CROSS_JOINS}",
        "refs",
        "issue: one table cross-joined with itself 50 times",
        lambda: self_joins(SELF_CROSS_JOINS, on=False),
    ),
    DosCase(
        "self_joins_on_40",
        "refs",
        "one table joined to itself 40 times ON person (10^40 rows)",
        lambda: self_joins(40, on=True),
    ),
    DosCase(
        "comma_joins_100",
        "refs",
        "FROM t a1, t a2, ..., t a100",
        lambda: "SELECT COUNT(*) AS k FROM " + ", ".join(f"t a{i}" for i in range(100)),
    ),
    DosCase(
        "alternating_joins_two_tables_60",
        "refs",
        "two tables alternately cross-joined, 60 references",
        lambda: "SELECT COUNT(*) AS k FROM " + " CROSS JOIN ".join(f"{'tu'[i % 2]} a{i}" for i in range(60)),
    ),
    DosCase(
        "cte_referenced_100_times",
        "refs",
        "one CTE over t cross-joined with itself 100 times",
        lambda: (
            "WITH c AS (SELECT n FROM t) SELECT COUNT(*) AS k FROM "
            + " CROSS JOIN ".join(f"c c{i}" for i in range(100))
        ),
    ),
    DosCase(
        "union_all_2000_scans", "refs", "2,000 UNION ALL branches each scanning t", lambda: union_all(2000)
    ),
    DosCase(
        "scalar_subqueries_500",
        "refs",
        "500 scalar subqueries over t in the select list",
        lambda: scalar_subqueries(500),
    ),
    DosCase(
        "in_subqueries_nested_200",
        "refs",
        "n IN (SELECT n FROM t WHERE n IN (...)) 200 deep",
        lambda: nested_in_subqueries(200),
    ),
    # -- execution blow-ups ------------------------------------------------------------------------
    DosCase(
        "repeat_100m",
        "exec",
        "issue: REPEAT(region, 100000000) on every row",
        lambda: "SELECT REPEAT(region, 100000000) AS r FROM t",
        e2e=True,
    ),
    DosCase(
        "repeat_100m_aggregated",
        "exec",
        "MAX(LENGTH(REPEAT(region, 100000000))): nothing big is returned",
        lambda: "SELECT MAX(LENGTH(REPEAT(region, 100000000))) AS m FROM t",
    ),
    DosCase(
        "lpad_2g",
        "exec",
        "LPAD(region, 2000000000, 'x')",
        lambda: "SELECT LENGTH(LPAD(region, 2000000000, 'x')) AS p FROM t",
    ),
    DosCase(
        "rpad_500m",
        "exec",
        "RPAD(region, 500000000, 'y') on every row, aggregated",
        lambda: "SELECT MAX(LENGTH(RPAD(region, 500000000, 'y'))) AS m FROM t",
    ),
    DosCase(
        "sequence_explode_1e9",
        "exec",
        "explode(sequence(1, 1000000000)) per row: 3e12 rows",
        lambda: "SELECT COUNT(*) AS k FROM (SELECT explode(sequence(1, 1000000000)) AS v FROM t) s",
    ),
    DosCase(
        "array_repeat_1e8",
        "exec",
        "ARRAY_REPEAT(region, 100000000) per row",
        lambda: "SELECT SIZE(ARRAY_REPEAT(region, 100000000)) AS k FROM t",
    ),
    DosCase(
        "collect_list_cross_join",
        "exec",
        "COLLECT_LIST over t x t x t (2.7e10 rows)",
        lambda: "SELECT SIZE(COLLECT_LIST(a.region)) AS k FROM t a CROSS JOIN t b CROSS JOIN t c",
    ),
    DosCase(
        "cartesian_count_4way",
        "exec",
        "COUNT(*) over t x t x t x t (8.1e13 rows): a statement timeout",
        lambda: "SELECT COUNT(*) AS k FROM t a CROSS JOIN t b CROSS JOIN t c CROSS JOIN t d",
        e2e=True,
    ),
    DosCase(
        "cartesian_result_9m_rows",
        "exec",
        "t x t returned whole: 9 million result rows",
        lambda: "SELECT a.region, b.n FROM t a CROSS JOIN t b",
    ),
    DosCase(
        "cte_string_doubling_40",
        "exec",
        "40 CTEs each doubling a string (2^40 characters)",
        lambda: cte_chain(
            40,
            "SELECT CONCAT(x, x) AS x FROM {p}",
            "SELECT MAX(LENGTH(x)) AS m FROM {p}",
            "SELECT region AS x FROM t",
        ),
    ),
    # -- text size ---------------------------------------------------------------------------------
    DosCase(
        "string_literal_100kb",
        "text",
        "a 100 KB string literal",
        lambda: f"SELECT COUNT(*) AS k FROM t WHERE region <> '{'x' * 100_000}'",
    ),
    DosCase(
        "unicode_literal_100kb",
        "text",
        "a string literal of 25,000 four-byte characters",
        lambda: f"SELECT COUNT(*) AS k FROM t WHERE region <> '{chr(0x1F600) * 25_000}'",
    ),
    DosCase(
        "query_text_500000_chars",
        "text",
        "exactly 500,000 characters (the Spark limit): an IN list",
        lambda: in_list_to(500_000),
    ),
    DosCase(
        "query_text_500001_chars",
        "text",
        "one character over the Spark limit",
        lambda: exactly(500_001, "SELECT COUNT(*) AS k FROM t"),
        e2e=True,
    ),
    DosCase(
        "query_text_90001_chars_redshift",
        "text",
        "one character over the CLEAN_ROOMS_SQL limit",
        lambda: exactly(90_001, "SELECT COUNT(*) AS k FROM t"),
        engine="CLEAN_ROOMS_SQL",
    ),
    DosCase(
        "long_identifier_100k",
        "text",
        "a 100,000-character output alias",
        lambda: f"SELECT SUM(amount) AS {'a' * 100_000} FROM t",
    ),
    DosCase(
        "long_quoted_alias_100k",
        "text",
        "a 100,000-character backquoted table alias, used twice",
        lambda: f"SELECT SUM(`{'q' * 100_000}`.amount) AS s FROM t AS `{'q' * 100_000}`",
    ),
    DosCase(
        "comment_400kb",
        "text",
        "a 400 KB block comment before a small query",
        lambda: f"/* {'c' * 400_000} */ SELECT COUNT(*) AS k FROM t",
    ),
    DosCase(
        "line_comments_50000",
        "text",
        "50,000 line comments between tokens",
        lambda: "SELECT COUNT(*) AS k\n" + "-- c\n" * 50_000 + "FROM t",
    ),
)

BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
