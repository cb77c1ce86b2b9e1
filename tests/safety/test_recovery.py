"""Recovery: lost or corrupt state caches, stale and foreign plans, import, state commands, throttling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from cli_helpers import SPECS, STACKS, edit_table_by_hand, raise_quotas, run
from safety_helpers import census, duplicates

from reconciler import emulator
from reconciler.emulator.faults import ENV_VAR


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)


def applied(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str = "retail-adtech") -> Path:
    stack = tmp_path / "specs" / name
    shutil.copytree(SPECS / name, stack)
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    return stack


ACCOUNTS = ["123456789012", "987654321098"]
STATE = Path(".reconciler/state.json")


def assert_converged(tmp_path: Path, capsys: pytest.CaptureFixture[str], stack: Path, before: object) -> str:
    code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes" in out
    after = census(tmp_path, ACCOUNTS)
    assert after == before and not duplicates(after)
    return err


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.unlink(), id="deleted"),
        pytest.param(lambda p: p.write_text("{not json"), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe\x00bad"), id="not-utf8"),
        pytest.param(lambda p: p.write_text('{"formatVersion": 99, "entries": {}}'), id="future-version"),
        pytest.param(
            lambda p: p.write_text(
                json.dumps(
                    {"formatVersion": 1, "entries": {"local/retail-adtech": {"resources": [{"x": 1}]}}}
                )
            ),
            id="bad-entry",
        ),
        pytest.param(
            lambda p: p.write_text(
                json.dumps(
                    {
                        "formatVersion": 1,
                        "entries": {
                            "local/retail-adtech": {
                                "resources": [
                                    {"address": "configured_table.retailer.purchases", "id": "wrong-id"},
                                    {"address": "collaboration.ghost", "id": "ghost-id"},
                                ]
                            }
                        },
                    }
                )
            ),
            id="lies",
        ),
        pytest.param(
            lambda p: (p.unlink(), p.mkdir()),
            id="a-directory",
        ),
    ],
)
def test_a_lost_or_corrupt_state_cache_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object
) -> None:
    stack = applied(tmp_path, capsys)
    before = census(tmp_path, ACCOUNTS)
    damage(tmp_path / STATE)  # type: ignore[operator]
    err = assert_converged(tmp_path, capsys, stack, before)
    assert "Traceback" not in err
    # And a full apply after it does nothing either.
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0 and "Traceback" not in err, out + err
    assert census(tmp_path, ACCOUNTS) == before


def test_state_rebuild_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = applied(tmp_path, capsys)
    (tmp_path / STATE).write_text("garbage")
    code, out, err = run(capsys, "state", "list", str(stack))
    assert code == 0 and "No cached state" in out and "corrupt" in err

    code, out, err = run(capsys, "state", "rebuild", str(stack))
    assert code == 0, err
    assert "added: configured_table.retailer.purchases" in out and "13 resource(s)" in out

    code, out, _ = run(capsys, "state", "list", str(stack))
    assert code == 0 and "configured_table.adtech.ad_impressions" in out
    code, out, _ = run(capsys, "state", "show", "configured_table.retailer.purchases", str(stack))
    doc = json.loads(out)
    assert code == 0 and doc["owner"] == "retailer" and doc["attributes"]["name"] == "purchases"

    code, _, err = run(capsys, "state", "show", "configured_table.retailer.nope", str(stack))
    assert code == 1 and "not in the cached state" in err
    code, _, err = run(capsys, "state", "show", "not an address", str(stack))
    assert code == 1 and "is not an address" in err and "Traceback" not in err


def _edit(path: Path, **changes: object) -> None:
    doc = yaml.safe_load(path.read_text())
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_stale_plan_is_refused_naming_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = applied(tmp_path, capsys)
    _edit(stack / "purchases.yaml", description="Store purchases, v2")
    assert run(capsys, "plan", str(stack), "--out", "p.json")[0] == 0

    # Live state changes behind the plan's back: another description on the adtech table.
    edit_table_by_hand(tmp_path, "987654321098", "changed by hand")
    code, out, err = run(capsys, "apply", "p.json", "--auto-approve", "--stack", str(stack))
    assert code == 1 and "out of date" in err
    assert "configured_table.adtech.ad_impressions" in err and "nothing was changed" in err

    # The spec changes behind the plan's back.
    assert run(capsys, "plan", str(stack), "--out", "p.json", "--overwrite")[0] == 0
    _edit(stack / "purchases.yaml", description="Store purchases, v3")
    code, out, err = run(capsys, "apply", "p.json", "--auto-approve", "--stack", str(stack))
    assert code == 1 and "spec changed" in err and "configured_table.retailer.purchases" in err


def test_a_plan_for_another_stack_or_backend_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "specs" / "retail-adtech"
    shutil.copytree(SPECS / "retail-adtech", stack)
    other = tmp_path / "specs" / "org-a-org-b"
    shutil.copytree(SPECS / "org-a-org-b", other)
    assert run(capsys, "plan", str(stack), "--out", "p.json")[0] == 0
    code, _, err = run(capsys, "apply", "p.json", "--auto-approve", "--stack", str(other))
    assert code == 1 and "retail-adtech" in err and "org-a-org-b" in err

    doc = json.loads(Path("p.json").read_text())
    doc["backend"] = "aws"
    Path("q.json").write_text(json.dumps(doc))
    code, _, err = run(
        capsys, "apply", "q.json", "--auto-approve", "--stack", str(stack), "--backend", "local"
    )
    assert code == 1 and "Traceback" not in err
    assert census(tmp_path, ACCOUNTS) == {}


def test_import_adopts_a_resource_made_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = applied(tmp_path, capsys)
    # Made outside the tool: a table the spec declares next (same fields as the spec would send).
    doc = yaml.safe_load((stack / "purchases.yaml").read_text())
    service = emulator.connect(tmp_path / ".reconciler" / "local.duckdb")
    try:
        c = service.client("cleanrooms", account_id="123456789012")
        made = c.create_configured_table(
            name="returns",
            tableReference={"glue": {"databaseName": "retail_analytics", "tableName": "returns"}},
            allowedColumns=doc["allowedColumns"],
            analysisMethod="DIRECT_QUERY",
        )["configuredTable"]
    finally:
        service.close()
    (stack / "returns.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "ConfiguredTable",
                "name": "returns",
                "owner": "retailer",
                "tableReference": {"glue": {"databaseName": "retail_analytics", "tableName": "returns"}},
                "allowedColumns": doc["allowedColumns"],
                "analysisMethod": "DIRECT_QUERY",
            }
        )
    )
    code, out, _ = run(capsys, "plan", str(stack), "--format", "json")
    assert [c["address"] for c in json.loads(out)["changes"] if c["action"] == "create"] == [
        "configured_table.retailer.returns"
    ]

    code, out, err = run(capsys, "import", "configured_table.retailer.returns", made["id"], str(stack))
    assert code == 0, err
    assert f"Imported {made['id']}" in out
    code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 0, out + err
    code, out, _ = run(capsys, "import", "configured_table.retailer.returns", made["id"], str(stack))
    assert code == 0 and "nothing was changed" in out
    assert census(tmp_path, ACCOUNTS)["configured_table", "123456789012", "returns"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["configured_table.retailer.nope", "x"], "does not declare"),
        (["analysis_rule.retailer.purchases", "x"], "cannot be imported on their own"),
        (["configured_table.retailer.purchases", "some-other-id"], "already managed"),
        (["not-an-address", "x"], "is not an address"),
        (
            ["collaboration.retail-ad-campaign-analys", "x"],
            "did you mean collaboration.retail-ad-campaign-analysis",
        ),
    ],
)
def test_import_refuses_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    stack = applied(tmp_path, capsys)
    before = census(tmp_path, ACCOUNTS)
    code, _, err = run(capsys, "import", *args, str(stack))
    assert code == 1 and message in err and "Traceback" not in err
    assert census(tmp_path, ACCOUNTS) == before


def test_import_of_a_missing_resource_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "specs" / "retail-adtech"
    shutil.copytree(SPECS / "retail-adtech", stack)
    code, _, err = run(
        capsys,
        "import",
        "configured_table.retailer.purchases",
        "00000000-0000-0000-0000-000000000000",
        str(stack),
    )
    assert code == 1 and "ResourceNotFoundException" in err and "Traceback" not in err


@pytest.mark.parametrize("name", STACKS)
def test_every_example_applies_under_throttling_and_reports_retries(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = tmp_path / "specs" / name
    shutil.copytree(SPECS / name, stack)
    raise_quotas(name, tmp_path)
    monkeypatch.setenv(ENV_VAR, json.dumps({"throttle_rate": 0.3, "seed": 3}))
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
    assert code == 0, out + err
    assert ": retry 1 after: " in out and "ThrottlingException" in out
    retries = int(out.split("Apply complete: ")[1].split(", ")[1].split(" ")[0])
    assert retries == out.count(": retry ")
    assert retries > 0
    monkeypatch.delenv(ENV_VAR)
    code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 0, out + err
