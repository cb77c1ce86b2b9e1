"""``reconciler demo``: the whole loop on the local backend, in a fresh temporary directory.

Plans ``retail-adtech`` (shipped with the package), applies it, then plans again to show that
nothing is left to do. Needs no AWS account and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from reconciler import workflow
from reconciler.cli.apply import confirm_and_apply
from reconciler.cli.plan import show

DEMO_STACK = "retail-adtech"


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the temporary directory (and print where it is).")
def command(keep: bool) -> int:
    """Plan and apply the retail-adtech example locally, then show that a second plan is empty."""
    root = Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    try:
        with workflow.open_workspace(workflow.EXAMPLES / DEMO_STACK, backend="local", root=root) as ws:
            click.echo(f"== reconciler plan {DEMO_STACK} (local backend in {root})")
            first = workflow.make_plan(ws).plan
            code = confirm_and_apply(ws, first, auto_approve=True, allow_destroy=False, parallelism=4)
            if code:
                return code
            click.echo(f"\n== reconciler plan {DEMO_STACK} (again)")
            again = workflow.make_plan(ws).plan
        click.echo(show(again))
        return 0 if again.is_empty else 1
    finally:
        if keep:
            click.echo(f"Kept {root}", err=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
