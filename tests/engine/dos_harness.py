"""Run denial-of-service cases in child processes: wall time, peak RSS, hard caps, at most N at once.

``run(mode, case_id, data_dir)`` starts ``dos_child.py``, polls it (its resident memory from
``/proc``), kills it past ``KILL_SECONDS`` or ``KILL_RSS_MB``, and reaps it with ``os.wait4`` so the
peak RSS of that one child is known even when it was killed. ``Pool`` runs several at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dos_cases import KILL_RSS_MB, KILL_SECONDS

CHILD = Path(__file__).resolve().parent / "dos_child.py"
ROOT = Path(__file__).resolve().parents[2]
MARKER = "DOS-RESULT "
_POLL = 0.02


@dataclass
class ChildResult:
    """What one child did.

    Attributes:
        payload: the child's report (empty when it died or was killed before reporting).
        wall: seconds from start to exit, including interpreter start-up and imports.
        peak_mb: the child's peak resident set (``ru_maxrss`` from ``wait4``), in MB.
        killed: why the parent killed it ("" when it exited by itself).
        status: the wait status.
        stderr: the tail of its standard error.
    """

    payload: dict[str, Any] = field(default_factory=dict)
    wall: float = 0.0
    peak_mb: float = 0.0
    killed: str = ""
    status: int = 0
    stderr: str = ""

    @property
    def seconds(self) -> float:
        """Time of the work itself (check and execute, or Start and Get) when reported, else wall."""
        return float(self.payload.get("seconds", self.wall))

    def summary(self) -> str:
        p = self.payload
        what = p.get("outcome") or (
            "killed: " + self.killed if self.killed else f"died (status {self.status})"
        )
        detail = p.get("reason") or p.get("code") or p.get("exception") or ""
        status = f" {p['status']}" if p.get("status") else ""
        detail = f" {detail}" if detail else ""
        return f"{what}{status}{detail} in {self.seconds:.2f} s, peak {self.peak_mb:.0f} MB"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(mode: str, case_id: str, data_dir: Path) -> ChildResult:
    """Run one case in a child; never raises for what the child does, never waits past the caps."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), mode, case_id, str(data_dir)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=str(ROOT),
            env=env,
            start_new_session=True,
        )
        killed = ""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - start
            if not killed:
                if elapsed > KILL_SECONDS:
                    killed = f"over {KILL_SECONDS:.0f} s"
                elif _rss_mb(proc.pid) > KILL_RSS_MB:
                    killed = f"over {KILL_RSS_MB:.0f} MB resident"
                if killed:
                    os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(_POLL)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith(MARKER)]
        stderr = err.read()[-3000:]
    payload = json.loads(lines[-1][len(MARKER) :]) if lines else {}
    return ChildResult(payload, wall, usage.ru_maxrss / 1024, killed, status, stderr)


class Pool:
    """Runs cases in children, ``workers`` at a time; ``result`` waits for one."""

    def __init__(self, data_dir: Path, workers: int) -> None:
        self.data_dir = data_dir
        self.executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dos")
        self.futures: dict[tuple[str, str], Future[ChildResult]] = {}

    def submit(self, mode: str, case_id: str) -> None:
        key = (mode, case_id)
        if key not in self.futures:
            self.futures[key] = self.executor.submit(run, mode, case_id, self.data_dir)

    def result(self, mode: str, case_id: str) -> ChildResult:
        self.submit(mode, case_id)
        return self.futures[(mode, case_id)].result()

    def report(self) -> str:
        """A Markdown table of every finished case: mode, id, seconds, peak MB, outcome."""
        lines = ["| mode | case | seconds | peak MB | outcome | message |", "|---|---|---:|---:|---|---|"]
        for (mode, case_id), future in self.futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                run = future.result()
                what = run.summary().rsplit(" in ", 1)[0]
                message = " ".join(str(run.payload.get("message", "")).split())[:120].replace("|", "/")
                lines.append(
                    f"| {mode} | {case_id} | {run.seconds:.2f} | {run.peak_mb:.0f} | {what} | {message} |"
                )
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
