"""Aggregation and list rules (ANALYSIS_RULES.md sections 7 and 8.1): one flat SELECT, checked in order.

Both rule types allow a single SELECT over INNER-joined tables. The stages run in the order the
spec gives (constructs, functions, join columns, join operators, columns, dimensions, output
shape, required join); the first violation found decides the reason. The shape checks read the
parsed tree (nothing there depends on what a name means); then the query is bound, and every
check that needs to know which table and column a name is reads the binder's answer (a derived
column list ``t AS v(a, b)`` renames positionally, so ``v.a`` is whatever column comes first).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from reconciler.engine.facts import Table
from reconciler.engine.functions import is_call, name_of
from reconciler.engine.rules import AggregationRule, ListRule, Reason

if TYPE_CHECKING:
    from reconciler.engine.enforce import CheckState
    from reconciler.engine.scopes import Binding

__all__ = ["check_aggregation", "check_list"]

_AGGREGATES = {"COUNT": "COUNT", "SUM": "SUM", "AVG": "AVG"}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_NESTED_QUERIES = (exp.Subquery, exp.Exists, exp.SetOperation, exp.With, exp.CTE)
_GROUPINGS = (exp.Rollup, exp.Cube, exp.GroupingSets)


@dataclass
class Flat:
    """A single SELECT with its table references; ``resolve`` works once the query is bound."""

    ctx: CheckState
    select: exp.Select
    aliases: dict[str, Table] = field(default_factory=dict)
    on_clauses: list[exp.Expr] = field(default_factory=list)
    binding: Binding | None = None

    def bind(self) -> None:
        """Bind the query: from here on, columns resolve through the binder."""
        self.binding = self.ctx.bind()

    def resolve(self, column: exp.Column) -> tuple[int, Table, str] | None:
        """(reference number, table, base column) of a column, or None when it is not a plain column."""
        assert self.binding is not None, "resolve runs after bind"
        value = self.binding.value(column)
        if value is None or len(value.direct) != 1:
            return None
        (number, name) = next(iter(value.direct))
        return number, self.binding.refs[number].table, name

    def references(self) -> list[tuple[int, Table]]:
        """Every table reference of the query, by number."""
        assert self.binding is not None
        return [(ref.number, ref.table) for ref in self.binding.refs]

    def outside_on(self) -> Iterator[exp.Column]:
        """Columns of the query that are not inside an ON clause."""
        on = {id(c) for c in self.on_clauses}
        for column in self.select.find_all(exp.Column):
            if not within(column, on):
                yield column

    def refuse(
        self, reason: Reason, message: str, node: exp.Expr | None, table: Table | None = None
    ) -> Exception:
        kw = {"table": table.name, "rule": str(table.rule.type)} if table and table.rule else {}
        return self.ctx.refuse(reason, message, node, **kw)


def within(node: exp.Expr, ancestors: set[int]) -> bool:
    """True when the node or one of its ancestors is one of ``ancestors`` (by id)."""
    current: exp.Expr | None = node
    while current is not None:
        if id(current) in ancestors:
            return True
        current = current.parent
    return False


def _flat(ctx: CheckState, kind: str) -> Flat:
    tree = ctx.tree
    for node in tree.find_all(*_NESTED_QUERIES):
        raise ctx.refuse(
            Reason.DISALLOWED_CONSTRUCT, f"{kind} queries cannot use CTEs, subqueries or set operations", node
        )
    assert isinstance(tree, exp.Select)
    flat = Flat(ctx, tree)
    sources = [tree.args["from_"].this] if tree.args.get("from_") else []
    sources += [j.this for j in tree.args.get("joins") or []]
    for source in sources:
        if not isinstance(source, exp.Table):
            raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, f"{kind} queries read tables only", source)
        flat.aliases[source.alias_or_name.lower()] = ctx.tables[source.name.lower()]
    return flat


def _common_constructs(flat: Flat, kind: str) -> None:
    """Constructs both rule types refuse: windows, QUALIFY, ``*``, groupings, FILTER, CASE, joins."""
    select, ctx = flat.select, flat.ctx
    refused: tuple[type[exp.Expr], ...] = (
        exp.Window,
        exp.Star,
        *_GROUPINGS,
        exp.Filter,
        exp.Case,
        exp.If,
    )
    for node in select.find_all(*refused):
        what = "SELECT * / COUNT(*)" if isinstance(node, exp.Star) else type(node).__name__.upper()
        raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, f"{kind} queries cannot use {what}", node)
    for key in ("qualify", "offset", "laterals", "distribute", "cluster", "sort", "prewhere"):
        if select.args.get(key):
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT, f"{kind} queries cannot use {key.upper()}", select.args[key]
            )
    for source in select.find_all(exp.Table):
        for key in ("sample", "pivots", "laterals", "joins"):
            if source.args.get(key):
                raise ctx.refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"{kind} queries cannot use {key.upper()}", source
                )
    for join in select.args.get("joins") or []:
        bad = join.side or join.kind not in ("", "INNER") or join.method or join.args.get("using")
        if bad or join.args.get("on") is None:
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT, "only INNER JOIN ... ON column = column is allowed", join
            )
        on = join.args["on"]
        flat.on_clauses.append(on)
        list(_on_terms(flat, on))


def _on_terms(flat: Flat, node: exp.Expr) -> Iterator[exp.EQ]:
    """The ``column = column`` terms of an ON tree (refusing anything else)."""
    node = strip(node)
    if isinstance(node, (exp.And, exp.Or)):
        yield from _on_terms(flat, node.this)
        yield from _on_terms(flat, node.expression)
        return
    ok = (
        isinstance(node, exp.EQ)
        and isinstance(node.this, exp.Column)
        and isinstance(node.expression, exp.Column)
    )
    if ok:
        assert isinstance(node, exp.EQ)
        yield node
        return
    raise _not_a_join_term(flat, node)


def _check_on_references(flat: Flat) -> None:
    """Each ``a.k = b.k`` of an ON compares columns of two different table references."""
    for on in flat.on_clauses:
        for equality in _on_terms(flat, on):
            left, right = flat.resolve(equality.this), flat.resolve(equality.expression)
            if left is not None and right is not None and left[0] == right[0]:
                raise _not_a_join_term(flat, equality)


def _not_a_join_term(flat: Flat, node: exp.Expr) -> Exception:
    return flat.ctx.refuse(
        Reason.DISALLOWED_CONSTRUCT,
        "a join condition compares one table's column with another's (a.k = b.k)",
        node,
    )


def _join_columns(flat: Flat) -> None:
    """A3 / L3: every ON column is a join column of its table."""
    for on in flat.on_clauses:
        for column in on.find_all(exp.Column):
            found = flat.resolve(column)
            if found is None:
                raise flat.refuse(
                    Reason.DISALLOWED_COLUMN, f"column {column.sql()} is not an allowed column", column
                )
            _, table, name = found
            rule = table.rule
            assert isinstance(rule, (AggregationRule, ListRule))
            if name not in rule.join_columns:
                raise flat.refuse(
                    Reason.DISALLOWED_JOIN_COLUMN,
                    f"{name} is not a join column of {table.name}",
                    column,
                    table,
                )


def _join_operators(flat: Flat) -> None:
    """A4 / L4: AND / OR in ON only when every referenced table allows it (intersection)."""
    allowed = frozenset({"AND", "OR"})
    for table in flat.aliases.values():
        assert isinstance(table.rule, (AggregationRule, ListRule))
        allowed &= table.rule.join_operators
    for on in flat.on_clauses:
        for node in on.find_all(exp.And, exp.Or):
            op = "AND" if isinstance(node, exp.And) else "OR"
            if op not in allowed:
                raise flat.ctx.refuse(
                    Reason.DISALLOWED_JOIN_OPERATOR, f"{op} is not an allowed join operator", node
                )


def _join_graph(flat: Flat) -> dict[int, set[int]]:
    """Reference number -> the references an ON equality joins it to (a plain dict: importing
    networkx for one reachability question cost every start of the CLI a tenth of a second)."""
    graph: dict[int, set[int]] = {number: set() for number, _ in flat.references()}
    for on in flat.on_clauses:
        for eq in on.find_all(exp.EQ):
            left, right = flat.resolve(eq.this), flat.resolve(eq.expression)
            if left and right:
                graph.setdefault(left[0], set()).add(right[0])
                graph.setdefault(right[0], set()).add(left[0])
    return graph


def _reachable(graph: dict[int, set[int]], start: int) -> set[int]:
    """The references joined to ``start`` through any chain of ON equalities (itself included)."""
    seen, todo = {start}, [start]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def _required_join(flat: Flat, needs: dict[int, Table]) -> None:
    """A8 / L6: each reference in ``needs`` connects, through ON equalities, to a querier-owned one."""
    querier = flat.ctx.request.querier
    graph = _join_graph(flat)
    owned = {n for n, t in flat.references() if t.owner == querier}
    for number, table in needs.items():
        if not owned or not owned & _reachable(graph, number):
            raise flat.refuse(
                Reason.MISSING_REQUIRED_JOIN,
                f"Inner join to query runner table required for table {table.name}",
                flat.select,
                table,
            )


# -- aggregation (section 7) ----------------------------------------------------------------------
def check_aggregation(ctx: CheckState) -> None:
    """Stages A1 to A8 of the aggregation rule."""
    flat = _flat(ctx, "aggregation")
    _common_constructs(flat, "aggregation")
    _a1_shape(flat)
    flat.bind()
    _check_on_references(flat)
    _a2_functions(flat)
    _join_columns(flat)
    _join_operators(flat)
    _a5_a6_columns(flat)
    _a7_output(flat)
    needs = {
        n: t
        for n, t in flat.references()
        if isinstance(t.rule, AggregationRule) and t.rule.join_required and t.owner != ctx.request.querier
    }
    _required_join(flat, needs)


def _a1_shape(flat: Flat) -> None:
    select, ctx = flat.select, flat.ctx
    if select.args.get("distinct"):
        raise ctx.refuse(
            Reason.DISALLOWED_CONSTRUCT, "aggregation queries cannot use SELECT DISTINCT", select
        )
    if select.args.get("limit"):
        raise ctx.refuse(
            Reason.DISALLOWED_CONSTRUCT, "aggregation queries cannot use LIMIT", select.args["limit"]
        )
    for agg in select.find_all(exp.AggFunc):
        arg = (
            agg.this.expressions[0]
            if isinstance(agg.this, exp.Distinct) and agg.this.expressions
            else agg.this
        )
        extra = agg.this.expressions[1:] if isinstance(agg.this, exp.Distinct) else agg.expressions
        if not isinstance(arg, exp.Column) or extra:
            raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "an aggregate takes exactly one column", agg)
        parent = agg.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        in_having = agg.find_ancestor(exp.Having) is not None
        if in_having:
            other = (
                parent.expression
                if parent is not None and parent.this is agg
                else getattr(parent, "this", None)
            )
            ok = isinstance(parent, _COMPARISONS) and _is_number(other)
        else:
            ok = isinstance(parent, (exp.Alias, exp.Select)) or (
                parent is not None and is_call(parent) and isinstance(parent.parent, (exp.Alias, exp.Select))
            )
        if not ok:
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "aggregates cannot be combined with operators (HAVING compares an aggregate with a number)",
                parent,
            )
    for func in select.find_all(exp.Func):
        if is_call(func) and not isinstance(func, exp.AggFunc):
            outer = func.parent
            while outer is not None and not isinstance(outer, exp.Select):
                if is_call(outer) and not isinstance(outer, exp.AggFunc):
                    raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "scalar functions cannot be nested", outer)
                outer = outer.parent
    having = select.args.get("having")
    if having is not None:
        for column in having.find_all(exp.Column):
            if column.find_ancestor(exp.AggFunc) is None:
                raise ctx.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "HAVING may only compare aggregates with numbers", column
                )


def strip(node: exp.Expr) -> exp.Expr:
    """An expression without its alias and parentheses."""
    while isinstance(node, (exp.Alias, exp.Paren)):
        node = node.this
    return node


def _is_number(node: exp.Expr | None) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string


def _pair(agg: exp.AggFunc) -> tuple[str, exp.Column | None]:
    distinct = isinstance(agg.this, exp.Distinct)
    arg = agg.this.expressions[0] if distinct and agg.this.expressions else agg.this
    name = name_of(agg)
    return (f"{name}_DISTINCT" if distinct else name), (arg if isinstance(arg, exp.Column) else None)


def _a2_functions(flat: Flat) -> None:
    select, ctx = flat.select, flat.ctx
    scalars: frozenset[str] | None = None
    for table in flat.aliases.values():
        assert isinstance(table.rule, AggregationRule)
        scalars = table.rule.scalar_functions if scalars is None else scalars & table.rule.scalar_functions
    for func in select.find_all(exp.Func):
        if not is_call(func):
            continue
        name = name_of(func)
        if isinstance(func, exp.AggFunc):
            if name not in _AGGREGATES:
                raise ctx.refuse(
                    Reason.DISALLOWED_FUNCTION, f"aggregate {name} is not allowed (COUNT, SUM, AVG)", func
                )
            assert isinstance(func, exp.AggFunc)
            pair, column = _pair(func)
            found = flat.resolve(column) if column is not None else None
            if found is None:
                continue
            _, table, col = found
            rule = table.rule
            assert isinstance(rule, AggregationRule)
            if col in rule.listed_columns and (pair, col) not in rule.aggregate_columns:
                raise flat.refuse(
                    Reason.DISALLOWED_FUNCTION, f"{pair} of {col} is not an allowed aggregate", func, table
                )
        elif name not in (scalars or frozenset()):
            raise ctx.refuse(Reason.DISALLOWED_FUNCTION, f"scalar function {name} is not allowed here", func)


def _a5_a6_columns(flat: Flat) -> None:
    columns = list(flat.outside_on())
    for column in columns:
        found = flat.resolve(column)
        rule = found[1].rule if found else None
        if found is None or not isinstance(rule, AggregationRule) or found[2] not in rule.listed_columns:
            raise flat.refuse(
                Reason.DISALLOWED_COLUMN,
                f"Column(s) [{_written(flat, column)}] is not allowed in the query",
                column,
                found[1] if found else None,
            )
    for column in columns:
        found = flat.resolve(column)
        assert found is not None
        rule = found[1].rule
        assert isinstance(rule, AggregationRule)
        if column.find_ancestor(exp.AggFunc) is None and found[2] not in rule.dimension_columns:
            raise flat.refuse(
                Reason.DIMENSION_VIOLATION,
                f"{found[2]} is not a dimension column, so it can only appear inside an aggregate",
                column,
                found[1],
            )


def _written(flat: Flat, node: exp.Expr) -> str:
    """A node as the query wrote it (the canonical tree renames columns)."""
    from reconciler.engine.verdict import fragment

    return fragment(node, flat.ctx.dialect, flat.ctx.request.sql) or node.sql()


def _a7_output(flat: Flat) -> None:
    select, ctx = flat.select, flat.ctx
    items = select.expressions
    if not any(item.find(exp.AggFunc) for item in items):
        raise ctx.refuse(
            Reason.NON_AGGREGATE_OUTPUT, "an aggregation query must select at least one aggregate", select
        )
    group = select.args.get("group")
    keys = set()
    for key in group.expressions if group else []:
        if isinstance(key, exp.Literal) and not key.is_string and 0 < int(key.name) <= len(items):
            key = strip(items[int(key.name) - 1])
        keys.add(_norm(key))
    missing = [strip(i) for i in items if not i.find(exp.AggFunc) and _norm(strip(i)) not in keys]
    if missing:
        listed = ", ".join(_written(flat, m) for m in missing)
        raise ctx.refuse(
            Reason.NON_AGGREGATE_OUTPUT, f"Column(s) [{listed}] must appear in group by clause", missing[0]
        )


def _norm(node: exp.Expr) -> str:
    return node.sql(dialect="duckdb", comments=False).lower()


# -- list (section 8.1) ---------------------------------------------------------------------------
def check_list(ctx: CheckState) -> None:
    """Stages L1 to L6 of the list rule."""
    flat = _flat(ctx, "list")
    select = flat.select
    if not select.args.get("distinct"):
        raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "a list query must be SELECT DISTINCT", select)
    for key in ("group", "having", "order", "offset"):
        if select.args.get(key):
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT, f"list queries cannot use {key.upper()}", select.args[key]
            )
    _common_constructs(flat, "list")
    for item in select.expressions:
        inner = strip(item)
        if not isinstance(inner, exp.Column) and not is_call(inner):
            raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "a list query selects columns only", item)
    limit = select.args.get("limit")
    if limit is not None and not _is_number(limit.expression):
        raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "LIMIT takes a positive integer", limit)
    for func in select.find_all(exp.Func):
        if is_call(func):
            raise ctx.refuse(
                Reason.DISALLOWED_FUNCTION, f"list queries cannot call functions ({name_of(func)})", func
            )
    flat.bind()
    _check_on_references(flat)
    _join_columns(flat)
    _join_operators(flat)
    for column in flat.outside_on():
        found = flat.resolve(column)
        rule = found[1].rule if found else None
        if found is None or not isinstance(rule, ListRule) or found[2] not in rule.list_columns:
            raise flat.refuse(
                Reason.DISALLOWED_COLUMN,
                f"Column(s) [{_written(flat, column)}] is not allowed in select or where",
                column,
                found[1] if found else None,
            )
    if not flat.on_clauses:
        first = next(iter(flat.aliases.values()))
        raise flat.refuse(
            Reason.MISSING_REQUIRED_JOIN,
            f"Inner join to query runner table required for table {first.name}",
            select,
            first,
        )
    _required_join(flat, dict(flat.references()))
