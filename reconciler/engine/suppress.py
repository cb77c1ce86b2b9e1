"""S7: output constraints and aggregation thresholds, written into the canonical query itself.

Each output row must have at least m distinct identities of every constrained table reference
that fed it (ANALYSIS_RULES.md 7.6 and 8.6.8), counted from the reference's base identity
column, out of reach of the query's names (4.1 item 4): the binder gave every reference its own
alias (``__t<n>``) and every derived column a canonical name, so the identity column this module
counts is the base column, whatever the query called things. Rather than computing and then
filtering in Python, DuckDB drops short rows inside the same statement, before windows, ORDER BY
and LIMIT:

- direct form: an aggregated final SELECT that reads the table itself gets
  ``HAVING COUNT(DISTINCT __tN.identity) >= m``;
- general form: when a derived table sits between the table and the final SELECT, each SELECT in
  between carries a hidden list column ``__cr_N_col`` of contributing identities (``[id]`` per
  row, ``list_distinct(flatten(list(..)))`` per group), and the final SELECT filters on
  ``len(list_distinct(..)) >= m``. Hidden columns never reach the result.

No laundering (4.1 item 5): an intermediate SELECT that aggregates a thresholded reference's rows
into groups that are not one identity each is an output too, so its groups meet the table-wide
minimum (``HAVING``) before anything downstream reads them; a window over such rows that is not
partitioned by the identity is refused, as is ``UNION`` (distinct) or ``SELECT DISTINCT`` over
aggregated rows below the final SELECT, which the rewrite cannot keep faithful.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from reconciler.engine.facts import Table
from reconciler.engine.functions import FunctionKind, lookup
from reconciler.engine.rules import AggregationRule, CustomRule, Reason, RuleType
from reconciler.engine.scopes import Binding, QueryScope, Relation, TableRef
from reconciler.engine.values import Origin, type_of

if TYPE_CHECKING:
    from reconciler.engine.enforce import CheckState

__all__ = ["apply"]

_DISTINCT_OVER_GROUPS = (
    "SELECT DISTINCT over aggregated or windowed rows cannot be thresholded locally; use GROUP BY"
)

#: (reference number, column): one constrained column of one table reference.
Key = tuple[int, str]


@dataclass
class _Rewrite:
    ctx: CheckState
    binding: Binding
    refs: dict[int, TableRef]
    carried: dict[int, list[Key]] = field(default_factory=dict)  # id(scope) -> keys it outputs

    @staticmethod
    def hidden(key: Key) -> str:
        return f"__cr_{key[0]}_{key[1]}"


def apply(ctx: CheckState, binding: Binding) -> None:
    """Rewrite ``binding.tree`` so rows below a constraint or threshold are dropped by DuckDB itself."""
    if ctx.rule_type is RuleType.LIST:
        return
    refs = {r.number: r for r in binding.refs if r.emitted and _constrained(r.table)}
    if not refs or _single_table_count(ctx, binding):
        return
    plan = _Rewrite(ctx, binding, refs)
    finals = binding.finals
    minimums = {id(f): _minimums(plan, f) for f in finals}
    final_ids = {id(f) for f in finals}
    for scope in reversed(binding.emitted()):
        if scope.role == "subquery":
            if _reads_constrained(plan, scope):
                raise ctx.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    "a subquery used as a value cannot read a table with an output constraint or threshold",
                    scope.node,
                )
            continue
        if id(scope) in final_ids or scope is binding.root:
            continue
        if scope.is_select:
            _carry_select(plan, scope)
        else:
            _carry_set_operation(plan, scope)
    for final in finals:
        _filter_final(plan, final, minimums[id(final)])


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    """A DuckDB list function call (built directly: ``exp.func`` would copy its arguments)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _constrained(table: Table) -> bool:
    rule = table.rule
    if isinstance(rule, AggregationRule):
        return bool(rule.output_constraints)
    return isinstance(rule, CustomRule) and rule.threshold is not None


def _requirements(table: Table, threshold_minimum: int | None = None) -> list[tuple[str, int]]:
    """(column, minimum) pairs a reference of ``table`` must meet (the threshold's own minimum by default)."""
    rule = table.rule
    if isinstance(rule, AggregationRule):
        return list(rule.output_constraints)
    assert isinstance(rule, CustomRule) and rule.threshold is not None
    minimum = rule.threshold.minimum if threshold_minimum is None else threshold_minimum
    return [(rule.threshold.identity_column, minimum)]


def _reads_constrained(plan: _Rewrite, scope: QueryScope) -> bool:
    return any(ref.scope is scope for ref in plan.refs.values()) or any(
        r.query is not None and _reads_constrained(plan, r.query) for r in scope.relations
    )


def _single_table_count(ctx: CheckState, binding: Binding) -> bool:
    """The documented exemption (8.6.8): counts over one table, no grouping, join or nesting."""
    if ctx.rule_type is not RuleType.CUSTOM or len(binding.emitted()) != 1 or len(binding.refs) != 1:
        return False
    scope = binding.root
    select = scope.node
    if not isinstance(select, exp.Select) or select.args.get("group") or scope.distinct or scope.windowed:
        return False
    if select.args.get("joins") or select.args.get("laterals") or scope.generators:
        return False
    for item in select.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        function = lookup(inner) if isinstance(inner, exp.Func) else None
        if function is None or not function.counts or function.kind is not FunctionKind.AGGREGATE:
            return False
    return True


def _minimums(plan: _Rewrite, final: QueryScope) -> dict[int, int]:
    """Required minimum per thresholded reference for one final SELECT (8.6.8, m_r).

    An override below the table-wide minimum lowers the bar only for a final SELECT that lists
    distinct values of its output columns and nothing else: ``SELECT DISTINCT`` or a GROUP BY
    whose keys are exactly the output expressions, in a query with no aggregate, window,
    generator or de-duplication anywhere else, every output reading only overridden columns.
    Otherwise an output could still carry a group's size (``COUNT(region)``, a hidden second
    grouping key that makes one row per identity, a count in a CTE, one row per base row), so the
    table-wide minimum holds.
    """
    select = final.node
    assert isinstance(select, exp.Select)
    group = select.args.get("group")
    outputs = [(item.this if isinstance(item, exp.Alias) else item) for item in select.expressions]
    keys_are_outputs = group is None or set(group.expressions) == set(outputs)
    lists_values = (final.distinct or group is not None) and keys_are_outputs
    elsewhere = any(
        s is not final and (s.aggregated or s.windowed or s.distinct or s.generators)
        for s in plan.binding.emitted()
    )
    own_aggregates = any(scope is final for _, scope in plan.binding.aggregate_calls)
    summarises = not lists_values or elsewhere or own_aggregates or final.windowed or bool(final.generators)
    found: dict[int, int] = {}
    for number, ref in plan.refs.items():
        rule = ref.table.rule
        if not isinstance(rule, CustomRule) or rule.threshold is None:
            continue
        threshold = rule.threshold
        per_column = []
        for out in final.outs:
            mine = [threshold.minimum_for(c) for name, c in out.value.reads if name == ref.table.name]
            per_column.append(max(mine) if mine else threshold.minimum)
        found[number] = max(per_column, default=threshold.minimum)
        if summarises:
            found[number] = max(found[number], threshold.minimum)
    return found


def _sources(plan: _Rewrite, scope: QueryScope) -> dict[Key, list[tuple[Relation, bool]]]:
    """Key -> [(relation, is the base table)] for the constrained keys this SELECT reads."""
    found: dict[Key, list[tuple[Relation, bool]]] = {}
    for relation in scope.relations:
        if relation.ref is not None and relation.ref.number in plan.refs:
            for column, _m in _requirements(relation.ref.table):
                found.setdefault((relation.ref.number, column), []).append((relation, True))
        elif relation.query is not None:
            for key in plan.carried.get(id(relation.query), []):
                found.setdefault(key, []).append((relation, False))
    return found


def _contribution(plan: _Rewrite, key: Key, parts: list[tuple[Relation, bool]], aggregated: bool) -> exp.Expr:
    """The list of identities one SELECT row (or group) carries for ``key``."""
    terms: list[exp.Expr] = []
    for relation, base in parts:
        if base:
            value = exp.column(key[1], table=relation.canonical, quoted=True)
            terms.append(exp.ArrayAgg(this=value) if aggregated else exp.Array(expressions=[value]))
        else:
            value = exp.column(plan.hidden(key), table=relation.canonical, quoted=True)
            terms.append(_call("flatten", exp.ArrayAgg(this=value)) if aggregated else value)
    combined = terms[0]
    for term in terms[1:]:
        combined = _call("list_concat", combined, term)
    return _call("list_distinct", combined) if aggregated else combined


def _equalities(plan: _Rewrite, scope: QueryScope) -> dict[Origin, Origin]:
    """Origin -> a representative origin equal to it on every row of the SELECT's all-INNER joins.

    ``ON p.user_id = i.user_id`` makes both columns hold the same value on every joined row, so
    their distinct counts are equal; counting one of them lets DuckDB compute one aggregate, and a
    group keyed by one identity is keyed by the other.
    """
    select = scope.node
    joins = select.args.get("joins") or []
    if any(j.side or j.kind not in ("", "INNER") or j.method for j in joins):
        return {}
    parent: dict[Origin, Origin] = {}

    def find(item: Origin) -> Origin:
        while parent.get(item, item) != item:
            item = parent[item]
        return item

    for join in joins:
        on = join.args.get("on")
        conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on] if on is not None else []
        for eq in conjuncts:
            if isinstance(eq, exp.EQ):
                left, right = _origin(scope, eq.this), _origin(scope, eq.expression)
                if left is not None and right is not None and _same_type(plan, left, right):
                    ra, rb = find(left), find(right)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    return {item: find(item) for item in {*parent, *parent.values()}}


def _same_type(plan: _Rewrite, left: Origin, right: Origin) -> bool:
    """Equal values have equal distinct counts only without a cast between them."""
    kinds = [type_of(plan.binding.refs[n].table.columns.get(c, "")) for n, c in (left, right)]
    return kinds[0] is kinds[1] and kinds[0].value != "unknown"


def _origin(scope: QueryScope, node: exp.Expr) -> Origin | None:
    """The base origin of a plain column of this SELECT's base tables."""
    if not isinstance(node, exp.Column):
        return None
    for relation in scope.relations:
        if relation.ref is not None and relation.canonical == node.table:
            return (relation.ref.number, node.name)
    return None


def _per_identity(plan: _Rewrite, scope: QueryScope, key: Key) -> bool:
    """True when every group of an aggregating SELECT holds one identity of ``key`` at most."""
    number, column = key
    rule = plan.refs[number].table.rule
    if not isinstance(rule, CustomRule) or rule.threshold is None or column != rule.threshold.identity_column:
        return False
    equal = _equalities(plan, scope)
    target = equal.get((number, column), (number, column))
    keys = scope.group_keys if not scope.distinct else [o.value for o in scope.outs]
    for value in keys:
        for origin in value.direct:
            if equal.get(origin, origin) == target:
                return True
    return False


def _aggregating(scope: QueryScope) -> bool:
    return scope.aggregated or scope.distinct


def _carry_select(plan: _Rewrite, scope: QueryScope) -> None:
    select = scope.node
    assert isinstance(select, exp.Select)
    sources = _sources(plan, scope)
    if not sources:
        plan.carried[id(scope)] = []
        return
    if scope.windowed and not scope.aggregated:
        _windows_per_identity(plan, scope, sources)
    if scope.distinct:
        if scope.aggregated or scope.windowed:
            raise plan.ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                _DISTINCT_OVER_GROUPS,
                select,
            )
        _distinct_as_group(plan, scope)
    aggregated = _aggregating(scope)
    for key in sorted(sources):
        select.append(
            "expressions",
            exp.alias_(
                _contribution(plan, key, sources[key], aggregated), plan.hidden(key), quoted=True, copy=False
            ),
        )
        if aggregated and not _per_identity(plan, scope, key):
            _intermediate_threshold(plan, scope, key, sources[key])
    plan.carried[id(scope)] = sorted(sources)


def _distinct_as_group(plan: _Rewrite, scope: QueryScope) -> None:
    """``SELECT DISTINCT a, b`` as ``GROUP BY a, b``, so identities can be gathered per group."""
    select = scope.node
    select.set("distinct", None)
    keys = [
        plan.binding.copy_of(item.this if isinstance(item, exp.Alias) else item)
        for item in select.expressions
    ]
    select.set("group", exp.Group(expressions=keys))
    scope.aggregated, scope.distinct = True, False
    scope.group_keys = [o.value for o in scope.outs]


def _intermediate_threshold(
    plan: _Rewrite, scope: QueryScope, key: Key, parts: list[tuple[Relation, bool]]
) -> None:
    """An aggregating CTE or derived table is an output too: its groups meet the minimum first."""
    minimum = dict(_requirements(plan.refs[key[0]].table)).get(key[1], 0)
    if minimum <= 0:
        return
    count = _call("len", _contribution(plan, key, parts, True))
    scope.thresholds.append(exp.GTE(this=count, expression=exp.Literal.number(minimum)))


def _windows_per_identity(
    plan: _Rewrite, scope: QueryScope, sources: dict[Key, list[tuple[Relation, bool]]]
) -> None:
    """A window over a thresholded table's rows below the final SELECT stays within one identity."""
    for call, owner in plan.binding.window_calls:
        if owner is not scope:
            continue
        window = call.parent
        assert isinstance(window, exp.Window)
        partitions = [plan.binding.value(p) for p in window.args.get("partition_by") or []]
        for key in sources:
            rule = plan.refs[key[0]].table.rule
            identity = (
                rule.threshold.identity_column if isinstance(rule, CustomRule) and rule.threshold else None
            )
            if identity is None:
                continue
            if not any(v is not None and (key[0], identity) in v.direct for v in partitions):
                raise plan.ctx.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    "below the final SELECT, a window function over a table with an aggregation threshold "
                    "must "
                    f"PARTITION BY its identity column {identity} (a window across identities would carry "
                    "small groups' values past the threshold)",
                    window,
                )


def _leaf_branches(scope: QueryScope) -> list[QueryScope]:
    return list(scope.leaves())


def _carry_set_operation(plan: _Rewrite, scope: QueryScope) -> None:
    leaves = _leaf_branches(scope)
    per_leaf = [_sources(plan, leaf) for leaf in leaves]
    keys = sorted({k for sources in per_leaf for k in sources})
    if not keys:
        plan.carried[id(scope)] = []
        return
    nodes = [scope.node, *scope.node.find_all(exp.SetOperation)]
    for node in nodes:
        if not isinstance(node, exp.Union) or node.args.get("distinct"):
            raise plan.ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "below the final SELECT, only UNION ALL can be thresholded locally",
                node,
            )
    for leaf, sources in zip(leaves, per_leaf, strict=True):
        select = leaf.node
        assert isinstance(select, exp.Select)
        if leaf.distinct and not (leaf.aggregated or leaf.windowed):
            _distinct_as_group(plan, leaf)
        if leaf.windowed and not leaf.aggregated:
            _windows_per_identity(plan, leaf, sources)
        aggregated = _aggregating(leaf)
        for key in keys:
            if key in sources:
                value = _contribution(plan, key, sources[key], aggregated)
                if aggregated and not _per_identity(plan, leaf, key):
                    _intermediate_threshold(plan, leaf, key, sources[key])
            else:
                column_type = plan.refs[key[0]].table.columns.get(key[1]) or "VARCHAR"
                element = column_type if type_of(column_type).value != "unknown" else "VARCHAR"
                value = exp.cast(
                    exp.Array(expressions=[]), exp.DataType.build(f"{element}[]", dialect="duckdb")
                )
            select.append("expressions", exp.alias_(value, plan.hidden(key), quoted=True, copy=False))
    plan.carried[id(scope)] = keys


def _count(
    plan: _Rewrite,
    key: Key,
    parts: list[tuple[Relation, bool]],
    aggregated: bool,
    equal: dict[Origin, Origin],
) -> exp.Expr:
    """Distinct identities of ``key`` behind one final row (direct form when the table is read here)."""
    if aggregated and len(parts) == 1 and parts[0][1]:
        origin = equal.get(key, key)
        column = exp.column(origin[1], table=f"__t{origin[0]}", quoted=True)
        return exp.Count(this=exp.Distinct(expressions=[column]))
    contribution = _contribution(plan, key, parts, aggregated)
    if not aggregated:
        contribution = _call("list_distinct", contribution)
    return _call("len", contribution)


def _filter_final(plan: _Rewrite, final: QueryScope, minimums: dict[int, int]) -> None:
    select = final.node
    assert isinstance(select, exp.Select)
    sources = _sources(plan, final)
    if not sources:
        return
    if final.distinct:
        if final.aggregated or final.windowed:
            raise plan.ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                _DISTINCT_OVER_GROUPS,
                select,
            )
        _distinct_as_group(plan, final)
    aggregated = _aggregating(final)
    equal = _equalities(plan, final) if aggregated else {}
    counted = _counted(plan, final)
    equal = {k: counted.get(v, v) for k, v in equal.items()}
    wanted: dict[str, tuple[exp.Expr, int]] = {}
    for key in sorted(sources):
        number, column = key
        for wanted_column, minimum in _requirements(plan.refs[number].table, minimums.get(number)):
            if wanted_column != column or minimum <= 0:
                continue
            count = _count(plan, key, sources[key], aggregated, equal)
            text = count.sql(dialect="duckdb")
            wanted[text] = (count, max(minimum, wanted.get(text, (count, 0))[1]))
    if not wanted:
        return
    conditions = [exp.GTE(this=c, expression=exp.Literal.number(m)) for c, m in wanted.values()]
    if aggregated:
        final.thresholds += conditions
    else:
        select.where(exp.and_(*conditions, copy=False), copy=False)


def _counted(plan: _Rewrite, scope: QueryScope) -> dict[Origin, Origin]:
    """Prefer, within an equality class, an origin the query already counts distinctly (one aggregate)."""
    select = scope.node
    counted: set[Origin] = set()
    for count in select.find_all(exp.Count):
        if isinstance(count.this, exp.Distinct) and len(count.this.expressions) == 1:
            origin = _origin(scope, count.this.expressions[0])
            if origin is not None:
                counted.add(origin)
    equal = _equalities(plan, scope)
    classes: dict[Origin, list[Origin]] = {}
    for item, root in equal.items():
        classes.setdefault(root, []).append(item)
    chosen: dict[Origin, Origin] = {}
    for root, members in classes.items():
        preferred = sorted(m for m in members if m in counted)
        if preferred:
            chosen[root] = preferred[0]
    return chosen
