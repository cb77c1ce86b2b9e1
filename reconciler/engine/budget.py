"""Bounded work (ANALYSIS_RULES.md 4.1 item 7): limits on what one query may ask of the check.

Every limit is checked before the work it bounds, in time linear in the query's size: the token
limits before parsing (so 300 nested parentheses are a refusal, not a parser crash), the tree
limits before binding, and the binder's own counters (expanded nodes, table references,
lateral alias chains) as it goes. A query over a limit is refused with reason ``other``, the
limit's name and value, and what to do instead; none of these limits is near what a real
analysis needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

__all__ = ["LIMITS", "Limits", "OverBudget", "check_tokens", "check_tree"]


@dataclass(frozen=True)
class Limits:
    """The check's budget. ``LIMITS`` is the one the engine uses; tests may build smaller ones."""

    tokens: int = 60_000
    nesting: int = 120  # parentheses / brackets open at once
    nodes: int = 60_000  # nodes of the parsed tree (identifiers included)
    depth: int = 160  # depth of the parsed tree
    arguments: int = 500  # arguments of one call, items of one IN list / VALUES row / constructor
    values_rows: int = 5_000  # rows of an inline VALUES table
    select_items: int = 2_000
    references: int = 32  # places configured tables are read, after CTEs are expanded
    # nodes the binder may visit, counting each CTE expansion and each inlined alias: what every
    # later pass walks, so the check's time is linear in it (30-60 us a node on a loaded 2-core
    # machine, with the rewrites and the DuckDB SQL; a 100 KB report of 1,650 CASE columns binds 14,900)
    bound_nodes: int = 16_000
    alias_chain: int = 16  # lateral column aliases referring to lateral aliases, nested
    cte_depth: int = 100  # CTEs reading CTEs that read CTEs..., as bound (each level is recursion)
    joins: int = 64
    set_branches: int = 256


LIMITS = Limits()


class OverBudget(Exception):
    """A query over one of the limits (the engine turns it into a refusal)."""

    def __init__(self, what: str, limit: int, hint: str, node: exp.Expr | None = None) -> None:
        super().__init__(f"{what} is over the local engine's limit of {limit:,}; {hint}")
        self.node = node


def check_tokens(tokens: list[Token], limits: Limits = LIMITS) -> None:
    """Token count and bracket nesting, before the parser sees the text.

    Raises:
        OverBudget: too many tokens, or brackets nested too deeply.
    """
    if len(tokens) > limits.tokens:
        raise OverBudget("the number of SQL tokens", limits.tokens, "split the analysis into smaller queries")
    depth = 0
    opening = (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE)
    closing = (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE)
    for token in tokens:
        if token.token_type in opening:
            depth += 1
            if depth > limits.nesting:
                raise OverBudget("the nesting of parentheses", limits.nesting, "write the query flatter")
        elif token.token_type in closing:
            depth = max(depth - 1, 0)


def check_tree(tree: exp.Expr, limits: Limits = LIMITS) -> list[exp.Expr]:
    """Node count, depth and argument counts of a parsed tree, walked without recursion.

    Returns:
        Every node of the tree, in the order of ``tree.walk()`` (breadth first, the order of
        ``find_all``), so the stages that look for node types need not walk it again.

    Raises:
        OverBudget: the tree is over a limit.
    """
    nodes: list[exp.Expr] = []
    level: list[exp.Expr] = [tree]
    depth = 0
    while level:  # level by level: the nodes come out in breadth-first order, as walk() gives them
        depth += 1
        if depth > limits.depth:
            raise OverBudget(
                "the depth of nested expressions", limits.depth, "write the query flatter", level[0]
            )
        nodes += level
        if len(nodes) > limits.nodes:
            raise OverBudget(
                "the number of nodes of the parsed query",
                limits.nodes,
                "split the analysis into smaller queries",
            )
        below: list[exp.Expr] = []
        for node in level:
            kind = _KINDS.get(type(node))
            if kind is None:
                kind = _KINDS[type(node)] = _kind(node)
            if kind:
                _check_width(node, kind, limits)
            below += node.iter_expressions()
        level = below
    return nodes


#: node type -> which width limit applies to it ("" none), filled in as types are met
_KINDS: dict[type[exp.Expr], str] = {}


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Values):
        return "values"
    if isinstance(node, (exp.Func, exp.In, exp.Tuple, exp.Array, exp.Struct)):
        return "arguments"
    if isinstance(node, exp.Select):
        return "select"
    return ""


def _check_width(node: exp.Expr, kind: str, limits: Limits) -> None:
    if kind == "arguments" and sum(1 for _ in node.iter_expressions()) > limits.arguments:
        raise OverBudget("the number of arguments of one call or list", limits.arguments, "", node)
    if kind == "values" and len(node.expressions) > limits.values_rows:
        raise OverBudget("the number of rows of an inline VALUES table", limits.values_rows, "", node)
    if kind == "select" and len(node.expressions) > limits.select_items:
        raise OverBudget("the number of items of one SELECT list", limits.select_items, "", node)
