"""A saved plan is applied only when it is exactly what the spec and the live state call for now."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import SPECS

from reconciler import workflow
from reconciler.emulator.faults import ENV_VAR
from reconciler.errors import PlanError
from reconciler.execution import staleness
from reconciler.planner import planfile
from reconciler.planner.model import Plan


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[workflow.Workspace]:
    monkeypatch.delenv(ENV_VAR, raising=False)
    stack = tmp_path / "specs" / "retail-adtech"
    shutil.copytree(SPECS / "retail-adtech", stack)
    with workflow.open_workspace(stack, root=tmp_path) as opened:
        yield opened


def now(ws: workflow.Workspace, want: list | None = None) -> tuple[Plan, object]:
    state = ws.read()
    fresh = staleness.fresh_plan(
        ws.desired() if want is None else want, state, stack=ws.name, backend="local"
    )
    return fresh, state


def test_an_untouched_plan_is_fresh_whole_or_per_member(ws: workflow.Workspace) -> None:
    saved = workflow.make_plan(ws).plan
    fresh, state = now(ws)
    assert staleness.reasons(saved, fresh, state) == []  # type: ignore[arg-type]
    for member in ("retailer", "adtech"):
        assert staleness.reasons(saved.for_member(member), fresh, state) == []  # type: ignore[arg-type]


def _tampered(plan: Plan, edit: object) -> Plan:
    doc = copy.deepcopy(planfile.to_json(plan))
    edit(doc)  # type: ignore[operator]
    return planfile.from_json(doc)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda d: d["steps"][-1].pop(), "step 'create association_rule"),
        (lambda d: d["steps"][0][0]["params"].update(description="evil"), "create collaboration"),
        (lambda d: d["changes"].pop(), "association_rule"),
        (lambda d: (d["steps"].clear(), d["changes"].clear()), "and 19 more"),
    ],
)
def test_a_plan_file_edited_after_it_was_made_is_refused(
    ws: workflow.Workspace, edit: object, named: str
) -> None:
    saved = _tampered(workflow.make_plan(ws).plan, edit)
    fresh, state = now(ws)
    reasons = staleness.reasons(saved, fresh, state)  # type: ignore[arg-type]
    assert len(reasons) == 1 and "plan file was changed after it was made" in reasons[0]
    assert named in reasons[0]


def test_a_plan_file_whose_steps_run_before_what_they_need_is_damaged(ws: workflow.Workspace) -> None:
    with pytest.raises(PlanError, match="is damaged: .* which is not an earlier step"):
        _tampered(workflow.make_plan(ws).plan, lambda d: d["steps"].reverse())


def test_spec_changes_are_named_by_address(ws: workflow.Workspace) -> None:
    saved = workflow.make_plan(ws).plan
    want = [
        dataclasses.replace(r, attributes={**r.attributes, "description": "v2"})
        if str(r.address) == "configured_table.retailer.purchases"
        else r
        for r in ws.desired()
    ]
    fresh, state = now(ws, want)
    [reason] = staleness.reasons(saved, fresh, state)  # type: ignore[arg-type]
    assert reason.startswith("the spec changed after the plan was made: configured_table.retailer.purchases:")


def test_live_changes_are_named_by_address_and_field(ws: workflow.Workspace) -> None:
    assert workflow.apply_plan(ws, workflow.make_plan(ws).plan).ok
    want = [
        dataclasses.replace(r, attributes={**r.attributes, "description": "v2"})
        if str(r.address) == "configured_table.retailer.purchases"
        else r
        for r in ws.desired()
    ]
    saved = workflow.make_plan(ws, desired=want).plan
    client = ws.backend.clients.service.client("cleanrooms", account_id="123456789012")  # type: ignore[attr-defined]
    table = client.list_configured_tables()["configuredTableSummaries"][0]
    client.update_configured_table(configuredTableIdentifier=table["id"], description="by hand")
    fresh, state = now(ws, want)
    [reason] = staleness.reasons(saved, fresh, state)  # type: ignore[arg-type]
    expected = "configured_table.retailer.purchases changed (description)"
    assert reason == f"the live state changed after the plan was made: {expected}"


def test_a_plan_cut_down_to_one_member_without_saying_so_is_refused(ws: workflow.Workspace) -> None:
    full = workflow.make_plan(ws).plan
    fresh, state = now(ws)
    honest = full.for_member("retailer")
    assert honest.as_member == "retailer"
    assert staleness.reasons(honest, fresh, state) == []  # type: ignore[arg-type]
    # the same changes in a plan that claims to be for every member: half of the work is missing
    [reason] = staleness.reasons(dataclasses.replace(honest, as_member=None), fresh, state)  # type: ignore[arg-type]
    assert "plan file was changed after it was made" in reason and "adtech" in reason


def test_where_the_spec_declares_a_resource_is_not_part_of_the_plan(ws: workflow.Workspace) -> None:
    saved = workflow.make_plan(ws).plan
    moved = dataclasses.replace(
        saved,
        changes=tuple(
            dataclasses.replace(c, source=dataclasses.replace(c.source, path="moved/" + c.source.path))
            if c.source
            else c
            for c in saved.changes
        ),
    )
    assert planfile.to_json(moved)["changes"] != planfile.to_json(saved)["changes"]
    fresh, state = now(ws)
    assert staleness.reasons(moved, fresh, state) == []  # type: ignore[arg-type]
