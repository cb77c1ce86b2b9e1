"""Analysis templates: typed parameters with defaults, bound so a value can never change the query.

A template's text holds ``:name`` placeholders. sqlglot parses each into a ``Placeholder`` node;
``bind`` replaces that node with one typed literal node (a string literal, a number, a boolean,
or ``CAST('...' AS DATE)``). The value is never pasted into SQL text, so ``east' OR '1'='1`` is
one string literal that matches nothing, and ``1; DROP TABLE t`` is not a number.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from reconciler.engine.facts import Request
from reconciler.engine.rules import Reason
from reconciler.engine.verdict import refuse
from reconciler.errors import QueryRejected

__all__ = ["Parameter", "Template", "bind", "literal", "request_for", "resolve"]

_INTEGER = {"SMALLINT", "INTEGER", "BIGINT", "INT", "LONG", "SHORT", "TINYINT"}
_DECIMAL = {"DECIMAL", "NUMERIC", "REAL", "DOUBLE_PRECISION", "DOUBLE", "FLOAT"}
_STRING = {"CHAR", "VARCHAR", "CHARACTER", "STRING"}
_TEMPORAL = {
    "DATE": ("DATE", dt.date.fromisoformat),
    "TIMESTAMP": ("TIMESTAMP", dt.datetime.fromisoformat),
    "TIMESTAMP_NTZ": ("TIMESTAMP", dt.datetime.fromisoformat),
    "TIMESTAMPTZ": ("TIMESTAMPTZ", dt.datetime.fromisoformat),
    "TIMESTAMP_LTZ": ("TIMESTAMPTZ", dt.datetime.fromisoformat),
    "TIME": ("TIME", dt.time.fromisoformat),
    "TIMETZ": ("TIMETZ", dt.time.fromisoformat),
}


@dataclass(frozen=True)
class Parameter:
    """One ``analysisParameters`` entry: name, AWS type, optional default value (as text)."""

    name: str
    type: str
    default: str | None = None


@dataclass(frozen=True)
class Template:
    """An analysis template: its SQL text and typed parameters (``CreateAnalysisTemplate``)."""

    name: str
    sql: str
    parameters: Sequence[Parameter] = ()
    arn: str = ""
    creator: str = ""


def _refuse(message: str, fragment: str = "") -> QueryRejected:
    return refuse(Reason.OTHER, message, fragment)


def resolve(template: Template, given: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Merge given values with defaults; every parameter ends with a (type, value) pair.

    Args:
        template: the template being run.
        given: parameter values from the runner, as text.

    Returns:
        name -> (AWS type, value text).

    Raises:
        QueryRejected: an unknown parameter, or a parameter with neither value nor default.
    """
    declared = {p.name: p for p in template.parameters}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise _refuse(
            f"template {template.name!r} has no parameter {unknown[0]!r}; it has {sorted(declared)}"
        )
    values: dict[str, tuple[str, str]] = {}
    for p in template.parameters:
        value = given.get(p.name, p.default)
        if value is None:
            raise _refuse(
                f"template {template.name!r} needs a value for parameter {p.name!r} (it has no default)"
            )
        values[p.name] = (p.type.upper(), str(value))
    return values


def literal(type_: str, value: str, name: str = "") -> exp.Expr:
    """Return one literal node of AWS type ``type_`` holding ``value``.

    Raises:
        QueryRejected: the value is not of that type (``12x`` for INTEGER, ``2024-13-01`` for DATE).
    """
    kind = type_.upper()
    try:
        if kind in _INTEGER:
            return exp.Literal.number(int(value.strip()))
        if kind in _DECIMAL:
            number = decimal.Decimal(value.strip())
            if not number.is_finite():  # NaN / Infinity would be written into the SQL as names
                raise ValueError(value)
            return exp.Literal.number(str(number))
        if kind == "BOOLEAN":
            truth = {"true": True, "false": False}[value.strip().lower()]
            return exp.Boolean(this=truth)
        if kind in _TEMPORAL:
            sql_type, parse = _TEMPORAL[kind]
            parse(value.strip())
            return exp.cast(exp.Literal.string(value.strip()), sql_type)
    except (ValueError, KeyError, decimal.InvalidOperation):
        raise _refuse(f"parameter {name!r} value {value!r} is not a valid {kind}", value) from None
    if kind in _STRING:
        return exp.Literal.string(value)
    raise _refuse(f"parameter {name!r} has type {kind}, which the local engine cannot bind", value)


def bind(tree: exp.Expr, values: Mapping[str, tuple[str, str]]) -> exp.Expr:
    """Replace every ``:name`` placeholder in ``tree`` with its typed literal (in place).

    Raises:
        QueryRejected: a placeholder without a value (including any placeholder in direct SQL).
    """
    for node in list(tree.find_all(exp.Placeholder)):
        name = str(node.name)
        if name not in values:
            raise _refuse(f"parameter :{name} has no value", node.sql())
        node.replace(literal(*values[name], name=name))
    return tree


def request_for(
    template: Template, querier: str, given: Mapping[str, str], *, receivers: Sequence[str] = ()
) -> Request:
    """The Request for running ``template`` with ``given`` parameter values.

    Raises:
        QueryRejected: an unknown parameter or a missing value (reason ``other``).
    """
    return Request(
        querier=querier,
        sql=template.sql,
        receivers=tuple(receivers),
        template_arn=template.arn,
        template_creator=template.creator,
        parameters=resolve(template, given),
    )
