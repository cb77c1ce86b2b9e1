"""What a differentially private query may look like (ANALYSIS_RULES.md 4.1 item 8), and its DPQuery.

The noise of ``reconciler.dp`` protects one user only if every row the mechanism bounds belongs
to one user of the DP table. So, reading the binder's facts and never the query's names:

- the user identifier is the base column named by ``differentialPrivacy`` of each DP table
  reference, passed through untransformed (a renamed column is fine; ``UUID() AS user_id``,
  ``CONCAT(user_id, '')`` or another column renamed ``user_id`` is not the user);
- every CTE and derived table over DP data keeps one user per row: it outputs the user
  identifier, groups (if it groups) by it, and has no window, QUALIFY, LIMIT, ORDER BY,
  generator or set operation;
- two relations over DP data are joined INNER, ON a conjunction that equates their user
  identifiers (no CROSS JOIN, no OR, no join on a transformed identifier);
- the final SELECT aggregates with COUNT, COUNT(DISTINCT ...), SUM, AVG or STDDEV, groups by
  columns other than the user, and post-processes only noisy values.

``check_shape`` refuses anything else (stage C2) before any data is read; ``build`` turns the
checked canonical tree into the ``reconciler.dp.DPQuery`` that ``dp.execute`` answers with noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlglot import exp

from reconciler.dp import AggregateType, DPQuery
from reconciler.dp.mechanism import DPAggregate
from reconciler.engine.functions import lookup
from reconciler.engine.scopes import Binding, QueryScope, Relation
from reconciler.engine.values import Origin, Value

__all__ = ["build", "check_shape"]

Refuse = Callable[..., Exception]

_SIMPLE: Mapping[str, AggregateType] = {
    "SUM": AggregateType.SUM,
    "AVG": AggregateType.AVG,
    "STDDEV": AggregateType.STDDEV,
    "STDDEV_SAMP": AggregateType.STDDEV,
}


def _users(binding: Binding, dp_tables: Mapping[str, str]) -> set[Origin]:
    return {(r.number, dp_tables[r.table.name]) for r in binding.refs if r.table.name in dp_tables}


def _is_user(value: Value | None, users: set[Origin]) -> bool:
    """The value is a DP table's user identifier, untransformed (``USING`` may merge it with an
    equal column of another table: it is still the identifier)."""
    return value is not None and bool(value.direct & users)


def _reads_dp(relation: Relation, binding: Binding, dp_tables: Mapping[str, str]) -> bool:
    if relation.ref is not None:
        return relation.ref.table.name in dp_tables
    scope = relation.query
    return scope is not None and any(
        _reads_dp(r, binding, dp_tables) for leaf in scope.leaves() for r in leaf.relations
    )


def check_shape(binding: Binding, dp_tables: Mapping[str, str], refuse: Refuse) -> None:
    """Stage C2: refuse a query whose shape lets one user's rows escape the contribution bound.

    Args:
        binding: the bound query.
        dp_tables: association name -> user identifier column of every DP table it may read.
        refuse: ``refuse(message, node, hint="")`` builds the refusal.

    Raises:
        QueryRejected: the query is not one DP can answer.
    """
    columns = set(dp_tables.values())
    if len(columns) != 1:
        raise refuse(
            "all differential-privacy tables must use the same user identifier column, got "
            + ", ".join(sorted(columns)),
            None,
        )
    users = _users(binding, dp_tables)
    root = binding.root
    if not root.is_select:
        raise refuse("the final statement must be one SELECT (set operators are not supported)", root.node)
    for scope in binding.emitted():
        if scope.role == "subquery":
            raise refuse(
                "subqueries are supported only in FROM and JOIN",
                scope.node,
                "move the subquery into a WITH clause and join it",
            )
        if not scope.is_select and _scope_reads_dp(scope, binding, dp_tables):
            raise refuse("set operators are not supported over differential-privacy data", scope.node)
    for scope in binding.emitted():
        if scope is root or not scope.is_select or not _scope_reads_dp(scope, binding, dp_tables):
            continue
        _user_level(scope, binding, dp_tables, users, refuse)
    _final(root, binding, dp_tables, users, refuse)


def _scope_reads_dp(scope: QueryScope, binding: Binding, dp_tables: Mapping[str, str]) -> bool:
    return any(_reads_dp(r, binding, dp_tables) for leaf in scope.leaves() for r in leaf.relations)


def _user_level(
    scope: QueryScope, binding: Binding, dp_tables: Mapping[str, str], users: set[Origin], refuse: Refuse
) -> None:
    """A CTE or derived table over DP data keeps one user per row and outputs the user identifier."""
    node = scope.node
    where = "a CTE or derived table over differential-privacy data"
    if scope.windowed or node.args.get("qualify"):
        raise refuse(f"window functions and QUALIFY are not supported in {where}", node)
    for key in ("limit", "offset", "order"):
        if node.args.get(key) is not None:
            raise refuse(f"{key.upper()} is not supported in {where}", node.args[key])
    if scope.generators or node.args.get("laterals"):
        raise refuse(f"generators (explode, LATERAL VIEW) are not supported in {where}", node)
    _joins(scope, binding, dp_tables, users, refuse)
    if not any(_is_user(out.value, users) for out in scope.outs):
        user = next(iter(dp_tables.values()))
        raise refuse(
            f"{where} does not output the user identifier column {user!r} (as a plain column)",
            node,
            f"add {user} to its SELECT list",
        )
    if scope.aggregated and not any(_is_user(v, users) for v in scope.group_keys):
        user = next(iter(dp_tables.values()))
        raise refuse(
            f"{where} aggregates across users",
            node,
            f"GROUP BY {user}, ... so that each row still belongs to one user",
        )


def _joins(
    scope: QueryScope, binding: Binding, dp_tables: Mapping[str, str], users: set[Origin], refuse: Refuse
) -> None:
    """Relations over DP data are joined INNER on an equality of their user identifiers."""
    first = scope.relations[0] if scope.relations else None
    dp_seen = first is not None and _reads_dp(first, binding, dp_tables)
    for join, relation in scope.joins:
        is_dp = _reads_dp(relation, binding, dp_tables)
        if is_dp and dp_seen:
            kind = (join.kind or "").upper()
            if join.side or kind not in ("", "INNER") or join.args.get("on") is None:
                raise refuse(
                    "two relations over differential-privacy data must be joined INNER with an equality "
                    "on the "
                    "user identifier",
                    join,
                )
            on = join.args["on"]
            if any(isinstance(n, exp.Or) for n in on.find_all(exp.Or)):
                raise refuse("OR is not supported in a join of differential-privacy relations", join)
            terms = list(on.flatten()) if isinstance(on, exp.And) else [on]
            if not any(
                isinstance(t, exp.EQ)
                and _is_user(binding.value(t.this), users)
                and _is_user(binding.value(t.expression), users)
                for t in terms
            ):
                user = next(iter(dp_tables.values()))
                raise refuse(
                    f"two differential-privacy relations must be joined with an equality on {user}",
                    join,
                )
        dp_seen = dp_seen or is_dp


def _final(
    root: QueryScope, binding: Binding, dp_tables: Mapping[str, str], users: set[Origin], refuse: Refuse
) -> None:
    node = root.node
    if not any(_reads_dp(r, binding, dp_tables) for r in root.relations):
        raise refuse(
            "the final SELECT must read the differential-privacy table (or a CTE over it) in FROM or JOIN",
            node,
        )
    if root.windowed or node.args.get("qualify"):
        raise refuse("window functions are not supported in the final SELECT", node)
    if root.generators or node.args.get("laterals"):
        raise refuse("generators (explode, LATERAL VIEW) are not supported with differential privacy", node)
    _joins(root, binding, dp_tables, users, refuse)
    user_columns = {
        (r.table.name, dp_tables[r.table.name]) for r in binding.refs if r.table.name in dp_tables
    }
    for value, key in zip(
        root.group_keys, (node.args["group"].expressions if node.args.get("group") else []), strict=False
    ):
        if value.reads & user_columns:
            raise refuse(
                f"grouping by the user identifier column {next(iter(dp_tables.values()))!r} would release "
                "per-user values",
                key,
            )
    calls = [call for call, scope in binding.aggregate_calls if scope is root]
    if not calls:
        raise refuse(
            "the final SELECT over differential-privacy data must aggregate",
            node,
            "use COUNT, COUNT(DISTINCT ...), SUM, AVG or STDDEV",
        )
    for call in calls:
        _classify(call, binding, users, refuse)
    for item, out in zip(node.expressions, root.outs, strict=True):
        if out.value.reads & user_columns and not out.value.aggregated:
            raise refuse(
                "the final SELECT may not output the user identifier column "
                f"{next(iter(dp_tables.values()))!r}",
                item,
            )


def _classify(
    call: exp.Func, binding: Binding, users: set[Origin], refuse: Refuse, index: int = 0
) -> DPAggregate:
    text = call.sql()
    function = lookup(call)
    name = function.name if function is not None else call.sql_name().upper()
    if isinstance(call, exp.Count):
        arg = call.this
        if isinstance(arg, exp.Star) or arg is None:
            return DPAggregate(index, AggregateType.COUNT, text, None)
        if isinstance(arg, exp.Distinct):
            if len(arg.expressions) != 1:
                raise refuse("COUNT(DISTINCT ...) takes one expression", call)
            inner = arg.expressions[0]
            if _is_user(binding.value(inner), users):
                return DPAggregate(index, AggregateType.COUNT_DISTINCT, text, None, on_user=True)
            return DPAggregate(index, AggregateType.COUNT, text, inner, distinct=True)
        return DPAggregate(index, AggregateType.COUNT, text, arg)
    kind = _SIMPLE.get(name)
    if kind is None or not isinstance(call, exp.AggFunc):
        raise refuse(
            f"{name} is not a differentially private aggregate",
            call,
            "use COUNT, COUNT(DISTINCT ...), SUM, AVG or STDDEV",
        )
    if isinstance(call.this, exp.Distinct):
        raise refuse(f"{kind.value}(DISTINCT ...) is not supported", call)
    return DPAggregate(index, kind, text, call.this)


def build(
    binding: Binding, dp_tables: Mapping[str, str], refuse: Refuse, written: Callable[[exp.Expr], str]
) -> DPQuery:
    """The DPQuery of a query ``check_shape`` accepted (canonical names, no data read).

    Args:
        binding: the bound query (after the non-failing rewrite).
        dp_tables: association name -> user identifier column.
        refuse: as for ``check_shape`` (for SELECT items DP cannot post-process).
        written: a node's SQL as the user wrote it (for ``aggregationExpression``).
    """
    users = _users(binding, dp_tables)
    root = binding.root
    tree = root.node
    assert isinstance(tree, exp.Select)
    user_column = _user_column(root, binding, dp_tables, users)
    group = tree.args.get("group")
    keys = [k.copy() for k in group.expressions] if group else []
    found: dict[str, DPAggregate] = {}
    for call, scope in binding.aggregate_calls:
        if scope is not root:
            continue
        text = call.sql()
        if text not in found:
            agg = _classify(call, binding, users, refuse, len(found))
            found[text] = DPAggregate(
                agg.index, agg.kind, written(call) or text, agg.argument, agg.distinct, agg.on_user
            )
    post = _rewrite_post(tree, keys, found, refuse)
    rows = tree.copy()
    for key in ("with_", "group", "having", "order", "limit", "offset", "distinct"):
        rows.set(key, None)
    outputs: list[exp.Expr] = [exp.alias_(user_column, "__dp_uid", quoted=True, copy=False)]
    outputs += [exp.alias_(k.copy(), f"__dp_g{j}", quoted=True, copy=False) for j, k in enumerate(keys)]
    outputs += [
        exp.alias_(a.argument.copy(), f"__dp_a{a.index}", quoted=True, copy=False)
        for a in found.values()
        if a.argument is not None
    ]
    rows.set("expressions", outputs)
    return DPQuery((), rows, tuple(keys), tuple(found.values()), post)


def _user_column(
    root: QueryScope, binding: Binding, dp_tables: Mapping[str, str], users: set[Origin]
) -> exp.Expr:
    for relation in root.relations:
        if not _reads_dp(relation, binding, dp_tables):
            continue
        for out in relation.outs:
            if _is_user(out.value, users):
                return exp.column(out.canonical, table=relation.canonical, quoted=True)
    raise AssertionError("check_shape guarantees a DP relation with the user identifier")


def _rewrite_post(
    select: exp.Select, keys: Sequence[exp.Expr], aggregates: Mapping[str, DPAggregate], refuse: Refuse
) -> exp.Select:
    """The final SELECT reading ``__dp_out``: aggregates -> __dp_n{i}, group keys -> __dp_g{j}."""
    key_text = [k.sql() for k in keys]

    def replace(node: exp.Expr) -> exp.Expr:
        if node.sql() in aggregates and isinstance(node, exp.AggFunc):
            return exp.column(f"__dp_n{aggregates[node.sql()].index}")
        text = node.sql() if not isinstance(node, (exp.Literal, exp.Star)) else None
        if text is not None and text in key_text:
            return exp.column(f"__dp_g{key_text.index(text)}")
        if isinstance(node, exp.Column):
            raise refuse("a column must appear in GROUP BY or inside an aggregate", node)
        return node

    post = exp.Select()
    items = []
    for item in select.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        name = item.alias if isinstance(item, exp.Alias) else item.sql()
        items.append(exp.alias_(inner.copy().transform(replace), name, quoted=True, copy=False))
    post.set("expressions", items)
    post.set("distinct", select.args.get("distinct"))
    post.set("from_", exp.From(this=exp.to_table("__dp_out")))
    having = select.args.get("having")
    if having is not None:
        post.set("where", exp.Where(this=having.this.copy().transform(replace)))
    order = select.args.get("order")
    if order is not None:
        post.set("order", exp.Order(expressions=[o.copy().transform(replace) for o in order.expressions]))
    for key in ("limit", "offset"):
        if select.args.get(key) is not None:
            post.set(key, select.args[key].copy())
    return post
