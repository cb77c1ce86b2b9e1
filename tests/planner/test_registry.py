"""The registry: fields derived from botocore, cross-checked with immutability.yaml; normal form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from reconciler.execution.state import identity_tags
from reconciler.planner.addresses import Kind, parse
from reconciler.planner.normal_form import canonical, normalize_observed
from reconciler.planner.registry import REGISTRY, descriptor, is_create_only
from reconciler.planner.resource import DesiredResource, Ref

#: The design's table of create-only fields. CI runs in a clone with ``shared/`` beside it; the
#: copy kept here makes the cross-check independent of where that clone lives, and
#: ``test_vendored_design_copy_is_current`` fails when the two drift apart.
SHARED_IMMUTABILITY = Path(__file__).resolve().parents[2].parent / "shared" / "design" / "immutability.yaml"
IMMUTABILITY = Path(__file__).with_name("immutability.yaml")
DESIGN_NAMES = {
    "Collaboration": Kind.COLLABORATION,
    "Membership": Kind.MEMBERSHIP,
    "ConfiguredTable": Kind.CONFIGURED_TABLE,
    "ConfiguredTableAnalysisRule": Kind.ANALYSIS_RULE,
    "ConfiguredTableAssociation": Kind.ASSOCIATION,
    "ConfiguredTableAssociationAnalysisRule": Kind.ASSOCIATION_RULE,
    "AnalysisTemplate": Kind.ANALYSIS_TEMPLATE,
    "PrivacyBudgetTemplate": Kind.PRIVACY_BUDGET_TEMPLATE,
    "ConfiguredAudienceModelAssociation": Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION,
}
#: The design's ``cleanroomsml`` section (TrainedModel is a job, not a declared resource).
ML_DESIGN_NAMES = {
    "TrainingDataset": Kind.TRAINING_DATASET,
    "AudienceModel": Kind.AUDIENCE_MODEL,
    "ConfiguredAudienceModel": Kind.CONFIGURED_AUDIENCE_MODEL,
    "ConfiguredAudienceModelPolicy": Kind.CONFIGURED_AUDIENCE_MODEL_POLICY,
    "ConfiguredModelAlgorithm": Kind.CONFIGURED_MODEL_ALGORITHM,
    "ConfiguredModelAlgorithmAssociation": Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION,
    "MLInputChannel": Kind.ML_INPUT_CHANNEL,
    "MLConfiguration": Kind.ML_CONFIGURATION,
}

#: Where the registry (botocore 1.44.5) and immutability.yaml (botocore 1.43.11 + CloudFormation)
#: disagree on a create-only field, and why. Anything else that differs fails the test.
KNOWN_DISCREPANCIES: dict[tuple[Kind, str], str] = {
    (Kind.COLLABORATION, "members"): "delegated to `member` resources: added by ADD_MEMBER change requests",
    (Kind.COLLABORATION, "creatorMemberAbilities"): "delegated to the creator's `member` resource",
    (Kind.COLLABORATION, "creatorMLMemberAbilities"): "delegated to the creator's `member` resource",
    (Kind.COLLABORATION, "creatorDisplayName"): "delegated to the creator's `member` resource",
    (Kind.COLLABORATION, "creatorPaymentConfiguration"): "delegated to the creator's `member` resource",
    (Kind.COLLABORATION, "autoApprovedChangeRequestTypes"): (
        "changed in place by an EDIT_AUTO_APPROVED_CHANGE_TYPES change request (the yaml's updatable_via)"
    ),
    (Kind.MEMBERSHIP, "paymentConfiguration"): (
        "botocore 1.44.5 UpdateMembership takes membershipPaymentConfiguration; 1.43.11 did not"
    ),
    (Kind.ML_INPUT_CHANNEL, "payerConfiguration"): (
        "CreateMLInputChannel gained payerConfiguration after botocore 1.43.11; no update takes it"
    ),
    (Kind.ANALYSIS_TEMPLATE, "sourceMetadata"): (
        "an output (the artifacts' sha256) the planner compares: a changed PySpark script is a new template"
    ),
}


def test_vendored_design_copy_is_current() -> None:
    if SHARED_IMMUTABILITY.exists():
        assert IMMUTABILITY.read_text() == SHARED_IMMUTABILITY.read_text(), (
            f"copy {SHARED_IMMUTABILITY} over {IMMUTABILITY}: the design changed"
        )
    assert yaml.safe_load(IMMUTABILITY.read_text())["cleanrooms"]


def design() -> dict[str, dict[str, object]]:
    both = yaml.safe_load(IMMUTABILITY.read_text())
    return {**both["cleanrooms"], **both["cleanroomsml"]}  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(DESIGN_NAMES | ML_DESIGN_NAMES))
def test_create_only_fields_match_the_design_except_known_discrepancies(name: str) -> None:
    kind = (DESIGN_NAMES | ML_DESIGN_NAMES)[name]
    ours = set(descriptor(kind).create_only)
    theirs = set(design()[name]["create_only"])  # type: ignore[arg-type]
    differing = {(kind, f) for f in ours ^ theirs}
    expected = {key for key in KNOWN_DISCREPANCIES if key[0] is kind}
    assert differing == expected


@pytest.mark.parametrize("name", sorted(DESIGN_NAMES | ML_DESIGN_NAMES))
def test_every_updatable_field_of_the_design_updates_in_place(name: str) -> None:
    kind = (DESIGN_NAMES | ML_DESIGN_NAMES)[name]
    d = descriptor(kind)
    for path in design()[name]["updatable"]:  # type: ignore[union-attr]
        assert not is_create_only(kind, path), path
        assert path.split(".")[0] in d.updatable, path


def test_discrepancies_are_still_real() -> None:
    """A discrepancy that disappears (botocore changed) must be removed from the table."""
    for (kind, field), _why in KNOWN_DISCREPANCIES.items():
        d = descriptor(kind)
        if kind in (Kind.ML_INPUT_CHANNEL, Kind.ANALYSIS_TEMPLATE):  # not in the design: create-only
            assert field in d.create_only
            continue
        assert field in d.delegated or field in d.updatable


def test_nested_create_only_paths_come_from_the_model() -> None:
    assert is_create_only(Kind.PRIVACY_BUDGET_TEMPLATE, "parameters.accessBudget.resourceArn")
    assert not is_create_only(Kind.PRIVACY_BUDGET_TEMPLATE, "parameters.differentialPrivacy.epsilon")
    assert is_create_only(Kind.ASSOCIATION, "name")
    assert not is_create_only(Kind.ASSOCIATION, "roleArn")
    assert is_create_only(Kind.ANALYSIS_TEMPLATE, "source.text")
    assert not is_create_only(Kind.CONFIGURED_TABLE, "allowedColumns[3]")


def test_every_kind_has_a_descriptor_whose_operations_exist() -> None:
    from reconciler.aws_model import service_model

    assert set(REGISTRY) == set(Kind)
    for d in REGISTRY.values():
        operations = set(service_model(d.service).operation_names)
        for role in ("create", "get", "list", "update", "delete"):
            op = d.operation(role)  # type: ignore[arg-type]
            assert op is None or op in operations, (d.kind, op)
        assert d.fields
        for parent in d.parents:
            assert parent in REGISTRY


def test_irreversible_deletes() -> None:
    irreversible = {k for k, d in REGISTRY.items() if d.irreversible_delete}
    assert irreversible == {Kind.COLLABORATION, Kind.MEMBER, Kind.MEMBERSHIP}


def test_observed_membership_normalizes_to_the_desired_form() -> None:
    address = parse("membership.retail.adtech")
    desired = canonical(
        Kind.MEMBERSHIP,
        {
            "collaborationIdentifier": Ref(parse("collaboration.retail")),
            "queryLogStatus": "ENABLED",
            "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
            "tags": {"team": "ads"},
        },
    )
    raw = {
        "id": "11111111-1111-1111-1111-111111111111",
        "arn": "arn:aws:cleanrooms:us-east-1:987654321098:membership/1111",
        "collaborationId": "22222222-2222-2222-2222-222222222222",
        "collaborationName": "retail",
        "createTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "status": "ACTIVE",
        "memberAbilities": ["CAN_RECEIVE_RESULTS"],
        "queryLogStatus": "ENABLED",
        "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
        "isMetricsEnabled": False,
        "defaultResultConfiguration": None,
    }
    tags = {"team": "ads", **identity_tags("retail-adtech", address)}
    assert normalize_observed(Kind.MEMBERSHIP, raw, address=address, tags=tags) == desired


def test_references_without_a_parent_are_mapped_back_through_ids() -> None:
    address = parse("association.retail.adtech.imps")
    table = parse("configured_table.adtech.impressions")
    raw = {
        "name": "imps",
        "roleArn": "arn:aws:iam::987654321098:role/r",
        "membershipId": "m-1",
        "configuredTableId": "t-1",
        "analysisRuleTypes": ["CUSTOM"],
    }
    known = normalize_observed(Kind.ASSOCIATION, raw, address=address, ids={"t-1": table})
    assert known["configuredTableIdentifier"] == Ref(table)
    assert known["membershipIdentifier"] == Ref(parse("membership.retail.adtech"))
    unknown = normalize_observed(Kind.ASSOCIATION, raw, address=address, ids={})
    assert unknown["configuredTableIdentifier"] == "t-1"


def test_canonical_sorts_unordered_lists_fills_defaults_and_drops_empties() -> None:
    a = canonical(
        Kind.ANALYSIS_RULE,
        {
            "analysisRuleType": "LIST",
            "analysisRulePolicy": {"v1": {"list": {"listColumns": ["b", "a"], "joinColumns": ["x"]}}},
            "ignored": None,
            "empty": [],
        },
    )
    assert a == {
        "analysisRulePolicy": {
            "v1": {"list": {"allowedJoinOperators": ["AND"], "joinColumns": ["x"], "listColumns": ["a", "b"]}}
        },
        "analysisRuleType": "LIST",
    }


def test_ordered_lists_keep_their_order() -> None:
    params = [{"name": "b", "type": "INT"}, {"name": "a", "type": "INT"}]
    out = canonical(Kind.ANALYSIS_TEMPLATE, {"analysisParameters": params})
    assert [p["name"] for p in out["analysisParameters"]] == ["b", "a"]


def test_request_builds_identifiers_and_fields() -> None:
    d = descriptor(Kind.ASSOCIATION)
    address = parse("association.retail.adtech.imps")
    membership = Ref(parse("membership.retail.adtech"))
    res = DesiredResource(
        address, {"membershipIdentifier": membership, "name": "imps", "roleArn": "r2", "description": "d"}
    )
    assert d.request("update", res, fields=["roleArn"]) == {
        "membershipIdentifier": membership,
        "configuredTableAssociationIdentifier": Ref(address),
        "roleArn": "r2",
    }
    assert d.request("delete", res) == {
        "membershipIdentifier": membership,
        "configuredTableAssociationIdentifier": Ref(address),
    }
    m = descriptor(Kind.MEMBERSHIP).request(
        "update",
        DesiredResource(
            parse("membership.r.a"), {"paymentConfiguration": {"queryCompute": {"isResponsible": True}}}
        ),
    )
    assert m["membershipPaymentConfiguration"] == {"queryCompute": {"isResponsible": True}}


def test_arns_anywhere_become_refs_again() -> None:
    template = parse("analysis_template.c.retailer.reach")
    raw = {
        "configuredTableId": "t-1",
        "type": "CUSTOM",
        "policy": {"v1": {"custom": {"allowedAnalyses": ["arn:aws:cleanrooms:x:1:t/9", "ANY_QUERY"]}}},
    }
    out = normalize_observed(
        Kind.ANALYSIS_RULE,
        raw,
        address=parse("analysis_rule.retailer.purchases"),
        ids={"arn:aws:cleanrooms:x:1:t/9": template},
    )
    assert out["analysisRulePolicy"]["v1"]["custom"]["allowedAnalyses"] == ["ANY_QUERY", Ref(template, "arn")]


def test_create_request_restores_required_empty_lists() -> None:
    collab = DesiredResource(
        parse("collaboration.c"),
        canonical(
            Kind.COLLABORATION,
            {
                "name": "c",
                "creatorDisplayName": "A",
                "creatorMemberAbilities": [],
                "queryLogStatus": "ENABLED",
                "members": [{"accountId": "111122223333", "displayName": "B", "memberAbilities": []}],
            },
        ),
    )
    assert "creatorMemberAbilities" not in collab.attributes
    params = descriptor(Kind.COLLABORATION).request("create", collab)
    assert params["creatorMemberAbilities"] == []
    assert params["members"][0]["memberAbilities"] == []
    import botocore.session
    from botocore.validate import validate_parameters

    model = botocore.session.get_session().get_service_model("cleanrooms")
    validate_parameters(params, model.operation_model("CreateCollaboration").input_shape)
