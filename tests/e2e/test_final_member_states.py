"""Final member states: a member who left or was removed is shown as such and never added again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import run
from e2e_helpers import copy_stack

from reconciler import emulator

STACK = "retail-adtech"
COLLAB = "retail-ad-campaign-analysis"
ADTECH = "987654321098"
RETAILER = "123456789012"


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


def leave(workdir: Path) -> None:
    """adtech leaves on its own, as in the console: its association goes first, then its membership."""
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    try:
        adtech = service.client("cleanrooms", account_id=ADTECH)
        membership = adtech.list_memberships(status="ACTIVE")["membershipSummaries"][0]["id"]
        for a in adtech.list_configured_table_associations(membershipIdentifier=membership)[
            "configuredTableAssociationSummaries"
        ]:
            ident = {"membershipIdentifier": membership, "configuredTableAssociationIdentifier": a["id"]}
            for rule_type in adtech.get_configured_table_association(**ident)[
                "configuredTableAssociation"
            ].get("analysisRuleTypes", []):
                adtech.delete_configured_table_association_analysis_rule(**ident, analysisRuleType=rule_type)
            adtech.delete_configured_table_association(**ident)
        adtech.delete_membership(membershipIdentifier=membership)
    finally:
        service.close()


def member_statuses(workdir: Path) -> dict[str, str]:
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    try:
        retail = service.client("cleanrooms", account_id=RETAILER)
        collab = retail.list_collaborations()["collaborationList"][0]["id"]
        members = retail.list_members(collaborationIdentifier=collab)["memberSummaries"]
        return {m["accountId"]: m["status"] for m in members}
    finally:
        service.close()


def drop_adtech(stack: Path) -> None:
    collab = stack / "collaboration.yaml"
    doc: dict[str, Any] = yaml.safe_load(collab.read_text())
    del doc["members"]["adtech"]
    collab.write_text(yaml.safe_dump(doc, sort_keys=False))
    (stack / "ad_impressions.yaml").unlink()


def test_a_member_who_left_is_shown_as_such_and_never_added_again(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leave(tmp_path)
    code, out, err = run(capsys, "plan", str(applied), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    member = next(c for c in doc["changes"] if c["address"] == f"member.{COLLAB}.adtech")
    assert member["gone"] == "LEFT"
    assert "can never rejoin" in member["blocked"] and "delete adtech from the members" in member["blocked"]
    blocked = {c["address"] for c in doc["changes"] if c["blocked"]}
    assert {f"membership.{COLLAB}.adtech", f"association.{COLLAB}.adtech.ad_impressions"} <= blocked
    # apply refuses the plan: no change request re-inviting adtech is ever sent
    code, out, err = run(capsys, "apply", str(applied), "--auto-approve")
    assert code == 1 and "blocked" in err
    assert member_statuses(tmp_path)[ADTECH] == "LEFT"
    # drift says so too, with the fix
    code, out, err = run(capsys, "drift", str(applied), "--format", "json")
    assert code == 2
    drift = json.loads(out)
    gone = [r for r in drift["resources"] if r["drift"] == "gone"]
    assert [r["address"] for r in gone] == [f"member.{COLLAB}.adtech"]
    assert "delete adtech" in gone[0]["blocked"]
    # the fix: delete adtech from the spec; the plan then leaves the collaboration's history alone
    drop_adtech(applied)
    code, out, err = run(capsys, "plan", str(applied), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not [c for c in doc["changes"] if c["address"].startswith(("member.", "membership."))]
    assert not doc["summary"]["blocked"]


def test_re_adding_a_removed_member_is_refused_at_plan(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = {p.name: p.read_text() for p in applied.glob("*.yaml")}
    drop_adtech(applied)
    code, out, err = run(capsys, "apply", str(applied), "--auto-approve", "--allow-destroy")
    assert code == 0, out + err
    assert member_statuses(tmp_path)[ADTECH] == "REMOVED"
    for name, text in original.items():
        (applied / name).write_text(text)
    code, out, err = run(capsys, "plan", str(applied), "--format", "json")
    assert code == 0, err
    member = next(c for c in json.loads(out)["changes"] if c["address"] == f"member.{COLLAB}.adtech")
    assert member["gone"] == "REMOVED" and "was removed" in member["blocked"]
    code, out, err = run(capsys, "plan", str(applied))
    assert "BLOCKED" in out and "can never rejoin" in out
