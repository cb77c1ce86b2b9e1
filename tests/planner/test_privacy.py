"""Privacy impact: one row per rule, checked on a Change built from two attribute sets (no backend)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.planner.addresses import parse
from reconciler.planner.model import Action, Change, Impact
from reconciler.planner.privacy import FIELD_EFFECTS, assess
from reconciler.planner.resource import Ref


def agg(**policy: Any) -> dict[str, Any]:
    return {"analysisRuleType": "AGGREGATION", "analysisRulePolicy": {"v1": {"aggregation": policy}}}


def custom(**policy: Any) -> dict[str, Any]:
    return {"analysisRuleType": "CUSTOM", "analysisRulePolicy": {"v1": {"custom": policy}}}


def lst(**policy: Any) -> dict[str, Any]:
    return {"analysisRuleType": "LIST", "analysisRulePolicy": {"v1": {"list": policy}}}


def threshold(n: int, expr: str = "COLUMNS_ONLY") -> list[dict[str, Any]]:
    return [
        {
            "identityColumns": ["email"],
            "minimumIdentityCount": n,
            "type": "COUNT_DISTINCT",
            "allowedAggregateExpressionType": expr,
        }
    ]


RULE = "analysis_rule.retailer.purchases"

#: The Clean Rooms ML resources of the cases below.
CAM = "configured_audience_model.publisher.lookalike"
CHANNEL = "ml_input_channel.c.advertiser.valuable"
PQ = "inputChannel.dataSource.protectedQueryInputParameters"


def _policy(*accounts: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": list(accounts)},
        "Action": "cleanrooms-ml:StartAudienceGenerationJob",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _nest(path: str, value: Any) -> dict[str, Any]:
    for part in reversed(path.split(".")):
        value = {part: value}
    return value  # type: ignore[no-any-return]


CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], Impact, str]] = [
    (
        "aggregation-threshold",
        RULE,
        custom(aggregationThresholds=threshold(100)),
        custom(aggregationThresholds=threshold(25)),
        Impact.WEAKENS,
        "aggregation threshold on purchases lowered 100 -> 25",
    ),
    (
        "aggregation-threshold",
        RULE,
        custom(aggregationThresholds=threshold(25)),
        custom(aggregationThresholds=threshold(100)),
        Impact.STRENGTHENS,
        "aggregation threshold on purchases raised 25 -> 100",
    ),
    (
        "aggregate-expression",
        RULE,
        custom(aggregationThresholds=threshold(25)),
        custom(aggregationThresholds=threshold(25, "ANY_EXPRESSION")),
        Impact.WEAKENS,
        "allowed aggregate expressions on purchases changed COLUMNS_ONLY -> ANY_EXPRESSION",
    ),
    (
        "output-constraint",
        RULE,
        agg(outputConstraints=[{"columnName": "email", "minimum": 100, "type": "COUNT_DISTINCT"}]),
        agg(outputConstraints=[{"columnName": "email", "minimum": 25, "type": "COUNT_DISTINCT"}]),
        Impact.WEAKENS,
        "aggregation threshold on purchases lowered 100 -> 25",
    ),
    (
        "list-columns",
        RULE,
        lst(listColumns=["a"]),
        lst(listColumns=["a", "b"]),
        Impact.WEAKENS,
        "b added to listColumns on purchases",
    ),
    (
        "join-columns",
        RULE,
        agg(joinColumns=["email"]),
        agg(joinColumns=["email", "phone"]),
        Impact.WEAKENS,
        "phone added to join columns on purchases",
    ),
    (
        "join-operators",
        RULE,
        agg(allowedJoinOperators=["AND"]),
        agg(allowedJoinOperators=["AND", "OR"]),
        Impact.WEAKENS,
        "OR added to allowed join operators on purchases",
    ),
    (
        "join-required",
        RULE,
        agg(joinRequired="QUERY_RUNNER"),
        agg(),
        Impact.WEAKENS,
        "required join removed from purchases",
    ),
    (
        "scalar-functions",
        RULE,
        agg(scalarFunctions=["ROUND"]),
        agg(scalarFunctions=["ROUND", "CAST"]),
        Impact.WEAKENS,
        "CAST added to scalar functions on purchases",
    ),
    (
        "aggregate-columns",
        RULE,
        agg(aggregateColumns=[{"columnNames": ["x"], "function": "SUM"}]),
        agg(
            aggregateColumns=[
                {"columnNames": ["x"], "function": "SUM"},
                {"columnNames": ["x"], "function": "AVG"},
            ]
        ),
        Impact.WEAKENS,
        "AVG(x) added to aggregate columns on purchases",
    ),
    (
        "rule-type",
        RULE,
        agg(joinColumns=["e"]),
        lst(joinColumns=["e"]),
        Impact.WEAKENS,
        "analysis rule type on purchases changed AGGREGATION -> LIST",
    ),
    (
        "rule-type",
        RULE,
        lst(joinColumns=["e"]),
        agg(joinColumns=["e"]),
        Impact.STRENGTHENS,
        "analysis rule type on purchases changed LIST -> AGGREGATION",
    ),
    (
        "disallowed-output",
        RULE,
        custom(disallowedOutputColumns=["email"]),
        custom(),
        Impact.WEAKENS,
        "email removed from disallowed output columns on purchases",
    ),
    (
        "differential-privacy",
        RULE,
        custom(differentialPrivacy={"columns": [{"name": "u"}]}),
        custom(),
        Impact.WEAKENS,
        "differential privacy removed from purchases",
    ),
    (
        "literal-comparisons",
        RULE,
        custom(
            comparisonControls={
                "allowedLiteralComparisonColumns": ["a"],
                "allowedColumnComparisonColumns": ["e"],
            }
        ),
        custom(
            comparisonControls={
                "allowedLiteralComparisonColumns": ["a", "b"],
                "allowedColumnComparisonColumns": ["e"],
            }
        ),
        Impact.WEAKENS,
        "b added to literal comparison columns on purchases",
    ),
    (
        "analysis-providers",
        RULE,
        custom(allowedAnalysisProviders=["1"]),
        custom(allowedAnalysisProviders=["1", "2"]),
        Impact.WEAKENS,
        "2 added to allowed analysis providers on purchases",
    ),
    (
        "allowed-analyses",
        RULE,
        custom(allowedAnalyses=["arn:t1"]),
        custom(allowedAnalyses=["arn:t1", "ANY_QUERY"]),
        Impact.WEAKENS,
        "ANY_QUERY added to allowed analyses on purchases",
    ),
    (
        "result-receivers",
        "association_rule.r.retailer.purchases",
        custom(allowedResultReceivers=["1"]),
        custom(allowedResultReceivers=["1", "2"]),
        Impact.WEAKENS,
        "2 added to result receivers on purchases",
    ),
    (
        "allowed-columns",
        "configured_table.retailer.purchases",
        {"allowedColumns": ["a"]},
        {"allowedColumns": ["a", "email"]},
        Impact.WEAKENS,
        "email added to allowedColumns on purchases",
    ),
    (
        "member-abilities",
        "member.r.adtech",
        {"memberAbilities": []},
        {"memberAbilities": ["CAN_RECEIVE_RESULTS"]},
        Impact.WEAKENS,
        "CAN_RECEIVE_RESULTS added to abilities on adtech",
    ),
    (
        "query-logging",
        "collaboration.r",
        {"queryLogStatus": "ENABLED"},
        {"queryLogStatus": "DISABLED"},
        Impact.WEAKENS,
        "query logging on r changed ENABLED -> DISABLED",
    ),
    (
        "cleartext",
        "collaboration.r",
        {"dataEncryptionMetadata": {"allowCleartext": False}},
        {"dataEncryptionMetadata": {"allowCleartext": True}},
        Impact.WEAKENS,
        "cleartext columns on r changed False -> True",
    ),
    (
        "epsilon",
        "privacy_budget_template.r.retailer",
        {"parameters": {"differentialPrivacy": {"epsilon": 1}}},
        {"parameters": {"differentialPrivacy": {"epsilon": 5}}},
        Impact.WEAKENS,
        "differential-privacy epsilon on r raised 1 -> 5",
    ),
    (
        "noise",
        "privacy_budget_template.r.retailer",
        {"parameters": {"differentialPrivacy": {"usersNoisePerQuery": 30}}},
        {"parameters": {"differentialPrivacy": {"usersNoisePerQuery": 10}}},
        Impact.WEAKENS,
        "noise per query (usersNoisePerQuery) on r lowered 30 -> 10",
    ),
    (
        "template-source",
        "analysis_template.r.retailer.reach",
        {"source": {"text": "SELECT 1"}},
        {"source": {"text": "SELECT 2"}},
        Impact.WEAKENS,
        "source of reach changed: a new analysis to review",
    ),
    (
        "member-ml-abilities",
        "member.r.adtech",
        {"mlMemberAbilities": {"customMLMemberAbilities": []}},
        {"mlMemberAbilities": {"customMLMemberAbilities": ["CAN_RECEIVE_MODEL_OUTPUT"]}},
        Impact.WEAKENS,
        "CAN_RECEIVE_MODEL_OUTPUT added to ML abilities on adtech",
    ),
    (
        "shared-audience-metrics",
        CAM,
        {"sharedAudienceMetrics": ["NONE"]},
        {"sharedAudienceMetrics": ["ALL"]},
        Impact.WEAKENS,
        "shared audience metrics on lookalike changed NONE -> ALL",
    ),
    (
        "min-matching-seed",
        CAM,
        {"minMatchingSeedSize": 500},
        {"minMatchingSeedSize": 100},
        Impact.WEAKENS,
        "minimum matching seed size on lookalike lowered 500 -> 100",
    ),
    (
        "audience-sizes",
        CAM,
        {"audienceSizeConfig": {"audienceSizeBins": [100]}},
        {"audienceSizeConfig": {"audienceSizeBins": [100, 400]}},
        Impact.WEAKENS,
        "400 added to audience sizes on lookalike",
    ),
    (
        "audience-output",
        CAM,
        {"outputConfig": {"destination": {"s3Destination": {"s3Uri": "s3://a/"}}}},
        {"outputConfig": {"destination": {"s3Destination": {"s3Uri": "s3://b/"}}}},
        Impact.WEAKENS,
        'audience output location of lookalike changed {"destination": {"s3Destination": {"s3Uri": "s3://a/"}}}'
        ' -> {"destination": {"s3Destination": {"s3Uri": "s3://b/"}}}',
    ),
    (
        "audience-policy",
        "configured_audience_model_policy.publisher.lookalike",
        {"configuredAudienceModelPolicy": _policy("111122223333")},
        {"configuredAudienceModelPolicy": _policy("111122223333", "999999999999")},
        Impact.WEAKENS,
        "999999999999: cleanrooms-ml:StartAudienceGenerationJob added to who may use the model on lookalike",
    ),
    (
        "channel-query",
        CHANNEL,
        _nest(f"{PQ}.sqlParameters", {"queryString": "SELECT 1"}),
        _nest(f"{PQ}.sqlParameters", {"queryString": "SELECT 2"}),
        Impact.WEAKENS,
        "query of valuable changed: a new analysis to review",
    ),
    (
        "channel-receivers",
        CHANNEL,
        {"configuredModelAlgorithmAssociations": ["a"]},
        {"configuredModelAlgorithmAssociations": ["a", "b"]},
        Impact.WEAKENS,
        "b added to ML receivers of its output on valuable",
    ),
]


def test_a_policy_that_drops_a_principal_strengthens() -> None:
    change = Change(
        parse("configured_audience_model_policy.publisher.lookalike"),
        Action.UPDATE,
        before={"configuredAudienceModelPolicy": _policy("111122223333", "999999999999")},
        after={"configuredAudienceModelPolicy": _policy("111122223333")},
    )
    assert assess(change).impact is Impact.STRENGTHENS


@pytest.mark.parametrize(
    ("rule", "address", "before", "after", "impact", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_field_rule(
    rule: str, address: str, before: dict[str, Any], after: dict[str, Any], impact: Impact, reason: str
) -> None:
    change = assess(Change(parse(address), Action.UPDATE, before=before, after=after))
    found = [(f.rule, f.impact, f.reason) for f in change.findings]
    assert (rule, impact, reason) in found
    assert change.impact is (Impact.WEAKENS if any(f[1] is Impact.WEAKENS for f in found) else change.impact)


def test_every_field_rule_has_a_case() -> None:
    assert {r.id for r in FIELD_EFFECTS} - {c[0] for c in CASES} <= {
        "dimension-columns",
        "column-comparisons",
        "comparison-controls",
        "additional-analyses",
        "additional-analyses-allowed",
        "job-logging",
        "duplicates",
        "joins-different-names",
        "preserve-nulls",
        "result-regions",
        "auto-approved-changes",
        "access-budget",
    }


def test_weakening_findings_come_first_and_decide_the_impact() -> None:
    before = lst(listColumns=["a", "b"], joinColumns=["e"])
    after = lst(listColumns=["a", "c"], joinColumns=["e"])
    change = assess(Change(parse(RULE), Action.UPDATE, before=before, after=after))
    assert change.impact is Impact.WEAKENS
    assert [f.impact for f in change.findings] == [Impact.WEAKENS, Impact.STRENGTHENS]


def test_description_change_is_neutral_with_a_reason() -> None:
    from reconciler.planner.model import FieldDiff

    change = assess(
        Change(
            parse("configured_table.retailer.purchases"),
            Action.UPDATE,
            before={"description": "a"},
            after={"description": "b"},
            field_diffs=(FieldDiff("description", "a", "b"),),
        )
    )
    assert change.impact is Impact.NEUTRAL
    assert change.findings[0].reason == "no privacy-relevant change (description)"


@pytest.mark.parametrize(
    ("address", "action", "attrs", "impact", "reason"),
    [
        (
            "association.r.retailer.buys",
            Action.CREATE,
            {"configuredTableIdentifier": Ref(parse("configured_table.retailer.purchases"))},
            Impact.WEAKENS,
            "table purchases is shared with collaboration r as buys",
        ),
        (
            "association.r.retailer.buys",
            Action.DELETE,
            {"configuredTableIdentifier": Ref(parse("configured_table.retailer.purchases"))},
            Impact.STRENGTHENS,
            "table purchases is no longer shared with collaboration r (as buys)",
        ),
        (
            "analysis_template.r.retailer.reach",
            Action.CREATE,
            {},
            Impact.WEAKENS,
            "new analysis template reach can be run in r",
        ),
        (
            "member.r.agency",
            Action.ADD_MEMBER,
            {"memberAbilities": ["CAN_RECEIVE_RESULTS"]},
            Impact.WEAKENS,
            "agency joins r with abilities CAN_RECEIVE_RESULTS",
        ),
        (
            "member.r.agency",
            Action.ADD_MEMBER,
            {"memberAbilities": []},
            Impact.NEUTRAL,
            "agency joins r with abilities none",
        ),
        (
            "member.r.agency",
            Action.REMOVE_MEMBER,
            {"memberAbilities": ["CAN_RECEIVE_RESULTS"]},
            Impact.STRENGTHENS,
            "agency is removed from r and loses CAN_RECEIVE_RESULTS",
        ),
        (
            "association_rule.r.retailer.buys",
            Action.DELETE,
            {},
            Impact.WEAKENS,
            "results of buys in r are no longer restricted to chosen receivers",
        ),
    ],
)
def test_lifecycle_rules(
    address: str, action: Action, attrs: dict[str, Any], impact: Impact, reason: str
) -> None:
    creates = action in (Action.CREATE, Action.ADD_MEMBER)
    change = Change(
        parse(address), action, before=None if creates else attrs, after=attrs if creates else None
    )
    assessed = assess(change)
    assert (assessed.impact, assessed.findings[0].reason) == (impact, reason)
