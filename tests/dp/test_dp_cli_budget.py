"""``reconciler budget``: remaining budgets of an applied stack on the local backend."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler import emulator
from reconciler.aws_model import service_model
from reconciler.cli import main
from reconciler.dp import AggregateType, report
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


def test_budgets_are_labelled_by_collaboration_and_read_as_the_querying_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """retail-adtech's adtech membership sorts first, but the retailer is who queries (and spends)."""
    monkeypatch.chdir(tmp_path)
    stack = str(Path(STACK).parent / "retail-adtech")
    assert main(["apply", stack, "--auto-approve"]) == 0
    capsys.readouterr()
    assert main(["budget", stack]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "collaboration retail-ad-campaign-analysis (read as member retailer):"
    assert "adtech" not in text
    assert main(["budget", stack, "--format", "json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["retail-ad-campaign-analysis"]


def test_collect_asks_each_collaboration_once_as_a_member_who_can_query() -> None:
    asked: list[tuple[str, str]] = []

    def call(account: str, op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        asked.append((account, params["membershipIdentifier"]))
        return {"privacyBudgetSummaries": []}

    found = report.collect(
        [
            report.Membership("membership.c.a_first", "m-a", "111", collaboration="c", member="a_first"),
            report.Membership(
                "membership.c.querier", "m-q", "222", collaboration="c", member="querier", can_query=True
            ),
            report.Membership("membership.d.b", "m-b", "333", collaboration="d", member="b"),
        ],
        call,
    )
    assert set(asked) == {("222", "m-q"), ("333", "m-b")}  # once per budget type, never as a_first
    assert found.asked == {"c": "querier", "d": "b"}
    assert report.render(found).splitlines()[0] == "collaboration c (read as member querier):"
