"""``reconciler plan``: read the live (or local) state, diff it against the spec, show the plan.

The plan is saved only where ``--out`` says, as Terraform's ``-out``, and an existing file is
never replaced unless ``--overwrite`` is given: a plan file that a pull request reviewed stays
what was reviewed. ``reconciler apply PLAN_FILE`` then carries out exactly what was shown.
``--json`` prints events instead of text, one JSON object per line (``render.events``).

Exit codes: 0 success (with ``--detailed-exitcode``: no changes), 2 changes (only with
``--detailed-exitcode``), 1 error. The option decorators and ``show`` are shared by ``apply``,
``drift``, ``destroy`` and ``show``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler import render, workflow
from reconciler.cli import console
from reconciler.planner import planfile
from reconciler.planner.model import Plan

FORMATS = ("text", "json", "markdown")


def backend_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--backend local|aws`` (default local)."""
    return click.option(
        "--backend",
        type=click.Choice(workflow.BACKENDS),
        default="local",
        show_default=True,
        help="local: the embedded emulator (.reconciler/local.duckdb); aws: real AWS.",
    )(fn)


def format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--format text|json|markdown``."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)(fn)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: events, one JSON object per line (schemas/events.schema.json)."""
    return click.option(
        "--json",
        "json_events",
        is_flag=True,
        help="Print events, one JSON object per line (schemas/events.schema.json), instead of text.",
    )(fn)


def show(plan: Plan, fmt: str = "text") -> str:
    """Render a plan in the chosen format (colour only where ``console.color`` allows)."""
    if fmt == "json":
        return render.json.render(plan)
    if fmt == "markdown":
        return render.markdown.render(plan)
    return render.text.render(plan, color=console.color())


def target_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--target ADDRESS`` (repeatable): only these resources, and what they need."""
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDRESS",
        help="Plan only this resource (and what lives under it), with the changes it needs; repeatable.",
    )(fn)


def refresh_option(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--refresh changed|summaries|full``: reuse unchanged resources' last reads, or read everything."""
    return click.option(
        "--refresh",
        type=click.Choice(workflow.REFRESH),
        default=default,
        show_default=True,
        help="changed: skip the Get of a resource whose List summary (updateTime...) is the one the"
        " state recorded at its last full read (tags and analysis rules are always read); summaries:"
        " trust an unchanged summary for the tags and analysis rules too (fewest calls; a tag or rule"
        " changed behind the tool's back is missed until drift or apply, which read everything); full:"
        " read everything.",
    )


def warn(problems: tuple[str, ...]) -> None:
    """Print notes from reading the state (corrupt cache, bad tags) to stderr."""
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


def read_plan(ws: workflow.Workspace, stream: console.JsonLines | None, **options: Any) -> workflow.Outcome:
    """``make_plan`` with a progress line while the state is read (an event with ``--json``)."""
    progress = console.Progress(ws.backend, enabled=False if stream else None)
    began = time.monotonic()
    try:
        with progress, console.graceful_stop(ws.backend):
            outcome = workflow.make_plan(ws, **options)
    except KeyboardInterrupt:
        click.echo(progress.interrupted(""), err=True, nl=False)
        raise click.exceptions.Exit(130) from None
    if stream is not None:
        from reconciler.render import events

        retries = ws.backend.read_retries
        stream.emit(events.state_read(outcome.calls, retries, time.monotonic() - began, len(outcome.state)))
    warn(outcome.problems)
    return outcome


def emit_plan(stream: console.JsonLines, plan: Plan) -> None:
    """``planned_change`` per change (in apply order), then ``plan_summary``."""
    from reconciler.render import events

    for change in plan.in_apply_order():
        stream.emit(events.planned_change(change))
    stream.emit(events.plan_summary(plan))


@click.command("plan")
@click.argument("stack", required=False)
@backend_option
@click.option("--as", "as_member", metavar="MEMBER", help="Plan only what this member's account does.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan here, for `reconciler apply PLAN_FILE` (an existing file is kept).",
)
@click.option("--overwrite", is_flag=True, help="Let --out replace an existing file.")
@format_option
@json_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@target_option
@refresh_option("changed")
def command(
    stack: str | None,
    backend: str,
    as_member: str | None,
    out: Path | None,
    overwrite: bool,
    fmt: str,
    json_events: bool,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    refresh: str,
) -> int:
    """Show what apply would change to make STACK's resources match its spec (save it with --out)."""
    if overwrite and out is None:
        raise click.UsageError("--overwrite only applies with --out")
    if json_events and fmt != "text":
        raise click.UsageError("--json prints events; it cannot be combined with --format")
    with console.JsonLines.maybe(json_events, "plan") as stream:
        if out is not None and not overwrite:
            planfile.refuse_existing(out)  # before any API call
        with workflow.open_workspace(stack, backend=backend, as_member=as_member) as ws:
            outcome = read_plan(ws, stream, as_member=as_member, targets=targets, refresh=refresh)
            if stream is None:
                click.echo(
                    f"Workspace: {(ws.root / '.reconciler').resolve()} (state, locks, local backend)",
                    err=True,
                )
                if ws.cache.location != str(ws.cache.path):  # kind: RemoteState / RECONCILER_STATE
                    click.echo(f"Remote state and lock: {ws.cache.location}", err=True)
        plan = outcome.plan
        path = planfile.write(plan, out, overwrite=overwrite) if out is not None else None
        if stream is not None:
            emit_plan(stream, plan)
            if path is not None:
                from reconciler.render import events

                stream.emit(events.plan_saved(str(path)))
        else:
            click.echo(show(plan, fmt))
            if path is not None:
                click.echo(f"Saved the plan to {path}; apply it with: reconciler apply {path}", err=True)
            elif not plan.is_empty:
                again = " ".join(
                    [
                        "reconciler plan",
                        *([stack] if stack else []),
                        *(["--as", as_member] if as_member else []),
                    ]
                )
                suggested = workflow.default_plan_path(ws).relative_to(ws.root)
                click.echo(
                    f"This plan was not saved. To apply exactly it: {again} --out {suggested},"
                    f" then reconciler apply {suggested}",
                    err=True,
                )
    return 2 if detailed_exitcode and not plan.is_empty else 0
