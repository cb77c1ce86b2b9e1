"""Renderings of a DriftReport: text (the plan's own text view), JSON (stable), Markdown (issues, CI)."""

from __future__ import annotations

import json as _json

from reconciler.gitops import drift as drift_mod
from reconciler.gitops.drift import DriftReport
from reconciler.planner.model import Impact
from reconciler.render import text as plan_text
from reconciler.render._common import plural, value

__all__ = ["markdown", "render", "text"]


def text(report: DriftReport, *, color: bool = False) -> str:
    """One line when nothing drifted; else what drifted, as the plan's text view shows it."""
    plan = report.plan
    note = f" ({plural(len(report.ignored), 'resource')} with ignored drift)" if report.ignored else ""
    if not report.drifted:
        return f"No drift: {plan.unchanged} resources match{note}.\n"
    head = f"Drift detected in stack {plan.stack}: the live state differs from the spec{note}.\n"
    return head + plan_text.render(plan, color=color)


def _cell(v: object) -> str:
    shown = "—" if v is None else value(v)
    shown = shown if len(shown) <= 100 else shown[:99] + "…"
    return shown.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown(report: DriftReport) -> str:
    """A Markdown report (for an issue opened by a cron job, or a CI summary)."""
    plan = report.plan
    out = [f"### Drift of `{plan.stack}` ({plan.backend}) at {plan.created_at}", ""]
    if not report.drifted:
        out.append(f"No drift: {plan.unchanged} resources match the spec.")
    else:
        counts = report.counts()
        out += ["| Missing | Changed | Unexpected | Gone | Unchanged |", "|---:|---:|---:|---:|---:|"]
        out += [
            f"| {counts['missing']} | {counts['changed']} | {counts['unexpected']} | {counts['gone']}"
            f" | {plan.unchanged} |",
            "",
        ]
        out += ["| Resource | Drift | Field | Expected (spec) | Actual (live) |", "|---|---|---|---|---|"]
        for item in report.items:
            where = f"`{item.change.address}`"
            if not item.fields:
                out.append(f"| {where} | {item.drift} | | | |")
            for d in item.fields:
                out.append(f"| {where} | {item.drift} | `{d.path}` | {_cell(d.after)} | {_cell(d.before)} |")
        blocked = [i.change for i in report.items if i.change.blocked]
        if blocked:
            out += ["", "**Cannot be applied** (fix the spec):"]
            out += [f"- `{c.address}`: {c.blocked}" for c in blocked]
        # applying the spec "strengthens" exactly where the live state was loosened by hand
        looser = [
            (i.change, f) for i in report.items for f in i.change.findings if f.impact is Impact.STRENGTHENS
        ]
        if looser:
            out += ["", "**Privacy:** the live state is looser than the spec here (apply restores the spec):"]
            out += [f"- `{c.address}`: {f.reason}" for c, f in looser]
    if report.ignored:
        out += ["", "<details><summary>Ignored drift</summary>", ""]
        out += [f"- `{a}`: {', '.join(f'`{f}`' for f in fields)}" for a, fields in report.ignored]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def render(report: DriftReport, fmt: str = "text", *, color: bool = False) -> str:
    """Render in ``text``, ``json`` or ``markdown``."""
    if fmt == "json":
        return _json.dumps(drift_mod.to_json(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown(report)
    return text(report, color=color)
