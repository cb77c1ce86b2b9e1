"""``reconciler drift``: does the live state still match the spec? For cron jobs.

Exit 0 no drift, 2 drift (fields that differ, resources missing, and resources tagged with the
stack that the spec no longer has), 1 error. Nothing is saved or changed.
"""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.cli.plan import backend_option, format_option, show, warn


@click.command("drift")
@click.argument("stack", required=False)
@backend_option
@format_option
def command(stack: str | None, backend: str, fmt: str) -> int:
    """Report how STACK's live resources differ from its spec (exit 2 when they do)."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        outcome = workflow.make_plan(ws)
    warn(outcome.problems)
    if outcome.plan.is_empty:
        click.echo(
            show(outcome.plan, fmt)
            if fmt != "text"
            else f"No drift: {outcome.plan.unchanged} resources match."
        )
        return 0
    if fmt == "text":
        click.echo(f"Drift detected in stack {ws.name}: the live state differs from the spec.")
    click.echo(show(outcome.plan, fmt))
    return 2
