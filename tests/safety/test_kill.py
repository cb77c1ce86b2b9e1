"""Kill test: an apply killed after every possible number of writes converges, without duplicates.

For each k from 1 to the number of write steps, ``reconciler apply`` runs in a child process with
``RECONCILER_LOCAL_FAULTS={"crash_after_writes": k}`` and dies (exit 137) right after its k-th
write is committed, before it can record it. Then, in this process: the plan holds exactly the
remaining steps, a normal apply converges, the backend (counted through boto3 List calls) holds
each resource exactly once, and the next plan is empty.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cli_helpers import run
from safety_helpers import census, duplicates, write_big_stack

from reconciler.cli import main
from reconciler.emulator.faults import ENV_VAR

pytestmark = pytest.mark.slow


def _crash_apply(stack: Path, k: int) -> int:
    """Apply in a forked child (modules already imported: cheap) that crashes after ``k`` writes."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.environ[ENV_VAR] = json.dumps({"crash_after_writes": k})
            code = main(["apply", str(stack), "--auto-approve"])
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _steps(plan_file: Path) -> list[str]:
    doc = json.loads(plan_file.read_text())
    return [step["id"] for group in doc["steps"] for step in group]


def test_apply_killed_after_every_write_converges_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    template = tmp_path / "template"
    stack_src = write_big_stack(template, tables=7)
    work = tmp_path / "work"

    # The full apply, once, to know the steps and what the backend should hold afterwards.
    shutil.copytree(template, work)
    monkeypatch.chdir(work)
    stack = work / "specs" / stack_src.name
    assert run(capsys, "plan", str(stack), "--out", "full.json")[0] == 0
    all_steps = _steps(work / "full.json")
    assert len(all_steps) >= 30
    assert run(capsys, "apply", "full.json", "--auto-approve", "--stack", str(stack))[0] == 0
    expected = census(work)
    assert set(expected.values()) == {1} and len(expected) >= 33
    monkeypatch.chdir(tmp_path)

    for k in range(1, len(all_steps) + 1):
        shutil.rmtree(work)
        shutil.copytree(template, work)
        monkeypatch.chdir(work)

        assert _crash_apply(stack, k) == 137, f"k={k}: the apply did not crash"
        after_crash = census(work)
        assert not duplicates(after_crash), f"k={k}"
        assert set(after_crash) <= set(expected), f"k={k}"

        # The crashed apply left its lock record (the flock died with it); `state unlock` clears it.
        code, _, err = run(capsys, "plan", str(stack), "--out", "rest.json", "--detailed-exitcode")
        assert code == (2 if k < len(all_steps) else 0), f"k={k}: {err}"
        remaining = _steps(work / "rest.json")
        assert len(remaining) == len(all_steps) - k, f"k={k}: plan after the crash: {remaining}"
        assert set(remaining) <= set(all_steps), f"k={k}"
        code, out, err = run(capsys, "state", "unlock")
        assert code == 0, f"k={k}: {out}{err}"

        if remaining:
            code, out, err = run(capsys, "apply", "rest.json", "--auto-approve", "--stack", str(stack))
            assert code == 0, f"k={k}: {out}{err}"
        assert census(work) == expected, f"k={k}"
        code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
        assert code == 0, f"k={k}: {out}{err}"
        monkeypatch.chdir(tmp_path)
