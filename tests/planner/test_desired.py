"""Stack -> desired resources: addresses, references, accounts, payment defaults, locations."""

from __future__ import annotations

from dataclasses import replace

from reconciler.planner import desired
from reconciler.planner.addresses import Kind, parse
from reconciler.planner.diff import dependency_graph
from reconciler.planner.model import Action
from reconciler.planner.resource import DesiredResource, Ref
from reconciler.spec import load_stack

from .helpers import make_plan, observe

C = "retail-ad-campaign-analysis"


def by_address(resources: list[DesiredResource]) -> dict[str, DesiredResource]:
    return {str(r.address): r for r in resources}


def test_every_document_becomes_its_resources(retail: list[DesiredResource]) -> None:
    assert sorted(by_address(retail)) == sorted(
        [
            f"collaboration.{C}",
            f"member.{C}.retailer",
            f"member.{C}.adtech",
            f"membership.{C}.retailer",
            f"membership.{C}.adtech",
            "configured_table.retailer.purchases",
            "configured_table.adtech.ad_impressions",
            "analysis_rule.retailer.purchases",
            "analysis_rule.adtech.ad_impressions",
            f"association.{C}.retailer.purchases",
            f"association.{C}.adtech.ad_impressions",
            f"association_rule.{C}.retailer.purchases",
            f"association_rule.{C}.adtech.ad_impressions",
        ]
    )
    assert [r.address for r in retail] == sorted(r.address for r in retail)


def test_collaboration_carries_the_create_request_with_members(retail: list[DesiredResource]) -> None:
    collab = by_address(retail)[f"collaboration.{C}"]
    attrs = collab.attributes
    assert attrs["creatorDisplayName"] == "Acme Retail"
    assert attrs["creatorMemberAbilities"] == ["CAN_QUERY", "CAN_RECEIVE_RESULTS"]
    assert [m["accountId"] for m in attrs["members"]] == ["987654321098"]
    assert collab.owner == "retailer" and collab.account_id == "123456789012"
    assert str(collab.source) == "specs/retail-adtech/collaboration.yaml:2:1"


def test_references_are_refs_and_member_keys_are_accounts(retail: list[DesiredResource]) -> None:
    r = by_address(retail)
    assoc = r[f"association.{C}.adtech.ad_impressions"]
    assert assoc.attributes["membershipIdentifier"] == Ref(parse(f"membership.{C}.adtech"))
    assert assoc.attributes["configuredTableIdentifier"] == Ref(
        parse("configured_table.adtech.ad_impressions")
    )
    assert assoc.owner == "adtech" and assoc.account_id == "987654321098"
    rule = r["analysis_rule.retailer.purchases"].attributes["analysisRulePolicy"]["v1"]["custom"]
    assert rule["allowedAnalysisProviders"] == ["123456789012"]
    receivers = r[f"association_rule.{C}.retailer.purchases"].attributes["analysisRulePolicy"]
    assert receivers == {"v1": {"custom": {"allowedResultReceivers": ["123456789012"]}}}


def test_default_payer_is_the_member_who_can_query() -> None:
    resources = by_address(desired.resources(load_stack("specs/amc-multiparty")))
    paying = sorted(
        a
        for a, r in resources.items()
        if a.startswith("member.") and r.attributes["paymentConfiguration"]["queryCompute"]["isResponsible"]
    )
    assert paying == ["member.amc-outdoor-co-insights.query_submitter"]


def test_membership_waits_for_its_member_and_graph_is_acyclic(retail: list[DesiredResource]) -> None:
    graph = dependency_graph(retail)
    assert parse(f"member.{C}.adtech") in graph.dependencies(parse(f"membership.{C}.adtech"))
    assert len(graph.creation_order()) >= 4


def test_templates_reference_their_membership_and_tables() -> None:
    resources = desired.resources(load_stack("specs/org-a-org-b"))
    template = next(r for r in resources if r.kind is Kind.ANALYSIS_TEMPLATE)
    assert isinstance(template.attributes["membershipIdentifier"], Ref)
    assert template.attributes["source"]["text"].strip()
    rules = [r for r in resources if r.kind is Kind.ANALYSIS_RULE]
    analyses = [
        a
        for r in rules
        for a in r.attributes["analysisRulePolicy"]["v1"].get("custom", {}).get("allowedAnalyses", [])
    ]
    assert any(isinstance(a, Ref) and a.field == "arn" for a in analyses)


def test_every_example_stack_plans_from_scratch_and_then_nothing() -> None:
    for name in ("retail-adtech", "retail-adtech-classic", "org-a-org-b", "amc-multiparty"):
        resources = desired.resources(load_stack(f"specs/{name}"))
        fresh = make_plan(resources, [], stack=name)
        assert fresh.counts()["create"] == len(resources)
        assert make_plan(resources, observe(resources), stack=name).is_empty


def test_existing_collaboration_is_adopted_never_created(retail: list[DesiredResource]) -> None:
    adopted = [replace(r, existing=True) if r.kind is Kind.COLLABORATION else r for r in retail]
    plan = make_plan(adopted, [])
    collab = next(c for c in plan.changes if c.kind is Kind.COLLABORATION)
    assert "declared existing" in collab.blocked
    assert not any(s.operation == "CreateCollaboration" for s in plan.all_steps)
    have = observe(retail)
    changed = [replace(r, attributes={**r.attributes, "queryLogStatus": "DISABLED"}) for r in adopted]
    collab = next(c for c in make_plan(changed, have).changes if c.kind is Kind.COLLABORATION)
    assert collab.action is Action.DELETE_THEN_CREATE and "existing (adopted)" in collab.blocked


def test_budget_template_keeps_api_parameters() -> None:
    resources = desired.resources(load_stack("specs/org-a-org-b"))
    budget = next(r for r in resources if r.kind is Kind.PRIVACY_BUDGET_TEMPLATE)
    assert "analysisParameters" not in budget.attributes
    assert budget.attributes["parameters"]["differentialPrivacy"]["epsilon"] > 0
    template = next(r for r in resources if r.kind is Kind.ANALYSIS_TEMPLATE)
    assert "parameters" not in template.attributes
