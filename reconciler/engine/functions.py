"""The SQL functions the local engine accepts, as data: one row per function, with its role.

This is half of the allow-list of ANALYSIS_RULES.md section 4.1 (item 2); ``allowlist`` holds the
other half (expression and clause node types). A function that is not in ``FUNCTIONS`` is refused
(``disallowed_function``) whatever the rule type, and one that is listed is accepted only in the
dialects AWS documents it for (``dialects``) and, when a referenced custom rule sets aggregation
thresholds or comparison controls, only if ``controls`` says AWS lists it in the construct table
of those controls (8.6.4).

The role columns are what the checks read; none of them depends on the function's name:

- ``kind``: SCALAR, AGGREGATE, WINDOW (window-only: ROW_NUMBER, LAG ...) or GENERATOR (a
  function that makes rows: EXPLODE).
- ``compares``: the function compares its data arguments with each other or with its constants
  (LIKE-like matching, GREATEST, ARRAY_CONTAINS, TRIM's characters, SIGN against 0). Wherever it
  appears, it is a comparison of the columns it reads (4.1 item 3).
- ``branches``: its result jumps, or is undefined, at some input values: it fails or yields NULL,
  NaN or infinity for some inputs (LN, UNBASE64, a CAST from text), or it is piecewise (ABS,
  FLOOR, ROUND). The local engine never lets it fail (errors are not answers, item 6), so its
  value tells on which side of a constant its input lies: a branching function of a row's
  column that then decides rows, groups or joins, or feeds an aggregate, is a literal comparison
  of that column. Applied to a final output value it only formats it.
- ``counts``: it reveals only how many values there are (COUNT, APPROX_COUNT_DISTINCT): a plain
  column inside it is not compared with anything (8.6.5).
- ``null_tests``: it tests its data arguments but the last for NULL (COALESCE, NVL, NVL2): the
  documented exemption when they are plain columns, a comparison otherwise.
- ``params``: arguments that are settings, not data (SUBSTRING's position and length, ROUND's
  digits, DATE_TRUNC's unit), named by sqlglot argument key (``"start"``, ``"decimals"``) or,
  for a call sqlglot leaves ``Anonymous``, by 0-based position (``"1"``). They must be
  constants; a constant there is not a literal comparison.
- ``amplifies``: arguments (named as ``params``) that scale the size of the result (REPEAT's
  count, LPAD's length). They must be constants no larger than ``MAX_AMPLIFY`` (item 7).
- ``result``: the coarse type of the result (``SAME`` = the type of the first data argument).
- ``deterministic``: False for RAND / UUID (a lateral alias to one is not inlined).

``nodes`` are the sqlglot expression classes that the function parses to (several AWS names can
parse to one class: INSTR and LOCATE are ``StrPosition``); ``names`` are the spellings that
sqlglot leaves as ``Anonymous`` calls. Lookups go through ``lookup(node)``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp

__all__ = [
    "FUNCTIONS",
    "MAX_AMPLIFY",
    "Function",
    "FunctionKind",
    "Type",
    "lookup",
]

#: Largest constant a size-scaling argument (REPEAT count, LPAD length) may take.
MAX_AMPLIFY = 10_000


class FunctionKind(enum.StrEnum):
    """What a function does to rows."""

    SCALAR = "scalar"
    AGGREGATE = "aggregate"
    WINDOW = "window"
    GENERATOR = "generator"


class Type(enum.StrEnum):
    """Coarse value types: enough to tell text from numbers, dates and booleans."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BINARY = "binary"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"
    SAME = "same"
    UNKNOWN = "unknown"


SPARK = "spark"
CLEAN_ROOMS_SQL = "clean_rooms_sql"
BOTH = frozenset({SPARK, CLEAN_ROOMS_SQL})
ONLY_SPARK = frozenset({SPARK})
ONLY_CLEAN_ROOMS_SQL = frozenset({CLEAN_ROOMS_SQL})


@dataclass(frozen=True)
class Function:
    """One accepted SQL function and its role (see the module docstring for each field)."""

    name: str
    kind: FunctionKind
    nodes: tuple[type[exp.Expr], ...] = ()
    names: tuple[str, ...] = ()
    dialects: frozenset[str] = BOTH
    controls: bool = False
    compares: bool = False
    branches: bool = False
    counts: bool = False
    null_tests: bool = False
    params: tuple[str, ...] = ()
    amplifies: tuple[str, ...] = ()
    result: Type = Type.SAME
    deterministic: bool = True


S, A, W, G = FunctionKind.SCALAR, FunctionKind.AGGREGATE, FunctionKind.WINDOW, FunctionKind.GENERATOR
T = Type

#: Every function the engine accepts. Grouped as the AWS SQL references group them.
FUNCTIONS: tuple[Function, ...] = (
    # -- aggregate -------------------------------------------------------------------------------
    Function("COUNT", A, (exp.Count,), controls=True, counts=True, result=T.INTEGER),
    Function("SUM", A, (exp.Sum,), controls=True),
    Function("AVG", A, (exp.Avg,), controls=True, result=T.FLOAT),
    Function("MIN", A, (exp.Min,), controls=True),
    Function("MAX", A, (exp.Max,), controls=True),
    # -- math ------------------------------------------------------------------------------------
    Function("ABS", S, (exp.Abs,), controls=True, branches=True),
    Function("ROUND", S, (exp.Round,), controls=True, branches=True, params=("decimals",)),
    Function("SIGN", S, (exp.Sign,), dialects=ONLY_SPARK, controls=True, compares=True, result=T.INTEGER),
    Function("LN", S, (exp.Ln,), controls=True, branches=True, result=T.FLOAT),
    # -- string ----------------------------------------------------------------------------------
    Function("LOWER", S, (exp.Lower,), controls=True, result=T.STRING),
    Function("UPPER", S, (exp.Upper,), controls=True, result=T.STRING),
    Function("SUBSTRING", S, (exp.Substring,), controls=True, params=("start", "length"), result=T.STRING),
    Function(
        "REPEAT", S, (exp.Repeat,), dialects=ONLY_SPARK, controls=True, amplifies=("times",), result=T.STRING
    ),
    Function("POSITION", S, (exp.StrPosition,), controls=True, compares=True, result=T.INTEGER),
    Function("CARDINALITY", S, names=("CARDINALITY",), dialects=ONLY_SPARK, controls=True, result=T.INTEGER),
    # -- hash ------------------------------------------------------------------------------------
    Function("MD5", S, (exp.MD5,), controls=True, result=T.STRING),
    # -- conditional -----------------------------------------------------------------------------
    Function("COALESCE", S, (exp.Coalesce,), controls=True, null_tests=True),
    Function("GREATEST", S, (exp.Greatest,), dialects=ONLY_SPARK, controls=True, compares=True),
    # -- window ----------------------------------------------------------------------------------
    Function("ROW_NUMBER", W, (exp.RowNumber,), dialects=ONLY_SPARK, controls=True, result=T.INTEGER),
    # -- generator -------------------------------------------------------------------------------
    Function("EXPLODE", G, (exp.Explode,), dialects=ONLY_SPARK, controls=True),
)


def _index() -> tuple[Mapping[type[exp.Expr], Function], Mapping[str, Function]]:
    by_node: dict[type[exp.Expr], Function] = {}
    by_name: dict[str, Function] = {}
    for function in FUNCTIONS:
        for node in function.nodes:
            if node in by_node:
                raise ValueError(f"{node.__name__} is listed for {by_node[node].name} and {function.name}")
            by_node[node] = function
        for name in function.names:
            by_name[name.upper()] = function
    return by_node, by_name


_BY_NODE, _BY_NAME = _index()


def lookup(node: exp.Func) -> Function | None:
    """The Function a call node is, or None when it is not on the allow-list.

    The exact class decides (never a superclass: a subclass sqlglot adds later is unlisted until
    someone lists it); an ``Anonymous`` call is looked up by its upper-cased name.
    """
    if isinstance(node, exp.Anonymous):
        return _BY_NAME.get(str(node.name).upper())
    return _BY_NODE.get(type(node))
