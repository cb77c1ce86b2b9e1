"""Stable identity: renames are updates in place, Moved documents and `state mv` / `state rm` keep resources.

Addresses come from a stable key (``key:``, defaulting to the name), never from a field the API
can update, so renaming a collaboration or a configured table is one Update call; a Moved
document carries a resource to a new address (its identity tag follows); what AWS cannot rename
(an association) is a replacement whose reason says so.
"""

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


def edit(path: Path, change: Any) -> None:
    """Rewrite every document of a YAML file through ``change(doc) -> doc``."""
    docs = [change(d) for d in yaml.safe_load_all(path.read_text())]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def plan_doc(capsys: pytest.CaptureFixture[str], stack: Path) -> dict[str, Any]:
    code, out, err = run(capsys, "plan", str(stack), "--format", "json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def calls(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(operation, address) of every step of a plan document."""
    return [(s["operation"], s["address"]) for group in doc["steps"] for s in group]


def apply_and_replan(capsys: pytest.CaptureFixture[str], stack: Path) -> None:
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes" in out


def live_names(workdir: Path) -> dict[str, list[str]]:
    """Names of the collaborations and configured tables the local backend holds, through boto3."""
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    try:
        retail = service.client("cleanrooms", account_id="123456789012")
        return {
            "collaborations": [c["name"] for c in retail.list_collaborations()["collaborationList"]],
            "tables": sorted(t["name"] for t in retail.list_configured_tables()["configuredTableSummaries"]),
        }
    finally:
        service.close()


def test_renaming_a_collaboration_that_keeps_its_key_is_one_update(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def rename(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "key": doc["name"], "name": "Retail measurement 2027"}

    edit(applied / "collaboration.yaml", rename)
    doc = plan_doc(capsys, applied)
    assert calls(doc) == [("UpdateCollaboration", f"collaboration.{COLLAB}")]
    (change,) = doc["changes"]
    assert change["action"] == "update" and not change["irreversible"]
    assert [d["path"] for d in change["field_diffs"]] == ["name"]
    apply_and_replan(capsys, applied)
    assert live_names(tmp_path)["collaborations"] == ["Retail measurement 2027"]


def test_renaming_a_configured_table_that_keeps_its_key_is_one_update(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(applied / "purchases.yaml", lambda d: {**d, "key": d["name"], "name": "purchases_2027"})
    doc = plan_doc(capsys, applied)
    assert calls(doc) == [("UpdateConfiguredTable", "configured_table.retailer.purchases")]
    apply_and_replan(capsys, applied)
    assert live_names(tmp_path)["tables"] == ["purchases_2027"]


def test_renaming_without_a_key_says_how_to_rename_in_place(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(applied / "purchases.yaml", lambda d: {**d, "name": "purchases_2027"})
    doc = plan_doc(capsys, applied)
    created = next(c for c in doc["changes"] if c["address"] == "configured_table.retailer.purchases_2027")
    assert "key: purchases" in created["reason"] and "kind: Moved" in created["reason"]


def test_a_moved_document_renames_in_place_and_rewrites_the_identity_tag(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(applied / "purchases.yaml", lambda d: {**d, "name": "sales"})
    moved = applied / "moved.yaml"
    moved.write_text(
        "kind: Moved\nfrom: configured_table.retailer.purchases\nto: configured_table.retailer.sales\n"
    )
    doc = plan_doc(capsys, applied)
    assert sorted(calls(doc)) == [
        ("TagResource", "configured_table.retailer.sales"),
        ("UpdateConfiguredTable", "configured_table.retailer.sales"),
    ]
    assert doc["summary"]["delete"] == 0 and doc["summary"]["create"] == 0
    (change,) = doc["changes"]
    assert change["moved_from"] == "configured_table.retailer.purchases"
    apply_and_replan(capsys, applied)
    # the tag now says the new address: the Moved document can go, and nothing moves back
    moved.unlink()
    code, out, err = run(capsys, "plan", str(applied), "--detailed-exitcode")
    assert code == 0, out + err
    assert live_names(tmp_path)["tables"] == ["sales"]


def test_moving_a_collaboration_moves_what_lives_under_it(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new key for the collaboration: its members, memberships, associations follow; nothing is deleted."""
    new = "retail"
    edit(applied / "collaboration.yaml", lambda d: {**d, "key": new})
    for name in ("purchases.yaml", "ad_impressions.yaml"):
        edit(
            applied / name,
            lambda d: {**d, "associations": [{**a, "collaboration": new} for a in d["associations"]]},
        )
    (applied / "moved.yaml").write_text(
        f"kind: Moved\nfrom: collaboration.{COLLAB}\nto: collaboration.{new}\n"
    )
    doc = plan_doc(capsys, applied)
    ops = calls(doc)
    assert {op for op, _ in ops} == {"TagResource"}, ops
    assert sorted(a for _, a in ops) == [
        f"association.{new}.adtech.ad_impressions",
        f"association.{new}.retailer.purchases",
        f"collaboration.{new}",
        f"membership.{new}.adtech",
        f"membership.{new}.retailer",
    ]
    apply_and_replan(capsys, applied)


def test_renaming_an_association_is_a_replacement_that_says_why(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def rename(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "associations": [{**a, "name": "sales"} for a in doc["associations"]]}

    edit(applied / "purchases.yaml", rename)
    (applied / "moved.yaml").write_text(
        f"kind: Moved\nfrom: association.{COLLAB}.retailer.purchases\n"
        f"to: association.{COLLAB}.retailer.sales\n"
    )
    doc = plan_doc(capsys, applied)
    change = next(c for c in doc["changes"] if c["address"] == f"association.{COLLAB}.retailer.sales")
    assert change["action"] == "create-then-delete"
    assert "AWS cannot rename an association" in change["reason"]
    assert "UpdateConfiguredTableAssociation takes no name" in change["reason"]


def test_state_mv_gives_a_resource_its_new_address_without_any_other_change(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(applied / "purchases.yaml", lambda d: {**d, "key": "sales"})
    code, out, err = run(
        capsys,
        "state",
        "mv",
        "configured_table.retailer.purchases",
        "configured_table.retailer.sales",
        str(applied),
    )
    assert code == 0, out + err
    assert "configured_table.retailer.purchases -> configured_table.retailer.sales" in out
    assert "analysis_rule.retailer.purchases -> analysis_rule.retailer.sales" in out
    code, out, err = run(capsys, "plan", str(applied), "--detailed-exitcode")
    assert code == 0, out + err
    assert live_names(tmp_path)["tables"] == ["purchases"]  # the API's name did not change


def test_state_mv_refuses_an_address_the_spec_does_not_declare(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "state",
        "mv",
        "configured_table.retailer.purchases",
        "configured_table.retailer.sale",
        str(applied),
    )
    assert code == 1
    assert "does not declare configured_table.retailer.sale" in err and "Traceback" not in err


def test_state_rm_lets_go_of_a_resource_and_leaves_it_as_it_is(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "state", "rm", f"association.{COLLAB}.retailer.purchases", str(applied))
    assert code == 0, out + err
    assert "the next plan would create them again" in err
    # the spec no longer has it either: nothing to delete, the association is still there
    edit(applied / "purchases.yaml", lambda d: {**d, "associations": []})
    edit(applied / "ad_impressions.yaml", lambda d: d)
    doc = plan_doc(capsys, applied)
    assert not any(op.startswith("Delete") for op, _ in calls(doc)), calls(doc)
    service = emulator.connect(tmp_path / ".reconciler" / "local.duckdb")
    try:
        retail = service.client("cleanrooms", account_id="123456789012")
        membership = retail.list_memberships(status="ACTIVE")["membershipSummaries"][0]["id"]
        listed = retail.list_configured_table_associations(membershipIdentifier=membership)
        assert [a["name"] for a in listed["configuredTableAssociationSummaries"]] == ["purchases"]
    finally:
        service.close()


def test_state_rm_refuses_what_is_found_through_its_parent(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "state", "rm", "analysis_rule.retailer.purchases", str(applied))
    assert code == 1 and "carry no tags" in err
