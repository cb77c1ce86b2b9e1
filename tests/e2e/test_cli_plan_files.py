"""A saved plan file knows its stack and its ``--as`` member: ``apply PLAN_FILE`` needs neither again."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cli_helpers import SPECS, run
from e2e_helpers import copy_stack, live_resources


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)


def test_plan_file_records_stack_path_and_member(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "plan", str(stack), "--as", "retailer", "--out", "plans/r.json")[0] == 0
    doc = json.loads((tmp_path / "plans" / "r.json").read_text())
    assert doc["as_member"] == "retailer"
    assert doc["spec"]["path"] == str(stack.resolve())
    assert doc["spec"]["from_plan"] == "../specs/retail-adtech"


def test_apply_plan_file_needs_no_stack_or_as(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "elsewhere" / "retail-adtech"  # not under ./specs: only the plan file knows it
    shutil.copytree(SPECS / "retail-adtech", stack)
    assert run(capsys, "plan", str(stack), "--as", "retailer", "--out", "plans/r.json")[0] == 0
    code, out, err = run(capsys, "apply", "plans/r.json", "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete" in out
    # the retailer's part only: its table exists, the ad partner's does not yet
    names = {t["name"] for t in live_resources(tmp_path, stack)["configured_tables"]}
    assert "purchases" in names and "ad_impressions" not in names


def test_apply_with_another_as_than_the_plans_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    plan_file = str(tmp_path / "plans" / "retail-adtech.json")
    assert run(capsys, "plan", str(stack), "--as", "retailer", "--out", plan_file)[0] == 0
    code, out, err = run(capsys, "apply", plan_file, "--as", "adtech", "--auto-approve")
    assert code == 1 and "--as adtech does not match the plan, which was made --as retailer" in err
    assert run(capsys, "apply", plan_file, "--as", "retailer", "--auto-approve")[0] == 0

    assert run(capsys, "plan", str(stack), "--out", plan_file, "--overwrite")[0] == 0  # for every member
    code, out, err = run(capsys, "apply", plan_file, "--as", "adtech", "--auto-approve")
    assert code == 1 and "made for every member (without --as)" in err
    assert live_resources(tmp_path, stack)["configured_tables"][0]["name"] == "purchases"


def test_plan_file_whose_stack_moved_away_names_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "plan", str(stack), "--out", "plans/x.json")[0] == 0
    (tmp_path / "moved").mkdir()
    os.rename(stack, tmp_path / "moved" / "retail-adtech")
    code, out, err = run(capsys, "apply", "plans/x.json", "--auto-approve")
    assert code == 1 and f"made from the stack at {stack.resolve()}, which no longer exists" in err
    assert "--stack PATH" in err
    assert "Traceback" not in err


def test_apply_with_stack_pointing_at_the_moved_stack_applies_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "plan", str(stack), "--out", "plans/x.json")[0] == 0
    (tmp_path / "moved").mkdir()
    os.rename(stack, tmp_path / "moved" / "retail-adtech")
    code, out, err = run(capsys, "apply", "plans/x.json", "--stack", "moved/retail-adtech", "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete" in out and "out of date" not in err


def test_a_plan_applied_to_another_stack_is_refused_before_it_is_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_stack("retail-adtech", tmp_path)
    copy_stack("org-a-org-b", tmp_path)
    assert run(capsys, "plan", "specs/retail-adtech", "--out", "plans/x.json")[0] == 0
    code, out, err = run(capsys, "apply", "plans/x.json", "--stack", "specs/org-a-org-b", "--auto-approve")
    assert code == 1 and "the plan is for stack 'retail-adtech'" in err
    assert out == "" and "collaboration." not in err and "Traceback" not in err
    assert live_resources(tmp_path, tmp_path / "specs" / "org-a-org-b")["collaborations"] == []


def test_an_old_plan_file_is_refused_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "plan", str(stack), "--out", "plans/x.json")[0] == 0
    doc = json.loads((tmp_path / "plans" / "x.json").read_text())
    doc["format_version"] = 1
    (tmp_path / "plans" / "x.json").write_text(json.dumps(doc))
    code, out, err = run(capsys, "apply", "plans/x.json", "--auto-approve")
    assert code == 1 and "format version 1 (made by an older reconciler)" in err
    assert "make the plan again" in err and "Traceback" not in err


@pytest.mark.parametrize("target", ["nothere.json", "plans/NOTHERE.JSON"])
def test_a_missing_plan_file_is_called_a_plan_file(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "apply", target, "--auto-approve")
    assert code == 1 and f"no plan file {target!r}" in err and "no stack" not in err
    assert "reconciler plan" in err and "Traceback" not in err


def test_plan_saves_nothing_without_out_and_says_how_to_save(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    code, _, err = run(capsys, "plan", str(stack), "--as", "retailer")
    assert code == 0
    assert not (tmp_path / "plans").exists()
    assert (
        f"This plan was not saved. To apply exactly it: reconciler plan {stack} --as retailer"
        " --out plans/retail-adtech.json" in err
    )


def test_out_never_replaces_an_existing_file_unless_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "plan", str(stack), "--out", "reviewed.json")[0] == 0
    reviewed = Path("reviewed.json").read_bytes()
    (stack / "purchases.yaml").write_text(
        (stack / "purchases.yaml").read_text().replace("description: ", "description: New. ", 1)
    )
    code, out, err = run(capsys, "plan", str(stack), "--out", "reviewed.json")
    assert code == 1 and out == ""
    assert "reviewed.json already exists; plan never replaces a plan file" in err and "--overwrite" in err
    assert Path("reviewed.json").read_bytes() == reviewed
    assert run(capsys, "plan", str(stack), "--out", "reviewed.json", "--overwrite")[0] == 0
    assert Path("reviewed.json").read_bytes() != reviewed
    code, _, err = run(capsys, "plan", str(stack), "--overwrite")
    assert code == 1 and "--overwrite only applies with --out" in err


def test_a_file_that_appears_while_planning_is_not_replaced(tmp_path: Path) -> None:
    from reconciler.errors import PlanError
    from reconciler.planner import planfile
    from reconciler.planner.model import Plan

    target = tmp_path / "p.json"
    target.write_text("someone else's")
    with pytest.raises(PlanError, match="already exists"):
        planfile.write(Plan(stack="s", backend="local", changes=(), steps=()), target, overwrite=False)
    assert target.read_text() == "someone else's" and list(tmp_path.iterdir()) == [target]


def test_show_prints_a_saved_plan_as_plan_printed_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    code, planned, _ = run(capsys, "plan", str(stack), "--out", "p.json")
    assert code == 0
    code, shown, err = run(capsys, "show", "p.json")
    assert code == 0 and shown == planned
    assert "reconciler apply p.json" in err
    code, doc, _ = run(capsys, "show", "p.json", "--format", "json")
    saved = json.loads(Path("p.json").read_text())
    assert json.loads(doc) == {**saved, "spec": {**saved["spec"], "from_plan": None}}  # as printed by plan
    code, markdown, _ = run(capsys, "show", "p.json", "--format", "markdown")
    assert markdown.startswith("### Plan for `retail-adtech` (local)")
    code, _, err = run(capsys, "show", "missing.json")
    assert code == 1 and "cannot read plan file missing.json" in err and "Traceback" not in err
