"""What the binder finds, as data: table references, relations, scopes and the Binding.

``bind`` builds these; every check reads them (never the query's names). A ``QueryScope`` is one
SELECT or set operation, a ``Relation`` one FROM item as its SELECT sees it, an ``Out`` one
column with its ``Value``, a ``TableRef`` one place a configured table is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from reconciler.engine.facts import Table
from reconciler.engine.rules import Reason
from reconciler.engine.values import Comparison, Value
from reconciler.errors import QueryRejected

__all__ = ["Binding", "Out", "TableRef", "Refuse", "Relation", "QueryScope"]

Refuse = Callable[[Reason, str, exp.Expr | None], QueryRejected]


@dataclass(eq=False)
class TableRef:
    """One place the query reads a configured table (a self-join, or a CTE used twice, makes two).

    Attributes:
        number: its number (``__t<number>`` in the canonical tree).
        table: the configured table.
        node: its ``exp.Table`` node in the canonical tree.
        scope: the SELECT whose FROM reads it.
        emitted: False for references inside CTEs the query never uses (checked, never run).
    """

    number: int
    table: Table
    node: exp.Table
    scope: QueryScope
    emitted: bool = True

    @property
    def alias(self) -> str:
        """The canonical alias of the reference."""
        return f"__t{self.number}"


@dataclass
class Out:
    """One column a relation or a query offers: the name the query uses, its Value, its canonical name.

    ``shadowed`` marks the right-hand column of a ``USING`` / ``NATURAL`` join: it is still
    reachable qualified (``r.k``), but ``k`` and ``*`` mean the merged column.
    """

    name: str
    value: Value
    canonical: str
    shadowed: bool = False


@dataclass(eq=False)
class Relation:
    """A FROM item as its SELECT sees it.

    Attributes:
        alias: the alias the query uses (lower case).
        canonical: its alias in the canonical tree.
        outs: its columns, in order.
        ref: the configured table reference, for a table.
        query: the bound query, for a derived table or a CTE reference.
        nullable: NULL-extended by an outer join.
        hidden: not visible after its join (the right side of a SEMI / ANTI join).
    """

    alias: str
    canonical: str
    outs: list[Out]
    ref: TableRef | None = None
    query: QueryScope | None = None
    nullable: bool = False
    hidden: bool = False


@dataclass(eq=False)
class QueryScope:
    """One SELECT (or set operation) of the query, with what binding found in it.

    ``role`` is ``final`` (an output SELECT: the root, or each branch of a top-level set
    operation), ``derived`` (a derived table or CTE reference), ``branch`` (inside a set
    operation below the top), ``subquery`` (used as a value) or ``unused`` (a CTE never read).
    """

    node: exp.Expr
    role: str
    parent: QueryScope | None = None
    relations: list[Relation] = field(default_factory=list)
    outs: list[Out] = field(default_factory=list)
    branches: list[QueryScope] = field(default_factory=list)
    group_keys: list[Value] = field(default_factory=list)
    aggregated: bool = False
    windowed: bool = False
    generators: int = 0
    distinct: bool = False
    limited: bool = False
    joins: list[tuple[exp.Join, Relation]] = field(default_factory=list)
    ctes: Mapping[str, exp.CTE] = field(default_factory=dict)
    thresholds: list[exp.Expr] = field(default_factory=list)
    laterals: dict[str, tuple[exp.Expr, Value, int]] = field(default_factory=dict)
    lateral_uses: set[str] = field(default_factory=set)

    @property
    def is_select(self) -> bool:
        """True for a SELECT, False for a set operation."""
        return isinstance(self.node, exp.Select)

    def leaves(self) -> Iterator[QueryScope]:
        """The SELECT branches of a set operation (the scope itself for a SELECT)."""
        if self.is_select:
            yield self
        for branch in self.branches:
            yield from branch.leaves()


@dataclass
class Binding:
    """The canonical tree and the facts about it (see the module docstring).

    Attributes:
        tree: the canonical query DuckDB runs (after suppression is written into it).
        root: the top scope.
        scopes: every scope, outermost first.
        refs: every configured-table reference.
        comparisons: every comparison position found.
        aggregate_calls / window_calls: every aggregate call and window function, with its scope.
        findings: what a referenced custom rule's controls refuse (8.6.4), in the order found:
            constructs (``disallowed_construct``) and functions (``disallowed_function``); stage
            C4 raises the first of them, after C2 and C3 have had their say.
    """

    tree: exp.Expr
    root: QueryScope
    scopes: list[QueryScope]
    refs: list[TableRef]
    comparisons: list[Comparison]
    aggregate_calls: list[tuple[exp.Func, QueryScope]]
    window_calls: list[tuple[exp.Func, QueryScope]]
    values: dict[int, tuple[exp.Expr, Value]]
    findings: list[tuple[Reason, str, exp.Expr | None]] = field(default_factory=list)

    @property
    def finals(self) -> list[QueryScope]:
        """The final SELECTs: the root, or every branch of a top-level set operation (8.6.7)."""
        return list(self.root.leaves())

    def value(self, node: exp.Expr) -> Value | None:
        """The Value the binder found for a node of the canonical tree."""
        found = self.values.get(id(node))
        return found[1] if found is not None and found[0] is node else None

    def copy_of(self, node: exp.Expr) -> exp.Expr:
        """A copy of a canonical node whose nodes keep the Values of the originals."""
        copy = node.copy()
        for old, new in zip(node.walk(), copy.walk(), strict=True):
            found = self.values.get(id(old))
            if found is not None and found[0] is old:
                self.values[id(new)] = (new, found[1])
        return copy

    def emitted(self) -> list[QueryScope]:
        """Scopes that are part of the canonical tree (unused CTEs are not)."""
        return [s for s in self.scopes if s.role != "unused"]
