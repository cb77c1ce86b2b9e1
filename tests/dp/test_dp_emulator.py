"""The emulator's budget operations through real boto3 clients, and query admission."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from contract_helpers import NO_RETRY, OWNER, PARTNER, Clock

from reconciler import emulator
from reconciler.aws_model import service_model
from reconciler.dp import AggregateType
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import ServiceError
from reconciler.emulator.privacy_budgets import admit_protected_query

C, CD = AggregateType.COUNT, AggregateType.COUNT_DISTINCT


@pytest.fixture
def world() -> Iterator[dict[str, Any]]:
    clock = Clock(dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC))
    with emulator.connect(None, now=clock) as emu:
        owner = emu.client(account_id=OWNER, config=NO_RETRY)
        partner = emu.client(account_id=PARTNER, config=NO_RETRY)
        collaboration = owner.create_collaboration(
            members=[
                {
                    "accountId": PARTNER,
                    "memberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
                    "displayName": "p",
                }
            ],
            name="retail",
            creatorMemberAbilities=[],
            creatorDisplayName="owner",
            queryLogStatus="DISABLED",
        )["collaboration"]
        mine = owner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED")
        theirs = partner.create_membership(
            collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED"
        )
        template = owner.create_privacy_budget_template(
            membershipIdentifier=mine["membership"]["id"],
            autoRefresh="CALENDAR_MONTH",
            privacyBudgetType="DIFFERENTIAL_PRIVACY",
            parameters={"differentialPrivacy": {"epsilon": 1, "usersNoisePerQuery": 10}},
        )["privacyBudgetTemplate"]
        yield {
            "emu": emu,
            "clock": clock,
            "owner": owner,
            "partner": partner,
            "collaboration": collaboration,
            "owner_membership": mine["membership"],
            "partner_membership": theirs["membership"],
            "template": template,
        }


def _ctx(w: dict[str, Any]) -> RequestContext:
    emu = w["emu"]
    op = service_model().operation_model("StartProtectedQuery")
    return RequestContext(PARTNER, "us-east-1", op, emu.store, emu.catalog, emu.results_root, emu.now)


def _admit(w: dict[str, Any], query_id: str, kinds: list[AggregateType]) -> None:
    """What StartProtectedQuery does: admit under the store lock, then commit (or roll back)."""
    store = w["emu"].store
    with store.lock:
        try:
            admit_protected_query(_ctx(w), w["collaboration"]["id"], query_id, kinds, [])
        except BaseException:
            store.rollback()
            raise
        store.commit()


def _remaining(w: dict[str, Any]) -> dict[str, int]:
    out = w["partner"].list_privacy_budgets(
        membershipIdentifier=w["partner_membership"]["id"], privacyBudgetType="DIFFERENTIAL_PRIVACY"
    )
    (summary,) = out["privacyBudgetSummaries"]
    assert summary["privacyBudgetTemplateId"] == w["template"]["id"]
    return {a["type"]: a["remainingCount"] for a in summary["budget"]["differentialPrivacy"]["aggregations"]}


def test_list_budgets_show_what_admitted_queries_spent(world: dict[str, Any]) -> None:
    assert _remaining(world) == {"COUNT_DISTINCT": 3, "COUNT": 1, "SUM": 1, "AVG": 0, "STDDEV": 0}
    _admit(world, "q1", [CD])
    assert _remaining(world) == {"COUNT_DISTINCT": 2, "COUNT": 1, "SUM": 0, "AVG": 0, "STDDEV": 0}
    collab = world["owner"].list_collaboration_privacy_budgets(
        collaborationIdentifier=world["collaboration"]["id"], privacyBudgetType="DIFFERENTIAL_PRIVACY"
    )["collaborationPrivacyBudgetSummaries"]
    assert collab[0]["creatorAccountId"] == OWNER
    assert collab[0]["budget"]["differentialPrivacy"]["epsilon"] == 1


def test_exhausted_budget_is_a_validation_exception_and_spends_nothing(world: dict[str, Any]) -> None:
    _admit(world, "q1", [C])
    before = _remaining(world)
    with pytest.raises(ServiceError) as info:
        _admit(world, "q2", [C])
    assert info.value.code == "ValidationException"
    assert "COUNT needs 1 (remaining 0 of 1)" in info.value.message
    assert _remaining(world) == before
    world["clock"].now = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)  # calendar month refresh
    assert _remaining(world)["COUNT"] == 1


def test_preview_privacy_impact_changes_nothing(world: dict[str, Any]) -> None:
    out = world["partner"].preview_privacy_impact(
        membershipIdentifier=world["partner_membership"]["id"],
        parameters={"differentialPrivacy": {"epsilon": 10, "usersNoisePerQuery": 30}},
    )
    counts = {a["type"]: a["maxCount"] for a in out["privacyImpact"]["differentialPrivacy"]["aggregations"]}
    assert counts == {"COUNT_DISTINCT": 100, "COUNT": 50, "SUM": 33, "AVG": 25, "STDDEV": 20}
    assert _remaining(world)["COUNT_DISTINCT"] == 3


def test_epsilon_cannot_be_lowered_once_queried(world: dict[str, Any]) -> None:
    owner, membership, template = world["owner"], world["owner_membership"], world["template"]
    update = {
        "membershipIdentifier": membership["id"],
        "privacyBudgetTemplateIdentifier": template["id"],
        "privacyBudgetType": "DIFFERENTIAL_PRIVACY",
    }
    owner.update_privacy_budget_template(**update, parameters={"differentialPrivacy": {"epsilon": 2}})
    _admit(world, "q1", [CD])
    with pytest.raises(ClientError) as info:
        owner.update_privacy_budget_template(**update, parameters={"differentialPrivacy": {"epsilon": 1}})
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "cannot be lowered" in info.value.response["Error"]["Message"]
    owner.update_privacy_budget_template(**update, parameters={"differentialPrivacy": {"epsilon": 3}})
    assert _remaining(world)["COUNT_DISTINCT"] == 9  # raised: remaining grows by the increase


def test_dp_tables_need_a_dp_template(world: dict[str, Any]) -> None:
    world["owner"].delete_privacy_budget_template(
        membershipIdentifier=world["owner_membership"]["id"],
        privacyBudgetTemplateIdentifier=world["template"]["id"],
    )
    with pytest.raises(ServiceError, match="budget template"):
        _admit(world, "q1", [CD])
    _admit(world, "q2", [])  # queries without DP aggregates need no DP template
