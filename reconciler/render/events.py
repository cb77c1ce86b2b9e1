"""Machine-readable events of ``plan --json`` and ``apply --json``: one JSON object per line.

The schema is ``schemas/events.schema.json`` (``SCHEMA_VERSION``; a field is only ever added
within a version: a removed or renamed field, or a changed meaning, makes a new version). The
first line is always ``version``; then, as they happen: ``read_retried``, ``state_read``,
``planned_change`` per change, ``plan_summary``, ``plan_saved``; for an apply ``step_started``,
``step_retried``, ``step_done`` / ``step_failed`` and finally ``apply_summary``. ``diagnostic``
reports an error (the command then exits 1), ``interrupted`` a Ctrl-C. Every object has ``type``
and ``timestamp`` (ISO 8601, UTC); the CLI adds ``timestamp`` when it prints the line.

These are pure functions of the plan and the executor's results, as the other renderings are.

>>> event = version("plan")
>>> event["type"], event["schema"], event["schema_version"]
('version', 'cleanrooms-reconciler-events', 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import Any

from reconciler.errors import BackendError, ReconcilerError
from reconciler.execution.executor import ApplyResult, Event
from reconciler.planner.model import Change, Plan, Step
from reconciler.render._common import summary_counts

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "apply_summary",
    "diagnostic",
    "interrupted",
    "plan_saved",
    "plan_summary",
    "planned_change",
    "read_retried",
    "state_read",
    "step_event",
    "version",
]

#: The ``schema`` of every event stream, and its version (``schemas/events.schema.json``).
SCHEMA = "cleanrooms-reconciler-events"
SCHEMA_VERSION = 1

_STEP_TYPES = {"start": "step_started", "done": "step_done", "retry": "step_retried", "failed": "step_failed"}


def version(command: str) -> dict[str, Any]:
    """The first line: which schema the stream follows and which reconciler wrote it."""
    try:
        release = metadata.version("cleanrooms-reconciler")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        release = "unknown"
    return {
        "type": "version",
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "reconciler": release,
        "command": command,
    }


def _step(step: Step) -> dict[str, Any]:
    return {"step": step.id, "address": str(step.address), "operation": step.operation, "role": step.role}


def state_read(calls: int, retries: int, seconds: float, resources: int) -> dict[str, Any]:
    """The state was read: API calls made, retries, how long it took, resources observed."""
    return {
        "type": "state_read",
        "calls": calls,
        "retries": retries,
        "seconds": round(seconds, 3),
        "resources": resources,
    }


def read_retried(operation: str, attempt: int, message: str) -> dict[str, Any]:
    """A read call is retried after a transient error."""
    return {"type": "read_retried", "operation": operation, "attempt": attempt, "message": message}


def planned_change(change: Change) -> dict[str, Any]:
    """One change of the plan (the plan file has every field; this is what a log needs)."""
    return {
        "type": "planned_change",
        "address": str(change.address),
        "kind": change.address.kind.value,
        "action": change.action.value,
        "impact": change.impact.value,
        "irreversible": change.irreversible,
        "blocked": change.blocked,
        "owner": change.owner,
    }


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan's counts, as the text rendering's ``Plan:`` line says them."""
    return {
        "type": "plan_summary",
        "stack": plan.stack,
        "backend": plan.backend,
        **summary_counts(plan),
        "weakens": len(plan.weakening),
        "irreversible": len(plan.irreversible_steps),
        "blocked": len(plan.blocked),
        "steps": len(plan.all_steps),
        "empty": plan.is_empty,
    }


def plan_saved(path: str) -> dict[str, Any]:
    """The plan file was written (``plan --out``)."""
    return {"type": "plan_saved", "path": path}


def step_event(event: Event) -> dict[str, Any]:
    """An executor event: a step started, was retried, succeeded or failed."""
    out: dict[str, Any] = {"type": _STEP_TYPES[event.kind], **_step(event.step)}
    if event.kind == "retry":
        out.update(attempt=event.attempt, message=event.detail)
    elif event.kind == "failed":
        out["message"] = event.detail
    elif event.kind == "done":
        out["note"] = event.detail
    return out


def apply_summary(result: ApplyResult, read_retries: int = 0) -> dict[str, Any]:
    """The apply ended: ok, how many steps were done, what failed and what was not started."""
    return {
        "type": "apply_summary",
        "ok": result.ok,
        "done": len(result.done),
        "failed": [_failure(step, error) for step, error in result.failed],
        "remaining": [s.id for s in result.remaining],
        "retries": result.retries + read_retries,
    }


def _failure(step: Step, error: BackendError) -> dict[str, Any]:
    return {**_step(step), "message": error.message, "hint": error.hint}


def diagnostic(error: ReconcilerError) -> dict[str, Any]:
    """An error that ended the command (exit 1), in the words the text output uses."""
    return {"type": "diagnostic", "severity": "error", "summary": error.message, "hint": error.hint}


def interrupted(done: Sequence[str], in_flight: Sequence[str], not_started: Sequence[str]) -> dict[str, Any]:
    """Ctrl-C: step ids done, in flight (let finish) and not started."""
    return {
        "type": "interrupted",
        "done": list(done),
        "in_flight": list(in_flight),
        "not_started": list(not_started),
    }
