"""Create/Get/List/Update/Delete of every resource kind, through boto3 only."""

from __future__ import annotations

import re
from typing import Any

from contract_helpers import (
    AGGREGATION_POLICY,
    LIST_POLICY,
    OWNER,
    PARTNER,
    ROLE,
    World,
    associate,
    create_collaboration,
    create_table,
    error_of,
    join,
)

from reconciler.aws_model import service_model

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _pattern(shape_name: str) -> re.Pattern[str]:
    return re.compile(service_model().shape_for(shape_name).metadata["pattern"])


def test_collaboration_round_trip(owner: Any, clock: Any) -> None:
    created = create_collaboration(owner, description="first", tags={"stack": "retail"})
    assert UUID.fullmatch(created["id"])
    assert _pattern("CollaborationArn").fullmatch(created["arn"])
    assert created["arn"] == f"arn:aws:cleanrooms:us-east-1:{OWNER}:collaboration/{created['id']}"
    assert created["createTime"] == clock.now
    assert created["memberStatus"] == "INVITED"
    clock.advance(minutes=5)
    updated = owner.update_collaboration(collaborationIdentifier=created["id"], name="renamed")[
        "collaboration"
    ]
    assert updated["name"] == "renamed" and updated["description"] == "first"
    assert updated["updateTime"] == clock.now and updated["createTime"] == created["createTime"]
    got = owner.get_collaboration(collaborationIdentifier=created["id"])["collaboration"]
    assert got["name"] == "renamed"
    listed = owner.list_collaborations()["collaborationList"]
    assert [c["id"] for c in listed] == [created["id"]]
    owner.delete_collaboration(collaborationIdentifier=created["id"])
    assert owner.list_collaborations()["collaborationList"] == []


def test_membership_round_trip(owner: Any, partner: Any) -> None:
    collaboration = create_collaboration(owner)
    membership = join(partner, collaboration["id"], tags={"k": "v"})
    assert _pattern("MembershipArn").fullmatch(membership["arn"])
    assert membership["arn"].split(":")[4] == PARTNER
    assert membership["status"] == "ACTIVE"
    assert membership["memberAbilities"] == ["CAN_QUERY", "CAN_RECEIVE_RESULTS"]
    assert membership["paymentConfiguration"] == {"queryCompute": {"isResponsible": True}}
    got = partner.get_membership(membershipIdentifier=membership["id"])["membership"]
    assert got == membership
    updated = partner.update_membership(membershipIdentifier=membership["id"], queryLogStatus="ENABLED")
    assert updated["membership"]["queryLogStatus"] == "ENABLED"
    assert [m["id"] for m in partner.list_memberships()["membershipSummaries"]] == [membership["id"]]
    seen = partner.get_collaboration(collaborationIdentifier=collaboration["id"])["collaboration"]
    assert seen["memberStatus"] == "ACTIVE" and seen["membershipId"] == membership["id"]
    partner.delete_membership(membershipIdentifier=membership["id"])
    assert partner.list_memberships(status="ACTIVE")["membershipSummaries"] == []


def test_configured_table_and_rule_round_trip(owner: Any) -> None:
    table = create_table(owner)
    assert _pattern("ConfiguredTableArn").fullmatch(table["arn"])
    assert table["analysisRuleTypes"] == [] and table["tableType"] == "GLUE"
    rule = owner.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"],
        analysisRuleType="AGGREGATION",
        analysisRulePolicy=AGGREGATION_POLICY,
    )["analysisRule"]
    assert rule["type"] == "AGGREGATION" and rule["policy"] == AGGREGATION_POLICY
    assert owner.get_configured_table(configuredTableIdentifier=table["id"])["configuredTable"][
        "analysisRuleTypes"
    ] == ["AGGREGATION"]
    policy = {"v1": {"aggregation": {**AGGREGATION_POLICY["v1"]["aggregation"], "scalarFunctions": ["ABS"]}}}
    owner.update_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="AGGREGATION", analysisRulePolicy=policy
    )
    got = owner.get_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="AGGREGATION"
    )
    assert got["analysisRule"]["policy"] == policy
    owner.update_configured_table(
        configuredTableIdentifier=table["id"], description="d", allowedColumns=["a", "b", "c", "d"]
    )
    assert owner.list_configured_tables()["configuredTableSummaries"][0]["id"] == table["id"]
    owner.delete_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="AGGREGATION"
    )
    assert (
        owner.get_configured_table(configuredTableIdentifier=table["id"])["configuredTable"][
            "analysisRuleTypes"
        ]
        == []
    )
    owner.delete_configured_table(configuredTableIdentifier=table["id"])
    assert owner.list_configured_tables()["configuredTableSummaries"] == []


def test_association_and_collaboration_rule_round_trip(owner: Any, world: World) -> None:
    assoc = world.association
    assert assoc["arn"].endswith(
        f"membership/{world.owner_membership['id']}/configuredtableassociation/{assoc['id']}"
    )
    assert _pattern("CleanroomsArn").fullmatch(assoc["arn"])
    args = {
        "membershipIdentifier": world.owner_membership["id"],
        "configuredTableAssociationIdentifier": assoc["id"],
    }
    policy = {"v1": {"list": {"allowedResultReceivers": [PARTNER]}}}
    created = owner.create_configured_table_association_analysis_rule(
        **args, analysisRuleType="LIST", analysisRulePolicy=policy
    )["analysisRule"]
    assert created["configuredTableAssociationArn"] == assoc["arn"] and created["policy"] == policy
    assert owner.get_configured_table_association(**args)["configuredTableAssociation"][
        "analysisRuleTypes"
    ] == ["LIST"]
    owner.update_configured_table_association_analysis_rule(
        **args,
        analysisRuleType="LIST",
        analysisRulePolicy={"v1": {"list": {"allowedResultReceivers": [OWNER]}}},
    )
    got = owner.get_configured_table_association_analysis_rule(**args, analysisRuleType="LIST")[
        "analysisRule"
    ]
    assert got["policy"]["v1"]["list"]["allowedResultReceivers"] == [OWNER]
    owner.delete_configured_table_association_analysis_rule(**args, analysisRuleType="LIST")
    updated = owner.update_configured_table_association(
        **args, description="x", roleArn=ROLE.format(account=OWNER) + "2"
    )
    assert updated["configuredTableAssociation"]["description"] == "x"
    listed = owner.list_configured_table_associations(membershipIdentifier=world.owner_membership["id"])
    assert [a["id"] for a in listed["configuredTableAssociationSummaries"]] == [assoc["id"]]
    owner.delete_configured_table_association(**args)
    assert (
        owner.list_configured_table_associations(membershipIdentifier=world.owner_membership["id"])[
            "configuredTableAssociationSummaries"
        ]
        == []
    )


def test_analysis_template_round_trip(partner: Any, world: World) -> None:
    mid = world.partner_membership["id"]
    template = partner.create_analysis_template(
        membershipIdentifier=mid,
        name="by_b",
        format="SQL",
        source={"text": "SELECT b FROM orders o JOIN other x ON o.a = x.a WHERE b = :v"},
        analysisParameters=[{"name": "v", "type": "VARCHAR"}],
    )["analysisTemplate"]
    assert _pattern("AnalysisTemplateArn").fullmatch(template["arn"])
    assert template["schema"] == {"referencedTables": ["orders", "other"]}
    assert template["collaborationId"] == world.collaboration["id"]
    args = {"membershipIdentifier": mid, "analysisTemplateIdentifier": template["id"]}
    assert partner.update_analysis_template(**args, description="d")["analysisTemplate"]["description"] == "d"
    assert partner.get_analysis_template(**args)["analysisTemplate"]["description"] == "d"
    assert len(partner.list_analysis_templates(membershipIdentifier=mid)["analysisTemplateSummaries"]) == 1
    partner.delete_analysis_template(**args)
    assert (
        error_of(lambda: partner.get_analysis_template(**args))["Error"]["Code"]
        == "ResourceNotFoundException"
    )


def test_privacy_budget_template_round_trip(owner: Any, world: World) -> None:
    mid = world.owner_membership["id"]
    created = owner.create_privacy_budget_template(
        membershipIdentifier=mid,
        privacyBudgetType="DIFFERENTIAL_PRIVACY",
        autoRefresh="CALENDAR_MONTH",
        parameters={"differentialPrivacy": {"epsilon": 3, "usersNoisePerQuery": 20}},
    )["privacyBudgetTemplate"]
    assert created["arn"].endswith(f"membership/{mid}/privacybudgettemplate/{created['id']}")
    args = {"membershipIdentifier": mid, "privacyBudgetTemplateIdentifier": created["id"]}
    updated = owner.update_privacy_budget_template(
        **args, privacyBudgetType="DIFFERENTIAL_PRIVACY", parameters={"differentialPrivacy": {"epsilon": 5}}
    )["privacyBudgetTemplate"]
    assert updated["parameters"] == {"differentialPrivacy": {"epsilon": 5, "usersNoisePerQuery": 20}}
    assert (
        owner.get_privacy_budget_template(**args)["privacyBudgetTemplate"]["parameters"]
        == updated["parameters"]
    )
    assert (
        len(owner.list_privacy_budget_templates(membershipIdentifier=mid)["privacyBudgetTemplateSummaries"])
        == 1
    )
    owner.delete_privacy_budget_template(**args)
    assert (
        owner.list_privacy_budget_templates(membershipIdentifier=mid)["privacyBudgetTemplateSummaries"] == []
    )


def test_tags_round_trip(owner: Any, world: World) -> None:
    arn = world.table["arn"]
    owner.tag_resource(resourceArn=arn, tags={"stack": "retail", "address": "configured_table.orders"})
    assert owner.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "stack": "retail",
        "address": "configured_table.orders",
    }
    owner.untag_resource(resourceArn=arn, tagKeys=["stack"])
    assert owner.list_tags_for_resource(resourceArn=arn)["tags"] == {"address": "configured_table.orders"}
    tagged = create_collaboration(owner, name="tagged", tags={"a": "1"})
    assert owner.list_tags_for_resource(resourceArn=tagged["arn"])["tags"] == {"a": "1"}


def test_association_name_is_lower_case(owner: Any, world: World) -> None:
    table = create_table(owner, name="events")
    assoc = associate(owner, OWNER, world.owner_membership["id"], table["id"], name="Events")
    assert assoc["name"] == "events"
    assert LIST_POLICY  # the world fixture's table already carries the list rule


def test_membership_scoped_arns_can_be_tagged(owner: Any, world: World) -> None:
    arn = world.association["arn"]
    assert len(arn) > 100  # longer than the model's CleanroomsArn maximum, as AWS's own ARNs are
    owner.tag_resource(resourceArn=arn, tags={"stack": "retail"})
    assert owner.list_tags_for_resource(resourceArn=arn)["tags"] == {"stack": "retail"}
