"""Collaboration-scoped views, schemas and change requests, through boto3 only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contract_helpers import (
    LIST_POLICY,
    OUTSIDER,
    OWNER,
    PARTNER,
    World,
    associate,
    create_collaboration,
    create_table,
    error_of,
    join,
)

from reconciler import emulator


def _template(client: Any, membership_id: str, name: str = "t1") -> dict[str, Any]:
    return client.create_analysis_template(  # type: ignore[no-any-return]
        membershipIdentifier=membership_id, name=name, format="SQL", source={"text": "SELECT b FROM orders"}
    )["analysisTemplate"]


def test_members_see_each_others_templates_only_through_collaboration_views(
    owner: Any, partner: Any, world: World
) -> None:
    cid = world.collaboration["id"]
    template = _template(partner, world.partner_membership["id"])
    seen = owner.get_collaboration_analysis_template(
        collaborationIdentifier=cid, analysisTemplateArn=template["arn"]
    )
    assert seen["collaborationAnalysisTemplate"]["creatorAccountId"] == PARTNER
    assert seen["collaborationAnalysisTemplate"]["source"] == {"text": "SELECT b FROM orders"}
    listed = owner.list_collaboration_analysis_templates(collaborationIdentifier=cid)
    assert [t["arn"] for t in listed["collaborationAnalysisTemplateSummaries"]] == [template["arn"]]
    missing = template["arn"].replace(template["id"], "00000000-0000-0000-0000-000000000000")
    batch = owner.batch_get_collaboration_analysis_template(
        collaborationIdentifier=cid, analysisTemplateArns=[template["arn"], missing]
    )
    assert [t["id"] for t in batch["collaborationAnalysisTemplates"]] == [template["id"]]
    assert batch["errors"] == [
        {"arn": missing, "code": "ResourceNotFoundException", "message": "analysis template not found"}
    ]
    args = {
        "membershipIdentifier": world.partner_membership["id"],
        "analysisTemplateIdentifier": template["id"],
    }
    assert (
        error_of(lambda: owner.get_analysis_template(**args))["Error"]["Code"] == "ResourceNotFoundException"
    )


def test_collaboration_privacy_budget_template_views(owner: Any, partner: Any, world: World) -> None:
    created = owner.create_privacy_budget_template(
        membershipIdentifier=world.owner_membership["id"],
        privacyBudgetType="DIFFERENTIAL_PRIVACY",
        parameters={"differentialPrivacy": {"epsilon": 2, "usersNoisePerQuery": 30}},
    )["privacyBudgetTemplate"]
    assert created["autoRefresh"] == "CALENDAR_MONTH"
    cid = world.collaboration["id"]
    got = partner.get_collaboration_privacy_budget_template(
        collaborationIdentifier=cid, privacyBudgetTemplateIdentifier=created["id"]
    )["collaborationPrivacyBudgetTemplate"]
    assert got["creatorAccountId"] == OWNER and got["parameters"] == created["parameters"]
    summaries = partner.list_collaboration_privacy_budget_templates(collaborationIdentifier=cid)
    assert [s["id"] for s in summaries["collaborationPrivacyBudgetTemplateSummaries"]] == [created["id"]]


def test_schemas_appear_when_tables_are_associated(
    emu: emulator.Emulator, owner: Any, partner: Any, world: World, tmp_path: Path
) -> None:
    cid = world.collaboration["id"]
    schema = partner.get_schema(collaborationIdentifier=cid, name="orders")["schema"]
    assert schema["creatorAccountId"] == OWNER
    assert schema["columns"] == [{"name": c, "type": "string"} for c in ("a", "b", "c")]
    assert schema["analysisRuleTypes"] == ["LIST"]
    assert schema["schemaStatusDetails"][0]["status"] == "READY"
    assert schema["resourceArn"] == world.association["arn"]
    assert [s["name"] for s in partner.list_schemas(collaborationIdentifier=cid)["schemaSummaries"]] == [
        "orders"
    ]
    rule = partner.get_schema_analysis_rule(collaborationIdentifier=cid, name="orders", type="LIST")[
        "analysisRule"
    ]
    assert rule["policy"] == LIST_POLICY
    batch = partner.batch_get_schema(collaborationIdentifier=cid, names=["orders", "nope"])
    assert [s["name"] for s in batch["schemas"]] == ["orders"] and batch["errors"][0]["name"] == "nope"
    rules = partner.batch_get_schema_analysis_rule(
        collaborationIdentifier=cid,
        schemaAnalysisRuleRequests=[{"name": "orders", "type": "LIST"}, {"name": "orders", "type": "CUSTOM"}],
    )
    assert len(rules["analysisRules"]) == 1 and rules["errors"][0]["type"] == "CUSTOM"
    wrong = error_of(
        lambda: partner.get_schema_analysis_rule(collaborationIdentifier=cid, name="orders", type="CUSTOM")
    )
    assert wrong["Error"]["Code"] == "ResourceNotFoundException"

    data = tmp_path / "events.csv"
    data.write_text("a,b,c\n1,x,2.5\n")
    emu.catalog.register(OWNER, "sales", "events", data)
    table = create_table(owner, name="events")
    associate(owner, OWNER, world.owner_membership["id"], table["id"], name="events")
    typed = partner.get_schema(collaborationIdentifier=cid, name="events")["schema"]
    assert typed["columns"] == [
        {"name": "a", "type": "bigint"},
        {"name": "b", "type": "string"},
        {"name": "c", "type": "double"},
    ]
    assert typed["schemaStatusDetails"][0]["reasons"][0]["code"] == "ANALYSIS_RULE_MISSING"


def test_catalog_lookup_and_bad_registration(emu: emulator.Emulator, tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text("x,y\n1,2\n")
    entry = emu.catalog.register(OWNER, "db", "t", data)
    assert emu.catalog.lookup(OWNER, "db", "t") == entry
    assert emu.catalog.lookup(PARTNER, "db", "t") is None
    bad = tmp_path / "t.json"
    bad.write_text("{}")
    try:
        emu.catalog.register(OWNER, "db", "u", bad)
    except emulator.LocalBackendError as exc:
        assert "only .csv and .parquet" in exc.message
    else:
        raise AssertionError("a .json file was accepted")


def test_change_request_adds_member_with_auto_approval(owner: Any, outsider: Any) -> None:
    collaboration = create_collaboration(owner, autoApprovedChangeRequestTypes=["ADD_MEMBER"])
    cid = collaboration["id"]
    change = {
        "specificationType": "MEMBER",
        "specification": {
            "member": {
                "accountId": OUTSIDER,
                "memberAbilities": ["CAN_RECEIVE_RESULTS"],
                "displayName": "new",
            }
        },
    }
    request = owner.create_collaboration_change_request(collaborationIdentifier=cid, changes=[change])[
        "collaborationChangeRequest"
    ]
    assert request["status"] == "COMMITTED" and request["isAutoApproved"] is True
    assert request["changes"][0]["types"] == ["ADD_MEMBER"]
    assert join(outsider, cid)["memberAbilities"] == ["CAN_RECEIVE_RESULTS"]
    got = owner.get_collaboration_change_request(
        collaborationIdentifier=cid, changeRequestIdentifier=request["id"]
    )
    assert got["collaborationChangeRequest"]["id"] == request["id"]
    listed = owner.list_collaboration_change_requests(collaborationIdentifier=cid, status="COMMITTED")
    assert [r["id"] for r in listed["collaborationChangeRequestSummaries"]] == [request["id"]]


def test_change_request_needs_approval_then_commit(owner: Any, partner: Any, outsider: Any) -> None:
    cid = create_collaboration(owner)["id"]
    join(owner, cid)
    join(partner, cid)
    change = {
        "specificationType": "MEMBER",
        "specification": {"member": {"accountId": OUTSIDER, "memberAbilities": [], "displayName": "new"}},
    }
    request = owner.create_collaboration_change_request(collaborationIdentifier=cid, changes=[change])[
        "collaborationChangeRequest"
    ]
    assert request["status"] == "PENDING" and request["approvals"] == {PARTNER: {"status": "PENDING"}}
    args = {"collaborationIdentifier": cid, "changeRequestIdentifier": request["id"]}
    early = error_of(lambda: owner.update_collaboration_change_request(**args, action="COMMIT"))
    assert early["Error"]["Code"] == "ConflictException" and early["reason"] == "INVALID_STATE"
    denied = error_of(lambda: owner.update_collaboration_change_request(**args, action="APPROVE"))
    assert denied["Error"]["Code"] == "AccessDeniedException"
    approved = partner.update_collaboration_change_request(**args, action="APPROVE")[
        "collaborationChangeRequest"
    ]
    assert approved["status"] == "APPROVED"
    assert error_of(lambda: join(outsider, cid))["Error"]["Code"] == "AccessDeniedException"
    committed = owner.update_collaboration_change_request(**args, action="COMMIT")[
        "collaborationChangeRequest"
    ]
    assert committed["status"] == "COMMITTED"
    assert join(outsider, cid)["status"] == "ACTIVE"


def test_change_request_refuses_query_ability_and_bad_sizes(owner: Any, partner: Any) -> None:
    cid = create_collaboration(owner)["id"]
    grant_query = {
        "specificationType": "MEMBER",
        "specification": {"member": {"accountId": OUTSIDER, "memberAbilities": ["CAN_QUERY"]}},
    }
    error = error_of(
        lambda: owner.create_collaboration_change_request(collaborationIdentifier=cid, changes=[grant_query])
    )
    assert error["Error"]["Code"] == "ValidationException" and "CAN_QUERY" in error["Error"]["Message"]
    revoke = {
        "specificationType": "MEMBER",
        "specification": {"member": {"accountId": PARTNER, "memberAbilities": ["CAN_QUERY"]}},
    }
    request = owner.create_collaboration_change_request(collaborationIdentifier=cid, changes=[revoke])
    assert request["collaborationChangeRequest"]["changes"][0]["types"] == ["REVOKE_RECEIVE_RESULTS_ABILITY"]
    eleven = [revoke] * 11
    too_many = error_of(
        lambda: owner.create_collaboration_change_request(collaborationIdentifier=cid, changes=eleven)
    )
    assert too_many["Error"]["Code"] == "ValidationException"
    by_partner = error_of(
        lambda: partner.create_collaboration_change_request(collaborationIdentifier=cid, changes=[revoke])
    )
    assert by_partner["Error"]["Code"] == "AccessDeniedException"
    edit = {
        "specificationType": "COLLABORATION",
        "specification": {"collaboration": {"autoApprovedChangeTypes": ["ADD_MEMBER"]}},
    }
    edited = owner.create_collaboration_change_request(collaborationIdentifier=cid, changes=[edit])[
        "collaborationChangeRequest"
    ]
    assert edited["changes"][0]["types"] == ["EDIT_AUTO_APPROVED_CHANGE_TYPES"]
    owner.update_collaboration_change_request(
        collaborationIdentifier=cid, changeRequestIdentifier=edited["id"], action="CANCEL"
    )
    status = owner.get_collaboration_change_request(
        collaborationIdentifier=cid, changeRequestIdentifier=edited["id"]
    )
    assert status["collaborationChangeRequest"]["status"] == "CANCELLED"
