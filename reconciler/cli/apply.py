"""``reconciler apply``: carry out a saved plan (or plan and apply a stack), step by step.

Without ``--auto-approve`` the plan is shown and confirmation asked: only ``yes`` approves, and a
plan with irreversible steps asks for the collaboration's name instead (``console.confirm``).
Irreversible steps also need ``--allow-destroy``; ``lifecycle.preventDestroy`` resources are never
deleted. A stale plan is refused. Each step is printed as it ends, under a live progress line on
a terminal; then a summary. Ctrl-C lets the steps in flight finish, starts nothing new and says
what was done and how to resume. ``--json`` prints events instead (``render.events``; it needs
``--auto-approve``). Exit 0 when every step succeeded, 1 when the apply stopped (the summary
lists what was done and what remains), 130 on Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from reconciler import workflow
from reconciler.cli import console
from reconciler.cli.plan import backend_option, emit_plan, json_option, read_plan, show, target_option
from reconciler.errors import PlanError, RetryableBackendError
from reconciler.execution.executor import ApplyResult, Event, check_permitted
from reconciler.planner import planfile
from reconciler.planner.model import Plan


def progress(event: Event) -> None:
    """Print one step's progress line."""
    if event.kind == "done":
        done = console.paint("done", "green")
        click.echo(f"  {event.step.id}: {done}{f' ({event.detail})' if event.detail else ''}")
    elif event.kind == "retry":
        retry = console.paint(f"retry {event.attempt}", "yellow")
        click.echo(f"  {event.step.id}: {retry} after: {event.detail}")
    elif event.kind == "failed":
        click.echo(
            f"  {event.step.id}: {console.paint('FAILED', 'red', err=True, bold=True)}: {event.detail}",
            err=True,
        )


def read_progress(operation: str, attempt: int, error: RetryableBackendError) -> None:
    """Print a retry of a read (reads are retried like steps, and counted with them)."""
    click.echo(f"  read {operation}: {console.paint(f'retry {attempt}', 'yellow')} after: {error.message}")


def summarize(result: ApplyResult, read_retries: int = 0) -> int:
    """Print the apply summary; return the exit code."""
    total = result.retries + read_retries
    retries = f", {total} retr{'y' if total == 1 else 'ies'}"
    if result.ok:
        click.echo(
            console.paint(f"Apply complete: {len(result.done)} step(s) done{retries}.", "green", bold=True)
        )
        return 0
    click.echo(
        console.paint(
            f"Apply stopped: {len(result.done)} step(s) done{retries}; nothing else was started.",
            "red",
            err=True,
            bold=True,
        ),
        err=True,
    )
    for step, error in result.failed:
        click.echo(f"Failed: {step.id}: {error.message}", err=True)
        if error.hint:
            click.echo(f"  hint: {error.hint}", err=True)
    if result.remaining:
        click.echo(f"Remaining ({len(result.remaining)}):", err=True)
        for step in result.remaining:
            click.echo(f"  {step.id}", err=True)
    click.echo("Run `reconciler plan` to see what is left to do.", err=True)
    return 1


def confirm_and_apply(
    ws: workflow.Workspace,
    plan: Plan,
    *,
    auto_approve: bool,
    allow_destroy: bool,
    parallelism: int,
    lock_timeout: float = 0.0,
    stream: console.JsonLines | None = None,
    resume: str = "",
    saved: bool = False,
) -> int:
    """Show the plan, ask unless ``auto_approve``, apply, summarize (shared with destroy and demo).

    Args:
        stream: ``--json``: events instead of text (never asks: the caller checked ``auto_approve``).
        resume: the command that carries on after Ctrl-C (default ``reconciler apply <stack path>``).
        saved: the plan comes from a file, so even an empty one is checked against the spec and
            the live state first (``apply_plan`` refuses it if stale).
    """
    workflow.check_target(ws, plan)  # a plan of another stack is refused before it is shown
    if plan.is_empty and saved:
        # an empty saved plan is checked like any other: "nothing to do" only if that is still true
        workflow.apply_plan(ws, plan, lock_timeout=lock_timeout)
    if stream is not None:
        emit_plan(stream, plan)
    else:
        click.echo(show(plan))
    if plan.is_empty:
        return 0
    check_permitted(plan, allow_destroy=allow_destroy)  # refuse before asking
    if not auto_approve and not console.confirm(plan):
        click.echo("Apply cancelled; nothing was changed.", err=True)
        return 1
    tracker = console.Progress(ws.backend, plan.all_steps, enabled=False if stream else None)

    def on_event(event: Event) -> None:
        tracker.on_event(event)
        if stream is not None:
            from reconciler.render import events

            stream.emit(events.step_event(event))
        else:
            progress(event)

    again = resume or f"reconciler apply {ws.stack.root}"
    try:
        with tracker, console.graceful_stop(ws.backend):
            result = workflow.apply_plan(
                ws,
                plan,
                allow_destroy=allow_destroy,
                parallelism=parallelism,
                on_event=on_event,
                lock_timeout=lock_timeout,
            )
    except KeyboardInterrupt:  # while the state was re-read, or a second Ctrl-C
        _interrupted(tracker, plan, again, stream)
    if result.stopped:
        _interrupted(tracker, plan, again, stream)
    for note in ws.notes:
        click.echo(f"note: {note}", err=True)
    if stream is not None:
        from reconciler.render import events

        stream.emit(events.apply_summary(result, ws.backend.read_retries))
        return 0 if result.ok else 1
    return summarize(result, ws.backend.read_retries)


def _interrupted(
    tracker: console.Progress, plan: Plan, resume: str, stream: console.JsonLines | None
) -> NoReturn:
    """Say what Ctrl-C left (an event too with ``--json``) and exit 130."""
    if stream is not None:
        from reconciler.render import events

        not_started = [s.id for s in plan.all_steps if s.id not in tracker.started]
        stream.emit(events.interrupted(tracker.done, [s.id for s in tracker.running], not_started))
    click.echo(tracker.interrupted(resume), err=True, nl=False)
    raise click.exceptions.Exit(130)


def read_plan_file(target: str | None) -> Plan | None:
    """The plan in ``target`` when it names a plan file (an existing file, or a ``.json`` path)."""
    if target is None or Path(target).is_dir():
        return None
    if not (Path(target).is_file() or target.lower().endswith(".json")):
        return None
    if not Path(target).exists():
        raise PlanError(
            f"no plan file {target!r}",
            hint="make one with `reconciler plan STACK --out FILE`,"
            " or give a stack directory to plan and apply in one go",
        )
    return planfile.read(target)


def plan_stack(saved: Plan) -> str:
    """Where a saved plan's stack lives: the spec path it records (older plans: its name)."""
    if not saved.spec_path:
        return saved.stack
    if not Path(saved.spec_path).exists():
        raise PlanError(
            f"the plan was made from the stack at {saved.spec_path}, which no longer exists",
            hint="give the stack's directory with --stack PATH",
        )
    return saved.spec_path


def plan_member(saved: Plan, given: str | None) -> str | None:
    """The member a saved plan acts as; a different ``--as`` is an error."""
    if given is not None and given != saved.as_member:
        made = f"--as {saved.as_member}" if saved.as_member else "for every member (without --as)"
        raise PlanError(
            f"--as {given} does not match the plan, which was made {made}",
            hint="drop --as (the plan file records it), or make the plan again with the member you want",
        )
    return saved.as_member


@click.command("apply")
@click.argument("target", required=False, metavar="[PLAN_FILE | STACK]")
@backend_option
@click.option(
    "--stack", "stack_path", help="Where the plan's stack lives (default: the path the plan file records)."
)
@click.option(
    "--as", "as_member", metavar="MEMBER", help="Act as this member only (a plan file records its own)."
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--allow-destroy", is_flag=True, help="Permit irreversible steps (deleting members, memberships...)."
)
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option(
    "--lock-timeout", type=click.FloatRange(0), default=0.0, help="Seconds to wait for another apply."
)
@json_option
@target_option
@click.pass_context
def command(
    ctx: click.Context,
    target: str | None,
    backend: str,
    stack_path: str | None,
    as_member: str | None,
    auto_approve: bool,
    allow_destroy: bool,
    parallelism: int,
    lock_timeout: float,
    json_events: bool,
    targets: tuple[str, ...],
) -> int:
    """Apply a saved plan (PLAN_FILE) or plan and apply STACK."""
    if json_events and not auto_approve:
        raise click.UsageError("--json needs --auto-approve: a stream of events cannot be asked a question")
    with console.JsonLines.maybe(json_events, "apply") as stream:
        saved = read_plan_file(target)
        stack: str | None = target
        if saved is not None:
            stack = stack_path or plan_stack(saved)
            as_member = plan_member(saved, as_member)
            given = ctx.get_parameter_source("backend") is not click.core.ParameterSource.DEFAULT
            plan_flags(saved, backend if given else None, targets)
        chosen = saved.backend if saved else backend
        with workflow.open_workspace(stack, backend=chosen, as_member=as_member) as ws:
            ws.backend.on_read_retry = _read_retry(stream)
            plan = saved or read_plan(ws, stream, as_member=as_member, targets=targets).plan
            resume = f"reconciler apply {target}" if saved is None and target else ""
            return confirm_and_apply(
                ws,
                plan,
                auto_approve=auto_approve,
                allow_destroy=allow_destroy,
                parallelism=parallelism,
                lock_timeout=lock_timeout,
                stream=stream,
                resume=resume,
                saved=saved is not None,
            )


def _read_retry(stream: console.JsonLines | None) -> Callable[[str, int, RetryableBackendError], None]:
    """Where a read's retries go: a line of text, or an event."""
    if stream is None:
        return read_progress

    def emit(operation: str, attempt: int, error: RetryableBackendError) -> None:
        from reconciler.render import events

        stream.emit(events.read_retried(operation, attempt, error.message))

    return emit


def plan_flags(saved: Plan, backend: str | None, targets: tuple[str, ...]) -> None:
    """Flags that a saved plan already decides must agree with it (never silently ignored)."""
    if backend is not None and backend != saved.backend:
        raise PlanError(
            f"--backend {backend} does not match the plan, which was made on the {saved.backend} backend",
            hint=f"drop --backend (the plan file records it), or make a plan with --backend {backend}",
        )
    if targets and tuple(targets) != saved.targets:
        made = f"--target {' --target '.join(saved.targets)}" if saved.targets else "without --target"
        raise PlanError(
            f"--target cannot change a saved plan, which was made {made}",
            hint="drop --target (the plan file records it), or make a plan with the targets you want",
        )
