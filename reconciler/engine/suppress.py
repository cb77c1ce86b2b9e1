"""S7: output constraints and aggregation thresholds, written into the query itself.

Each output row must have at least m distinct identities of every constrained table reference
that fed it (ANALYSIS_RULES.md 7.6 and 8.6.8). Rather than computing and then filtering in
Python (which would read data the rules forbid returning), the validated tree is rewritten so
DuckDB drops short rows inside the same statement, before windows, ORDER BY and LIMIT:

- direct form: an aggregated final SELECT that reads the table itself gets
  ``HAVING COUNT(DISTINCT alias.identity) >= m``;
- general form: when a CTE or derived table sits between the table and the final SELECT, each
  intermediate SELECT carries a hidden list column ``__cr_N`` of contributing identities
  (``[id]`` per row, ``list_distinct(flatten(list(..)))`` per group), and the final SELECT filters
  on ``len(list_distinct(..)) >= m``. Hidden columns never reach the result.

Refused here (``disallowed_construct``) is only what the rewrite cannot keep faithful:
``SELECT DISTINCT`` over aggregated rows, and ``UNION``/``INTERSECT``/``EXCEPT`` (distinct) below
the final SELECT under a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType

from reconciler.engine.facts import Table
from reconciler.engine.lineage import Lineage
from reconciler.engine.rules import AggregationRule, CustomRule, Reason, RuleType
from reconciler.engine.sqlnames import selects

if TYPE_CHECKING:
    from reconciler.engine.enforce import Context

__all__ = ["apply"]

#: (reference number, column): one constrained column of one table reference.
Key = tuple[int, str]

_EXEMPT_COUNTS = (exp.Count, exp.ApproxDistinct)


@dataclass
class _Plan:
    lineage: Lineage
    refs: dict[int, tuple[exp.Table, Table]]
    ref_of: dict[int, int] = field(default_factory=dict)  # id(Table node) -> reference number
    carried: dict[int, list[Key]] = field(default_factory=dict)  # id(scope) -> keys it outputs

    def hidden(self, key: Key) -> str:
        return f"__cr_{key[0]}_{key[1]}"


def apply(ctx: Context) -> None:
    """Rewrite ``ctx.tree`` so rows below a constraint or threshold are dropped by DuckDB itself."""
    if ctx.rule_type is RuleType.LIST or ctx.lineage is None:
        return
    lineage = ctx.lineage
    refs: dict[int, tuple[exp.Table, Table]] = {}
    for node in ctx.tree.find_all(exp.Table):
        table = lineage.base_table(node)
        if table is not None and _constrained(table):
            refs[len(refs)] = (node, table)
    if not refs or _single_table_count(ctx, lineage):
        return
    plan = _Plan(lineage, refs, {id(node): n for n, (node, _) in refs.items()})
    finals = lineage.final_selects()
    minimums = {id(f): _minimums(plan, f) for f in finals}
    final_ids = {id(f) for f in finals}
    for scope in lineage.scopes:
        if (
            scope is lineage.root
            or id(scope) in final_ids
            or scope.scope_type in (ScopeType.UDTF, ScopeType.SUBQUERY)
        ):
            continue
        if isinstance(scope.expression, exp.SetOperation):
            _carry_set_operation(ctx, plan, scope)
        elif scope.scope_type is not ScopeType.SET_OPERATION:
            _carry_select(ctx, plan, scope, _sources(plan, scope))
    for final in finals:
        _filter_final(ctx, plan, final, minimums[id(final)])


def _constrained(table: Table) -> bool:
    rule = table.rule
    if isinstance(rule, AggregationRule):
        return bool(rule.output_constraints)
    return isinstance(rule, CustomRule) and rule.threshold is not None


def _requirements(table: Table, threshold_minimum: int) -> list[tuple[str, int]]:
    rule = table.rule
    if isinstance(rule, AggregationRule):
        return list(rule.output_constraints)
    assert isinstance(rule, CustomRule) and rule.threshold is not None
    return [(rule.threshold.identity_column, threshold_minimum)]


def _single_table_count(ctx: Context, lineage: Lineage) -> bool:
    """The documented exemption (8.6.8): counts over one table, no grouping, join or nesting."""
    if ctx.rule_type is not RuleType.CUSTOM or len(lineage.scopes) != 1:
        return False
    select = ctx.tree
    if not isinstance(select, exp.Select) or select.args.get("group") or select.args.get("distinct"):
        return False
    if select.args.get("joins") or select.find(exp.Window):
        return False
    return all(isinstance(_unalias(p), _EXEMPT_COUNTS) for p in select.expressions)


def _unalias(node: exp.Expr) -> exp.Expr:
    return node.this if isinstance(node, exp.Alias) else node


def _minimums(plan: _Plan, final: Scope) -> dict[int, int]:
    """Required minimum per thresholded reference for one final SELECT (8.6.8, m_r).

    An override below the table-wide minimum lowers the bar only for a final SELECT that lists
    distinct values (``SELECT DISTINCT`` or ``GROUP BY``) of a query with no aggregate or window
    function anywhere. Otherwise an output naming only an exempt column could still carry a
    group's size (``COUNT(region)``, ``region || COUNT(*)``, ``HAVING COUNT(*) = 1``, a count in
    a CTE, or simply one row per base row), so the table-wide minimum holds.
    """
    select = final.expression
    lineages = [plan.lineage.of(p, final) for p in selects(select)]
    lists_values = bool(select.args.get("distinct") or select.args.get("group"))
    summarises = not lists_values or plan.lineage.root.expression.find(exp.AggFunc, exp.Window) is not None
    found: dict[int, int] = {}
    for number, (_, table) in plan.refs.items():
        rule = table.rule
        if not isinstance(rule, CustomRule) or rule.threshold is None:
            continue
        threshold = rule.threshold
        per_column = []
        for columns in lineages:
            mine = [threshold.minimum_for(c) for name, c in columns if name == table.name]
            per_column.append(max(mine) if mine else threshold.minimum)
        found[number] = max(per_column, default=threshold.minimum)
        if summarises:
            found[number] = max(found[number], threshold.minimum)
    return found


def _sources(plan: _Plan, scope: Scope) -> dict[Key, list[tuple[str, bool]]]:
    """Key -> [(source alias, is base table)] for the sources this SELECT reads."""
    found: dict[Key, list[tuple[str, bool]]] = {}
    for alias, (_, source) in scope.selected_sources.items():
        if isinstance(source, exp.Table) and id(source) in plan.ref_of:
            number = plan.ref_of[id(source)]
            for column, _m in _requirements(plan.refs[number][1], 0):
                found.setdefault((number, column), []).append((alias, True))
        elif isinstance(source, Scope):
            for key in plan.carried.get(id(source), []):
                found.setdefault(key, []).append((alias, False))
    return found


def _aggregated(select: exp.Select) -> bool:
    if select.args.get("group"):
        return True
    for node in select.find_all(exp.AggFunc):
        if node.find_ancestor(exp.Window, exp.Select) is select:
            return True
    return False


def _normalise_distinct(ctx: Context, select: exp.Select) -> None:
    """Rewrite ``SELECT DISTINCT a, b`` as ``GROUP BY a, b`` so identities can be counted per group."""
    if not select.args.get("distinct"):
        return
    if _aggregated(select) or select.find(exp.Window) or select.args["distinct"].args.get("on"):
        raise ctx.refuse(
            Reason.DISALLOWED_CONSTRUCT,
            "SELECT DISTINCT over aggregated or windowed rows cannot be thresholded locally; use GROUP BY",
            select,
        )
    select.set("distinct", None)
    select.set("group", exp.Group(expressions=[_unalias(p).copy() for p in select.expressions]))


def _contribution(plan: _Plan, key: Key, parts: list[tuple[str, bool]], aggregated: bool) -> exp.Expr:
    """The list of identities one SELECT row (or group) carries for ``key``."""
    terms: list[exp.Expr] = []
    for alias, base in parts:
        if base:
            value = exp.column(key[1], table=alias, quoted=True)
            terms.append(exp.func("list", value) if aggregated else exp.Array(expressions=[value]))
        else:
            value = exp.column(plan.hidden(key), table=alias, quoted=True)
            terms.append(exp.func("flatten", exp.func("list", value)) if aggregated else value)
    combined = terms[0]
    for term in terms[1:]:
        combined = exp.func("list_concat", combined, term)
    return exp.func("list_distinct", combined) if aggregated else combined


def _inner_equalities(select: exp.Select) -> dict[tuple[str, str], tuple[str, str]]:
    """(alias, column) -> a representative column equal to it on every row of an all-INNER join.

    ``ON p.user_id = i.user_id`` makes both columns hold the same value on every joined row, so
    their distinct counts are equal; counting one of them lets DuckDB compute one aggregate.
    """
    joins = select.args.get("joins") or []
    if any(j.side or j.kind not in ("", "INNER") or j.method or j.args.get("using") for j in joins):
        return {}
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(item: tuple[str, str]) -> tuple[str, str]:
        while parent.get(item, item) != item:
            item = parent[item]
        return item

    for join in joins:
        on = join.args.get("on")
        conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on] if on is not None else []
        for eq in conjuncts:
            if (
                isinstance(eq, exp.EQ)
                and isinstance(eq.this, exp.Column)
                and isinstance(eq.expression, exp.Column)
            ):
                a = (eq.this.table, eq.this.name.lower())
                b = (eq.expression.table, eq.expression.name.lower())
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    counted = {
        (c.table, c.name.lower())
        for count in select.find_all(exp.Count)
        if isinstance(count.this, exp.Distinct)
        for c in count.this.expressions
        if isinstance(c, exp.Column)
    }
    classes: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for item in {*parent, *parent.values()}:
        classes.setdefault(find(item), []).append(item)
    chosen: dict[tuple[str, str], tuple[str, str]] = {}
    for members in classes.values():
        preferred = sorted(m for m in members if m in counted) or sorted(members)
        chosen.update({m: preferred[0] for m in members})
    return chosen


def _count(
    plan: _Plan,
    key: Key,
    parts: list[tuple[str, bool]],
    aggregated: bool,
    equal: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> exp.Expr:
    """Distinct identities of ``key`` behind one final row (direct form when the table is read here)."""
    if aggregated and len(parts) == 1 and parts[0][1]:
        alias, name = (equal or {}).get((parts[0][0], key[1]), (parts[0][0], key[1]))
        column = exp.column(name, table=alias, quoted=True)
        return exp.Count(this=exp.Distinct(expressions=[column]))
    contribution = _contribution(plan, key, parts, aggregated)
    if not aggregated:
        contribution = exp.func("list_distinct", contribution)
    return exp.func("len", contribution)


def _carry_select(
    ctx: Context, plan: _Plan, scope: Scope, sources: dict[Key, list[tuple[str, bool]]]
) -> None:
    select = scope.expression
    assert isinstance(select, exp.Select)
    if not sources:
        plan.carried[id(scope)] = []
        return
    _normalise_distinct(ctx, select)
    aggregated = _aggregated(select)
    for key in sorted(sources):
        select.append(
            "expressions", exp.alias_(_contribution(plan, key, sources[key], aggregated), plan.hidden(key))
        )
    plan.carried[id(scope)] = sorted(sources)


def _leaf_branches(scope: Scope) -> list[Scope]:
    if isinstance(scope.expression, exp.SetOperation):
        return [leaf for branch in scope.set_operation_scopes for leaf in _leaf_branches(branch)]
    return [scope]


def _carry_set_operation(ctx: Context, plan: _Plan, scope: Scope) -> None:
    leaves = _leaf_branches(scope)
    per_leaf = [_sources(plan, leaf) for leaf in leaves]
    keys = sorted({k for sources in per_leaf for k in sources})
    if not keys:
        plan.carried[id(scope)] = []
        return
    for node in [scope.expression, *scope.expression.find_all(exp.SetOperation)]:
        if not isinstance(node, exp.Union) or node.args.get("distinct"):
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "below the final SELECT, only UNION ALL can be thresholded locally",
                node,
            )
    for leaf, sources in zip(leaves, per_leaf, strict=True):
        select = leaf.expression
        assert isinstance(select, exp.Select)
        _normalise_distinct(ctx, select)
        aggregated = _aggregated(select)
        for key in keys:
            if key in sources:
                value = _contribution(plan, key, sources[key], aggregated)
            else:
                column_type = plan.refs[key[0]][1].columns.get(key[1]) or "VARCHAR"
                value = exp.cast(
                    exp.Array(expressions=[]), exp.DataType.build(f"{column_type}[]", dialect="duckdb")
                )
            select.append("expressions", exp.alias_(value, plan.hidden(key)))
    plan.carried[id(scope)] = keys


def _filter_final(ctx: Context, plan: _Plan, final: Scope, minimums: dict[int, int]) -> None:
    select = final.expression
    assert isinstance(select, exp.Select)
    sources = _sources(plan, final)
    if not sources:
        return
    _normalise_distinct(ctx, select)
    aggregated = _aggregated(select)
    equal = _inner_equalities(select)
    wanted: dict[str, tuple[exp.Expr, int]] = {}
    for key in sorted(sources):
        number, column = key
        for wanted_column, minimum in _requirements(plan.refs[number][1], minimums.get(number, 0)):
            if wanted_column != column or minimum <= 0:
                continue
            count = _count(plan, key, sources[key], aggregated, equal)
            text = count.sql(dialect="duckdb")
            wanted[text] = (count, max(minimum, wanted.get(text, (count, 0))[1]))
    if not wanted:
        return
    condition = exp.and_(*(exp.GTE(this=c, expression=exp.Literal.number(m)) for c, m in wanted.values()))
    if aggregated:
        select.having(condition, copy=False)
    else:
        select.where(condition, copy=False)
