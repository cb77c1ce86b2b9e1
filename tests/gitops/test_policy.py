"""Privacy policy as code: violations at the spec node, from validate, plan and review; bad policy files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import SPECS, run
from gitops_helpers import edit

from reconciler.spec import load_stack
from reconciler.spec.policy import ENVIRONMENT_VARIABLE, POLICY_LIMITS, PrivacyPolicy, check, load_policy

Capsys = pytest.CaptureFixture[str]

STRICT = """\
kind: PrivacyPolicy
minimumAggregationThreshold: 50
forbiddenColumns:
  patterns: ['(?i)^store_']
forbiddenOutputColumns:
  patterns: ['(?i)e-?mail']
maximumEpsilon: 2
minimumUsersNoisePerQuery: 10
allowedResultReceivers: [adtech]
allowedAnalyticsEngines: [CLEAN_ROOMS_SQL]
allowedRuleTypes: [AGGREGATION]
allowAnyQuery: false
requireQueryLogging: true
"""


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    target = tmp_path / "specs" / "retail-adtech"
    shutil.copytree(SPECS / "retail-adtech", target)
    return target


def test_every_rule_reports_at_the_violating_node(stack: Path) -> None:
    (stack / "policy.yaml").write_text(STRICT)
    edit(
        stack / "collaboration.yaml",
        "queryLogStatus: ENABLED\nanalytics",
        "queryLogStatus: DISABLED\nanalytics",
    )
    loaded, problems = load_policy(stack / "policy.yaml")
    assert loaded is not None and problems == []
    found = check(load_stack_without_policy(stack), loaded)
    where = {(d.code, str(d.location)) for d in found}
    purchases, collab = "specs/retail-adtech/purchases.yaml", "specs/retail-adtech/collaboration.yaml"
    assert ("policy-minimum-threshold", f"{purchases}:19:31") in where
    assert ("policy-forbidden-column", f"{purchases}:9:82") in where  # store_region in allowedColumns
    assert ("policy-result-receiver", f"{collab}:12:28") in where  # retailer's CAN_RECEIVE_RESULTS
    assert ("policy-result-receiver", f"{purchases}:30:32") in where  # association receivers
    assert ("policy-analytics-engine", f"{collab}:7:18") in where
    assert ("policy-rule-type", f"{purchases}:12:9") in where
    assert ("policy-any-query", f"{purchases}:14:23") in where
    assert ("policy-query-logging", f"{collab}:6:17") in where
    # hashed_email is in disallowedOutputColumns: it cannot reach results, so no violation
    assert not any(d.code == "policy-forbidden-output-column" for d in found)
    assert all("policy.yaml:" in d.detail for d in found)


def load_stack_without_policy(stack: Path):  # type: ignore[no-untyped-def]
    """The stack as the pipeline loads it, with its policy file moved out of the way."""
    moved = stack.parent / "policy.yaml.off"
    (stack / "policy.yaml").rename(moved)
    try:
        return load_stack(stack)
    finally:
        moved.rename(stack / "policy.yaml")


def test_output_columns_rule_per_rule_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "classic"
    shutil.copytree(SPECS / "retail-adtech-classic", target)
    policy = PrivacyPolicy.model_validate({"forbiddenOutputColumns": {"names": ["STORE_REGION"]}})
    (target / "policy.yaml").write_text("forbiddenOutputColumns: {names: [STORE_REGION]}\n")
    loaded, _ = load_policy(target / "policy.yaml")
    assert loaded is not None and loaded.policy == policy
    (target / "policy.yaml").unlink()
    [violation] = check(load_stack(target), loaded)
    assert violation.code == "policy-forbidden-output-column"
    assert str(violation.location) == "classic/purchases.yaml:21:57" and "dimensionColumns" in violation.hint


def test_validate_reports_policy_violations_with_positions(stack: Path, capsys: Capsys) -> None:
    (stack / "policy.yaml").write_text("kind: PrivacyPolicy\nminimumAggregationThreshold: 30\n")
    code, out, _ = run(capsys, "validate", "specs/retail-adtech")
    assert code == 1
    assert (
        "specs/retail-adtech/purchases.yaml:19:31: error: aggregation threshold 25 on table purchases" in out
    )
    assert "specs/retail-adtech/ad_impressions.yaml:19:31: error:" in out
    assert "policy: minimumAggregationThreshold set at specs/retail-adtech/policy.yaml:2:30" in out


def test_warning_severity_reports_without_failing(stack: Path, capsys: Capsys) -> None:
    (stack / "policy.yaml").write_text("minimumAggregationThreshold: 30\nseverity: warning\n")
    code, out, _ = run(capsys, "validate", "specs/retail-adtech")
    assert code == 0 and "warning: aggregation threshold 25" in out


def test_plan_refuses_a_stack_that_breaks_its_policy(stack: Path, capsys: Capsys) -> None:
    (stack / "policy.yaml").write_text("requireQueryLogging: true\n")
    edit(
        stack / "collaboration.yaml",
        "queryLogStatus: ENABLED\nanalytics",
        "queryLogStatus: DISABLED\nanalytics",
    )
    code, _, err = run(capsys, "plan", "specs/retail-adtech")
    assert code == 1
    assert (
        "specs/retail-adtech/collaboration.yaml:6:17: error: query logging of retail-ad-campaign-analysis"
        in err
    )
    assert not Path("plans").exists()  # nothing half-written


def test_environment_policy_applies_to_every_stack(
    stack: Path, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tmp_path / "org.yaml"
    org.write_text("allowedAnalyticsEngines: [CLEAN_ROOMS_SQL]\n")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(org))
    code, out, _ = run(capsys, "validate", "specs/retail-adtech")
    assert code == 1 and "collaboration.yaml:7:18: error: analytics engine of" in out
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "missing.yaml"))
    code, out, _ = run(capsys, "validate", "specs/retail-adtech")
    assert code == 1 and "missing.yaml: error: no such policy file" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "minimumAggregationTreshold: 5\n",
            'policy.yaml:1:1: error: unknown field "minimumAggregationTreshold"',
        ),
        ("maximumEpsilon: lots\n", "policy.yaml:1:17: error: maximumEpsilon: expected an integer"),
        (
            "forbiddenColumns: {patterns: ['(a']}\n",
            "policy.yaml:1:31: error: forbiddenColumns.patterns[0]: not a",
        ),
        ("kind: Policy\n", "policy.yaml:1:7: error: kind: must be"),
        ("a: [\n", "policy.yaml:2:1: error: invalid YAML"),
    ],
)
def test_bad_policy_files_are_reported_at_their_position(
    stack: Path, capsys: Capsys, text: str, expected: str
) -> None:
    (stack / "policy.yaml").write_text(text)
    code, out, _ = run(capsys, "validate", "specs/retail-adtech")
    assert code == 1 and f"specs/retail-adtech/{expected}" in out, out


def test_every_policy_field_has_a_rule() -> None:
    fields = set(PrivacyPolicy.model_fields) - {"kind", "severity"}
    assert {r.field for r in POLICY_LIMITS} == fields
