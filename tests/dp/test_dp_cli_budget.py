"""``reconciler budget``: remaining budgets of an applied stack on the local backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler import emulator
from reconciler.aws_model import service_model
from reconciler.cli import main
from reconciler.dp import AggregateType
from reconciler.emulator.context import RequestContext
from reconciler.emulator.privacy_budgets import admit_protected_query

STACK = str(Path(__file__).resolve().parents[2] / "specs" / "org-a-org-b")


def _spend_one_count_distinct(db: Path) -> None:
    with emulator.connect(db) as emu:
        (template,) = emu.store.all("privacy_budget_template")
        op = service_model().operation_model("StartProtectedQuery")
        ctx = RequestContext(
            template["_account"], "us-east-1", op, emu.store, emu.catalog, emu.results_root, emu.now
        )
        with emu.store.lock:
            admit_protected_query(ctx, template["collaborationId"], "q1", [AggregateType.COUNT_DISTINCT], [])
            emu.store.commit()


def test_budget_shows_remaining_aggregations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert main(["apply", STACK, "--auto-approve"]) == 0
    capsys.readouterr()
    _spend_one_count_distinct(tmp_path / ".reconciler" / "local.duckdb")
    assert main(["budget", STACK]) == 0
    text = capsys.readouterr().out
    assert "differential privacy (epsilon 10)" in text
    assert "COUNT_DISTINCT      99 of 100" in text and "STDDEV              19 of 20" in text
    assert main(["budget", STACK, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (summaries,) = data.values()
    assert summaries[0]["type"] == "DIFFERENTIAL_PRIVACY"


def test_budget_of_an_unknown_stack_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert main(["budget", "no-such-stack"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
