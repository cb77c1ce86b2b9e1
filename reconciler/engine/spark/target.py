"""The checked query as Spark SQL that never fails on a row's value, for ``--engine spark``.

The canonical tree ``safe`` wrote for DuckDB marks every operation that can fail on a value with
``TRY(...)`` (a DuckDB function). Spark has no general TRY, so each operation inside one is
written in the form Spark offers that yields NULL instead of an ANSI error: ``try_add`` for ``+``,
``TRY_CAST`` for a cast, ``try_to_date`` for ``TO_DATE`` and so on (``NONFAILING``, one row per
node class). An operation that can fail in Spark and has no such form makes the query
unsupported on Spark (``SparkUnsupported``), never a query that may fail on a suppressed row.

Outside TRY, what Spark's ANSI mode fails on and DuckDB does not is also written safely: a
``[]`` lookup becomes ``get`` / ``try_element_at`` (DuckDB answers NULL out of bounds), and SUM /
AVG become ``try_sum`` / ``try_avg`` (an aggregate cannot be TRY-wrapped; Spark fails on an
overflow of a BIGINT sum, which then tells about the group's rows). This module writes text
only; ``session`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp
from sqlglot.errors import ErrorLevel

from reconciler.engine.functions import Type
from reconciler.engine.scopes import Binding

__all__ = ["NONFAILING", "SparkUnsupported", "render"]


class SparkUnsupported(Exception):
    """A checked query that Spark cannot run without failing on some row's value (``--engine spark``).

    Internal: ``enforce.check`` keeps the message on ``Prepared.spark_refusal``, and ``--engine
    spark`` refuses the query with it (the default engine still runs it)."""


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _same_type_zero(value: exp.Expr) -> exp.Expr:
    """``x - x``: a zero of x's own type (so ``try_subtract`` keeps the type and its overflow)."""
    return exp.Sub(this=value.copy(), expression=value.copy())


def _negate(node: exp.Expr) -> exp.Expr:
    return _call("try_subtract", _same_type_zero(node.this), node.this)


def _abs(node: exp.Expr) -> exp.Expr:
    value = node.this
    negated = _call("try_subtract", _same_type_zero(value), value.copy())
    return exp.If(this=exp.LT(this=value.copy(), expression=exp.Literal.number(0)), true=negated, false=value)


def _int_div(node: exp.Expr) -> exp.Expr:
    left, right = node.this, node.expression
    bad = exp.or_(
        exp.EQ(this=right.copy(), expression=exp.Literal.number(0)),
        exp.and_(
            exp.EQ(this=right.copy(), expression=exp.Literal.number(-1)),
            exp.EQ(this=left.copy(), expression=exp.Literal.number(-(2**63))),
        ),
    )
    return exp.If(this=bad, true=exp.Null(), false=exp.IntDiv(this=left, expression=right))


def _map(node: exp.Expr) -> exp.Expr:
    """A MAP fails on a NULL or repeated key: NULL instead, as DuckDB's TRY answers."""
    keys = list(node.args["keys"].expressions)
    checks: list[exp.Expr] = [exp.Is(this=k.copy(), expression=exp.Null()) for k in keys]
    checks += [exp.EQ(this=a.copy(), expression=b.copy()) for i, a in enumerate(keys) for b in keys[i + 1 :]]
    if not checks:
        return node
    return exp.If(this=exp.or_(*checks), true=exp.Null(), false=node)


def _binary(name: str) -> Callable[[exp.Expr], exp.Expr]:
    return lambda node: _call(name, node.this, node.expression)


def _unary(name: str) -> Callable[[exp.Expr], exp.Expr]:
    return lambda node: _call(name, node.this)


def _try_cast(node: exp.Expr) -> exp.Expr:
    return exp.TryCast(this=node.this, to=node.args["to"], safe=True)


def _to_date(node: exp.Expr) -> exp.Expr:
    fmt = node.args.get("format")
    return _call("try_to_date", node.this, *([fmt] if fmt is not None else []))


def _to_timestamp(node: exp.Expr) -> exp.Expr:
    fmt = node.args.get("format")
    return _call("try_to_timestamp", node.this, *([fmt] if fmt is not None else []))


def _keep(node: exp.Expr) -> exp.Expr:
    return node


#: The DuckDB list functions ``suppress`` writes for thresholds over nested queries, by Spark name.
LIST_FUNCTIONS: Mapping[str, str] = {
    "list_distinct": "array_distinct",
    "len": "size",
    "list_concat": "concat",
    "flatten": "flatten",
}


#: Inside a TRY: the Spark form of each operation that yields NULL where ANSI mode fails. A class
#: mapped to ``_keep`` cannot fail in Spark on a value (a NULL, NaN or infinity at worst), or only
#: on a constant setting (a bad pattern, unit or charset), which fails whatever the rows hold.
NONFAILING: Mapping[type[exp.Expr], Callable[[exp.Expr], exp.Expr]] = {
    exp.Add: _binary("try_add"),
    exp.Sub: _binary("try_subtract"),
    exp.Mul: _binary("try_multiply"),
    exp.Div: _binary("try_divide"),
    exp.Mod: _binary("try_mod"),
    exp.IntDiv: _int_div,
    exp.Neg: _negate,
    exp.Abs: _abs,
    exp.Cast: _try_cast,
    exp.TryCast: _keep,
    exp.TsOrDsToDate: _to_date,
    exp.StrToDate: _to_date,
    exp.StrToTime: _to_timestamp,
    exp.VarMap: _map,
    # NULL, NaN or infinity, never an error:
    **{
        cls: _keep
        for cls in (
            exp.Ln,
            exp.Log,
            exp.Sqrt,
            exp.Exp,
            exp.Pow,
            exp.Acos,
            exp.Asin,
            exp.Cot,
            exp.Round,
            exp.Ceil,
            exp.Floor,
            exp.JSONExtractScalar,
            exp.Unhex,
            exp.Hex,
            exp.Pad,
            exp.StrPosition,
            exp.Replace,
            exp.Translate,
            exp.Trim,
            exp.SplitPart,
            exp.Nullif,
            exp.Greatest,
            exp.Least,
            exp.DateDiff,
            exp.TimestampTrunc,
            exp.Day,
            exp.DayOfMonth,
            exp.DayOfYear,
            exp.Hour,
            exp.Minute,
            exp.Month,
            exp.Second,
            exp.WeekOfYear,
            exp.Year,
            exp.Extract,
            exp.Sign,
            exp.RegexpLike,
            exp.RegexpSplit,
            exp.RegexpCount,
            exp.RegexpInstr,
            exp.ArrayContains,
            exp.ArrayIntersect,
            exp.ArraySort,
            exp.DecodeCase,
            exp.Decode,
            exp.DPipe,
            exp.Bracket,
            exp.Case,
            exp.If,
            exp.Like,
            exp.ILike,
        )
    },  # fmt: skip
}

#: Nodes that never fail on their own (values, connectives, comparisons of one type).
_INERT = (
    exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Identifier, exp.DataType, exp.DataTypeParam,
    exp.Paren, exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is,
    exp.In, exp.Between, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Interval, exp.Var, exp.Array, exp.Struct,
    exp.PropertyEQ, exp.Dot, exp.Ordered, exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot,
    exp.JSONPathSubscript, exp.Distinct, exp.Alias, exp.Star,
)  # fmt: skip


def render(binding: Binding) -> str:
    """The canonical tree (after suppression and ``safe``) as Spark SQL; the tree is not changed.

    Raises:
        SparkUnsupported: an operation that can fail in Spark has no non-failing form.
    """
    tree = binding.copy_of(binding.tree)
    root = exp.Subquery(this=tree)  # a parent, so that the root itself can be replaced
    for node in list(tree.walk()):
        if _is_try(node):
            node.replace(_nonfailing(node.expressions[0], binding))
    for node in list(root.walk()):
        if isinstance(node, exp.Anonymous) and str(node.name).lower() in LIST_FUNCTIONS:
            node.set("this", LIST_FUNCTIONS[str(node.name).lower()])
        if isinstance(node, exp.Bracket):
            node.replace(_lookup(node, binding))
        elif isinstance(node, (exp.Sum, exp.Avg)):
            name = "try_sum" if isinstance(node, exp.Sum) else "try_avg"
            arg = node.this
            if isinstance(arg, exp.Distinct):
                continue  # SUM(DISTINCT x): Spark has no try_sum(DISTINCT ...); see _distinct_sums
            node.replace(_call(name, arg))
    _distinct_sums(root)
    for cast in root.find_all(exp.TryCast):
        cast.set("safe", True)  # sqlglot writes Spark's TRY_CAST only for a "safe" cast
    text: str = root.this.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE, copy=False)
    return text


def _distinct_sums(root: exp.Expr) -> None:
    for node in root.find_all(exp.Sum, exp.Avg):
        if isinstance(node.this, exp.Distinct):
            raise SparkUnsupported(
                "SUM / AVG (DISTINCT ...) can fail on an overflow in Spark; it is not supported by "
                "--engine spark (the default engine runs it)"
            )


def _is_try(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.name).upper() == "TRY" and len(node.expressions) == 1


def _nonfailing(node: exp.Expr, binding: Binding) -> exp.Expr:
    """Rewrite every operation under ``node`` (bottom-up) into its non-failing Spark form."""
    for child in list(node.iter_expressions()):
        child.replace(_nonfailing(child, binding))
    if isinstance(node, exp.Bracket):
        return _lookup(node, binding)
    if isinstance(node, _INERT) or (isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)):
        return node  # a negative constant cannot fail (and ROUND(x, -1) needs it foldable)
    if _is_try(node):
        return _nonfailing(node.expressions[0], binding)
    if isinstance(node, exp.Round) and isinstance(node.args.get("decimals"), exp.Neg):
        value = binding.value(node.this)
        if value is None or value.type is not Type.FLOAT:
            raise SparkUnsupported(
                "ROUND of a number that is not a DOUBLE to a negative number of digits fails on an "
                "overflow in Spark; it is not supported by --engine spark (the default engine runs it)"
            )
    translate = NONFAILING.get(type(node))
    if translate is None:
        words = node.sql_name() if isinstance(node, exp.Func) else type(node).__name__
        raise SparkUnsupported(
            f"{words.upper()} can fail on a value in Spark and has no non-failing form; it is not supported "
            "by --engine spark (the default engine runs it)"
        )
    return translate(node)


def _lookup(node: exp.Expr, binding: Binding) -> exp.Expr:
    """``a[i]`` / ``m[k]`` as Spark's lookups that answer NULL when nothing is there."""
    assert isinstance(node, exp.Bracket)
    container = binding.value(node.this)
    keys = node.expressions
    if len(keys) != 1:
        raise SparkUnsupported("a [] lookup with several keys is not supported by --engine spark")
    key = keys[0]
    inner = node.this.args.get("false") if isinstance(node.this, exp.If) else node.this  # ``_map``
    if (container is not None and container.type is Type.MAP) or isinstance(inner, (exp.VarMap, exp.Map)):
        return _call("try_element_at", node.this, key)
    # An array index as sqlglot keeps it: 0-based for Spark text unless ``offset`` says otherwise.
    if node.args.get("offset"):
        return _call("try_element_at", node.this, key)
    return _call("get", node.this, key)
