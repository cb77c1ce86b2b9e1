"""The console operations of AWS's "Managing collaborations" guide, each as a spec edit.

Each row edits an applied example stack as a person would edit it to do in the spec what the
console does, and asserts the plan is exactly the API calls listed (a rename is one update, a
tag one TagResource, never a delete and a create), that apply makes them and the next plan has
nothing to do. The README's table of console operations is rendered from ``ROWS``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import run
from e2e_helpers import copy_stack

from reconciler.planner import planfile
from reconciler.workflow import make_plan, open_workspace

README = Path(__file__).parents[2] / "README.md"
SECTION = re.compile(
    r"(<!-- section: console-operations -->\n)(.*?)(<!-- end section: console-operations -->)", re.DOTALL
)
OAB = "org-a-org-b-insights"
RAC = "retail-ad-campaign-analysis"


def edit(path: Path, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Rewrite every document of a YAML file through ``change`` (None drops the document)."""
    docs = [d for d in (change(doc) for doc in yaml.safe_load_all(path.read_text())) if d is not None]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _rename(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "key": doc["name"], "name": "Org A and B insights 2027", "description": "Renamed"}


def _kind(kind: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], Any]:
    return lambda d: change(d) if d["kind"] == kind else d


def _tagged(d: dict[str, Any]) -> dict[str, Any]:
    return {**d, "tags": {**d.get("tags", {}), "owner": "data-team"}}


def _membership_tagged(d: dict[str, Any]) -> dict[str, Any]:
    d["members"]["org_b"]["membership"]["tags"] = {"cost-center": "42"}
    return d


def _association_tagged(d: dict[str, Any]) -> dict[str, Any]:
    d["associations"][0]["tags"] = {"owner": "data-team"}
    return d


def _without(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(d: dict[str, Any]) -> dict[str, Any]:
        inner = d
        for key in keys[:-1]:
            inner = inner[key]
        del inner[keys[-1]]
        return d

    return change


@dataclass(frozen=True)
class Row:
    """One console operation: the spec edit that does it and the calls the plan must make."""

    console: str  # the guide's operation
    edit_text: str  # the spec edit, as the README says it
    stack: str
    change: Callable[[Path], None]
    calls: tuple[tuple[str, str], ...]  # (operation, address), in plan order
    note: str = ""  # where the calls differ from the console's, and why
    command: str = "plan"  # "destroy": planned by `destroy --target`
    target: str = ""
    then: Callable[[Path], None] | None = None  # the edit the next plan asks for, after apply


ROWS: tuple[Row, ...] = (
    Row(
        "Edit collaboration name and description",
        "change `name` and `description`, keeping the address with `key:` (the old name)",
        "org-a-org-b",
        lambda s: edit(s / "collaboration.yaml", _rename),
        (("UpdateCollaboration", f"collaboration.{OAB}"),),
    ),
    Row(
        "Edit collaboration tags (add)",
        "add a key to the collaboration's `tags`",
        "org-a-org-b",
        lambda s: edit(s / "collaboration.yaml", _tagged),
        (("TagResource", f"collaboration.{OAB}"),),
    ),
    Row(
        "Edit collaboration tags (remove)",
        "delete the collaboration's `tags`",
        "org-a-org-b",
        lambda s: edit(s / "collaboration.yaml", _without("tags")),
        (("UntagResource", f"collaboration.{OAB}"),),
    ),
    Row(
        "Edit membership tags",
        "add `tags` to a member's `membership`",
        "org-a-org-b",
        lambda s: edit(s / "collaboration.yaml", _membership_tagged),
        (("TagResource", f"membership.{OAB}.org_b"),),
    ),
    Row(
        "Edit configured table association tags",
        "add `tags` to an entry of a table's `associations`",
        "org-a-org-b",
        lambda s: edit(s / "customer_profiles.yaml", _association_tagged),
        (("TagResource", f"association.{OAB}.org_a.customer_profiles"),),
    ),
    Row(
        "Edit analysis template tags",
        "add `tags` to the AnalysisTemplate",
        "org-a-org-b",
        lambda s: edit(s / "templates.yaml", _kind("AnalysisTemplate", _tagged)),
        (("TagResource", f"analysis_template.{OAB}.org_a.engagement-by-demographic"),),
    ),
    Row(
        "Edit privacy budget template tags",
        "add `tags` to the PrivacyBudgetTemplate",
        "org-a-org-b",
        lambda s: edit(s / "templates.yaml", _kind("PrivacyBudgetTemplate", _tagged)),
        (("TagResource", f"privacy_budget_template.{OAB}.org_b"),),
    ),
    Row(
        "Remove a member",
        "delete the member from `members`, and its tables (their owner must be a member)",
        "retail-adtech",
        lambda s: (
            edit(s / "collaboration.yaml", _without("members", "adtech")),
            (s / "ad_impressions.yaml").unlink(),
        ),
        (
            ("DeleteConfiguredTableAnalysisRule", "analysis_rule.adtech.ad_impressions"),
            ("DeleteConfiguredTableAssociationAnalysisRule", f"association_rule.{RAC}.adtech.ad_impressions"),
            ("DeleteConfiguredTableAssociation", f"association.{RAC}.adtech.ad_impressions"),
            ("DeleteConfiguredTable", "configured_table.adtech.ad_impressions"),
            ("DeleteMember", f"member.{RAC}.adtech"),
        ),
        note="the console makes only DeleteMember (AWS then drops the member's datasets from the "
        "collaboration); the member's association is deleted first, by its own account, because "
        "whether DeleteMember deletes the association resource is undocumented; the table's two "
        "deletes are there because the spec deleted the table",
    ),
    Row(
        "Leave a collaboration (a member)",
        "delete the member's `membership`, and its tables' `associations` to the collaboration",
        "retail-adtech",
        lambda s: (
            edit(s / "collaboration.yaml", _without("members", "adtech", "membership")),
            edit(s / "ad_impressions.yaml", _without("associations")),
        ),
        (
            ("DeleteConfiguredTableAssociationAnalysisRule", f"association_rule.{RAC}.adtech.ad_impressions"),
            ("DeleteConfiguredTableAssociation", f"association.{RAC}.adtech.ad_impressions"),
            ("DeleteMembership", f"membership.{RAC}.adtech"),
        ),
        note='the console\'s "Empty and delete membership": its associations, then DeleteMembership; '
        "the next plan shows the member LEFT, blocked, until it is deleted from `members` (with its tables, "
        "whose owner must be a member: a table's rule and the table are two more deletes)",
        then=lambda s: (
            edit(s / "collaboration.yaml", _without("members", "adtech")),
            (s / "ad_impressions.yaml").unlink(),
        ),
    ),
    Row(
        "Delete a collaboration",
        f"`reconciler destroy --target collaboration.{OAB} --allow-destroy`",
        "org-a-org-b",
        lambda s: None,
        (
            ("DeleteConfiguredTableAnalysisRule", "analysis_rule.org_a.customer_profiles"),
            ("DeleteConfiguredTableAnalysisRule", "analysis_rule.org_b.engagement_metrics"),
            (
                "DeleteConfiguredTableAssociationAnalysisRule",
                f"association_rule.{OAB}.org_a.customer_profiles",
            ),
            (
                "DeleteConfiguredTableAssociationAnalysisRule",
                f"association_rule.{OAB}.org_b.engagement_metrics",
            ),
            ("DeletePrivacyBudgetTemplate", f"privacy_budget_template.{OAB}.org_b"),
            ("DeleteAnalysisTemplate", f"analysis_template.{OAB}.org_a.engagement-by-demographic"),
            ("DeleteConfiguredTableAssociation", f"association.{OAB}.org_a.customer_profiles"),
            ("DeleteConfiguredTableAssociation", f"association.{OAB}.org_b.engagement_metrics"),
            ("DeleteCollaboration", f"collaboration.{OAB}"),
        ),
        note="the console makes only DeleteCollaboration; what lives in the collaboration is deleted "
        "first (safer: AWS does not document what DeleteCollaboration leaves), and the tables' rules "
        "with it, since they name the template; members and memberships end with the collaboration "
        "(no calls); the configured tables stay",
        command="destroy",
        target=f"collaboration.{OAB}",
    ),
)


def _planned(capsys: pytest.CaptureFixture[str], stack: Path, row: Row) -> list[tuple[str, str]]:
    """(operation, address) of the plan's steps, as its JSON document lists them."""
    if row.command == "destroy":
        with open_workspace(stack) as ws:
            doc = planfile.to_json(make_plan(ws, destroy=True, targets=(row.target,)).plan)
    else:
        code, text, err = run(capsys, "plan", str(stack), "--format", "json")
        assert code == 0, text + err
        doc = json.loads(text)
    return [(s["operation"], s["address"]) for group in doc["steps"] for s in group]


@pytest.mark.parametrize("row", ROWS, ids=[r.console for r in ROWS])
def test_a_console_operation_plans_exactly_its_api_calls(
    row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)
    stack = copy_stack(row.stack, tmp_path)
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    row.change(stack)
    assert _planned(capsys, stack, row) == list(row.calls)
    if row.command == "destroy":
        args = ["destroy", str(stack), "--target", row.target, "--auto-approve", "--allow-destroy"]
    else:
        args = ["apply", str(stack), "--auto-approve", "--allow-destroy"]
    code, out, err = run(capsys, *args)
    assert code == 0, out + err
    if row.then is not None:
        code, out, err = run(capsys, "plan", str(stack))
        assert "BLOCKED" in out and "delete adtech from the members" in out, out + err
        row.then(stack)
        code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
        assert code == 0, out + err
    if row.command != "destroy":
        code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
        assert code == 0 and "No changes" in out, out + err


def table() -> str:
    """The README's table of console operations, from ``ROWS``."""
    lines = [
        "| console operation | spec edit | API calls planned, in order | differs from the console |",
        "|---|---|---|---|",
    ]
    for r in ROWS:
        calls = "<br>".join(f"`{op}` {address}" for op, address in r.calls)
        lines.append(f"| {r.console} | {r.edit_text} | {calls} | {r.note or 'no: the same calls'} |")
    return "\n".join(lines) + "\n"


def test_readme_table_of_console_operations_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    match = SECTION.search(text)
    assert match is not None, "README has no console-operations section"
    body = match.group(2)
    start = body.index("| console operation |")
    if os.environ.get("UPDATE_EXPECTED"):
        new = body[:start] + table()
        README.write_text(text[: match.start(2)] + new + text[match.end(2) :], encoding="utf-8")
        body = new
    assert body[body.index("| console operation |") :] == table(), "stale: run with UPDATE_EXPECTED=1"
