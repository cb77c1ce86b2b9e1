"""Executor: runs a saved Plan's Steps against a Backend, in dependency order, and reports what it did.

Apply the plan, not the spec: the Executor performs exactly the plan's Steps. Before changing
anything it refuses irreversible steps without ``allow_destroy`` and, always, deletes of resources
protected by ``lifecycle.preventDestroy`` (``check_permitted``). A Step starts as soon as the
Steps it depends on (``Step.depends_on``) have succeeded, up to ``parallelism`` at a time, so a
slow call holds up only what needs it; after every step its result is handed to
``record`` (the state cache's journal), so a crash loses at most the step in flight, and the
resource created by it is found again by its tags. Transient errors are retried with capped exponential
backoff and jitter (each retry is reported); the first terminal error stops the apply cleanly:
steps already running finish, nothing new starts, and the result lists what was done and what
remains; ``stop`` (Ctrl-C) ends a run the same way. Checking that the plan is not stale is the
caller's job (``workflow.apply_plan``).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from reconciler.collector import older_objects_frozen
from reconciler.errors import BackendError, PlanError, RetryableBackendError
from reconciler.execution.backend import Backend
from reconciler.execution.retry import Backoff
from reconciler.execution.state import State
from reconciler.execution.steps import StepResult
from reconciler.planner.model import Plan, Step
from reconciler.planner.resource import ObservedResource

__all__ = ["ApplyResult", "Event", "Executor", "check_permitted"]


@dataclass(frozen=True)
class Event:
    """Progress of one step, for the CLI to print.

    Args:
        kind: ``start``, ``done``, ``retry`` or ``failed``.
        step: the step.
        detail: the retry's or failure's message.
        attempt: the retry number (for ``retry``).
    """

    kind: str
    step: Step
    detail: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did.

    Args:
        done: steps that succeeded, in completion order.
        failed: the step that failed and its error, if any.
        remaining: steps not run (after a failure), in plan order.
        retries: retries taken over all steps.
        state: the State after the apply (observed + what the steps did).
        stopped: a stop was asked for (Ctrl-C): the steps in flight finished, none started after.
    """

    done: tuple[StepResult, ...] = ()
    failed: tuple[tuple[Step, BackendError], ...] = ()
    remaining: tuple[Step, ...] = ()
    retries: int = 0
    state: State = field(default_factory=State)
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed


def check_permitted(plan: Plan, *, allow_destroy: bool) -> None:
    """Refuse, before anything runs, a plan with steps the user has not allowed.

    Args:
        plan: the plan to apply.
        allow_destroy: ``--allow-destroy`` was given.

    Raises:
        PlanError: a blocked change, a ``preventDestroy`` delete (always refused), or an
            irreversible step without ``allow_destroy``; the message names every such step.
    """
    plan.check_applicable()
    protected = [s for s in plan.all_steps if s.prevent_destroy and s.role == "delete"]
    if protected:
        names = ", ".join(str(s.address) for s in protected)
        raise PlanError(
            f"the plan deletes {len(protected)} resource(s) protected by lifecycle.preventDestroy: {names}",
            hint="remove `preventDestroy: true` from the spec first if the deletion is really intended",
        )
    irreversible = plan.irreversible_steps
    if irreversible and not allow_destroy:
        lines = "; ".join(f"{s.id} ({s.irreversible})" for s in irreversible)
        raise PlanError(
            f"the plan has {len(irreversible)} irreversible step(s) and nothing was changed: {lines}",
            hint="re-run with --allow-destroy if this is really intended",
        )


class Executor:
    """Runs Plans against a Backend.

    Args:
        backend: where the calls go.
        stack: the stack name (identity tags of created resources).
        parallelism: at most this many steps run at a time.
        retry: backoff policy for transient errors.
        record: told (step, resource now or None after a delete) after every successful step
            (the state cache's journal).
        on_event: told about every start, retry, success and failure.
        stop: once set (Ctrl-C), no new step starts; the steps in flight finish and are recorded.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        stack: str,
        parallelism: int = 4,
        retry: Backoff | None = None,
        record: Callable[[Step, ObservedResource | None], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.backend = backend
        self.stop = stop or threading.Event()
        self.stack = stack
        self.parallelism = max(1, parallelism)
        self.retry = retry or Backoff()
        self.record = record
        self.on_event = on_event or (lambda event: None)
        self._lock = threading.Lock()

    def run(self, plan: Plan, state: State) -> ApplyResult:
        """Run every Step of ``plan``, each as soon as the Steps it depends on have succeeded.

        Ready Steps start in plan order, at most ``parallelism`` at a time; a Step never waits
        for one it does not depend on. After the first terminal error nothing new starts.

        Args:
            plan: the (checked) plan.
            state: the observed State the plan was checked against.

        Returns:
            The ApplyResult; a terminal error ends the run early and is in ``failed``.
        """
        # one dict, added to as steps finish; the steps read it through a view (no copy per step)
        self._resources = dict(state.resources)
        self._state = State.over(self._resources, state.stack)
        self._retries = 0
        order = plan.all_steps
        position = {s.id: i for i, s in enumerate(order)}
        # dependencies outside the plan (another member's part of it) are not waited for
        unmet = {s.id: {d for d in s.depends_on if d in position} for s in order}
        dependents: dict[str, list[str]] = {s.id: [] for s in order}
        for s in order:
            for d in unmet[s.id]:
                dependents[d].append(s.id)
        ready = [position[s.id] for s in order if not unmet[s.id]]
        heapq.heapify(ready)
        done: list[StepResult] = []
        failed: list[tuple[Step, BackendError]] = []
        started: set[str] = set()
        running: dict[Future[StepResult], Step] = {}
        # the spec, plan and (locally) emulator records outlive the apply: see older_objects_frozen
        with older_objects_frozen(), ThreadPoolExecutor(self.parallelism, thread_name_prefix="apply") as pool:
            while True:
                while ready and not failed and not self.stop.is_set() and len(running) < self.parallelism:
                    step = order[heapq.heappop(ready)]
                    started.add(step.id)
                    self.on_event(Event("start", step))
                    running[pool.submit(self._one, step)] = step
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: position[running[f].id]):
                    step = running.pop(future)
                    try:
                        result = future.result()
                    except BackendError as exc:
                        failed.append((step, exc))
                        self.on_event(Event("failed", step, exc.message))
                        continue
                    done.append(result)
                    self.on_event(Event("done", step, result.note))
                    for later in dependents[step.id]:
                        unmet[later].discard(step.id)
                        if not unmet[later]:
                            heapq.heappush(ready, position[later])
        remaining = tuple(s for s in order if s.id not in started)
        stopped = self.stop.is_set()
        # the recorded reads of resources no step touched stay valid (conditional reads)
        kept = {a: r for a, r in state.reads.items() if self._resources.get(a) is state.resources.get(a)}
        final = State(self._resources, state.stack, kept)
        return ApplyResult(tuple(done), tuple(failed), remaining, self._retries, final, stopped)

    def _one(self, step: Step) -> StepResult:
        def note(attempt: int, exc: RetryableBackendError) -> None:
            with self._lock:
                self._retries += 1
            self.on_event(Event("retry", step, exc.message, attempt))

        result = self.backend.run_step(step, self._state, self.stack, on_retry=note, retry=self.retry)
        with self._lock:
            if result.resource is None:
                self._resources.pop(step.address, None)
            else:
                self._resources[result.resource.address] = result.resource
            if self.record is not None:
                self.record(step, result.resource)
        return result
