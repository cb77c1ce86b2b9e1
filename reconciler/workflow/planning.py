"""Planning: read the stack's State through the backend and plan what makes it match the spec.

``make_plan`` is the library call behind ``plan``, ``drift`` and ``destroy``: desired resources
(``planner.desired``) and the observed State, diffed (``planner.diff``) and ordered into a Plan
(``planner.build``); with ``--as MEMBER`` the plan keeps that member's part only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.execution.state import State
from reconciler.planner import build
from reconciler.planner.model import Plan
from reconciler.planner.resource import DesiredResource
from reconciler.workflow.stacks import accounts_of
from reconciler.workflow.workspace import Workspace

__all__ = ["Outcome", "default_plan_path", "make_plan"]


@dataclass(frozen=True)
class Outcome:
    """A plan with what it was made from.

    Args:
        plan: the Plan.
        state: the State it was made from.
        desired: the spec's resources.
        calls: API calls made to read the state.
        problems: notes from reading (bad tags, corrupt cache), for display.
    """

    plan: Plan
    state: State
    desired: tuple[DesiredResource, ...]
    calls: int = 0
    problems: tuple[str, ...] = ()


def make_plan(
    ws: Workspace,
    *,
    as_member: str | None = None,
    destroy: bool = False,
    now: dt.datetime | None = None,
    desired: Sequence[DesiredResource] | None = None,
) -> Outcome:
    """Read the stack's State and plan the changes that make it match the spec.

    Args:
        ws: the workspace.
        as_member: keep only this member's changes.
        destroy: plan the deletion of everything the stack manages instead.
        now: the clock.
        desired: the resources to plan for instead of the spec's (tests, imports).

    Returns:
        The Outcome.
    """
    want = [] if destroy else list(desired) if desired is not None else ws.desired()
    before = ws.backend.calls
    state = ws.read(want or ws.desired())
    calls = ws.backend.calls - before
    plan = build.from_resources(
        want,
        list(state.resources.values()),
        stack=ws.name,
        backend=ws.backend.name,
        created_at=now,
        as_member=as_member,
        spec_path=str(ws.stack.root.resolve()),
        accounts={a.account_id: a.member for a in accounts_of(ws.stack)},
        moves=ws.moves(),
    )
    if as_member is not None:
        plan = plan.for_member(as_member)
    problems = [*([ws.cache.problem] if ws.cache.problem else []), *ws.backend.problems]
    return Outcome(plan, state, tuple(want), calls, tuple(problems))


def default_plan_path(ws: Workspace) -> Path:
    """``plans/<stack>.json`` under the working directory."""
    return ws.root / "plans" / f"{ws.name}.json"
