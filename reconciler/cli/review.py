"""``reconciler review``: what a spec change does, between two Git revisions or two directories.

No backend and no credentials: the specs at ``--base`` and ``--head`` (default: the working
tree) are diffed with the planner's own diff and privacy assessment. Exit codes: 0 reviewed
(gates passed), 3 a ``--fail-on`` gate failed (the review is still printed), 1 error (unknown
revision, not a repository, a base revision that is not a valid spec, bad usage).
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import userfiles
from reconciler.gitops import review as review_mod
from reconciler.render import review as render_review

#: Exit code when a ``--fail-on`` gate fails (1 stays "the command could not do its job").
GATE_FAILED = 3


@click.command("review")
@click.argument("stacks", nargs=-1, metavar="[STACK ...]")
@click.option("--base", required=True, metavar="REF", help="Git revision (or directory) merged into.")
@click.option(
    "--head", default=None, metavar="REF", help="Git revision (or directory); default: the working tree."
)
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json", "text"]), default="text", show_default=True
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    metavar="GATE",
    help="Exit 3 when the review has: weakens, irreversible, invalid (repeat or comma-separate).",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A privacy policy file checked at head, on top of each stack's policy.yaml (repeatable).",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the output to this file."
)
def command(
    stacks: tuple[str, ...],
    base: str,
    head: str | None,
    fmt: str,
    fail_on: tuple[str, ...],
    policies: tuple[Path, ...],
    out: Path | None,
) -> int:
    """Review the spec changes between --base and --head: privacy first, then everything else."""
    gates = [g.strip() for item in fail_on for g in item.split(",") if g.strip()]
    result = review_mod.review(base, head, stacks, policies=policies, fail_on=gates)
    rendered = {"markdown": render_review.markdown, "json": render_review.json, "text": render_review.text}[
        fmt
    ](result)
    if out is not None:
        userfiles.write_text(out, rendered, what="the review", option="--out")
    click.echo(rendered, nl=False)
    if result.unreadable:
        # a review that compared nothing is no review: never let it pass for "0 changes"
        for stack in result.unreadable:
            first = stack.base_diagnostics[0]
            click.echo(
                f"error: the base revision of {stack.name} ({result.base}) cannot be read as a spec, so its"
                f" changes were not computed: {first.location}: {first.summary}"
                + (
                    f" (and {len(stack.base_diagnostics) - 1} more)"
                    if len(stack.base_diagnostics) > 1
                    else ""
                ),
                err=True,
            )
        click.echo("  hint: fix or pick another --base; the review could not run", err=True)
        return 1
    return GATE_FAILED if result.gate_failures() else 0
