"""``reconciler drift``: does the live state still match the spec? For cron jobs.

Exit 0 no drift, 2 drift (fields that differ, resources missing, and resources tagged with the
stack that the spec no longer has), 1 error. Nothing is saved or changed.
"""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.cli import console
from reconciler.cli.plan import backend_option, format_option, read_plan
from reconciler.gitops import drift as drift_mod
from reconciler.render import drift as render_drift


@click.command("drift")
@click.argument("stack", required=False)
@backend_option
@format_option
@click.option(
    "--ignore", multiple=True, metavar="ADDRESS_OR_FIELD", help="Accepted drift to leave out (repeatable)."
)
def command(stack: str | None, backend: str, fmt: str, ignore: tuple[str, ...]) -> int:
    """Report how STACK's live resources differ from its spec (exit 2 when they do)."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        outcome = read_plan(ws, None)
    report = drift_mod.build(outcome.plan, ignore)  # --ignore and the drift renderings: see gitops.drift
    click.echo(render_drift.render(report, fmt, color=console.color()), nl=False)
    return 2 if report.drifted else 0
