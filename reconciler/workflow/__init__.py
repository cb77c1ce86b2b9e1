"""Workflow: the library functions behind ``plan``, ``apply``, ``drift``, ``destroy`` and ``demo``.

Each command is one call here: load the spec -> desired resources -> read State through the
backend -> diff -> Plan, and for apply: check the plan is for this stack and backend, refuse
what is not allowed, take the stack lock, re-read State and refuse a stale plan (naming what
changed), then let the Executor run the Steps. The CLI only parses options and renders.

The state cache (``.reconciler/state.json``) is refreshed after every read and every step; the
lock (``.reconciler/locks/<backend>-<stack>.lock``) keeps two applies of one stack apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler import examples
from reconciler.errors import PlanError
from reconciler.execution import lock, staleness
from reconciler.execution.backend import Account, AwsClients, Boto3Backend, ClientSource, LocalClients
from reconciler.execution.executor import ApplyResult, Event, Executor, check_permitted
from reconciler.execution.retry import RetryPolicy
from reconciler.execution.state import State, StateCache
from reconciler.planner import build, diff
from reconciler.planner import desired as desired_mod
from reconciler.planner.model import Plan
from reconciler.planner.resource import DesiredResource, fingerprint
from reconciler.spec import Stack, load_stack
from reconciler.workflow import demo

__all__ = [
    "BACKENDS",
    "Outcome",
    "accounts_of",
    "stack_name",
    "Workspace",
    "apply_plan",
    "default_plan_path",
    "find_stack",
    "make_plan",
    "check_target",
    "only_member",
    "open_workspace",
    "stack_lock",
]

#: The backends ``--backend`` accepts.
BACKENDS = ("local", "aws")


def find_stack(stack: str | os.PathLike[str] | None) -> Path:
    """Locate a stack directory: a path, a name under ``./specs``, or one of the example stacks.

    Args:
        stack: what the user typed (None: the current directory if it holds YAML, else the only
            stack under ``./specs``).

    Returns:
        The stack's path.

    Raises:
        PlanError: nothing matches; the message lists the stacks that exist.
    """
    specs = Path("specs")
    if stack is None:
        if any(Path(".").glob("*.yaml")):
            return Path(".")
        candidates = sorted(p for p in specs.glob("*") if p.is_dir())
        if len(candidates) == 1:
            return candidates[0]
        if not specs.is_dir():
            raise PlanError(
                "which stack? there is no specs/ directory here, and no YAML in this directory",
                hint=_pass_a_stack(),
            )
        names = ", ".join(p.name for p in candidates)
        raise PlanError(
            f"which stack? ./specs holds {len(candidates) or 'no'} stack(s){': ' + names if names else ''}",
            hint=_pass_a_stack(),
        )
    for candidate in (Path(stack), specs / stack, examples.ROOT / str(stack)):
        if candidate.exists():
            return candidate
    where = "under ./specs or" if specs.is_dir() else "under ./specs (there is no specs/ directory here) or"
    message = f"no stack {str(stack)!r}: not a path, and not {where} the examples"
    raise PlanError(message, hint=_pass_a_stack())


def _pass_a_stack() -> str:
    """How to name a stack on the command line, with the stacks there are."""
    own = Path("specs")
    known = sorted(
        {*(p.name for p in own.iterdir() if p.is_dir()), *examples.names()}
        if own.is_dir()
        else examples.names()
    )
    return (
        "give the stack's directory as STACK, e.g. `reconciler plan path/to/my-stack`"
        f" (or `cd` into it); known stacks: {', '.join(known) or 'none'}"
    )


def stack_name(stack: Stack) -> str:
    """A stack's name: its directory's name (or the YAML file's stem)."""
    root = stack.root.resolve()
    return root.stem if root.is_file() else root.name


def accounts_of(stack: Stack) -> list[Account]:
    """Every member account of a stack (first declaration wins), with region and credentials."""
    out: dict[str, Account] = {}
    for collab in stack.collaborations:
        for key, member in collab.members.items():
            creds = member.credentials
            out.setdefault(
                member.accountId,
                Account(
                    key,
                    member.accountId,
                    collab.region,
                    creds.profile if creds else None,
                    creds.roleArn if creds else None,
                ),
            )
    return list(out.values())


@dataclass
class Workspace:
    """One stack opened against one backend: the spec, the backend, the cache, the directory.

    Args:
        stack: the loaded spec.
        name: the stack name (identity tags, plan files, cache entries).
        backend: the Boto3Backend.
        cache: the state cache.
        root: the working directory holding ``.reconciler/`` and ``plans/``.
        notes: things the user should know that are not errors (an interrupted earlier apply).
    """

    stack: Stack
    name: str
    backend: Boto3Backend
    cache: StateCache
    root: Path
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the backend's clients (the local database file)."""
        close = getattr(self.backend.clients, "close", None)
        if close is not None:
            close()

    def desired(self) -> list[DesiredResource]:
        """The spec's resources in normal form."""
        return list(desired_mod.resources(self.stack))

    def read(self, desired: Sequence[DesiredResource] | None = None) -> State:
        """Observe the stack's resources (and the adopted ones ``desired`` names); refresh the cache."""
        adopt = {r.address: (r.id, r.attributes.get("name")) for r in desired or () if r.existing}
        readable = {a.member for a in self.backend.accounts}
        foreign = {
            r.address: str(r.attributes["name"])
            for r in desired or ()
            if r.owner not in readable and isinstance(r.attributes.get("name"), str)
        }
        known = self.cache.load(self.backend.name, self.name)
        state = self.backend.read(self.name, known=known, adopt=adopt, foreign=foreign)
        self.cache.save(self.backend.name, state)
        return state


def open_workspace(
    stack: str | os.PathLike[str] | None,
    *,
    backend: str = "local",
    as_member: str | None = None,
    parallelism: int = 16,
    root: Path | None = None,
    clients: ClientSource | None = None,
) -> Workspace:
    """Load a stack and connect its backend.

    Args:
        stack: stack path or name (see ``find_stack``).
        backend: ``local`` or ``aws``.
        as_member: on AWS, act only as this member (read and write with its account only).
        parallelism: concurrent reads.
        root: working directory for ``.reconciler/`` (default: the current directory).
        clients: who answers the clients (tests); default from ``backend``.

    Returns:
        The Workspace.
    """
    if backend not in BACKENDS:
        raise PlanError(f"unknown backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    spec = load_stack(find_stack(stack))
    base = root or Path(".")
    accounts = accounts_of(spec)
    names = {a.account_id: a.member for a in accounts}
    if as_member is not None:
        if as_member not in {a.member for a in accounts}:
            known = ", ".join(sorted(a.member for a in accounts))
            raise PlanError(f"--as {as_member}: no such member in the stack", hint=f"members: {known}")
        if backend == "aws":
            accounts = [a for a in accounts if a.member == as_member]
    if clients is None:
        if backend == "local":
            clients = LocalClients(base / ".reconciler" / "local.duckdb", parallelism=parallelism)
        else:
            clients = AwsClients(parallelism=parallelism)
    if isinstance(clients, LocalClients):
        # what AWS Glue knows about a real table: without it a protected query finds no data
        try:
            demo.bind_local_data(clients.service, spec, accounts_of(spec))
        except BaseException:
            clients.close()
            raise
    return Workspace(
        stack=spec,
        name=stack_name(spec),
        backend=Boto3Backend(clients, accounts, parallelism=parallelism, names=names),
        cache=StateCache(base / ".reconciler" / "state.json"),
        root=base,
    )


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


def only_member(plan: Plan, member: str) -> Plan:
    """Keep only the changes and steps ``member``'s account makes (``--as MEMBER``).

    Args:
        plan: the full plan.
        member: a member key.

    Returns:
        The plan restricted to that member (empty groups dropped), recording ``as_member``.
    """
    kept = {s.id for s in plan.all_steps if s.owner == member}
    groups = tuple(g for g in (tuple(s for s in group if s.id in kept) for group in plan.steps) if g)
    trimmed = tuple(
        replace(s, depends_on=tuple(d for d in s.depends_on if d in kept)) for g in groups for s in g
    )
    by_id = {s.id: s for s in trimmed}
    return replace(
        plan,
        changes=tuple(c for c in plan.changes if c.owner == member),
        steps=tuple(tuple(by_id[s.id] for s in g) for g in groups),
        as_member=member,
    )


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
    observed = list(state.resources.values())
    graph = diff.dependency_graph(want, observed)
    changes = diff.compute(want, observed, graph=graph)
    plan = build.build(
        changes,
        graph,
        stack=ws.name,
        backend=ws.backend.name,
        spec_fingerprint=fingerprint(want),
        state_fingerprint=state.fingerprint(),
        created_at=now,
        as_member=as_member,
        spec_path=str(ws.stack.root.resolve()),
        accounts={a.account_id: a.member for a in accounts_of(ws.stack)},
    )
    if as_member is not None:
        plan = only_member(plan, as_member)
    problems = [*([ws.cache.problem] if ws.cache.problem else []), *ws.backend.problems]
    return Outcome(plan, state, tuple(want), calls, tuple(problems))


def default_plan_path(ws: Workspace) -> Path:
    """``plans/<stack>.json`` under the working directory."""
    return ws.root / "plans" / f"{ws.name}.json"


@contextlib.contextmanager
def stack_lock(ws: Workspace, *, timeout: float = 0.0) -> Iterator[Path]:
    """Hold this stack's lock on this backend (``execution.lock``); a second holder waits or fails.

    Args:
        ws: the workspace.
        timeout: seconds to wait for the lock (0: fail at once).

    Yields:
        The lock file's path.

    Raises:
        StateError: the lock is held; the message names the holder.
    """
    path = lock.lock_path(ws.root, ws.backend.name, ws.name)
    with lock.hold(
        path, timeout=timeout, on_interrupted=lambda holder: ws.notes.append(_interrupted(holder))
    ):
        yield path


def _interrupted(holder: lock.Holder) -> str:
    return (
        f"the previous apply ({holder.command or 'pid ' + str(holder.pid)}) was interrupted;"
        " this apply carries on from the live state"
    )


def check_target(ws: Workspace, plan: Plan) -> None:
    """Refuse ``plan`` unless it was made for ``ws``'s stack and backend (before it is even shown).

    Raises:
        PlanError: the plan names another stack or backend.
    """
    if plan.stack != ws.name or plan.backend != ws.backend.name:
        raise PlanError(
            f"the plan is for stack {plan.stack!r} on the {plan.backend} backend,"
            f" not {ws.name!r} on the {ws.backend.name} backend",
            hint="apply it with the stack and --backend it was made for",
        )


def apply_plan(
    ws: Workspace,
    plan: Plan,
    *,
    allow_destroy: bool = False,
    parallelism: int = 4,
    on_event: Callable[[Event], None] | None = None,
    lock_timeout: float = 0.0,
    retry: RetryPolicy | None = None,
) -> ApplyResult:
    """Apply a saved plan: check it, lock the stack, refuse it if stale, run its Steps.

    Args:
        ws: the workspace of the plan's stack.
        plan: the plan (from ``make_plan`` or a plan file).
        allow_destroy: permit irreversible steps (``preventDestroy`` is refused regardless).
        parallelism: steps of one group run at most this many at a time.
        on_event: progress callback.
        lock_timeout: seconds to wait for another apply to finish.
        retry: backoff for transient errors.

    Returns:
        The ApplyResult (``ok`` False when a step failed; ``remaining`` lists what was not done).

    Raises:
        PlanError: another stack or backend, blocked or forbidden steps, or a stale plan;
            nothing was changed.
    """
    check_target(ws, plan)
    check_permitted(plan, allow_destroy=allow_destroy)
    with stack_lock(ws, timeout=lock_timeout):
        destroying = plan.spec_fingerprint == fingerprint([])
        spec = ws.desired()
        want = [] if destroying else spec
        state = ws.read(spec)
        fresh = staleness.fresh_plan(want, state, stack=ws.name, backend=ws.backend.name)
        reasons = staleness.reasons(plan, fresh, state)
        if reasons:
            raise PlanError(
                "Plan is out of date: " + "; ".join(reasons) + "; run plan again",
                hint="nothing was changed",
            )
        executor = Executor(
            ws.backend,
            stack=ws.name,
            parallelism=parallelism,
            retry=retry,
            record=lambda step, now: ws.cache.record(ws.backend.name, ws.name, step.address, now),
            on_event=on_event,
        )
        result = executor.run(plan, state)
        ws.cache.save(ws.backend.name, result.state)  # the journal folded into one snapshot
        return result
