"""Errors, permissions across three accounts, lifecycle and quotas, through boto3 only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.config import Config
from contract_helpers import (
    AGGREGATION_POLICY,
    LIST_POLICY,
    OUTSIDER,
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

from reconciler.emulator import registry


def _code(call: Any) -> str:
    return str(error_of(call)["Error"]["Code"])


# -- server-side validation -------------------------------------------------------------------


@pytest.fixture
def unchecked(client_for: Any) -> Any:
    """A client with botocore's own parameter validation off, so only the server checks."""
    return client_for(OWNER, Config(parameter_validation=False, retries={"total_max_attempts": 1}))


def test_server_rejects_pattern_enum_and_length_violations(owner: Any) -> None:
    error = error_of(
        lambda: owner.create_configured_table(
            name="t",
            tableReference={"glue": {"databaseName": "db", "tableName": "t"}},
            allowedColumns=["Upper"],
            analysisMethod="DIRECT_QUERY",
        )
    )
    assert error["Error"]["Code"] == "ValidationException" and error["reason"] == "FIELD_VALIDATION_FAILED"
    assert error["fieldList"][0]["name"] == "allowedColumns.1"
    enum = error_of(lambda: create_collaboration(owner, analyticsEngine="PRESTO"))
    assert "enum" in enum["Error"]["Message"]
    long_name = error_of(lambda: create_collaboration(owner, name="x" * 101))
    assert long_name["fieldList"][0]["name"] == "name"


def test_server_checks_required_members_and_unions(unchecked: Any) -> None:
    missing = error_of(lambda: unchecked.create_collaboration(name="n", members=[]))
    names = {f["name"] for f in missing["fieldList"]}
    assert {"creatorMemberAbilities", "creatorDisplayName", "queryLogStatus"} <= names
    both = error_of(
        lambda: unchecked.create_configured_table(
            name="t",
            tableReference={
                "glue": {"databaseName": "db", "tableName": "t"},
                "athena": {"workGroup": "w", "databaseName": "d", "tableName": "t"},
            },
            allowedColumns=["a"],
            analysisMethod="DIRECT_QUERY",
        )
    )
    assert "exactly one" in both["Error"]["Message"]
    too_many = error_of(lambda: unchecked.list_configured_tables(maxResults=101))
    assert too_many["fieldList"][0]["name"] == "maxResults"


# -- permissions across three accounts --------------------------------------------------------


def test_outsider_sees_nothing(outsider: Any, world: World) -> None:
    cid = world.collaboration["id"]
    assert _code(lambda: outsider.get_collaboration(collaborationIdentifier=cid)) == "AccessDeniedException"
    assert _code(lambda: outsider.list_members(collaborationIdentifier=cid)) == "AccessDeniedException"
    assert (
        _code(lambda: outsider.get_schema(collaborationIdentifier=cid, name="orders"))
        == "AccessDeniedException"
    )
    assert _code(lambda: join(outsider, cid)) == "AccessDeniedException"
    assert outsider.list_collaborations()["collaborationList"] == []
    mid = world.owner_membership["id"]
    assert _code(lambda: outsider.get_membership(membershipIdentifier=mid)) == "ResourceNotFoundException"
    assert (
        _code(lambda: outsider.list_tags_for_resource(resourceArn=world.table["arn"]))
        == "ResourceNotFoundException"
    )


def test_only_the_creator_updates_deletes_and_removes(partner: Any, world: World) -> None:
    cid = world.collaboration["id"]
    assert (
        _code(lambda: partner.update_collaboration(collaborationIdentifier=cid, name="x"))
        == "AccessDeniedException"
    )
    assert _code(lambda: partner.delete_collaboration(collaborationIdentifier=cid)) == "AccessDeniedException"
    assert (
        _code(lambda: partner.delete_member(collaborationIdentifier=cid, accountId=OWNER))
        == "AccessDeniedException"
    )


def test_members_touch_only_their_own_resources(owner: Any, partner: Any, world: World) -> None:
    table_id = world.table["id"]
    assert (
        _code(lambda: partner.get_configured_table(configuredTableIdentifier=table_id))
        == "ResourceNotFoundException"
    )
    assert (
        _code(lambda: partner.delete_configured_table(configuredTableIdentifier=table_id))
        == "ResourceNotFoundException"
    )
    stolen = error_of(
        lambda: associate(partner, PARTNER, world.partner_membership["id"], table_id, name="stolen")
    )
    assert (
        stolen["Error"]["Code"] == "ResourceNotFoundException"
        and stolen["resourceType"] == "CONFIGURED_TABLE"
    )
    own_table = create_table(partner, name="mine")
    foreign = error_of(
        lambda: associate(partner, PARTNER, world.owner_membership["id"], own_table["id"], name="mine")
    )
    assert foreign["resourceType"] == "MEMBERSHIP"
    assert (
        _code(lambda: partner.tag_resource(resourceArn=world.table["arn"], tags={"x": "y"}))
        == "ResourceNotFoundException"
    )
    listed = partner.list_configured_tables()["configuredTableSummaries"]
    assert [t["id"] for t in listed] == [own_table["id"]]


# -- lifecycle ----------------------------------------------------------------------------------


def test_member_status_lifecycle_and_no_rejoin(owner: Any, partner: Any) -> None:
    cid = create_collaboration(owner)["id"]

    def statuses() -> dict[str, str]:
        return {
            m["accountId"]: m["status"]
            for m in owner.list_members(collaborationIdentifier=cid)["memberSummaries"]
        }

    assert statuses() == {OWNER: "INVITED", PARTNER: "INVITED"}
    membership = join(partner, cid)
    assert statuses()[PARTNER] == "ACTIVE"
    again = error_of(lambda: join(partner, cid))
    assert again["Error"]["Code"] == "ConflictException" and again["reason"] == "ALREADY_EXISTS"
    partner.delete_membership(membershipIdentifier=membership["id"])
    assert statuses()[PARTNER] == "LEFT"
    assert partner.get_membership(membershipIdentifier=membership["id"])["membership"]["status"] == "REMOVED"
    assert _code(lambda: join(partner, cid)) == "AccessDeniedException"


def test_removed_member_loses_access_and_tables(owner: Any, partner: Any) -> None:
    cid = create_collaboration(owner)["id"]
    join(owner, cid)
    mp = join(partner, cid)
    table = create_table(partner, name="pt")
    associate(partner, PARTNER, mp["id"], table["id"], name="pt")
    assert [s["name"] for s in owner.list_schemas(collaborationIdentifier=cid)["schemaSummaries"]] == ["pt"]
    owner.delete_member(collaborationIdentifier=cid, accountId=PARTNER)
    assert owner.list_schemas(collaborationIdentifier=cid)["schemaSummaries"] == []
    assert partner.get_membership(membershipIdentifier=mp["id"])["membership"]["status"] == "REMOVED"
    assert _code(lambda: partner.get_collaboration(collaborationIdentifier=cid)) == "AccessDeniedException"
    assert _code(
        lambda: associate(partner, PARTNER, mp["id"], create_table(partner, name="p2")["id"], name="p2")
    ) == ("AccessDeniedException")
    twice = error_of(lambda: owner.delete_member(collaborationIdentifier=cid, accountId=PARTNER))
    assert twice["reason"] == "INVALID_STATE"


def test_delete_guards(owner: Any, world: World) -> None:
    associated = error_of(lambda: owner.delete_configured_table(configuredTableIdentifier=world.table["id"]))
    assert (
        associated["Error"]["Code"] == "ConflictException" and associated["resourceId"] == world.table["id"]
    )
    leaving = error_of(lambda: owner.delete_membership(membershipIdentifier=world.owner_membership["id"]))
    assert leaving["Error"]["Code"] == "ConflictException"


def test_membership_with_subresources_cannot_be_deleted(partner: Any, world: World) -> None:
    mid = world.partner_membership["id"]
    partner.create_analysis_template(
        membershipIdentifier=mid, name="t", format="SQL", source={"text": "SELECT 1"}
    )
    error = error_of(lambda: partner.delete_membership(membershipIdentifier=mid))
    assert error["reason"] == "SUBRESOURCES_EXIST" and error["resourceType"] == "MEMBERSHIP"


def test_deleting_the_collaboration_ends_memberships(owner: Any, partner: Any, world: World) -> None:
    owner.delete_collaboration(collaborationIdentifier=world.collaboration["id"])
    got = partner.get_membership(membershipIdentifier=world.partner_membership["id"])["membership"]
    assert got["status"] == "COLLABORATION_DELETED"
    assert partner.list_collaborations()["collaborationList"] == []


def test_clean_rooms_sql_closed_for_new_collaborations(owner: Any, clock: Any) -> None:
    error = error_of(lambda: create_collaboration(owner, analyticsEngine="CLEAN_ROOMS_SQL"))
    assert error["Error"]["Code"] == "ValidationException" and "2025-07-16" in error["Error"]["Message"]
    clock.now = dt.datetime(2025, 7, 16, 23, 0, tzinfo=dt.UTC)
    assert (
        create_collaboration(owner, analyticsEngine="CLEAN_ROOMS_SQL")["analyticsEngine"] == "CLEAN_ROOMS_SQL"
    )


def test_payer_and_querier_rules(owner: Any) -> None:
    pays = {"queryCompute": {"isResponsible": True}}
    two = error_of(
        lambda: create_collaboration(
            owner,
            creatorPaymentConfiguration=pays,
            members=[
                {
                    "accountId": PARTNER,
                    "memberAbilities": ["CAN_QUERY"],
                    "displayName": "p",
                    "paymentConfiguration": pays,
                }
            ],
        )
    )
    assert two["Error"]["Code"] == "ValidationException" and "exactly one" in two["Error"]["Message"]
    refuses = {"queryCompute": {"isResponsible": False}}
    nobody = error_of(
        lambda: create_collaboration(
            owner,
            members=[
                {
                    "accountId": PARTNER,
                    "memberAbilities": ["CAN_QUERY"],
                    "displayName": "p",
                    "paymentConfiguration": refuses,
                }
            ],
        )
    )
    assert nobody["reason"] == "INVALID_CONFIGURATION"
    queriers = error_of(lambda: create_collaboration(owner, creatorMemberAbilities=["CAN_QUERY"]))
    assert "CAN_QUERY" in queriers["Error"]["Message"]
    collaboration = create_collaboration(owner, creatorPaymentConfiguration=pays)
    members = owner.list_members(collaborationIdentifier=collaboration["id"])["memberSummaries"]
    assert {m["accountId"]: m["paymentConfiguration"]["queryCompute"]["isResponsible"] for m in members} == {
        OWNER: True,
        PARTNER: False,
    }


def test_membership_must_accept_assigned_payment(owner: Any, partner: Any) -> None:
    cid = create_collaboration(owner)["id"]
    error = error_of(
        lambda: join(partner, cid, paymentConfiguration={"queryCompute": {"isResponsible": False}})
    )
    assert error["Error"]["Code"] == "ValidationException"


def test_analysis_rule_rules(owner: Any) -> None:
    table = create_table(owner)
    args = {"configuredTableIdentifier": table["id"]}
    mismatch = error_of(
        lambda: owner.create_configured_table_analysis_rule(
            **args, analysisRuleType="AGGREGATION", analysisRulePolicy=LIST_POLICY
        )
    )
    assert "does not match" in mismatch["Error"]["Message"]
    bad_column = {"v1": {"list": {"joinColumns": ["zzz"], "listColumns": ["b"]}}}
    unknown = error_of(
        lambda: owner.create_configured_table_analysis_rule(
            **args, analysisRuleType="LIST", analysisRulePolicy=bad_column
        )
    )
    assert "zzz" in unknown["Error"]["Message"]
    overlap = {"v1": {"list": {"joinColumns": ["a"], "listColumns": ["a"]}}}
    assert (
        _code(
            lambda: owner.create_configured_table_analysis_rule(
                **args, analysisRuleType="LIST", analysisRulePolicy=overlap
            )
        )
        == "ValidationException"
    )
    owner.create_configured_table_analysis_rule(
        **args, analysisRuleType="LIST", analysisRulePolicy=LIST_POLICY
    )
    second = error_of(
        lambda: owner.create_configured_table_analysis_rule(
            **args, analysisRuleType="AGGREGATION", analysisRulePolicy=AGGREGATION_POLICY
        )
    )
    assert second["Error"]["Code"] == "ConflictException" and second["reason"] == "ALREADY_EXISTS"
    absent = error_of(lambda: owner.get_configured_table_analysis_rule(**args, analysisRuleType="CUSTOM"))
    assert absent["Error"]["Code"] == "ResourceNotFoundException"
    custom = {"v1": {"custom": {"allowedAnalyses": ["ANY_QUERY"]}}}
    other = create_table(owner, name="other")
    no_providers = error_of(
        lambda: owner.create_configured_table_analysis_rule(
            configuredTableIdentifier=other["id"], analysisRuleType="CUSTOM", analysisRulePolicy=custom
        )
    )
    assert "allowedAnalysisProviders" in no_providers["Error"]["Message"]


def test_association_conflicts(owner: Any, world: World) -> None:
    mid = world.owner_membership["id"]
    twice = error_of(lambda: associate(owner, OWNER, mid, world.table["id"], name="again"))
    assert twice["reason"] == "ALREADY_EXISTS"
    other = create_table(owner, name="other")
    clash = error_of(lambda: associate(owner, OWNER, mid, other["id"], name="ORDERS"))
    assert clash["Error"]["Code"] == "ConflictException"


def test_quotas(owner: Any, world: World) -> None:
    many = [{"accountId": f"99999999999{i}", "memberAbilities": [], "displayName": f"m{i}"} for i in range(6)]
    error = error_of(lambda: create_collaboration(owner, members=many))
    assert error["Error"]["Code"] == "ServiceQuotaExceededException"
    assert error["quotaName"] == "Members invited per collaboration" and error["quotaValue"] == 5.0
    mid = world.owner_membership["id"]
    for i in range(25):
        owner.create_analysis_template(
            membershipIdentifier=mid, name=f"t{i}", format="SQL", source={"text": "SELECT 1"}
        )
    over = error_of(
        lambda: owner.create_analysis_template(
            membershipIdentifier=mid, name="t25", format="SQL", source={"text": "SELECT 1"}
        )
    )
    assert over["quotaName"] == "Analysis templates per membership" and over["quotaValue"] == 25.0


def test_one_privacy_budget_template_per_collaboration(owner: Any, partner: Any, world: World) -> None:
    params = {"differentialPrivacy": {"epsilon": 1, "usersNoisePerQuery": 10}}
    owner.create_privacy_budget_template(
        membershipIdentifier=world.owner_membership["id"],
        privacyBudgetType="DIFFERENTIAL_PRIVACY",
        parameters=params,
    )
    second = error_of(
        lambda: partner.create_privacy_budget_template(
            membershipIdentifier=world.partner_membership["id"],
            privacyBudgetType="DIFFERENTIAL_PRIVACY",
            parameters=params,
        )
    )
    assert second["reason"] == "ALREADY_EXISTS"
    wrong = error_of(
        lambda: owner.create_privacy_budget_template(
            membershipIdentifier=world.owner_membership["id"],
            privacyBudgetType="ACCESS_BUDGET",
            parameters=params,
        )
    )
    assert wrong["Error"]["Code"] == "ValidationException"


def test_handler_bug_is_an_internal_server_error(owner: Any, world: World) -> None:
    def broken(ctx: Any, params: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    previous = registry.handler("GetProtectedJob")
    registry.register("GetProtectedJob", broken)
    try:
        error = error_of(
            lambda: owner.get_protected_job(
                membershipIdentifier=world.owner_membership["id"],
                protectedJobIdentifier="00000000-0000-0000-0000-000000000000",
            )
        )
    finally:
        if previous is None:
            registry.OPERATIONS["cleanrooms"].pop("GetProtectedJob")
        else:
            registry.register("GetProtectedJob", previous)
    assert error["Error"]["Code"] == "InternalServerException" and "boom" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_unimplemented_operation_is_a_clear_error(owner: Any, world: World) -> None:
    error = error_of(
        lambda: owner.list_intermediate_tables(membershipIdentifier=world.owner_membership["id"])
    )
    assert (
        error["Error"]["Code"] == "ValidationException"
        and "not supported by the local backend" in error["Error"]["Message"]
    )


def test_role_arn_is_validated(owner: Any, world: World) -> None:
    table = create_table(owner, name="x")
    bad = error_of(
        lambda: owner.create_configured_table_association(
            name="x",
            membershipIdentifier=world.owner_membership["id"],
            configuredTableIdentifier=table["id"],
            roleArn="arn:aws:iam::1:user/nope-not-a-role-arn-at-all",
        )
    )
    assert bad["Error"]["Code"] == "ValidationException"
    assert ROLE and OUTSIDER


def test_membership_settings_follow_member_abilities(owner: Any, partner: Any) -> None:
    pays = {"queryCompute": {"isResponsible": True}}
    cid = create_collaboration(owner, creatorPaymentConfiguration=pays)["id"]
    silent = error_of(lambda: join(owner, cid))
    assert "paymentConfiguration is required" in silent["Error"]["Message"]
    result_config = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results"}}}
    no_receiver = error_of(
        lambda: join(owner, cid, paymentConfiguration=pays, defaultResultConfiguration=result_config)
    )
    assert no_receiver["fieldList"][0]["name"] == "defaultResultConfiguration"
    metrics = error_of(lambda: join(owner, cid, paymentConfiguration=pays, isMetricsEnabled=True))
    assert metrics["fieldList"][0]["name"] == "isMetricsEnabled"
    assert join(owner, cid, paymentConfiguration=pays)["paymentConfiguration"] == pays
    receiver = join(partner, cid, defaultResultConfiguration=result_config)
    assert receiver["defaultResultConfiguration"] == result_config
