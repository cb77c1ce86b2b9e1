"""Applying: a saved plan carried out against its stack, safely.

``apply_plan`` checks that the plan is for this stack and backend and that the user allowed
what it does, takes the stack lock (``.reconciler/locks/<backend>-<stack>.lock``, and the remote
lock when the stack's state is remote), re-reads the
State and refuses a stale plan (naming what changed), then lets the Executor run its Steps,
recording each result in the state cache's journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from reconciler.errors import PlanError
from reconciler.execution import lock, remote, staleness
from reconciler.execution.executor import ApplyResult, Event, Executor, check_permitted
from reconciler.execution.retry import Backoff
from reconciler.execution.state import State
from reconciler.planner.model import Plan
from reconciler.planner.moves import Move
from reconciler.planner.moves import apply as apply_moves
from reconciler.planner.resource import ObservedResource, fingerprint
from reconciler.workflow.workspace import Workspace

__all__ = ["apply_plan", "check_target", "remote_lock", "stack_lock"]


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
        with remote_lock(ws, timeout=timeout):
            yield path


@contextlib.contextmanager
def remote_lock(ws: Workspace, *, timeout: float = 0.0) -> Iterator[None]:
    """Also hold the stack's remote lock when its state is remote (``execution.remote``); else nothing.

    The local lock is taken first, so two applies in one directory never reach the store.

    Raises:
        LockHeld: another runner holds it (or an interrupted one left it); the message names it.
    """
    if not isinstance(ws.cache, remote.RemoteStateCache):
        yield
        return
    with remote.hold_remote(ws.cache, timeout=timeout):
        yield


def _interrupted(holder: lock.Holder) -> str:
    return (
        f"the previous apply ({holder.command or 'pid ' + str(holder.pid)}) was interrupted;"
        " this apply carries on from the live state"
    )


def moved_state(state: State, moves: Sequence[Move]) -> State:
    """``state`` with the spec's moves carried out: resources under the addresses the plan names."""
    if not moves:
        return state
    moved = apply_moves(state.resources.values(), moves)
    return State({r.address: r for r in moved.resources if isinstance(r, ObservedResource)}, state.stack)


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
    retry: Backoff | None = None,
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
        observed = ws.read(spec)
        fresh = staleness.fresh_plan(want, observed, stack=ws.name, backend=ws.backend.name, moves=ws.moves())
        state = moved_state(observed, ws.moves())  # what the plan's addresses name
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
            stop=ws.backend.stop,
        )
        result = executor.run(plan, state)
        ws.cache.save(ws.backend.name, result.state)  # the journal folded into one snapshot
        return result
