"""Binding expressions: one handler per node role, each returning the node's ``Value``.

``Expressions.bind(node, at)`` visits every node of an expression exactly once: it looks the node
up in the allow-list (``allowlist.NODES`` for syntax, ``functions.lookup`` for calls), refuses
what is not listed or sets an unlisted argument, rewrites column references into their canonical
form (the query binder resolves them), records a ``Comparison`` at every position where a value
decides rows, groups or branches, and returns the Value. Nothing in an expression is skipped, so
a construct the engine does not understand cannot carry data past the checks.

``At`` says where an expression stands (clause, inside an aggregate, in a boolean position);
the query binder (``bind``) owns scopes and column resolution and passes itself in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from reconciler.engine.allowlist import NODES, REFUSED, Role, datatype, keyword, unsupported_args
from reconciler.engine.functions import MAX_AMPLIFY, Function, FunctionKind, Type, lookup
from reconciler.engine.rules import Reason
from reconciler.engine.values import Comparison, Value, changed, classify, combine, constant, type_of

if TYPE_CHECKING:
    from reconciler.engine.bind import Binder
    from reconciler.engine.scopes import QueryScope

__all__ = ["At", "Expressions"]

#: Clauses in which a value decides which rows or groups exist.
DECIDING = frozenset({"where", "on", "having", "qualify", "filter"})
#: Clauses whose values are grouping keys (equality grouping is not a comparison; a branched value is).
GROUPING = frozenset({"group", "partition", "distinct"})

_CONSTANT_ARGS = (exp.Literal, exp.Null, exp.Boolean, exp.Var, exp.DataType, exp.Interval)
_INTEGERS = (Type.INTEGER,)


@dataclass(frozen=True)
class At:
    """Where an expression stands.

    Attributes:
        scope: the SELECT it belongs to.
        clause: ``select``, ``where``, ``on``, ``group``, ``having``, ``qualify``, ``order``,
            ``partition``, ``window_order``, ``filter``, ``limit``, ``values``, ``distinct``.
        aggregate: inside an aggregate call (a nested aggregate is refused).
        boolean: the value is used as a condition (WHERE x, NOT x, AND/OR operands).
    """

    scope: QueryScope
    clause: str
    aggregate: bool = False
    boolean: bool = False

    def inside(
        self, *, clause: str | None = None, aggregate: bool | None = None, boolean: bool | None = None
    ) -> At:
        """The same position with some fields changed (itself when nothing changes)."""
        moved = At(
            self.scope,
            self.clause if clause is None else clause,
            self.aggregate if aggregate is None else aggregate,
            self.boolean if boolean is None else boolean,
        )
        return self if moved == self else moved


class Expressions:
    """The expression half of the binder (see the module docstring)."""

    def __init__(self, binder: Binder) -> None:
        self.binder = binder

    # -- dispatch ---------------------------------------------------------------------------------
    def bind(self, node: exp.Expr, at: At) -> Value:
        """Bind ``node`` (rewriting it in place) and return its Value."""
        self.binder.count(node)
        refused = REFUSED.get(type(node))
        if refused is not None:
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, refused, node)
        if isinstance(node, exp.Func) and type(node) not in NODES:
            value = self._function(node, at)
        else:
            spec = NODES.get(type(node))
            if spec is None:
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"{_words(node)} is not supported by the local engine", node
                )
            if not spec.controls:
                self.binder.finding(
                    Reason.DISALLOWED_CONSTRUCT,
                    f"{spec.words} is not supported with aggregation thresholds or comparison controls",
                    node,
                )
            extra = unsupported_args(node, spec.args)
            if extra:
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    f"{spec.words} with {', '.join(extra)} is not supported",
                    node,
                )
            value = getattr(self, f"_{spec.role.value}")(node, at)
        if at.boolean and not _is_boolean(node):
            self.record(classify(node, [value], null_test=value.type is Type.BOOLEAN, what="a condition"))
        self.binder.remember(node, value)
        return value

    def record(self, comparison: Comparison) -> None:
        """Keep a comparison position for the rule checks."""
        if comparison.literal or comparison.column:
            self.binder.comparisons.append(comparison)

    def consequential(self, value: Value, node: exp.Expr, what: str) -> None:
        """A value that groups, joins or feeds an aggregate: branched columns in it are compared."""
        if value.branched:
            self.record(
                Comparison(
                    node,
                    literal=value.branched,
                    operands=(value,),
                    what=f"a branching value in {what}",
                    branch=True,
                )
            )

    # -- roles ------------------------------------------------------------------------------------
    def _literal(self, node: exp.Expr, at: At) -> Value:
        if isinstance(node, exp.Null):
            return constant(nullish=True)
        if isinstance(node, exp.Boolean):
            return constant(Type.BOOLEAN, nullish=True)
        if isinstance(node, exp.Interval):
            unit = node.args.get("unit")
            if not isinstance(node.this, exp.Literal) or (unit is not None and not keyword(unit)):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "an INTERVAL takes a constant and a time unit keyword", node
                )
            return constant()
        assert isinstance(node, exp.Literal)
        if node.is_string:
            return constant(Type.STRING)
        return constant(Type.INTEGER if node.name.lstrip("-").isdigit() else Type.DECIMAL)

    def _column(self, node: exp.Expr, at: At) -> Value:
        assert isinstance(node, exp.Column)
        return self.binder.resolve(node, at)

    def _field(self, node: exp.Expr, at: At) -> Value:
        if not isinstance(node.expression, exp.Identifier):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "a struct field is named by an identifier", node
            )
        inner = self.bind(node.this, at.inside(boolean=False))
        return changed(inner, direct=frozenset(), type=Type.UNKNOWN)

    def _arithmetic(self, node: exp.Expr, at: At) -> Value:
        inner = at.inside(boolean=False)
        left, right = self.bind(node.this, inner), self.bind(node.expression, inner)
        if isinstance(node, exp.DPipe):
            return combine([left, right], Type.STRING)
        kind = _arithmetic_type(node, left.type, right.type)
        return combine([left, right], kind, branches=not (left.constant and right.constant))

    def _negate(self, node: exp.Expr, at: At) -> Value:
        return changed(self.bind(node.this, at.inside(boolean=False)), direct=frozenset())

    def _comparison(self, node: exp.Expr, at: At) -> Value:
        inner = at.inside(boolean=False)
        operands: list[Value] = [self.bind(node.this, inner)]
        null_test = False
        if isinstance(node, exp.In):
            operands += [self.bind(item, inner) for item in node.expressions]
            query = node.args.get("query")
            if query is not None:
                operands.append(self._query_value(query, at))
        elif isinstance(node, exp.Between):
            operands += [self.bind(node.args["low"], inner), self.bind(node.args["high"], inner)]
        else:
            operands.append(self.bind(node.expression, inner))
            null_test = isinstance(node, exp.Is)
            escape = node.args.get("escape")
            if escape is not None and not isinstance(escape, exp.Literal):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "an ESCAPE character must be a literal", node
                )
        self.record(classify(node, operands, null_test=null_test, what="a comparison"))
        return changed(combine(operands, Type.BOOLEAN), nulls_like=False)

    def _connective(self, node: exp.Expr, at: At) -> Value:
        if isinstance(node, exp.Paren):
            return self.bind(node.this, at)
        inner = at.inside(boolean=True)
        operands = [self.bind(child, inner) for child in node.iter_expressions()]
        return changed(combine(operands, Type.BOOLEAN), nulls_like=False)

    def _case(self, node: exp.Expr, at: At) -> Value:
        inner = at.inside(boolean=False)
        operands: list[Value] = []
        subject = node.this
        subject_value = self.bind(subject, inner) if subject is not None else None
        for branch in node.args.get("ifs") or []:
            if not isinstance(branch, exp.If) or unsupported_args(branch, frozenset({"this", "true"})):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "a CASE branch is WHEN ... THEN ...", branch
                )
            if subject_value is not None:
                when = self.bind(branch.this, inner)
                self.record(classify(branch, [subject_value, when], what="a CASE WHEN"))
                operands += [subject_value, when]
            else:
                operands.append(self.bind(branch.this, at.inside(boolean=True)))
            operands.append(self.bind(branch.args["true"], inner))
        if node.args.get("default") is not None:
            operands.append(self.bind(node.args["default"], inner))
        return changed(combine(operands, Type.UNKNOWN), nulls_like=False)

    def _if(self, node: exp.Expr, at: At) -> Value:
        condition = self.bind(node.this, at.inside(boolean=True))
        inner = at.inside(boolean=False)
        branches = [self.bind(node.args[k], inner) for k in ("true", "false") if node.args.get(k) is not None]
        return changed(
            combine([condition, *branches], branches[0].type if branches else Type.UNKNOWN), nulls_like=False
        )

    def _cast(self, node: exp.Expr, at: At) -> Value:
        to = node.args.get("to")
        if not isinstance(to, exp.DataType) or not datatype(to):
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "CAST takes a plain SQL type", node)
        operand = self.bind(node.this, at.inside(boolean=False))
        target = _datatype(to)
        if target is Type.BOOLEAN:
            self.record(classify(node, [operand], what="a cast to BOOLEAN"))
            return changed(combine([operand], Type.BOOLEAN), nulls_like=False)
        total = _total_cast(operand.type, target)
        result = combine([operand], target, branches=not total and not operand.constant)
        keep = operand.nulls_like and total
        return changed(
            result, direct=operand.direct if keep and target is operand.type else frozenset(), nulls_like=keep
        )

    def _lookup(self, node: exp.Expr, at: At) -> Value:
        inner = at.inside(boolean=False)
        container = self.bind(node.this, inner)
        keys = [self.bind(key, inner) for key in node.expressions]
        # Whether m[k] finds something compares k with the container's keys (or an index with its
        # length), whichever side is the constant: MAP(zip, 1)['10001'] tests zip = '10001'.
        self.record(classify(node, [container, *keys], what="a lookup by key or index"))
        return changed(combine([container, *keys], Type.UNKNOWN, branches=True), direct=frozenset())

    def _constructor(self, node: exp.Expr, at: At) -> Value:
        inner = at.inside(boolean=False)
        items: list[Value] = []
        for child in _constructor_items(node):
            if isinstance(child, (exp.PropertyEQ, exp.Alias)):
                if not isinstance(child.this, exp.Identifier) and not isinstance(child, exp.Alias):
                    raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "a STRUCT field is named", child)
                items.append(
                    self.bind(child.expression if isinstance(child, exp.PropertyEQ) else child.this, inner)
                )
            elif isinstance(child, exp.Star):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    "columns must be named: a whole-row STRUCT(*) is refused",
                    node,
                )
            else:
                items.append(self.bind(child, inner))
        kinds: dict[type[exp.Expr], Type] = {exp.Array: Type.ARRAY, exp.Struct: Type.STRUCT}
        kind = kinds.get(type(node), Type.MAP)
        if isinstance(node, exp.VarMap):
            keys = items[: len(node.args["keys"].expressions)]
            if len(keys) > 1:  # a MAP fails on duplicate keys: its keys are compared with each other
                self.record(classify(node, keys, what="the keys of a MAP"))
            return changed(combine(items, kind, branches=len(keys) > 1), nulls_like=False)
        return changed(combine(items, kind), nulls_like=False)

    def _window(self, node: exp.Expr, at: At) -> Value:
        assert isinstance(node, exp.Window)
        if at.aggregate or at.clause not in ("select", "order", "qualify", "window"):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "window functions belong in the SELECT list, ORDER BY or QUALIFY",
                node,
            )
        call = node.this
        if not isinstance(call, exp.Func) or isinstance(call, exp.Window):
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "OVER applies to a function call", node)
        function = self._listed(call)
        if function.kind not in (FunctionKind.AGGREGATE, FunctionKind.WINDOW):
            raise self.binder.refuse(
                Reason.DISALLOWED_FUNCTION, f"{function.name} is not a window or aggregate function", call
            )
        self.binder.window_calls.append((call, at.scope))
        # Window arguments and keys are evaluated per row of the SELECT's input, or per group of
        # an aggregated SELECT (RANK() OVER (ORDER BY COUNT(*))), so aggregates may appear in them.
        inner = at.inside(clause="window", boolean=False)
        parts: list[Value] = [self._call(call, function, inner)]
        for key in node.args.get("partition_by") or []:
            value = self.bind(key, inner)
            self.consequential(value, key, "a window PARTITION BY key")
            parts.append(value)
        order = node.args.get("order")
        if order is not None:
            parts += self.order_keys(order, inner)
        spec = node.args.get("spec")
        if spec is not None:
            self._frame(spec)
        at.scope.windowed = True
        return changed(combine(parts, parts[0].type), aggregated=False, nulls_like=False)

    def _subquery(self, node: exp.Expr, at: At) -> Value:
        if isinstance(node, exp.Exists):
            value = self._query_value(node.this, at, single=False)
            return changed(value, type=Type.BOOLEAN, direct=frozenset(), nulls_like=False)
        return self._query_value(node.this, at)

    def _star(self, node: exp.Expr, at: At) -> Value:
        raise self.binder.refuse(
            Reason.DISALLOWED_CONSTRUCT,
            "columns must be named: * is allowed only as the SELECT list or inside COUNT(*)",
            node.parent or node,
        )

    def _filter(self, node: exp.Expr, at: At) -> Value:
        where = node.expression
        if not isinstance(where, exp.Where) or not isinstance(node.this, exp.AggFunc):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "FILTER (WHERE ...) follows an aggregate", node
            )
        condition = self.bind(where.this, at.inside(clause="filter", boolean=True, aggregate=True))
        value = self.bind(node.this, at)
        return changed(combine([value, condition], value.type), aggregated=True, nulls_like=False)

    # -- calls ------------------------------------------------------------------------------------
    def _listed(self, node: exp.Func) -> Function:
        function = lookup(node)
        name = _call_name(node)
        if function is None:
            raise self.binder.refuse(
                Reason.DISALLOWED_FUNCTION, f"function {name} is not supported by the local engine", node
            )
        if self.binder.dialect_key not in function.dialects:
            raise self.binder.refuse(
                Reason.DISALLOWED_FUNCTION,
                f"function {function.name} is not available in {self.binder.engine_words}",
                node,
            )
        if not function.controls:
            self.binder.finding(
                Reason.DISALLOWED_FUNCTION,
                f"function {function.name} is not supported with aggregation thresholds or "
                "comparison controls",
                node,
            )
        return function

    def _function(self, node: exp.Func, at: At) -> Value:
        function = self._listed(node)
        if function.kind is FunctionKind.WINDOW:
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, f"{function.name} needs an OVER (...) clause", node
            )
        if function.kind is FunctionKind.AGGREGATE:
            if at.aggregate:
                raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "aggregates cannot be nested", node)
            if at.clause not in ("select", "having", "order", "qualify", "window"):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"an aggregate cannot be used in {at.clause.upper()}", node
                )
            at.scope.aggregated = True
            self.binder.aggregate_calls.append((node, at.scope))
            value = self._call(node, function, at.inside(aggregate=True, boolean=False))
            return changed(value, aggregated=True)
        if function.kind is FunctionKind.GENERATOR:
            if at.clause != "select" or not isinstance(node.parent, (exp.Select, exp.Alias)):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"{function.name} must be a whole SELECT item", node
                )
            at.scope.generators += 1
        return self._call(node, function, at.inside(boolean=False))

    def _call(self, node: exp.Func, function: Function, at: At) -> Value:
        """Bind a call's arguments by role; the Value of the call."""
        data: list[tuple[exp.Expr, Value]] = []
        anonymous = isinstance(node, exp.Anonymous)
        for key, child in _arguments(node):
            position = key if not anonymous else key.rpartition(".")[2]
            if position in function.params or position in function.amplifies:
                self._setting(node, function, child, at, amplifies=position in function.amplifies)
                continue
            if isinstance(child, exp.Star):
                if not function.counts:
                    raise self.binder.refuse(
                        Reason.DISALLOWED_CONSTRUCT,
                        "columns must be named: * is allowed only in COUNT(*)",
                        node,
                    )
                continue
            if isinstance(child, exp.Distinct):
                if function.kind is not FunctionKind.AGGREGATE or unsupported_args(
                    child, frozenset({"expressions"})
                ):
                    raise self.binder.refuse(
                        Reason.DISALLOWED_CONSTRUCT, "DISTINCT belongs inside an aggregate", node
                    )
                data += [(item, self.bind(item, at)) for item in child.expressions]
                continue
            if isinstance(child, (exp.Var, exp.DataType, exp.JSONPath)):
                self._setting(node, function, child, at, amplifies=False)  # a unit, a type, a JSON path
                continue
            data.append((child, self.bind(child, at)))
        values = [v for _, v in data]
        if (
            function.kind in (FunctionKind.AGGREGATE, FunctionKind.GENERATOR)
            or function.kind is FunctionKind.WINDOW
        ):
            for child, value in data:
                self.consequential(value, child, f"the argument of {function.name}")
        if function.compares:
            self.record(classify(node, values, what=f"{function.name}"))
        if function.null_tests and values:
            for child, value in data[:-1] if len(data) > 1 else data:
                self.record(classify(child, [value], null_test=True, what=f"{function.name}'s NULL test"))
        value = combine(
            values, function.result, branches=function.branches and not all(v.constant for v in values)
        )
        if not function.deterministic or function.kind is not FunctionKind.SCALAR:
            value = changed(value, constant=False)  # a count or a rank depends on the rows, not on literals
        if function.counts:
            counted = (
                frozenset().union(*(v.tested for v in values if not v.direct)) if values else frozenset()
            )
            value = changed(value, tested=counted, literal=False, branched=value.branched, nulls_like=False)
        elif function.kind is FunctionKind.AGGREGATE:
            value = changed(value, nulls_like=bool(values) and all(v.nulls_like for v in values))
            self._no_overflow(node, function, data)
        return value

    def _no_overflow(self, node: exp.Func, function: Function, data: list[tuple[exp.Expr, Value]]) -> None:
        """SUM / AVG of a DECIMAL wider than 18 digits can overflow DuckDB's accumulator, and an
        aggregate cannot be made non-failing: whether the query failed would tell about the rows."""
        if function.name not in ("SUM", "AVG"):
            return
        for child, _value in data:
            declared = self.binder.declared_type(child)
            if declared is not None and declared.this.name == "DECIMAL" and _precision(declared) > 18:
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    f"{function.name} of a DECIMAL with more than 18 digits can overflow in the local "
                    "engine; CAST the column to DOUBLE (or a narrower DECIMAL) first",
                    node,
                )

    def _setting(
        self, node: exp.Func, function: Function, child: exp.Expr, at: At, *, amplifies: bool
    ) -> None:
        """A setting argument must be a constant (an amplifying one, a small number)."""
        if isinstance(child, exp.Var):
            allowed = function.units.get(self.binder.dialect_key)
            if not keyword(child):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    f"{function.name} takes a date or time unit keyword here",
                    node,
                )
            if allowed is not None and child.name.upper() not in allowed:
                raise self.binder.refuse(
                    Reason.DISALLOWED_FUNCTION,
                    f"{function.name}({child.name.upper()} ...) is not run faithfully by the local engine; "
                    f"use one of {', '.join(sorted(allowed))}",
                    node,
                )
            return  # a keyword (YEAR, MONTH)
        if isinstance(child, exp.DataType) and datatype(child):
            return  # a type
        if isinstance(child, exp.JSONPath):
            return  # a JSON path parsed from a constant string
        value = self.bind(child, at.inside(clause="settings", boolean=False))
        if not value.constant:
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                f"this argument of {function.name} is a setting and must be a constant",
                node,
            )
        if amplifies:
            number = _number(child)
            if number is None or number > MAX_AMPLIFY:
                raise self.binder.refuse(
                    Reason.OTHER,
                    f"{function.name} may make values at most {MAX_AMPLIFY:,} long in the local engine",
                    node,
                )

    def _frame(self, spec: exp.Expr) -> None:
        extra = unsupported_args(spec, frozenset({"kind", "start", "start_side", "end", "end_side"}))
        if extra or not isinstance(spec, exp.WindowSpec):
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "this window frame is not supported", spec)
        for key in ("start", "end"):
            bound = spec.args.get(key)
            if isinstance(bound, exp.Expr) and not isinstance(bound, exp.Literal):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "a window frame bound is a constant", spec
                )

    # -- shared pieces ----------------------------------------------------------------------------
    def order_keys(self, order: exp.Expr, at: At) -> list[Value]:
        """Bind the keys of an ORDER BY (of a SELECT or of a window); their Values."""
        if not isinstance(order, exp.Order) or unsupported_args(order, frozenset({"expressions"})):
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "this ORDER BY is not supported", order)
        values = []
        for ordered in order.expressions:
            if not isinstance(ordered, exp.Ordered) or unsupported_args(
                ordered, frozenset({"this", "desc", "nulls_first"})
            ):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "this ORDER BY key is not supported", ordered
                )
            values.append(self.bind(ordered.this, at))
        return values

    def _query_value(self, query: exp.Expr, at: At, *, single: bool = True) -> Value:
        scope = self.binder.expression_query(query, at)
        if single and len(scope.outs) != 1:
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "a subquery used as a value returns one column", query
            )
        values = [out.value for out in scope.outs]
        return changed(combine(values, values[0].type if single else Type.BOOLEAN), direct=frozenset())


# -- helpers ------------------------------------------------------------------------------------------
def _arguments(node: exp.Func) -> Iterator[tuple[str, exp.Expr]]:
    """(key, child) for every expression argument of a call; list items as ``key.index``."""
    for key, value in node.args.items():
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, exp.Expr):
                    yield f"{key}.{index}", item
        elif isinstance(value, exp.Expr):
            yield key, value


def _constructor_items(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.VarMap):
        return [*node.args["keys"].expressions, *node.args["values"].expressions]
    return list(node.expressions)


def _is_boolean(node: exp.Expr) -> bool:
    """True for nodes that produce a boolean themselves (their own handler records the comparison)."""
    spec = NODES.get(type(node))
    if spec is not None and spec.role in (Role.COMPARISON, Role.CONNECTIVE):
        return True
    if isinstance(node, (exp.Cast, exp.TryCast)):
        to = node.args.get("to")
        return isinstance(to, exp.DataType) and _datatype(to) is Type.BOOLEAN
    return isinstance(node, exp.Exists)


def _call_name(node: exp.Func) -> str:
    return str(node.name).upper() if isinstance(node, exp.Anonymous) else node.sql_name().upper()


def _words(node: exp.Expr) -> str:
    return type(node).__name__.upper() if not isinstance(node, exp.Func) else _call_name(node)


def _precision(datatype: exp.DataType) -> int:
    params = datatype.expressions
    if params and isinstance(params[0], exp.DataTypeParam) and params[0].this.name.isdigit():
        return int(params[0].this.name)
    return 18  # DuckDB's default DECIMAL is DECIMAL(18, 3)


def _number(node: exp.Expr) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(float(node.name))
        except ValueError:
            return None
    return None


def _datatype(node: exp.DataType) -> Type:
    return type_of(node.this.name if hasattr(node.this, "name") else str(node.this))


#: Casts that can never fail or lose anything that tells about the input: (from, to).
_TOTAL_CASTS = frozenset(
    {
        (Type.INTEGER, Type.FLOAT),
        (Type.INTEGER, Type.DECIMAL),
        (Type.INTEGER, Type.INTEGER),
        (Type.FLOAT, Type.FLOAT),
        (Type.DECIMAL, Type.FLOAT),
        (Type.DATE, Type.TIMESTAMP),
        (Type.DATE, Type.DATE),
        (Type.TIMESTAMP, Type.TIMESTAMP),
        (Type.BOOLEAN, Type.INTEGER),
        (Type.STRING, Type.STRING),
        (Type.BINARY, Type.BINARY),
    }
)


def _total_cast(source: Type, target: Type) -> bool:
    """True when a CAST cannot fail or jump for any input of type ``source`` (to text always)."""
    return target is Type.STRING or (source, target) in _TOTAL_CASTS


def _arithmetic_type(node: exp.Expr, left: Type, right: Type) -> Type:
    if isinstance(node, exp.Div):
        return Type.FLOAT if Type.DECIMAL not in (left, right) else Type.DECIMAL
    if left is Type.FLOAT or right is Type.FLOAT:
        return Type.FLOAT
    if left is Type.DECIMAL or right is Type.DECIMAL:
        return Type.DECIMAL
    if left in _INTEGERS and right in _INTEGERS:
        return Type.INTEGER
    if Type.DATE in (left, right) or Type.TIMESTAMP in (left, right):
        return left if left in (Type.DATE, Type.TIMESTAMP) else right
    return Type.UNKNOWN
