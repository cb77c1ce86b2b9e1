"""reconciler drift: stable JSON and Markdown, and --ignore for accepted drift (local backend)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import SPECS, run
from gitops_helpers import edit

from reconciler.gitops.drift import Ignore, build, parse_ignore
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.model import Action, Change, FieldDiff, Plan

Capsys = pytest.CaptureFixture[str]
STACK = "specs/retail-adtech"


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> Path:
    """The stack applied to a fresh local backend; then its description and threshold edited in the spec."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SPECS / "retail-adtech", tmp_path / STACK)
    assert run(capsys, "apply", STACK, "--auto-approve")[0] == 0
    assert run(capsys, "drift", STACK)[0] == 0
    edit(tmp_path / STACK / "purchases.yaml", "description: Store and online", "description: All")
    edit(tmp_path / STACK / "purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 40")
    return tmp_path


def test_json_names_each_drifted_field(applied: Path, capsys: Capsys) -> None:
    code, out, _ = run(capsys, "drift", STACK, "--format", "json")
    assert code == 2
    doc = json.loads(out)
    assert doc["kind"] == "cleanrooms-reconciler-drift" and doc["format_version"] == 1
    assert doc["drifted"] is True and doc["stack"] == "retail-adtech" and doc["backend"] == "local"
    counts = {k: doc["summary"][k] for k in ("missing", "changed", "unexpected", "ignored")}
    assert counts == {"missing": 0, "changed": 2, "unexpected": 0, "ignored": 0}
    by_address = {r["address"]: r for r in doc["resources"]}
    table = by_address["configured_table.retailer.purchases"]
    assert table["drift"] == "changed"
    [field] = table["fields"]
    assert field["path"] == "description"
    assert field["expected"].startswith("All") and field["actual"].startswith("Store and online")
    rule = by_address["analysis_rule.retailer.purchases"]
    # the live threshold (25) is lower than the spec's (40): restoring the spec strengthens privacy
    assert rule["impact"] == "strengthens"
    assert set(doc) == {"kind", "format_version", "stack", "backend", "checked_at", "drifted", "summary",
                        "resources", "ignored", "ignore_patterns"}  # fmt: skip


def test_ignore_by_field_and_by_address(applied: Path, capsys: Capsys) -> None:
    code, out, _ = run(capsys, "drift", STACK, "--format", "json", "--ignore", "description")
    doc = json.loads(out)
    assert code == 2 and [r["address"] for r in doc["resources"]] == ["analysis_rule.retailer.purchases"]
    assert doc["ignored"] == [{"address": "configured_table.retailer.purchases", "fields": ["description"]}]
    code, out, _ = run(
        capsys, "drift", STACK, "--ignore", "configured_table.retailer.purchases:description",
        "--ignore", "analysis_rule.*",
    )  # fmt: skip
    assert code == 0 and out.startswith("No drift:") and "(2 resources with ignored drift)" in out


def test_markdown_report(applied: Path, capsys: Capsys) -> None:
    code, out, _ = run(
        capsys, "drift", STACK, "--format", "markdown", "--ignore", "analysis_rule.retailer.purchases"
    )
    assert code == 2
    assert out.startswith("### Drift of `retail-adtech` (local)")
    assert "| `configured_table.retailer.purchases` | changed | `description` | " in out
    assert "<summary>Ignored drift</summary>" in out and "- `analysis_rule.retailer.purchases`: `*`" in out


def test_text_report_and_missing_resources(applied: Path, capsys: Capsys) -> None:
    code, out, _ = run(capsys, "drift", STACK)
    assert code == 2 and out.startswith("Drift detected in stack retail-adtech")
    shutil.rmtree(applied / ".reconciler")  # a fresh, empty local backend: everything is missing
    code, out, _ = run(capsys, "drift", STACK, "--format", "json")
    doc = json.loads(out)
    assert code == 2 and doc["summary"]["missing"] == len(doc["resources"]) > 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("membership.retail.adtech", Ignore("membership.retail.adtech", "membership.retail.adtech", "")),
        ("association.*", Ignore("association.*", "association.*", "")),
        ("tags.team", Ignore("tags.team", "*", "tags.team")),
        ("configured_table.a.b:tags", Ignore("configured_table.a.b:tags", "configured_table.a.b", "tags")),
        ("*:description", Ignore("*:description", "*", "description")),
    ],
)
def test_parse_ignore(text: str, expected: Ignore) -> None:
    assert parse_ignore(text) == expected


def test_field_patterns_cover_what_is_below() -> None:
    rule = parse_ignore("tags")
    assert rule.matches_field("tags") and rule.matches_field("tags.team") and not rule.matches_field("tagsx")


def test_an_empty_pattern_ignores_nothing() -> None:
    change = Change(
        Address.of(Kind.COLLABORATION, "c"), Action.UPDATE, before={"description": "a"},
        after={"description": "b"}, field_diffs=(FieldDiff("description", "a", "b"),),
    )  # fmt: skip
    plan = Plan(stack="s", backend="local", changes=(change,), steps=())
    assert build(plan, [""]).items[0].fields == change.field_diffs
    assert not build(plan, ["*:description"]).drifted
