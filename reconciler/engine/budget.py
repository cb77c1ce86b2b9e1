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
    nodes: int = 120_000  # nodes of the parsed tree
    depth: int = 160  # depth of the parsed tree
    arguments: int = 500  # arguments of one call, items of one IN list / VALUES row / constructor
    values_rows: int = 5_000  # rows of an inline VALUES table
    select_items: int = 2_000
    references: int = 32  # places configured tables are read, after CTEs are expanded
    bound_nodes: int = 250_000  # nodes the binder may visit, counting each CTE expansion
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


def check_tree(tree: exp.Expr, limits: Limits = LIMITS) -> None:
    """Node count, depth and argument counts of a parsed tree, walked without recursion.

    Raises:
        OverBudget: the tree is over a limit.
    """
    count = 0
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.nodes:
            raise OverBudget("the size of the query", limits.nodes, "split the analysis into smaller queries")
        if depth > limits.depth:
            raise OverBudget("the depth of nested expressions", limits.depth, "write the query flatter", node)
        children = list(node.iter_expressions())
        wide = isinstance(node, (exp.Func, exp.In, exp.Tuple, exp.Array, exp.Struct, exp.Values))
        if wide and not isinstance(node, exp.Values) and len(children) > limits.arguments:
            raise OverBudget("the number of arguments of one call or list", limits.arguments, "", node)
        if isinstance(node, exp.Values) and len(node.expressions) > limits.values_rows:
            raise OverBudget("the number of rows of an inline VALUES table", limits.values_rows, "", node)
        if isinstance(node, exp.Select) and len(node.expressions) > limits.select_items:
            raise OverBudget("the number of items of one SELECT list", limits.select_items, "", node)
        stack.extend((child, depth + 1) for child in children)
