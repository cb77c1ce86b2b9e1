"""Binding FROM items and joins: each becomes a Relation whose columns name their base columns.

A configured table reference becomes ``table AS __tN`` with its columns named positionally through
a derived column list; a CTE reference is expanded into a derived table of its own; derived
tables, VALUES, UNNEST and LATERAL VIEW explode get canonical aliases and column names; USING and
NATURAL joins become explicit equalities. ``Sources`` is the binder's FROM half (``bind``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlglot import exp

from reconciler.engine.allowlist import unsupported_args
from reconciler.engine.expressions import At
from reconciler.engine.facts import Table
from reconciler.engine.functions import Type
from reconciler.engine.rules import Reason
from reconciler.engine.scopes import Out, QueryScope, Relation, TableRef
from reconciler.engine.values import Value, changed, classify, combine, type_of, union

if TYPE_CHECKING:
    from reconciler.engine.bind import Binder

__all__ = ["Sources", "alias_columns", "same_span"]


class Sources:
    """The FROM half of the binder (see the module docstring)."""

    def __init__(self, binder: Binder) -> None:
        self.binder = binder

    def from_clause(self, node: exp.Select, scope: QueryScope, ctes: Mapping[str, exp.CTE]) -> None:
        from_ = node.args.get("from_")
        if from_ is None:
            return
        if unsupported_args(from_, frozenset({"this"})):
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "this FROM clause is not supported", from_)
        scope.relations.append(self.relation(from_.this, scope, ctes))
        joins = node.args.get("joins") or []
        if len(joins) > self.binder.limits.joins:
            raise self.binder.refuse(
                Reason.OTHER, f"a SELECT may have at most {self.binder.limits.joins} joins", node
            )
        for join in joins:
            self.join(join, scope, ctes)
        for lateral in node.args.get("laterals") or []:
            self.lateral_view(lateral, scope)

    def relation(self, item: exp.Expr, scope: QueryScope, ctes: Mapping[str, exp.CTE]) -> Relation:
        if isinstance(item, exp.Table):
            self.binder._check_clauses(item, "this table reference")
            if item.args.get("pivots"):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT,
                    "PIVOT / UNPIVOT is not supported by the local engine; write it with GROUP BY and CASE "
                    "(PIVOT) or UNION ALL (UNPIVOT)",
                    item,
                )
            name = item.name.lower()
            alias = item.alias_or_name.lower()
            columns = alias_columns(item)
            if name in ctes:
                return self.cte_reference(item, ctes[name], alias, columns, scope)
            table = self.binder.tables.get(name)
            if table is None:
                raise self.binder.refuse(
                    Reason.OTHER, f"table {name!r} is not associated with this collaboration", item
                )
            return self.table(item, table, alias, columns, scope)
        if isinstance(item, exp.Subquery):
            self.binder._check_clauses(item, "this derived table")
            if item.args.get("pivots"):
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "PIVOT / UNPIVOT is not supported by the local engine", item
                )
            inner = self.binder.query(item.this, "derived", None, ctes)
            alias = item.alias.lower() if item.alias else ""
            return self.derived(item, inner, alias, alias_columns(item))
        if isinstance(item, exp.Values):
            return self.values(item, scope)
        if isinstance(item, exp.Unnest):
            return self.unnest(item, scope)
        if isinstance(item, exp.Lateral):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "LATERAL subqueries are not supported", item
            )
        raise self.binder.refuse(
            Reason.DISALLOWED_CONSTRUCT, "this FROM item is not supported by the local engine", item
        )

    def table(
        self, item: exp.Table, table: Table, alias: str, columns: list[str] | None, scope: QueryScope
    ) -> Relation:
        if len(self.binder.refs) >= self.binder.limits.references:
            raise self.binder.refuse(
                Reason.OTHER,
                f"the query reads configured tables in more than {self.binder.limits.references} places "
                "(each CTE reference counts); simplify it",
                item,
            )
        ref = TableRef(len(self.binder.refs), table, item, scope, emitted=scope.role != "unused")
        self.binder.refs.append(ref)
        names = list(table.columns)
        if columns is not None and len(columns) != len(names):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                f"the column list of {alias} names {len(columns)} columns; "
                f"table {table.name} has {len(names)}",
                item,
            )
        outs = []
        for index, column in enumerate(names):
            value = Value(
                reads=frozenset({(table.name, column)}),
                tested=frozenset({(table.name, column)}),
                direct=frozenset({(ref.number, column)}),
                leaves=1,
                nulls_like=True,
                type=type_of(table.columns[column]),
            )
            outs.append(Out(columns[index] if columns else column, value, column))
        item.set("alias", exp.TableAlias(this=exp.to_identifier(ref.alias, quoted=True)))
        item.set("this", exp.to_identifier(table.name, quoted=True))
        return Relation(alias, ref.alias, outs, ref=ref)

    def cte_reference(
        self, item: exp.Table, cte: exp.CTE, alias: str, columns: list[str] | None, scope: QueryScope
    ) -> Relation:
        self.binder._used.add(id(cte))
        env = next(env for c, env in self.binder._ctes if c is cte)
        pristine = self.binder._pristine.get(id(cte))
        body = pristine.copy() if pristine is not None else cte.this
        binder = self.binder
        if binder._cte_depth >= binder.limits.cte_depth:
            raise binder.refuse(
                Reason.OTHER,
                f"CTEs read one another more than {binder.limits.cte_depth} deep (the local engine's "
                "limit); read the base tables in fewer steps",
                item,
            )
        binder._cte_depth += 1
        try:
            inner = binder.query(body, "derived" if scope.role != "unused" else "unused", None, env)
        finally:
            binder._cte_depth -= 1
        names = alias_columns(cte)
        relation = self.named(inner, alias, names)
        if columns is not None:
            relation = self.named(inner, alias, columns, relation.outs)
        subquery = exp.Subquery(
            this=inner.node, alias=exp.TableAlias(this=exp.to_identifier(relation.canonical, quoted=True))
        )
        same_span(subquery, item)
        item.replace(subquery)
        return relation

    def derived(
        self, item: exp.Subquery, inner: QueryScope, alias: str, columns: list[str] | None
    ) -> Relation:
        relation = self.named(inner, alias, columns)
        item.set("alias", exp.TableAlias(this=exp.to_identifier(relation.canonical, quoted=True)))
        return relation

    def named(
        self, inner: QueryScope, alias: str, columns: list[str] | None, outs: list[Out] | None = None
    ) -> Relation:
        source = outs if outs is not None else inner.outs
        if columns is not None and len(columns) != len(source):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                f"the column list of {alias or 'a derived table'} names {len(columns)} columns; "
                f"it has {len(source)}",
                inner.node,
            )
        named = [Out(columns[i] if columns else o.name, o.value, o.canonical) for i, o in enumerate(source)]
        return Relation(alias, self.binder._canonical(), named, query=inner)

    def values(self, item: exp.Values, scope: QueryScope) -> Relation:
        self.binder._check_clauses(item, "VALUES")
        rows = item.expressions
        names = alias_columns(item)
        width = len(rows[0].expressions) if rows and isinstance(rows[0], exp.Tuple) else 0
        if not width or any(not isinstance(r, exp.Tuple) or len(r.expressions) != width for r in rows):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "an inline VALUES table has rows of equal width", item
            )
        if names is not None and len(names) != width:
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "the VALUES column list does not match its rows", item
            )
        kinds: list[Type] = []
        for row in rows:
            for position, cell in enumerate(row.expressions):
                value = self.binder.expressions.bind(cell, At(scope, "values"))
                if not value.constant:
                    raise self.binder.refuse(
                        Reason.DISALLOWED_CONSTRUCT, "an inline VALUES table holds constants only", cell
                    )
                if len(kinds) <= position:
                    kinds.append(value.type)
        canonical = self.binder._canonical()
        outs = [
            Out(
                names[i] if names else f"col{i + 1}",
                Value(constant=True, literal=True, type=kinds[i]),
                f"__c{i}",
            )
            for i in range(width)
        ]
        alias = alias_name(item)
        item.set("alias", table_alias(canonical, [o.canonical for o in outs]))
        return Relation(alias, canonical, outs)

    def unnest(self, item: exp.Unnest, scope: QueryScope) -> Relation:
        self.binder._check_clauses(item, "UNNEST")
        if len(item.expressions) != 1:
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "UNNEST takes one array", item)
        array = self.binder.expressions.bind(item.expressions[0], At(scope, "select"))
        self.binder.expressions.consequential(array, item, "the array of UNNEST")
        names = alias_columns(item) or ["col"]
        if len(names) != 1:
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "UNNEST makes one column", item)
        canonical = self.binder._canonical()
        element = changed(combine([array]), direct=frozenset(), nulls_like=False)
        alias = alias_name(item)
        item.set("alias", table_alias(canonical, ["__c0"]))
        return Relation(alias, canonical, [Out(names[0], element, "__c0")])

    def lateral_view(self, lateral: exp.Expr, scope: QueryScope) -> None:
        if not isinstance(lateral, exp.Lateral) or not lateral.args.get("view") or lateral.args.get("outer"):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "only LATERAL VIEW explode(...) is supported", lateral
            )
        self.binder.finding(
            Reason.DISALLOWED_CONSTRUCT, "LATERAL VIEW is not supported with these controls", lateral
        )
        self.binder._check_clauses(lateral, "LATERAL VIEW")
        call = lateral.this
        if not isinstance(call, exp.Explode) or type(call) is not exp.Explode:
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, "only LATERAL VIEW explode(...) is supported", lateral
            )
        array = self.binder.expressions.bind(call.this, At(scope, "select"))
        self.binder.expressions.consequential(array, lateral, "the array of LATERAL VIEW explode")
        names = alias_columns(lateral) or ["col"]
        if len(names) != 1:
            raise self.binder.refuse(Reason.DISALLOWED_CONSTRUCT, "explode makes one column", lateral)
        canonical = self.binder._canonical()
        element = changed(combine([array]), direct=frozenset(), nulls_like=False)
        alias = alias_name(lateral)
        lateral.set("alias", table_alias(canonical, ["__c0"]))
        scope.relations.append(Relation(alias, canonical, [Out(names[0], element, "__c0")]))

    def join(self, join: exp.Join, scope: QueryScope, ctes: Mapping[str, exp.CTE]) -> None:
        self.binder._check_clauses(join, "this join")
        join.set("hint", None)
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        method = (join.method or "").upper()
        if method not in ("", "NATURAL") or kind not in ("", "INNER", "OUTER", "CROSS", "SEMI", "ANTI"):
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT, f"{method or kind} joins are not supported", join
            )
        if kind in ("SEMI", "ANTI"):
            self.binder.finding(
                Reason.DISALLOWED_CONSTRUCT, f"LEFT {kind} joins are not supported with these controls", join
            )
        before = [r for r in scope.relations if not r.hidden]
        relation = self.relation(join.this, scope, ctes)
        scope.relations.append(relation)
        scope.joins.append((join, relation))
        using = [i.name.lower() for i in join.args.get("using") or []]
        if method == "NATURAL":
            mine = {o.name for o in relation.outs}
            using = [name for name in visible_names(before) if name in mine]
            join.set("method", None)
        if using and side == "FULL":
            raise self.binder.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "FULL OUTER JOIN with USING or NATURAL is not supported; write ON",
                join,
            )
        if using:
            if join.args.get("on") is not None:
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, "a join has USING or ON, not both", join
                )
            join.set("on", self.using(join, before, relation, using, side))
            join.set("using", None)
        elif join.args.get("on") is not None:
            self.binder.expressions.bind(join.args["on"], At(scope, "on", boolean=True))
        if side in ("LEFT", "FULL"):
            relation.nullable = True
        if side in ("RIGHT", "FULL"):
            for other in before:
                other.nullable = True
        if kind in ("SEMI", "ANTI"):
            relation.hidden = True

    def using(
        self, join: exp.Join, before: list[Relation], right: Relation, names: list[str], side: str
    ) -> exp.Expr:
        """``USING (k)`` / NATURAL as ``ON l.k = r.k``; unqualified ``k`` then means the merged column."""
        conditions: list[exp.Expr] = []
        for name in names:
            left = [(r, o) for r in before for o in r.outs if o.name == name and not o.shadowed]
            mine = [o for o in right.outs if o.name == name]
            if len(left) != 1 or len(mine) != 1:
                raise self.binder.refuse(
                    Reason.DISALLOWED_CONSTRUCT, f"USING ({name}) must name one column on each side", join
                )
            (lrel, lout), rout = left[0], mine[0]
            l_col = exp.column(lout.canonical, table=lrel.canonical, quoted=True)
            r_col = exp.column(rout.canonical, table=right.canonical, quoted=True)
            self.binder.remember(l_col, lout.value)
            self.binder.remember(r_col, rout.value)
            condition = exp.EQ(this=l_col, expression=r_col)
            same_span(condition, join)
            self.binder.expressions.record(classify(condition, [lout.value, rout.value], what="a USING join"))
            self.binder.remember(condition, combine([lout.value, rout.value]))
            conditions.append(condition)
            # The merged column is both columns (they are equal on every joined row), so its
            # lineage is both: SELECT k FROM a JOIN (SELECT email AS k ...) USING (k) outputs email.
            merged = union([lout.value, rout.value])
            kept, dropped = (rout, lout) if side == "RIGHT" else (lout, rout)
            dropped.shadowed = True
            keeper = lrel if kept is lout else right
            keeper.outs = [
                Out(o.name, merged, o.canonical, o.shadowed) if o is kept else o for o in keeper.outs
            ]
        return exp.and_(*conditions, copy=False) if len(conditions) > 1 else conditions[0]


def same_span(new: exp.Expr, original: exp.Expr) -> None:
    """A node the binder made in place of ``original`` quotes the same query text in refusals."""
    for key in ("span", "written"):
        if key in original.meta:
            new.meta[key] = original.meta[key]


def alias_columns(node: exp.Expr) -> list[str] | None:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return [c.name.lower() for c in alias.columns]
    return None


def alias_name(node: exp.Expr) -> str:
    alias = node.args.get("alias")
    return alias.name.lower() if isinstance(alias, exp.TableAlias) and alias.this is not None else ""


def table_alias(name: str, columns: list[str]) -> exp.TableAlias:
    return exp.TableAlias(
        this=exp.to_identifier(name, quoted=True),
        columns=[exp.to_identifier(c, quoted=True) for c in columns],
    )


def visible_names(relations: list[Relation]) -> list[str]:
    seen: list[str] = []
    for relation in relations:
        for out in relation.outs:
            if out.name not in seen:
                seen.append(out.name)
    return seen
