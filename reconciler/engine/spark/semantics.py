"""Spark semantics on DuckDB: what a SPARK collaboration's query answers, computed by DuckDB.

sqlglot turns Spark's functions into DuckDB's, but DuckDB's answer is not always Spark's: a CAST
to INT rounds instead of truncating, ROUND of a DOUBLE is not half-up on the decimal digits, UPPER
keeps ``ß``, LIKE has no default escape, FLOOR returns a DOUBLE, SQRT of a negative number fails
instead of giving NaN ... ``TRANSLATIONS`` holds one row per sqlglot node class: a function that
returns the DuckDB expression computing Spark's answer (or the node unchanged). ``apply`` runs
it over the canonical tree after suppression and ``safe`` (so TRY wrappers are already in place),
bottom-up; each translation is itself total, or TRY-wrapped, so failing stays impossible on a
value. A few Spark behaviours need code DuckDB has no function for (Java's case mapping, Spark's
string-to-date parsing, half-up rounding of a double's shortest decimal form): they are DuckDB
scalar functions written in Python (``UDFS``), registered on every sealed connection.

``check`` refuses, for SPARK collaborations, what the local engine would answer differently
from Spark and cannot translate: comparisons and arithmetic that depend on Spark's implicit
casts from text, and patterns (RLIKE, SPLIT) that are not constants (Java and RE2 read
regular expressions differently). The differential suite (``tests/engine/spark``) runs every
accepted function on both engines and requires identical answers.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from reconciler.engine.functions import Type
from reconciler.engine.rules import Reason
from reconciler.engine.scopes import Binding, Refuse
from reconciler.engine.values import Value

if TYPE_CHECKING:
    import duckdb  # the check path never opens a connection: validate imports no DuckDB

__all__ = ["TRANSLATIONS", "apply", "check", "macros", "register"]

Translate = Callable[[exp.Expr, "_Types"], exp.Expr]


@dataclass
class _Types:
    """The binder's coarse types of the canonical nodes (None when a rewrite made the node)."""

    binding: Binding
    derived: dict[str, tuple[exp.Select, dict[str, int]]] | None = None

    def of(self, node: exp.Expr | None) -> Type:
        if node is None:
            return Type.UNKNOWN
        value: Value | None = self.binding.value(node)
        if value is not None:
            return value.type
        if isinstance(node, (exp.Cast, exp.TryCast)):
            to = node.args.get("to")
            return _datatype_type(to) if isinstance(to, exp.DataType) else Type.UNKNOWN
        if isinstance(node, exp.Anonymous) and str(node.name).upper() == "TRY" and node.expressions:
            return self.of(node.expressions[0])
        if isinstance(node, exp.Paren):
            return self.of(node.this)
        if isinstance(node, exp.Column) and node.table:
            return self.of(self._lifted(node))
        if isinstance(node, exp.Literal):
            return Type.STRING if node.is_string else Type.INTEGER if node.name.isdigit() else Type.DECIMAL
        return Type.UNKNOWN

    def _lifted(self, column: exp.Column) -> exp.Expr | None:
        """What a column of a derived table the rewrites made (``__agg1.__a0``) stands for."""
        if self.derived is None:  # built once: the rewrites' derived tables do not move
            subs = {s.alias: s for s in self.binding.tree.find_all(exp.Subquery) if s.alias}
            self.derived = {}
            for alias, sub in subs.items():
                if isinstance(sub.this, exp.Select):  # each name's first item, by position
                    positions: dict[str, int] = {}
                    for index, item in enumerate(sub.this.expressions):
                        positions.setdefault(item.alias_or_name, index)
                    self.derived[alias] = (sub.this, positions)
        select, positions = self.derived.get(column.table, (None, {}))
        position = positions.get(column.name)
        if select is None or position is None:
            return None
        item = select.expressions[position]  # read now: the rewrites replace items' expressions in place
        found: exp.Expr = item.this if isinstance(item, exp.Alias) else item
        return found


def _datatype_type(to: exp.DataType) -> Type:
    from reconciler.engine.values import type_of

    return type_of(to.this.name if hasattr(to.this, "name") else str(to.this))


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _try(node: exp.Expr) -> exp.Expr:
    return _call("TRY", node)


def _string(text: str) -> exp.Expr:
    return exp.Literal.string(text)


def _number(value: int | float) -> exp.Expr:
    return exp.Literal.number(value)


def _case(*branches: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Expr:
    case = exp.Case(ifs=[exp.If(this=c, true=t) for c, t in branches])
    if default is not None:
        case.set("default", default)
    return case


def _constant_int(node: exp.Expr | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.name)
        except ValueError:
            return None
    if isinstance(node, exp.Neg):
        inner = _constant_int(node.this)
        return -inner if inner is not None else None
    return None


# -- translations -------------------------------------------------------------------------------
_INTEGRAL = ("TINYINT", "SMALLINT", "INT", "BIGINT")


def _cast(node: exp.Expr, types: _Types) -> exp.Expr:
    """Spark's CAST: truncation to integers, strict text parsing, Spark's text of numbers."""
    to = node.args.get("to")
    if not isinstance(to, exp.DataType):
        return node
    target = to.this.name if hasattr(to.this, "name") else str(to.this)
    source = types.of(node.this)
    value = node.this
    if to.this is exp.DataType.Type.TIMESTAMPTZ:  # Spark's TIMESTAMP: no zone in its values or text
        node.set("to", exp.DataType.build("TIMESTAMP"))
        return node
    if target in _INTEGRAL and source in (Type.FLOAT, Type.DECIMAL):
        return exp.TryCast(this=exp.Trunc(this=value), to=to)  # Spark truncates toward zero
    if target in _INTEGRAL and source is Type.STRING:
        trimmed = exp.Trim(this=value.copy())
        digits = _call("regexp_full_match", trimmed, _string(r"[+-]?[0-9]+"))
        return _case((digits, exp.TryCast(this=trimmed.copy(), to=to)))
    if source is Type.STRING and target in ("DOUBLE", "FLOAT"):
        return exp.TryCast(this=_call("__spark_double", value), to=to)
    if source is Type.STRING and target == "DATE":
        return _call("__spark_date", value)
    if source is Type.STRING and target == "BOOLEAN":
        return _call("__spark_boolean", value)
    if source is Type.FLOAT and target in ("VARCHAR", "TEXT", "CHAR", "NVARCHAR", "NCHAR"):
        return _call("__spark_double_text", value)
    if source is Type.FLOAT and target == "DECIMAL":  # Spark converts the double's shortest text
        return exp.TryCast(this=exp.Cast(this=value, to=exp.DataType.build("VARCHAR")), to=to)
    return node


def _to_date(node: exp.Expr, types: _Types) -> exp.Expr:
    """TO_DATE(text) is Spark's lenient text-to-DATE cast."""
    if node.args.get("format") is None and types.of(node.this) is Type.STRING:
        return _call("__spark_date", node.this)
    return node


def _texts(node: exp.Expr, types: _Types) -> exp.Expr:
    """``||`` and CONCAT write a DOUBLE as Java does (``1.0E10``), not as DuckDB (``10000000000.0``)."""
    for child in list(node.iter_expressions()):
        if types.of(child) is Type.FLOAT:
            holder = exp.Null()
            child.replace(holder)
            holder.replace(_call("__spark_double_text", child))
    return node


def _array_contains(node: exp.Expr, types: _Types) -> exp.Expr:
    """Spark: NULL (not FALSE) when the value is absent and the array holds a NULL."""
    array, value = node.this, node.expression
    has_null = exp.GT(
        this=_call("len", array.copy()),
        expression=_call(
            "len",
            _call(
                "list_filter",
                array.copy(),
                exp.Lambda(
                    this=exp.Not(this=exp.Is(this=exp.column("__x"), expression=exp.Null())),
                    expressions=[exp.to_identifier("__x")],
                ),
            ),
        ),
    )
    return _case(
        (exp.Is(this=value.copy(), expression=exp.Null()), exp.Null()),
        (node, exp.true()),
        (has_null, exp.Null()),
        default=exp.false(),
    )


def _to_json(node: exp.Expr, types: _Types) -> exp.Expr:
    """Spark's TO_JSON leaves out fields that are NULL (``ignoreNullFields``); DuckDB writes them."""
    key = r'"(?:[^"\\]|\\.)*":null'
    dropped = _call("regexp_replace", node, _string(f"{key},?"), _string(""), _string("g"))
    return _call("regexp_replace", dropped, _string(r",([}\]])"), _string(r"\1"), _string("g"))


def _round(node: exp.Expr, types: _Types) -> exp.Expr:
    """ROUND of a DOUBLE rounds half-up on its shortest decimal form, as Spark's BigDecimal does."""
    if types.of(node.this) is not Type.FLOAT:
        return node
    digits = node.args.get("decimals") or _number(0)
    return _call("__spark_round", node.this, digits)


_LONG_MAX, _LONG_MIN = 9223372036854775807, -9223372036854775808


def _to_long(value: exp.Expr) -> exp.Expr:
    """A DOUBLE as Spark's Java ``(long)`` conversion: saturating, NaN is 0."""
    return _case(
        (_call("isnan", value.copy()), _number(0)),
        (exp.GTE(this=value.copy(), expression=_number(9.223372036854775807e18)), _number(_LONG_MAX)),
        (exp.LTE(this=value.copy(), expression=_number(-9.223372036854775808e18)), _number(_LONG_MIN)),
        default=exp.TryCast(this=value, to=exp.DataType.build("BIGINT")),
    )


def _floor_ceil(node: exp.Expr, types: _Types) -> exp.Expr:
    """FLOOR / CEIL of a DOUBLE (no digits) return a BIGINT in Spark."""
    if node.args.get("decimals") is not None:
        return node
    if types.of(node.this) is Type.INTEGER:  # DuckDB's FLOOR of an integer is a DOUBLE
        return exp.TryCast(this=node.this, to=exp.DataType.build("BIGINT"))
    if types.of(node.this) is not Type.FLOAT:
        return node
    return _to_long(node)


def _avg(node: exp.Expr, types: _Types) -> exp.Expr:
    """AVG of integers sums DOUBLEs in Spark (so a huge BIGINT sum loses digits as Spark's does)."""
    if isinstance(node.this, exp.Distinct) or types.of(node.this) is not Type.INTEGER:
        return node
    node.set("this", exp.Cast(this=node.this, to=exp.DataType.build("DOUBLE")))
    return node


_DATE_UNITS = ("DAY", "DAYS", "WEEK", "WEEKS", "MONTH", "MONTHS", "YEAR", "YEARS")


def _date_shift(node: exp.Expr, types: _Types) -> exp.Expr:
    """A DATE plus or minus whole days (months, years) stays a DATE in Spark; DuckDB's is a TIMESTAMP."""
    if isinstance(node, exp.Mul):
        return _product(node, types)
    interval = node.expression
    unit = interval.args.get("unit") if isinstance(interval, exp.Interval) else None
    if types.of(node.this) is Type.DATE and unit is not None and unit.name.upper() in _DATE_UNITS:
        return exp.Cast(this=node, to=exp.DataType.build("DATE"))
    return node


def _split(node: exp.Expr, types: _Types) -> exp.Expr:
    """SPLIT of '' is [''] in Spark (DuckDB: [])."""
    empty = exp.EQ(this=node.this.copy(), expression=_string(""))
    return _case((empty, exp.Array(expressions=[_string("")])), default=node)


def _sign(node: exp.Expr, types: _Types) -> exp.Expr:
    return exp.TryCast(this=node, to=exp.DataType.build("DOUBLE"))


def _like(node: exp.Expr, types: _Types) -> exp.Expr:
    """Spark's LIKE escapes with a backslash unless told otherwise; DuckDB's has no escape."""
    if node.meta.get("escaped"):
        return node
    return exp.Escape(this=node, expression=_string("\\"))


def _case_map(name: str) -> Translate:
    return lambda node, types: _call(name, node.this)


def _pad(node: exp.Expr, types: _Types) -> exp.Expr:
    """LPAD / RPAD: an empty pad or a short length truncates in Spark (DuckDB fails)."""
    length = node.args.get("expression")
    fill = node.args.get("fill_pattern")
    if fill is None:
        return node
    empty = exp.EQ(this=fill.copy(), expression=_string(""))
    cut = (
        exp.Left(this=node.this.copy(), expression=length.copy()) if length is not None else node.this.copy()
    )
    return _case((empty, cut), default=node)


def _left_right(node: exp.Expr, types: _Types) -> exp.Expr:
    """LEFT / RIGHT with a length of 0 or less give '' in Spark."""
    count = _constant_int(node.args.get("expression"))
    if count is not None and count <= 0:
        return exp.If(this=exp.Is(this=node.this, expression=exp.Null()), true=exp.Null(), false=_string(""))
    return node


def _substring(node: exp.Expr, types: _Types) -> exp.Expr:
    """SUBSTRING: position 0 means 1, and a negative length gives '' in Spark."""
    start, length = node.args.get("start"), node.args.get("length")
    if _constant_int(start) == 0:
        node.set("start", _number(1))
    count = _constant_int(length)
    if count is not None and count < 0:
        return exp.If(this=exp.Is(this=node.this, expression=exp.Null()), true=exp.Null(), false=_string(""))
    return node


def _sum(node: exp.Expr, types: _Types) -> exp.Expr:
    """SUM of integers is a BIGINT in Spark (NULL on overflow: ``try_sum``); DuckDB's is HUGEINT."""
    argument = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
    if types.of(argument) is not Type.INTEGER:
        return node
    if node.meta.get("parent") in (exp.Window, exp.Filter):
        return node  # the cast goes around the window or filter (``_window``)
    return exp.TryCast(this=node, to=exp.DataType.build("BIGINT"))


def _window(node: exp.Expr, types: _Types) -> exp.Expr:
    call = node.this
    if isinstance(call, exp.Sum) and types.of(call.this) is Type.INTEGER:
        return exp.TryCast(this=node, to=exp.DataType.build("BIGINT"))
    return node


def _current_timestamp(node: exp.Expr, types: _Types) -> exp.Expr:
    """Spark's TIMESTAMP has no zone in its text; DuckDB's CURRENT_TIMESTAMP is TIMESTAMPTZ."""
    return exp.Cast(this=node, to=exp.DataType.build("TIMESTAMP"))


def _sqrt(node: exp.Expr, types: _Types) -> exp.Expr:
    negative = exp.LT(this=node.this.copy(), expression=_number(0))
    return _case((negative, exp.Cast(this=_string("NaN"), to=exp.DataType.build("DOUBLE"))), default=node)


def _ln(node: exp.Expr, types: _Types) -> exp.Expr:
    """LN (and Spark's one-argument LOG) of 0 or less is NULL in Spark."""
    return _case((exp.LTE(this=node.this.copy(), expression=_number(0)), exp.Null()), default=node)


def _log(node: exp.Expr, types: _Types) -> exp.Expr:
    base, value = node.this, node.args.get("expression")
    if value is None:
        return _ln(exp.Ln(this=base), types)
    bad = exp.or_(
        exp.LTE(this=base.copy(), expression=_number(0)), exp.LTE(this=value.copy(), expression=_number(0))
    )
    return _case((bad, exp.Null()), default=node)


def _domain(low: float, high: float) -> Translate:
    """ACOS / ASIN outside [-1, 1] are NaN in Spark."""

    def translate(node: exp.Expr, types: _Types) -> exp.Expr:
        outside = exp.or_(
            exp.LT(this=node.this.copy(), expression=_number(low)),
            exp.GT(this=node.this.copy(), expression=_number(high)),
        )
        return _case((outside, exp.Cast(this=_string("NaN"), to=exp.DataType.build("DOUBLE"))), default=node)

    return translate


def _product(node: exp.Expr, types: _Types) -> exp.Expr:
    """A DECIMAL product has p1 + p2 + 1 digits in Spark; DuckDB keeps two narrow DECIMALs' product
    in 18 digits and fails beyond, so one operand is widened to 38 digits (its scale kept)."""
    kinds = {types.of(node.this), types.of(node.expression)}
    if Type.DECIMAL not in kinds or Type.FLOAT in kinds:
        return node
    wide = exp.Paren(
        this=exp.Add(
            this=node.this, expression=exp.Cast(this=_number(0), to=exp.DataType.build("DECIMAL(38, 0)"))
        )
    )
    return exp.Mul(this=wide, expression=node.expression)


def _keep(node: exp.Expr, types: _Types) -> exp.Expr:
    return node


#: One row per sqlglot node class: how DuckDB computes Spark's answer (see the module docstring).
TRANSLATIONS: Mapping[type[exp.Expr], Translate] = {
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Round: _round,
    exp.Floor: _floor_ceil,
    exp.Ceil: _floor_ceil,
    exp.Sign: _sign,
    exp.Like: _like,
    exp.Upper: _case_map("__spark_upper"),
    exp.Lower: _case_map("__spark_lower"),
    exp.Pad: _pad,
    exp.Left: _left_right,
    exp.Right: _left_right,
    exp.Substring: _substring,
    exp.Sum: _sum,
    exp.Mul: _product,
    exp.Add: _date_shift,
    exp.Sub: _date_shift,
    exp.Avg: _avg,
    exp.RegexpSplit: _split,
    exp.Window: _window,
    exp.TsOrDsToDate: _to_date,
    exp.DPipe: _texts,
    exp.Concat: _texts,
    exp.ArrayContains: _array_contains,
    exp.JSONFormat: _to_json,
    exp.CurrentTimestamp: _current_timestamp,
    exp.Sqrt: _sqrt,
    exp.Ln: _ln,
    exp.Log: _log,
    exp.Acos: _domain(-1.0, 1.0),
    exp.Asin: _domain(-1.0, 1.0),
}


def apply(binding: Binding) -> None:
    """Rewrite ``binding.tree`` in place so DuckDB computes Spark's answers (bottom-up)."""
    types = _Types(binding)
    root = exp.Subquery(this=binding.tree)
    _visit(root, types)
    binding.tree = root.this


def _visit(root: exp.Expr, types: _Types) -> None:
    """Translate every node below ``root`` children first (one walk finds them, in post-order)."""
    found: list[exp.Expr] = []
    stack = [root]
    while stack:  # pre-order, right child first: reversed, children come before their parents
        node = stack.pop()
        if node is not root and type(node) in TRANSLATIONS:
            found.append(node)
        stack.extend(node.iter_expressions())
    for child in reversed(found):
        translate = TRANSLATIONS[type(child)]
        parent = child.parent
        value = types.binding.value(child)
        child.meta["escaped"] = isinstance(parent, exp.Escape)
        child.meta["parent"] = type(parent)
        placeholder = exp.Null()
        child.replace(placeholder)
        replacement = translate(child, types)
        placeholder.replace(replacement)
        if value is not None and replacement is not child:
            types.binding.values[id(replacement)] = (replacement, value)


# -- Spark's type rules that the local engine enforces ------------------------------------------
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)
_PATTERNS = (exp.RegexpLike, exp.RegexpSplit, exp.RegexpCount, exp.RegexpInstr)
_CAST_SENSITIVE = _COMPARISONS + (exp.In, exp.Between) + _ARITHMETIC
_CHECKED = (
    _CAST_SENSITIVE + _PATTERNS + (exp.StrToDate, exp.StrToTime, exp.TsOrDsToDate, exp.Cast, exp.TryCast)
)


def check(binding: Binding, refuse: Refuse) -> None:
    """Refuse what Spark would answer through an implicit cast or a pattern the engine cannot vouch for.

    Raises:
        QueryRejected: ``disallowed_construct`` with the fragment and how to write it instead.
    """
    kinds: dict[type[exp.Expr], bool] = {}
    for node in binding.tree.walk():
        checked = kinds.get(type(node))
        if checked is None:  # most nodes are none of these: decided once per node type
            checked = kinds[type(node)] = isinstance(node, _CHECKED)
        if not checked:
            continue
        if isinstance(node, _CAST_SENSITIVE):
            _implicit_casts(node, binding, refuse)
        elif isinstance(node, _PATTERNS):
            pattern = node.args.get("expression")
            if not isinstance(pattern, exp.Literal) or not pattern.is_string:
                raise refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    "the local engine runs regular expressions only when the pattern is a constant string "
                    "(Spark's Java patterns and DuckDB's RE2 read some patterns differently); this one is "
                    "not supported by the local engine",
                    node,
                )
            problem = _pattern_problem(pattern.name)
            if problem:
                raise refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"{problem}; not supported by the local engine", node
                )
        elif isinstance(node, (exp.StrToDate, exp.StrToTime, exp.TsOrDsToDate)) and node.args.get("format"):
            raise refuse(
                Reason.DISALLOWED_FUNCTION,
                "a date or time format (Java's patterns) is not run faithfully by the local engine; "
                "not supported by the local engine: parse with TO_DATE(text) or CAST(text AS DATE)",
                node,
            )
        elif isinstance(node, (exp.Cast, exp.TryCast)) and _to_timestamp_from_text(node, binding):
            raise refuse(
                Reason.DISALLOWED_FUNCTION,
                "Spark's text-to-TIMESTAMP parsing (time zones, partial times) is not supported by the "
                "local engine; CAST the text to DATE, or read the column as a TIMESTAMP",
                node,
            )


def _to_timestamp_from_text(node: exp.Expr, binding: Binding) -> bool:
    to = node.args.get("to")
    if not isinstance(to, exp.DataType) or _datatype_type(to) is not Type.TIMESTAMP:
        return False
    value = binding.value(node.this)
    return value is not None and value.type is Type.STRING


def _implicit_casts(node: exp.Expr, binding: Binding, refuse: Refuse) -> None:
    values = [(child, binding.value(child)) for child in node.iter_expressions()]
    known = [(c, v) for c, v in values if v is not None and v.type is not Type.UNKNOWN]
    texts = [(c, v) for c, v in known if v.type is Type.STRING]
    others = [(c, v) for c, v in known if v.type is not Type.STRING and v.type is not Type.BOOLEAN]
    if isinstance(node, _ARITHMETIC) and texts:
        raise refuse(
            Reason.DISALLOWED_CONSTRUCT,
            "arithmetic on text depends on Spark's implicit cast, which the local engine does not "
            "reproduce; CAST the text to a number first",
            node,
        )
    if texts and others and not all(v.constant for _, v in texts):
        raise refuse(
            Reason.DISALLOWED_CONSTRUCT,
            "comparing text with a number or a date depends on Spark's implicit cast, which the local "
            "engine does not reproduce; CAST one side so both have the same type",
            node,
        )
    if isinstance(node, exp.Div):
        kinds = {v.type for _, v in known}
        if Type.DECIMAL in kinds and Type.FLOAT not in kinds:
            raise refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "dividing DECIMAL values gives a DECIMAL of Spark's own precision, which the local engine "
                "does not reproduce; CAST an operand to DOUBLE (or write the constant as 2.0D)",
                node,
            )


_UNSAFE_PATTERN = re.compile(r"\(\?|\\[pPkQEzZAbBGX0-9]|[*+?}]\+|\[\[:|&&")


def _pattern_problem(pattern: str) -> str:
    """Why a constant pattern may mean something else in Java than in RE2 ('' when it cannot)."""
    if _UNSAFE_PATTERN.search(pattern):
        return (
            "this regular expression uses a construct (flags, look-around, back-references, \\p classes, "
            "possessive quantifiers, word boundaries) that Java and RE2 read differently"
        )
    return ""


# -- macros: Spark behaviours DuckDB has no function for, in DuckDB SQL --------------------------
def _upper_macro() -> str:
    """UPPER with Java's full case mapping: the characters whose capital is several letters
    (``ß`` -> ``SS``, ligatures, Greek with iota) are expanded first; DuckDB maps the rest alike."""
    specials = [chr(c) for c in range(sys.maxunicode + 1) if len(chr(c).upper()) > 1]
    replaced = "s"
    for char in specials:
        replaced = f"replace({replaced}, {_sql(char)}, {_sql(char.upper())})"
    pattern = _sql("[" + "".join(specials) + "]")
    return f"CASE WHEN regexp_matches(s, {pattern}) THEN upper({replaced}) ELSE upper(s) END"


#: Case-ignorable characters between a letter and a final capital sigma (Unicode's Final_Sigma).
_IGNORABLE = r"\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}'.:\x{00B7}\x{2019}"
_CASED = r"\p{L}"


def _lower_macro() -> str:
    """LOWER with Java's full case mapping: ``İ`` -> ``i̇`` and a word-final ``Σ`` -> ``ς``."""
    sigma = rf"({_CASED}[{_IGNORABLE}]*)Σ([^{_CASED}{_IGNORABLE}]|$)"
    return f"lower(regexp_replace(replace(s, 'İ', 'i̇'), {_sql(sigma)}, '\\1ς\\2', 'g'))"


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_NUMBER = r"[+-]?([0-9]+[.]?[0-9]*([eE][+-]?[0-9]+)?|[.][0-9]+([eE][+-]?[0-9]+)?)[dDfF]?"
_DATE_PATTERN = r"\s*([+-]?[0-9]{4,7})(-([0-9]{1,2})(-([0-9]{1,2})([ T].*)?)?)?\s*"


@functools.cache
def macros() -> Mapping[str, tuple[str, str]]:
    """DuckDB macros (name -> (parameters, body)); each is total: NULL in, NULL out, never an error.

    Built on first use, not at import: UPPER's scans every code point (0.7 s), and the rule check
    (validate, plan) never opens a connection.
    """
    return {"__spark_upper": ("s", _upper_macro()), **_MACROS}


_MACROS: Mapping[str, tuple[str, str]] = {
    "__spark_lower": ("s", _lower_macro()),
    # ROUND of a DOUBLE: half-up on its shortest decimal text, as Spark's BigDecimal(Double.toString)
    "__spark_round": (
        "x, d",
        "CASE WHEN isnan(x) OR isinf(x) THEN x "
        "WHEN abs(x) < 1e7 THEN CAST(round(CAST(CAST(x AS VARCHAR) AS DECIMAL(38, 30)), d) AS DOUBLE) "
        "WHEN abs(x) < 1e19 THEN CAST(round(CAST(CAST(x AS VARCHAR) AS DECIMAL(38, 18)), d) AS DOUBLE) "
        "ELSE round(x, d) END",
    ),
    # Spark's text to DATE: yyyy, yyyy-[m]m, yyyy-[m]m-[d]d, then anything after a space or T
    "__spark_date": (
        "s",
        f"CASE WHEN regexp_full_match(s, {_sql(_DATE_PATTERN)}) THEN TRY(make_date("
        f"CAST(regexp_extract(s, {_sql(_DATE_PATTERN)}, 1) AS BIGINT), "
        f"CAST(coalesce(nullif(regexp_extract(s, {_sql(_DATE_PATTERN)}, 3), ''), '1') AS BIGINT), "
        f"CAST(coalesce(nullif(regexp_extract(s, {_sql(_DATE_PATTERN)}, 5), ''), '1') AS BIGINT))) END",
    ),
    # Spark's text to DOUBLE: Java's parseDouble forms (a d/f suffix), NaN and Infinity
    "__spark_double": (
        "s",
        "CASE WHEN lower(trim(s)) IN ('nan', '+nan', '-nan') THEN 'NaN'::DOUBLE "
        "WHEN lower(trim(s)) IN ('infinity', '+infinity', 'inf', '+inf') THEN 'inf'::DOUBLE "
        "WHEN lower(trim(s)) IN ('-infinity', '-inf') THEN '-inf'::DOUBLE "
        f"WHEN regexp_full_match(trim(s), {_sql(_NUMBER)}) "
        "THEN TRY_CAST(rtrim(trim(s), 'dDfF') AS DOUBLE) END",
    ),
    "__spark_boolean": (
        "s",
        "CASE WHEN lower(trim(s)) IN ('t', 'true', 'y', 'yes', '1') THEN TRUE "
        "WHEN lower(trim(s)) IN ('f', 'false', 'n', 'no', '0') THEN FALSE END",
    ),
    "__spark_digits": ("d", "left(d, 1) || '.' || coalesce(nullif(substr(d, 2), ''), '0')"),
    "__spark_mantissa": (
        "t",
        "CASE WHEN contains(t, 'e') THEN "
        "(CASE WHEN contains(split_part(t, 'e', 1), '.') THEN split_part(t, 'e', 1) "
        "ELSE split_part(t, 'e', 1) || '.0' END) || 'E' "
        "|| CAST(CAST(split_part(t, 'e', 2) AS INTEGER) AS VARCHAR) "
        "WHEN split_part(t, '.', 1) <> '0' THEN __spark_digits(rtrim(replace(t, '.', ''), '0')) || 'E' "
        "|| CAST(length(split_part(t, '.', 1)) - 1 AS VARCHAR) "
        "ELSE __spark_digits(rtrim(ltrim(split_part(t, '.', 2), '0'), '0')) || 'E' "
        "|| CAST(-(length(split_part(t, '.', 2)) - length(ltrim(split_part(t, '.', 2), '0')) + 1) "
        "AS VARCHAR) END",
    ),
    "__spark_scientific": (
        "x",
        "(CASE WHEN x < 0 THEN '-' ELSE '' END) || __spark_mantissa(CAST(abs(x) AS VARCHAR))",
    ),
    # Java's Double.toString: plain in [1e-3, 1e7), else d.dddE<n>; NaN, Infinity
    "__spark_double_text": (
        "x",
        "CASE WHEN isnan(x) THEN 'NaN' WHEN x = 'inf'::DOUBLE THEN 'Infinity' "
        "WHEN x = '-inf'::DOUBLE THEN '-Infinity' WHEN x = 0 THEN CAST(x AS VARCHAR) "
        "WHEN abs(x) >= 0.001 AND abs(x) < 10000000 THEN CAST(x AS VARCHAR) "
        "ELSE __spark_scientific(x) END",
    ),
}


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``macros()`` on a connection (before its configuration is locked)."""
    for name, (parameters, body) in macros().items():
        con.execute(f"CREATE MACRO {name}({parameters}) AS {body}")
