"""P2: a structured query family rendered twice, as engine SQL and as an independent oracle SQL.

A plan reads one to three *slots*; each slot is one reference to a thresholded table, reached
through a shape the checks must see through: the table with an alias, a derived column list
that permutes the real names (``purchases AS a(region, user_id, ...)``), a derived table or a
CTE that renames (and permutes) columns, a CTE with a column list over ``SELECT *``, a chain of
two renaming CTEs, a UNION ALL of two filtered branches, or a CTE that aggregates. Slots are
joined (inner, left, right, full, cross; on the identity, on other columns, with OR), filtered,
grouped (by names, ordinals or aliases, possibly by keys that are not output), made DISTINCT or
left row-level, with HAVING, ORDER BY and LIMIT.

The oracle SQL is the same query on the raw Parquet files in plain DuckDB, with one extra
column per slot, ``__ids_<n>``: the list of the slot's base identities, computed at the base
table from the real ``user_id`` column (before any renaming) and carried explicitly through every
projection, CTE, union branch and join the generator writes; aggregating steps union the lists.
The final SELECT reports, per output row, the number of distinct identities of each slot. No
name in the query decides what is counted, so renames cannot fool it, and nothing of the
engine's rewrite is reused.

An intermediate aggregate (a CTE grouped by anything but the identity) is an output too
(ANALYSIS_RULES.md 4.1.5): the oracle drops its groups below the minimum before the final SELECT
reads them ("strict"), as the engine does whatever the final SELECT then does with its rows (even
re-summing its sums, which a group of one person would otherwise still move).

Required minimum per slot (8.6.8): the table minimum, 0 for the documented single-table COUNT
exemption, and 0 under an override of 0 only when every output column is a bare exempt column
of that table and the grouping keys are exactly those output columns (a row per distinct value;
an exempt column grouped with another key, or repeated per row, is laundering, issue 11 class 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from generative import data

# value pools for literal filters, including the small groups
VALUES = {
    "region": [*data.BIG_REGIONS, *data.SMALL_REGIONS],
    "category": [*data.BIG_CATEGORIES, "gems"],
    "channel": [*data.BIG_CHANNELS, "kiosk"],
    "campaign": [*data.BIG_CAMPAIGNS, "c9"],
}
KIND = {
    "user_id": "id",
    "region": "dim",
    "category": "dim",
    "channel": "dim",
    "campaign": "dim",
    "pdate": "date",
    "idate": "date",
    "amount": "num",
    "qty": "num",
    "cost": "num",
    "clicks": "num",
    "tier": "key",
    "code": "key",
    "email": "secret",
    "device": "secret",
}


@dataclass
class VCol:
    """A column a slot exposes: its visible name, its base column (None: computed), its kind."""

    name: str
    base: str | None
    kind: str


@dataclass
class Slot:
    index: int
    table: str
    alias: str
    shape: str
    cols: list[VCol]
    engine_from: str
    oracle_from: str
    engine_ctes: list[str] = field(default_factory=list)
    oracle_ctes: list[str] = field(default_factory=list)
    aggregated: bool = False  # an aggregating CTE not grouped by the identity

    @property
    def ids(self) -> str:
        return f"__ids_{self.index}"

    def col(self, base: str) -> VCol | None:
        return next((c for c in self.cols if c.base == base), None)

    def ref(self, c: VCol) -> str:
        return f"{self.alias}.{c.name}"


@dataclass
class Item:
    """A final select item: text, whether it is an aggregate, its lineage (slot, base) pairs."""

    sql: str
    aggregate: bool
    lineage: frozenset[tuple[int, str | None]]
    alias: str = ""
    bare: tuple[int, str] | None = None  # a bare column of (slot, base)


@dataclass
class Plan:
    slots: list[Slot]
    engine_sql: str
    oracle_sql: str
    mode: str  # group | distinct | rows | count
    minimums: dict[int, int]
    strict: bool
    width: int
    description: str = ""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this
        printer.text(repr(self))

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"Plan({self.engine_sql!r}, mode={self.mode}, minimums={self.minimums}, strict={self.strict})"


def base_sql(table: str, slot: int, paths: Mapping[str, str]) -> str:
    cols = ", ".join(data.COLUMNS[table])
    ids = f"CASE WHEN user_id IS NULL THEN []::VARCHAR[] ELSE [user_id] END AS __ids_{slot}"
    return f"(SELECT {cols}, {ids} FROM read_parquet('{paths[table]}'))"


def _literal_filter(draw: Any, cols: Sequence[tuple[str, str]]) -> str | None:
    """A literal comparison on a dimension or a date: (visible reference, base column)."""
    options = [(ref, base) for ref, base in cols if base in VALUES or KIND.get(base) == "date"]
    if not options:
        return None
    ref, base = draw(st.sampled_from(options))
    if KIND[base] == "date":
        op = draw(st.sampled_from([">=", "<", "BETWEEN"]))
        if op == "BETWEEN":
            return f"{ref} BETWEEN DATE '2024-02-01' AND DATE '2024-05-31'"
        return f"{ref} {op} DATE '2024-{draw(st.integers(2, 6)):02d}-01'"
    values = VALUES[base]
    op = draw(st.sampled_from(["=", "IN", "<>", "NOT IN", "LIKE"]))
    if op in ("IN", "NOT IN"):
        chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
        return f"{ref} {op} ({', '.join(repr(v) for v in chosen)})"
    if op == "LIKE":
        return f"{ref} LIKE '{draw(st.sampled_from(values))[:2]}%'"
    return f"{ref} {op} '{draw(st.sampled_from(values))}'"


def swap_identity(draw: Any, pool: Sequence[str]) -> list[str]:
    """The real names with ``user_id``'s name moved to another column (often one with a value per
    row: ``code``, a number, a date) and that column's name to ``user_id``: checks that follow names
    count or compare the wrong column."""
    out = list(pool)
    others = [c for c in pool if c != "user_id"]
    many = [c for c in others if KIND.get(c, "num") in ("num", "date") or c == "code"] or others
    other = draw(st.sampled_from(many if not draw(st.booleans()) else others))
    i, j = out.index("user_id"), out.index(other)
    out[i], out[j] = out[j], out[i]
    return out


@st.composite
def slot(
    draw: Any, index: int, table: str, paths: Mapping[str, str], allow_aggregate: bool, probe: bool = False
) -> Slot:
    """One reference. ``probe``: a renaming shape that gives the identity's name to another column."""
    cols = list(data.COLUMNS[table])
    alias = f"{'pi'[table == 'impressions']}{index}"
    base = base_sql(table, index, paths)
    shapes = [
        "plain",
        "dcl",
        "dcl",
        "dcl",
        "derived",
        "cte",
        "cte_columns",
        "cte_columns",
        "cte_chain",
        "union",
    ]
    if allow_aggregate:
        shapes.append("aggregate")
    if probe:
        shapes = ["dcl", "cte_columns", "derived", "cte_chain"]
    shape = draw(st.sampled_from(shapes))
    ids = f"__ids_{index}"

    def names(pool: Sequence[str]) -> list[str]:
        """Visible names for ``pool``: fresh ones, a permutation of the real names, or the identity's
        name given to another (often many-valued) column and a dimension's name to the identity."""
        how = "swap" if probe else draw(st.sampled_from(["fresh", "permute", "swap", "swap"]))
        if how == "fresh":
            return [f"k{index}_{i}" for i in range(len(pool))]
        if how == "permute" or "user_id" not in pool:
            return list(draw(st.permutations(pool)))
        return swap_identity(draw, pool)

    if shape == "plain":
        vis = [VCol(c, c, KIND[c]) for c in cols]
        return Slot(index, table, alias, shape, vis, f"{table} AS {alias}", f"{base} AS {alias}")
    if shape == "dcl":
        new = names(cols)
        vis = [VCol(n, c, KIND[c]) for n, c in zip(new, cols, strict=True)]
        listed = ", ".join(new)
        return Slot(
            index,
            table,
            alias,
            shape,
            vis,
            f"{table} AS {alias}({listed})",
            f"{base} AS {alias}({listed}, {ids})",
        )
    if shape == "aggregate":
        dims = [c for c in cols if KIND[c] in ("dim", "date")]
        keys = draw(st.lists(st.sampled_from(dims), min_size=1, max_size=2, unique=True))
        per_user = draw(st.booleans())
        if per_user:
            keys = ["user_id", *keys]
        num = draw(st.sampled_from([c for c in cols if KIND[c] == "num"]))
        out = names([*keys, "n", "v"])
        where = _literal_filter(draw, [(c, c) for c in cols]) if draw(st.booleans()) else None
        select = ", ".join(f"{k} AS {n}" for k, n in zip(keys, out, strict=False))
        select += f", COUNT(*) AS {out[-2]}, SUM({num}) AS {out[-1]}"
        group = ", ".join(keys)
        w = f" WHERE {where}" if where else ""
        cte = f"w{index}"
        engine = f"{cte} AS (SELECT {select} FROM {table}{w} GROUP BY {group})"
        merged = f"list_distinct(flatten(list({ids})))"
        having = ""
        if not per_user:
            having = "{having}"  # filled in once the final SELECT says whether it is strict
        oracle = (
            f"{cte} AS (SELECT {select}, {merged} AS {ids} FROM {base} AS {table}{w} "
            f"GROUP BY {group}{having})"
        )
        vis = [VCol(n, k, KIND[k]) for k, n in zip(keys, out, strict=False)]
        vis += [VCol(out[-2], None, "agg"), VCol(out[-1], None, "agg")]
        return Slot(
            index,
            table,
            alias,
            shape,
            vis,
            f"{cte} AS {alias}",
            f"{cte} AS {alias}",
            [engine],
            [oracle],
            not per_user,
        )
    # projections that rename: keep a subset (always a dimension), in a random order
    picked = draw(st.lists(st.sampled_from(cols), min_size=2, max_size=len(cols), unique=True))
    if not any(KIND[c] in ("dim", "date") for c in picked):
        picked.append(next(c for c in cols if KIND[c] == "dim"))
    if draw(st.booleans()) and "user_id" not in picked:
        picked.insert(0, "user_id")
    new = names(picked)
    where = _literal_filter(draw, [(c, c) for c in cols]) if draw(st.integers(0, 3)) == 3 else None
    w = f" WHERE {where}" if where else ""
    renames = ", ".join(f"{c} AS {n}" for c, n in zip(picked, new, strict=True))
    vis = [VCol(n, c, KIND[c]) for n, c in zip(new, picked, strict=True)]
    if shape == "derived":
        return Slot(
            index,
            table,
            alias,
            shape,
            vis,
            f"(SELECT {renames} FROM {table}{w}) AS {alias}",
            f"(SELECT {renames}, {ids} FROM {base} AS {table}{w}) AS {alias}",
        )
    if shape == "cte":
        cte = f"w{index}"
        return Slot(
            index,
            table,
            alias,
            shape,
            vis,
            f"{cte} AS {alias}",
            f"{cte} AS {alias}",
            [f"{cte} AS (SELECT {renames} FROM {table}{w})"],
            [f"{cte} AS (SELECT {renames}, {ids} FROM {base} AS {table}{w})"],
        )
    if shape == "cte_columns":
        cte = f"w{index}"
        new = names(cols)
        vis = [VCol(n, c, KIND[c]) for n, c in zip(new, cols, strict=True)]
        listed = ", ".join(new)
        return Slot(
            index,
            table,
            alias,
            shape,
            vis,
            f"{cte} AS {alias}",
            f"{cte} AS {alias}",
            [f"{cte}({listed}) AS (SELECT * FROM {table}{w})"],
            [f"{cte}({listed}, {ids}) AS (SELECT * FROM {base} AS {table}{w})"],
        )
    if shape == "cte_chain":
        first, second = f"w{index}a", f"w{index}b"
        again = list(draw(st.permutations(new)))
        renames2 = ", ".join(f"{a} AS {b}" for a, b in zip(new, again, strict=True))
        vis = [VCol(b, c, KIND[c]) for b, c in zip(again, picked, strict=True)]
        return Slot(
            index,
            table,
            alias,
            shape,
            vis,
            f"{second} AS {alias}",
            f"{second} AS {alias}",
            [
                f"{first} AS (SELECT {renames} FROM {table}{w})",
                f"{second} AS (SELECT {renames2} FROM {first})",
            ],
            [
                f"{first} AS (SELECT {renames}, {ids} FROM {base} AS {table}{w})",
                f"{second} AS (SELECT {renames2}, {ids} FROM {first})",
            ],
        )
    # union: two branches of the same table split on a dimension (one slot: their union of identities)
    dim = next(c for c in cols if KIND[c] == "dim")
    split = draw(st.lists(st.sampled_from(VALUES[dim]), min_size=1, max_size=3, unique=True))
    inlist = ", ".join(repr(v) for v in split)
    plain = ", ".join(picked)
    engine = (
        f"(SELECT {renames} FROM {table} WHERE {dim} IN ({inlist}) "
        f"UNION ALL SELECT {plain} FROM {table} WHERE {dim} NOT IN ({inlist})) AS {alias}"
    )
    oracle = (
        f"(SELECT {renames}, {ids} FROM {base} AS {table} WHERE {dim} IN ({inlist}) "
        f"UNION ALL SELECT {plain}, {ids} FROM {base} AS {table} WHERE {dim} NOT IN ({inlist})) AS {alias}"
    )
    return Slot(index, table, alias, "union", vis, engine, oracle)


def _aggregate(draw: Any, slots: Sequence[Slot]) -> Item:
    s = draw(st.sampled_from(slots))
    kind = draw(st.sampled_from(["count_star", "count", "count_distinct", "sum", "avg", "min", "max"]))
    if kind == "count_star":
        return Item("COUNT(*)", True, frozenset())
    if kind in ("sum", "avg"):
        pool = [c for c in s.cols if c.kind in ("num", "agg")]
    elif kind in ("min", "max"):
        pool = [c for c in s.cols if c.kind in ("num", "date", "dim", "agg")]
    else:
        pool = [c for c in s.cols if c.kind in ("dim", "date", "num")]
    if not pool:
        return Item("COUNT(*)", True, frozenset())
    c = draw(st.sampled_from(pool))
    fn = {"count": "COUNT({})", "count_distinct": "COUNT(DISTINCT {})"}.get(kind, kind.upper() + "({})")
    lineage = frozenset() if kind.startswith("count") else frozenset({(s.index, c.base)})
    item = Item(fn.format(s.ref(c)), True, lineage)
    item.bare = (s.index, c.name) if c.kind == "agg" else None  # marks an aggregate over an aggregate
    item.alias = kind
    return item


@st.composite
def plans(draw: Any, variant: data.Variant, paths: Mapping[str, str]) -> Plan:
    # a probe: one renamed reference grouped by dimensions with small groups (names must not decide
    # which column the threshold counts)
    probe = draw(st.integers(0, 3)) == 3
    n_slots = 1 if probe else draw(st.sampled_from([1, 1, 2, 2, 3]))
    exempt_run = bool(variant.exempt)
    slots: list[Slot] = []
    for i in range(n_slots):
        table = draw(st.sampled_from(list(data.COLUMNS)))
        slots.append(draw(slot(i, table, paths, allow_aggregate=not exempt_run, probe=probe)))

    # joins; at most one "wide" join (cross, on a dimension, or with OR) keeps every query small
    joins_e, joins_o = [], []
    wide = False
    for right in list(slots[1:]):
        left = draw(st.sampled_from([s for s in slots if s.index < right.index]))
        kind = draw(
            st.sampled_from(["JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL OUTER JOIN", "CROSS JOIN"])
        )
        li, ri = left.col("user_id"), right.col("user_id")
        on_identity = f"{left.ref(li)} = {right.ref(ri)}" if li and ri else ""
        conds = [on_identity] if on_identity else []
        for base in VALUES:
            lc, rc = left.col(base), right.col(base)
            if lc and rc:
                conds.append(f"{left.ref(lc)} = {right.ref(rc)}")
        if wide:
            if not on_identity:
                slots.remove(right)  # no small join left for this reference
                continue
            kind = kind if kind != "CROSS JOIN" else "JOIN"
            conds = [on_identity]
        cond = ""
        if kind != "CROSS JOIN" and conds:
            cond = draw(st.sampled_from(conds))
            wide = wide or cond != on_identity
            extra = draw(st.integers(0, 5))
            lit = _literal_filter(draw, [(right.ref(c), c.base) for c in right.cols if c.base])
            if extra == 4 and lit:
                cond = f"{cond} AND {lit}"
            elif extra == 5 and lit and not wide:
                cond = f"({cond} OR {lit})"
                wide = True
            cond = f" ON {cond}"
        else:
            kind, wide = "CROSS JOIN", True
        joins_e.append(f" {kind} {right.engine_from}{cond}")
        joins_o.append(f" {kind} {right.oracle_from}{cond}")
    n_slots = len(slots)

    refs = [(s.ref(c), c.base) for s in slots for c in s.cols if c.base]
    where = [w for _ in range(draw(st.integers(0, 2))) if (w := _literal_filter(draw, refs))]

    single_plain = n_slots == 1 and slots[0].shape in ("plain", "dcl")
    modes = ["group", "group", "group", "distinct", "rows"]
    if single_plain:
        modes.append("count")
    if exempt_run:
        modes += ["exempt", "exempt"]
    mode = "group" if probe else draw(st.sampled_from(modes))
    if mode == "exempt" and not any(s.table == "purchases" and s.col("region") for s in slots):
        mode = "distinct"

    keyed = [(s, c) for s in slots for c in s.cols if c.kind in ("dim", "date", "id", "key", "agg")]
    items: list[Item] = []
    group_by: list[str] = []
    hidden_keys: list[str] = []
    having = ""
    if mode == "count":
        s = slots[0]
        items = [Item("COUNT(*)", True, frozenset())]
        for _ in range(draw(st.integers(0, 2))):
            c = draw(st.sampled_from([c for c in s.cols if c.kind in ("dim", "id", "date")]))
            items.append(Item(f"COUNT(DISTINCT {s.ref(c)})", True, frozenset()))
    elif mode == "exempt":
        s = next(s for s in slots if s.table == "purchases" and s.col("region"))
        c = s.col("region")
        assert c is not None
        item = Item(s.ref(c), False, frozenset({(s.index, "region")}), bare=(s.index, "region"))
        items = [item]
        form = draw(st.sampled_from(["distinct", "group", "group_extra", "rows", "count"]))
        if form == "distinct":
            mode = "distinct"
        elif form in ("group", "group_extra"):
            mode = "group"
            group_by = [s.ref(c)]
            # another column: grouping by the exempt column twice is grouping by it once
            others = [c2 for c2 in s.cols if c2.kind in ("id", "dim", "key", "secret") and c2.base != c.base]
            if form == "group_extra" and others:
                hidden_keys.append(s.ref(draw(st.sampled_from(others))))
        elif form == "count":
            mode = "group"
            group_by = [s.ref(c)]
            items.append(Item("COUNT(*)", True, frozenset()))
        else:
            mode = "rows"
    else:
        n_keys = draw(st.integers(0 if mode == "group" else 1, 2))
        if probe:
            keyed = [(s, c) for s, c in keyed if c.kind == "dim"] or keyed
            n_keys = max(n_keys, 1)
        picks = st.sampled_from(range(len(keyed)))
        chosen = draw(st.lists(picks, min_size=min(n_keys, len(keyed)), max_size=n_keys, unique=True))
        keys = [keyed[i] for i in chosen]
        for s, c in keys:
            items.append(
                Item(s.ref(c), False, frozenset({(s.index, c.base)}), bare=(s.index, c.base or c.name))
            )
            if mode == "group":
                group_by.append(s.ref(c))
        if mode == "rows":
            extra = [(s, c) for s in slots for c in s.cols if c.kind in ("num", "agg")]
            if extra:
                s, c = draw(st.sampled_from(extra))
                items.append(Item(s.ref(c), False, frozenset({(s.index, c.base)})))
        if mode == "group":
            for _ in range(draw(st.integers(1, 3))):
                items.append(_aggregate(draw, slots))
            hidden = [(s, c) for s in slots for c in s.cols if c.kind in ("id", "key", "secret", "dim")]
            if hidden and draw(st.integers(0, 3)) == 3:
                s, c = draw(st.sampled_from(hidden))
                hidden_keys.append(s.ref(c))
            if draw(st.integers(0, 3)) == 3:
                having = f" HAVING COUNT(*) >= {draw(st.integers(1, 4))}"
        if not items:
            items = [Item("COUNT(*)", True, frozenset())]

    # render GROUP BY: names, ordinals or aliases (Spark resolves select aliases in GROUP BY)
    rendered = []
    for i, it in enumerate(items):
        alias = f"o{i}"
        rendered.append(f"{it.sql} AS {alias}")
        it.alias = alias
    group_terms = []
    for g in group_by:
        pos = next(i for i, it in enumerate(items) if it.sql == g)
        style = draw(st.sampled_from(["name", "ordinal", "alias"]))
        group_terms.append({"name": g, "ordinal": str(pos + 1), "alias": items[pos].alias}[style])
    group_terms += hidden_keys

    # strictness of intermediate aggregates (see the module docstring)
    agg_slots = [s for s in slots if s.aggregated]
    strict = bool(agg_slots)

    # the documented exemption: one table reference, no CTE, subquery, join, grouping or DISTINCT,
    # only counts (a WHERE or HAVING clause does not remove it)
    counts_only = all(it.aggregate and it.sql.startswith("COUNT(") for it in items)
    exempt_count = single_plain and counts_only and not group_terms and mode != "distinct"

    # required minimum per slot
    by_index = {s.index: s for s in slots}
    minimums = {}
    for s in slots:
        m = variant.minimum(s.table)
        if exempt_count:
            m = 0
        exempt = variant.exempt.get(s.table, frozenset())
        if exempt and items and mode in ("distinct", "group") and not hidden_keys:
            bare_exempt = all(
                it.bare is not None
                and not it.aggregate
                and by_index[it.bare[0]].table == s.table
                and it.bare[1] in exempt
                for it in items
            )
            if bare_exempt:
                m = 0
        minimums[s.index] = m

    select_kw = "SELECT DISTINCT" if mode == "distinct" else "SELECT"
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    group_sql = f" GROUP BY {', '.join(group_terms)}" if group_terms else ""
    order = ""
    if draw(st.integers(0, 3)) == 3:
        order = f" ORDER BY 1 LIMIT {draw(st.integers(1, 6))}"

    def with_clause(ctes: list[str]) -> str:
        return f"WITH {', '.join(ctes)} " if ctes else ""

    engine_ctes = [c for s in slots for c in s.engine_ctes]
    engine = (
        f"{with_clause(engine_ctes)}{select_kw} {', '.join(rendered)} FROM {slots[0].engine_from}"
        f"{''.join(joins_e)}{where_sql}{group_sql}{having}{order}"
    )

    # oracle: same FROM/WHERE/GROUP BY, identity counts per slot, no suppression, no LIMIT
    oracle_ctes = []
    for s in slots:
        for c in s.oracle_ctes:
            if "{having}" in c:
                m = variant.minimum(s.table) if strict else 0
                c = c.replace(
                    "{having}", f" HAVING len(list_distinct(flatten(list(__ids_{s.index})))) >= {m}"
                )
            oracle_ctes.append(c)
    if mode == "rows":
        counts = [f"coalesce(len({s.ids}), 0)" for s in slots]
        oracle_group = ""
    else:
        counts = [
            f"coalesce(len(list_distinct(flatten(list({s.ids}) FILTER (WHERE {s.ids} IS NOT NULL)))), 0)"
            for s in slots
        ]
        if mode == "distinct":
            oracle_group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(items)))}"
        else:
            oracle_group = group_sql
    oracle = (
        f"{with_clause(oracle_ctes)}SELECT {', '.join([*rendered, *counts])} FROM {slots[0].oracle_from}"
        f"{''.join(joins_o)}{where_sql}{oracle_group}{having}"
    )
    return Plan(slots, engine, oracle, mode, minimums, strict, len(items))
