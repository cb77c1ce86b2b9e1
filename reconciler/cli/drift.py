"""``reconciler drift``: does the live state still match the spec? For cron jobs.

Exit 0 no drift, 2 drift (fields that differ, resources missing, and resources tagged with the
stack that the spec no longer has), 1 error. Nothing is saved or changed. Drift reads every
resource by default (``--refresh full``): it is the check that nothing changed behind the tool's
back, so it does not lean on ``updateTime`` the way a plan's conditional reads do.
"""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.cli import console
from reconciler.cli.plan import backend_option, format_option, read_plan, refresh_option
from reconciler.gitops import drift as drift_mod
from reconciler.render import drift as render_drift


@click.command("drift")
@click.argument("stack", required=False)
@backend_option
@format_option
@click.option(
    "--ignore", multiple=True, metavar="ADDRESS_OR_FIELD", help="Accepted drift to leave out (repeatable)."
)
@refresh_option("full")
def command(stack: str | None, backend: str, fmt: str, ignore: tuple[str, ...], refresh: str) -> int:
    """Report how STACK's live resources differ from its spec (exit 2 when they do)."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        outcome = read_plan(ws, None, refresh=refresh)
    report = drift_mod.build(outcome.plan, ignore)  # --ignore and the drift renderings: see gitops.drift
    click.echo(render_drift.render(report, fmt, color=console.color()), nl=False)
    return 2 if report.drifted else 0
