"""``reconciler import ADDRESS ID``: bring a resource made outside the tool under management.

The resource is tagged with the stack and ADDRESS (which the spec must declare) and recorded in
the state cache; the next plan compares it with the spec like any other. The stack lock is held
while tagging, as for apply.
"""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.cli.plan import backend_option, warn
from reconciler.execution import lock
from reconciler.workflow import inventory


@click.command("import")
@click.argument("address")
@click.argument("resource_id", metavar="ID")
@click.argument("stack", required=False)
@backend_option
@click.option(
    "--lock-timeout", type=click.FloatRange(0, 86400), default=0.0, help="Seconds to wait for the lock."
)
def command(address: str, resource_id: str, stack: str | None, backend: str, lock_timeout: float) -> int:
    """Manage the existing resource ID as ADDRESS of STACK (tags it; the spec must declare ADDRESS)."""
    inventory.parse_address(address)  # a malformed address is refused before anything is locked
    path = inventory.stack_lock_path(stack, backend)
    with lock.hold(path, timeout=lock_timeout):
        with (
            workflow.open_workspace(stack, backend=backend) as ws,
            workflow.remote_lock(ws, timeout=lock_timeout),
        ):
            adopted = inventory.adopt(ws, address, resource_id)
            warn(tuple(ws.backend.problems))
    r = adopted.resource
    if adopted.already:
        click.echo(f"{r.address} already manages {r.id}; nothing was changed.")
    else:
        click.echo(
            f"Imported {r.id} as {r.address}. Run `reconciler plan` to see how it differs from the spec."
        )
    return 0
