"""Two applies of one stack at once: one proceeds, the other waits or fails naming it; the result is right."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import ROOT, run
from safety_helpers import census, duplicates, write_big_stack

from reconciler.emulator.faults import ENV_VAR
from reconciler.execution.lock import lock_path, read_holder


def test_a_second_apply_waits_or_fails_naming_the_first_and_the_first_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    stack = write_big_stack(tmp_path, tables=3, templates=1)
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, ENV_VAR: json.dumps({"latency_ms": 400}), "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", str(stack), "--auto-approve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as first:
        lock = lock_path(tmp_path, "local", stack.name)
        deadline = time.monotonic() + 60
        while read_holder(lock) is None and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_holder(lock) is not None, "the first apply never took the lock"
        code, out, err = run(capsys, "apply", str(stack), "--auto-approve")
        assert "Traceback" not in err
        if code == 1:  # it gave up waiting: the message names the first apply's process
            assert f"process {first.pid}" in err, out + err
        else:  # the first released the lock (it may still be printing its summary): nothing left to do
            assert code == 0 and "No changes" in out, out + err
        output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output
    code, out, err = run(capsys, "plan", str(stack), "--detailed-exitcode")
    assert code == 0, out + err
    assert not duplicates(census(tmp_path))
    shutil.rmtree(tmp_path / ".reconciler")
