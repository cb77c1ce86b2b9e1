"""``plan --json`` / ``apply --json``: one JSON object per line, each valid against the events schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_helpers import ROOT, edit_table_by_hand, run
from e2e_helpers import copy_stack

from reconciler.emulator.faults import ENV_VAR
from reconciler.errors import TerminalBackendError
from reconciler.execution.backend import Boto3Backend
from reconciler.render.events import SCHEMA_VERSION

SCHEMA = json.loads((ROOT / "schemas" / "events.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)


def events(out: str) -> list[dict[str, Any]]:
    """Every stdout line, parsed and checked against the schema."""
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        jsonschema.validate(line, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert lines[0]["type"] == "version" and lines[0]["schema_version"] == SCHEMA_VERSION
    return lines


def test_the_schema_names_every_event_type_once_and_its_version() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    types = [d["properties"]["type"]["const"] for d in SCHEMA["$defs"].values()]
    assert len(types) == len(set(types)) == len(SCHEMA["oneOf"])
    assert SCHEMA["$defs"]["version"]["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_plan_json_lists_each_change_then_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    code, out, err = run(capsys, "plan", str(stack), "--json", "--out", "p.json")
    assert code == 0, err
    lines = events(out)
    assert [e["type"] for e in lines[:2]] == ["version", "state_read"]
    assert lines[0]["command"] == "plan"
    changes = [e for e in lines if e["type"] == "planned_change"]
    doc = json.loads(Path("p.json").read_text())
    assert sorted(e["address"] for e in changes) == sorted(c["address"] for c in doc["changes"])
    assert changes[0]["address"] == "collaboration.retail-ad-campaign-analysis"  # in apply order
    (summary,) = [e for e in lines if e["type"] == "plan_summary"]
    assert summary["add"] == doc["summary"]["create"] and summary["weakens"] == 4
    assert lines[-1] == {**lines[-1], "type": "plan_saved", "path": "p.json"}


def test_plan_json_reports_an_error_as_a_diagnostic_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "plan", "no-such-stack", "--json")
    assert code == 1
    lines = events(out)
    assert [e["type"] for e in lines] == ["version", "diagnostic"]
    assert "no-such-stack" in lines[1]["summary"] and "error:" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("plan", "retail-adtech", "--json", "--format", "markdown"), "cannot be combined with --format"),
        (("apply", "retail-adtech", "--json"), "--json needs --auto-approve"),
    ],
)
def test_json_refuses_what_a_stream_cannot_do(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1 and message in err and out == ""


def test_apply_json_reports_every_step_its_retries_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    monkeypatch.setenv(ENV_VAR, json.dumps({"throttle_rate": 0.3, "seed": 5}))
    code, out, err = run(capsys, "apply", str(stack), "--auto-approve", "--json")
    assert code == 0, err
    lines = events(out)
    assert lines[0]["command"] == "apply"
    started = [e["step"] for e in lines if e["type"] == "step_started"]
    done = [e["step"] for e in lines if e["type"] == "step_done"]
    assert len(started) == 11 and sorted(started) == sorted(done)
    at = {(e["type"], e.get("step")): i for i, e in enumerate(lines)}
    assert all(at[("step_started", s)] < at[("step_done", s)] for s in started)
    retried = [e for e in lines if e["type"] in ("step_retried", "read_retried")]
    assert retried, "a 30 % throttle rate retries some calls"
    (summary,) = [e for e in lines if e["type"] == "apply_summary"]
    assert summary["ok"] is True and summary["done"] == 11 and summary["remaining"] == []
    assert summary["retries"] == len(retried)
    assert lines[-1]["type"] == "apply_summary"
    assert "Apply complete" not in out  # no text on stdout


def test_apply_json_reports_a_failed_step_and_what_remains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    real = Boto3Backend.run_step

    def failing(self: Boto3Backend, step: Any, *args: Any, **kwargs: Any) -> Any:
        if step.operation == "CreateMembership":
            raise TerminalBackendError("AccessDeniedException: not allowed", hint="check the role")
        return real(self, step, *args, **kwargs)

    monkeypatch.setattr(Boto3Backend, "run_step", failing)
    code, out, _ = run(capsys, "apply", str(stack), "--auto-approve", "--json")
    assert code == 1
    lines = events(out)
    failed = [e for e in lines if e["type"] == "step_failed"]
    assert failed and all(e["operation"] == "CreateMembership" for e in failed)
    (summary,) = [e for e in lines if e["type"] == "apply_summary"]
    assert summary["ok"] is False and summary["remaining"]
    assert summary["failed"][0]["hint"] == "check the role"


def test_apply_json_of_a_stale_plan_is_a_diagnostic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = copy_stack("retail-adtech", tmp_path)
    assert run(capsys, "apply", str(stack), "--auto-approve")[0] == 0
    (stack / "purchases.yaml").write_text(
        (stack / "purchases.yaml").read_text().replace("description: ", "description: New. ", 1)
    )
    assert run(capsys, "plan", str(stack), "--out", "p.json")[0] == 0
    edit_table_by_hand(tmp_path, "123456789012", "edited by hand")
    code, out, _ = run(capsys, "apply", "p.json", "--auto-approve", "--json")
    assert code == 1
    lines = events(out)
    assert lines[-1]["type"] == "diagnostic" and "out of date" in lines[-1]["summary"]
    assert not [e for e in lines if e["type"] == "step_started"]
