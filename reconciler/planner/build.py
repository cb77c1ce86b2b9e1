"""The step builder: Changes in, a Plan out, with Steps in dependency order.

``build`` turns the Changes of ``diff.compute`` into Steps, one backend call each (a replacement
yields a delete and a create), and orders them: creates and updates follow dependency order,
deletes the reverse, replacements sit where both halves belong (a replaced parent's children are
deleted before it and re-created after it). Each Step names the Steps it needs
(``depends_on``); the Steps are also grouped so that each group only needs earlier groups.
The executor starts a Step as soon as the ones it needs have succeeded.

This module does not compute diffs, read state or call AWS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.planner import diff
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.graph import DependencyGraph
from reconciler.planner.model import Action, Change, Plan, Step
from reconciler.planner.moves import Move
from reconciler.planner.moves import apply as apply_moves
from reconciler.planner.normal_form import ADDRESS_TAG
from reconciler.planner.registry import complete_request, descriptor
from reconciler.planner.resource import DesiredResource, ObservedResource, Ref, fingerprint

__all__ = ["build", "from_resources"]


def _desired(change: Change) -> DesiredResource:
    return DesiredResource(
        change.address, change.after or {}, owner=change.owner, account_id=change.account_id
    )


def _observed(change: Change) -> ObservedResource:
    return ObservedResource(
        change.address,
        change.before or {},
        owner=change.owner,
        account_id=change.account_id,
        id=change.observed_id,
    )


def _literal(
    params: Mapping[str, Any], ids: Mapping[Address, str], own_id: str | None, address: Address
) -> dict[str, Any]:
    """Resolve Refs now (for deletes, which act on what exists at plan time)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, Ref) and v.field == "id":
            resolved = own_id if v.address == address else ids.get(v.address)
            out[k] = resolved if resolved is not None else v
        else:
            out[k] = v
    return out


def _collaboration_of(member: Address) -> Ref:
    return Ref(Address.of(Kind.COLLABORATION, member.part("collaboration")))


def _change_request(collaboration: Any, specs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"collaborationIdentifier": collaboration, "changes": list(specs)}


def _member_spec(after: Mapping[str, Any]) -> dict[str, Any]:
    fields = descriptor(Kind.MEMBER).fields
    return {k: v for k, v in after.items() if k in fields}


def _forward_steps(change: Change) -> list[tuple[str, str, dict[str, Any]]]:
    """(role, operation, params) for the create/update half of a change."""
    d = descriptor(change.kind)
    after = change.after or {}
    res = _desired(change)
    a = change.action
    if a in (Action.CREATE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE):
        if change.kind is Kind.MEMBER:
            return []  # members arrive with their collaboration's CreateCollaboration
        assert d.create is not None
        return [("create", d.create, d.request("create", res))]
    if a is Action.ADD_MEMBER:
        spec = {"specificationType": "MEMBER", "specification": {"member": _member_spec(after)}}
        return [
            (
                "change_request",
                "CreateCollaborationChangeRequest",
                _change_request(_collaboration_of(change.address), [spec]),
            )
        ]
    if a is not Action.UPDATE:
        return []
    changed = {fd.path.split(".", 1)[0].split("[", 1)[0] for fd in change.field_diffs}
    out: list[tuple[str, str, dict[str, Any]]] = []
    plain = sorted(f for f in changed if f in d.updatable and f != "tags" and f not in d.via_change_request)
    if plain and d.update:
        out.append(("update", d.update, d.request("update", res, fields=plain)))
    via = sorted(f for f in changed if f in d.via_change_request)
    if via:
        out.append(("change_request", "CreateCollaborationChangeRequest", _via_change_request(change, via)))
    if d.taggable and ("tags" in changed or change.moved_from is not None):
        new = dict(after.get("tags", {}))
        old = dict((change.before or {}).get("tags", {}))
        upserts = {k: v for k, v in new.items() if old.get(k) != v}
        if change.moved_from is not None:
            upserts[ADDRESS_TAG] = str(change.address)  # the identity tag follows the move
        removed = sorted(set(old) - set(new))
        arn = Ref(change.address, "arn")
        if upserts:
            out.append(("tag", "TagResource", {"resourceArn": arn, "tags": upserts}))
        if removed:
            out.append(("untag", "UntagResource", {"resourceArn": arn, "tagKeys": removed}))
    return out


def _via_change_request(change: Change, fields: Sequence[str]) -> dict[str, Any]:
    after = change.after or {}
    if change.kind is Kind.MEMBER:
        # The service infers GRANT_/REVOKE_RECEIVE_RESULTS_ABILITY (and the ML GRANT_/REVOKE_CAN_RECEIVE_*
        # types) from the new ability lists.
        member = {"accountId": after["accountId"], "memberAbilities": list(after.get("memberAbilities", []))}
        if "mlMemberAbilities" in fields:
            ml = (after.get("mlMemberAbilities") or {}).get("customMLMemberAbilities", [])
            member["mlMemberAbilities"] = {"customMLMemberAbilities": list(ml)}
        spec = {"specificationType": "MEMBER", "specification": {"member": member}}
        return _change_request(_collaboration_of(change.address), [spec])
    spec = {
        "specificationType": "COLLABORATION",
        "specification": {
            "collaboration": {
                "autoApprovedChangeTypes": list(after.get("autoApprovedChangeRequestTypes", []))
            }
        },
    }
    return _change_request(Ref(change.address, "id"), [spec])


def _delete_step(change: Change, ids: Mapping[Address, str]) -> tuple[str, str, dict[str, Any]] | None:
    d = descriptor(change.kind)
    if d.delete is None:
        return None
    params = d.request("delete", _observed(change))
    return ("delete", d.delete, _literal(params, ids, change.observed_id, change.address))


def _nearest(
    graph: DependencyGraph[Address], address: Address, deletes: Mapping[Address, str]
) -> set[Address]:
    """Dependents with a delete step, looking through those deleted with their parent."""
    found: set[Address] = set()
    pending = list(graph.dependents(address))
    seen: set[Address] = set()
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in deletes:
            found.add(node)
        else:
            pending.extend(graph.dependents(node))
    return found


def build(
    changes: Iterable[Change],
    graph: DependencyGraph[Address],
    *,
    stack: str,
    backend: str,
    spec_fingerprint: str = "",
    state_fingerprint: str = "",
    created_at: dt.datetime | None = None,
    as_member: str | None = None,
    spec_path: str = "",
    accounts: Mapping[str, str] | None = None,
) -> Plan:
    """Order Changes into a Plan.

    Args:
        changes: one Change per address (NO_OP ones included: they are counted, and their
            observed ids let delete steps name parents).
        graph: dependencies among desired AND observed resources (``diff.dependency_graph``).
        stack: stack name.
        backend: ``local`` or ``aws``.
        spec_fingerprint: ``fingerprint(desired)``.
        state_fingerprint: ``fingerprint(observed)``.
        created_at: the clock (UTC now when None).
        as_member: recorded for apply: the plan is (to be) restricted to this member.
        spec_path: recorded for apply: where the stack's spec lives (absolute).
        accounts: account id -> member key of the stack's members (for renderings).

    Returns:
        The Plan, Steps grouped in dependency order.

    Raises:
        GraphError: the steps' dependencies form a cycle.
    """
    all_changes = sorted(changes, key=lambda c: c.address)
    ids = {c.address: c.observed_id for c in all_changes if c.observed_id}
    by_address = {c.address: c for c in all_changes}
    steps: dict[str, Step] = {}
    forward: dict[Address, list[str]] = {}
    deletes: dict[Address, str] = {}
    for c in all_changes:
        if c.action is Action.NO_OP or c.blocked:
            continue
        for role, op, raw in _forward_steps(c):
            params = complete_request(op, raw, service=descriptor(c.kind).service)
            sid = f"{role} {c.address}"
            steps[sid] = Step(
                sid, c.address, role, op, params, owner=c.owner, account_id=c.account_id, region=c.region
            )
            forward.setdefault(c.address, []).append(sid)
        if (c.action in (Action.DELETE, Action.REMOVE_MEMBER) or c.action.is_replace) and not c.deleted_with:
            found = _delete_step(c, ids)
            if found is not None:
                role, op, params = found
                sid = f"delete {c.address}"
                steps[sid] = Step(
                    sid,
                    c.address,
                    role,
                    op,
                    params,
                    irreversible=c.irreversible,
                    prevent_destroy=c.prevent_destroy,
                    owner=c.owner,
                    account_id=c.account_id,
                    region=c.observed_region or c.region,
                )
                deletes[c.address] = sid

    order = DependencyGraph[str](steps)
    for address, sids in forward.items():
        # forward steps of one resource run in order (update before tag ...)
        for earlier, later in zip(sids, sids[1:], strict=False):
            order.add_dependency(dependent=later, dependency=earlier)
        for dep in graph.dependencies(address):
            for dep_sid in forward.get(dep, []):
                order.add_dependency(dependent=sids[0], dependency=dep_sid)
        change = by_address[address]
        if address in deletes:
            if change.action is Action.CREATE_THEN_DELETE:
                order.add_dependency(dependent=deletes[address], dependency=sids[-1])
            else:
                order.add_dependency(dependent=sids[0], dependency=deletes[address])
    for address, sid in deletes.items():
        for dependent in _nearest(graph, address, deletes):
            order.add_dependency(dependent=sid, dependency=deletes[dependent])
        for dependent in graph.dependents(address):
            # a dependent re-pointed by its own forward steps must be done before the old one goes
            if by_address.get(address) and by_address[address].action is Action.CREATE_THEN_DELETE:
                for dep_sid in forward.get(dependent, []):
                    order.add_dependency(dependent=sid, dependency=dep_sid)

    groups = order.creation_order()
    final = tuple(
        tuple(replace(steps[sid], depends_on=tuple(order.dependencies(sid))) for sid in group)
        for group in groups
    )
    when = created_at or dt.datetime.now(dt.UTC)
    return Plan(
        stack=stack,
        backend=backend,
        changes=tuple(c for c in all_changes if c.action is not Action.NO_OP),
        steps=final,
        unchanged=sum(1 for c in all_changes if c.action is Action.NO_OP),
        spec_fingerprint=spec_fingerprint,
        state_fingerprint=state_fingerprint,
        created_at=when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        as_member=as_member,
        spec_path=spec_path,
        accounts=dict(accounts or {}),
    )


def from_resources(
    desired: Sequence[DesiredResource],
    observed: Sequence[ObservedResource],
    *,
    stack: str,
    backend: str,
    created_at: dt.datetime | None = None,
    as_member: str | None = None,
    spec_path: str = "",
    accounts: Mapping[str, str] | None = None,
    moves: Sequence[Move] = (),
) -> Plan:
    """Diff desired against observed resources and order the Changes into a Plan.

    The plan records the fingerprints of both sides (what ``staleness`` compares later).

    Args:
        desired: the spec's resources (empty to plan a destroy).
        observed: what the backend read.
        stack, backend, created_at, as_member, spec_path, accounts: recorded as ``build`` does.
        moves: the spec's moves (``kind: Moved``), carried out on ``observed`` first.

    Returns:
        The Plan (every member's part; ``Plan.for_member`` keeps one member's).
    """
    moved = apply_moves(observed, moves)
    graph = diff.dependency_graph(desired, moved.resources)
    return build(
        diff.compute(desired, moved.resources, graph=graph, moved=moved),
        graph,
        stack=stack,
        backend=backend,
        spec_fingerprint=fingerprint(desired),
        state_fingerprint=fingerprint(observed),
        created_at=created_at,
        as_member=as_member,
        spec_path=spec_path,
        accounts=accounts,
    )
