"""diff + plan ordering on the example stack: each kind of spec change becomes the right plan."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.planner.addresses import parse
from reconciler.planner.model import Action, Impact, Plan
from reconciler.planner.resource import DesiredResource, Ref

from .helpers import change_of, edit, make_plan, observe, without

C = "retail-ad-campaign-analysis"


def step_ids(plan: Plan) -> list[list[str]]:
    return [[s.id for s in group] for group in plan.steps]


def position(plan: Plan, step_id: str) -> int:
    return next(i for i, group in enumerate(step_ids(plan)) if step_id in group)


def test_applied_spec_plans_nothing(retail: list[DesiredResource]) -> None:
    plan = make_plan(retail, observe(retail))
    assert plan.is_empty
    assert plan.steps == ()
    assert plan.unchanged == len(retail)


def test_fresh_stack_creates_everything_in_dependency_order(retail: list[DesiredResource]) -> None:
    plan = make_plan(retail, [])
    assert {c.action for c in plan.changes} == {Action.CREATE}
    ops = [s.operation for s in plan.all_steps]
    assert "CreateCollaboration" == ops[0]
    # members come with CreateCollaboration: no step of their own
    assert not any(s.address.kind.value == "member" for s in plan.all_steps)
    assert position(plan, f"create membership.{C}.adtech") > position(plan, f"create collaboration.{C}")
    assoc = f"create association.{C}.adtech.ad_impressions"
    assert position(plan, assoc) > position(plan, f"create membership.{C}.adtech")
    assert position(plan, assoc) > position(plan, "create configured_table.adtech.ad_impressions")
    assert position(plan, f"create association_rule.{C}.adtech.ad_impressions") > position(plan, assoc)
    step = next(s for s in plan.all_steps if s.id == assoc)
    assert step.params["membershipIdentifier"] == Ref(parse(f"membership.{C}.adtech"))
    assert step.owner == "adtech"


def test_updatable_field_plans_an_update_of_that_field_only(retail: list[DesiredResource]) -> None:
    address = f"association.{C}.adtech.ad_impressions"
    want = edit(retail, address, lambda a: a.update(roleArn="arn:aws:iam::987654321098:role/Other"))
    plan = make_plan(want, observe(retail))
    change = change_of(plan, address)
    assert change.action is Action.UPDATE
    assert [d.path for d in change.field_diffs] == ["roleArn"]
    (step,) = plan.all_steps
    assert step.operation == "UpdateConfiguredTableAssociation"
    assert step.params["roleArn"] == "arn:aws:iam::987654321098:role/Other"
    assert set(step.params) == {"membershipIdentifier", "configuredTableAssociationIdentifier", "roleArn"}


def test_tag_change_uses_tag_calls(retail: list[DesiredResource]) -> None:
    address = f"collaboration.{C}"
    want = edit(retail, address, lambda a: a.update(tags={"team": "ads", "cost": "1"}))
    plan = make_plan(want, observe(retail))
    assert [s.operation for s in plan.all_steps] == ["TagResource"]
    assert plan.all_steps[0].params["tags"] == {"team": "ads", "cost": "1"}
    want = edit(retail, address, lambda a: a.pop("tags"))
    plan = make_plan(want, observe(retail))
    assert [(s.operation, s.params["tagKeys"]) for s in plan.all_steps] == [("UntagResource", ["team"])]


def test_rule_type_change_replaces_rule_and_weakens(classic: list[DesiredResource]) -> None:
    address = "analysis_rule.retailer.purchases"

    def to_list(a: dict[str, Any]) -> None:
        a["analysisRuleType"] = "LIST"
        a["analysisRulePolicy"] = {
            "v1": {"list": {"joinColumns": ["hashed_email"], "listColumns": ["store_region"]}}
        }

    plan = make_plan(edit(classic, address, to_list), observe(classic), stack="classic")
    change = change_of(plan, address)
    assert change.action is Action.DELETE_THEN_CREATE
    assert "analysisRuleType" in change.requires_replace
    assert change.impact is Impact.WEAKENS
    assert "analysis rule type on purchases changed AGGREGATION -> LIST" in [
        f.reason for f in change.findings
    ]
    assert position(plan, f"create {address}") > position(plan, f"delete {address}")


def test_create_only_collaboration_field_replaces_everything_below_it(retail: list[DesiredResource]) -> None:
    want = edit(retail, f"collaboration.{C}", lambda a: a.update(queryLogStatus="DISABLED"))
    plan = make_plan(want, observe(retail))
    collab = change_of(plan, f"collaboration.{C}")
    assert collab.action is Action.DELETE_THEN_CREATE
    assert collab.requires_replace == ("queryLogStatus",)
    assert collab.irreversible
    membership = change_of(plan, f"membership.{C}.adtech")
    assert membership.action is Action.DELETE_THEN_CREATE
    assert "leaves the collaboration for ever" in membership.irreversible
    assert all(c.address.kind.value != "configured_table" for c in plan.changes)
    # children are deleted before the collaboration, and created after it
    assert position(plan, f"delete association.{C}.adtech.ad_impressions") < position(
        plan, f"delete membership.{C}.adtech"
    )
    assert position(plan, f"delete membership.{C}.adtech") < position(plan, f"delete collaboration.{C}")
    assert position(plan, f"delete collaboration.{C}") < position(plan, f"create collaboration.{C}")
    assert position(plan, f"create collaboration.{C}") < position(plan, f"create membership.{C}.adtech")
    # old members go with the old collaboration, new ones come with the new one: no member steps
    assert not any(s.address.kind.value == "member" for s in plan.all_steps)
    # the creator cannot leave: its membership goes with the collaboration, after its children
    assert f"delete membership.{C}.retailer" not in [s.id for s in plan.all_steps]
    assert change_of(plan, f"membership.{C}.retailer").deleted_with == parse(f"collaboration.{C}")
    assert position(plan, f"delete association.{C}.retailer.purchases") < position(
        plan, f"delete collaboration.{C}"
    )
    assert position(plan, f"create collaboration.{C}") < position(plan, f"create membership.{C}.retailer")
    delete = next(s for s in plan.all_steps if s.id == f"delete membership.{C}.adtech")
    assert delete.params == {"membershipIdentifier": f"id-membership.{C}.adtech"}
    assert delete.irreversible


def new_member(abilities: list[str]) -> DesiredResource:
    return DesiredResource(
        parse(f"member.{C}.agency"),
        {
            "accountId": "111122223333",
            "collaborationIdentifier": Ref(parse(f"collaboration.{C}")),
            "displayName": "Agency",
            "memberAbilities": abilities,
            "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
        },
        owner="retailer",
    )


def test_member_added_to_existing_collaboration_is_a_change_request(retail: list[DesiredResource]) -> None:
    plan = make_plan([*retail, new_member(["CAN_RECEIVE_RESULTS"])], observe(retail))
    change = change_of(plan, f"member.{C}.agency")
    assert change.action is Action.ADD_MEMBER
    assert change.impact is Impact.WEAKENS
    assert not change.blocked
    (step,) = plan.all_steps
    assert step.operation == "CreateCollaborationChangeRequest"
    assert step.params["changes"][0]["specification"]["member"]["accountId"] == "111122223333"
    assert step.params["changes"][0]["specificationType"] == "MEMBER"


@pytest.mark.parametrize("ability", ["CAN_QUERY", "CAN_RUN_JOB"])
def test_new_querier_on_existing_collaboration_is_blocked_not_replaced(
    retail: list[DesiredResource], ability: str
) -> None:
    plan = make_plan([*retail, new_member([ability])], observe(retail))
    change = change_of(plan, f"member.{C}.agency")
    assert change.blocked and "new collaboration" in change.blocked and ability in change.blocked
    assert not any(c.action.is_replace for c in plan.changes)
    assert plan.all_steps == ()
    with pytest.raises(PlanError, match="blocked"):
        plan.check_applicable()


def test_member_removed_is_irreversible_and_takes_its_membership_with_it(
    retail: list[DesiredResource],
) -> None:
    want = without(retail, f"member.{C}.adtech", f"membership.{C}.adtech")
    want = [r for r in want if "adtech" not in r.address.parts or r.address.kind.value == "configured_table"]
    want = [
        r
        for r in want
        if r.address.kind.value not in ("configured_table", "analysis_rule") or r.owner != "adtech"
    ]
    # a backend reports a member as owned by its own account; the creator must remove it
    have = [
        replace(r, owner="adtech") if r.address == parse(f"member.{C}.adtech") else r for r in observe(retail)
    ]
    plan = make_plan(want, have)
    member = change_of(plan, f"member.{C}.adtech")
    assert member.action is Action.REMOVE_MEMBER
    assert member.owner == "retailer" and member.account_id == "123456789012"
    assert member.irreversible
    step = next(s for s in plan.all_steps if s.address == member.address)
    assert step.operation == "DeleteMember"
    assert step.params == {"collaborationIdentifier": f"id-collaboration.{C}", "accountId": "987654321098"}
    assert step.irreversible
    # DeleteMember ends the membership too (REMOVED): the member is not also made to leave first,
    # which would leave nothing to remove; what it shares goes before the member does
    assert change_of(plan, f"membership.{C}.adtech").deleted_with == member.address
    assert f"delete membership.{C}.adtech" not in [s.id for s in plan.all_steps]
    assert position(plan, f"delete association.{C}.adtech.ad_impressions") < position(
        plan, f"delete member.{C}.adtech"
    )


def test_granting_receive_results_is_a_change_request(retail: list[DesiredResource]) -> None:
    address = f"member.{C}.adtech"
    want = edit(retail, address, lambda a: a.update(memberAbilities=[]))
    plan = make_plan(want, observe(retail))
    change = change_of(plan, address)
    assert change.action is Action.UPDATE and not change.blocked
    assert "revoke CAN_RECEIVE_RESULTS" in change.reason
    assert change.impact is Impact.STRENGTHENS
    (step,) = plan.all_steps
    assert step.operation == "CreateCollaborationChangeRequest"


def test_granting_query_to_existing_member_is_blocked(retail: list[DesiredResource]) -> None:
    address = f"member.{C}.adtech"
    want = edit(retail, address, lambda a: a["memberAbilities"].append("CAN_QUERY"))
    change = change_of(make_plan(want, observe(retail)), address)
    assert "cannot grant CAN_QUERY" in change.blocked


def test_unmanaged_resources_are_never_deleted(retail: list[DesiredResource]) -> None:
    stranger = replace(observe(retail)[0], address=parse("collaboration.someone-else"), managed=False)
    plan = make_plan(retail, [*observe(retail), stranger])
    assert plan.is_empty


def test_managed_resource_gone_from_spec_is_deleted_children_first(retail: list[DesiredResource]) -> None:
    address = f"association.{C}.adtech.ad_impressions"
    want = without(retail, address, f"association_rule.{C}.adtech.ad_impressions")
    plan = make_plan(want, observe(retail))
    assert change_of(plan, address).action is Action.DELETE
    assert change_of(plan, address).impact is Impact.STRENGTHENS
    assert step_ids(plan) == [[f"delete association_rule.{C}.adtech.ad_impressions"], [f"delete {address}"]]


def test_compare_specs_needs_no_backend(retail: list[DesiredResource]) -> None:
    from reconciler.planner.diff import compare_specs

    address = "analysis_rule.retailer.purchases"

    def lower(a: dict[str, Any]) -> None:
        a["analysisRulePolicy"]["v1"]["custom"]["aggregationThresholds"][0]["minimumIdentityCount"] = 10

    changes = [c for c in compare_specs(retail, edit(retail, address, lower)) if c.action is not Action.NO_OP]
    (change,) = changes
    assert change.action is Action.UPDATE
    assert change.findings[0].reason == "aggregation threshold on purchases lowered 25 -> 10"
