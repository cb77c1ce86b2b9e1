"""Honest commands: no flag is silently ignored, and "matches the spec" is said only when it is true."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import edit_table_by_hand, run
from e2e_helpers import copy_stack

STACK = "retail-adtech"
COLLAB = "retail-ad-campaign-analysis"


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)


@pytest.fixture
def applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    stack = copy_stack(STACK, tmp_path)
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    return stack


def describe(stack: Path, table: str, text: str) -> None:
    path = stack / f"{table}.yaml"
    path.write_text(path.read_text().replace("description: ", f"description: {text} ", 1))


def steps(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["operation"], s["address"]) for group in doc["steps"] for s in group]


@pytest.mark.parametrize("moved", ["spec", "live state"])
def test_an_empty_saved_plan_is_still_checked_for_staleness(
    moved: str, applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "empty.json"
    code, out, err = run(capsys, "plan", str(applied), "--out", str(plan_file))
    assert code == 0 and "matches the spec" in out
    if moved == "spec":
        describe(applied, "purchases", "Changed.")
    else:
        edit_table_by_hand(tmp_path, "123456789012", "edited by hand")
    code, out, err = run(capsys, "apply", str(plan_file), "--auto-approve")
    assert code == 1, out + err
    assert "Plan is out of date" in err and f"the {moved} changed" in err
    assert "matches the spec" not in out


def test_an_empty_saved_plan_that_still_holds_applies_as_nothing_to_do(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "empty.json"
    assert run(capsys, "plan", str(applied), "--out", str(plan_file))[0] == 0
    code, out, err = run(capsys, "apply", str(plan_file), "--auto-approve")
    assert code == 0, out + err
    assert "matches the spec" in out


def test_plan_as_a_member_names_the_parts_it_left_out(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    describe(applied, "ad_impressions", "Changed.")
    code, out, err = run(capsys, "plan", str(applied), "--as", "retailer", "--detailed-exitcode")
    assert code == 0, out + err  # nothing for the retailer to do...
    assert "matches the spec" not in out  # ...but the stack does not match its spec
    assert "No changes in retailer's part" in out
    assert "Left out by --as retailer: adtech's part (1 change)" in out
    code, out, err = run(capsys, "plan", str(applied), "--as", "retailer", "--format", "json")
    assert json.loads(out)["left_out"] == {"adtech": 1}


def test_apply_of_a_saved_plan_refuses_another_backend(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    describe(applied, "purchases", "Changed.")
    plan_file = tmp_path / "p.json"
    assert run(capsys, "plan", str(applied), "--out", str(plan_file))[0] == 0
    code, out, err = run(capsys, "apply", str(plan_file), "--backend", "aws", "--auto-approve")
    assert code == 1
    assert "--backend aws does not match the plan, which was made on the local backend" in err
    code, out, err = run(capsys, "apply", str(plan_file), "--backend", "local", "--auto-approve")
    assert code == 0, out + err  # naming the plan's own backend is fine


def test_target_plans_and_applies_only_that_resource(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    describe(applied, "purchases", "Changed.")
    describe(applied, "ad_impressions", "Changed.")
    code, out, err = run(
        capsys, "plan", str(applied), "--target", "configured_table.retailer.purchases", "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert steps(doc) == [("UpdateConfiguredTable", "configured_table.retailer.purchases")]
    assert doc["targets"] == ["configured_table.retailer.purchases"] and doc["untargeted"] == 1
    code, out, err = run(
        capsys,
        "plan",
        str(applied),
        "--target",
        "configured_table.retailer.purchases",
        "--out",
        "plans/retail-adtech.json",
    )
    assert "Left out by --target configured_table.retailer.purchases: 1 change" in out
    code, out, err = run(capsys, "apply", "plans/retail-adtech.json", "--auto-approve")
    assert code == 0, out + err
    doc = json.loads(run(capsys, "plan", str(applied), "--format", "json")[1])
    assert steps(doc) == [("UpdateConfiguredTable", "configured_table.adtech.ad_impressions")]


def test_target_takes_the_changes_it_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = copy_stack(STACK, tmp_path)
    target = f"association.{COLLAB}.retailer.purchases"
    code, out, err = run(capsys, "apply", str(stack), "--target", target, "--auto-approve")
    assert code == 0, out + err
    created = {line.split(":")[0].strip() for line in out.splitlines() if line.endswith(": done")}
    assert {
        f"create collaboration.{COLLAB}",
        f"create membership.{COLLAB}.retailer",
        "create configured_table.retailer.purchases",
        f"create {target}",
    } <= created
    assert not any("adtech" in step for step in created)
    doc = json.loads(run(capsys, "plan", str(stack), "--format", "json")[1])
    assert {a for _, a in steps(doc)} >= {f"association.{COLLAB}.adtech.ad_impressions"}


def test_a_target_that_names_nothing_is_an_error(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", str(applied), "--target", "configured_table.retailer.purchase")
    assert code == 1
    assert "manages nothing at that address" in err
    assert "did you mean configured_table.retailer.purchases" in err
    code, out, err = run(capsys, "plan", str(applied), "--target", "table.x")
    assert code == 1 and "unknown resource kind" in err and "Traceback" not in err
