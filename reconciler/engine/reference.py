"""The allow-list as Markdown: the README's "What SQL is accepted" section is this text.

``tests/engine/test_reference.py`` keeps the README equal to ``markdown()``, so the documented
allow-list is always the one the engine enforces (``allowlist.NODES`` and ``functions.FUNCTIONS``).
"""

from __future__ import annotations

from reconciler.engine.allowlist import KEYWORDS, NODES, TYPES, Role
from reconciler.engine.functions import CLEAN_ROOMS_SQL, FUNCTIONS, LEFT_OUT, SPARK, Function, FunctionKind

__all__ = ["markdown"]

_ROLE_WORDS = {
    Role.LITERAL: "constant",
    Role.COLUMN: "column (resolved to its base column)",
    Role.FIELD: "struct field",
    Role.ARITHMETIC: "arithmetic (branching: can overflow or divide by zero)",
    Role.NEGATE: "sign",
    Role.COMPARISON: "comparison",
    Role.CONNECTIVE: "combines conditions",
    Role.CASE: "branch (its conditions are comparisons)",
    Role.IF: "branch (its condition is a comparison)",
    Role.CAST: "cast (to BOOLEAN a comparison; from text branching)",
    Role.LOOKUP: "lookup (a comparison of the key)",
    Role.CONSTRUCTOR: "constructor",
    Role.WINDOW: "window function",
    Role.SUBQUERY: "subquery used as a value",
    Role.STAR: "* (expanded to allowed columns)",
    Role.FILTER: "aggregate FILTER (its condition is a comparison)",
}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _roles(function: Function) -> str:
    words = []
    if function.compares:
        words.append("compares")
    if function.null_tests:
        words.append("NULL test")
    if function.branches:
        words.append("branching")
    if function.counts:
        words.append("counts")
    if function.params:
        words.append("constant settings: " + ", ".join(function.params))
    if function.amplifies:
        words.append("bounded size")
    if function.units:
        words.append("Spark fields: " + " ".join(sorted(function.units.get(SPARK, ()))))
    if not function.deterministic:
        words.append("not deterministic")
    return "; ".join(words) or "-"


def _functions(kind: FunctionKind) -> list[str]:
    rows = [
        f"| {f.name} | {_yes(SPARK in f.dialects)} | {_yes(CLEAN_ROOMS_SQL in f.dialects)} | "
        f"{_yes(f.controls)} | {_roles(f)} |"
        for f in sorted((f for f in FUNCTIONS if f.kind is kind), key=lambda f: f.name)
    ]
    return ["| function | Spark | Clean Rooms SQL | with controls | role |", "|---|---|---|---|---|", *rows]


def markdown() -> str:
    """The README section: constructs, then functions by kind, then what is left out and why."""
    lines = [
        "Every node of a query must be on the allow-list (`reconciler/engine/allowlist.py` for syntax,",
        "`reconciler/engine/functions.py` for functions); anything else is refused with",
        '`disallowed_construct` or `disallowed_function`. "With controls" is what a query may use once',
        "a referenced custom rule sets aggregation thresholds or comparison controls (AWS's construct",
        "table, ANALYSIS_RULES.md 8.6.4). Aggregation rules narrow this further to COUNT, SUM and AVG",
        "of the rule's (function, column) pairs and the rule's `scalarFunctions`; list rules allow no",
        "function at all.",
        "",
        "| construct | role | with controls |",
        "|---|---|---|",
    ]
    seen: set[str] = set()
    for spec in sorted(NODES.values(), key=lambda spec: spec.words.lower()):
        if spec.words in seen:  # CAST and TRY_CAST, say
            continue
        seen.add(spec.words)
        words = spec.words.replace("|", "\\|")
        role = "concatenation" if spec.words.startswith("||") else _ROLE_WORDS[spec.role]
        lines.append(f"| `{words}` | {role} | {_yes(spec.controls)} |")
    lines += [
        "",
        "Clauses: WITH (not RECURSIVE), SELECT [DISTINCT], FROM (tables, derived tables, CTEs, VALUES,",
        "UNNEST), JOIN (INNER, LEFT, RIGHT, FULL, CROSS, NATURAL, USING; LEFT SEMI / ANTI only without",
        "controls), LATERAL VIEW explode (without controls), WHERE, GROUP BY, HAVING, QUALIFY (without",
        "controls), ORDER BY, LIMIT, OFFSET (without controls), UNION [ALL], and EXCEPT / INTERSECT",
        "(without controls). Refused everywhere: PIVOT / UNPIVOT, ROLLUP / CUBE / GROUPING SETS, LATERAL",
        "subqueries, TABLESAMPLE, named WINDOW clauses, lambdas, CLUSTER / DISTRIBUTE / SORT BY. Spark",
        "join hints are accepted and dropped.",
        "",
        f"Keyword settings (units, fields): {', '.join(sorted(KEYWORDS))}.",
        "",
        f"Types a CAST may name: {', '.join(sorted(TYPES))}.",
    ]
    for kind, title in (
        (FunctionKind.AGGREGATE, "Aggregate functions"),
        (FunctionKind.WINDOW, "Window-only functions"),
        (FunctionKind.GENERATOR, "Generators"),
        (FunctionKind.SCALAR, "Scalar functions"),
    ):
        lines += ["", f"<details><summary>{title}</summary>", "", *_functions(kind), "", "</details>"]
    lines += [
        "",
        "<details><summary>Documented by AWS but refused, and why</summary>",
        "",
        "| function | why |",
        "|---|---|",
        *(f"| {name} | {why} |" for name, why in LEFT_OUT.items()),
        "",
        "</details>",
    ]
    return "\n".join(lines) + "\n"
