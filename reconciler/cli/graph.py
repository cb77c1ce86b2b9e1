"""``reconciler graph``: draw a stack as Mermaid or Graphviz DOT, optionally coloured by a plan.

Prints the diagram source (Mermaid without fences, ready for a Markdown ```mermaid block).
Exit 0, or 1 on error (invalid spec, unreadable plan).
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import workflow
from reconciler.errors import PlanError
from reconciler.gitops import picture
from reconciler.planner import planfile
from reconciler.render import dot, mermaid
from reconciler.spec import load_stack


@click.command("graph")
@click.argument("stack", required=False)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Colour what this saved plan changes (from reconciler plan --out).",
)
def command(stack: str | None, fmt: str, plan_file: Path | None) -> int:
    """Draw STACK: members and abilities, who pays, tables and rules, associations, templates."""
    spec = load_stack(workflow.find_stack(stack))
    name = workflow.stack_name(spec)
    saved = planfile.read(plan_file) if plan_file else None
    if saved is not None and saved.stack != name:
        raise PlanError(
            f"{plan_file} is a plan of stack {saved.stack!r}, not of {name!r}",
            hint=f"draw stack {saved.stack} with it, or make a plan of {name} with `reconciler plan`",
        )
    drawn = picture.build(spec, saved.changes if saved else ())
    click.echo(mermaid.render(drawn) if fmt == "mermaid" else dot.render(drawn, name=name), nl=False)
    return 0
