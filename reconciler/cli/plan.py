"""``reconciler plan``: read the live (or local) state, diff it against the spec, save and show the plan.

Exit codes: 0 success (with ``--detailed-exitcode``: no changes), 2 changes (only with
``--detailed-exitcode``), 1 error. The plan is always saved (default ``plans/<stack>.json``) so
that ``reconciler apply PLAN_FILE`` carries out exactly what was shown. The option decorators
and ``show`` are shared by ``apply``, ``drift`` and ``destroy``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler import render, workflow
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


def show(plan: Plan, fmt: str = "text") -> str:
    """Render a plan in the chosen format (colour only on a terminal)."""
    if fmt == "json":
        return render.json.render(plan)
    if fmt == "markdown":
        return render.markdown.render(plan)
    return render.text.render(plan, color=sys.stdout.isatty())


def target_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--target ADDRESS`` (repeatable): only these resources, and what they need."""
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDRESS",
        help="Plan only this resource (and what lives under it), with the changes it needs; repeatable.",
    )(fn)


def warn(problems: tuple[str, ...]) -> None:
    """Print notes from reading the state (corrupt cache, bad tags) to stderr."""
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


@click.command("plan")
@click.argument("stack", required=False)
@backend_option
@click.option("--as", "as_member", metavar="MEMBER", help="Plan only what this member's account does.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Plan file (default plans/<stack>.json)."
)
@format_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@target_option
def command(
    stack: str | None,
    backend: str,
    as_member: str | None,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
) -> int:
    """Show what apply would change to make STACK's resources match its spec, and save the plan."""
    with workflow.open_workspace(stack, backend=backend, as_member=as_member) as ws:
        outcome = workflow.make_plan(ws, as_member=as_member, targets=targets)
    warn(outcome.problems)
    click.echo(f"Workspace: {(ws.root / '.reconciler').resolve()} (state, locks, local backend)", err=True)
    path = planfile.write(outcome.plan, out or workflow.default_plan_path(ws))
    click.echo(show(outcome.plan, fmt))
    if not outcome.plan.is_empty:
        click.echo(f"Saved the plan to {path}; apply it with: reconciler apply {path}", err=True)
    return 2 if detailed_exitcode and not outcome.plan.is_empty else 0
