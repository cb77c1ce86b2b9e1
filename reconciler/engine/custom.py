"""The custom rule (ANALYSIS_RULES.md 8.2 and 8.6): approval, output columns, Spark-era controls.

Stages C1 (approval) and C2 (differential privacy) run on the parsed tree; C3 to C7 run after
``qualify`` so that lineage (``Lineage``) can follow every output and compared column back to
configured-table columns through CTEs, derived tables and set operations. C2 hands tables with
``differentialPrivacy`` to ``reconciler.dp.analyze``: SQL that DP cannot answer is refused here,
before any data is read, and the analyzed query is kept so that ``run`` answers it with noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from reconciler import dp
from reconciler.engine.facts import Table
from reconciler.engine.lineage import BaseColumn, Lineage
from reconciler.engine.rules import (
    SPARK_AGGREGATES,
    SPARK_FUNCTIONS,
    SPARK_WINDOW_FUNCTIONS,
    CustomRule,
    Reason,
)
from reconciler.engine.sqlnames import aws_name, is_aggregate, is_function, is_window_function, selects, strip

if TYPE_CHECKING:
    from reconciler.engine.enforce import Context

__all__ = ["check_approval", "check_controls"]

#: Constructs refused when controls are active (8.6.4), as (node class, words for the message).
_REFUSED_CONSTRUCTS: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Rollup, "GROUP BY ROLLUP"),
    (exp.Cube, "GROUP BY CUBE"),
    (exp.GroupingSets, "GROUPING SETS"),
    (exp.Exists, "EXISTS"),
    (exp.Lateral, "LATERAL"),
    (exp.Pivot, "PIVOT / UNPIVOT"),
    (exp.Except, "EXCEPT"),
    (exp.Intersect, "INTERSECT"),
    (exp.NullSafeEQ, "<=> / IS NOT DISTINCT FROM"),
    (exp.Filter, "an aggregate FILTER clause"),
    (exp.TableSample, "TABLESAMPLE"),
    (exp.ILike, "ILIKE"),
)
_REFUSED_CLAUSES = ("qualify", "cluster", "distribute", "sort", "offset", "laterals")
_NEEDS_QUALIFYING = frozenset(
    {"MIN", "MAX", "PERCENTILE", "APPROX_PERCENTILE", "MEDIAN", "COLLECT_LIST", "COLLECT_SET"}
)
_NEEDS_QUALIFYING_WINDOW = frozenset({"LAG", "LEAD", "MIN", "MAX", "APPROX_PERCENTILE", "PERCENTILE"})
_QUALIFYING = frozenset({"AVG", "COUNT", "SUM"})
_BINARY_COMPARISONS = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeNEQ,
    exp.Like,
    exp.RegexpLike,
)
_MATCHING = (
    exp.StrPosition, exp.ArrayContains, exp.StartsWith, exp.Replace, exp.RegexpReplace, exp.RegexpExtract,
    exp.RegexpSubstr, exp.Nullif,
)  # fmt: skip


def _rules(ctx: Context) -> Iterator[tuple[Table, CustomRule]]:
    for table in ctx.tables.values():
        if isinstance(table.rule, CustomRule):
            yield table, table.rule


def _kw(table: Table) -> dict[str, str]:
    return {"table": table.name, "rule": "CUSTOM"}


def check_approval(ctx: Context) -> None:
    """C1: every referenced table approves the request; then C2 (differential privacy)."""
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
    _c2_differential_privacy(ctx)


def _c2_differential_privacy(ctx: Context) -> None:
    """C2: a query over DP tables must be one DP can answer (DIFFERENTIAL_PRIVACY.md 1.6).

    The analysis runs on a copy of the parsed tree (parameters bound), so the aggregate
    expressions it reports read as the user wrote them; the later stages still check the rest.
    """
    dp_tables = {
        t.name: r.differential_privacy_column for t, r in _rules(ctx) if r.differential_privacy_column
    }
    if not dp_tables:
        return
    try:
        ctx.dp = dp.analyze(ctx.tree.copy(), dp_tables)
    except dp.DPQueryRefused as exc:
        refusal = ctx.refuse(
            Reason.OTHER, exc.summary, exc.fragment or None, table=", ".join(sorted(dp_tables)), rule="CUSTOM"
        )
        refusal.hint = exc.hint
        raise refusal from None
    ctx.dp_tables = dp_tables


def check_controls(ctx: Context) -> None:
    """C3 to C7, in order, on the qualified tree."""
    lineage = ctx.lineage
    assert lineage is not None
    _c3_output_columns(ctx, lineage)
    rules = dict(_by_name(ctx))
    if not any(r.has_controls for r in rules.values()):
        return
    _c4_constructs(ctx, lineage)
    _c4_functions(ctx)
    _c5_comparisons(ctx, lineage, rules)
    if any(r.threshold and r.threshold.columns_only for r in rules.values()):
        _c6_aggregate_arguments(ctx, lineage)
    if any(r.threshold for r in rules.values()):
        _c7_final_selects(ctx, lineage)


def _by_name(ctx: Context) -> Iterator[tuple[str, CustomRule]]:
    for table, rule in _rules(ctx):
        yield table.name, rule


def _c3_output_columns(ctx: Context, lineage: Lineage) -> None:
    for final in lineage.final_selects():
        for projection in selects(final.expression):
            for name, column in sorted(lineage.of(projection, final)):
                rule = ctx.tables[name].rule
                if isinstance(rule, CustomRule) and column in rule.disallowed_output_columns:
                    raise ctx.refuse(
                        Reason.OUTPUT_COLUMN_DISALLOWED,
                        f"column {column} of {name} may not reach the query's output",
                        projection,
                        **_kw(ctx.tables[name]),
                    )


def _c4_constructs(ctx: Context, lineage: Lineage) -> None:
    tree = ctx.tree
    for cls, words in _REFUSED_CONSTRUCTS:
        for node in tree.find_all(cls):
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT, f"{words} is not supported with these controls", node
            )
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "WITH RECURSIVE is not supported", with_)
    for select in tree.find_all(exp.Select):
        for key in _REFUSED_CLAUSES:
            if select.args.get(key):
                raise ctx.refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"{key.upper()} is not supported", select.args[key]
                )
        for join in select.args.get("joins") or []:
            if join.kind in ("SEMI", "ANTI") or join.args.get("method") in ("ASOF", "POSITIONAL"):
                raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, f"{join.kind} joins are not supported", join)
    for scope in lineage.scopes:
        if scope.is_subquery:
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "only FROM subqueries and CTEs are supported",
                scope.expression.parent,
            )


def _c4_functions(ctx: Context) -> None:
    for func in ctx.tree.find_all(exp.Func):
        if not is_function(func):
            continue
        name = aws_name(func)
        if is_window_function(func):
            ok = name in SPARK_WINDOW_FUNCTIONS or name in SPARK_AGGREGATES
        elif is_aggregate(func):
            ok = name in SPARK_AGGREGATES
        else:
            ok = name in SPARK_FUNCTIONS
        if not ok:
            raise ctx.refuse(
                Reason.DISALLOWED_FUNCTION, f"function {name} is not supported with these controls", func
            )


#: Functions that compare their arguments (or array elements, or map keys) with one another:
#: ``GREATEST(x, 'v') = x`` is ``x >= 'v'`` and ``MAP('v', 1)[x]`` is ``x = 'v'`` (8.6.5, red team).
_COMPARING = (
    exp.Greatest, exp.Least, exp.ArraySort, exp.ArrayIntersect, exp.ArrayRemove, exp.ArrayDistinct,
    exp.ArrayPosition, exp.RegexpSplit, exp.Split,
)  # fmt: skip
_CONTAINERS = (exp.Array, exp.VarMap, exp.Map, exp.Tuple)


def _operands(node: exp.Expr) -> list[exp.Expr]:
    """The values a comparing function compares: its arguments, with array/map constructors opened."""
    found: list[exp.Expr] = []
    for child in node.iter_expressions():
        if isinstance(child, exp.VarMap):
            child = child.args["keys"]
        found += _operands(child) if isinstance(child, _CONTAINERS) else [child]
    return found


def _comparing(node: exp.Expr) -> bool:
    if isinstance(node, exp.Bracket):
        return isinstance(node.this, (exp.VarMap, exp.Map))
    return isinstance(node, _COMPARING) or (
        isinstance(node, exp.Anonymous) and aws_name(node) == "ARRAY_UNION"
    )


def _carries_literal(node: exp.Expr) -> bool:
    """True when an operand mixes in a literal (``SUBSTRING(CONCAT(x, 'v'), 3) = x`` tests x against 'v')."""
    return any(
        not _is_null_or_bool(lit) and lit.find_ancestor(exp.Query) is node.find_ancestor(exp.Query)
        for lit in node.find_all(exp.Literal)
    )


def _comparisons(tree: exp.Expr) -> Iterator[tuple[exp.Expr, exp.Expr, exp.Expr]]:
    """(comparison node, operand, operand) for every comparison in the tree (8.6.5)."""
    for node in tree.find_all(exp.Func, exp.Bracket):
        if _comparing(node):
            values = _operands(node.this) if isinstance(node, exp.Bracket) else _operands(node)
            keys = node.expressions if isinstance(node, exp.Bracket) else values
            for i, left in enumerate(values):
                for right in keys[i + 1 :] if keys is values else keys:
                    yield node, left, right
    for node in tree.find_all(*_BINARY_COMPARISONS, exp.In, exp.Between, exp.Case, exp.Decode, *_MATCHING):
        if isinstance(node, _BINARY_COMPARISONS) or isinstance(node, _MATCHING):
            other = node.expression if node.args.get("expression") is not None else node.args.get("substr")
            if other is not None:
                yield node, node.this, other
        elif isinstance(node, exp.In):
            for value in node.expressions:
                yield node, node.this, value
        elif isinstance(node, exp.Between):
            yield node, node.this, node.args["low"]
            yield node, node.this, node.args["high"]
        elif isinstance(node, exp.Case) and node.this is not None:
            for branch in node.args.get("ifs") or []:
                yield node, node.this, branch.this
        elif isinstance(node, exp.Decode) and node.expressions:
            for value in node.expressions[::2][:-1] if len(node.expressions) % 2 else node.expressions[::2]:
                yield node, node.this, value


def _is_null_or_bool(node: exp.Expr) -> bool:
    node = strip(node)
    return isinstance(node, (exp.Null, exp.Boolean))


def _c5_comparisons(ctx: Context, lineage: Lineage, rules: dict[str, CustomRule]) -> None:
    for node, left, right in _comparisons(ctx.tree):
        scope = lineage.scope_of(node)
        a = lineage.of(left, scope, skip_counts=True)
        b = lineage.of(right, scope, skip_counts=True)
        if a and b:
            _check_columns(ctx, rules, node, a | b, literal=False)
            if _carries_literal(left) or _carries_literal(right):
                _check_columns(ctx, rules, node, a | b, literal=True)
        elif a or b:
            if _is_null_or_bool(right if a else left):
                continue
            _check_columns(ctx, rules, node, a or b, literal=True)


def _check_columns(
    ctx: Context,
    rules: dict[str, CustomRule],
    node: exp.Expr,
    columns: frozenset[BaseColumn],
    *,
    literal: bool,
) -> None:
    for name, column in sorted(columns):
        rule = rules.get(name)
        if rule is None:
            continue
        kw = _kw(ctx.tables[name])
        if literal and rule.threshold and column == rule.threshold.identity_column:
            raise ctx.refuse(
                Reason.COMPARISON_NOT_ALLOWED,
                f"the identity column {column} of {name} can never be compared with a literal",
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
                f"{name}.{column} is not allowed in a {kind} comparison (comparisonControls)",
                node,
                **kw,
            )


def _aggregate_calls(tree: exp.Expr) -> Iterator[exp.Func]:
    for func in tree.find_all(exp.Func):
        if is_function(func) and (is_aggregate(func) or is_window_function(func)):
            yield func


def _c6_aggregate_arguments(ctx: Context, lineage: Lineage) -> None:
    for func in _aggregate_calls(ctx.tree):
        scope = lineage.scope_of(func)
        for arg in _arguments(func):
            if isinstance(arg, (exp.Literal, exp.Star, exp.Null, exp.Boolean)):
                continue
            if isinstance(arg, exp.Column) and lineage.is_direct(arg, scope):
                continue
            raise ctx.refuse(
                Reason.AGGREGATE_EXPRESSION_NOT_ALLOWED,
                "aggregate and window function arguments must be plain columns (COLUMNS_ONLY)",
                func,
            )


def _arguments(func: exp.Func) -> Iterator[exp.Expr]:
    for key, value in func.args.items():
        if key in ("order", "over", "ignore_nulls", "respect_nulls"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, exp.Distinct):
                yield from item.expressions
            elif isinstance(item, exp.Expr):
                yield item


def _c7_final_selects(ctx: Context, lineage: Lineage) -> None:
    for final in lineage.final_selects():
        _c7_one(ctx, final)


def _c7_one(ctx: Context, final: Scope) -> None:
    select = final.expression
    needs: exp.Func | None = None
    qualifies = False
    for projection in selects(select):
        for func in projection.find_all(exp.Func):
            if not is_function(func):
                continue
            name = aws_name(func)
            window = is_window_function(func)
            if (
                not window
                and is_aggregate(func)
                and name in _QUALIFYING
                and func.find_ancestor(exp.Select) is select
            ):
                qualifies = True
            elif (window and name in _NEEDS_QUALIFYING_WINDOW) or (not window and name in _NEEDS_QUALIFYING):
                needs = needs or func
    if needs is not None and not qualifies:
        raise ctx.refuse(
            Reason.NON_AGGREGATE_OUTPUT,
            f"{aws_name(needs)} must be combined with a COUNT, SUM or AVG in the final SELECT (threshold)",
            needs,
        )
