"""The terminal rendering: Terraform-like markers, field-level ``old -> new``, privacy first."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.planner.model import Change, Impact, Plan
from reconciler.render._common import ACTIONS, field_lines, left_out_lines, mention, no_changes, summary_line

__all__ = ["render"]

_COLORS = {"+": "32", "~": "33", "-": "31", "-/+": "35", "+/-": "35", "!": "31;1", "x": "31;1"}


def _paint(marker: str, text: str, color: bool) -> str:
    code = _COLORS.get(marker)
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


def _change(change: Change, color: bool, accounts: Mapping[str, str]) -> list[str]:
    marker, words = ACTIONS[change.action]
    head = f"  {marker} {change.address} ({words})"
    flags = []
    if change.impact is Impact.WEAKENS:
        flags.append("WEAKENS PRIVACY")
    if change.irreversible:
        flags.append("IRREVERSIBLE")
    if change.blocked:
        flags.append("BLOCKED")
    lines = [_paint(marker, head + (f"  [{', '.join(flags)}]" if flags else ""), color)]
    if change.blocked:
        lines.append(_paint("x", f"      x {mention(change.blocked, accounts)}", color))
    if change.reason:
        lines.append(f"      # {mention(change.reason, accounts)}")
    for finding in change.findings:
        if finding.impact is not Impact.NEUTRAL:
            lines.append(f"      # privacy {finding.impact.value}: {mention(finding.reason, accounts)}")
    if change.irreversible:
        lines.append(_paint("!", f"      ! irreversible: {change.irreversible}", color))
    for field_marker, text in field_lines(change, accounts):
        lines.append(_paint(field_marker, f"      {field_marker} {text}", color))
    return lines


def render(plan: Plan, *, color: bool = False) -> str:
    """Render a plan for a terminal.

    Args:
        plan: the plan.
        color: ANSI colours (the CLI passes True only when stdout is a TTY).

    Returns:
        Text ending with a newline: privacy and blocked notes first, then each change (blocked
        first, then in the order apply makes them), irreversible steps, and a summary line.
    """
    if plan.is_empty:
        return "\n".join([no_changes(plan), *left_out_lines(plan)]) + "\n"
    lines = [f"Stack {plan.stack} on {plan.backend}:", ""]
    if plan.weakening:
        lines.append(_paint("!", f"Privacy: {len(plan.weakening)} change(s) weaken privacy:", color))
        for change in plan.weakening:
            for finding in change.findings:
                if finding.impact is Impact.WEAKENS:
                    reason = mention(finding.reason, plan.accounts)
                    lines.append(_paint("!", f"  ! {change.address}: {reason}", color))
        lines.append("")
    if plan.blocked:
        lines.append(_paint("x", f"Blocked: {len(plan.blocked)} change(s) cannot be applied:", color))
        lines.extend(
            _paint("x", f"  x {c.address}: {mention(c.blocked, plan.accounts)}", color) for c in plan.blocked
        )
        lines.append("")
    lines.append("Changes, in the order apply makes them:")
    for change in plan.in_apply_order():
        lines.extend(_change(change, color, plan.accounts))
        lines.append("")
    if plan.irreversible_steps:
        lines.append(_paint("!", "Irreversible steps (apply refuses them without --allow-destroy):", color))
        for step in plan.irreversible_steps:
            guard = " (lifecycle.preventDestroy: refused even with the flag)" if step.prevent_destroy else ""
            lines.append(
                _paint("!", f"  ! {step.operation} {step.address}: {step.irreversible}{guard}", color)
            )
        lines.append("")
    lines.append(summary_line(plan))
    lines.extend(left_out_lines(plan))
    return "\n".join(lines) + "\n"
