"""The pull-request rendering: privacy first, a summary table, then collapsible details."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.planner.model import Change, Impact, Plan
from reconciler.render._common import ACTIONS, field_lines, left_out_lines, mention, no_changes, summary_line

__all__ = ["render"]

_IMPACT_ICON = {Impact.WEAKENS: "⚠️ weakens", Impact.STRENGTHENS: "🛡️ strengthens", Impact.NEUTRAL: "neutral"}


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def _details(change: Change, accounts: Mapping[str, str]) -> str:
    marker, words = ACTIONS[change.action]
    flags = "".join(
        [
            " ⚠️" if change.impact is Impact.WEAKENS else "",
            " ⛔ irreversible" if change.irreversible else "",
            " 🚫 blocked" if change.blocked else "",
        ]
    )
    body = []
    if change.blocked:
        body.append(f"**Blocked:** {_escape(mention(change.blocked, accounts))}\n")
    if change.reason:
        body.append(f"Reason: {_escape(mention(change.reason, accounts))}\n")
    if change.irreversible:
        body.append(f"**Irreversible:** {_escape(change.irreversible)}\n")
    for finding in change.findings:
        body.append(f"- privacy {finding.impact.value}: {_escape(mention(finding.reason, accounts))}")
    lines = field_lines(change, accounts)
    if lines:
        body.append("\n```diff")
        body.extend(f"{'!' if m == '~' else m} {text}" for m, text in lines)
        body.append("```")
    summary = f"<code>{marker}</code> <code>{change.address}</code> — {words}{flags}"
    return f"<details><summary>{summary}</summary>\n\n" + "\n".join(body) + "\n\n</details>"


def render(plan: Plan, *, limit: int | None = None) -> str:
    """Render a plan as a Markdown pull-request comment.

    Args:
        plan: the plan.
        limit: maximum length in characters (GitHub refuses comments over 65,536); details that
            do not fit are left out with a note saying how many.

    Returns:
        Markdown text ending with a newline.
    """
    head = [f"### Plan for `{plan.stack}` ({plan.backend})", ""]
    if plan.is_empty:
        line = (
            no_changes(plan) if plan.is_partial else f"No changes: {plan.unchanged} resources match the spec."
        )
        return "\n".join([*head, line, *left_out_lines(plan), ""])
    head.append(f"**{summary_line(plan)}**")
    head.extend(left_out_lines(plan))
    head.append("")
    head.append("#### Privacy")
    notes = [(c, f) for c in plan.ordered_changes() for f in c.findings if f.impact is not Impact.NEUTRAL]
    if not notes:
        head.append("No change affects privacy.")
    for change, finding in notes:
        reason = _escape(mention(finding.reason, plan.accounts))
        head.append(f"- {_IMPACT_ICON[finding.impact]} `{change.address}`: {reason}")
    head += ["", "| Change | Count |", "|---|---:|"]
    for action, count in plan.counts().items():
        if count:
            head.append(f"| {action} | {count} |")
    if plan.blocked:
        head += ["", "#### 🚫 Blocked (the plan cannot be applied)"]
        head += [f"- `{c.address}`: {_escape(mention(c.blocked, plan.accounts))}" for c in plan.blocked]
    if plan.irreversible_steps:
        head += ["", "#### ⛔ Irreversible steps (apply needs `--allow-destroy`)"]
        head += [
            f"- `{s.operation}` `{s.address}`: {_escape(s.irreversible)}" for s in plan.irreversible_steps
        ]
    head += ["", "#### Changes", ""]
    if plan.ordered_changes() != plan.in_apply_order():  # e.g. a fresh stack's members before it
        head += [
            "_Listed privacy first, then by address. Apply makes them in dependency order (what a"
            " change references first); `reconciler show PLAN_FILE` lists them in that order._",
            "",
        ]
    head.append("")
    text = "\n".join(head)
    blocks = [_details(c, plan.accounts) for c in plan.ordered_changes()]
    shown = 0
    for block in blocks:
        if limit is not None and len(text) + len(block) + 200 > limit:
            break
        text += block + "\n\n"
        shown += 1
    if shown < len(blocks):
        hidden = len(blocks) - shown
        text += f"_{hidden} more change(s) not shown: the comment would exceed {limit} characters._\n"
    return text.rstrip("\n") + "\n"
