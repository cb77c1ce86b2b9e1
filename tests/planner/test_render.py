"""Renderings: colour only when asked, empty plans, ordering, Markdown truncation."""

from __future__ import annotations

import json as stdjson

from reconciler.planner import diff
from reconciler.planner.model import Impact
from reconciler.planner.resource import DesiredResource
from reconciler.render import json, markdown, text

from .helpers import edit, make_plan, observe

C = "retail-ad-campaign-analysis"


def weakened(retail: list[DesiredResource]) -> list[DesiredResource]:
    def more_columns(a: dict[str, object]) -> None:
        a["allowedColumns"] = [*a["allowedColumns"], "loyalty_id"]  # type: ignore[list-item]

    def describe(a: dict[str, object]) -> None:
        a["description"] = "new words"

    out = edit(retail, "configured_table.retailer.purchases", more_columns)
    return edit(out, f"association.{C}.adtech.ad_impressions", describe)


def test_colour_only_when_asked(retail: list[DesiredResource]) -> None:
    plan = make_plan(weakened(retail), observe(retail))
    assert "\x1b[" not in text.render(plan)
    assert "\x1b[" in text.render(plan, color=True)


def test_weakening_changes_come_first_and_the_text_lists_changes_in_apply_order(
    retail: list[DesiredResource],
) -> None:
    plan = make_plan(weakened(retail), observe(retail))
    out = text.render(plan)
    privacy, body = out.split("Changes, in the order apply makes them:")
    assert "! configured_table.retailer.purchases" in privacy
    assert f"association.{C}.adtech.ad_impressions" not in privacy
    listed = [line.split()[1] for line in body.splitlines() if line.startswith("  ~ ")]
    stepped = list(dict.fromkeys(str(s.address) for s in plan.all_steps))
    assert listed == stepped and len(listed) == 2
    assert out.splitlines()[-1].startswith("Plan: 0 to add, 2 to change")
    assert "loyalty_id added to allowedColumns on purchases" in out
    doc = stdjson.loads(json.render(plan))
    assert [c["impact"] for c in doc["changes"]] == [Impact.WEAKENS.value, Impact.NEUTRAL.value]


def test_a_fresh_stacks_text_plan_lists_what_each_change_depends_on_before_it(
    retail: list[DesiredResource],
) -> None:
    """It used to list members and associations (privacy first) before the collaboration."""
    plan = make_plan(retail, [])
    body = text.render(plan).split("Changes, in the order apply makes them:")[1]
    listed = [line.split()[1] for line in body.splitlines() if line.startswith("  + ")]
    assert listed[0] == f"collaboration.{C}"
    assert sorted(listed) == sorted(str(c.address) for c in plan.changes)
    position = {address: i for i, address in enumerate(listed)}
    graph = diff.dependency_graph(retail, [])
    pairs = [(str(d), str(a)) for a in graph.nodes for d in graph.dependencies(a)]
    assert pairs and all(position[dependency] < position[dependent] for dependency, dependent in pairs)


def test_markdown_notes_when_its_privacy_first_order_is_not_the_apply_order(
    retail: list[DesiredResource],
) -> None:
    fresh = markdown.render(make_plan(retail, []))
    assert fresh.index("`member.") < fresh.index(f"<code>collaboration.{C}</code>")  # privacy first
    assert "Apply makes them in dependency order" in fresh
    one = edit(retail, f"association.{C}.adtech.ad_impressions", lambda a: a.update(description="new"))
    assert "Apply makes them in dependency order" not in markdown.render(make_plan(one, observe(retail)))


def test_empty_plan_renders_one_line(retail: list[DesiredResource]) -> None:
    plan = make_plan(retail, observe(retail))
    assert (
        text.render(plan)
        == f"No changes. Stack retail-adtech on local matches the spec ({len(retail)} resources).\n"
    )
    assert "No changes" in markdown.render(plan)


def test_markdown_is_truncated_with_a_note(retail: list[DesiredResource]) -> None:
    plan = make_plan(retail, [])
    full = markdown.render(plan)
    short = markdown.render(plan, limit=3000)
    assert len(short) <= 3000 < len(full)
    assert "more change(s) not shown" in short
    assert short.index("#### Privacy") < short.index("| Change | Count |") < short.index("<details>")


def test_known_account_ids_are_named_in_text_and_markdown_only(retail: list[DesiredResource]) -> None:
    accounts = {"123456789012": "retailer", "987654321098": "adtech"}
    plan = make_plan(retail, [], accounts=accounts)
    shown = text.render(plan)
    assert 'allowedAnalysisProviders = ["123456789012" (retailer)]' in shown
    assert "restricted to 123456789012 (retailer)" in shown  # a finding's words
    assert '"arn:aws:iam::123456789012:role/CleanRoomsTableRole"' in shown  # ARNs are left alone
    assert 'role/CleanRoomsTableRole" (' not in shown
    assert '"123456789012" (retailer)' in markdown.render(plan)
    doc = json.render(plan)
    assert "(retailer)" not in doc and stdjson.loads(doc)["accounts"] == accounts
    assert "(retailer)" not in text.render(make_plan(retail, []))  # nothing known, nothing added
