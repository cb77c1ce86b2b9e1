"""The Executor with a scripted backend: order, concurrency, retries, clean stops, refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from reconciler.errors import PlanError, RetryableBackendError, TerminalBackendError
from reconciler.execution.executor import Event, Executor, check_permitted
from reconciler.execution.retry import Backoff, with_retries
from reconciler.execution.state import State
from reconciler.execution.steps import StepResult
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.model import Plan, Step
from reconciler.planner.resource import ObservedResource


def _step(name: str, role: str = "create", **extra: object) -> Step:
    address = Address.of(Kind.CONFIGURED_TABLE, "owner", name)
    return Step(f"{role} {address}", address, role, "CreateConfiguredTable", {}, owner="owner", **extra)  # type: ignore[arg-type]


class Scripted:
    """A backend whose steps sleep, fail or throttle as told, recording what ran."""

    name = "local"

    def __init__(
        self, fail: set[str] = frozenset(), throttle: dict[str, int] | None = None, delay: float = 0.0
    ):
        self.fail = fail
        self.throttle = dict(throttle or {})
        self.delay = delay
        self.ran: list[str] = []
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    @property
    def calls(self) -> int:
        return len(self.ran)

    def read(self, stack: str, **kwargs: object) -> State:
        return State({}, stack)

    def run_step(
        self,
        step: Step,
        state: State,
        stack: str,
        *,
        on_retry: Callable[[int, RetryableBackendError], None] | None = None,
        retry: Backoff | None = None,
    ) -> StepResult:
        def once() -> StepResult:
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                time.sleep(self.delay)
                with self.lock:
                    if self.throttle.get(step.id, 0) > 0:
                        self.throttle[step.id] -= 1
                        raise RetryableBackendError("throttled", code="ThrottlingException")
                    self.ran.append(step.id)
                if step.id in self.fail:
                    raise TerminalBackendError(f"{step.id} refused", code="ValidationException")
                return StepResult(step, ObservedResource(step.address, {}, id=f"id-{step.id}"))
            finally:
                with self.lock:
                    self.running -= 1

        return with_retries(
            once, retry or Backoff(base=0.001, cap=0.001), on_retry=on_retry, sleep=lambda s: None
        )


def _plan(*groups: tuple[Step, ...]) -> Plan:
    return Plan(stack="s", backend="local", changes=(), steps=tuple(groups))


def test_steps_wait_for_what_they_depend_on_and_run_concurrently() -> None:
    first = tuple(_step(f"a{i}") for i in range(6))
    second = (_step("b", depends_on=tuple(s.id for s in first)),)
    backend = Scripted(delay=0.02)
    saved: list[str] = []
    result = Executor(backend, stack="s", parallelism=3, record=lambda step, now: saved.append(step.id)).run(
        _plan(first, second), State()
    )
    assert result.ok and not result.remaining
    assert backend.ran[-1] == second[0].id  # it needs all six
    assert backend.peak == 3  # bounded by parallelism
    assert sorted(saved) == sorted(s.id for s in (*first, *second))  # progress recorded after every step
    assert len(result.state) == 7


def test_a_step_starts_without_waiting_for_steps_it_does_not_need() -> None:
    slow, fast = _step("slow"), _step("fast")
    after_fast = _step("after-fast", depends_on=(fast.id,))
    backend = SlowOne(slow.id)
    result = Executor(backend, stack="s", parallelism=2).run(_plan((slow, fast), (after_fast,)), State())
    assert result.ok
    assert backend.ran.index(after_fast.id) < backend.ran.index(slow.id)  # no barrier between groups


class SlowOne(Scripted):
    """Every step is quick but one."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow = slow

    def run_step(self, step: Step, state: State, stack: str, **kwargs: object) -> StepResult:
        if step.id == self.slow:
            time.sleep(0.3)
        return super().run_step(step, state, stack, **kwargs)  # type: ignore[arg-type]


def test_a_terminal_error_stops_cleanly_and_lists_what_remains() -> None:
    first = (_step("a"), _step("bad"), _step("c"))
    second = (_step("d", depends_on=tuple(s.id for s in first)),)
    events: list[Event] = []
    backend = Scripted(fail={first[1].id})
    result = Executor(backend, stack="s", parallelism=1, on_event=events.append).run(
        _plan(first, second), State()
    )
    assert not result.ok
    assert [s.id for s, _ in result.failed] == [first[1].id]
    assert [s.id for s in result.remaining] == [first[2].id, second[0].id]
    assert [r.step.id for r in result.done] == [first[0].id]
    assert ("failed", first[1].id) in [(e.kind, e.step.id) for e in events]


def test_a_stop_lets_the_steps_in_flight_finish_and_starts_nothing_new() -> None:
    steps = tuple(_step(n) for n in "abcdef")
    stop = threading.Event()
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if event.kind == "start" and event.step.id == steps[1].id:
            stop.set()  # Ctrl-C while two steps run

    backend = Scripted(delay=0.05)
    result = Executor(backend, stack="s", parallelism=2, on_event=on_event, stop=stop).run(
        _plan(steps), State()
    )
    assert result.stopped and result.ok
    # the two in flight finish in either order (they run at once): which ones, not their order
    assert sorted(r.step.id for r in result.done) == sorted([steps[0].id, steps[1].id]) == sorted(backend.ran)
    assert [s.id for s in result.remaining] == [s.id for s in steps[2:]]
    assert [e.kind for e in events].count("start") == 2


def test_transient_errors_are_retried_and_counted() -> None:
    steps = (_step("a"), _step("b"))
    events: list[Event] = []
    backend = Scripted(throttle={steps[0].id: 2, steps[1].id: 1})
    result = Executor(backend, stack="s", on_event=events.append).run(_plan(steps), State())
    assert result.ok and result.retries == 3
    assert sorted((e.step.id, e.attempt) for e in events if e.kind == "retry") == [
        (steps[0].id, 1),
        (steps[0].id, 2),
        (steps[1].id, 1),
    ]


def test_irreversible_and_protected_steps_are_refused_before_anything_runs() -> None:
    gone = _step("gone", role="delete", irreversible="a member that leaves cannot rejoin")
    with pytest.raises(PlanError, match="irreversible") as refused:
        check_permitted(_plan((gone,)), allow_destroy=False)
    assert "--allow-destroy" in refused.value.hint
    check_permitted(_plan((gone,)), allow_destroy=True)
    kept = _step("kept", role="delete", prevent_destroy=True)
    with pytest.raises(PlanError, match="preventDestroy"):
        check_permitted(_plan((kept,)), allow_destroy=True)
