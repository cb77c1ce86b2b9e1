"""Column lineage over a qualified query: which configured-table columns an expression reads.

Built on sqlglot's scopes (``build_scope``) after ``qualify`` has given every column its source
alias and expanded every ``*``. Lineage follows aliases through CTEs, derived tables and
set-operation branches (by position), correlated subqueries (to the outer scope) and table
functions (a column of ``UNNEST(x)`` reads what ``x`` reads; a column of ``VALUES`` reads
nothing, so it is a literal). Results are memoised per scope and output column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType, build_scope

from reconciler.engine.facts import Table
from reconciler.engine.sqlnames import selects

__all__ = ["BaseColumn", "Lineage"]

#: (association name, column name)
BaseColumn = tuple[str, str]

_COUNTS = (exp.Count, exp.ApproxDistinct)


class Lineage:
    """Lineage queries over one qualified tree.

    Args:
        tree: a tree that ``sqlglot.optimizer.qualify`` has processed.
        tables: association name -> Table (to tell configured tables from other names).
    """

    def __init__(self, tree: exp.Expr, tables: Mapping[str, Table]) -> None:
        root = build_scope(tree)
        if root is None:
            raise ValueError("not a query")
        self.root: Scope = root
        self.scopes: list[Scope] = list(root.traverse())
        self._by_expression = {id(s.expression): s for s in self.scopes}
        self.tables = tables
        self._memo: dict[tuple[int, str, bool], frozenset[BaseColumn]] = {}

    # -- scopes ---------------------------------------------------------------------------------
    def scope_of(self, node: exp.Expr) -> Scope:
        """The innermost scope whose query contains ``node``."""
        current: exp.Expr | None = node
        while current is not None:
            found = self._by_expression.get(id(current))
            if found is not None and (current is not node or isinstance(node, exp.Query)):
                return found
            current = current.parent
        return self.root

    def final_selects(self) -> list[Scope]:
        """The final SELECTs: the root, or every branch of a top-level set operation (8.6.7)."""
        return list(_branches(self.root))

    def source(self, column: exp.Column, scope: Scope) -> tuple[Scope, exp.Expr | Scope | None]:
        """Where a qualified column comes from: (the scope that knows its alias, that source)."""
        current: Scope | None = scope
        while current is not None:
            if column.table in current.sources:
                return current, current.sources[column.table]
            current = current.parent
        return scope, None

    def base_table(self, source: exp.Expr | Scope | None) -> Table | None:
        """The configured table a FROM item reads, if it is one."""
        if isinstance(source, exp.Table) and not source.args.get("db"):
            return self.tables.get(source.name.lower())
        return None

    # -- lineage --------------------------------------------------------------------------------
    def of(self, node: exp.Expr, scope: Scope, *, skip_counts: bool = False) -> frozenset[BaseColumn]:
        """Base columns read by ``node`` evaluated in ``scope``.

        Args:
            node: any expression of ``scope``'s query.
            scope: the scope it is evaluated in.
            skip_counts: leave out columns inside COUNT / APPROX_COUNT_DISTINCT (comparison lineage, 8.6.5).
        """
        found: set[BaseColumn] = set()
        for column in _columns(node, skip_counts):
            found |= self.column(column, scope, skip_counts=skip_counts)
        for sub in node.find_all(exp.Subquery):
            inner = self._by_expression.get(id(sub.this))
            if inner is not None and not (skip_counts and sub.find_ancestor(*_COUNTS)):
                for projection in selects(inner.expression):
                    found |= self.of(projection, inner, skip_counts=skip_counts)
        return frozenset(found)

    def column(self, column: exp.Column, scope: Scope, *, skip_counts: bool = False) -> frozenset[BaseColumn]:
        """Base columns behind one qualified column reference."""
        owner, source = self.source(column, scope)
        table = self.base_table(source)
        if table is not None:
            return frozenset({(table.name, column.name.lower())})
        if isinstance(source, Scope):
            return self.output(source, column.name, skip_counts=skip_counts)
        return frozenset()

    def output(self, scope: Scope, name: str, *, skip_counts: bool = False) -> frozenset[BaseColumn]:
        """Base columns behind output column ``name`` of ``scope`` (all branches of a set operation)."""
        key = (id(scope), name.lower(), skip_counts)
        if key not in self._memo:
            self._memo[key] = frozenset()  # recursion guard
            found: set[BaseColumn] = set()
            for expression, owner in self.projections(scope, name):
                found |= self.of(expression, owner, skip_counts=skip_counts)
            self._memo[key] = frozenset(found)
        return self._memo[key]

    def projections(self, scope: Scope, name: str) -> Iterator[tuple[exp.Expr, Scope]]:
        """The expressions that produce output column ``name`` of ``scope``, with their scopes."""
        if scope.scope_type is ScopeType.UDTF:
            yield scope.expression, scope.parent or scope
            return
        branches = list(_branches(scope))
        names = [s.alias_or_name.lower() for s in selects(branches[0].expression)] if branches else []
        if name.lower() not in names:
            return
        index = names.index(name.lower())
        for branch in branches:
            items = selects(branch.expression)
            if index < len(items):
                yield items[index], branch

    def is_direct(self, column: exp.Column, scope: Scope) -> bool:
        """True when the column reaches a base column untransformed (renames allowed; 8.6.6)."""
        _, source = self.source(column, scope)
        if self.base_table(source) is not None:
            return True
        if not isinstance(source, Scope) or source.scope_type is ScopeType.UDTF:
            return False
        for expression, owner in self.projections(source, column.name):
            inner = expression.this if isinstance(expression, exp.Alias) else expression
            if not isinstance(inner, exp.Column) or not self.is_direct(inner, owner):
                return False
        return True


def _branches(scope: Scope) -> Iterator[Scope]:
    if isinstance(scope.expression, exp.SetOperation):
        for branch in scope.set_operation_scopes:
            yield from _branches(branch)
    else:
        yield scope


def _columns(node: exp.Expr, skip_counts: bool) -> Iterator[exp.Column]:
    """Columns of ``node`` outside nested queries (and outside counts when asked)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Column):
            yield current
            continue
        if current is not node and isinstance(current, (exp.Query, exp.Subquery)):
            continue
        if skip_counts and isinstance(current, _COUNTS):
            continue
        stack.extend(current.iter_expressions())
