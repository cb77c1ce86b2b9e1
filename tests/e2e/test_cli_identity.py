"""Identity by tags, the state cache, retries, the lock, adoption and --as, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_helpers import run
from e2e_helpers import copy_stack, live_resources

from reconciler import emulator, workflow
from reconciler.execution.clients import LocalClients
from reconciler.planner.addresses import Kind

STACK = "retail-adtech"


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


@pytest.mark.parametrize("damage", ["delete", "corrupt", "truncate", "foreign"])
def test_lost_or_damaged_state_cache_is_rebuilt_from_tags(
    damage: str, applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / ".reconciler" / "state.json"
    text = cache.read_text()
    if damage == "delete":
        cache.unlink()
    elif damage == "corrupt":
        cache.write_bytes(b"\xff\xfe not json at all")
    elif damage == "truncate":
        cache.write_text(text[: len(text) // 2])
    else:
        cache.write_text(json.dumps({"formatVersion": 99}))
    before = live_resources(tmp_path, applied)
    code, out, err = run(capsys, "plan", str(applied), "--detailed-exitcode")
    assert code == 0, out + err
    assert "Traceback" not in err
    if damage != "delete":
        assert "rebuilding it from tags" in err
    assert live_resources(tmp_path, applied) == before
    assert json.loads(cache.read_text())["entries"]  # rebuilt


def test_a_resource_created_before_a_crash_is_adopted_not_duplicated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A create whose state write never happened (the cache is stale) is found by its tags."""
    stack = copy_stack(STACK, tmp_path)
    assert run(capsys, "plan", str(stack))[0] == 0  # writes an empty cache
    empty_cache = (tmp_path / ".reconciler" / "state.json").read_text()
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    (tmp_path / ".reconciler" / "state.json").write_text(empty_cache)  # as if every state write was lost
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    live = live_resources(tmp_path, stack)
    assert len(live["collaborations"]) == 1 and len(live["configured_tables"]) == 2
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0


def test_throttled_apply_succeeds_and_reports_retries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = copy_stack(STACK, tmp_path)
    monkeypatch.setenv("RECONCILER_LOCAL_FAULTS", json.dumps({"throttle_rate": 0.3, "seed": 7}))
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    assert "retry 1 after: CreateCollaboration failed: ThrottlingException" in out or ": retry " in out
    summary = [line for line in out.splitlines() if line.startswith("Apply complete")]
    assert summary and "0 retries" not in summary[0]
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS")
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0


def test_a_second_apply_is_refused_while_the_lock_is_held(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with workflow.open_workspace(applied) as ws, workflow.stack_lock(ws):
        text = (applied / "purchases.yaml").read_text()
        (applied / "purchases.yaml").write_text(text.replace("description: ", "description: New. ", 1))
        code, out, err = run(capsys, "apply", str(applied), "--auto-approve")
    assert code == 1
    assert f"stack is locked by process {os.getpid()}" in err
    # the lock is released: the same apply now goes through
    assert run(capsys, "apply", str(applied), "--auto-approve")[0] == 0


def test_a_killed_apply_leaves_no_lock_and_the_next_apply_converges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack(STACK, tmp_path)
    env = {**os.environ, "RECONCILER_LOCAL_FAULTS": json.dumps({"crash_after_writes": 4})}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    crashed = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", str(stack), "--auto-approve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == 137, crashed.stderr
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0
    live = live_resources(tmp_path, stack)
    assert len(live["collaborations"]) == 1 and len(live["configured_tables"]) == 2


def test_an_existing_collaboration_is_adopted_and_never_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack(STACK, tmp_path)
    with workflow.open_workspace(stack) as ws:
        spec_collab = next(r for r in ws.desired() if r.kind is Kind.COLLABORATION)
    params = {k: v for k, v in spec_collab.attributes.items() if k != "tags"}
    service = emulator.connect(tmp_path / ".reconciler" / "local.duckdb")
    try:
        made = service.client("cleanrooms", account_id="123456789012").create_collaboration(**params)
    finally:
        service.close()
    doc_path = stack / "collaboration.yaml"
    doc = yaml.safe_load(doc_path.read_text())
    doc.update(existing=True, collaborationId=made["collaboration"]["id"], tags={})
    doc_path.write_text(yaml.safe_dump(doc, sort_keys=False))

    code, out, err = run(capsys, "plan", str(stack), "--format", "json")
    assert code == 0, err
    actions = {c["address"]: c["action"] for c in json.loads(out)["changes"]}
    assert "collaboration.retail-ad-campaign-analysis" not in actions  # adopted as it is
    assert actions["membership.retail-ad-campaign-analysis.adtech"] == "create"
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    assert run(capsys, "plan", str(stack), "--detailed-exitcode")[0] == 0
    assert [c["id"] for c in live_resources(tmp_path, stack)["collaborations"]] == [
        made["collaboration"]["id"]
    ]


def test_as_member_plans_only_that_members_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = copy_stack(STACK, tmp_path)
    code, out, err = run(capsys, "plan", str(stack), "--as", "adtech", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    owners = {c["owner"] for c in doc["changes"]} | {s["owner"] for g in doc["steps"] for s in g}
    assert owners == {"adtech"}
    code, out, err = run(capsys, "plan", str(stack), "--as", "nobody")
    assert code == 1 and "no such member" in err


class OwnAccountOnly(LocalClients):
    """The emulator, but acting like AWS: only accounts with credentials can be acted as."""

    name = "aws"

    def act_as(self, account_id: str, *, member: str, region: str) -> None:  # type: ignore[override]
        return None


def test_as_member_on_aws_each_party_applies_its_own_part(tmp_path: Path) -> None:
    stack = copy_stack(STACK, tmp_path)
    db = tmp_path / ".reconciler" / "local.duckdb"
    for member in ("retailer", "adtech"):
        clients = OwnAccountOnly(db)
        with workflow.open_workspace(stack, backend="aws", as_member=member, clients=clients) as ws:
            assert [a.member for a in ws.backend.accounts] == [member]
            outcome = workflow.make_plan(ws, as_member=member)
            assert outcome.plan.changes and {c.owner for c in outcome.plan.changes} == {member}
            result = workflow.apply_plan(ws, outcome.plan)
            assert result.ok, [(s.id, e.message) for s, e in result.failed]
            assert workflow.make_plan(ws, as_member=member).plan.is_empty
    with workflow.open_workspace(stack) as ws:  # locally, every party at once: nothing left
        assert workflow.make_plan(ws).plan.is_empty
