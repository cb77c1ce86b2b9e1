"""plan -> apply -> plan (empty) -> destroy, for every example stack, through the CLI on the local backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import STACKS, edit_table_by_hand, raise_quotas, run
from e2e_helpers import copy_stack, live_resources

from reconciler import emulator


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)


@pytest.mark.parametrize("name", STACKS)
def test_plan_apply_replan_destroy(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = str(copy_stack(name, tmp_path))
    raise_quotas(name, tmp_path)
    plan_file = tmp_path / "plans" / f"{name}.json"
    code, out, err = run(capsys, "plan", stack, "--detailed-exitcode", "--out", str(plan_file))
    assert code == 2, err
    assert json.loads(plan_file.read_text())["summary"]["create"] > 0

    code, out, err = run(capsys, "apply", str(plan_file), "--auto-approve", "--stack", stack)
    assert code == 0, out + err
    assert "Apply complete" in out

    code, out, err = run(capsys, "plan", stack, "--detailed-exitcode")
    assert code == 0, out + err
    assert run(capsys, "drift", stack)[0] == 0

    code, out, err = run(capsys, "destroy", stack, "--auto-approve", "--allow-destroy")
    assert code == 0, out + err
    assert live_resources(tmp_path, Path(stack)) == {
        "collaborations": [],
        "memberships": [],
        "configured_tables": [],
    }


def test_apply_of_a_stack_asks_and_can_be_declined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = str(copy_stack("retail-adtech", tmp_path))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    code, out, err = run(capsys, "apply", stack)
    assert code == 1 and "nothing was changed" in err
    assert live_resources(tmp_path, Path(stack))["collaborations"] == []


def _remove_member(stack: Path, member: str) -> None:
    collab_file = stack / "collaboration.yaml"
    doc = yaml.safe_load(collab_file.read_text())
    del doc["members"][member]
    collab_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    for path in stack.glob("*.yaml"):
        if path != collab_file and yaml.safe_load(path.read_text()).get("owner") == member:
            path.unlink()


def test_removing_a_member_is_irreversible_and_refused_without_allow_destroy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    _remove_member(stack, "adtech")

    plan_file = tmp_path / "plans" / "retail-adtech.json"
    code, out, err = run(
        capsys, "plan", str(stack), "--format", "json", "--detailed-exitcode", "--out", str(plan_file)
    )
    assert code == 2, err
    doc = json.loads(out)
    removals = [c for c in doc["changes"] if c["action"] == "remove-member"]
    assert [c["address"] for c in removals] == ["member.retail-ad-campaign-analysis.adtech"]
    assert removals[0]["irreversible"]
    assert doc["summary"]["irreversible"] >= 1

    before = live_resources(tmp_path, stack)
    code, out, err = run(capsys, "apply", str(plan_file), "--auto-approve", "--stack", str(stack))
    assert code == 1
    assert "irreversible" in err and "--allow-destroy" in err and "nothing was changed" in err
    assert live_resources(tmp_path, stack) == before
    service = emulator.connect(tmp_path / ".reconciler" / "local.duckdb")
    try:
        client = service.client("cleanrooms", account_id="123456789012")
        collab_id = before["collaborations"][0]["id"]
        accounts = {
            m["accountId"] for m in client.list_members(collaborationIdentifier=collab_id)["memberSummaries"]
        }
    finally:
        service.close()
    assert "987654321098" in accounts


def test_stale_plan_is_refused_naming_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    table_file = stack / "purchases.yaml"
    table_file.write_text(table_file.read_text().replace("description: ", "description: Changed. ", 1))
    plan_file = tmp_path / "plans" / "retail-adtech.json"
    assert run(capsys, "plan", str(stack), "--detailed-exitcode", "--out", str(plan_file))[0] == 2

    edit_table_by_hand(tmp_path, "123456789012", "edited by hand")

    code, out, err = run(capsys, "apply", str(plan_file), "--auto-approve", "--stack", str(stack))
    assert code == 1
    assert "Plan is out of date" in err and "configured_table.retailer.purchases changed (description)" in err


def test_plan_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "no-such-stack")
    assert code == 1 and "no stack 'no-such-stack'" in err and "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out, err = run(capsys, "apply", str(bad), "--auto-approve")
    assert code == 1 and "not a readable plan file" in err


def test_demo_plans_applies_replans_and_queries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo")
    assert code == 0, out + err
    plan, rest = out.split("Apply complete", 1)
    assert "+ collaboration.retail-ad-campaign-analysis (create)" in plan
    assert "Plan: 13 to add" in plan
    replan, query = rest.split("== protected query as retailer", 1)
    assert "No changes. Stack retail-adtech on local matches the spec (13 resources)." in replan
    answer, refused = query.split("== a query the rules forbid", 1)
    rows = {tuple(line.split()) for line in answer.splitlines()}
    assert {("back_to_school", "30"), ("summer_launch", "45"), ("spring_sale", "80")} <= rows
    assert "(3 rows)" in answer and "aggregation thresholds (ad_impressions: 25, purchases: 25)" in answer
    assert "Result file: s3://acme-cleanroom-results/campaign-analysis/" in answer
    assert "SELECT hashed_email FROM purchases" in refused
    assert "Refused (FAILED): query refused [output_column_disallowed]" in refused
    assert list(tmp_path.iterdir()) == []  # the demo ran in its own directory, not the working one


def test_drift_names_changed_fields_and_resources_the_spec_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    assert run(capsys, "drift", str(stack))[0] == 0

    edit_table_by_hand(tmp_path, "987654321098", "edited by hand")
    code, out, err = run(capsys, "drift", str(stack), "--format", "json")
    assert code == 2, err
    drifted = {r["address"]: r for r in json.loads(out)["resources"]}
    fields = drifted["configured_table.adtech.ad_impressions"]["fields"]
    assert [(f["path"], f["actual"]) for f in fields] == [("description", "edited by hand")]

    (stack / "purchases.yaml").unlink()  # the spec no longer has the retailer's table
    code, out, err = run(capsys, "drift", str(stack), "--format", "json")
    assert code == 2
    drift = {r["address"]: r["drift"] for r in json.loads(out)["resources"]}
    assert drift["configured_table.retailer.purchases"] == "unexpected"
    assert drift["association.retail-ad-campaign-analysis.retailer.purchases"] == "unexpected"
