"""``reconciler destroy``: delete everything the stack manages (children first).

Deleting collaborations, memberships and members is irreversible and needs ``--allow-destroy``
and, unless ``--auto-approve``, the collaboration's name typed at the prompt; resources with
``lifecycle.preventDestroy`` are never deleted. ``--target ADDRESS`` deletes only that resource
and what lives under it (``--target collaboration.NAME``: the console's "Delete collaboration"),
with the steps that must come first.
"""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.cli.apply import confirm_and_apply, read_progress
from reconciler.cli.plan import backend_option, read_plan, target_option


@click.command("destroy")
@click.argument("stack", required=False)
@backend_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--allow-destroy", is_flag=True, help="Permit irreversible steps.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True)
@target_option
def command(
    stack: str | None,
    backend: str,
    auto_approve: bool,
    allow_destroy: bool,
    parallelism: int,
    targets: tuple[str, ...],
) -> int:
    """Delete every resource STACK manages (found by its tags); with --target, only those."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        ws.backend.on_read_retry = read_progress
        outcome = read_plan(ws, None, destroy=True, targets=targets)
        return confirm_and_apply(
            ws,
            outcome.plan,
            auto_approve=auto_approve,
            allow_destroy=allow_destroy,
            parallelism=parallelism,
            resume=f"reconciler destroy {ws.stack.root}",
        )
