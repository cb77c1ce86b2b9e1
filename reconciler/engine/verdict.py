"""The outcome of checking a query: a Verdict, and the helper every check uses to refuse.

A refusal names the reason class (ANALYSIS_RULES.md section 4), the table and rule type whose
control was broken, and the offending SQL fragment, so a person can act on it. Checks raise
``refuse(...)``; ``enforce`` turns that into a Verdict or lets it propagate as ``QueryRejected``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from reconciler.engine.rules import Reason
from reconciler.errors import QueryRejected

__all__ = ["Verdict", "fragment", "refuse", "spans"]

_MAX_FRAGMENT = 200


@dataclass(frozen=True)
class Verdict:
    """Whether a query may run, and if not, why.

    Attributes:
        allowed: True when every stage passed.
        reason: the reason class of the first failing stage (None when allowed).
        message: what is wrong, in words a query writer can act on.
        fragment: the offending SQL fragment (as written in the collaboration's dialect).
        table: the association name whose rule was broken; when no single table is to blame, the
            referenced tables, comma-separated ("" when there are none).
        rule: that table's rule type ("AGGREGATION", "LIST", "CUSTOM"), or "". For several tables:
            their shared type, or each table's type in the order of ``table``, comma-separated.
    """

    allowed: bool
    reason: Reason | None = None
    message: str = ""
    fragment: str = ""
    table: str = ""
    rule: str = ""

    @classmethod
    def refused(
        cls, reason: Reason, message: str, fragment: str = "", table: str = "", rule: str = ""
    ) -> Verdict:
        """A refusal."""
        return cls(False, reason, message, fragment, table, rule)

    def text(self) -> str:
        """One line for humans: ``query refused [reason] (LIST rule of table t): message: `fragment```."""
        if self.allowed:
            return "query allowed"
        where = f" ({self._where()})" if self.table else ""
        frag = f": `{self.fragment}`" if self.fragment else ""
        return f"query refused [{self.reason}]{where}: {self.message}{frag}"

    def _where(self) -> str:
        """``LIST rule of table 't'``; ``CUSTOM rule of tables 'a', 'b'``; or each table's own rule."""
        tables = self.table.split(", ")
        rules = self.rule.split(", ") if self.rule else []
        if len(rules) == len(tables) > 1:
            return ", ".join(f"{r} rule of table {t!r}" for t, r in zip(tables, rules, strict=True))
        named = ", ".join(repr(t) for t in tables)
        noun = "table" if len(tables) == 1 else "tables"
        return f"{rules[0]} rule of {noun} {named}" if rules else f"{noun} {named}"

    def to_json(self) -> dict[str, str | bool | None]:
        """The structured error of section 4: reason, message, offending fragment (plus table, rule)."""
        return {
            "allowed": self.allowed,
            "reason": None if self.reason is None else self.reason.value,
            "message": self.message,
            "offending_fragment": self.fragment,
            "table": self.table,
            "rule": self.rule,
        }


def fragment(node: exp.Expr | str | None, dialect: str = "spark", source: str = "") -> str:
    """The SQL text of ``node`` as the user wrote it (from parser positions), shortened for messages.

    Falls back to regenerating the node in the query's dialect when it has no source position.
    """
    if node is None:
        return ""
    text = (
        node if isinstance(node, str) else (_original(node, source, dialect) or _regenerated(node, dialect))
    )
    text = " ".join(text.split())
    return text if len(text) <= _MAX_FRAGMENT else text[: _MAX_FRAGMENT - 3] + "..."


def _original(node: exp.Expr, source: str, dialect: str = "spark") -> str:
    """The source text spanned by ``node``'s tokens, if it reads back as the same kind of node.

    Only identifiers and literals carry positions, so a span can miss a leading function name or
    keyword (``person, 1, 2)`` for ``SUBSTRING(person, 1, 2)``, ``MAX(x) ... FROM t`` for a
    SELECT): the span is widened by up to three words to the left until it reads back as the
    node's kind; failing that, the node is regenerated.
    """
    bounds = _bounds(node, source)
    if bounds is None:
        return ""
    start, end = bounds
    text = source[start:end]
    if isinstance(node, (exp.Column, exp.Identifier, exp.Literal)) or len(text) > 4 * _MAX_FRAGMENT:
        return text
    for _ in range(4):
        if _reads_as(text, node, dialect):
            return text
        before = source[:start].rstrip()
        cut = max(before.rfind(c) for c in " \n\t(,") + 1
        if start <= 0 or cut >= len(before):
            break
        start = cut
        text = source[start:end]
    return ""


def _regenerated(node: exp.Expr, dialect: str) -> str:
    """The node's SQL, with the names the query wrote where the binder put canonical ones."""

    def written(child: exp.Expr) -> exp.Expr:
        text = child.meta.get("written")
        return exp.Var(this=text) if isinstance(text, str) else child

    return node.copy().transform(written).sql(dialect=dialect)


def _reads_as(text: str, node: exp.Expr, dialect: str) -> bool:
    try:
        return type(sqlglot.parse_one(text, read=dialect)) is type(node)
    except (SqlglotError, ValueError):
        return False


def spans(tree: exp.Expr, nodes: list[exp.Expr] | None = None) -> None:
    """Record on every node the span of query text it was parsed from (``meta["span"]``).

    The binder rewrites names into canonical ones, and a refusal must still quote the SQL as the
    user wrote it; the span survives rewriting because it lives on the node itself (and copies).
    One pass, children before parents, without recursion. ``nodes``: every node of ``tree``,
    each after its parent (``budget.check_tree`` lists them), to save walking it again.
    """
    if nodes is None:
        nodes = []
        stack = [tree]
        while stack:
            node = stack.pop()
            nodes.append(node)
            stack.extend(node.iter_expressions())
    for node in reversed(nodes):
        meta = node._meta  # read without creating a meta dict for nodes that have none
        start, end = (meta.get("start"), meta.get("end")) if meta else (None, None)
        low, high = (start, end) if start is not None and end is not None else (None, None)
        for child in node.iter_expressions():
            span = child._meta.get("span") if child._meta else None
            if span is not None:
                low = span[0] if low is None or span[0] < low else low
                high = span[1] if high is None or span[1] > high else high
        if low is not None and high is not None:
            node.meta["span"] = (low, high)


def _bounds(node: exp.Expr, source: str) -> tuple[int, int] | None:
    """[start, end) of the text ``node`` was parsed from, with quotes and closing parentheses."""
    if "span" in node.meta:
        found = [node.meta["span"]]
    else:
        found = [
            (n.meta["start"], n.meta["end"]) for n in node.walk() if "start" in n.meta and "end" in n.meta
        ]
    if not source or not found:
        return None
    start, end = min(s for s, _ in found), max(e for _, e in found) + 1
    if start > 0 and source[start - 1] in "\"'`":
        start -= 1
    if end < len(source) and source[end] in "\"'`":
        end += 1
    missing = source[start:end].count("(") - source[start:end].count(")")
    while missing > 0 and source[end:].lstrip().startswith(")"):
        end = len(source) - len(source[end:].lstrip()) + 1
        missing -= 1
    return start, end


def refuse(
    reason: Reason,
    message: str,
    node: exp.Expr | str | None = None,
    *,
    table: str = "",
    rule: str = "",
    dialect: str = "spark",
    source: str = "",
) -> QueryRejected:
    """Build the exception a check raises: a QueryRejected carrying the Verdict."""
    verdict = Verdict.refused(reason, message, fragment(node, dialect, source), table, rule)
    return QueryRejected(verdict.text(), verdict=verdict)
