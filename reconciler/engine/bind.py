"""Name resolution (ANALYSIS_RULES.md 4.1 item 1): every column to (table reference, base column).

``bind(tree, tables, ...)`` walks a parsed query once and returns a ``Binding``: the canonical
tree that DuckDB will run, and the facts every check reads. The binder, not the query's names,
decides what each column is:

- a configured table reference becomes ``table AS __tN``; its columns are named positionally
  through a derived column list (``t AS v(a, b)``), so ``v.a`` is the table's first column,
  whatever it is called;
- a CTE is expanded, per reference, into a derived table of its own (each reference of a CTE is
  a separate read of its tables, for thresholds and budgets alike); CTE column lists rename
  positionally; derived tables, VALUES and UNNEST become ``__sN`` with columns ``__cK``;
- set operations merge their branches' columns by position; ``*`` is expanded against allowed
  columns only; ``USING`` and ``NATURAL`` joins become explicit equalities; Spark's lateral column
  aliases, and GROUP BY / ORDER BY ordinals and aliases, are replaced by the expressions they
  name;
- FROM items and joins go through ``sources.Sources``, every other expression through
  ``expressions.Expressions``, which looks each node up in the allow-list and records comparison
  positions; what they find is the data of ``scopes``.

Only the final SELECT(s) keep the names the query chose, as their output column names. Because
DuckDB runs this canonical tree, what the checks believe a name means is what DuckDB computes.
"""

from __future__ import annotations

import difflib
import functools
from collections import Counter
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import SqlglotError

from reconciler.engine.allowlist import CLAUSES, unsupported_args
from reconciler.engine.budget import LIMITS, Limits
from reconciler.engine.expressions import At, Expressions
from reconciler.engine.facts import Table
from reconciler.engine.rules import Reason
from reconciler.engine.scopes import Binding, Out, QueryScope, Refuse, Relation, TableRef
from reconciler.engine.sources import Sources, same_span
from reconciler.engine.values import Comparison, Value, changed, classify, type_of, union
from reconciler.errors import QueryRejected

__all__ = ["Binder", "bind"]


def bind(
    tree: exp.Expr,
    tables: Mapping[str, Table],
    *,
    refuse: Refuse,
    dialect: str,
    controls: bool,
    limits: Limits = LIMITS,
) -> Binding:
    """Bind a parsed, structurally checked query (see the module docstring).

    Args:
        tree: the query, parameters bound; it is rewritten in place into the canonical tree.
        tables: association name -> Table, for every table the collaboration lets it read.
        refuse: builds the refusal for a reason, a message and the offending node.
        dialect: ``spark`` or ``clean_rooms_sql`` (which functions are documented).
        controls: a referenced custom rule sets thresholds or comparison controls (8.6.4 applies).
        limits: the budget.

    Returns:
        The Binding.

    Raises:
        QueryRejected: an unlisted construct or function, an unknown or ambiguous column, or a
            query over the budget.
    """
    binder = Binder(tables, refuse=refuse, dialect=dialect, controls=controls, limits=limits)
    root = binder.query(tree, "final", None, {})
    binder.unused_ctes()
    return Binding(
        tree=root.node,
        root=root,
        scopes=binder.scopes,
        refs=binder.refs,
        comparisons=binder.comparisons,
        aggregate_calls=binder.aggregate_calls,
        window_calls=binder.window_calls,
        values=binder.values,
        findings=binder.findings,
    )


class Binder:
    """The query half of the binder (scopes, relations, names); ``Expressions`` does expressions."""

    def __init__(
        self, tables: Mapping[str, Table], *, refuse: Refuse, dialect: str, controls: bool, limits: Limits
    ):
        self.tables = tables
        self._refuse = refuse
        self.dialect_key = dialect
        self.engine_words = "Spark SQL" if dialect == "spark" else "AWS Clean Rooms SQL"
        self.controls = controls
        self.limits = limits
        self.expressions = Expressions(self)
        self.sources = Sources(self)
        self.scopes: list[QueryScope] = []
        self.refs: list[TableRef] = []
        self.comparisons: list[Comparison] = []
        self.aggregate_calls: list[tuple[exp.Func, QueryScope]] = []
        self.window_calls: list[tuple[exp.Func, QueryScope]] = []
        self.values: dict[int, tuple[exp.Expr, Value]] = {}
        self._visited = 0
        self._cte_depth = 0  # CTE bodies being bound inside one another (sources.cte_reference)
        self._relations = 0
        self._ctes: list[tuple[exp.CTE, Mapping[str, exp.CTE]]] = []
        self._used: set[int] = set()
        self._pristine: dict[int, exp.Expr] = {}
        self.findings: list[tuple[Reason, str, exp.Expr | None]] = []

    # -- plumbing ---------------------------------------------------------------------------------
    def refuse(self, reason: Reason, message: str, node: exp.Expr | None = None) -> QueryRejected:
        """The refusal for ``message`` (with the user's SQL fragment of ``node``)."""
        return self._refuse(reason, message, node)

    def finding(self, reason: Reason, message: str, node: exp.Expr | None = None) -> None:
        """Something the Spark-era controls refuse (8.6.4); only a query that activates them is refused."""
        if self.controls:
            self.findings.append((reason, message, node))

    def count(self, node: exp.Expr, nodes: int = 1) -> None:
        """Count visited nodes against the budget (CTE expansions and inlined aliases count every time)."""
        self._visited += nodes
        if self._visited > self.limits.bound_nodes:
            raise self.refuse(
                Reason.OTHER,
                f"the query expands to more than {self.limits.bound_nodes:,} nodes, the local engine's "
                "limit (each reference of a CTE and each use of a lateral column alias or of a SELECT "
                "alias in GROUP BY / ORDER BY / HAVING counts its expression again); split the analysis "
                "into smaller queries, or read each CTE fewer times",
                None,
            )

    def declared_type(self, node: exp.Expr) -> exp.DataType | None:
        """The SQL type of a plain base column or a CAST, as declared (None when not known)."""
        to = node.args.get("to")
        if isinstance(node, (exp.Cast, exp.TryCast)) and isinstance(to, exp.DataType):
            return to
        found = self.values.get(id(node))
        if found is None or found[0] is not node or len(found[1].direct) != 1:
            return None
        number, column = next(iter(found[1].direct))
        return _declared(self.refs[number].table.columns.get(column, ""))

    def remember(self, node: exp.Expr, value: Value) -> None:
        """Keep the Value of a canonical node."""
        self.values[id(node)] = (node, value)

    def _check_clauses(self, node: exp.Expr, words: str) -> None:
        allowed = CLAUSES.get(type(node))
        if allowed is None:
            raise self.refuse(
                Reason.DISALLOWED_CONSTRUCT, f"{words} is not supported by the local engine", node
            )
        extra = unsupported_args(node, allowed)
        if extra:
            what = ", ".join(k.rstrip("_").upper() for k in extra)
            raise self.refuse(Reason.DISALLOWED_CONSTRUCT, f"{what} is not supported here", node)

    def _canonical(self) -> str:
        self._relations += 1
        return f"__s{self._relations}"

    # -- queries ----------------------------------------------------------------------------------
    def query(
        self, node: exp.Expr, role: str, parent: QueryScope | None, ctes: Mapping[str, exp.CTE]
    ) -> QueryScope:
        """Bind a query node (SELECT, set operation, or a parenthesised query) as a new scope."""
        self.count(node)
        while isinstance(node, exp.Subquery) and not node.args.get("alias"):
            self._check_clauses(node, "a subquery")
            node = node.this
        if isinstance(node, exp.Select):
            return self._select(node, role, parent, ctes)
        if isinstance(node, exp.SetOperation):
            return self._set_operation(node, role, parent, ctes)
        raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "only SELECT queries can run", node)

    def _with(self, node: exp.Expr, ctes: Mapping[str, exp.CTE]) -> dict[str, exp.CTE]:
        found = dict(ctes)
        with_ = node.args.get("with_")
        if with_ is None:
            return found
        self._check_clauses(with_, "WITH")
        if with_.args.get("recursive"):
            raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "WITH RECURSIVE is not supported", with_)
        # how often each name is read, counted once for the whole statement (not once per CTE)
        reads = Counter(t.name.lower() for t in node.find_all(exp.Table) if not t.args.get("db"))
        for cte in with_.expressions:
            self._check_clauses(cte, "a CTE")
            name = cte.alias_or_name.lower()
            if name.startswith("__"):
                raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "names starting with __ are reserved", cte)
            self._ctes.append((cte, dict(found)))
            found[name] = cte
            if reads[name] > 1:  # each reference binds its own copy of the pristine body
                self._pristine[id(cte)] = cte.this.copy()
        node.set("with_", None)
        return found

    def _scope(self, node: exp.Expr, role: str, parent: QueryScope | None) -> QueryScope:
        scope = QueryScope(node, role, parent)
        self.scopes.append(scope)
        return scope

    def _set_operation(
        self, node: exp.SetOperation, role: str, parent: QueryScope | None, ctes: Mapping[str, exp.CTE]
    ) -> QueryScope:
        self._check_clauses(node, "this set operation")
        if not isinstance(node, exp.Union):
            self.finding(
                Reason.DISALLOWED_CONSTRUCT,
                f"{type(node).__name__.upper()} is not supported with these controls",
                node,
            )
        ctes = self._with(node, ctes)
        scope = self._scope(node, role, parent)
        scope.ctes = ctes
        branch_role = "final" if role == "final" else "branch"
        branches = [self.query(node.args[key], branch_role, parent, ctes) for key in ("this", "expression")]
        scope.branches = branches
        if sum(1 for _ in scope.leaves()) > self.limits.set_branches:
            raise self.refuse(
                Reason.OTHER, f"a query may have at most {self.limits.set_branches} set-operation branches"
            )
        widths = {len(b.outs) for b in branches}
        if len(widths) != 1:
            raise self.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "the branches of a set operation have different column counts",
                node,
            )
        first = branches[0]
        scope.distinct = bool(node.args.get("distinct")) or not isinstance(node, exp.Union)
        scope.outs = [
            Out(out.name, union(b.outs[i].value for b in branches), out.canonical)
            for i, out in enumerate(first.outs)
        ]
        for other in branches[1:]:
            _rename_outputs(other, [o.canonical for o in first.outs])
        if scope.distinct:
            for out in scope.outs:
                self.expressions.consequential(out.value, node, "a de-duplicating set operation")
        self._set_order_limit(node, scope)
        return scope

    def _set_order_limit(self, node: exp.Expr, scope: QueryScope) -> None:
        order = node.args.get("order")
        if order is not None:
            for ordered in order.expressions:
                key = ordered.this
                index = _ordinal(key, len(scope.outs))
                if index is None and isinstance(key, exp.Column) and not key.table:
                    names = [o.name for o in scope.outs]
                    index = names.index(key.name.lower()) if key.name.lower() in names else None
                if index is None:
                    raise self.refuse(
                        Reason.DISALLOWED_CONSTRUCT,
                        "ORDER BY of a set operation names one of its columns",
                        ordered,
                    )
                ordered.set("this", exp.column(scope.outs[index].canonical, quoted=True))
                if node.args.get("limit") is not None and scope.role != "final":
                    self.expressions.record(
                        classify(
                            ordered,
                            [scope.outs[index].value, scope.outs[index].value],
                            what="a sort key under LIMIT",
                        )
                    )
        self._limit(node, scope)

    def _limit(self, node: exp.Expr, scope: QueryScope) -> None:
        for key in ("limit", "offset"):
            clause = node.args.get(key)
            if clause is None:
                continue
            self._check_clauses(clause, key.upper())
            amount = clause.expression
            if not (isinstance(amount, exp.Literal) and not amount.is_string and amount.name.isdigit()):
                raise self.refuse(Reason.DISALLOWED_CONSTRUCT, f"{key.upper()} takes a whole number", clause)
            scope.limited = scope.limited or key == "limit"
            if key == "offset":
                self.finding(
                    Reason.DISALLOWED_CONSTRUCT, "OFFSET is not supported with these controls", clause
                )

    def _select(
        self, node: exp.Select, role: str, parent: QueryScope | None, ctes: Mapping[str, exp.CTE]
    ) -> QueryScope:
        self._check_clauses(node, "this SELECT")
        node.set("hint", None)
        ctes = self._with(node, ctes)
        scope = self._scope(node, role, parent)
        scope.ctes = ctes
        self.sources.from_clause(node, scope, ctes)
        where = node.args.get("where")
        if where is not None:
            if any(isinstance(n, exp.AggFunc) for n in where.find_all(exp.AggFunc)):
                raise self.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "an aggregate cannot be used in WHERE (use HAVING)", where
                )
            self.expressions.bind(where.this, At(scope, "where", boolean=True))
        self._projection(node, scope)
        self._group(node, scope)
        having = node.args.get("having")
        if having is not None:
            scope.aggregated = True
            self._with_aliases(having, scope, "having")
            self.expressions.bind(having.this, At(scope, "having", boolean=True))
        qualify = node.args.get("qualify")
        if qualify is not None:
            self.finding(Reason.DISALLOWED_CONSTRUCT, "QUALIFY is not supported with these controls", qualify)
            self._with_aliases(qualify, scope, "qualify")
            self.expressions.bind(qualify.this, At(scope, "qualify", boolean=True))
        distinct = node.args.get("distinct")
        if distinct is not None:
            self._check_clauses(distinct, "DISTINCT")
            if distinct.args.get("on"):
                raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "DISTINCT ON is not supported", distinct)
            scope.distinct = True
            for out in scope.outs:
                self.expressions.consequential(out.value, node, "a SELECT DISTINCT column")
        self._order(node, scope)
        self._limit(node, scope)
        return scope

    # -- SELECT list ------------------------------------------------------------------------------
    def _projection(self, node: exp.Select, scope: QueryScope) -> None:
        items: list[tuple[exp.Expr, Value | None]] = []
        for item in node.expressions:
            items += self._expand(item, scope)
        if len(items) > self.limits.select_items:
            raise self.refuse(
                Reason.OTHER, f"a SELECT may list at most {self.limits.select_items} items", node
            )
        final = scope.role == "final"
        outs: list[Out] = []
        bound: list[exp.Expr] = []
        for index, (item, known) in enumerate(items):
            name = _output_name(item)
            if name.startswith("__"):
                raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "names starting with __ are reserved", item)
            scope.lateral_uses = set()
            if known is None:
                target = item.this if isinstance(item, exp.Alias) else item
                value = self.expressions.bind(target, At(scope, "select"))
            else:
                value = known
            expression = item.this if isinstance(item, exp.Alias) else item
            canonical = name if final else f"__c{index}"
            aliased = exp.alias_(expression, canonical, quoted=True, copy=False)
            same_span(aliased, item)
            bound.append(aliased)
            outs.append(Out(name, value, canonical))
            chain = 1 + max((scope.laterals[r][2] for r in scope.lateral_uses), default=0)
            if chain > self.limits.alias_chain:
                raise self.refuse(
                    Reason.OTHER,
                    f"lateral column aliases may nest at most {self.limits.alias_chain} deep in the "
                    "local engine; compute the earlier ones in a subquery or CTE",
                    item,
                )
            if name not in scope.laterals:
                scope.laterals[name] = (expression, value, chain)
        node.set("expressions", bound)
        scope.outs = outs

    def _expand(self, item: exp.Expr, scope: QueryScope) -> list[tuple[exp.Expr, Value | None]]:
        """``*`` and ``t.*`` as explicit canonical columns (allowed columns only), with their Values."""
        star = item if isinstance(item, exp.Star) else None
        table = ""
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            star, table = item.this, item.table.lower()
        if star is None:
            return [(item, None)]
        if unsupported_args(star, frozenset({"except_"})):
            raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "this * modifier is not supported", item)
        excluded = {c.name.lower() for c in star.args.get("except_") or []}
        relations = [r for r in scope.relations if not r.hidden and (not table or r.alias == table)]
        if table and not relations:
            if self._visible(scope, table):
                raise self.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    f"expanding the struct {table}.* is not supported; name its fields",
                    item,
                )
            raise self.refuse(Reason.DISALLOWED_COLUMN, f"{table}.* names no table of this SELECT", item)
        if not relations:
            raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "SELECT * needs a FROM clause", item)
        expanded: list[tuple[exp.Expr, Value | None]] = []
        seen: set[str] = set()
        for relation in relations:
            for out in relation.outs:
                if out.name in excluded or (out.shadowed and not table):
                    seen.add(out.name)
                    continue
                seen.add(out.name)
                column = exp.column(out.canonical, table=relation.canonical, quoted=True)
                self.count(column)
                self.remember(column, out.value)
                aliased = exp.alias_(column, out.name, quoted=True, copy=False)
                aliased.meta["written"] = f"{relation.alias}.{out.name}" if relation.alias else out.name
                same_span(aliased, item)
                expanded.append((aliased, out.value))
        unknown = excluded - seen
        if unknown:
            raise self.refuse(
                Reason.DISALLOWED_COLUMN, f"* EXCEPT names unknown columns {sorted(unknown)}", item
            )
        return expanded

    def _group(self, node: exp.Select, scope: QueryScope) -> None:
        group = node.args.get("group")
        if group is None:
            return
        self._check_clauses(group, "GROUP BY")
        if group.args.get("grouping_sets") or group.args.get("cube") or group.args.get("rollup"):
            raise self.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "GROUP BY ROLLUP / CUBE / GROUPING SETS is not supported by the local engine",
                group,
            )
        scope.aggregated = True
        keys = []
        for key in group.expressions:
            if isinstance(key, (exp.Rollup, exp.Cube, exp.GroupingSets)):
                raise self.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    "GROUP BY ROLLUP / CUBE / GROUPING SETS is not supported",
                    key,
                )
            replacement = self._select_reference(key, node, scope, columns_first=True)
            if replacement is not None:
                key.replace(replacement[0])
                value = replacement[1]
                key = replacement[0]
            else:
                value = self.expressions.bind(key, At(scope, "group"))
            self.expressions.consequential(value, key, "a GROUP BY key")
            keys.append(value)
        scope.group_keys = keys

    def _order(self, node: exp.Select, scope: QueryScope) -> None:
        order = node.args.get("order")
        if order is None:
            return
        at = At(scope, "order")
        bound_items = {item.this if isinstance(item, exp.Alias) else item for item in node.expressions}
        for ordered in order.expressions:
            if not isinstance(ordered, exp.Ordered) or unsupported_args(
                ordered, frozenset({"this", "desc", "nulls_first"})
            ):
                raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "this ORDER BY key is not supported", ordered)
            replacement = self._select_reference(ordered.this, node, scope, columns_first=False)
            if replacement is not None:
                ordered.set("this", replacement[0])
                value = replacement[1]
            else:
                value = self.expressions.bind(ordered.this, at)
            # Which rows a LIMIT keeps is decided by comparing sort keys with each other. In a final
            # SELECT a key that is one of its outputs tells nothing the full result would not.
            visible = scope.role == "final" and (replacement is not None or ordered.this in bound_items)
            if node.args.get("limit") is not None and not visible:
                self.expressions.record(classify(ordered, [value, value], what="a sort key under LIMIT"))

    def _with_aliases(self, clause: exp.Expr, scope: QueryScope, words: str) -> None:
        """HAVING / QUALIFY may name SELECT aliases (when no column has the name): inline them."""
        node = scope.node
        assert isinstance(node, exp.Select)
        for column in list(clause.find_all(exp.Column)):
            if column.table or self._visible(scope, column.name.lower()):
                continue
            replacement = self._select_reference(column, node, scope, columns_first=True)
            if replacement is not None:
                column.replace(replacement[0])

    def _select_reference(
        self, key: exp.Expr, node: exp.Select, scope: QueryScope, *, columns_first: bool
    ) -> tuple[exp.Expr, Value] | None:
        """A GROUP BY / ORDER BY ordinal or SELECT alias, as a copy of the item it names."""
        items = node.expressions
        index = _ordinal(key, len(items))
        if index is None and isinstance(key, exp.Column) and not key.table:
            name = key.name.lower()
            if columns_first and self._visible(scope, name):
                return None
            names = [o.name for o in scope.outs]
            if name in names:
                index = names.index(name)
        if index is None:
            return None
        item = items[index]
        expression = item.this if isinstance(item, exp.Alias) else item
        value = scope.outs[index].value
        return self._counted_copy(expression), value

    def _counted_copy(self, original: exp.Expr) -> exp.Expr:
        """A copy of ``original`` with its nodes' Values, counted against the budget first.

        Counting walks the original before anything is copied, so an alias chain that doubles at
        each step is refused after at most the budget's nodes, not after copying an exponential tree.
        """
        nodes = list(original.walk())
        self.count(original, len(nodes))
        # sqlglot deep-copies each node's meta (spans, positions: immutable values) with the copy
        # module, most of a copy's cost; the copy is made without them and given shallow copies
        metas = [node._meta for node in nodes]
        for node in nodes:
            node._meta = None
        try:
            copy = original.copy()
        finally:
            for node, meta in zip(nodes, metas, strict=True):
                node._meta = meta
        for old, new, meta in zip(nodes, copy.walk(), metas, strict=True):
            new._meta = dict(meta) if meta is not None else None
            found = self.values.get(id(old))
            if found is not None and found[0] is old:
                self.remember(new, found[1])
        return copy

    def _visible(self, scope: QueryScope, name: str) -> bool:
        return any(o.name == name for r in scope.relations if not r.hidden for o in r.outs)

    # -- columns ----------------------------------------------------------------------------------
    def resolve(self, column: exp.Column, at: At) -> Value:
        """Resolve a column reference where it stands, rewrite it canonically, and return its Value."""
        name = column.name.lower()
        table = column.table.lower() if column.table else ""
        if isinstance(column.this, exp.Star):
            raise self.refuse(Reason.DISALLOWED_CONSTRUCT, "columns must be named", column)
        scope: QueryScope | None = at.scope
        while scope is not None:
            found = self._find(scope, table, name, column)
            if found is not None:
                relation, out = found
                return self._rewrite(column, relation, out)
            if not table and at.clause == "select" and scope is at.scope and name in scope.laterals:
                return self._lateral(column, scope, name)
            if table and scope is at.scope:
                field_of = self._find(scope, "", table, column)
                if field_of is not None:
                    relation, out = field_of
                    struct = exp.column(out.canonical, table=relation.canonical, quoted=True)
                    access = exp.Dot(this=struct, expression=exp.to_identifier(name))
                    column.replace(access)
                    value = changed(out.value, direct=frozenset(), type=type_of(""))
                    self.remember(struct, out.value)
                    self.remember(access, value)
                    return value
            scope = scope.parent
        known = sorted({o.name for r in at.scope.relations for o in r.outs})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = f"{table}.{name}" if table else name
        raise self.refuse(
            Reason.DISALLOWED_COLUMN,
            f"column {where} does not exist or is not an allowed column{hint}",
            column,
        )

    def _find(self, scope: QueryScope, table: str, name: str, node: exp.Expr) -> tuple[Relation, Out] | None:
        relations = [r for r in scope.relations if not r.hidden or node.find_ancestor(exp.Join)]
        if table:
            matching = [r for r in relations if r.alias == table]
            if len(matching) > 1:
                raise self.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    f"two tables are called {table}; give each its own alias",
                    node,
                )
            if not matching:
                return None
            outs = [o for o in matching[0].outs if o.name == name]
            if len(outs) > 1:
                raise self.refuse(Reason.DISALLOWED_COLUMN, f"{table}.{name} is ambiguous", node)
            return (matching[0], outs[0]) if outs else None
        found = [(r, o) for r in relations for o in r.outs if o.name == name and not o.shadowed]
        if len(found) > 1:
            raise self.refuse(
                Reason.DISALLOWED_COLUMN, f"column {name} is ambiguous; qualify it with its table", node
            )
        return found[0] if found else None

    def _rewrite(self, column: exp.Column, relation: Relation, out: Out) -> Value:
        column.meta["written"] = f"{column.table}.{column.name}" if column.table else column.name
        column.set("this", exp.to_identifier(out.canonical, quoted=True))
        column.set("table", exp.to_identifier(relation.canonical, quoted=True))
        for key in ("db", "catalog"):
            column.set(key, None)
        return out.value

    def _lateral(self, column: exp.Column, scope: QueryScope, name: str) -> Value:
        """A Spark lateral column alias: the earlier item's expression, inlined (and counted)."""
        expression, value, chain = scope.laterals[name]
        if chain >= self.limits.alias_chain:  # refused before copying: each level may double the copy
            raise self.refuse(
                Reason.OTHER,
                f"lateral column aliases may nest at most {self.limits.alias_chain} deep in the local "
                "engine; compute the earlier ones in a subquery or CTE",
                column,
            )
        column.replace(self._counted_copy(expression))
        scope.lateral_uses.add(name)
        return value

    def expression_query(self, query: exp.Expr, at: At) -> QueryScope:
        """A query used as a value (scalar subquery, IN (SELECT ...), EXISTS): a scope under ``at.scope``."""
        self.finding(
            Reason.DISALLOWED_CONSTRUCT,
            "only FROM subqueries and CTEs are supported with aggregation thresholds or comparison controls",
            query,
        )
        return self.query(query, "subquery", at.scope, at.scope.ctes)

    def unused_ctes(self) -> None:
        """Check CTEs the query never reads as if it did (they are never run)."""
        for cte, env in list(self._ctes):
            if id(cte) not in self._used:
                self._used.add(id(cte))
                self.query(cte.this, "unused", None, env)


# -- helpers ------------------------------------------------------------------------------------------


def _ordinal(key: exp.Expr, width: int) -> int | None:
    if isinstance(key, exp.Literal) and not key.is_string and key.name.isdigit():
        number = int(key.name)
        if 1 <= number <= width:
            return number - 1
    return None


def _output_name(item: exp.Expr) -> str:
    """The name a SELECT item is known by (its alias, its column name, or its text)."""
    if isinstance(item, exp.Alias):
        return item.alias.lower()
    if isinstance(item, exp.Column):
        return item.name.lower()
    return " ".join(item.sql(dialect="spark").split()).lower()[:120]


def _rename_outputs(scope: QueryScope, names: list[str]) -> None:
    """Give the SELECTs of a later set-operation branch the first branch's output names."""
    for leaf in scope.leaves():
        items = leaf.node.expressions
        for item, name in zip(items, names, strict=True):
            if isinstance(item, exp.Alias):
                item.set("alias", exp.to_identifier(name, quoted=True))
        for out, name in zip(leaf.outs, names, strict=True):
            out.canonical = name


@functools.lru_cache(maxsize=1024)
def _declared(text: str) -> exp.DataType | None:
    """A column's declared type, parsed once per spelling (read, never changed: it is shared)."""
    try:
        return exp.DataType.build(text, dialect="duckdb") if text else None
    except (ValueError, SqlglotError):
        return None
