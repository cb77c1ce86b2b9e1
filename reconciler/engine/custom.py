"""The custom rule (ANALYSIS_RULES.md 8.2 and 8.6): approval, output columns, Spark-era controls.

C1 (approval) runs on the request; everything after it reads the binder's facts
(``bind.Binding``), never the query's names: C2 hands tables with ``differentialPrivacy`` to
``dp_query.analyze``; C3 reads the base-column lineage of every final output; C4 raises the
first construct, then the first function, that the controls do not allow (the binder noted them
while it walked); C5 judges every comparison position the binder recorded; C6 reads whether
aggregate arguments are plain base columns; C7 reads the final SELECTs' aggregates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlglot import exp

from reconciler.engine import dp_query
from reconciler.engine.facts import Table
from reconciler.engine.flat import within
from reconciler.engine.functions import Function, FunctionKind, Type, lookup
from reconciler.engine.rules import CustomRule, Reason
from reconciler.engine.scopes import Binding, QueryScope
from reconciler.engine.values import BaseColumn, Comparison

if TYPE_CHECKING:
    from reconciler.engine.enforce import CheckState

__all__ = ["check_approval", "check_controls", "check_differential_privacy"]

_NEEDS_QUALIFYING = frozenset(
    {"MIN", "MAX", "PERCENTILE", "APPROX_PERCENTILE", "MEDIAN", "COLLECT_LIST", "COLLECT_SET"}
)
_NEEDS_QUALIFYING_WINDOW = frozenset({"LAG", "LEAD", "MIN", "MAX", "APPROX_PERCENTILE", "PERCENTILE"})
_QUALIFYING = frozenset({"AVG", "COUNT", "SUM"})


def _rules(ctx: CheckState) -> Iterator[tuple[Table, CustomRule]]:
    for table in ctx.tables.values():
        if isinstance(table.rule, CustomRule):
            yield table, table.rule


def _kw(table: Table) -> dict[str, str]:
    return {"table": table.name, "rule": "CUSTOM"}


def check_approval(ctx: CheckState) -> None:
    """C1: every referenced table approves the request (template ARN, or ANY_QUERY and provider)."""
    request = ctx.request
    for table, rule in _rules(ctx):
        if request.template_arn:
            ok = request.template_arn in rule.allowed_analyses or (
                "ANY_QUERY" in rule.allowed_analyses and request.template_creator in rule.allowed_providers
            )
            what = f"analysis template {request.template_arn}"
        else:
            ok = "ANY_QUERY" in rule.allowed_analyses and request.querier in rule.allowed_providers
            what = f"direct queries from {request.querier}"
        if not ok:
            raise ctx.refuse(
                Reason.TEMPLATE_NOT_ALLOWED, f"the table's owner has not approved {what}", **_kw(table)
            )


def check_differential_privacy(ctx: CheckState) -> None:
    """C2: a query over DP tables must have a shape DP can answer (4.1 item 8).

    ``enforce.check`` builds the DPQuery once every stage has passed. A DP table cannot be read
    together with a table whose rule sets an aggregation threshold: the noisy answer would
    skip the threshold's suppression.
    """
    dp_tables = {
        t.name: r.differential_privacy_column for t, r in _rules(ctx) if r.differential_privacy_column
    }
    if not dp_tables:
        return
    assert ctx.binding is not None
    thresholded = sorted(t.name for t, r in _rules(ctx) if r.threshold is not None)
    ctx.dp_tables = dp_tables
    if thresholded:
        raise ctx.refuse(
            Reason.OTHER,
            f"tables with differential privacy ({', '.join(sorted(dp_tables))}) cannot be queried together "
            f"with tables that set aggregation thresholds ({', '.join(thresholded)})",
            table=", ".join(sorted(dp_tables)),
            rule="CUSTOM",
        )
    dp_query.check_shape(ctx.binding, dp_tables, ctx.dp_refuse)


def check_controls(ctx: CheckState) -> None:
    """C3 to C7, in order, on the binding."""
    binding = ctx.binding
    assert binding is not None
    _c3_output_columns(ctx, binding)
    rules = {t.name: r for t, r in _rules(ctx)}
    if not any(r.has_controls for r in rules.values()):
        return
    _c4_surface(ctx, binding)
    _c5_comparisons(ctx, binding, rules, branch=False)
    if any(r.threshold and r.threshold.columns_only for r in rules.values()):
        _c6_aggregate_arguments(ctx, binding)
    _c5_comparisons(ctx, binding, rules, branch=True)
    if any(r.threshold for r in rules.values()):
        for final in binding.finals:
            _c7_final_select(ctx, binding, final)


def _c3_output_columns(ctx: CheckState, binding: Binding) -> None:
    for final in binding.finals:
        items = final.node.expressions
        for out, item in zip(final.outs, items, strict=True):
            for name, column in sorted(out.value.reads):
                rule = ctx.tables[name].rule
                if isinstance(rule, CustomRule) and column in rule.disallowed_output_columns:
                    raise ctx.refuse(
                        Reason.OUTPUT_COLUMN_DISALLOWED,
                        f"column {column} of {name} may not reach the query's output",
                        item,
                        **_kw(ctx.tables[name]),
                    )


def _c4_surface(ctx: CheckState, binding: Binding) -> None:
    """C4: constructs first, then functions, as the binder found them (8.6.4)."""
    for wanted in (Reason.DISALLOWED_CONSTRUCT, Reason.DISALLOWED_FUNCTION):
        for reason, message, node in binding.findings:
            if reason is wanted:
                raise ctx.refuse(reason, message, node)


def _c5_comparisons(ctx: CheckState, binding: Binding, rules: dict[str, CustomRule], *, branch: bool) -> None:
    """C5: every comparison position (``branch``: the branching values, judged after C6)."""
    identities = {
        (ref.number, rule.threshold.identity_column)
        for ref in binding.refs
        for rule in [rules.get(ref.table.name)]
        if rule is not None and rule.threshold is not None
    }
    for comparison in binding.comparisons:
        if comparison.branch is not branch:
            continue
        _check_columns(ctx, rules, comparison, comparison.literal, literal=True)
        _check_columns(ctx, rules, comparison, comparison.column, literal=False)
        if comparison.column and identities:
            _no_implicit_cast(ctx, comparison, identities)


def _check_columns(
    ctx: CheckState,
    rules: dict[str, CustomRule],
    comparison: Comparison,
    columns: frozenset[BaseColumn],
    *,
    literal: bool,
) -> None:
    node = comparison.node
    for name, column in sorted(columns):
        rule = rules.get(name)
        if rule is None:
            continue
        kw = _kw(ctx.tables[name])
        if literal and rule.threshold and column == rule.threshold.identity_column:
            raise ctx.refuse(
                Reason.COMPARISON_NOT_ALLOWED,
                f"the identity column {column} of {name} can never be compared with a literal"
                + (f" ({comparison.what})" if comparison.what else ""),
                node,
                **kw,
            )
        if rule.comparison is None:
            continue
        allowed = rule.comparison.literal if literal else rule.comparison.column
        if column not in allowed:
            kind = "literal" if literal else "column"
            raise ctx.refuse(
                Reason.COMPARISON_NOT_ALLOWED,
                f"{name}.{column} is not allowed in a {kind} comparison (comparisonControls)"
                + (f": {comparison.what}" if comparison.what else ""),
                node,
                **kw,
            )


def _no_implicit_cast(ctx: CheckState, comparison: Comparison, identities: set[tuple[int, str]]) -> None:
    """An identity column is compared only with string values: a cast would merge identities."""
    operands = comparison.operands
    identity = [o for o in operands if o.direct & identities]
    if not identity or any(o.type is Type.UNKNOWN for o in identity):
        return  # no identity here, or a table without a schema (no data yet): nothing to compare
    for operand in operands:
        if operand.type is not Type.STRING:  # an unknown type (a struct field, say) may cast too
            raise ctx.refuse(
                Reason.COMPARISON_NOT_ALLOWED,
                "an identity column is compared with a value that is not a string; the implicit cast could "
                "match several identities (cast both sides explicitly to STRING, or join on a string column)",
                comparison.node,
            )


def _data_arguments(call: exp.Func, function: Function) -> Iterator[exp.Expr]:
    """The data arguments of a call (settings excluded, DISTINCT opened)."""
    anonymous = isinstance(call, exp.Anonymous)
    for key, value in call.args.items():
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if not isinstance(item, exp.Expr):
                continue
            position = str(index) if anonymous else key
            if position in function.params or position in function.amplifies:
                continue
            if isinstance(item, exp.Distinct):
                yield from item.expressions
            elif not isinstance(item, (exp.Var, exp.DataType, exp.JSONPath)):
                yield item


def _c6_aggregate_arguments(ctx: CheckState, binding: Binding) -> None:
    for call, _scope in [*binding.aggregate_calls, *binding.window_calls]:
        function = lookup(call)
        if function is None:
            continue
        for argument in _data_arguments(call, function):
            if isinstance(argument, exp.Star):
                continue
            value = binding.value(argument)
            if value is not None and (value.constant or value.direct):
                continue
            raise ctx.refuse(
                Reason.AGGREGATE_EXPRESSION_NOT_ALLOWED,
                "aggregate and window function arguments must be plain columns (COLUMNS_ONLY)",
                call,
            )


def _c7_final_select(ctx: CheckState, binding: Binding, final: QueryScope) -> None:
    items = {id(item) for item in final.node.expressions}

    def in_items(node: exp.Expr) -> bool:  # the node or one of its ancestors is a SELECT item
        return within(node, items)

    qualifies = any(
        scope is final and in_items(call) and (lookup(call) or _UNKNOWN).name in _QUALIFYING
        for call, scope in binding.aggregate_calls
    )
    needs = [
        call
        for call, scope in binding.aggregate_calls
        if scope is final and in_items(call) and (lookup(call) or _UNKNOWN).name in _NEEDS_QUALIFYING
    ]
    needs += [
        call
        for call, scope in binding.window_calls
        if scope is final and in_items(call) and (lookup(call) or _UNKNOWN).name in _NEEDS_QUALIFYING_WINDOW
    ]
    if needs and not qualifies:
        name = (lookup(needs[0]) or _UNKNOWN).name
        raise ctx.refuse(
            Reason.NON_AGGREGATE_OUTPUT,
            f"{name} must be combined with a COUNT, SUM or AVG in the final SELECT (threshold)",
            needs[0],
        )


_UNKNOWN = Function("?", FunctionKind.SCALAR)
