"""Denial of service: every attack is answered or refused within 10 s and 1.5 GB, with a modeled error.

Issue 11, class 9, and ANALYSIS_RULES.md section 4.1 item 7 (bounded work). The cases are in
``dos_cases.py``: exponential alias expansion, huge argument lists, deep trees, many table
references, execution blow-ups, long texts. Each runs in its own child process (``dos_child.py``,
driven by ``dos_harness.py``), so a blow-up cannot take pytest down and its peak RSS is its own;
a child past 30 s or 3 GB is killed and the case fails. Children run ``DOS_WORKERS`` at a time
(default 2); all selected cases are started when the first one is needed. ``DOS_REPORT=path``
writes a Markdown table of every case's time, peak memory and outcome there.

A modeled error is ``QueryRejected`` with a ``Reason`` (and a neutral message) or ``DataError``
with a neutral message at the engine API; through the emulator, StartProtectedQuery answers
``ValidationException`` or the query ends FAILED with an ``error.code`` the service model lists
for ``ProtectedQueryError``, never ``InternalServerException``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from dos_cases import CANARY, CASES, PEAK_MB, WALL_SECONDS, DosCase, write_data
from dos_harness import ChildResult, Pool

from reconciler.aws_model import service_model
from reconciler.engine import Reason

E2E = [c for c in CASES if c.e2e]
#: Text that only an unmodeled failure puts in a message: tracebacks, parser and DuckDB internals.
_INTERNAL = re.compile(
    r"Traceback|<class |RecursionError|maximum recursion depth|MemoryError|INTERNAL Error|sqlglot\.|"
    r"duckdb\.|File \"",
)


@cache
def protected_query_error_codes() -> frozenset[str]:
    """``ProtectedQueryError.code`` values from botocore's model (its enum, else its documented list)."""
    shape = service_model("cleanrooms").shape_for("ProtectedQueryError").members["code"]
    if shape.enum:
        return frozenset(shape.enum)
    documented = shape.documentation.partition("Valid values are")[2]
    return frozenset(re.findall(r"<code>\s*([A-Z][A-Z_]+)\s*</code>", documented))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dos-data")
    write_data(path)
    return path


@pytest.fixture(scope="module")
def pool(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Pool]:
    """Start every selected case of this module at once (DOS_WORKERS children at a time)."""
    runner = Pool(data_dir, int(os.environ.get("DOS_WORKERS", "2")))
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if not isinstance(item, pytest.Function) or spec is None or "case" not in spec.params:
            continue
        if item.module is request.module:
            runner.submit("e2e" if item.originalname == "test_e2e" else "engine", spec.params["case"].id)
    yield runner
    runner.close()
    report = os.environ.get("DOS_REPORT")
    if report:
        Path(report).write_text(runner.report(), encoding="utf-8")


def _budget(case: DosCase, run: ChildResult) -> list[str]:
    problems = []
    if run.killed:
        problems.append(f"killed by the harness ({run.killed}): no answer or refusal")
    elif not run.payload:
        problems.append(f"the child died without reporting (status {run.status}): {run.stderr[-800:]}")
    if run.seconds > WALL_SECONDS:
        problems.append(f"took {run.seconds:.2f} s (budget {WALL_SECONDS:.0f} s)")
    if run.peak_mb > PEAK_MB:
        problems.append(f"peak RSS {run.peak_mb:.0f} MB (budget {PEAK_MB:.0f} MB)")
    return problems


def _neutral(message: str) -> list[str]:
    problems = []
    if CANARY in message:
        problems.append("the message quotes table data")
    internal = _INTERNAL.search(message)
    if internal:
        problems.append(f"the message shows internals ({internal.group(0)!r})")
    return problems


def _fail(case: DosCase, run: ChildResult, problems: list[str]) -> None:
    if problems:
        message = str(run.payload.get("message", ""))[:300]
        pytest.fail(
            f"{case.id} ({case.what}): "
            + "; ".join(problems)
            + f"\n  result: {run.summary()}"
            + (f"\n  message: {message}" if message else ""),
            pytrace=False,
        )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_engine(pool: Pool, case: DosCase) -> None:
    """check + execute through the engine API: an answer or a modeled error, within the budget."""
    run = pool.result("engine", case.id)
    problems = _budget(case, run)
    outcome = run.payload.get("outcome")
    if outcome == "refused":
        if run.payload.get("reason") not in {str(r) for r in Reason}:
            problems.append(f"refused without a modeled reason ({run.payload.get('reason')!r})")
        problems += _neutral(str(run.payload.get("message", "")))
    elif outcome == "data_error":
        problems += _neutral(str(run.payload.get("message", "")))
    elif outcome == "crash":
        problems.append(f"unmodeled error {run.payload.get('exception')} in {run.payload.get('stage')}")
    elif outcome is not None and outcome != "answered":
        problems.append(f"unexpected outcome {outcome!r}")
    _fail(case, run, problems)


@pytest.mark.parametrize("case", E2E, ids=[c.id for c in E2E])
def test_e2e(pool: Pool, case: DosCase) -> None:
    """StartProtectedQuery + GetProtectedQuery with boto3 against the emulator."""
    run = pool.result("e2e", case.id)
    problems = _budget(case, run)
    outcome, code = run.payload.get("outcome"), run.payload.get("code")
    if outcome == "start_error" and code != "ValidationException":
        problems.append(f"StartProtectedQuery answered {code} (expected ValidationException)")
    elif outcome == "finished":
        status = run.payload.get("status")
        if status == "FAILED" and code not in protected_query_error_codes():
            problems.append(
                f"FAILED with error.code {code!r}, not one of {sorted(protected_query_error_codes())}"
            )
        elif status not in ("FAILED", "SUCCESS"):
            problems.append(f"the query ended {status}")
    elif outcome == "crash":
        problems.append(f"the client raised {run.payload.get('exception')}")
    if outcome in ("start_error", "finished"):
        problems += _neutral(str(run.payload.get("message", "")))
    _fail(case, run, problems)


def test_error_codes_come_from_the_model() -> None:
    codes = protected_query_error_codes()
    assert {"MALFORMED_QUERY", "INSUFFICIENT_COMPUTE", "INTERNAL_ERROR"} <= codes, codes
