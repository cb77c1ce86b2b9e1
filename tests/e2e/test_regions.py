"""Regions: one account in collaborations of two regions works in each, read back through boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import run
from e2e_helpers import copy_stack

from reconciler import emulator
from reconciler.execution.clients import Account, AwsClients

RETAILER = "123456789012"


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_LOCAL_FAULTS", raising=False)


def two_regions(tmp_path: Path) -> Path:
    """retail-adtech plus a second collaboration of the same members in us-west-2."""
    stack = copy_stack("retail-adtech", tmp_path)
    doc: dict[str, Any] = yaml.safe_load((stack / "collaboration.yaml").read_text())
    west = {**doc, "name": "west-coast", "region": "us-west-2"}
    (stack / "west.yaml").write_text(yaml.safe_dump(west, sort_keys=False))
    return stack


def arns(workdir: Path, region: str) -> dict[str, list[str]]:
    """The retailer's collaborations and memberships as boto3 lists them in ``region``."""
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    try:
        client = service.client("cleanrooms", account_id=RETAILER, region=region)
        return {
            "collaborations": [c["arn"] for c in client.list_collaborations()["collaborationList"]],
            "memberships": [
                m["arn"] for m in client.list_memberships(status="ACTIVE")["membershipSummaries"]
            ],
        }
    finally:
        service.close()


def test_one_account_in_two_regions_creates_each_collaboration_in_its_own_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = two_regions(tmp_path)
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    east, west = arns(tmp_path, "us-east-1"), arns(tmp_path, "us-west-2")
    assert len(east["collaborations"]) == 1 and len(west["collaborations"]) == 1
    assert all(":us-east-1:" in a for a in east["collaborations"] + east["memberships"])
    assert all(":us-west-2:" in a for a in west["collaborations"] + west["memberships"])
    assert len(west["memberships"]) == 1  # the retailer's own membership of west-coast, made there
    code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 0, out + err
    state = json.loads((tmp_path / ".reconciler" / "state.json").read_text())
    regions = {r["address"]: r["region"] for e in state["entries"].values() for r in e["resources"]}
    assert regions["collaboration.west-coast"] == "us-west-2"
    assert regions["collaboration.retail-ad-campaign-analysis"] == "us-east-1"


def test_moving_a_collaboration_to_another_region_is_a_new_one_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    path = stack / "collaboration.yaml"
    path.write_text(path.read_text() + "region: eu-west-1\n")
    code, out, err = run(capsys, "plan", str(stack), "--format", "json")
    assert code == 0, err
    collab = next(c for c in json.loads(out)["changes"] if c["kind"] == "collaboration")
    assert collab["action"] == "delete-then-create" and collab["requires_replace"] == ["region"]
    assert "stays in the region it was made in" in collab["reason"]


class _Session:
    """A boto3 session stand-in that records the clients asked of it."""

    def __init__(self, made: list[tuple[str, str]], **_: Any) -> None:
        self.made = made

    def client(self, service: str, region_name: str, config: Any) -> tuple[str, str]:
        self.made.append((service, region_name))
        return (service, region_name)


def test_aws_clients_are_one_per_account_region_and_service() -> None:
    made: list[tuple[str, str]] = []
    clients = AwsClients(environ={}, session_factory=lambda **kw: _Session(made, **kw))
    east, west = Account("retailer", RETAILER, "us-east-1"), Account("retailer", RETAILER, "us-west-2")
    assert clients.client(east) == ("cleanrooms", "us-east-1")
    assert clients.client(west) == ("cleanrooms", "us-west-2")
    assert clients.client(east, "cleanroomsml") == ("cleanroomsml", "us-east-1")
    clients.client(east)
    assert made == [("cleanrooms", "us-east-1"), ("cleanrooms", "us-west-2"), ("cleanroomsml", "us-east-1")]
