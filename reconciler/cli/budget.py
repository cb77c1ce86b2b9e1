"""``reconciler budget [STACK]``: the privacy budgets of a stack's collaborations, remaining now.

Differential privacy budgets show how many aggregations of each type are left (the console's
"gas gauge"); access budgets how many queries each table may still take in its period. Reads
only (ListPrivacyBudgets as one of the stack's members, the querying one when the stack has it);
each block is labelled by its collaboration and names the member asked; exit 0, or 1 on error.
"""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.cli.plan import backend_option
from reconciler.dp import report
from reconciler.planner.addresses import Kind


@click.command("budget")
@click.argument("stack", required=False)
@backend_option
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def command(stack: str | None, backend: str, fmt: str) -> int:
    """Show the remaining privacy budgets of STACK's collaborations."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        querying = {
            (c.name, key)
            for c in ws.stack.collaborations
            for key, m in c.members.items()
            if "CAN_QUERY" in m.abilities
        }
        memberships = [
            report.Membership(
                str(r.address),
                r.id,
                r.account_id,
                collaboration=r.address.part("collaboration"),
                member=r.address.part("member"),
                can_query=(r.address.part("collaboration"), r.address.part("member")) in querying,
            )
            for r in ws.read()
            if r.address.kind is Kind.MEMBERSHIP and r.id and r.account_id
        ]
        found = report.collect(
            memberships,
            lambda account, op, params: ws.backend.call(ws.backend.account_for(None, account), op, params),
        )
    click.echo(report.render(found, fmt), nl=False)
    return 0
