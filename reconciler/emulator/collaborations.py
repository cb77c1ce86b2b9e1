"""Collaborations, members and memberships: the multi-account lifecycle of the service.

A collaboration record belongs to its creator. Each invited account (the creator included) has a
``member`` record (``<collaboration id>/<account>``) whose status goes INVITED -> ACTIVE
(CreateMembership) -> LEFT (DeleteMembership) or REMOVED (DeleteMember by the creator); a
member who left or was removed cannot join again. A membership record belongs to the member's
account; its status is ACTIVE, REMOVED (left or removed) or COLLABORATION_DELETED, and it stays
readable by its owner after that, as on AWS (filter ListMemberships with ``status``).
Caller-relative fields (``memberStatus``, ``membershipId``) are filled in per request.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import invariants
from reconciler.emulator.context import PRESENT, RequestContext
from reconciler.emulator.errors import access_denied, conflict, validation
from reconciler.emulator.registry import operation
from reconciler.emulator.resource_types import input_fields, listing, new_id, output_fields, summary_fields
from reconciler.emulator.store import Record

__all__ = ["DEFAULT_ENGINE", "collaboration_view", "new_member"]

#: The engine of a collaboration created without ``analyticsEngine``: SPARK, the only engine AWS
#: still offers new collaborations (Clean Rooms SQL closed to them after 2025-07-16 and its
#: support ended in December 2025), so AWS's default is taken to be SPARK as well.
DEFAULT_ENGINE = "SPARK"

_COLLAB_KEY, _COLLAB_FIELDS = output_fields("GetCollaboration")
_COLLAB_LIST_KEY, _COLLAB_SUMMARY = summary_fields("ListCollaborations")
_MEMBERSHIP_KEY, _MEMBERSHIP_FIELDS = output_fields("GetMembership")
_MEMBERSHIP_LIST_KEY, _MEMBERSHIP_SUMMARY = summary_fields("ListMemberships")
_MEMBERS_KEY, _MEMBER_SUMMARY = summary_fields("ListMembers")
_MEMBERSHIP_UPDATABLE = input_fields("UpdateMembership")


def collaboration_view(ctx: RequestContext, record: Record, fields: tuple[str, ...]) -> dict[str, Any]:
    """The collaboration as the caller sees it (its own memberStatus and membership)."""
    member = ctx.member(record["id"], ctx.account_id) or {}
    extra = {
        "memberStatus": member.get("status", "INVITED"),
        "membershipId": member.get("membershipId"),
        "membershipArn": member.get("membershipArn"),
    }
    return ctx.view({**record, **extra}, fields)


def new_member(ctx: RequestContext, collaboration_id: str, spec: dict[str, Any]) -> Record:
    """A member record (status INVITED) from a MemberSpecification-like dict."""
    now = ctx.timestamp()
    record: Record = {
        "collaborationId": collaboration_id,
        "accountId": spec["accountId"],
        "status": "INVITED",
        "displayName": spec.get("displayName") or spec["accountId"],
        "abilities": list(spec.get("memberAbilities", [])),
        "createTime": now,
        "updateTime": now,
    }
    if spec.get("mlMemberAbilities"):
        record["mlAbilities"] = spec["mlMemberAbilities"]
    if spec.get("paymentConfiguration"):
        record["paymentConfiguration"] = spec["paymentConfiguration"]
    return record


def _put_member(ctx: RequestContext, member: Record) -> None:
    ctx.store.put("member", f"{member['collaborationId']}/{member['accountId']}", member)


# -- collaborations -----------------------------------------------------------------------------


@operation("CreateCollaboration")
def create_collaboration(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create a collaboration; every listed account (and the creator) becomes an INVITED member."""
    invariants.clean_rooms_sql_still_open(ctx, params.get("analyticsEngine"))
    specs = params["members"]
    invariants.distinct_member_accounts(ctx.account_id, (m["accountId"] for m in specs))
    invariants.members_per_collaboration(ctx, len(specs))
    invariants.collaborations_per_account(ctx)
    cid = new_id()
    creator = new_member(
        ctx,
        cid,
        {
            "accountId": ctx.account_id,
            "displayName": params["creatorDisplayName"],
            "memberAbilities": params["creatorMemberAbilities"],
            "mlMemberAbilities": params.get("creatorMLMemberAbilities"),
            "paymentConfiguration": params.get("creatorPaymentConfiguration"),
        },
    )
    members = [creator] + [new_member(ctx, cid, spec) for spec in specs]
    invariants.one_querier(members)
    invariants.query_compute_payers(members)
    now = ctx.timestamp()
    record: Record = {
        "id": cid,
        "arn": ctx.arn(f"collaboration/{cid}"),
        "creatorAccountId": ctx.account_id,
        "createTime": now,
        "updateTime": now,
        "_account": ctx.account_id,
        "_tags": dict(params.get("tags") or {}),
    }
    for key in ("name", "description", "creatorDisplayName", "dataEncryptionMetadata", "queryLogStatus"):
        if params.get(key) is not None:
            record[key] = params[key]
    for key in ("jobLogStatus", "allowedResultRegions", "isMetricsEnabled"):
        if params.get(key) is not None:
            record[key] = params[key]
    record["analyticsEngine"] = params.get("analyticsEngine") or DEFAULT_ENGINE
    if params.get("autoApprovedChangeRequestTypes") is not None:
        record["autoApprovedChangeTypes"] = params["autoApprovedChangeRequestTypes"]
    ctx.store.put("collaboration", cid, record)
    for member in members:
        _put_member(ctx, member)
    return {_COLLAB_KEY: collaboration_view(ctx, record, _COLLAB_FIELDS)}


@operation("GetCollaboration")
def get_collaboration(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """A collaboration the caller was invited to or joined."""
    record = ctx.visible_collaboration(params["collaborationIdentifier"])
    return {_COLLAB_KEY: collaboration_view(ctx, record, _COLLAB_FIELDS)}


@operation("ListCollaborations")
def list_collaborations(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Collaborations where the caller is INVITED or ACTIVE (optionally only one of them)."""
    wanted = (params["memberStatus"],) if params.get("memberStatus") else PRESENT
    mine = [m for m in ctx.store.find("member", accountId=ctx.account_id) if m["status"] in wanted]
    records = [r for m in mine if (r := ctx.collaboration(m["collaborationId"])) is not None]
    return listing(
        ctx, records, params, _COLLAB_LIST_KEY, lambda r: collaboration_view(ctx, r, _COLLAB_SUMMARY)
    )


@operation("UpdateCollaboration")
def update_collaboration(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Change name, description or analytics engine (creator only)."""
    record = ctx.visible_collaboration(params["collaborationIdentifier"])
    invariants.creator_only(ctx, record, "update the collaboration")
    if (
        params.get("analyticsEngine") == "CLEAN_ROOMS_SQL"
        and record.get("analyticsEngine") != "CLEAN_ROOMS_SQL"
    ):
        invariants.clean_rooms_sql_still_open(ctx, "CLEAN_ROOMS_SQL")
    changes = {k: params[k] for k in ("name", "description", "analyticsEngine") if params.get(k) is not None}
    updated = {**record, **changes, "updateTime": ctx.timestamp()}
    ctx.store.put("collaboration", record["id"], updated)
    return {_COLLAB_KEY: collaboration_view(ctx, updated, _COLLAB_FIELDS)}


@operation("DeleteCollaboration")
def delete_collaboration(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Delete a collaboration (creator only); every membership becomes COLLABORATION_DELETED."""
    record = ctx.visible_collaboration(params["collaborationIdentifier"])
    invariants.creator_only(ctx, record, "delete the collaboration")
    cid = record["id"]
    now = ctx.timestamp()
    for membership in ctx.store.find("membership", collaborationId=cid):
        if membership["status"] == "ACTIVE":
            ctx.store.put(
                "membership",
                membership["id"],
                {**membership, "status": "COLLABORATION_DELETED", "updateTime": now},
            )
    for member in ctx.members(cid):
        ctx.store.delete("member", f"{cid}/{member['accountId']}")
    for request in ctx.store.find("change_request", collaborationId=cid):
        ctx.store.delete("change_request", request["id"])
    ctx.store.delete("collaboration", cid)


# -- members --------------------------------------------------------------------------------------


@operation("ListMembers")
def list_members(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Every member of a collaboration the caller belongs to, with status and abilities."""
    record = ctx.visible_collaboration(params["collaborationIdentifier"])
    return listing(
        ctx, ctx.members(record["id"]), params, _MEMBERS_KEY, lambda m: ctx.view(m, _MEMBER_SUMMARY)
    )


@operation("DeleteMember")
def delete_member(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Remove a member (creator only): status REMOVED, its membership REMOVED, no way back."""
    record = ctx.visible_collaboration(params["collaborationIdentifier"])
    invariants.creator_only(ctx, record, "remove members")
    account = params["accountId"]
    member = ctx.member(record["id"], account)
    if member is None:
        raise ctx.missing("COLLABORATION", account, f"member {account} of collaboration {record['id']}:")
    if account == record["creatorAccountId"]:
        raise validation("the collaboration creator cannot remove itself; delete the collaboration instead")
    if member["status"] not in PRESENT:
        raise conflict(
            f"member {account} is already {member['status']}",
            reason="INVALID_STATE",
            resource_id=record["id"],
            resource_type="COLLABORATION",
        )
    now = ctx.timestamp()
    _put_member(ctx, {**member, "status": "REMOVED", "updateTime": now})
    if member.get("membershipId"):
        membership = ctx.membership(member["membershipId"])
        if membership is not None:
            ctx.store.put(
                "membership", membership["id"], {**membership, "status": "REMOVED", "updateTime": now}
            )


# -- memberships ------------------------------------------------------------------------------------


@operation("CreateMembership")
def create_membership(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Join a collaboration the caller is invited to (INVITED -> ACTIVE)."""
    collaboration = ctx.collaboration(params["collaborationIdentifier"])
    if collaboration is None:
        raise ctx.missing("COLLABORATION", params["collaborationIdentifier"])
    cid = collaboration["id"]
    member = ctx.member(cid, ctx.account_id)
    if member is None:
        raise access_denied(f"account {ctx.account_id} is not invited to collaboration {cid}")
    if member["status"] == "ACTIVE":
        raise conflict(
            f"account {ctx.account_id} already has membership {member.get('membershipId')} "
            f"in collaboration {cid}",
            reason="ALREADY_EXISTS",
            resource_id=member.get("membershipId", ""),
            resource_type="MEMBERSHIP",
        )
    if member["status"] != "INVITED":
        raise access_denied(
            f"account {ctx.account_id} is {member['status']} from collaboration {cid}; a member who left or "
            "was removed cannot rejoin"
        )
    invariants.memberships_per_account(ctx)
    payment = invariants.membership_payment(member, params.get("paymentConfiguration"))
    invariants.membership_ml_payment(ctx.members(cid), member, params.get("paymentConfiguration"))
    invariants.result_configuration_needs_receiver(member, params)
    invariants.metrics_need_collaboration_metrics(collaboration, params)
    mid = new_id()
    now = ctx.timestamp()
    record: Record = {
        "id": mid,
        "arn": ctx.arn(f"membership/{mid}"),
        "collaborationArn": collaboration["arn"],
        "collaborationId": cid,
        "collaborationCreatorAccountId": collaboration["creatorAccountId"],
        "collaborationCreatorDisplayName": collaboration["creatorDisplayName"],
        "collaborationName": collaboration["name"],
        "createTime": now,
        "updateTime": now,
        "status": "ACTIVE",
        "memberAbilities": member["abilities"],
        "paymentConfiguration": payment,
        "_account": ctx.account_id,
        "_tags": dict(params.get("tags") or {}),
    }
    if member.get("mlAbilities"):
        record["mlMemberAbilities"] = member["mlAbilities"]
    for key in (
        "queryLogStatus",
        "jobLogStatus",
        "defaultResultConfiguration",
        "defaultJobResultConfiguration",
    ):
        if params.get(key) is not None:
            record[key] = params[key]
    if params.get("isMetricsEnabled") is not None:
        record["isMetricsEnabled"] = params["isMetricsEnabled"]
    ctx.store.put("membership", mid, record)
    _put_member(
        ctx,
        {
            **member,
            "status": "ACTIVE",
            "membershipId": mid,
            "membershipArn": record["arn"],
            "updateTime": now,
        },
    )
    return {_MEMBERSHIP_KEY: ctx.view(record, _MEMBERSHIP_FIELDS)}


@operation("GetMembership")
def get_membership(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """One of the caller's memberships (any status)."""
    return {_MEMBERSHIP_KEY: ctx.view(ctx.own_membership(params["membershipIdentifier"]), _MEMBERSHIP_FIELDS)}


@operation("ListMemberships")
def list_memberships(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The caller's memberships, optionally only those with ``status``."""
    records = ctx.store.find("membership", _account=ctx.account_id)
    if params.get("status"):
        records = [r for r in records if r["status"] == params["status"]]
    return listing(ctx, records, params, _MEMBERSHIP_LIST_KEY, lambda r: ctx.view(r, _MEMBERSHIP_SUMMARY))


@operation("UpdateMembership")
def update_membership(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Change log settings, default result configurations, or accepted payment responsibilities."""
    record = ctx.own_membership(params["membershipIdentifier"], active=True)
    member = ctx.member(record["collaborationId"], ctx.account_id)
    if member is not None:
        invariants.result_configuration_needs_receiver(member, params)
    changes = {k: params[k] for k in _MEMBERSHIP_UPDATABLE if params.get(k) is not None}
    payment = changes.pop("membershipPaymentConfiguration", None)
    if payment and member is not None:
        invariants.membership_ml_payment(ctx.members(record["collaborationId"]), member, payment)
    if payment:
        changes["paymentConfiguration"] = {**record["paymentConfiguration"], **payment}
    updated = {**record, **changes, "updateTime": ctx.timestamp()}
    ctx.store.put("membership", record["id"], updated)
    return {_MEMBERSHIP_KEY: ctx.view(updated, _MEMBERSHIP_FIELDS)}


@operation("DeleteMembership")
def delete_membership(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Leave the collaboration: needs no resources left under the membership; no rejoining."""
    record = ctx.own_membership(params["membershipIdentifier"])
    if record["status"] == "ACTIVE" and record["collaborationCreatorAccountId"] == ctx.account_id:
        raise conflict(
            "the collaboration creator cannot leave its collaboration; delete the collaboration instead",
            reason="INVALID_STATE",
            resource_id=record["id"],
            resource_type="MEMBERSHIP",
        )
    invariants.membership_has_no_subresources(ctx, record)
    now = ctx.timestamp()
    if record["status"] == "ACTIVE":
        ctx.store.put("membership", record["id"], {**record, "status": "REMOVED", "updateTime": now})
        member = ctx.member(record["collaborationId"], ctx.account_id)
        if member is not None:
            _put_member(ctx, {**member, "status": "LEFT", "updateTime": now})
    else:
        ctx.store.delete("membership", record["id"])
