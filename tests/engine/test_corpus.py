"""The query corpus: every case gets the expected verdict, and every allowed case runs on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_corpus import Case, Suite, load

from reconciler.dp import NoiseSource
from reconciler.engine import DPRun, check, enforce, execute
from reconciler.errors import QueryRejected

SUITES, CASES = load()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus-data")
    for suite in SUITES:
        suite.write_data(path)
    return path


def _verdict(case: Case) -> str:
    try:
        request = case.request()
    except QueryRejected as exc:
        return str(exc.verdict.reason)
    verdict = enforce(request, case.suite.collaboration())
    return "allowed" if verdict.allowed else str(verdict.reason)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_gets_expected_verdict(case: Case, data_dir: Path) -> None:
    got = _verdict(case)
    assert got == case.expect, f"{case.spec.get('sql') or case.spec.get('template')}: got {got}"
    if got == "allowed":
        prepared = check(case.request(), case.suite.collaboration(data_dir))
        dp_run = DPRun(30, case.id, NoiseSource.seeded(0)) if prepared.dp is not None else None
        rows = execute(prepared, dp_run)
        assert not any(c.startswith(("__cr_", "__dp_")) for c in rows.columns), "hidden columns leaked"
        assert (rows.differential_privacy is not None) == (prepared.dp is not None)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 150
    assert sum(1 for c in CASES if c.spec.get("bypass")) >= 50
    reasons = {c.expect for c in CASES}
    assert {"allowed", "disallowed_column", "comparison_not_allowed", "multi_statement"} <= reasons


def test_every_suite_declares_its_tables() -> None:
    for suite in SUITES:
        assert isinstance(suite, Suite) and suite.raw["tables"]
