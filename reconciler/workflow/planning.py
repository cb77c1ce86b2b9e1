"""Planning: read the stack's State through the backend and plan what makes it match the spec.

``make_plan`` is the library call behind ``plan``, ``drift`` and ``destroy``: desired resources
(``planner.desired``) and the observed State, diffed (``planner.diff``) and ordered into a Plan
(``planner.build``); with ``--as MEMBER`` the plan keeps that member's part only.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.collector import collector_paused
from reconciler.errors import PlanError
from reconciler.execution.state import State
from reconciler.planner import build
from reconciler.planner.addresses import Address, parse
from reconciler.planner.model import Plan
from reconciler.planner.moves import under
from reconciler.planner.resource import DesiredResource
from reconciler.workflow.stacks import accounts_of
from reconciler.workflow.workspace import Workspace

__all__ = ["REFRESH", "Outcome", "default_plan_path", "make_plan"]

#: ``--refresh`` modes: ``changed`` reads a resource again only when its List summary moved
#: (``execution.conditional``; tags and analysis rules are always read); ``summaries`` trusts an
#: unchanged summary for the tags and analysis rules too (fewest calls: a rule or tag changed
#: behind the tool's back goes unseen until ``drift`` or ``apply``, which read everything, as
#: Terraform's ``-refresh=false`` trusts its state); ``full`` reads everything.
REFRESH = ("changed", "summaries", "full")


@dataclass(frozen=True)
class Outcome:
    """A plan with what it was made from.

    Args:
        plan: the Plan.
        state: the State it was made from.
        desired: the spec's resources.
        calls: API calls made to read the state.
        problems: notes from reading (bad tags, corrupt cache), for display.
        reused: Gets the read skipped (conditional reads: List summary unchanged).
    """

    plan: Plan
    state: State
    desired: tuple[DesiredResource, ...]
    calls: int = 0
    problems: tuple[str, ...] = ()
    reused: int = 0


def make_plan(
    ws: Workspace,
    *,
    as_member: str | None = None,
    destroy: bool = False,
    now: dt.datetime | None = None,
    desired: Sequence[DesiredResource] | None = None,
    targets: Sequence[str] = (),
    refresh: str = "changed",
) -> Outcome:
    """Read the stack's State and plan the changes that make it match the spec.

    Args:
        ws: the workspace.
        as_member: keep only this member's changes.
        destroy: plan the deletion of everything the stack manages instead.
        now: the clock.
        desired: the resources to plan for instead of the spec's (tests, imports).
        targets: ``--target`` addresses: keep only their changes and what those need.
        refresh: ``changed``, ``summaries`` (conditional reads) or ``full`` (read everything), see
            ``REFRESH``.

    Returns:
        The Outcome.

    Raises:
        PlanError: a target that is not an address, or names nothing the spec or the backend has.
    """
    want = [] if destroy else list(desired) if desired is not None else ws.desired()
    before = ws.backend.calls
    if refresh not in REFRESH:
        raise PlanError(f"unknown refresh mode {refresh!r}", hint=f"use one of: {', '.join(REFRESH)}")
    state = ws.read(want or ws.desired(), refresh=refresh)
    calls = ws.backend.calls - before
    with collector_paused():  # plain data, no cycles
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
    if targets:
        known = {r.address for r in want} | set(state.resources)
        plan = plan.for_targets(tuple(_target(t, known) for t in targets))
    problems = [*([ws.cache.problem] if ws.cache.problem else []), *ws.backend.problems]
    return Outcome(plan, state, tuple(want), calls, tuple(problems), ws.backend.reused)


def _target(text: str, known: set[Address]) -> Address:
    """A ``--target`` value as an Address that names (or holds) something of the stack."""
    try:
        address = parse(text)
    except ValueError as exc:
        raise PlanError(f"--target {text}: {exc}", hint="give an address as the plan prints it") from None
    if not any(under(a, address) for a in known):
        close = difflib.get_close_matches(text, sorted(str(a) for a in known), n=1)
        raise PlanError(
            f"--target {text}: the stack declares and manages nothing at that address",
            hint=f"did you mean {close[0]}?" if close else "`reconciler plan` lists the stack's addresses",
        )
    return address


def default_plan_path(ws: Workspace) -> Path:
    """``plans/<stack>.json`` under the working directory."""
    return ws.root / "plans" / f"{ws.name}.json"
