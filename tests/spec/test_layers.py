"""Layers 1 (shape and types) and 2 (AWS limits from botocore): each error at its exact position."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_helpers import COLLABORATION, problems, where, write

from reconciler.errors import SpecError
from reconciler.spec import load_stack, validate_stack
from reconciler.spec.limits import API_SHAPES, member_shape, plan
from reconciler.spec.models import DOCUMENT_MODELS

TABLE = """\
kind: ConfiguredTable
name: purchases
owner: retailer
tableReference:
  glue: {databaseName: retail, tableName: purchases}
allowedColumns: [hashed_email, amount]
analysisRule:
  type: CUSTOM
  policy:
    allowedAnalyses: [ANY_QUERY]
    allowedAnalysisProviders: [retailer]
associations:
  - collaboration: retail
    name: purchases
    roleArn: arn:aws:iam::123456789012:role/CleanRoomsTableRole
"""


def only(diags: list, code: str | None = None):  # type: ignore[no-untyped-def,type-arg]
    chosen = [d for d in diags if code is None or d.code == code]
    assert len(chosen) == 1, [d.to_text() for d in diags]
    return chosen[0]


# --------------------------------------------------------------------------- layer 1


def test_unknown_field_points_at_the_key_with_did_you_mean(tmp_path: Path) -> None:
    text = COLLABORATION.replace("    displayName: AdTech", "    displayNme: AdTech")
    d = only(problems(tmp_path, {"c.yaml": text}), "unknown-field")
    assert d.summary == 'unknown field "displayNme"'
    assert where(d) == "c.yaml:19:5"
    assert d.hint == 'did you mean "displayName"?'


def test_missing_field_points_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    text = COLLABORATION.replace('    accountId: "987654321098"\n', "")
    d = only(problems(tmp_path, {"c.yaml": text}), "missing-field")
    assert d.summary == 'missing required field "accountId" in members.adtech'
    assert where(d) == "c.yaml:17:3"


def test_unquoted_account_id_asks_for_quotes(tmp_path: Path) -> None:
    text = COLLABORATION.replace('accountId: "123456789012"', "accountId: 123456789012")
    d = only(problems(tmp_path, {"c.yaml": text}))
    assert d.summary == "members.retailer.accountId: expected a string, got the number 123456789012"
    assert where(d) == "c.yaml:8:16"
    assert "quotes" in d.hint


def test_unknown_rule_type_gets_did_you_mean_at_the_type_value(tmp_path: Path) -> None:
    text = TABLE.replace("type: CUSTOM", "type: CUSTM")
    d = only(problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": text}))
    assert d.summary == 'analysisRule.type: unknown value "CUSTM"'
    assert where(d) == "t.yaml:8:9"
    assert d.hint == 'did you mean "CUSTOM"?'


AGGREGATION_RULE = """\
analysisRule:
  type: AGGREGATION
  policy:
    aggregateColumns:
      - {columnNames: [amount], function: SUM}
    joinColumns: [hashed_email]
    dimensionColumns: []
    scalarFunctions: []
    outputConstraints:
      - {columnName: hashed_email, minimum: 50, type: COUNT_DISTINCT}
"""


def _with_rule(rule: str) -> str:
    """TABLE with its analysisRule replaced by ``rule`` (a YAML block at the document's top level)."""
    head, tail = TABLE.split("analysisRule:\n", 1)
    return head + rule + "associations:" + tail.split("associations:", 1)[1]


def test_a_typo_inside_the_rule_policy_is_reported_at_its_own_key_with_did_you_mean(tmp_path: Path) -> None:
    text = _with_rule(AGGREGATION_RULE.replace("dimensionColumns:", "dimensionColumn:"))
    d = only(problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": text}))
    assert d.summary == 'unknown field "dimensionColumn"'
    assert where(d) == "t.yaml:13:5"
    assert d.hint == 'did you mean "dimensionColumns"?'


def test_a_typo_in_a_custom_rule_threshold_is_reported_at_its_key(tmp_path: Path) -> None:
    rule = (
        "analysisRule:\n  type: CUSTOM\n  policy:\n    allowedAnalyses: [ANY_QUERY]\n"
        "    aggregationThresholds:\n      - identityColumn: [hashed_email]\n"
        "        minimumIdentityCount: 2\n"
        "        type: COUNT_DISTINCT\n        allowedAggregateExpressionType: COLUMNS_ONLY\n"
    )
    d = only(problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": _with_rule(rule)}))
    assert d.summary == 'unknown field "identityColumn"'
    assert where(d) == "t.yaml:12:9"
    assert d.hint == 'did you mean "identityColumns"?'


def test_a_quoted_number_in_the_rule_policy_is_reported_at_the_value(tmp_path: Path) -> None:
    text = _with_rule(AGGREGATION_RULE.replace("minimum: 50", 'minimum: "50"'))
    d = only(problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": text}))
    assert d.summary == (
        'analysisRule.policy.outputConstraints[0].minimum: expected an integer, got the string "50"'
    )
    assert where(d).startswith("t.yaml:16:")
    assert "remove the quotes" in d.hint


def test_unknown_kind_gets_did_you_mean(tmp_path: Path) -> None:
    d = only(problems(tmp_path, {"c.yaml": "kind: ConfiguredTabel\nname: x\n"}))
    assert (d.summary, where(d), d.hint) == (
        'unknown kind "ConfiguredTabel"',
        "c.yaml:1:7",
        'did you mean "ConfiguredTable"?',
    )


def test_errors_from_every_file_are_reported_together_sorted(tmp_path: Path) -> None:
    files = {
        "b.yaml": TABLE.replace("owner: retailer", "owner: [retailer]"),
        "a.yaml": COLLABORATION.replace("queryLogStatus: ENABLED\nanalytics", "queryLogStatus: 3\nanalytics"),
    }
    with pytest.raises(SpecError) as info:
        load_stack(write(tmp_path, files))
    errors = [where(d) for d in info.value.diagnostics if d.severity.value == "error"]
    assert errors == ["a.yaml:4:17", "b.yaml:3:1"]  # a list value: the key


# --------------------------------------------------------------------------- layer 2


@pytest.mark.parametrize(
    ("old", "new", "summary", "position"),
    [
        (
            '"987654321098"',
            '"98765432109"',
            "members.adtech.accountId: is 11 characters long; AWS allows exactly 12",
            "c.yaml:18:16",
        ),
        (
            '"987654321098"',
            '"98765432109x"',
            'members.adtech.accountId: "98765432109x" is not a valid AccountId',
            "c.yaml:18:16",
        ),
        (
            "abilities: [CAN_QUERY, CAN_RECEIVE_RESULTS]",
            "abilities: [CAN_QUERY, CAN_RECIEVE_RESULTS]",
            'members.retailer.abilities[1]: unknown value "CAN_RECIEVE_RESULTS"',
            "c.yaml:10:28",
        ),
        (
            "name: retail",
            "name: " + "r" * 101,
            "name: is 101 characters long; AWS allows 1 to 100",
            "c.yaml:2:7",
        ),
        (
            "arn:aws:iam::123456789012:role/CleanRoomsResultRole",
            "arn:aws:iam::123456789012:user/CleanRoomsResult",
            "members.retailer.membership.defaultResultConfiguration.roleArn: "
            '"arn:aws:iam::123456789012:user/CleanRoomsResult" is not a valid RoleArn',
            "c.yaml:16:18",
        ),
        (
            "resultFormat: CSV",
            "resultFormat: XLS",
            "members.retailer.membership.defaultResultConfiguration.outputConfiguration.s3.resultFormat: "
            'unknown value "XLS"',
            "c.yaml:15:52",
        ),
    ],
)
def test_aws_limits_on_the_collaboration(
    tmp_path: Path, old: str, new: str, summary: str, position: str
) -> None:
    assert old in COLLABORATION
    d = only(problems(tmp_path, {"c.yaml": COLLABORATION.replace(old, new, 1)}))
    assert (d.summary, where(d)) == (summary, position)


def test_enum_hint_for_year_suggests_extract(tmp_path: Path) -> None:
    rule = """\
analysisRule:
  type: AGGREGATION
  policy:
    aggregateColumns: [{columnNames: [amount], function: SUM}]
    joinColumns: [hashed_email]
    dimensionColumns: []
    scalarFunctions: [YEAR]
    outputConstraints: [{columnName: hashed_email, minimum: 1, type: COUNT_DISTINCT}]
"""
    start = TABLE.index("analysisRule:")
    table = TABLE[:start] + rule + TABLE[TABLE.index("associations:") :]
    diags = problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": table})
    year = only(diags, "aws-enum")
    assert (year.summary, where(year)) == (
        'analysisRule.policy.scalarFunctions[0]: unknown value "YEAR"',
        "t.yaml:13:23",
    )
    assert "EXTRACT(YEAR FROM column)" in year.hint
    low = only(diags, "aws-range")
    assert (low.summary, where(low)) == (
        "analysisRule.policy.outputConstraints[0].minimum: 1 is outside AWS's range 2 to 100000",
        "t.yaml:14:61",
    )


def test_union_needs_exactly_one_member(tmp_path: Path) -> None:
    table = TABLE.replace(
        "  glue: {databaseName: retail, tableName: purchases}",
        "  glue: {databaseName: retail, tableName: purchases}\n"
        "  athena: {workGroup: w, databaseName: d, tableName: t}",
    )
    d = only(problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": table}), "aws-union")
    assert (
        d.summary
        == "tableReference: set exactly one of glue, athena, snowflake, databricks (got glue, athena)"
    )
    assert where(d) == "t.yaml:4:1"


def test_logical_names_are_not_checked_as_account_ids(tmp_path: Path) -> None:
    _, diags = validate_stack(write(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": TABLE}))
    assert [d.to_text() for d in diags if d.code.startswith("aws-")] == []


def test_every_model_field_maps_to_the_service_model_or_is_declared_local() -> None:
    from reconciler.spec.schema import model_shapes

    shapes = model_shapes()
    assert set(API_SHAPES) <= set(shapes)
    for model, shape in shapes.items():
        fields, _ = plan(model, shape)  # raises LookupError for an unmapped field
        assert [f.name for f in fields] == list(model.model_fields)
    assert set(DOCUMENT_MODELS.values()) <= set(shapes)


#: Fields AWS requires that the spec lets users omit, with a documented default the API accepts.
SPEC_DEFAULTS = {"abilities", "analysisMethod", "format"}


def test_api_required_members_are_required_in_the_models() -> None:
    from reconciler.spec.schema import model_shapes

    for model, shape in model_shapes().items():
        entry = API_SHAPES.get(model)
        api = member_shape(entry.shape, entry.service) if entry and entry.shape else shape
        if api is None:
            continue
        renames = {v: k for k, v in entry.renames.items()} if entry else {}
        for member in api.metadata.get("required", []):
            name = renames.get(member, member)
            field = model.model_fields.get(name)
            if field is not None and name not in SPEC_DEFAULTS:
                assert field.is_required(), f"{model.__name__}.{name} is required by {api.name}"


# --------------------------------------------------------------------------- Stack


def test_stack_locates_nested_models_and_fields(tmp_path: Path) -> None:
    stack = load_stack(write(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": TABLE}))
    table = stack.configured_tables[0]
    assert str(stack.locate(table)).endswith("t.yaml:1:1")
    assert str(stack.locate(table, "analysisRule", "policy", "allowedAnalysisProviders", 0)).endswith(
        "t.yaml:11:32"
    )
    association = table.associations[0]
    assert str(stack.locate(association, "roleArn")).endswith("t.yaml:15:14")
    member = stack.collaborations[0].members["adtech"]
    assert str(stack.locate(member, "accountId")).endswith("c.yaml:18:16")
    assert str(stack.locate(member, "abilities")).endswith("c.yaml:17:3")  # absent: the member's key
    assert stack.file_of(association) == tmp_path / "t.yaml"
    assert stack.documents == [stack.collaborations[0], table]
