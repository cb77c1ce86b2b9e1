"""Benchmark: first applies of the example stacks with injected latency, against their critical path.

Issue 18's goal: "applies of the example stacks with injected latency within the critical path
plus 20%". For each stack under ``specs/`` this applies it on a fresh local backend with
``latency_ms`` (50) per call (``RECONCILER_LOCAL_FAULTS``) and compares the executor's wall time
with the critical path: the longest chain of steps, each depending on the one before, each step
weighted by the time it took (its calls' latency and their work). No executor can beat that path
(a step's calls run in sequence, and a step waits for what it depends on), so the ratio measures
what the scheduling adds: waiting for steps it does not depend on, a barrier, a parallelism
bound. The path of latency alone (calls times latency) is printed too: the gap between the two
is the in-process emulator's CPU work, which AWS's servers would do in parallel.

Run: ``python3 bench/bench_examples.py`` (``--latency-ms 50``, ``--parallelism 16``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler import workflow  # noqa: E402
from reconciler.execution.executor import Event, Executor  # noqa: E402
from reconciler.planner.model import Step  # noqa: E402

#: A raised quota, as specs/amc-multiparty/README.md asks its users to set.
QUOTAS = "quotas:\n  Members invited per collaboration: 10\n"

#: The goal: the apply's steps take at most this many times their critical path.
GOAL = 1.2


def weighted_path(steps: tuple[Step, ...], weight: dict[str, float]) -> float:
    """The heaviest chain of steps each depending on the one before (plan order is topological)."""
    finish: dict[str, float] = {}
    for step in steps:
        before = max((finish[d] for d in step.depends_on if d in finish), default=0.0)
        finish[step.id] = before + weight.get(step.id, 0.0)
    return max(finish.values(), default=0.0)


def apply_example(stack: Path, latency_ms: float, parallelism: int) -> dict[str, Any]:
    """Apply ``stack`` once on a fresh backend with latency; figures: steps, calls, seconds, path."""
    with tempfile.TemporaryDirectory(prefix="bench-examples-") as tmp:
        # the AMC stack invites more members than the default quota (its README raises it so)
        (Path(tmp) / ".reconciler").mkdir()
        (Path(tmp) / ".reconciler" / "quotas.yaml").write_text(QUOTAS)
        os.environ["RECONCILER_LOCAL_FAULTS"] = json.dumps({"latency_ms": latency_ms})
        try:
            with workflow.open_workspace(stack, root=Path(tmp), parallelism=parallelism) as ws:
                outcome = workflow.make_plan(ws)
                backend = ws.backend
                per_thread: Counter[int] = Counter()
                step_calls: dict[str, int] = {}
                step_seconds: dict[str, float] = {}
                call, run_step = backend.call, backend.run_step

                def counted_call(*args: Any, **kwargs: Any) -> Any:
                    per_thread[threading.get_ident()] += 1
                    return call(*args, **kwargs)

                def counted_step(step: Step, *args: Any, **kwargs: Any) -> Any:
                    me = threading.get_ident()
                    before, began = per_thread[me], time.perf_counter()
                    try:
                        return run_step(step, *args, **kwargs)
                    finally:
                        step_seconds[step.id] = time.perf_counter() - began
                        step_calls[step.id] = per_thread[me] - before

                backend.call = counted_call  # type: ignore[method-assign]
                backend.run_step = counted_step  # type: ignore[method-assign]
                failures: list[str] = []

                def on_event(event: Event) -> None:
                    if event.kind == "failed":
                        failures.append(f"{event.step.id}: {event.detail}")

                started = time.perf_counter()
                result = Executor(backend, stack=ws.name, parallelism=parallelism, on_event=on_event).run(
                    outcome.plan, outcome.state
                )
                seconds = time.perf_counter() - started
        finally:
            os.environ.pop("RECONCILER_LOCAL_FAULTS", None)
    if not result.ok:
        raise SystemExit(f"{stack.name}: the apply failed: {failures}")
    steps = outcome.plan.all_steps
    latency = {s: n * latency_ms / 1000 for s, n in step_calls.items()}
    return {
        "steps": len(steps),
        "calls": sum(step_calls.values()),
        "seconds": seconds,
        "path": weighted_path(steps, step_seconds),
        "latency_path": weighted_path(steps, latency),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--stacks", default="", help="comma-separated stack names (default: every example)")
    args = parser.parse_args()
    specs = ROOT / "specs"
    names = args.stacks.split(",") if args.stacks else sorted(p.name for p in specs.iterdir() if p.is_dir())
    ok = True
    for name in names:
        r = apply_example(specs / name, args.latency_ms, args.parallelism)
        factor = r["seconds"] / r["path"] if r["path"] else 1.0
        verdict = "ok" if factor <= GOAL else "MISSED"
        ok &= factor <= GOAL
        print(
            f"apply {name}, {args.latency_ms:.0f} ms latency: {r['steps']} steps, {r['calls']} calls in"
            f" {r['seconds']:.2f} s; critical path {r['path']:.2f} s"
            f" (latency alone {r['latency_path']:.2f} s);"
            f" {factor:.2f}x (goal <= {GOAL}x) {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
