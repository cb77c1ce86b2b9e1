"""The differential corpus: Spark SQL queries that both engines must answer identically.

``TABLES`` are three tables written once as Parquet: ``t`` (a custom rule without controls;
NULLs, ties, negative and extreme numbers, unicode text, dates, timestamps, decimals, JSON
text), ``u`` (a second member's table to join) and ``p`` (an aggregation threshold of 3 distinct
``person`` with groups of 1 to 6 people, for suppression). ``QUERIES`` is every query, built
from expression lists so that each accepted Spark function appears at least once (a test checks).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

R, A = "111111111111", "222222222222"

T_COLUMNS = {
    "uid": "VARCHAR",
    "s": "VARCHAR",
    "i": "INTEGER",
    "b": "BIGINT",
    "d": "DOUBLE",
    "dec": "DECIMAL(10,2)",
    "dt": "DATE",
    "ts": "TIMESTAMP",
    "flag": "BOOLEAN",
    "js": "VARCHAR",
    "g": "VARCHAR",
}
_D = dt.date
_T = dt.datetime
T_ROWS: list[tuple[Any, ...]] = [
    (
        "u1",
        "abc",
        1,
        10,
        0.285,
        Decimal("1.25"),
        _D(2024, 1, 7),
        _T(2024, 1, 7, 10, 20, 30, 500000),
        True,
        '{"a": 1, "b": "x"}',
        "x",
    ),
    (
        "u2",
        "ßtraße",
        -2,
        -9223372036854775807,
        2.5,
        Decimal("-2.50"),
        _D(2024, 2, 29),
        _T(2024, 2, 29, 23, 59, 59),
        False,
        '{"a": [1, 2]}',
        "x",
    ),
    ("u3", None, None, None, None, None, None, None, None, None, "y"),
    (
        "u4",
        "ΟΔΟΣ",
        2147483647,
        9223372036854775807,
        -2.5,
        Decimal("99999999.99"),
        _D(1970, 1, 1),
        _T(1970, 1, 1),
        True,
        "{not json",
        "y",
    ),
    (
        "u5",
        "a_b%",
        0,
        0,
        1e10,
        Decimal("0.00"),
        _D(2000, 12, 31),
        _T(2000, 12, 31, 12),
        False,
        '{"a": null}',
        "z",
    ),
    (
        "u6",
        "2024-1-5",
        7,
        3,
        -0.0,
        Decimal("0.01"),
        _D(2024, 12, 30),
        _T(2024, 12, 30, 1, 2, 3, 123456),
        True,
        "[1, 2, 3]",
        "z",
    ),
    (
        "u7",
        "  42 ",
        -7,
        -3,
        1e-7,
        Decimal("3.33"),
        _D(1999, 1, 1),
        _T(1999, 1, 1),
        None,
        '{"a": {"c": 5}}',
        "z",
    ),
    (
        "u8",
        "İx",
        5,
        5,
        123456.789,
        Decimal("5.55"),
        _D(2023, 6, 15),
        _T(2023, 6, 15, 6, 15),
        True,
        '{"b": "ünï"}',
        "x",
    ),
    (
        "u9",
        "abc",
        1,
        10,
        2.675,
        Decimal("1.25"),
        _D(2024, 1, 7),
        _T(2024, 1, 7, 10, 20, 30, 500000),
        False,
        '{"a": 2}',
        "y",
    ),
    (
        "u10",
        "",
        3,
        2,
        1.5,
        Decimal("-0.01"),
        _D(2024, 3, 10),
        _T(2024, 3, 10, 2, 30),
        True,
        '{"a": "1"}',
        "x",
    ),
]

U_COLUMNS = {"uid": "VARCHAR", "k": "INTEGER", "label": "VARCHAR"}
U_ROWS: list[tuple[Any, ...]] = [
    ("u1", 1, "one"),
    ("u2", 2, "two"),
    ("u2", 3, "three"),
    ("u4", None, "four"),
    ("u9", 9, None),
    ("zz", 0, "nobody"),
]

P_COLUMNS = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE", "units": "INTEGER", "day": "DATE"}
_P_GROUPS = {"big": 6, "mid": 3, "two": 2, "one": 1}
P_ROWS: list[tuple[Any, ...]] = [
    (f"{region}-{n}", region, 10.0 * (n + 1) + 0.5, n + 1, _D(2024, 1, 1 + n))
    for region, people in _P_GROUPS.items()
    for n in range(people)
] + [("big-0", "big", 7.25, 3, _D(2024, 2, 1)), (None, "big", 100.0, 1, _D(2024, 2, 2))]

#: association name -> (owner, columns, rows, analysis rule policy)
TABLES: dict[str, tuple[str, dict[str, str], list[tuple[Any, ...]], dict[str, Any]]] = {
    "t": (
        R,
        T_COLUMNS,
        T_ROWS,
        {"custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [R]}},
    ),
    "u": (
        A,
        U_COLUMNS,
        U_ROWS,
        {"custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [R]}},
    ),
    "p": (
        A,
        P_COLUMNS,
        P_ROWS,
        {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "allowedAnalysisProviders": [R],
                "disallowedOutputColumns": ["person"],
                "aggregationThresholds": [
                    {
                        "identityColumns": ["person"],
                        "minimumIdentityCount": 3,
                        "type": "COUNT_DISTINCT",
                        "allowedAggregateExpressionType": "ANY_EXPRESSION",
                    }
                ],
            }
        },
    ),
}

#: Scalar expressions over ``t``, one query each: ``SELECT uid, <expr> AS v FROM t``.
EXPRESSIONS: list[str] = [
    # arithmetic, ANSI failures as NULL, overflow
    "i + 1", "b + 1", "i - 3", "b - 1", "i * 2", "b * 2", "i * 1000000000", "d * 2", "d + i",
    "i / 2", "i / 0", "d / 0", "b / 3", "i % 3", "i % 0", "b % 4", "-i", "-b", "-d", "i DIV 2",
    "b DIV 2", "i DIV 0", "MOD(i, 4)", "MOD(b, -3)", "dec * 2", "dec + 1.5", "dec - dec", "dec * dec",
    "i * 1.5D", "dec + i", "-dec", "d - 0.5D",
    # casts
    "CAST(d AS INT)", "CAST(d AS BIGINT)", "CAST(d AS SMALLINT)", "CAST(dec AS INT)", "CAST(b AS INT)",
    "CAST(i AS TINYINT)", "CAST(s AS INT)", "CAST(s AS BIGINT)", "CAST(s AS DOUBLE)", "CAST(s AS DATE)",
    "CAST(s AS BOOLEAN)", "CAST(i AS STRING)", "CAST(b AS STRING)", "CAST(d AS STRING)",
    "CAST(dec AS STRING)", "CAST(dt AS STRING)", "CAST(ts AS STRING)", "CAST(flag AS STRING)",
    "CAST(d AS DECIMAL(10,2))", "CAST(i AS DECIMAL(5,1))", "CAST(dec AS DOUBLE)", "CAST(i AS DOUBLE)",
    "CAST(dt AS TIMESTAMP)", "CAST(ts AS DATE)", "CAST(i AS BOOLEAN)", "CAST(flag AS INT)",
    "CAST(dec AS DECIMAL(4,1))", "CAST(js AS INT)",
    # rounding
    "ROUND(d, 2)", "ROUND(d)", "ROUND(d, 1)", "ROUND(d, -1)", "ROUND(dec, 1)",
    "ROUND(dec)", "FLOOR(d)", "CEIL(d)", "CEILING(dec)", "FLOOR(dec)", "FLOOR(i)", "ABS(i)", "ABS(b)",
    "ABS(d)", "ABS(dec)", "SIGN(d)", "SIGN(i)", "SIGNUM(dec)",
    # math
    "LN(i)", "LN(d)", "LOG(10, i)", "LOG10(d)", "LOG(2, d)", "SQRT(i)", "SQRT(d)", "EXP(i)", "EXP(d)",
    "POWER(i, 2)", "POWER(d, 0.5D)", "POW(2, i)", "ACOS(d)", "ASIN(d)", "ATAN(i)", "ATAN2(i, 2)",
    "CBRT(i)", "COS(d)", "SIN(i)", "COT(i)", "DEGREES(d)", "RADIANS(i)", "PI() * i",
    # strings
    "UPPER(s)", "LOWER(s)", "UCASE(s)", "LCASE(s)", "LENGTH(s)", "CHAR_LENGTH(s)", "REVERSE(s)",
    "SUBSTRING(s, 0, 2)", "SUBSTRING(s, 2)", "SUBSTRING(s, -3, 2)", "SUBSTR(s, 2, -1)", "LEFT(s, 2)",
    "LEFT(s, 0)", "RIGHT(s, 3)", "RIGHT(s, -1)", "LPAD(s, 6, 'x')", "RPAD(s, 6, 'xy')", "LPAD(s, 2, '')",
    "RPAD(s, 0, 'x')", "REPEAT(s, 2)", "REPEAT(s, 0)", "TRIM(s)", "LTRIM(s)", "RTRIM(s)",
    "TRIM(BOTH 'a' FROM s)", "CONCAT(s, '!')", "CONCAT(s, i)", "CONCAT(s, d)", "s || '!'", "s || d",
    "s || dec", "CONCAT(s, NULL)", "POSITION('b' IN s)", "INSTR(s, 'a')", "LOCATE('a', s)",
    "LOCATE('a', s, 2)", "REPLACE(s, 'a', 'z')", "TRANSLATE(s, 'ab', 'x')", "SPLIT_PART(s, '-', 2)",
    "SPLIT_PART(s, '-', -1)", "SPLIT(s, 'a')", "SPLIT(s, '')", "s LIKE 'a%'", "s LIKE 'a\\\\_b%'",
    "s LIKE '%ß%'", "s RLIKE '^a'", "s RLIKE '[0-9]+'", "REGEXP_COUNT(s, 'a')",
    "REGEXP_INSTR(s, 'b')", "MD5(s)", "SHA1(s)", "SHA(s)", "SHA2(s, 256)", "HEX(s)", "HEX(i)", "HEX(b)",
    "BASE64(ENCODE(s, 'UTF-8'))", "ENCODE(s, 'UTF-8')", 
    "UNHEX(HEX(s))", "UNHEX('4142')",
    # conditionals
    "COALESCE(s, 'none')", "COALESCE(i, b, 0)", "NVL(d, -1.0D)", "IFNULL(s, '?')", "NULLIF(i, 1)",
    "NVL2(s, 1, 2)", "GREATEST(i, 3)", "LEAST(d, 1.0D)", "GREATEST(i, NULL, 2)", "IF(i > 0, 'p', 'n')",
    "CASE WHEN d > 1 THEN 'big' WHEN d < 0 THEN 'neg' ELSE 'small' END", "CASE g WHEN 'x' THEN 1 ELSE 0 END",
    "DECODE(g, 'x', 1, 'y', 2, 0)", "i IS NULL", "flag IS TRUE", "i BETWEEN 0 AND 5", "i IN (1, 2, 3)",
    "s IS DISTINCT FROM 'abc'", "NOT flag", "flag AND i > 0", "flag OR i > 2",
    # dates and times
    "YEAR(dt)", "MONTH(dt)", "DAY(dt)", "DAYOFMONTH(dt)", "DAYOFYEAR(dt)", "WEEKOFYEAR(dt)", "HOUR(ts)",
    "MINUTE(ts)", "SECOND(ts)", "EXTRACT(YEAR FROM dt)", "EXTRACT(MONTH FROM ts)", "EXTRACT(DAY FROM ts)",
    "EXTRACT(HOUR FROM ts)", "EXTRACT(QUARTER FROM dt)", "EXTRACT(WEEK FROM dt)", "DATE_TRUNC('MONTH', ts)",
    "DATE_TRUNC('YEAR', dt)", "DATE_TRUNC('HOUR', ts)", "DATE_TRUNC('WEEK', ts)",
    "DATEDIFF(dt, DATE '2024-01-01')", "DATE_DIFF(dt, DATE '2000-01-01')",
    "TO_DATE(s)", "TO_DATE(CAST(ts AS STRING))", "dt = DATE '2024-01-07'",
    "dt > '2020-01-01'", "CURRENT_DATE() >= dt",
    "CURRENT_TIMESTAMP() > ts", "dt + INTERVAL 1 DAY", "ts + INTERVAL 2 HOURS",
    # arrays, maps, structs, JSON
    "ARRAY(i, 1)", "SIZE(ARRAY(i, 1))", "CARDINALITY(SPLIT(s, 'a'))", "ARRAY_CONTAINS(ARRAY(i, NULL), 3)",
    "ARRAY_CONTAINS(ARRAY(i, 2), 2)", "ARRAY_SORT(ARRAY(i, NULL, 1))", "SORT_ARRAY(ARRAY(i, NULL, 1))",
    "ARRAY_JOIN(ARRAY(s, NULL, 'x'), ',')", "FLATTEN(ARRAY(ARRAY(i), ARRAY(2)))", "ARRAY(i, 2)[0]",
    "ARRAY(i, 2)[5]", "ELEMENT_AT(ARRAY(i, 2), 2)", "ARRAY_INTERSECT(ARRAY(i, 1, 1), ARRAY(1, 5))",
    "STRUCT(i, s)", "NAMED_STRUCT('a', i, 'b', s)", "NAMED_STRUCT('a', i).a", "MAP('k', i)",
    "MAP('k', i)['k']", "MAP('k', i)['missing']", "MAP(g, i, 'x', 0)",
    "TO_JSON(NAMED_STRUCT('a', i, 'b', s))", "TO_JSON(ARRAY(i, 2))",
    "GET_JSON_OBJECT(js, '$.a')", "GET_JSON_OBJECT(js, '$.b')",
    "GET_JSON_OBJECT(js, '$.a.c')", "GET_JSON_OBJECT(js, '$.missing')",
]  # fmt: skip

#: Whole queries: aggregates, windows, joins, set operations, CTEs, thresholds and suppression.
QUERIES_EXTRA: list[str] = [
    # aggregates
    "SELECT g, COUNT(*) AS n, COUNT(s) AS c, COUNT(DISTINCT s) AS dc FROM t GROUP BY g",
    "SELECT g, SUM(i) AS si, SUM(b) AS sb, SUM(d) AS sd, SUM(dec) AS sdec FROM t GROUP BY g",
    "SELECT g, AVG(i) AS ai, AVG(d) AS ad, MIN(s) AS mn, MAX(s) AS mx FROM t GROUP BY g",
    "SELECT g, MIN(dt) AS a, MAX(ts) AS b, MIN(dec) AS c, MAX(d) AS m FROM t GROUP BY g",
    "SELECT g, MEDIAN(d) AS m, MEDIAN(i) AS mi FROM t GROUP BY g",
    "SELECT g, STDDEV(d) AS s1, STDDEV_SAMP(i) AS s2, STDDEV_POP(i) AS s3 FROM t GROUP BY g",
    "SELECT g, VARIANCE(i) AS v1, VAR_SAMP(d) AS v2, VAR_POP(i) AS v3 FROM t GROUP BY g",
    "SELECT g, BOOL_AND(flag) AS a, BOOL_OR(flag) AS o FROM t GROUP BY g",
    "SELECT g, ARRAY_SORT(COLLECT_LIST(i)) AS l, ARRAY_SORT(COLLECT_SET(s)) AS st FROM t GROUP BY g",
    "SELECT g, SIZE(COLLECT_SET(i)) AS n FROM t GROUP BY g",
    "SELECT SUM(b) AS overflow FROM t",
    "SELECT SUM(i) AS s, AVG(b) AS a FROM t",
    "SELECT g, SUM(i * 2) AS s, SUM(CAST(d AS INT)) AS c FROM t GROUP BY g",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 3",
    "SELECT g, SUM(i) AS s FROM t WHERE i IS NOT NULL GROUP BY g HAVING SUM(i) > 0",
    "SELECT YEAR(dt) AS y, COUNT(*) AS n FROM t GROUP BY YEAR(dt)",
    "SELECT ROUND(d, 1) AS r, COUNT(*) AS n FROM t GROUP BY ROUND(d, 1)",
    "SELECT UPPER(s) AS u, COUNT(*) AS n FROM t GROUP BY UPPER(s)",
    "SELECT COUNT(*) AS n FROM t WHERE s LIKE '%a%'",
    "SELECT g, COUNT(*) FILTER (WHERE flag) AS f FROM t GROUP BY g",
    "SELECT g, MAX(LENGTH(s)) AS l, MIN(CAST(s AS INT)) AS c FROM t GROUP BY g",
    "SELECT g, SUM(dec * 2) AS s, MAX(ROUND(d, 2)) AS r FROM t GROUP BY g",
    "SELECT COUNT(*) AS n, SUM(CASE WHEN flag THEN 1 ELSE 0 END) AS f FROM t",
    # windows (deterministic orders: uid is unique)
    "SELECT uid, ROW_NUMBER() OVER (ORDER BY uid) AS r FROM t",
    "SELECT uid, RANK() OVER (ORDER BY i) AS r, DENSE_RANK() OVER (ORDER BY g) AS d FROM t",
    "SELECT uid, LAG(i) OVER (ORDER BY uid) AS l, LEAD(i, 2) OVER (ORDER BY uid) AS n FROM t",
    "SELECT uid, LAG(s, 1, 'none') OVER (PARTITION BY g ORDER BY uid) AS l FROM t",
    "SELECT uid, NTILE(3) OVER (ORDER BY uid) AS n FROM t",
    "SELECT uid, PERCENT_RANK() OVER (ORDER BY uid) AS p, CUME_DIST() OVER (ORDER BY uid) AS c FROM t",
    "SELECT uid, FIRST_VALUE(s) OVER (PARTITION BY g ORDER BY uid) AS f FROM t",
    "SELECT uid, LAST_VALUE(i) OVER (PARTITION BY g ORDER BY uid ROWS BETWEEN UNBOUNDED PRECEDING AND "
    "UNBOUNDED FOLLOWING) AS l FROM t",
    "SELECT uid, NTH_VALUE(i, 2) OVER (PARTITION BY g ORDER BY uid) AS n FROM t",
    "SELECT uid, SUM(i) OVER (PARTITION BY g) AS s, COUNT(*) OVER (PARTITION BY g) AS c FROM t",
    "SELECT uid, SUM(b) OVER (ORDER BY uid ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t",
    "SELECT uid, AVG(d) OVER (PARTITION BY g) AS a, MAX(dec) OVER (PARTITION BY flag) AS m FROM t",
    "SELECT uid FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY g ORDER BY uid) = 1",
    "SELECT g, RANK() OVER (ORDER BY COUNT(*) DESC, g) AS r FROM t GROUP BY g",
    # joins, set operations, CTEs, subqueries
    "SELECT t.uid, u.k, u.label FROM t JOIN u ON t.uid = u.uid",
    "SELECT t.uid, u.k FROM t LEFT JOIN u ON t.uid = u.uid",
    "SELECT t.uid, u.label FROM t RIGHT JOIN u ON t.uid = u.uid",
    "SELECT t.uid, u.uid AS v FROM t FULL JOIN u ON t.uid = u.uid",
    "SELECT uid, k FROM t JOIN u USING (uid)",
    "SELECT t.g, COUNT(u.k) AS n, SUM(u.k) AS s FROM t LEFT JOIN u ON t.uid = u.uid GROUP BY t.g",
    "SELECT t.uid, u.k FROM t CROSS JOIN u WHERE u.k = t.i",
    "SELECT uid FROM t LEFT SEMI JOIN u ON t.uid = u.uid",
    "SELECT uid FROM t LEFT ANTI JOIN u ON t.uid = u.uid",
    "SELECT uid FROM t UNION SELECT uid FROM u",
    "SELECT uid FROM t UNION ALL SELECT uid FROM u",
    "SELECT uid FROM t INTERSECT SELECT uid FROM u",
    "SELECT uid FROM t EXCEPT SELECT uid FROM u",
    "SELECT DISTINCT g FROM t",
    "SELECT DISTINCT g, flag FROM t",
    "WITH x AS (SELECT g, SUM(i) AS s FROM t GROUP BY g) SELECT g, s * 2 AS d FROM x",
    "WITH x AS (SELECT uid, i FROM t WHERE i > 0) SELECT a.uid, b.i FROM x a JOIN x b ON a.uid = b.uid",
    "SELECT v.uid, v.n FROM (SELECT uid, LENGTH(s) AS n FROM t) v WHERE v.n > 2",
    "SELECT uid, (SELECT MAX(k) FROM u) AS m FROM t",
    "SELECT uid FROM t WHERE uid IN (SELECT uid FROM u)",
    "SELECT uid FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.uid = t.uid)",
    "SELECT uid, x FROM t LATERAL VIEW EXPLODE(ARRAY(i, 2)) e AS x",
    "SELECT uid, EXPLODE(ARRAY(i, 2)) AS x FROM t",
    "SELECT uid, i FROM t ORDER BY uid LIMIT 3",
    "SELECT uid, i FROM t ORDER BY i DESC NULLS LAST, uid LIMIT 4",
    "SELECT uid FROM t ORDER BY uid LIMIT 2 OFFSET 3",
    "SELECT * FROM t",
    "SELECT * FROM u",
    "SELECT t.* FROM t JOIN u ON t.uid = u.uid",
    "SELECT uid, i AS x, x + 1 AS y FROM t",
    "SELECT g AS grp, COUNT(*) AS n FROM t GROUP BY 1",
    "SELECT uid, s FROM t WHERE s = 'abc' OR s IS NULL",
    "SELECT uid FROM t WHERE i / 0 IS NULL",
    "SELECT uid FROM t WHERE CAST(s AS INT) > 10",
    "SELECT uid FROM t WHERE ARRAY(i, 2)[3] IS NULL",
    "SELECT uid FROM t WHERE i + 2147483647 IS NULL",
    # thresholds and suppression (p: big 6 people, mid 3, two 2, one 1; a NULL person)
    "SELECT region, COUNT(*) AS n FROM p GROUP BY region",
    "SELECT region, SUM(amount) AS s, AVG(units) AS a FROM p GROUP BY region",
    "SELECT region, MIN(amount) AS mn, MAX(amount) AS mx, COUNT(*) AS n FROM p GROUP BY region",
    "SELECT region, ROUND(SUM(amount), 1) AS s FROM p GROUP BY region",
    "SELECT region, SUM(units) AS u FROM p WHERE amount > 20 GROUP BY region",
    "SELECT region, COUNT(*) AS n FROM p GROUP BY region HAVING COUNT(*) > 3",
    "SELECT region, COUNT(*) AS n FROM p GROUP BY region ORDER BY n DESC LIMIT 1",
    "SELECT MONTH(day) AS m, COUNT(*) AS n FROM p GROUP BY MONTH(day)",
    "SELECT region, MONTH(day) AS m, SUM(amount) AS s FROM p GROUP BY region, MONTH(day)",
    "SELECT COUNT(*) AS n, SUM(amount) AS s FROM p",
    "SELECT region, RANK() OVER (ORDER BY SUM(amount) DESC) AS r FROM p GROUP BY region",
    "SELECT region, COUNT(*) AS n, SUM(units) / COUNT(*) AS avg_units FROM p GROUP BY region",
    "SELECT region, SUM(units * 1000000000000) AS big FROM p GROUP BY region",
    "SELECT region, SUM(10 / (units - 1)) AS r FROM p GROUP BY region",
    "SELECT region, COUNT(*) AS n FROM p GROUP BY region HAVING 10 / (COUNT(*) - 2) > 0",
    "WITH r AS (SELECT region, SUM(amount) AS s FROM p GROUP BY region) SELECT COUNT(*) AS groups FROM r",
    "WITH r AS (SELECT person, region, SUM(amount) AS s FROM p GROUP BY person, region) "
    "SELECT region, AVG(s) AS a FROM r GROUP BY region",
    "SELECT p.region, COUNT(DISTINCT t.uid) AS n FROM p JOIN t ON p.units = t.i GROUP BY p.region",
    "SELECT region FROM p GROUP BY region",
    "SELECT DISTINCT region FROM p",
    "SELECT region, UPPER(region) AS up, COUNT(*) AS n FROM p GROUP BY region",
    "SELECT region, CAST(SUM(amount) AS INT) AS s FROM p GROUP BY region",
    "SELECT region, ARRAY_SORT(COLLECT_LIST(units)) AS l, COUNT(*) AS n FROM p GROUP BY region",
    "SELECT region, MEDIAN(amount) AS m, COUNT(*) AS n FROM p GROUP BY region",
    "SELECT region, STDDEV(amount) AS s, COUNT(*) AS n FROM p GROUP BY region",
    "SELECT region, COUNT(*) AS n FROM p WHERE day >= DATE '2024-01-02' GROUP BY region",
    "SELECT region, SUM(amount) OVER (PARTITION BY region) AS s FROM p GROUP BY region, amount",
]


#: Queries the check refuses, with who refuses: ``both`` engines (before any data is read), or
#: only ``spark`` (``--engine spark`` cannot run them without failing on some row; DuckDB runs them).
REFUSED: dict[str, str] = {
    "SELECT uid, s NOT LIKE 'a%' AS v FROM t": "both",  # the allow-list has no NOT LIKE
    "SELECT uid, ts < TIMESTAMP '2024-01-01 00:00:00' AS v FROM t": "both",  # text to TIMESTAMP
    "SELECT a, b FROM VALUES (1, 'x'), (2, NULL) AS v(a, b)": "both",  # reads no table
    "SELECT region, COUNT(DISTINCT person) AS people FROM p GROUP BY region": "both",  # person stays in
    "SELECT uid, DECODE(ENCODE(s, 'UTF-8'), 'UTF-8') AS v FROM t": "spark",  # ENCODE in a TRY
    "SELECT uid, ROUND(i, -1) AS v FROM t": "spark",  # ANSI overflow, no try_round
    "SELECT flag, SUM(DISTINCT i) AS s, COUNT(DISTINCT g) AS n FROM t GROUP BY flag": "spark",  # no try_sum
}


def queries() -> list[str]:
    """Every query of the corpus."""
    return [f"SELECT uid, {e} AS v FROM t" for e in EXPRESSIONS] + QUERIES_EXTRA
