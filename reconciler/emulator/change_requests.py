"""Collaboration change requests: changing members and settings after creation.

The creator proposes 1-10 changes. Each change's types are derived from what it does (a new
account is ADD_MEMBER; gaining or losing CAN_RECEIVE_RESULTS is GRANT/REVOKE_RECEIVE_RESULTS_ABILITY;
an ML ability (``mlMemberAbilities``) is GRANT_/REVOKE_CAN_RECEIVE_MODEL_OUTPUT or _INFERENCE_OUTPUT;
a new auto-approval list is EDIT_AUTO_APPROVED_CHANGE_TYPES, ...). CAN_QUERY and CAN_RUN_JOB can
never be granted this way. If every type is in the collaboration's ``autoApprovedChangeTypes`` the
request is committed at once (``isAutoApproved``); otherwise it is PENDING until every other
active member APPROVEs (-> APPROVED) or one DENYs (-> DENIED); the creator may CANCEL it, and
COMMITs an APPROVED one, which applies the changes.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import invariants
from reconciler.emulator.collaborations import new_member
from reconciler.emulator.context import PRESENT, RequestContext
from reconciler.emulator.errors import access_denied, conflict, validation
from reconciler.emulator.registry import operation
from reconciler.emulator.resource_types import listing, new_id, output_fields, summary_fields
from reconciler.emulator.store import Record

__all__ = ["NOT_GRANTABLE"]

#: Abilities a change request can never give or take.
NOT_GRANTABLE = frozenset({"CAN_QUERY", "CAN_RUN_JOB"})
_TOGGLED = {
    "CAN_RECEIVE_RESULTS": ("GRANT_RECEIVE_RESULTS_ABILITY", "REVOKE_RECEIVE_RESULTS_ABILITY"),
    "CAN_EXPORT_QUERY_ANALYSIS_LOG": (
        "GRANT_EXPORT_QUERY_ANALYSIS_LOG_ABILITY",
        "REVOKE_EXPORT_QUERY_ANALYSIS_LOG_ABILITY",
    ),
}
#: Clean Rooms ML abilities (``mlMemberAbilities.customMLMemberAbilities``) and their change types.
_ML_TOGGLED = {
    "CAN_RECEIVE_MODEL_OUTPUT": ("GRANT_CAN_RECEIVE_MODEL_OUTPUT", "REVOKE_CAN_RECEIVE_MODEL_OUTPUT"),
    "CAN_RECEIVE_INFERENCE_OUTPUT": (
        "GRANT_CAN_RECEIVE_INFERENCE_OUTPUT",
        "REVOKE_CAN_RECEIVE_INFERENCE_OUTPUT",
    ),
}
_SPEC_MEMBER = {"MEMBER": "member", "COLLABORATION": "collaboration"}


def _ml_abilities(holder: dict[str, Any] | None) -> set[str]:
    return set((holder or {}).get("customMLMemberAbilities", []))


_KEY, _FIELDS = output_fields("GetCollaborationChangeRequest")
_LIST_KEY, _SUMMARY = summary_fields("ListCollaborationChangeRequests")


def _member_change_types(ctx: RequestContext, collaboration_id: str, spec: dict[str, Any]) -> list[str]:
    account = spec["accountId"]
    wanted = set(spec["memberAbilities"])
    member = ctx.member(collaboration_id, account)
    if member is None:
        forbidden = sorted(wanted & NOT_GRANTABLE)
        if forbidden:
            raise validation(
                f"a change request cannot add a member with {', '.join(forbidden)}; only the collaboration's "
                "original members can query or run jobs",
                field="changes.specification.member.memberAbilities",
            )
        return ["ADD_MEMBER"]
    if member["status"] not in PRESENT:
        raise validation(f"account {account} is {member['status']} and cannot rejoin the collaboration")
    current = set(member["abilities"])
    if (wanted ^ current) & NOT_GRANTABLE:
        raise validation(
            "CAN_QUERY and CAN_RUN_JOB cannot be granted or revoked by a change request",
            field="changes.specification.member.memberAbilities",
        )
    types = []
    toggles = [(_TOGGLED, wanted, current)]
    if "mlMemberAbilities" in spec:  # absent: the ML abilities stay as they are
        toggles.append(
            (_ML_TOGGLED, _ml_abilities(spec["mlMemberAbilities"]), _ml_abilities(member.get("mlAbilities")))
        )
    for table, want, have in toggles:
        for ability, (grant, revoke) in table.items():
            if ability in want and ability not in have:
                types.append(grant)
            elif ability in have and ability not in want:
                types.append(revoke)
    if not types:
        raise validation(f"the change for member {account} changes nothing")
    return types


def _changes(
    ctx: RequestContext, collaboration: Record, inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    changes = []
    added = 0
    for change in inputs:
        kind = change["specificationType"]
        given = next(iter(change["specification"]))
        if given != _SPEC_MEMBER[kind]:
            raise validation(
                f"specificationType {kind} does not match specification.{given}", field="changes"
            )
        spec = change["specification"][given]
        if kind == "MEMBER":
            types = _member_change_types(ctx, collaboration["id"], spec)
            added += types == ["ADD_MEMBER"]
        else:
            types = ["EDIT_AUTO_APPROVED_CHANGE_TYPES"]
        changes.append({**change, "types": types})
    invariants.members_per_collaboration(ctx, len(ctx.members(collaboration["id"])) - 1 + added)
    return changes


def _apply(ctx: RequestContext, collaboration: Record, changes: list[dict[str, Any]]) -> None:
    now = ctx.timestamp()
    cid = collaboration["id"]
    for change in changes:
        spec = change["specification"]
        if change["specificationType"] == "COLLABORATION":
            allowed = spec["collaboration"].get("autoApprovedChangeTypes", [])
            collaboration = {**collaboration, "autoApprovedChangeTypes": allowed, "updateTime": now}
            ctx.store.put("collaboration", cid, collaboration)
            continue
        member_spec = spec["member"]
        member = ctx.member(cid, member_spec["accountId"])
        if member is None:
            record = new_member(ctx, cid, member_spec)
            record.setdefault("paymentConfiguration", {"queryCompute": {"isResponsible": False}})
            ctx.store.put("member", f"{cid}/{record['accountId']}", record)
            continue
        abilities = list(member_spec["memberAbilities"])
        ml = {"customMLMemberAbilities": sorted(_ml_abilities(member_spec.get("mlMemberAbilities")))}
        changed = {
            "abilities": abilities,
            **({"mlAbilities": ml} if "mlMemberAbilities" in member_spec else {}),
        }
        ctx.store.put("member", f"{cid}/{member['accountId']}", {**member, **changed, "updateTime": now})
        membership = ctx.membership(member.get("membershipId", ""))
        if membership is not None:
            ml_view = {"mlMemberAbilities": ml} if "mlMemberAbilities" in member_spec else {}
            ctx.store.put(
                "membership",
                membership["id"],
                {**membership, "memberAbilities": abilities, **ml_view, "updateTime": now},
            )


@operation("CreateCollaborationChangeRequest")
def create_change_request(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Propose changes (creator only); auto-approved ones are committed at once."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    invariants.creator_only(ctx, collaboration, "request changes to the collaboration")
    changes = _changes(ctx, collaboration, params["changes"])
    auto = set(collaboration.get("autoApprovedChangeTypes", []))
    is_auto = all(set(c["types"]) <= auto for c in changes)
    approvers = [
        m["accountId"]
        for m in ctx.members(collaboration["id"])
        if m["status"] == "ACTIVE" and m["accountId"] != ctx.account_id
    ]
    now = ctx.timestamp()
    record: Record = {
        "id": new_id(),
        "collaborationId": collaboration["id"],
        "createTime": now,
        "updateTime": now,
        "isAutoApproved": is_auto,
        "changes": changes,
        "_account": ctx.account_id,
    }
    if is_auto:
        record["status"] = "COMMITTED"
        _apply(ctx, collaboration, changes)
    else:
        record["status"] = "PENDING" if approvers else "APPROVED"
        if approvers:
            record["approvals"] = {a: {"status": "PENDING"} for a in approvers}
    ctx.store.put("change_request", record["id"], record)
    return {_KEY: ctx.view(record, _FIELDS)}


def _request(ctx: RequestContext, params: dict[str, Any]) -> tuple[Record, Record]:
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    record = ctx.store.get("change_request", params["changeRequestIdentifier"])
    if record is None or record["collaborationId"] != collaboration["id"]:
        raise ctx.missing("COLLABORATION", params["changeRequestIdentifier"], "change request")
    return collaboration, record


def _expect(record: Record, *statuses: str, action: str) -> None:
    if record["status"] not in statuses:
        raise conflict(
            f"change request {record['id']} is {record['status']}; {action} needs {' or '.join(statuses)}",
            reason="INVALID_STATE",
            resource_id=record["id"],
        )


@operation("UpdateCollaborationChangeRequest")
def update_change_request(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """APPROVE / DENY (other members) or CANCEL / COMMIT (the creator)."""
    collaboration, record = _request(ctx, params)
    action = params["action"]
    now = ctx.timestamp()
    if action in ("APPROVE", "DENY"):
        approvals = dict(record.get("approvals", {}))
        if ctx.account_id not in approvals:
            raise access_denied(
                f"account {ctx.account_id} is not an approver of change request {record['id']}"
            )
        _expect(record, "PENDING", action=action)
        approvals[ctx.account_id] = {"status": "APPROVED" if action == "APPROVE" else "DENIED"}
        status = "DENIED" if action == "DENY" else record["status"]
        if status == "PENDING" and all(a["status"] == "APPROVED" for a in approvals.values()):
            status = "APPROVED"
        record = {**record, "approvals": approvals, "status": status, "updateTime": now}
    else:
        invariants.creator_only(ctx, collaboration, f"{action.lower()} change requests")
        if action == "CANCEL":
            _expect(record, "PENDING", "APPROVED", action=action)
            record = {**record, "status": "CANCELLED", "updateTime": now}
        else:
            _expect(record, "APPROVED", action=action)
            _apply(ctx, collaboration, record["changes"])
            record = {**record, "status": "COMMITTED", "updateTime": now}
    ctx.store.put("change_request", record["id"], record)
    return {_KEY: ctx.view(record, _FIELDS)}


@operation("GetCollaborationChangeRequest")
def get_change_request(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """One change request of a collaboration the caller belongs to."""
    _, record = _request(ctx, params)
    return {_KEY: ctx.view(record, _FIELDS)}


@operation("ListCollaborationChangeRequests")
def list_change_requests(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The collaboration's change requests by creation time, optionally of one status."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    records = ctx.store.find("change_request", collaborationId=collaboration["id"])
    if params.get("status"):
        records = [r for r in records if r["status"] == params["status"]]
    records.sort(key=lambda r: r["createTime"])
    return listing(ctx, records, params, _LIST_KEY, lambda r: ctx.view(r, _SUMMARY))
