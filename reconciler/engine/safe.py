"""Errors are not answers (ANALYSIS_RULES.md 4.1 item 6): the canonical query cannot fail on a row's value.

A query that fails only when some row holds a certain value — a row the thresholds would have
suppressed, say — answers a question with its failure. Two rewrites of the canonical tree close
that, so whether a query runs never depends on protected values:

- ``split_aggregates``: every aggregating SELECT becomes an inner SELECT that only groups,
  aggregates and applies the thresholds (``HAVING``), under an outer SELECT that computes
  everything else from the surviving groups: the SELECT list, the user's HAVING (as WHERE),
  QUALIFY, windows, ORDER BY, LIMIT. So expressions over aggregates only ever see groups that
  are released, as the design says suppression must come "before windows, ORDER BY and LIMIT";
- ``nonfailing``: every operation that can fail on a value (integer arithmetic that overflows,
  division, casts from text, parsing and branching functions, comparisons that cast implicitly)
  and that DuckDB evaluates row by row is wrapped in ``TRY(...)`` (a CAST becomes TRY_CAST), so
  it yields NULL instead of failing. What a NULL then tells is a comparison, and the binder has
  already treated such a branching operation as one (``functions``, ``branches``).

Where Spark's ANSI mode would raise, the local engine therefore answers NULL for that value:
the safer choice, since AWS does not document what a failed protected query reveals.
"""

from __future__ import annotations

from sqlglot import exp

from reconciler.engine.functions import Type, lookup
from reconciler.engine.rules import Reason
from reconciler.engine.scopes import Binding, QueryScope, Refuse

__all__ = ["nonfailing", "split_aggregates"]

_QUERY_NODES = (exp.Select, exp.SetOperation, exp.Subquery)
_NOT_IN_TRY = (exp.AggFunc, exp.Window, exp.Explode, exp.Unnest, exp.Subquery, exp.Select, exp.Filter)


def split_aggregates(binding: Binding, refuse: Refuse) -> None:
    """Put every aggregating SELECT of the canonical tree under an outer SELECT (see the module docstring).

    Raises:
        QueryRejected: a column of an aggregating SELECT is neither grouped nor aggregated.
    """
    number = 0
    for scope in binding.emitted():
        if scope.is_select and scope.aggregated and scope.role != "subquery":
            number += 1
            _split(scope, f"__agg{number}", refuse)


def _split(scope: QueryScope, alias: str, refuse: Refuse) -> None:
    select = scope.node
    assert isinstance(select, exp.Select)
    group = select.args.get("group")
    keys = list(group.expressions) if group is not None else []
    key_index: dict[exp.Expr, int] = {}
    for index, key in enumerate(keys):  # structural equality: the same expression, wherever it is
        key_index.setdefault(key, index)
    key_types = {type(k) for k in keys}
    hoisted: list[exp.Expr] = []
    hoisted_index: dict[exp.Expr, int] = {}

    def column(name: str) -> exp.Column:
        return exp.column(name, table=alias, quoted=True)

    def rewrite(node: exp.Expr) -> exp.Expr:
        """Aggregates -> inner columns, group-key expressions -> inner columns, top-down."""
        if _is_aggregate(node):
            if node not in hoisted_index:
                hoisted_index[node] = len(hoisted)
                hoisted.append(node)
            return column(f"__a{hoisted_index[node]}")
        if type(node) in key_types and not isinstance(node, (exp.Literal, exp.Null, exp.Boolean, exp.Star)):
            if node in key_index:
                return column(f"__g{key_index[node]}")
        if isinstance(node, exp.Subquery):
            return node
        for key, value in list(node.args.items()):
            if isinstance(value, list):
                node.set(key, [rewrite(v) if isinstance(v, exp.Expr) else v for v in value])
            elif isinstance(value, exp.Expr):
                node.set(key, rewrite(value))
        return node

    items = [rewrite(item) for item in select.expressions]
    having = select.args.get("having")
    user_condition = rewrite(having.this) if having is not None else None
    qualify = select.args.get("qualify")
    if qualify is not None:
        qualify.set("this", rewrite(qualify.this))
    order = select.args.get("order")
    if order is not None:
        for ordered in order.expressions:
            ordered.set("this", rewrite(ordered.this))
    inner = exp.Select(
        expressions=[exp.alias_(k, f"__g{i}", quoted=True, copy=False) for i, k in enumerate(keys)]
        + [exp.alias_(h, f"__a{i}", quoted=True, copy=False) for i, h in enumerate(hoisted)]
    )
    if not inner.expressions:
        inner.set("expressions", [exp.alias_(exp.Literal.number(1), "__one", quoted=True, copy=False)])
    for key in ("from_", "joins", "laterals", "where"):
        inner.set(key, select.args.get(key))
        select.set(key, None)
    select.set("group", None)
    if keys:  # by position: the keys themselves are the first SELECT items, TRY-wrapped alike
        inner.set("group", exp.Group(expressions=[exp.Literal.number(i + 1) for i in range(len(keys))]))
    if scope.thresholds:
        inner.set("having", exp.Having(this=exp.and_(*scope.thresholds, copy=False)))
    select.set("having", None)
    select.set("expressions", items)
    select.set(
        "from_",
        exp.From(
            this=exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        ),
    )
    if user_condition is not None:
        select.set("where", exp.Where(this=user_condition))
    scope.thresholds = []
    leftover = _ungrouped(select, alias)
    if leftover is not None:
        raise refuse(
            Reason.NON_AGGREGATE_OUTPUT,
            "a column must appear in the GROUP BY clause or inside an aggregate",
            leftover,
        )


def _ungrouped(select: exp.Select, alias: str) -> exp.Column | None:
    """A column of the outer SELECT that reads the aggregated rows' FROM instead of the groups."""
    stack: list[exp.Expr] = [*select.expressions]
    for key in ("where", "qualify", "order"):
        if select.args.get(key) is not None:
            stack.append(select.args[key])
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Column) and node.table and node.table != alias:
            return node
        if isinstance(node, exp.Subquery):
            continue
        stack.extend(node.iter_expressions())
    return None


def _is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.Filter):
        return isinstance(node.this, exp.AggFunc)
    if not isinstance(node, exp.AggFunc):
        return False
    parent = node.parent
    return not (isinstance(parent, exp.Window) and node.arg_key == "this") and not isinstance(
        parent, exp.Filter
    )


def nonfailing(binding: Binding) -> None:
    """Wrap every value operation that can fail in TRY (CAST becomes TRY_CAST); see the module docstring."""
    stack: list[exp.Expr] = [binding.tree]
    while stack:
        node = stack.pop()
        kind = _KINDS.get(type(node))
        if kind is None:
            kind = _KINDS[type(node)] = _kind(type(node))
        if kind == "cast":
            safe = exp.TryCast(this=node.this, to=node.args["to"])
            node.replace(safe)
            node = safe
        elif (
            kind and _fails(binding, node, kind) and not any(isinstance(n, _NOT_IN_TRY) for n in node.walk())
        ):
            wrapper = exp.Anonymous(this="TRY")
            node.replace(wrapper)
            wrapper.set("expressions", [node])
            continue
        stack.extend(node.iter_expressions())


#: node type -> what ``_fails`` asks of it ("" never fails), filled in as types are met
_KINDS: dict[type[exp.Expr], str] = {}


def _kind(kind: type[exp.Expr]) -> str:
    if issubclass(kind, exp.Cast) and not issubclass(kind, exp.TryCast):
        return "cast"
    if issubclass(kind, exp.Neg):
        return "negation"
    if issubclass(kind, (exp.Add, exp.Sub, exp.Mul)):
        return "arithmetic"
    if issubclass(kind, (exp.Div, exp.IntDiv, exp.Mod)):
        return "division"
    if issubclass(kind, (exp.And, exp.Or, exp.Not, exp.Xor, exp.Paren)):
        return ""  # connectives never fail; what they combine is judged on its own
    if issubclass(kind, exp.Func) and not issubclass(kind, (exp.AggFunc, exp.Cast)):
        return "function"
    if issubclass(kind, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between)):
        return "comparison"
    return ""


def _fails(binding: Binding, node: exp.Expr, kind: str) -> bool:
    """True for a value operation that can fail on some input (by its role and its operands' types)."""
    value = binding.value(node)
    if value is None:
        return False
    if kind == "negation":
        # a negative constant (ROUND(x, -1) needs it foldable in Spark)
        return not isinstance(node.this, exp.Literal) and value.type is not Type.FLOAT
    if kind == "arithmetic":
        return value.type is not Type.FLOAT
    if kind == "division":
        return True
    if kind == "function":
        assert isinstance(node, exp.Func)
        function = lookup(node)
        return function is None or not function.total
    if kind == "comparison":
        values = [binding.value(child) for child in node.iter_expressions()]
        kinds = {v.type for v in values if v is not None}
        kinds.discard(Type.UNKNOWN)
        return len(kinds) > 1 and not kinds <= {Type.INTEGER, Type.DECIMAL, Type.FLOAT}
    return False
