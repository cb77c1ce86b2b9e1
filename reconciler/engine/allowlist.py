"""The SQL nodes the local engine accepts, as data: one row per sqlglot node class, with its role.

This is the other half of the allow-list of ANALYSIS_RULES.md section 4.1 (item 2); ``functions``
lists the functions. The binder (``bind``) walks every node of a query and looks each one up
here: a class that is not in ``NODES`` is refused (``disallowed_construct``), and so is a node
that sets an argument its row does not list (``Select.windows``, ``Join.match_condition``,
``Table.sample`` ...), so a construct sqlglot learns to parse later is refused until someone
lists it. Exact classes decide, never superclasses.

Roles say how values flow through a node, which is all the checks need to know:

==============  ==========================================================================
role            meaning
==============  ==========================================================================
LITERAL         a constant (string, number, NULL, TRUE/FALSE, interval)
COLUMN          a column reference, resolved to a base column by the binder
FIELD           a struct field access (``s.f``)
ARITHMETIC      ``+ - * / % DIV ||``: combines values; can overflow or divide by zero
NEGATE          unary minus
COMPARISON      ``= <> < <= > >= LIKE RLIKE IN BETWEEN IS ...``: compares, yields a boolean
CONNECTIVE      ``AND OR NOT`` and parentheses: combine booleans, decide nothing themselves
CASE / IF       pick a branch: their conditions are comparisons
CAST            changes type; to BOOLEAN it is a comparison, from text it can fail
LOOKUP          ``m[k]`` / ``a[i]``: a lookup keyed by a value is a comparison of the key
CONSTRUCTOR     ARRAY / STRUCT / MAP literals built from values
FUNCTION        a call: its role comes from ``functions.FUNCTIONS``
WINDOW          ``f() OVER (...)``
SUBQUERY        a query used as a value (scalar, IN, EXISTS)
STAR            ``*`` (expanded by the binder against allowed columns only)
FILTER          ``agg(...) FILTER (WHERE ...)``: its condition is a comparison
==============  ==========================================================================

``controls=False`` marks what AWS does not support once a referenced custom rule sets
aggregation thresholds or comparison controls (8.6.4), plus the engine's own refusals there.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp

__all__ = [
    "CLAUSES",
    "KEYWORDS",
    "NODES",
    "REFUSED",
    "TYPES",
    "Syntax",
    "Role",
    "datatype",
    "keyword",
    "unsupported_args",
]


class Role(enum.StrEnum):
    """How values flow through a node (see the module docstring)."""

    LITERAL = "literal"
    COLUMN = "column"
    FIELD = "field"
    ARITHMETIC = "arithmetic"
    NEGATE = "negate"
    COMPARISON = "comparison"
    CONNECTIVE = "connective"
    CASE = "case"
    IF = "if"
    CAST = "cast"
    LOOKUP = "lookup"
    CONSTRUCTOR = "constructor"
    FUNCTION = "function"
    WINDOW = "window"
    SUBQUERY = "subquery"
    STAR = "star"
    FILTER = "filter"


@dataclass(frozen=True)
class Syntax:
    """One accepted expression node class: its role, the arguments it may set, and words for messages."""

    role: Role
    args: frozenset[str]
    words: str
    controls: bool = True


def _n(role: Role, args: str, words: str, *, controls: bool = True) -> Syntax:
    return Syntax(role, frozenset(args.split()), words, controls)


#: Expression nodes. Function calls (``exp.Func`` subclasses and ``Anonymous``) are looked up in
#: ``functions.FUNCTIONS`` instead; the classes here are syntax.
NODES: Mapping[type[exp.Expr], Syntax] = {
    exp.Literal: _n(Role.LITERAL, "this is_string", "a literal"),
    exp.Null: _n(Role.LITERAL, "", "NULL"),
    exp.Boolean: _n(Role.LITERAL, "this", "TRUE / FALSE"),
    exp.Interval: _n(Role.LITERAL, "this unit", "an INTERVAL"),
    exp.Column: _n(Role.COLUMN, "this table", "a column"),
    exp.Dot: _n(Role.FIELD, "this expression", "a struct field"),
    exp.Add: _n(Role.ARITHMETIC, "this expression", "+"),
    exp.Sub: _n(Role.ARITHMETIC, "this expression", "-"),
    exp.Mul: _n(Role.ARITHMETIC, "this expression", "*"),
    exp.Div: _n(Role.ARITHMETIC, "this expression typed safe", "/"),
    exp.IntDiv: _n(Role.ARITHMETIC, "this expression", "DIV"),
    exp.Mod: _n(Role.ARITHMETIC, "this expression", "%"),
    exp.DPipe: _n(Role.ARITHMETIC, "this expression safe", "|| (concatenation)"),
    exp.Neg: _n(Role.NEGATE, "this", "unary -"),
    exp.EQ: _n(Role.COMPARISON, "this expression", "="),
    exp.NEQ: _n(Role.COMPARISON, "this expression", "<>"),
    exp.GT: _n(Role.COMPARISON, "this expression", ">"),
    exp.GTE: _n(Role.COMPARISON, "this expression", ">="),
    exp.LT: _n(Role.COMPARISON, "this expression", "<"),
    exp.LTE: _n(Role.COMPARISON, "this expression", "<="),
    exp.NullSafeNEQ: _n(Role.COMPARISON, "this expression", "IS DISTINCT FROM"),
    exp.NullSafeEQ: _n(Role.COMPARISON, "this expression", "<=> / IS NOT DISTINCT FROM", controls=False),
    exp.Like: _n(Role.COMPARISON, "this expression escape", "LIKE"),
    exp.ILike: _n(Role.COMPARISON, "this expression escape", "ILIKE", controls=False),
    exp.RegexpLike: _n(Role.COMPARISON, "this expression", "RLIKE"),
    exp.In: _n(Role.COMPARISON, "this expressions query", "IN"),
    exp.Between: _n(Role.COMPARISON, "this low high", "BETWEEN"),
    exp.Is: _n(Role.COMPARISON, "this expression", "IS"),
    exp.And: _n(Role.CONNECTIVE, "this expression", "AND"),
    exp.Or: _n(Role.CONNECTIVE, "this expression", "OR"),
    exp.Not: _n(Role.CONNECTIVE, "this", "NOT"),
    exp.Paren: _n(Role.CONNECTIVE, "this", "parentheses"),
    exp.Case: _n(Role.CASE, "this ifs default", "CASE"),
    exp.If: _n(Role.IF, "this true false", "IF / WHEN"),
    exp.Cast: _n(Role.CAST, "this to _type", "CAST"),
    exp.TryCast: _n(Role.CAST, "this to _type", "CAST"),
    exp.Bracket: _n(Role.LOOKUP, "this expressions offset safe", "a [] lookup"),
    exp.Array: _n(Role.CONSTRUCTOR, "expressions bracket_notation", "ARRAY"),
    exp.Struct: _n(Role.CONSTRUCTOR, "expressions", "STRUCT"),
    exp.VarMap: _n(Role.CONSTRUCTOR, "keys values", "MAP"),
    exp.Window: _n(Role.WINDOW, "this partition_by order spec over", "a window function"),
    exp.Subquery: _n(Role.SUBQUERY, "this", "a subquery used as a value", controls=False),
    exp.Exists: _n(Role.SUBQUERY, "this", "EXISTS", controls=False),
    exp.Star: _n(Role.STAR, "except_", "SELECT * / COUNT(*)"),
    exp.Filter: _n(Role.FILTER, "this expression", "an aggregate FILTER clause", controls=False),
}

#: The keyword settings a query may write where a function takes a unit or field (EXTRACT(YEAR ...),
#: INTERVAL '1' DAY, DATEADD(month, ...)). sqlglot renders a keyword (``exp.Var``) as written, so a
#: keyword that is not on this list could carry SQL text into the statement DuckDB runs.
KEYWORDS = frozenset(
    (
        "YEAR YEARS Y YY YYY YYYY YR YRS QUARTER QUARTERS QTR QTRS Q MONTH MONTHS MON MONS MM "
        "WEEK WEEKS W WK WKS DAY DAYS D DD DAYOFWEEK DOW DW WEEKDAY DAYOFYEAR DOY HOUR HOURS H HH HR HRS "
        "MINUTE MINUTES M MI MIN MINS SECOND SECONDS S SEC SECS MILLISECOND MILLISECONDS MS MSEC MSECS "
        "MICROSECOND MICROSECONDS US USEC USECS EPOCH ISOWEEK ISODOW ISOYEAR DECADE CENTURY MILLENNIUM "
        "TIMEZONE_HOUR TIMEZONE_MINUTE"
    ).split()
)

#: The types a CAST may name (sqlglot's names); a nested type may only nest these.
TYPES = frozenset(
    (
        "BOOLEAN TINYINT SMALLINT INT BIGINT INT128 UTINYINT USMALLINT UINT UBIGINT FLOAT DOUBLE DECIMAL "
        "CHAR NCHAR VARCHAR NVARCHAR TEXT BINARY VARBINARY DATE DATETIME TIMESTAMP TIMESTAMPTZ "
        "TIMESTAMPLTZ TIMESTAMPNTZ TIME INTERVAL ARRAY MAP STRUCT"
    ).split()
)


def keyword(node: exp.Expr) -> bool:
    """True for a keyword setting on ``KEYWORDS`` (plain letters, nothing else)."""
    return isinstance(node, exp.Var) and node.name.upper() in KEYWORDS


def datatype(node: exp.Expr) -> bool:
    """True for a type built only of ``TYPES`` (with numeric parameters and named struct fields)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.DataType):
            if current.this.name not in TYPES:
                return False
        elif isinstance(current, exp.DataTypeParam):
            if not (isinstance(current.this, exp.Literal) and current.this.name.isdigit()):
                return False
            continue
        elif isinstance(current, exp.ColumnDef):
            if not isinstance(current.this, exp.Identifier) or not isinstance(
                current.args.get("kind"), exp.DataType
            ):
                return False
            stack.append(current.args["kind"])
            continue
        else:
            return False
        stack.extend(current.expressions)
    return True


#: Constructs refused by name, for a clearer message than "not supported": DuckDB's dynamic column
#: selections reach columns no check sees by name; lambdas run expressions per element.
REFUSED: Mapping[type[exp.Expr], str] = {
    exp.Columns: "columns must be named: a pattern, positional or whole-row column selection is refused",
    exp.PositionalColumn: "columns must be named: a positional column (#1) is refused",
    exp.StarMap: "columns must be named: a whole-row STRUCT(*) is refused",
    exp.TableColumn: "columns must be named: a whole-row table reference is refused",
    exp.Pseudocolumn: "pseudocolumns are refused",
    exp.Lambda: "lambda functions (x -> ...) are not supported by the local engine",
    exp.Placeholder: "a parameter has no value",
    exp.Parameter: "positional parameters cannot be bound; an analysis template names its parameters (:name)",
}

#: What each query-level node may set. ``hint`` is accepted and dropped (Spark's join hints change
#: how, not what, a query computes); everything else not listed is refused by name.
CLAUSES: Mapping[type[exp.Expr], frozenset[str]] = {
    exp.Select: frozenset(
        "with_ expressions hint distinct from_ laterals joins where group having qualify order limit offset"
        "".split()
    ),
    exp.Union: frozenset("with_ this expression distinct order limit offset".split()),
    exp.Except: frozenset("with_ this expression distinct order limit offset".split()),
    exp.Intersect: frozenset("with_ this expression distinct order limit offset".split()),
    exp.Subquery: frozenset("this alias".split()),
    exp.Join: frozenset("this on side kind using method hint".split()),
    exp.Table: frozenset("this alias pivots".split()),
    exp.Values: frozenset("expressions alias".split()),
    exp.Unnest: frozenset("expressions alias".split()),
    exp.Lateral: frozenset("this view outer alias".split()),
    exp.Group: frozenset("expressions grouping_sets cube rollup".split()),
    exp.Ordered: frozenset("this desc nulls_first".split()),
    exp.Distinct: frozenset("expressions".split()),
    exp.With: frozenset("expressions recursive".split()),
    exp.CTE: frozenset("this alias".split()),
    exp.WindowSpec: frozenset("kind start start_side end end_side".split()),
    exp.Limit: frozenset("this expression".split()),
    exp.Offset: frozenset("this expression".split()),
}


def unsupported_args(node: exp.Expr, allowed: frozenset[str]) -> list[str]:
    """The arguments ``node`` sets that ``allowed`` does not list (empty lists and False do not count)."""
    found = []
    for key, value in node.args.items():
        if key in allowed or value is None or value is False or value == []:
            continue
        found.append(key)
    return found
