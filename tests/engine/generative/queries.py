"""A grammar of Spark SQL over the fixture, for P1 (canaries), P3 (non-influence) and P4 (errors).

A query reads one or two *sources*. A source is a table reference reached through a shape: the
table with an alias, a derived column list that permutes the real names, a renaming derived
table or CTE, a CTE with a column list, a CTE chain, a UNION ALL, a VALUES join, LATERAL VIEW
explode, a select-list explode, PIVOT, UNPIVOT, a CTE that wraps columns in a struct, map or
array, a windowed CTE, a Spark lateral column alias. Each visible column keeps its true base
lineage, so the generator writes sensible SQL (a sum over a number) whatever the names say.

Select items, predicates and aggregates come in two temperaments: *normal* (what an analyst
writes under AWS's recommended policy: dimensions, plain aggregates, literal filters on allowed
columns, joins on the identity), which keeps a good share of queries accepted, and *hostile*
(AWS-listed scalar functions over protected columns, CASE/IF, casts to BOOLEAN, arithmetic,
string functions, constructors and lookups, SIGN, TRIM(BOTH x FROM c), GET_JSON_OBJECT keyed by
a column, window functions, joins on other columns and with OR, ORDER BY ... LIMIT, ...).

``p3_queries`` places a use of a column that is disallowed as output and in neither comparison
list (``email`` / ``device``) anywhere except as a bare grouping, partition or DISTINCT key or
inside COUNT(DISTINCT ...), in an otherwise normal query. ``p4_queries`` writes normal queries
grouped by the small groups' dimension of every perturbed table reference, with operations that
can fail on the perturbed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from generative import data

#: (table, column) -> (type, role). Roles: id, dim, date, num, ctl (output-allowed, no comparisons),
#: secret (disallowed output, no comparisons).
BASE: dict[tuple[str, str], tuple[str, str]] = {}
for _t, _cols in data.COLUMNS.items():
    for _c, _ty in _cols.items():
        _role = {
            "user_id": "id",
            data.SECRET_COLUMN[_t]: "secret",
            data.DATES[_t]: "date",
        }.get(_c) or ("dim" if _c in data.DIMENSIONS[_t] else "num" if _c in data.NUMBERS[_t] else "ctl")
        _kind = {"VARCHAR": "str", "DOUBLE": "num", "INTEGER": "int", "DATE": "date"}[_ty]
        BASE[(_t, _c)] = (_kind, _role)

LITERALS = {
    "region": [*data.BIG_REGIONS, *data.SMALL_REGIONS],
    "category": [*data.BIG_CATEGORIES, "gems"],
    "channel": [*data.BIG_CHANNELS, "kiosk"],
    "campaign": [*data.BIG_CAMPAIGNS, "c9"],
    "tier": ["gold", "silver", "bronze", "platinum"],
}


@dataclass
class Col:
    ref: str
    lineage: frozenset[tuple[str, str]]
    kind: str  # str | num | int | date | array | map | struct
    role: str  # id | dim | date | num | ctl | secret | derived

    @property
    def protected(self) -> bool:
        return self.role in ("id", "secret", "ctl")

    @property
    def base(self) -> tuple[str, str] | None:
        return next(iter(self.lineage)) if len(self.lineage) == 1 else None


@dataclass
class Source:
    sql: str
    cols: list[Col]
    tables: list[str]
    ctes: list[str] = field(default_factory=list)
    alias: str = ""

    def find(self, role: str | None = None, column: str | None = None) -> list[Col]:
        return [
            c
            for c in self.cols
            if (role is None or c.role == role)
            and (column is None or (c.base is not None and c.base[1] == column))
        ]


@dataclass
class Query:
    sql: str
    family: str
    hostile: bool = False
    tables: tuple[str, ...] = ()
    skeleton: str = ""  # the same normal query without the use under test (it should be accepted)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this
        printer.text(repr(self))

    def __repr__(self) -> str:
        return f"Query({self.sql!r})"


def _cols(table: str, alias: str, names: list[str] | None = None) -> list[Col]:
    real = list(data.COLUMNS[table])
    names = names or real
    return [
        Col(f"{alias}.{n}", frozenset({(table, c)}), *BASE[(table, c)])
        for n, c in zip(names, real, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# expressions

STRING_FNS = [
    "{x}",
    "LOWER({x})",
    "UPPER({x})",
    "SUBSTR({x}, 1, 12)",
    "SUBSTRING({x}, 2)",
    "CONCAT({x}, '!')",
    "{x} || ''",
    "TRIM({x})",
    "TRIM(BOTH 'Q' FROM {x})",
    "LTRIM({x})",
    "LPAD({x}, 20, '*')",
    "RPAD({x}, 20, '*')",
    "REPLACE({x}, 'Q', 'q')",
    "REGEXP_REPLACE({x}, '[0-9]', '#')",
    "REGEXP_SUBSTR({x}, '[A-Z]+')",
    "SPLIT({x}, 'Q')",
    "ARRAY({x})",
    "ARRAY({x}, 'z')[0]",
    "ELEMENT_AT(ARRAY({x}), 1)",
    "MAP('k', {x})",
    "MAP('k', {x})['k']",
    "NAMED_STRUCT('f', {x})",
    "NAMED_STRUCT('f', {x}).f",
    "STRUCT({x})",
    "TO_JSON(NAMED_STRUCT('f', {x}))",
    "GET_JSON_OBJECT(TO_JSON(NAMED_STRUCT('f', {x})), '$.f')",
    "HEX({x})",
    "BASE64({x})",
    "MD5({x})",
    "SHA1({x})",
    "SHA2({x}, 256)",
    "COALESCE({x}, 'z')",
    "NVL({x}, 'z')",
    "NVL2({x}, {x}, 'z')",
    "IF({x} IS NULL, 'n', {x})",
    "CASE WHEN {x} IS NOT NULL THEN {x} END",
    "NULLIF({x}, 'zz')",
    "GREATEST({x}, '')",
    "LEAST({x}, 'zzzz')",
    "CAST({x} AS STRING)",
    "LEFT({x}, 10)",
    "RIGHT({x}, 10)",
    "FORMAT_STRING('%s', {x})",
    "ARRAY_JOIN(ARRAY({x}, {x}), ',')",
    "ARRAY_SORT(ARRAY({x}, 'a'))",
    "ARRAY_DISTINCT(ARRAY({x}))",
    "FLATTEN(ARRAY(ARRAY({x})))",
    "UNBASE64(BASE64({x}))",
    "UNHEX(HEX({x}))",
    "DECODE(ENCODE({x}, 'utf-8'), 'utf-8')",
    "STR_TO_MAP(CONCAT('k:', {x}))['k']",
    "REVERSE({x})",
    "CONCAT_WS('-', {x}, 'a')",
    "TRANSLATE({x}, 'AB', 'ba')",
    "LENGTH({x})",
    "SIZE(ARRAY({x}))",
]
NUMBER_FNS = [
    "{x}",
    "ABS({x})",
    "ROUND({x}, 1)",
    "CEIL({x})",
    "FLOOR({x})",
    "SIGN({x})",
    "{x} * 2",
    "{x} + 1",
    "CAST({x} AS INT)",
    "SQRT({x})",
    "POWER({x}, 2)",
    "{x} % 7",
    "GREATEST({x}, 0)",
    "CAST({x} AS STRING)",
]
DATE_FNS = [
    "{x}",
    "YEAR({x})",
    "MONTH({x})",
    "DAYOFWEEK({x})",
    "DATE_TRUNC('MONTH', {x})",
    "DATEDIFF({x}, DATE '2024-01-01')",
    "EXTRACT(MONTH FROM {x})",
    "CAST({x} AS STRING)",
]


def transform(draw: Any, col: Col, hostile: bool) -> tuple[str, str]:
    """(SQL, kind) of a scalar expression over one column."""
    if col.kind in ("str",):
        fns = STRING_FNS if hostile else STRING_FNS[:8]
    elif col.kind in ("num", "int"):
        fns = NUMBER_FNS if hostile else NUMBER_FNS[:5]
    elif col.kind == "date":
        fns = DATE_FNS
    else:
        fns = ["{x}"]
    fn = draw(st.sampled_from(fns))
    kind = col.kind if fn == "{x}" else ("str" if col.kind == "str" else "num")
    if fn.startswith(("SPLIT", "ARRAY(", "ARRAY_", "FLATTEN")) and "ARRAY_JOIN" not in fn and "[0]" not in fn:
        kind = "array"
    return fn.format(x=col.ref), kind


def literal_for(col: Col, draw: Any) -> str:
    base = col.base
    if base is not None and base[1] in LITERALS:
        return repr(draw(st.sampled_from(LITERALS[base[1]])))
    if col.kind == "date":
        return f"DATE '2024-{draw(st.integers(1, 6)):02d}-15'"
    if col.kind in ("num", "int"):
        return str(draw(st.integers(0, 60)))
    return repr(draw(st.sampled_from(["CANARY", "UIDA", "a", "M", "x"])))


def normal_predicate(draw: Any, cols: list[Col]) -> str | None:
    """A literal comparison on a dimension or a date (allowed under the recommended policy)."""
    options = [c for c in cols if c.role in ("dim", "date")]
    if not options:
        return None
    c = draw(st.sampled_from(options))
    op = draw(st.sampled_from(["=", "<>", "IN", "NOT IN", "LIKE", ">=", "<", "BETWEEN"]))
    if c.kind == "date" and op in ("IN", "NOT IN", "LIKE"):
        op = ">="
    if op in ("IN", "NOT IN"):
        lits = {literal_for(c, draw) for _ in range(draw(st.integers(1, 3)))}
        return f"{c.ref} {op} ({', '.join(sorted(lits))})"
    if op == "LIKE":
        return (
            f"{c.ref} LIKE '{draw(st.sampled_from(LITERALS.get(c.base[1] if c.base else '', ['a'])))[:2]}%'"
        )
    if op == "BETWEEN":
        return f"{c.ref} BETWEEN {literal_for(c, draw)} AND {literal_for(c, draw)}"
    return f"{c.ref} {op} {literal_for(c, draw)}"


#: Conditions over one column that decide rows without (or with) a comparison operator.
HOSTILE_CONDITIONS = [
    "{x} = {lit}",
    "{x} IN ({lit}, 'zz')",
    "{x} LIKE 'C%'",
    "{x} RLIKE '^[A-M]'",
    "{x} < 'M'",
    "{x} BETWEEN 'A' AND 'M'",
    "LENGTH({x}) > 12",
    "CAST(LENGTH({x}) - 15 AS BOOLEAN)",
    "CAST(LENGTH({x}) % 2 AS BOOLEAN)",
    "NOT CAST(LENGTH({x}) - 15 AS BOOLEAN)",
    "SIGN(LENGTH({x}) - 15) = 1",
    "CAST(SIGN(LENGTH({x}) - 15) + 1 AS BOOLEAN)",
    "CAST(POSITION('A' IN {x}) AS BOOLEAN)",
    "CAST(INSTR({x}, 'A') AS BOOLEAN)",
    "ARRAY_CONTAINS(ARRAY('a', 'b'), {x})",
    "ARRAY_CONTAINS(SPLIT({x}, ''), 'A')",
    "TRIM(BOTH {x} FROM 'CANARY') = ''",
    "TRIM(BOTH 'CANARY' FROM {x}) IS NULL",
    "GET_JSON_OBJECT('{{\"a\": 1}}', CONCAT('$.', {x})) IS NULL",
    "GET_JSON_OBJECT('{{\"a\": 1}}', CONCAT('$.', SUBSTR({x}, 1, 1))) IS NOT NULL",
    "MAP('C', 1)[SUBSTR({x}, 1, 1)] IS NULL",
    "MAP('C', TRUE)[SUBSTR({x}, 1, 1)]",
    "ELEMENT_AT(MAP('C', TRUE), SUBSTR({x}, 1, 1))",
    "CAST({x} AS BOOLEAN)",
    "CAST({x} AS BOOLEAN) = FALSE",
    "CAST({x} AS BOOLEAN) IS NULL",
    "CAST({x} AS INT) IS NULL",
    "CAST({x} AS DOUBLE) IS NOT NULL",
    "({x} + 0) IS NULL",
    "TO_DATE({x}) IS NULL",
    "DATEDIFF(DATE '2024-01-01', TO_DATE({x})) IS NULL",
    "IF(LENGTH({x}) > 12, TRUE, FALSE)",
    "COALESCE(NULLIF(SUBSTR({x}, 1, 1), 'C'), '') = ''",
    "NULLIF(LENGTH({x}), 15) IS NULL",
    "CASE WHEN {x} < 'M' THEN TRUE ELSE FALSE END",
    "CASE SUBSTR({x}, 1, 1) WHEN 'C' THEN TRUE ELSE FALSE END",
    "GREATEST({x}, 'M') = {x}",
    "LEAST(LENGTH({x}), 15) = 15",
    "REGEXP_REPLACE({x}, '^C.*', '') = ''",
    "REPLACE({x}, 'C', '') = {x}",
    "STARTSWITH({x}, 'C')",
    "SIZE(SPLIT({x}, 'A')) > 1",
    "CAST(SIZE(SPLIT({x}, 'A')) - 1 AS BOOLEAN)",
    "HEX({x}) > '4'",
    "{x} IS NULL",
    "{x} IS NOT NULL",
    "LENGTH({x}) IS NULL",
    "{x} = FALSE",
    "{x} IS TRUE",
]


def hostile_condition(draw: Any, col: Col) -> str:
    template = draw(st.sampled_from(HOSTILE_CONDITIONS))
    return template.format(x=col.ref, lit=literal_for(col, draw))


def predicate(draw: Any, cols: list[Col], hostile: bool) -> str | None:
    if not hostile or not draw(st.booleans()):
        return normal_predicate(draw, cols)
    col = draw(st.sampled_from(cols))
    if col.kind in ("str",):
        return hostile_condition(draw, col)
    if col.kind in ("num", "int"):
        return draw(
            st.sampled_from(
                [
                    f"{col.ref} > 10",
                    f"CAST({col.ref} - 5 AS BOOLEAN)",
                    f"SIGN({col.ref} - 50) = 1",
                    f"CAST(SIGN({col.ref} - 50) + 1 AS BOOLEAN)",
                    f"CAST(FLOOR({col.ref} / 50) AS BOOLEAN)",
                ]
            )
        )
    if col.kind == "date":
        return f"CAST(DATEDIFF({col.ref}, DATE '2024-03-01') AS BOOLEAN)"
    return normal_predicate(draw, cols)


def aggregate(draw: Any, cols: list[Col], hostile: bool) -> str:
    plain = [c for c in cols if not c.protected and c.kind in ("str", "num", "int", "date")]
    nums = [c for c in plain if c.kind in ("num", "int")]
    choice = draw(st.integers(0, 9 if hostile else 6))
    if choice == 0 or not plain:
        return "COUNT(*)"
    if choice in (1, 2) and nums:
        return (
            f"{draw(st.sampled_from(['SUM', 'AVG', 'STDDEV', 'VAR_POP']))}({draw(st.sampled_from(nums)).ref})"
        )
    if choice == 3:
        return f"COUNT(DISTINCT {draw(st.sampled_from(plain)).ref})"
    if choice == 4:
        return f"COUNT({draw(st.sampled_from(plain)).ref})"
    if choice == 5 and nums:
        return f"{draw(st.sampled_from(['MEDIAN', 'MIN', 'MAX']))}({draw(st.sampled_from(nums)).ref})"
    if choice == 6:
        return f"APPROX_COUNT_DISTINCT({draw(st.sampled_from(plain)).ref})"
    if not hostile:
        return "COUNT(*)"
    # hostile: aggregates over protected or transformed columns
    col = draw(st.sampled_from(cols))
    expr, _ = transform(draw, col, True)
    fn = draw(
        st.sampled_from(
            ["COLLECT_SET({})", "COLLECT_LIST({})", "MAX({})", "MIN({})", "ARRAY_JOIN(COLLECT_SET({}), ',')"]
            + [
                "COUNT(DISTINCT {})",
                "SUM(LENGTH({}))",
                "PERCENTILE(LENGTH({}), 0.5)",
                "APPROX_PERCENTILE(LENGTH({}), 0.5)",
            ]
            + [
                "SUM(CASE WHEN {} IS NULL THEN 0 ELSE 1 END)",
                "MAX(NAMED_STRUCT('v', {}))",
                "COLLECT_SET(ARRAY({}))",
            ]
        )
    )
    return fn.format(expr)


# ---------------------------------------------------------------------------------------------
# sources


@st.composite
def source(draw: Any, table: str, n: int, hostile: bool) -> Source:
    """One reference to ``table`` through a shape; ``n`` keeps aliases and CTE names unique."""
    alias = f"{table[0]}{n}"
    real = list(data.COLUMNS[table])
    shapes = ["plain", "plain", "dcl", "dcl", "derived", "cte", "cte_columns", "cte_chain", "union", "values"]
    if hostile:
        shapes += ["lateral_view", "explode", "pivot", "unpivot", "wrapped", "window", "lateral_alias"]
    shape = draw(st.sampled_from(shapes))

    def perm(pool: list[str]) -> list[str]:
        """Fresh names, a permutation of the real names, or the name of a dimension given to a
        protected column (and the protected column's name to the dimension)."""
        how = draw(st.sampled_from(["fresh", "permute", "swap"]))
        if how == "fresh":
            return [f"{alias}_{i}" for i in range(len(pool))]
        protected = [c for c in pool if BASE[(table, c)][1] in ("id", "secret", "ctl")]
        dims = [c for c in pool if BASE[(table, c)][1] in ("dim", "date")]
        if how == "permute" or not protected or not dims:
            return list(draw(st.permutations(pool)))
        out = list(pool)
        i, j = out.index(draw(st.sampled_from(protected))), out.index(draw(st.sampled_from(dims)))
        out[i], out[j] = out[j], out[i]
        return out

    if shape == "plain":
        return Source(
            f"{table} {alias}" if draw(st.booleans()) else f"{table} AS {alias}", _cols(table, alias), [table]
        )
    if shape == "dcl":
        names = perm(real)
        return Source(f"{table} AS {alias}({', '.join(names)})", _cols(table, alias, names), [table])
    if shape in ("derived", "cte", "cte_chain"):
        picked = draw(st.lists(st.sampled_from(real), min_size=2, max_size=len(real), unique=True))
        for needed in ("user_id", data.DIMENSIONS[table][0]):
            if needed not in picked and draw(st.integers(0, 3)) > 0:
                picked.append(needed)
        names = perm(picked)
        sel = ", ".join(f"{c} AS {m}" for c, m in zip(picked, names, strict=True))
        cols = [
            Col(f"{alias}.{m}", frozenset({(table, c)}), *BASE[(table, c)])
            for c, m in zip(picked, names, strict=True)
        ]
        inner = f"SELECT {sel} FROM {table}"
        if draw(st.integers(0, 3)) == 3:
            where = normal_predicate(draw, _cols(table, table))
            inner += f" WHERE {where}" if where else ""
        if shape == "derived":
            return Source(f"({inner}) AS {alias}", cols, [table])
        if shape == "cte":
            return Source(f"w{n} {alias}", cols, [table], [f"w{n} AS ({inner})"])
        again = list(draw(st.permutations(names)))
        sel2 = ", ".join(f"{a} AS {b}" for a, b in zip(names, again, strict=True))
        cols = [
            Col(f"{alias}.{b}", frozenset({(table, c)}), *BASE[(table, c)])
            for c, b in zip(picked, again, strict=True)
        ]
        return Source(
            f"w{n}b {alias}", cols, [table], [f"w{n}a AS ({inner})", f"w{n}b AS (SELECT {sel2} FROM w{n}a)"]
        )
    if shape == "cte_columns":
        names = perm(real)
        return Source(
            f"w{n} AS {alias}",
            _cols(table, alias, names),
            [table],
            [f"w{n}({', '.join(names)}) AS (SELECT * FROM {table})"],
        )
    if shape == "union":
        dim = data.DIMENSIONS[table][0]
        lits = ", ".join(repr(v) for v in LITERALS[dim][:2])
        # the second branch may list the columns in another order: positions, not names, decide
        second = list(draw(st.permutations(real))) if hostile and draw(st.booleans()) else real
        sql = (
            f"(SELECT * FROM {table} WHERE {dim} IN ({lits}) "
            f"UNION ALL SELECT {', '.join(second)} FROM {table} WHERE {dim} NOT IN ({lits})) AS {alias}"
        )
        cols = []
        for c, c2 in zip(real, second, strict=True):
            kind, role = BASE[(table, c)]
            lineage = frozenset({(table, c), (table, c2)})
            cols.append(Col(f"{alias}.{c}", lineage, kind, role if c == c2 else "secret"))
        return Source(sql, cols, [table])
    if shape == "values":
        dim = data.DIMENSIONS[table][0]
        vals = draw(st.lists(st.sampled_from(LITERALS[dim]), min_size=1, max_size=3, unique=True))
        rows = ", ".join(f"({v!r}, {i})" for i, v in enumerate(vals))
        sql = f"{table} AS {alias} JOIN (VALUES {rows}) AS v{n}(k, rk) ON {alias}.{dim} = v{n}.k"
        cols = _cols(table, alias) + [Col(f"v{n}.rk", frozenset(), "int", "num")]
        return Source(sql, cols, [table])
    if shape == "lateral_view":
        picks = draw(
            st.lists(
                st.sampled_from([c for c in real if BASE[(table, c)][0] == "str"]), min_size=1, max_size=3
            )
        )
        listed = ", ".join(f"{alias}.{c}" for c in picks)
        sql = f"{table} {alias} LATERAL VIEW explode(array({listed})) e{n} AS x{n}"
        lineage = frozenset((table, c) for c in picks)
        role = "secret" if any(BASE[(table, c)][1] != "dim" for c in picks) else "dim"
        return Source(sql, [*_cols(table, alias), Col(f"x{n}", lineage, "str", role)], [table])
    if shape == "explode":
        picks = draw(
            st.lists(
                st.sampled_from([c for c in real if BASE[(table, c)][0] == "str"]), min_size=1, max_size=3
            )
        )
        dim = data.DIMENSIONS[table][0]
        sql = f"(SELECT user_id, {dim}, explode(array({', '.join(picks)})) AS x FROM {table}) AS {alias}"
        role = "secret" if any(BASE[(table, c)][1] != "dim" for c in picks) else "dim"
        cols = [
            Col(f"{alias}.user_id", frozenset({(table, "user_id")}), "str", "id"),
            Col(f"{alias}.{dim}", frozenset({(table, dim)}), "str", "dim"),
            Col(f"{alias}.x", frozenset((table, c) for c in picks), "str", role),
        ]
        return Source(sql, cols, [table])
    if shape == "pivot":
        dim, other = data.DIMENSIONS[table]
        target = draw(st.sampled_from([c for c in real if BASE[(table, c)][0] == "str" and c != dim]))
        vals = LITERALS[dim][:2]
        agg = draw(st.sampled_from(["MAX", "MIN", "COUNT", "COLLECT_SET"]))
        sql = (
            f"(SELECT * FROM (SELECT user_id, {other}, {dim}, {target} FROM {table}) "
            f"PIVOT ({agg}({target}) FOR {dim} IN "
            f"({', '.join(f'{v!r} AS pv{i}' for i, v in enumerate(vals))}))) AS {alias}"
        )
        kind, role = BASE[(table, target)]
        cols = [
            Col(f"{alias}.user_id", frozenset({(table, "user_id")}), "str", "id"),
            Col(f"{alias}.{other}", frozenset({(table, other)}), "str", "dim"),
        ] + [
            Col(
                f"{alias}.pv{i}",
                frozenset({(table, target), (table, dim)}),
                "str" if agg != "COUNT" else "int",
                role,
            )
            for i in range(len(vals))
        ]
        return Source(sql, cols, [table])
    if shape == "unpivot":
        dim = data.DIMENSIONS[table][0]
        strs = [c for c in real if BASE[(table, c)][0] == "str" and c not in ("user_id", dim)]
        picks = draw(st.lists(st.sampled_from(strs), min_size=1, max_size=3, unique=True))
        sql = (
            f"(SELECT * FROM (SELECT user_id, {dim}, {', '.join(picks)} FROM {table}) "
            f"UNPIVOT (val FOR col IN ({', '.join(picks)}))) AS {alias}"
        )
        role = "secret" if any(BASE[(table, c)][1] != "dim" for c in picks) else "dim"
        cols = [
            Col(f"{alias}.user_id", frozenset({(table, "user_id")}), "str", "id"),
            Col(f"{alias}.{dim}", frozenset({(table, dim)}), "str", "dim"),
            Col(f"{alias}.col", frozenset(), "str", "dim"),
            Col(f"{alias}.val", frozenset((table, c) for c in picks), "str", role),
        ]
        return Source(sql, cols, [table])
    if shape == "wrapped":
        dim = data.DIMENSIONS[table][0]
        secret = data.SECRET_COLUMN[table]
        form = draw(st.sampled_from(["struct", "named", "map", "array"]))
        expr, read = {
            "struct": (f"STRUCT({secret} AS {dim}, {dim} AS {secret})", f"{alias}.s.{dim}"),
            "named": (f"NAMED_STRUCT('{dim}', {secret})", f"{alias}.s.{dim}"),
            "map": (f"MAP('{dim}', {secret})", f"{alias}.s['{dim}']"),
            "array": (f"ARRAY({dim}, {secret})", f"{alias}.s[1]"),
        }[form]
        sql = f"w{n} {alias}"
        cte = f"w{n} AS (SELECT user_id, {dim}, {expr} AS s FROM {table})"
        cols = [
            Col(f"{alias}.user_id", frozenset({(table, "user_id")}), "str", "id"),
            Col(f"{alias}.{dim}", frozenset({(table, dim)}), "str", "dim"),
            Col(read, frozenset({(table, secret)}), "str", "secret"),
        ]
        return Source(sql, cols, [table], [cte])
    if shape == "window":
        dim = data.DIMENSIONS[table][0]
        target = draw(st.sampled_from([c for c in real if c != dim]))
        fn = draw(
            st.sampled_from(
                [
                    "MAX({t}) OVER (PARTITION BY {d})",
                    "LAG({t}) OVER (ORDER BY {t})",
                    "MIN({t}) OVER ()",
                    "ROW_NUMBER() OVER (ORDER BY {t})",
                    "COUNT(*) OVER (PARTITION BY {t})",
                ]
            )
        )
        cte = f"w{n} AS (SELECT user_id, {dim}, {fn.format(t=target, d=dim)} AS m FROM {table})"
        kind, role = BASE[(table, target)]
        if fn.startswith(("ROW_NUMBER", "COUNT")):
            kind = "int"
        cols = [
            Col(f"{alias}.user_id", frozenset({(table, "user_id")}), "str", "id"),
            Col(f"{alias}.{dim}", frozenset({(table, dim)}), "str", "dim"),
            Col(f"{alias}.m", frozenset({(table, target)}), kind, "secret" if role != "dim" else "dim"),
        ]
        return Source(f"w{n} {alias}", cols, [table], [cte])
    # lateral column alias: Spark resolves a select alias used later in the same select list
    dim = data.DIMENSIONS[table][0]
    secret = data.SECRET_COLUMN[table]
    cte = f"w{n} AS (SELECT user_id, {secret} AS {dim}x, {dim}x AS {dim}y, {dim} FROM {table})"
    cols = [
        Col(f"{alias}.user_id", frozenset({(table, "user_id")}), "str", "id"),
        Col(f"{alias}.{dim}", frozenset({(table, dim)}), "str", "dim"),
        Col(f"{alias}.{dim}y", frozenset({(table, secret)}), "str", "secret"),
    ]
    return Source(f"w{n} {alias}", cols, [table], [cte])


@st.composite
def from_clause(
    draw: Any, shapes: bool = False, join_attack: bool = False
) -> tuple[str, list[str], list[Col], list[str]]:
    """FROM text, CTEs, visible columns, referenced tables. ``shapes``: the first source may take a
    hostile shape; ``join_attack``: join on other columns than the identity, or with OR."""
    first = draw(source(draw(st.sampled_from(list(data.COLUMNS))), 0, shapes))
    sql, ctes, cols, tables = first.sql, list(first.ctes), list(first.cols), list(first.tables)
    if draw(st.integers(0, 2)) > 0 or join_attack:
        table = draw(st.sampled_from(list(data.COLUMNS)))
        second = draw(source(table, 1, False))
        kind = draw(
            st.sampled_from(["JOIN", "JOIN", "INNER JOIN", "LEFT JOIN", "FULL OUTER JOIN", "CROSS JOIN"])
        )
        ids = (first.find("id"), second.find("id"))
        if kind != "CROSS JOIN":
            if ids[0] and ids[1] and (not join_attack or not draw(st.booleans())):
                cond = f"{ids[0][0].ref} = {ids[1][0].ref}"
            else:
                left = draw(st.sampled_from(first.cols))
                right = [c for c in second.cols if c.kind == left.kind] or second.cols
                cond = f"{left.ref} = {draw(st.sampled_from(right)).ref}"
            extra = draw(st.integers(0, 4 if join_attack else 8))
            if extra in (4, 8):
                p = predicate(draw, second.cols, join_attack)
                cond += f" AND {p}" if p else ""
            elif extra == 3 and join_attack:
                p = predicate(draw, second.cols, True)
                cond = f"({cond} OR {p})" if p else cond
            sql += f" {kind} {second.sql} ON {cond}"
        else:
            sql += f" CROSS JOIN {second.sql}"
        ctes += second.ctes
        cols += second.cols
        tables += second.tables
    return sql, ctes, cols, tables


# ---------------------------------------------------------------------------------------------
# whole queries

#: How a query carries a protected column to its output.
LEAKS_AGGREGATE = [
    "COLLECT_SET({})",
    "COLLECT_LIST({})",
    "MAX({})",
    "MIN({})",
    "ARRAY_JOIN(COLLECT_SET({}), ',')",
    "APPROX_PERCENTILE(LENGTH({}), 0.5)",
    "MAX(NAMED_STRUCT('v', {}))",
    "COLLECT_SET(ARRAY({}))",
    "COUNT(DISTINCT {})",
]
LEAKS_WINDOW = [
    "MAX({}) OVER (PARTITION BY {})",
    "LAG({}) OVER (ORDER BY {})",
    "COLLECT_SET({}) OVER (PARTITION BY {})",
    "MIN({}) OVER ()",
]


@st.composite
def p1_queries(draw: Any) -> Query:
    """A normal query, or one with exactly one attack (the rest stays normal, so that the attack is
    what the engine has to judge): a protected column in the output (under its own name or another
    one), a hostile FROM shape feeding the output, or a join on other columns than the identity."""
    attack = draw(
        st.sampled_from(
            ["none", "none", "none", "none", "output", "output", "source", "source", "join", "union"]
        )
    )
    if attack == "union":
        return draw(p1_union())
    frm, ctes, cols, tables = draw(from_clause(shapes=attack == "source", join_attack=attack == "join"))
    where = [p for _ in range(draw(st.integers(0, 2))) if (p := normal_predicate(draw, cols))]
    mode = draw(st.sampled_from(["group", "group", "group", "distinct", "rows", "window"]))
    keys = [c for c in cols if c.role in ("dim", "date")]
    items: list[str] = []  # "expr AS alias"
    group: list[str] = []
    for i in range(draw(st.integers(0 if mode == "group" else 1, 2))):
        if not keys:
            break
        c = draw(st.sampled_from(keys))
        expr = transform(draw, c, False)[0] if draw(st.integers(0, 3)) == 3 else c.ref
        items.append(f"{expr} AS g{i}")
        group.append(draw(st.sampled_from([expr, f"g{i}", str(i + 1)])))
    if mode == "group":
        for j in range(draw(st.integers(1, 3))):
            items.append(f"{aggregate(draw, cols, False)} AS a{j}")
        if draw(st.integers(0, 5)) == 5:
            items.append(
                f"{draw(st.sampled_from(['RANK() OVER (ORDER BY COUNT(*))', 'SUM(COUNT(*)) OVER ()']))} AS w"
            )
    if mode == "window":
        part = draw(st.sampled_from(keys)).ref if keys else "1"
        target = draw(st.sampled_from([c for c in cols if not c.protected] or cols))
        nums = [c for c in cols if c.role == "num"]
        w = draw(
            st.sampled_from(
                [
                    "COUNT(*) OVER ()",
                    f"ROW_NUMBER() OVER (PARTITION BY {part} ORDER BY {target.ref})",
                    f"SUM({nums[0].ref if nums else 1}) OVER (PARTITION BY {part})",
                    f"RANK() OVER (ORDER BY {target.ref})",
                ]
            )
        )
        items += [f"{w} AS w", "COUNT(*) OVER () AS n"]
    if attack != "none":
        # the protected columns in scope; a hostile shape's own columns first
        targets = [c for c in cols if c.role in ("secret", "id")]
        if attack == "source":
            targets = [c for c in targets if c.ref.startswith(("x0", f"{tables[0][0]}0."))] or targets
        target = draw(st.sampled_from(targets)) if targets else draw(st.sampled_from(cols))
        expr = target.ref if draw(st.booleans()) else transform(draw, target, True)[0]
        place = draw(st.sampled_from(["aggregate", "aggregate", "aggregate", "key", "window", "row"]))
        if place == "aggregate":
            items.append(f"{draw(st.sampled_from(LEAKS_AGGREGATE)).format(expr)} AS leak")
            if mode not in ("group",):
                items = [it for it in items if "OVER" not in it] + ["COUNT(*) AS n"]
                mode = "group"
                group = [g for g in group if not g.isdigit() or int(g) <= len(items)]
        elif place == "key" and mode in ("group", "distinct"):
            items.insert(0, f"{expr} AS leak")
            group = [str(int(g) + 1) if g.isdigit() else g for g in group]
            group.insert(0, draw(st.sampled_from([expr, "leak", "1"])))
        elif place == "window" or mode == "window":
            part = draw(st.sampled_from(keys)).ref if keys else "1"
            items = [it for it in items if " AS a" not in it and " AS w" not in it]
            items.append(f"{draw(st.sampled_from(LEAKS_WINDOW)).format(expr, part)} AS leak")
            items.append("COUNT(*) OVER () AS n")
            mode, group = "window", []
        else:
            items = [it for it in items if " AS a" not in it and " AS w" not in it]
            items.append(f"{expr} AS leak")
            mode, group = ("distinct" if mode == "distinct" else "rows"), []
    if not items:
        items = ["COUNT(*) AS n"]
    with_ = "WITH " + ", ".join(ctes) + " " if ctes else ""
    sql = (
        with_ + ("SELECT DISTINCT " if mode == "distinct" else "SELECT ") + ", ".join(items) + f" FROM {frm}"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    if group and mode == "group":
        sql += " GROUP BY " + ", ".join(group)
    if mode == "group" and draw(st.integers(0, 4)) == 4:
        sql += " HAVING " + draw(st.sampled_from(["COUNT(*) > 1", "COUNT(*) >= 5", "SUM(1) > 2"]))
    if mode == "group" and draw(st.integers(0, 7)) == 7:
        sql += " QUALIFY " + draw(
            st.sampled_from(["RANK() OVER (ORDER BY COUNT(*)) <= 3", "COUNT(*) OVER () > 1"])
        )
    elif mode == "window" and attack != "none" and keys and draw(st.integers(0, 3)) == 3:
        target = draw(st.sampled_from(cols))
        sql += f" QUALIFY ROW_NUMBER() OVER (PARTITION BY {keys[0].ref} ORDER BY {target.ref}) = 1"
    if draw(st.integers(0, 4)) == 4:
        sql += f" ORDER BY 1 LIMIT {draw(st.integers(1, 20))}"
    return Query(sql, f"p1:{attack}", attack != "none", tuple(tables))


@st.composite
def p1_union(draw: Any) -> Query:
    """A top-level UNION ALL whose second branch puts a protected column where the first has a
    dimension (set operations match by position, so the first branch's names decide nothing)."""
    t1, t2 = draw(st.sampled_from(list(data.COLUMNS))), draw(st.sampled_from(list(data.COLUMNS)))
    d1 = draw(st.sampled_from(data.DIMENSIONS[t1]))
    leak = draw(st.sampled_from(["user_id", data.SECRET_COLUMN[t2], *data.DIMENSIONS[t2]]))
    agg = draw(st.sampled_from(["COUNT(*)", "COUNT(DISTINCT {d})", "COLLECT_SET({d})", "MAX({d})"]))
    grouped = draw(st.booleans())
    second = (
        f"SELECT {leak}, {agg.format(d=leak)} FROM {t2} GROUP BY {leak}"
        if grouped
        else f"SELECT '{d1}', {agg.format(d=leak)} FROM {t2}"
    )
    sql = f"SELECT {d1} AS k, {agg.format(d=d1)} AS n FROM {t1} GROUP BY {d1} UNION ALL {second}"
    if draw(st.integers(0, 2)) == 2:
        sql += f" ORDER BY 1 LIMIT {draw(st.integers(1, 10))}"
    return Query(sql, "p1:union", True, (t1, t2))


# P3 -------------------------------------------------------------------------------------------

#: Uses of the relabeled column c (``{c}``: a reference to it; ``{t}``: the table; ``{a}``: the alias).
P3_USES = [
    "where",
    "where_cte",
    "join_on",
    "having",
    "group_expr",
    "cte_expr_where",
    "cte_expr_group",
    "order_limit",
    "window_rank",
    "renamed",
    "renamed_cte",
    "values",
    "case_output",
    "if_output",
    "pivot",
    "self_join",
    "in_subquery",
    "count_distinct_expr",
    "lateral_view",
    "union_position",
    "qualify_cte",
]


@st.composite
def p3_queries(draw: Any) -> Query:
    table = draw(st.sampled_from(list(data.COLUMNS)))
    c = data.SECRET_COLUMN[table]
    dim, dim2 = data.DIMENSIONS[table]
    num = data.NUMBERS[table][0]
    real = list(data.COLUMNS[table])
    use = draw(st.sampled_from(P3_USES))
    a = "t"
    cref = Col(f"{a}.{c}", frozenset({(table, c)}), "str", "secret")
    cond = hostile_condition(draw, cref)
    keys = draw(st.sampled_from([[dim], [dim2], [dim, dim2], []]))
    aggs = draw(
        st.sampled_from([["COUNT(*)"], ["COUNT(*)", f"SUM({a}.{num})"], [f"AVG({a}.{num})", "COUNT(*)"]])
    )

    def select(
        from_sql: str,
        where: str = "",
        extra_group: str = "",
        having: str = "",
        ctes: str = "",
        prefix: str = a,
        order: str = "",
    ) -> str:
        k = [f"{prefix}.{x}" for x in keys]
        items = ", ".join([*k, *(g.replace(f"{a}.", f"{prefix}.") for g in aggs)])
        group = [*k, *([extra_group] if extra_group else [])]
        sql = f"{ctes}SELECT {items} FROM {from_sql}"
        sql += f" WHERE {where}" if where else ""
        sql += f" GROUP BY {', '.join(group)}" if group else ""
        sql += f" HAVING {having}" if having else ""
        return sql + order

    skeleton = select(f"{table} {a}")  # the same normal query without the use of c

    def done(sql: str, family: str, hostile: bool, tables: tuple[str, ...]) -> Query:
        return Query(sql, family, hostile, tables, skeleton=skeleton)

    if use == "where":
        return done(select(f"{table} {a}", cond), f"p3:{use}", True, (table,))
    if use == "where_cte":
        inner = f"SELECT * FROM {table} {a} WHERE {cond}"
        return done(select("w t", ctes=f"WITH w AS ({inner}) "), f"p3:{use}", True, (table,))
    if use == "join_on":
        other = "impressions" if table == "purchases" else "purchases"
        sql = select(f"{table} {a} JOIN {other} o ON {a}.user_id = o.user_id AND {cond}")
        return done(sql, f"p3:{use}", True, (table, other))
    if use == "having":
        agg = draw(
            st.sampled_from(
                [f"MAX({a}.{c})", f"MIN({a}.{c})", f"MAX(LENGTH({a}.{c}))", f"SUM(LENGTH({a}.{c}))"]
            )
        )
        h = draw(
            st.sampled_from(
                [
                    "{g} > 'M'",
                    "CAST({g} AS BOOLEAN)",
                    "CAST(LENGTH(CAST({g} AS STRING)) - 15 AS BOOLEAN)",
                    "{g} IS NOT NULL AND LENGTH(CAST({g} AS STRING)) > 14",
                ]
            )
        ).format(g=agg)
        if not keys:
            keys = [dim]
        return done(select(f"{table} {a}", having=h), f"p3:{use}", True, (table,))
    if use == "group_expr":
        # Grouping by a total function of the column (LENGTH, SUBSTR with constant bounds) is a
        # coarser grouping, which the engine reads as AWS does: not a comparison (each group still
        # meets the threshold). Grouping by a comparison or a branching value is one.
        expr = draw(
            st.sampled_from(
                [
                    f"{a}.{c} < 'M'",
                    f"CAST({a}.{c} AS INT)",
                    f"HEX({a}.{c}) < '4'",
                    f"SIGN(LENGTH({a}.{c}) - 15)",
                ]
            )
        )
        return done(select(f"{table} {a}", extra_group=expr), f"p3:{use}", True, (table,))
    if use in ("cte_expr_where", "cte_expr_group"):
        total = [f"LENGTH({c})", f"SUBSTR({c}, 1, 1)"] if use == "cte_expr_where" else []  # see group_expr
        expr = draw(
            st.sampled_from(
                [
                    *total,
                    f"CAST(LENGTH({c}) - 15 AS BOOLEAN)",
                    f"CAST({c} AS INT)",
                    f"SIGN(LENGTH({c}) - 15)",
                    f"{c} < 'M'",
                    f"GET_JSON_OBJECT('{{\"a\": 1}}', CONCAT('$.', {c}))",
                ]
            )
        )
        inner = f"SELECT {', '.join(real)}, {expr} AS z FROM {table}"
        if use == "cte_expr_where":
            w = draw(
                st.sampled_from(
                    [
                        "t.z IS NULL",
                        "CAST(t.z AS BOOLEAN)",
                        "CAST(t.z AS INT) > 14",
                        "t.z = 'C'",
                        "CAST(CAST(t.z AS INT) - 15 AS BOOLEAN)",
                    ]
                )
            )
            return done(select("w t", w, ctes=f"WITH w AS ({inner}) "), f"p3:{use}", True, (table,))
        return done(
            select("w t", extra_group="t.z", ctes=f"WITH w AS ({inner}) "), f"p3:{use}", True, (table,)
        )
    if use == "order_limit":
        if not keys:
            keys = [dim]
        n_items = len(keys) + len(aggs)
        key = draw(st.sampled_from([f"MAX({a}.{c})", f"MIN(LENGTH({a}.{c}))", f"MAX(SUBSTR({a}.{c}, 2, 3))"]))
        order = (
            f" ORDER BY {key}, "
            + ", ".join(str(i + 1) for i in range(n_items))
            + f" LIMIT {draw(st.integers(1, 3))}"
        )
        return done(select(f"{table} {a}", order=order), f"p3:{use}", True, (table,))
    if use == "window_rank":
        unique = "code" if table == "purchases" else "cost"  # a total order: results are deterministic
        inner = f"SELECT *, ROW_NUMBER() OVER (PARTITION BY {dim} ORDER BY {c}, {unique}) AS rn FROM {table}"
        w = draw(st.sampled_from(["t.rn = 1", "t.rn <= 3", "t.rn > 2"]))
        return done(select("w t", w, ctes=f"WITH w AS ({inner}) "), f"p3:{use}", True, (table,))
    if use in ("renamed", "renamed_cte"):
        # c is renamed to the name of an allowed dimension (and the dimension to c's name)
        names = [dim if x == c else c if x == dim else x for x in real]
        cond2 = draw(
            st.sampled_from(
                [
                    f"t.{dim} < 'M'",
                    f"t.{dim} LIKE 'C%'",
                    f"LENGTH(t.{dim}) > 12",
                    f"t.{dim} IN ('north', 'web')",
                    f"t.{dim} BETWEEN 'A' AND 'M'",
                ]
            )
        )
        keys = [k for k in keys if k != dim] or [dim2]
        if use == "renamed":
            frm = f"{table} AS t({', '.join(names)})"
            return done(select(frm, cond2), f"p3:{use}", True, (table,))
        ctes = f"WITH w({', '.join(names)}) AS (SELECT * FROM {table}) "
        return done(select("w t", cond2, ctes=ctes), f"p3:{use}", True, (table,))
    if use == "values":
        vals = draw(st.sampled_from(["('CANARYE'), ('x')", "('a'), ('true'), ('1')"]))
        frm = f"{table} {a} JOIN (VALUES {vals}) AS v(k) ON {a}.{c} = v.k"
        return done(select(frm), f"p3:{use}", True, (table,))
    if use in ("case_output", "if_output"):
        test = draw(
            st.sampled_from(
                [
                    f"{a}.{c} < 'M'",
                    f"LENGTH({a}.{c}) > 14",
                    f"CAST(LENGTH({a}.{c}) - 15 AS BOOLEAN)",
                    f"{a}.{c} IS NULL",
                ]
            )
        )
        item = (
            f"CASE WHEN {test} THEN {a}.{dim} ELSE 'other' END"
            if use == "case_output"
            else f"IF({test}, 1, 0)"
        )
        return done(f"SELECT {item} AS k, COUNT(*) FROM {table} {a} GROUP BY 1", f"p3:{use}", True, (table,))
    if use == "pivot":
        frm = (
            f"(SELECT * FROM (SELECT user_id, {dim}, {c} FROM {table}) "
            f"PIVOT (COUNT(*) FOR {c} IN ('a' AS x, 'true' AS y))) t"
        )
        return done(
            f"SELECT t.{dim}, SUM(t.x), SUM(t.y), COUNT(*) FROM {frm} GROUP BY t.{dim}",
            f"p3:{use}",
            True,
            (table,),
        )
    if use == "self_join":
        on = draw(
            st.sampled_from(
                [
                    f"{a}.{c} = b.{c}",
                    f"{a}.user_id = b.user_id AND LENGTH({a}.{c}) > LENGTH(b.{dim})",
                    f"{a}.user_id = b.user_id AND {a}.{c} < b.{dim}",
                ]
            )
        )
        return done(select(f"{table} {a} JOIN {table} b ON {on}"), f"p3:{use}", True, (table,))
    if use == "in_subquery":
        sub = f"SELECT {dim} FROM {table} WHERE {c} < 'M'"
        return done(select(f"{table} {a}", f"{a}.{dim} IN ({sub})"), f"p3:{use}", True, (table,))
    if use == "count_distinct_expr":
        expr = draw(st.sampled_from([f"LENGTH({a}.{c})", f"SUBSTR({a}.{c}, 1, 3)", f"CAST({a}.{c} AS INT)"]))
        if not keys:
            keys = [dim]
        aggs = ["COUNT(*)", f"COUNT(DISTINCT {expr})"]
        return done(select(f"{table} {a}"), f"p3:{use}", True, (table,))
    if use == "lateral_view":
        frm = f"{table} {a} LATERAL VIEW explode(array({a}.{c}, {a}.{dim})) e AS x"
        return done(select(frm, "x < 'M'"), f"p3:{use}", True, (table,))
    if use == "qualify_cte":
        unique = "code" if table == "purchases" else "cost"
        inner = (
            f"SELECT * FROM {table} QUALIFY ROW_NUMBER() OVER (PARTITION BY {dim} ORDER BY {c}, {unique}) = 1"
        )
        return done(select("w t", ctes=f"WITH w AS ({inner}) "), f"p3:{use}", True, (table,))
    # union_position: c lands, by position, in the dimension column of the set operation
    cols_second = [c if x == dim else dim if x == c else x for x in real]
    frm = f"(SELECT * FROM {table} UNION ALL SELECT {', '.join(cols_second)} FROM {table}) t"
    return done(select(frm, f"t.{dim} < 'M'"), f"p3:{use}", True, (table,))


# P4 -------------------------------------------------------------------------------------------

#: Operations that fail in DuckDB on the perturbed values (0, non-numeric text, INT overflow).
FAILING = {
    "purchases": [
        "{a}.qty DIV {a}.qty",
        "100 DIV {a}.qty",
        "{a}.qty * {a}.qty",
        "{a}.qty + {a}.qty",
        "{a}.qty * 1000",
        "GET_JSON_OBJECT({a}.code, '$.a')",
        "UNHEX({a}.code)",
        "UNBASE64({a}.code)",
        "{a}.code + 1",
        "CAST({a}.amount AS INT) DIV CAST({a}.amount AS INT)",
        "LENGTH(GET_JSON_OBJECT({a}.code, '$.a'))",
    ],
    "impressions": [
        "{a}.clicks DIV {a}.clicks",
        "{a}.clicks * {a}.clicks",
        "{a}.clicks + {a}.clicks",
        "CAST({a}.cost AS INT) DIV 1",
        "1000 DIV {a}.clicks",
    ],
}


@st.composite
def p4_queries(draw: Any) -> Query:
    table = draw(st.sampled_from(list(data.COLUMNS)))
    key = data.PERTURBED[table][0]
    a = "t"
    fail = draw(st.sampled_from(FAILING[table])).format(a=a)
    join = draw(st.integers(0, 3)) == 3
    other = "impressions" if table == "purchases" else "purchases"
    frm = f"{table} {a}"
    keys = [f"{a}.{key}"]
    if join:
        frm += f" JOIN {other} o ON {a}.user_id = o.user_id"
        keys.append(f"o.{data.PERTURBED[other][0]}")  # the other table's small groups stay separate too
    if draw(st.booleans()):
        keys.append(f"{a}.{data.DIMENSIONS[table][1]}")
    base_keys = list(keys)
    place = draw(
        st.sampled_from(["select", "select", "where", "case", "having", "cte_rows", "cte_grouped", "dcl"])
    )
    items = [*keys, "COUNT(*)"]
    where = having = ctes = ""
    if place == "select":
        items.append(draw(st.sampled_from(["SUM({})", "AVG({})", "MAX({})", "COUNT({})"])).format(fail))
    elif place == "where":
        where = draw(
            st.sampled_from(["CAST({} AS BOOLEAN)", "({}) IS NOT NULL", "CAST({} AS STRING) IS NOT NULL"])
        )
        where = where.format(fail)
    elif place == "case":
        items.append(f"SUM(CASE WHEN {a}.{key} IS NOT NULL THEN {fail} ELSE 0 END)")
    elif place == "having":
        having = f" HAVING MAX({fail}) IS NOT NULL OR COUNT(*) > 0"
    elif place == "cte_rows":
        ctes = f"WITH w AS (SELECT *, {fail} AS f FROM {table} {a}) "
        frm = frm.replace(f"{table} {a}", f"w {a}", 1)
        items.append(f"SUM({a}.f)")
    elif place == "cte_grouped":
        group = f"{a}.{key}, {a}.user_id" if draw(st.booleans()) else f"{a}.{key}"
        bare = group.replace(f"{a}.", "")
        ctes = f"WITH w AS (SELECT {bare}, SUM({fail}) AS f FROM {table} {a} GROUP BY {group}) "
        items = [f"{a}.{key}", "COUNT(*)", f"SUM({a}.f)"]
        keys = [f"{a}.{key}"]
        frm = f"w {a}"
    else:  # dcl: the same under a derived column list that swaps the names of two numbers
        real = list(data.COLUMNS[table])
        n1, n2 = data.NUMBERS[table]
        names = [n2 if x == n1 else n1 if x == n2 else x for x in real]
        frm = frm.replace(f"{table} {a}", f"{table} AS {a}({', '.join(names)})", 1)
        swapped = fail.replace(f"{a}.{n1}", "\0").replace(f"{a}.{n2}", f"{a}.{n1}").replace("\0", f"{a}.{n2}")
        items.append(f"SUM({swapped})")
    sql = f"{ctes}SELECT {', '.join(items)} FROM {frm}"
    sql += f" WHERE {where}" if where else ""
    sql += f" GROUP BY {', '.join(keys)}{having}"
    plain = f"{table} {a}" + (f" JOIN {other} o ON {a}.user_id = o.user_id" if join else "")
    safe = f"{a}.{data.NUMBERS[table][0]}"
    skeleton = (
        f"SELECT {', '.join(base_keys)}, COUNT(*), SUM({safe}) FROM {plain} GROUP BY {', '.join(base_keys)}"
    )
    return Query(sql, f"p4:{place}", True, (table, other) if join else (table,), skeleton)
