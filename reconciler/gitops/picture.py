"""Picture: a stack drawn as boxes and arrows, for people who would rather look than read.

``build(stack, changes)`` turns a stack's desired Resources into a small graph of the things a
reviewer thinks in: collaborations, members (abilities, who pays), tables (rule type,
thresholds), associations, templates and privacy budgets. Edges are the planner's own
dependencies (``diff.dependency_graph``), collapsed onto those things and always drawn from
dependent to dependency (``member -> collaboration``, ``association -> table``,
``association -> member`` for a result receiver). A membership is drawn inside its member, an
analysis rule inside its table, a collaboration-level rule inside its association.

With Changes (a plan's or a review's), each box gets the status of what happens to it
(create, update, replace, delete) and deleted things are drawn from their ``before``
attributes. ``render.mermaid`` and ``render.dot`` draw a Picture; this module draws nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.planner import desired, diff
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.model import Action, Change, Impact
from reconciler.planner.resource import DesiredResource, Ref
from reconciler.spec import Stack

__all__ = ["Edge", "Node", "Picture", "STATUSES", "build"]

#: Node statuses, from a Change's Action (NO_OP and unplanned: "").
STATUSES: Mapping[Action, str] = {
    Action.CREATE: "create",
    Action.ADD_MEMBER: "create",
    Action.UPDATE: "update",
    Action.DELETE_THEN_CREATE: "replace",
    Action.CREATE_THEN_DELETE: "replace",
    Action.DELETE: "delete",
    Action.REMOVE_MEMBER: "delete",
}


@dataclass(frozen=True)
class Node:
    """One box: ``kind`` is collaboration, member, table, association, template or budget."""

    id: str
    kind: str
    title: str
    lines: tuple[str, ...]
    addresses: tuple[Address, ...]
    status: str = ""
    weakens: bool = False


@dataclass(frozen=True)
class Edge:
    """An arrow from a dependent to what it depends on, with a few words."""

    dependent: str
    dependency: str
    label: str


@dataclass(frozen=True)
class Picture:
    """Nodes (collaborations, then members, tables, associations, templates, budgets) and edges."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @property
    def planned(self) -> bool:
        """True when some node has a status (the picture shows changes)."""
        return any(n.status for n in self.nodes)


#: Kind -> (node kind, the address parts that name the node). Sub-resources join their parent's node.
_NODE_OF: Mapping[Kind, tuple[str, Callable[[Address], tuple[str, ...]]]] = {
    Kind.COLLABORATION: ("collaboration", lambda a: a.parts),
    Kind.MEMBER: ("member", lambda a: (a.part("member"),)),
    Kind.MEMBERSHIP: ("member", lambda a: (a.part("member"),)),
    Kind.CONFIGURED_TABLE: ("table", lambda a: a.parts),
    Kind.ANALYSIS_RULE: ("table", lambda a: a.parts),
    Kind.ASSOCIATION: ("association", lambda a: a.parts),
    Kind.ASSOCIATION_RULE: ("association", lambda a: a.parts),
    Kind.ANALYSIS_TEMPLATE: ("template", lambda a: a.parts),
    Kind.PRIVACY_BUDGET_TEMPLATE: ("budget", lambda a: a.parts),
}
#: The kinds whose own Change decides a node's status (the others only make it "update").
_PRIMARY = frozenset({Kind.COLLABORATION, Kind.MEMBER, Kind.CONFIGURED_TABLE, Kind.ASSOCIATION,
                      Kind.ANALYSIS_TEMPLATE, Kind.PRIVACY_BUDGET_TEMPLATE})  # fmt: skip
_ID_PREFIX = {"collaboration": "collab", "member": "member", "table": "table", "association": "assoc",
              "template": "tpl", "budget": "budget"}  # fmt: skip
_NODE_ORDER = ("collaboration", "member", "table", "association", "template", "budget")

#: (dependent Kind, dependency Kind) -> edge words; pairs inside one node are not drawn.
EDGE_LABELS: Mapping[tuple[Kind, Kind], str] = {
    (Kind.MEMBER, Kind.COLLABORATION): "member of",
    (Kind.MEMBERSHIP, Kind.COLLABORATION): "member of",
    (Kind.CONFIGURED_TABLE, Kind.MEMBER): "owned by",
    (Kind.ANALYSIS_RULE, Kind.ANALYSIS_TEMPLATE): "allows",
    (Kind.ASSOCIATION, Kind.MEMBERSHIP): "shared by",
    (Kind.ASSOCIATION, Kind.CONFIGURED_TABLE): "shares",
    (Kind.ASSOCIATION_RULE, Kind.MEMBERSHIP): "shared by",
    (Kind.ASSOCIATION_RULE, Kind.ANALYSIS_RULE): "shares",
    (Kind.ASSOCIATION_RULE, Kind.MEMBER): "results to",
    (Kind.ANALYSIS_TEMPLATE, Kind.MEMBERSHIP): "owned by",
    (Kind.ANALYSIS_TEMPLATE, Kind.ASSOCIATION): "reads",
    (Kind.PRIVACY_BUDGET_TEMPLATE, Kind.MEMBERSHIP): "owned by",
    (Kind.PRIVACY_BUDGET_TEMPLATE, Kind.ASSOCIATION): "budgets",
}


def _get(attrs: Mapping[str, Any], path: str) -> Any:
    value: Any = attrs
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _rule_lines(attrs: Mapping[str, Any]) -> list[str]:
    """A table rule in words: type, then its thresholds."""
    kind = str(attrs.get("analysisRuleType", ""))
    policy = _get(attrs, f"analysisRulePolicy.v1.{kind.lower()}") or {}
    lines = [f"rule {kind}"]
    for t in policy.get("aggregationThresholds") or []:
        lines.append(f"≥ {t.get('minimumIdentityCount')} distinct {', '.join(t.get('identityColumns', []))}")
    for c in policy.get("outputConstraints") or []:
        lines.append(f"≥ {c.get('minimum')} distinct {c.get('columnName')}")
    if policy.get("listColumns"):
        lines.append(f"lists {', '.join(policy['listColumns'])}")
    if policy.get("differentialPrivacy"):
        lines.append("differential privacy")
    analyses = [
        a.address.part("name") if isinstance(a, Ref) else str(a) for a in policy.get("allowedAnalyses", [])
    ]
    if analyses:
        lines.append(f"allows {', '.join(analyses)}")
    return lines


def _member_lines(attrs: Mapping[str, Any], address: Address, many: bool) -> list[str]:
    if address.kind is not Kind.MEMBER:
        return []
    where = f"{address.part('collaboration')}: " if many else ""
    abilities = ", ".join(attrs.get("memberAbilities") or []) or "no abilities"
    lines = [f"{where}{abilities}"]
    if _get(attrs, "paymentConfiguration.queryCompute.isResponsible"):
        lines.append("pays for queries")
    return lines


def _lines(resource: DesiredResource, many_collabs: bool) -> list[str]:
    """What one resource adds to its node's label."""
    attrs, kind = resource.attributes, resource.kind
    if kind is Kind.COLLABORATION:
        return [
            f"engine {attrs.get('analyticsEngine', 'default')}",
            f"query logs {attrs.get('queryLogStatus')}",
        ]
    if kind is Kind.MEMBER:
        return _member_lines(attrs, resource.address, many_collabs)
    if kind is Kind.CONFIGURED_TABLE:
        return [f"{len(attrs.get('allowedColumns', []))} columns"]
    if kind is Kind.ANALYSIS_RULE:
        return _rule_lines(attrs)
    if kind is Kind.ASSOCIATION:
        return [f"in {resource.address.part('collaboration')}"]
    if kind is Kind.PRIVACY_BUDGET_TEMPLATE:
        dp = _get(attrs, "parameters.differentialPrivacy")
        if dp:
            return [f"epsilon {dp.get('epsilon')}, noise {dp.get('usersNoisePerQuery')}"]
        return [str(attrs.get("privacyBudgetType", ""))]
    return []


def _title(kind: str, parts: tuple[str, ...], resources: Sequence[DesiredResource]) -> str:
    if kind == "member":
        name = next((r.attributes.get("displayName") for r in resources if r.kind is Kind.MEMBER), None)
        return f"{parts[0]} · {name}" if name else parts[0]
    if kind == "table":
        return f"{parts[1]} ({parts[0]})"
    if kind in ("association", "template"):
        return parts[-1]
    if kind == "budget":
        return f"privacy budget ({parts[1]})"
    return parts[0]


def _status(addresses: Iterable[Address], changes: Mapping[Address, Change]) -> tuple[str, bool]:
    found = [(a, changes[a]) for a in addresses if a in changes]
    weakens = any(c.impact is Impact.WEAKENS for _, c in found)
    primary = [STATUSES.get(c.action, "") for a, c in found if a.kind in _PRIMARY]
    for status in ("delete", "replace", "create"):
        if primary and all(p == status for p in primary):
            return status, weakens
    if any(STATUSES.get(c.action) for _, c in found):
        return "update", weakens
    return "", weakens


class _Ids:
    """Mermaid- and dot-safe node ids, unique, readable, stable for a given stack."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, tuple[str, ...]], str] = {}
        self.taken: set[str] = set()

    def __call__(self, kind: str, parts: tuple[str, ...]) -> str:
        key = (kind, parts)
        if key not in self.by_key:
            base = re.sub(r"[^A-Za-z0-9_]", "_", "_".join((_ID_PREFIX[kind], *parts)))
            candidate, n = base, 1
            while candidate in self.taken:
                n += 1
                candidate = f"{base}_{n}"
            self.taken.add(candidate)
            self.by_key[key] = candidate
        return self.by_key[key]


def build(stack: Stack, changes: Iterable[Change] = ()) -> Picture:
    """Draw a stack, coloured by what ``changes`` do to it.

    Args:
        stack: a valid stack (its desired resources are drawn).
        changes: Changes of a plan or a review; deleted resources are drawn from ``before``.

    Returns:
        The Picture (nodes in a fixed kind order, then by name; edges sorted).
    """
    by_address = {c.address: c for c in changes}
    resources = list(desired.resources(stack))
    present = {r.address for r in resources}
    resources += [
        DesiredResource(c.address, c.before, owner=c.owner)
        for c in by_address.values()
        if c.after is None and c.before is not None and c.address not in present
    ]
    resources = [r for r in resources if r.kind in _NODE_OF]  # Clean Rooms ML resources are not drawn (yet)
    many = len({r.address.parts[0] for r in resources if r.kind is Kind.COLLABORATION}) > 1
    ids = _Ids()
    groups: dict[str, list[DesiredResource]] = {}
    meta: dict[str, tuple[str, tuple[str, ...]]] = {}
    for resource in sorted(resources, key=lambda r: r.address):
        kind, name_of = _NODE_OF[resource.kind]
        node_id = ids(kind, name_of(resource.address))
        groups.setdefault(node_id, []).append(resource)
        meta[node_id] = (kind, name_of(resource.address))
    nodes = []
    for node_id, members in groups.items():
        kind, parts = meta[node_id]
        lines = [line for r in members for line in _lines(r, many)]
        status, weakens = _status((r.address for r in members), by_address)
        addresses = tuple(r.address for r in members)
        nodes.append(
            Node(node_id, kind, _title(kind, parts, members), tuple(lines), addresses, status, weakens)
        )
    edges = _edges(resources, ids)
    order = {k: i for i, k in enumerate(_NODE_ORDER)}
    nodes.sort(key=lambda n: (order[n.kind], n.addresses[0]))
    return Picture(tuple(nodes), edges)


def _edges(resources: Sequence[DesiredResource], ids: _Ids) -> tuple[Edge, ...]:
    """The dependency graph collapsed onto nodes, plus each table's owner (not a dependency in AWS)."""
    graph = diff.dependency_graph(resources)
    node_of = {}
    for r in resources:
        kind, name_of = _NODE_OF[r.kind]
        node_of[r.address] = ids(kind, name_of(r.address))
    found: set[tuple[str, str, str]] = set()
    for r in resources:
        targets = [(d.kind, node_of[d]) for d in graph.dependencies(r.address) if d in node_of]
        if r.kind is Kind.CONFIGURED_TABLE and r.owner:
            targets.append((Kind.MEMBER, ids("member", (r.owner,))))
        for kind, target in targets:
            label = EDGE_LABELS.get((r.kind, kind))
            if label is not None and target != node_of[r.address]:
                found.add((node_of[r.address], target, label))
    return tuple(Edge(*edge) for edge in sorted(found))
