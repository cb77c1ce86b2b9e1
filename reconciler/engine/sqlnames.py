"""How the engine names and classifies sqlglot nodes: AWS function names, aggregates, windows.

sqlglot maps many spellings onto one node class (Spark's INSTR and LOCATE both become
``StrPosition``); rules speak AWS's names. This module is the one translation table between the
two, so every check agrees on what a function is called.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["aws_name", "is_aggregate", "is_function", "is_window_function", "selects", "strip"]

#: sqlglot node class -> the AWS name used in rules and in 8.6.4's construct table.
_AWS_NAMES: dict[type[exp.Expr], str] = {
    exp.ApproxDistinct: "APPROX_COUNT_DISTINCT",
    exp.ArrayAgg: "COLLECT_LIST",
    exp.ArrayUniqueAgg: "COLLECT_SET",
    exp.Quantile: "PERCENTILE",
    exp.ApproxQuantile: "APPROX_PERCENTILE",
    exp.Variance: "VAR_SAMP",
    exp.VariancePop: "VAR_POP",
    exp.LogicalAnd: "BOOL_AND",
    exp.LogicalOr: "BOOL_OR",
    exp.ArrayToString: "ARRAY_JOIN",
    exp.TsOrDsToDate: "TO_DATE",
    exp.StrToDate: "TO_DATE",
    exp.StrToTime: "TO_TIMESTAMP",
    exp.TimeToStr: "TO_CHAR",
    exp.Cast: "CAST",
    exp.TryCast: "CAST",
    exp.DateDiff: "DATE_DIFF",
    exp.TimestampTrunc: "DATE_TRUNC",
    exp.DateTrunc: "DATE_TRUNC",
    exp.DayOfMonth: "DAYOFMONTH",
    exp.DayOfWeek: "DAYOFWEEK",
    exp.WeekOfYear: "WEEKOFYEAR",
    exp.DayOfYear: "DAYOFYEAR",
    exp.TsOrDsAdd: "DATEADD",
    exp.JSONExtractScalar: "GET_JSON_OBJECT",
    exp.JSONFormat: "TO_JSON",
    exp.Ceil: "CEILING",
    exp.Pow: "POWER",
    exp.Rand: "RAND",
    exp.ArraySize: "SIZE",
    exp.StrPosition: "POSITION",
    exp.RegexpSplit: "SPLIT",
    exp.Format: "FORMAT_STRING",
    exp.ToBase64: "BASE64",
    exp.FromBase64: "UNBASE64",
    exp.VarMap: "MAP",
    exp.CurrentTimestamp: "GETDATE",
    exp.Length: "LENGTH",
    exp.Substring: "SUBSTRING",
    exp.ArrayDistinct: "ARRAY_DISTINCT",
    exp.Explode: "EXPLODE",
    exp.Trunc: "TRUNC",
}

#: Func subclasses that are operators or syntax, not functions a rule lists.
_NOT_FUNCTIONS: tuple[type[exp.Expr], ...] = (exp.And, exp.Or, exp.Xor, exp.Case, exp.If)


def aws_name(node: exp.Func) -> str:
    """Return the AWS name of a function node (``LTRIM`` for a leading ``Trim``, ``CEILING`` for ``Ceil``)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Trim):
        position = str(node.args.get("position") or "").upper()
        return {"LEADING": "LTRIM", "TRAILING": "RTRIM"}.get(position, "TRIM")
    if isinstance(node, exp.Pad):
        return "LPAD" if node.args.get("is_left") else "RPAD"
    for cls in type(node).__mro__:
        if cls in _AWS_NAMES:
            return _AWS_NAMES[cls]
    return node.sql_name().upper()


def is_function(node: exp.Expr) -> bool:
    """True for a call a rule would list (not AND/OR/CASE/IF, which are syntax)."""
    return isinstance(node, exp.Func) and not isinstance(node, _NOT_FUNCTIONS)


def is_aggregate(node: exp.Expr) -> bool:
    """True for an aggregate function call, windowed or not."""
    return isinstance(node, exp.AggFunc)


def is_window_function(node: exp.Expr) -> bool:
    """True for a function that is the ``this`` of an OVER (...) clause."""
    return isinstance(node, exp.Func) and isinstance(node.parent, exp.Window) and node.arg_key == "this"


def selects(node: exp.Expr) -> list[exp.Expr]:
    """The projections of a query node (its left-most branch for a set operation)."""
    return list(node.selects) if isinstance(node, exp.Query) else []


def strip(node: exp.Expr) -> exp.Expr:
    """Remove aliases and parentheses around an expression."""
    while isinstance(node, (exp.Alias, exp.Paren)):
        node = node.this
    return node
