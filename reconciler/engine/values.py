"""What the binder knows about every value of a query: where it comes from, and what it was compared with.

A ``Value`` describes one expression of a bound query in terms of base columns — (configured
table, column) pairs — never in terms of the names the query gave them. Every check reads
Values: disallowed output columns read ``reads``, comparison controls read ``Comparison``
records built from ``tested``, COLUMNS_ONLY reads ``direct``, threshold overrides read
``reads``, and differential privacy reads ``direct`` to find the user identifier.

A ``Comparison`` is recorded wherever a value can decide which rows or groups exist or which
branch is taken (ANALYSIS_RULES.md 4.1 item 3): comparison operators and predicates, conditions
of WHERE / ON / HAVING / QUALIFY / CASE / IF / FILTER, boolean casts, comparing functions,
lookups keyed by a value, sort keys under a LIMIT, and branching functions (division, ABS,
ROUND, a CAST from text ...) of a row's value that then feed a group, a join, a decision or an
aggregate. ``classify`` turns the operands of one such position into the columns compared with
a literal and the columns compared with another column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlglot import exp

from reconciler.engine.functions import Type

__all__ = [
    "BaseColumn",
    "Comparison",
    "Origin",
    "Value",
    "classify",
    "combine",
    "constant",
    "type_of",
]

#: (association name, column name): a column of a configured table.
BaseColumn = tuple[str, str]
#: (reference number, column name): a column of one place the query reads a configured table.
Origin = tuple[int, str]


@dataclass(frozen=True)
class Value:
    """Provenance of one expression.

    Attributes:
        reads: every base column whose values flow into this value (aggregated or not).
        tested: ``reads`` minus columns only counted (``COUNT(x)``, ``COUNT(DISTINCT x)``): a
            count reveals no value, so it compares nothing (8.6.5).
        direct: when the value IS a base column, renamed at most: the origins it passes through
            (one, or one per branch of a set operation); empty when transformed.
        branched: columns that went through a branching operation (see ``functions``) while
            still row values; such a value decides something if it is grouped, joined, tested
            or aggregated.
        constant: no column and no row feeds it (a literal, a template parameter, a column of
            an inline VALUES table, CURRENT_DATE): comparing with it is a literal comparison.
        literal: a constant other than NULL / TRUE / FALSE was mixed in as data (``x - 5``).
        nullish: the value is the literal NULL, TRUE or FALSE.
        nulls_like: NULL exactly when a base column is NULL (a direct column, or MIN / MAX /
            SUM / AVG / COUNT of one): a NULL test of it is the documented exemption.
        leaves: how many column inputs meet in it, capped at 2 (2: two values are combined).
        aggregated: computed by an aggregate (a summary of rows, here or below).
        type: the coarse type, as far as it is known.
    """

    reads: frozenset[BaseColumn] = frozenset()
    tested: frozenset[BaseColumn] = frozenset()
    direct: frozenset[Origin] = frozenset()
    branched: frozenset[BaseColumn] = frozenset()
    constant: bool = False
    literal: bool = False
    nullish: bool = False
    nulls_like: bool = False
    leaves: int = 0
    aggregated: bool = False
    type: Type = Type.UNKNOWN

    def typed(self, kind: Type) -> Value:
        """The same provenance with another type."""
        return self if kind is self.type else changed(self, type=kind)


_VALUE_FIELDS = frozenset(Value.__dataclass_fields__)


def changed(value: Value, **changes: object) -> Value:
    """``dataclasses.replace(value, **changes)``, four times faster: the binder makes one for most nodes.

    >>> changed(Value(leaves=1), leaves=2) == Value(leaves=2)
    True
    """
    unknown = changes.keys() - _VALUE_FIELDS
    if unknown:
        raise TypeError(f"Value has no fields {sorted(unknown)}")
    new = object.__new__(Value)  # a frozen dataclass without __post_init__: its fields are its __dict__
    new.__dict__.update(value.__dict__)
    new.__dict__.update(changes)
    return new


def constant(kind: Type = Type.UNKNOWN, *, nullish: bool = False) -> Value:
    """A constant value (a literal, a parameter, a VALUES column)."""
    return Value(constant=True, literal=not nullish, nullish=nullish, type=kind)


def combine(operands: Sequence[Value], kind: Type = Type.SAME, *, branches: bool = False) -> Value:
    """The provenance of a value computed from ``operands`` (a function, an operator).

    Args:
        operands: the values of the data arguments (settings such as SUBSTRING's position excluded).
        kind: the result type (``SAME``: the first operand's).
        branches: the operation is branching (the result tells on which side of a constant the
            input lies): every row-level column it reads becomes ``branched``.
    """
    if not operands:
        return Value(constant=True, type=Type.UNKNOWN if kind is Type.SAME else kind)
    reads = _union([o.reads for o in operands])
    tested = _union([o.tested for o in operands])
    branched = _union([o.branched for o in operands])
    if branches:
        branched = _union([branched, tested])
    all_constant = all(o.constant for o in operands)
    mixed = any(o.literal for o in operands) or (
        not all_constant and any(o.constant and not o.nullish for o in operands)
    )
    return Value(
        reads=reads,
        tested=tested,
        branched=branched,
        constant=all_constant,
        literal=mixed,
        leaves=min(2, sum(o.leaves for o in operands)),
        aggregated=any(o.aggregated for o in operands),
        type=operands[0].type if kind is Type.SAME else kind,
    )


_T = TypeVar("_T")


def _union(sets: list[frozenset[_T]]) -> frozenset[_T]:
    """The union of ``sets``, sharing one of them when the others add nothing (fewer new objects)."""
    present = [found for found in sets if found]
    if not present:
        return frozenset()
    first = present[0]
    if all(found is first or found <= first for found in present[1:]):
        return first
    return first.union(*present[1:])


@dataclass(frozen=True)
class Comparison:
    """One place where values decide rows, groups or branches, and the columns it compares.

    Attributes:
        node: the SQL that compares (for the refusal's fragment).
        literal: base columns compared with a literal or constant.
        column: base columns compared with another column.
        operands: the compared values (for type checks of identity joins).
        what: words for messages (``"a literal comparison"``, ``"ABS of a row's value"``).
        branch: a branching operation's value that feeds a group, a join or an aggregate (judged
            after COLUMNS_ONLY, whose message says more for an aggregate argument).
    """

    node: exp.Expr
    literal: frozenset[BaseColumn] = frozenset()
    column: frozenset[BaseColumn] = frozenset()
    operands: tuple[Value, ...] = field(default=(), compare=False)
    what: str = ""
    branch: bool = False


def classify(
    node: exp.Expr, operands: Sequence[Value], *, null_test: bool = False, what: str = ""
) -> Comparison:
    """Which columns one comparison position compares with a literal, and which with another column.

    Two column inputs meeting make a column comparison of both; a constant operand, a literal
    mixed into an operand, or a single column input (tested against an implicit constant, as in
    ``WHERE flag`` or ``SIGN(x)``) make a literal comparison of every column read. A NULL /
    boolean test of a value that is NULL exactly when a base column is (``x IS NULL``,
    ``COALESCE(x, ...)``, ``flag = TRUE``) is exempt, as the guide's reading allows (8.6.5).

    Args:
        node: the SQL of the position.
        operands: the values compared.
        null_test: the position only tests the operands for NULL / TRUE / FALSE.
        what: words for messages.
    """
    columns = frozenset().union(*(o.tested for o in operands)) if operands else frozenset()
    if not columns:
        return Comparison(node, operands=tuple(operands), what=what)
    tested = [o for o in operands if o.tested]
    exempt_test = null_test or (
        any(o.nullish for o in operands) and all(o.nullish or o.tested for o in operands)
    )
    if exempt_test and all(o.nulls_like for o in tested):
        return Comparison(node, operands=tuple(operands), what=what)
    leaves = sum(o.leaves for o in operands)
    literal = (
        any(o.constant and not o.nullish for o in operands)
        or any(o.literal for o in operands)
        or leaves < 2
        or (exempt_test and not all(o.nulls_like for o in tested))
    )
    column = leaves >= 2
    return Comparison(
        node,
        literal=columns if literal else frozenset(),
        column=columns if column else frozenset(),
        operands=tuple(operands),
        what=what,
    )


def union(values: Iterable[Value]) -> Value:
    """Positional merge of the same output column across branches of a set operation."""
    items = list(values)
    merged = combine(items)
    direct = frozenset().union(*(v.direct for v in items)) if all(v.direct for v in items) else frozenset()
    return changed(
        merged,
        direct=direct,
        nulls_like=all(v.nulls_like for v in items),
        aggregated=any(v.aggregated for v in items),
        leaves=max(v.leaves for v in items) if items else 0,
        literal=any(v.literal for v in items),
        constant=all(v.constant for v in items),
    )


_TYPE_WORDS: tuple[tuple[str, Type], ...] = (
    (r"^(var)?char|^string|^text|^bpchar|^character", Type.STRING),  # not UUID or ENUM: they cast
    (r"^decimal|^numeric", Type.DECIMAL),
    (r"int|^long|^short|^byte", Type.INTEGER),
    (r"^double|^float|^real", Type.FLOAT),
    (r"^bool", Type.BOOLEAN),
    (r"^date$", Type.DATE),
    (r"^timestamp|^datetime|^time", Type.TIMESTAMP),
    (r"^blob|^binary|^bytea|^varbinary|^varbyte", Type.BINARY),
    (r"\[\]$|^list|^array", Type.ARRAY),
    (r"^map", Type.MAP),
    (r"^struct|^row", Type.STRUCT),
)


def type_of(name: str) -> Type:
    """The coarse type of a SQL type name (DuckDB's, Spark's or Redshift's spelling); UNKNOWN if ''."""
    text = name.strip().lower()
    if not text:
        return Type.UNKNOWN
    for pattern, kind in _TYPE_WORDS:
        if re.search(pattern, text):
            return kind
    return Type.UNKNOWN
