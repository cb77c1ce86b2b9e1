"""``reconciler show PLAN_FILE``: print a saved plan, as ``plan`` printed it, without any API call.

For reviewing a plan file before ``apply PLAN_FILE`` (a CI artifact, a file attached to a pull
request): text, the JSON document itself, or Markdown. Exit 0, or 1 when the file is not a
plan (missing, damaged, another format version).
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.plan import format_option, show
from reconciler.planner import planfile


@click.command("show")
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@format_option
def command(plan_file: Path, fmt: str) -> int:
    """Print the plan saved in PLAN_FILE (by `reconciler plan --out`)."""
    plan = planfile.read(plan_file)
    click.echo(show(plan, fmt))  # as plan prints it
    if fmt == "text":
        who = f" as {plan.as_member}" if plan.as_member else ""
        click.echo(
            f"Made {plan.created_at}{who}. `reconciler apply {plan_file}` re-reads the state and refuses"
            " the plan if anything changed since.",
            err=True,
        )
    return 0
