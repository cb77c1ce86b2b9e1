"""Plan files: round trip, versioning, refusal of anything that is not a plan."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.errors import PlanError
from reconciler.planner.addresses import parse
from reconciler.planner.build import build
from reconciler.planner.graph import DependencyGraph
from reconciler.planner.model import FORMAT_VERSION, Action, Change, FieldDiff, Finding, Impact, Plan
from reconciler.planner.planfile import read, to_json, write
from reconciler.planner.resource import Ref

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def small_plan() -> Plan:
    collab = parse("collaboration.retail")
    membership = parse("membership.retail.adtech")
    graph = DependencyGraph[object]()
    graph.add_dependency(dependent=membership, dependency=collab)
    changes = [
        Change(collab, Action.NO_OP, before={"name": "retail"}, after={"name": "retail"}, observed_id="c-1"),
        Change(
            membership,
            Action.CREATE,
            after={"collaborationIdentifier": Ref(collab), "queryLogStatus": "ENABLED"},
            impact=Impact.WEAKENS,
            findings=(Finding(Impact.WEAKENS, "new member", "", "x"),),
            field_diffs=(FieldDiff("queryLogStatus", None, "ENABLED"),),
            owner="adtech",
        ),
    ]
    return build(
        changes,
        graph,
        stack="retail",
        backend="local",
        spec_fingerprint="s",
        state_fingerprint="o",
        created_at=NOW,
    )  # type: ignore[arg-type]


def test_plan_round_trips_through_its_file(tmp_path: Path) -> None:
    plan = small_plan()
    path = write(plan, tmp_path / "plans" / "retail.json")
    again = read(path)
    assert again == plan
    assert again.created_at == "2026-01-02T03:04:05Z"
    assert again.unchanged == 1
    step = again.all_steps[0]
    assert step.operation == "CreateMembership"
    assert step.params["collaborationIdentifier"] == Ref(parse("collaboration.retail"))


def test_document_names_its_format() -> None:
    doc = to_json(small_plan())
    assert doc["kind"] == "cleanrooms-reconciler-plan"
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["summary"]["create"] == 1
    assert doc["changes"][0]["after"]["collaborationIdentifier"] == {
        "$ref": "collaboration.retail",
        "field": "id",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe not utf-8", "not a readable plan file"),
        (b"{truncated", "not a readable plan file"),
        (b'{"kind": "terraform-plan"}', "is not a reconciler plan file"),
        (b"[1, 2]", "is not a reconciler plan file"),
        (b'{"kind": "cleanrooms-reconciler-plan", "format_version": 99}', "format version 99"),
        (b'{"kind": "cleanrooms-reconciler-plan", "format_version": 2, "stack": "x"}', "is damaged"),
        (b'{"kind": "cleanrooms-reconciler-plan", "format_version": 1}', "version 1 .made by an older"),
        (b'{"kind": "cleanrooms-reconciler-plan", "format_version": "2"}', "'2' .made by another"),
    ],
)
def test_foreign_or_broken_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(PlanError, match=message) as caught:
        read(path)
    assert "make the plan again with `reconciler plan" in caught.value.hint


def test_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan file"):
        read(tmp_path / "nope.json")


def test_damaged_change_is_refused(tmp_path: Path) -> None:
    doc = to_json(small_plan())
    doc["changes"][0]["action"] = "explode"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError, match="damaged"):
        read(path)


def test_plan_records_its_member_and_spec_relative_to_the_plan_file(tmp_path: Path) -> None:
    spec = tmp_path / "repo" / "specs" / "retail"
    spec.mkdir(parents=True)
    plan = replace(small_plan(), as_member="adtech", spec_path=str(spec))
    path = write(plan, tmp_path / "repo" / "plans" / "retail.json")
    doc = json.loads(path.read_text())
    assert doc["as_member"] == "adtech"
    assert doc["spec"] == {"path": str(spec), "from_plan": "../specs/retail"}
    assert read(path) == plan
    # the checkout moved with its plans: the relative path still finds the spec
    (tmp_path / "repo").rename(tmp_path / "moved")
    again = read(tmp_path / "moved" / "plans" / "retail.json")
    assert again.spec_path == str((tmp_path / "moved" / "specs" / "retail").resolve())
    assert again.as_member == "adtech"


def test_printed_document_has_no_relative_spec_path() -> None:
    doc = to_json(replace(small_plan(), spec_path="/somewhere/specs/retail"))
    assert doc["spec"] == {"path": "/somewhere/specs/retail", "from_plan": None}
    assert doc["as_member"] is None
