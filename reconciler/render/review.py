"""Renderings of a Review: a pull-request comment (Markdown), JSON for machines, text for terminals.

Every rendering reads the same ``Review`` and says things in the same order: the gate, then per
stack privacy (weakening first, with before -> after values), irreversible and blocked changes,
validation errors and policy violations at head, then the changes themselves. The Markdown
comment embeds the Mermaid diagram of each stack (changed boxes coloured) and stays under
GitHub's comment limit: blocks that do not fit are left out and a note says how many.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import Diagnostic, Severity
from reconciler.gitops.review import Review, StackReview
from reconciler.planner import planfile
from reconciler.planner.model import Change, Impact
from reconciler.render import mermaid
from reconciler.render._common import ACTIONS, field_lines, plural, value

__all__ = ["GITHUB_COMMENT_LIMIT", "JSON_FORMAT_VERSION", "markdown", "text", "to_json"]

#: GitHub refuses issue and pull-request comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536
JSON_FORMAT_VERSION = 1
#: Rows of one Markdown table before the rest is summarised in a line.
MAX_TABLE_ROWS = 100
_ICON = {Impact.WEAKENS: "⚠️ weakens", Impact.STRENGTHENS: "🛡️ strengthens", Impact.NEUTRAL: "neutral"}
_SHORT = 120


def _at(attrs: Mapping[str, Any] | None, path: str) -> Any:
    current: Any = attrs
    for key in path.split(".") if path else []:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current


def _short(v: Any) -> str:
    shown = value(v)
    return shown if len(shown) <= _SHORT else shown[: _SHORT - 1] + "…"


def before_after(change: Change, path: str) -> tuple[str, str]:
    """The values a finding is about, shown short (``—`` for absent; whole resource for ``""``)."""
    if not path:
        return ("—" if change.before is None else "exists", "—" if change.after is None else "exists")
    b, a = _at(change.before, path), _at(change.after, path)
    return ("—" if b is None else _short(b), "—" if a is None else _short(a))


def _findings(stack: StackReview) -> list[tuple[Change, Any]]:
    """(change, finding) pairs that move privacy, weakening first."""
    pairs = [(c, f) for c in stack.ordered_changes() for f in c.findings if f.impact is not Impact.NEUTRAL]
    return sorted(pairs, key=lambda p: (p[1].impact is not Impact.WEAKENS, p[0].address))


# --------------------------------------------------------------------------- JSON


def _summary(stacks: Iterable[StackReview]) -> dict[str, int]:
    stacks = list(stacks)
    return {
        "stacks": len(stacks),
        "changes": sum(len(s.changes) for s in stacks),
        "unchanged": sum(s.unchanged for s in stacks),
        "weakens": sum(len(s.weakening) for s in stacks),
        "strengthens": sum(sum(c.impact is Impact.STRENGTHENS for c in s.changes) for s in stacks),
        "irreversible": sum(len(s.irreversible) for s in stacks),
        "blocked": sum(len(s.blocked) for s in stacks),
        "errors": sum(sum(d.severity is Severity.ERROR for d in s.diagnostics) for s in stacks),
        "policy_violations": sum(len(s.violations) for s in stacks),
    }


def to_json(review: Review) -> dict[str, Any]:
    """The review as a JSON document (``JSON_FORMAT_VERSION`` 1).

    ::

        {"kind": "cleanrooms-reconciler-review", "format_version": 1, "base": str, "head": str,
         "policies": [path], "summary": {"stacks", "changes", "unchanged", "weakens", "strengthens",
                                          "irreversible", "blocked", "errors", "policy_violations"},
         "gate": {"fail_on": [gate], "failed": bool, "reasons": [str]},
         "stacks": [{"name", "path", "in_base", "in_head", "valid", "counts": {action: n},
                     "unchanged", "notes": [str], "privacy": [{"address", "impact", "reason", "path",
                     "rule", "before", "after"}], "irreversible": [{"address", "action", "reason"}],
                     "blocked": [{"address", "reason"}], "diagnostics": [diagnostic],
                     "policy_violations": [diagnostic], "base_diagnostics": [diagnostic],
                     "changes": [change]}]}

    A diagnostic is ``Diagnostic.to_json()``; a change is written as plan files write it
    (``planfile.change_json``: address, kind, action, impact, findings, reason, irreversible, blocked,
    requires_replace, source, field_diffs, before, after, ...).
    """
    reasons = review.gate_failures()
    stacks = []
    for s in review.stacks:
        stacks.append(
            {
                "name": s.name,
                "path": s.path,
                "in_base": s.in_base,
                "in_head": s.in_head,
                "valid": s.valid,
                "counts": s.counts(),
                "unchanged": s.unchanged,
                "notes": list(s.notes),
                "privacy": [
                    {
                        "address": str(c.address),
                        "impact": f.impact.value,
                        "reason": f.reason,
                        "path": f.path,
                        "rule": f.rule,
                        "before": before_after(c, f.path)[0],
                        "after": before_after(c, f.path)[1],
                    }
                    for c, f in _findings(s)
                ],  # fmt: skip
                "irreversible": [
                    {"address": str(c.address), "action": c.action.value, "reason": c.irreversible}
                    for c in s.irreversible
                ],
                "blocked": [{"address": str(c.address), "reason": c.blocked} for c in s.blocked],
                "diagnostics": [d.to_json() for d in s.diagnostics],
                "policy_violations": [d.to_json() for d in s.violations],
                "base_diagnostics": [d.to_json() for d in s.base_diagnostics],
                "changes": [planfile.change_json(c) for c in s.ordered_changes()],
            }
        )
    return {
        "kind": "cleanrooms-reconciler-review",
        "format_version": JSON_FORMAT_VERSION,
        "base": review.base,
        "head": review.head,
        "policies": list(review.policies),
        "summary": _summary(review.stacks),
        "gate": {"fail_on": list(review.fail_on), "failed": bool(reasons), "reasons": reasons},
        "stacks": stacks,
    }


def json(review: Review) -> str:
    """The JSON document as indented text ending with a newline."""
    return _json.dumps(to_json(review), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- text


def _diagnostic_lines(title: str, diagnostics: Iterable[Diagnostic]) -> list[str]:
    found = list(diagnostics)
    if not found:
        return []
    return [title, *("  " + d.to_text().replace("\n", "\n  ") for d in found), ""]


def text(review: Review) -> str:
    """The review for a terminal: per stack, privacy first, then what else needs a look."""
    out = [f"Review of {review.base} -> {review.head}", ""]
    for reason in review.gate_failures():
        out.append(f"GATE FAILED: {reason}")
    for s in review.stacks:
        counts = ", ".join(f"{n} {a}" for a, n in s.counts().items() if n) or "no changes"
        out += [
            f"Stack {s.name} ({s.path}): {counts}; {s.unchanged} unchanged.",
            *(f"  note: {n}" for n in s.notes),
        ]
        findings = _findings(s)
        if findings:
            out.append("Privacy:")
            for c, f in findings:
                out.append(
                    f"  {'!' if f.impact is Impact.WEAKENS else '+'} {f.impact.value} {c.address}: {f.reason}"
                )
        if s.irreversible:
            out.append("Irreversible:")
            out += [f"  ! {c.address} ({c.action.value}): {c.irreversible}" for c in s.irreversible]
        if s.blocked:
            out.append("Blocked:")
            out += [f"  x {c.address}: {c.blocked}" for c in s.blocked]
        out.append("")
        out += _diagnostic_lines("Validation at head:", s.diagnostics)
        out += _diagnostic_lines("Policy violations at head:", s.violations)
        out += _diagnostic_lines("Errors at base (changes not computed):", s.base_diagnostics)
        for change in s.ordered_changes():
            marker, words = ACTIONS[change.action]
            out.append(f"  {marker} {change.address} ({words})")
            out += [f"      {m} {line}" for m, line in field_lines(change)]
        out.append("")
    summary = _summary(review.stacks)
    out.append(
        f"Review: {plural(summary['changes'], 'change')}, {summary['weakens']} weakening privacy,"
        f" {summary['irreversible']} irreversible, {summary['blocked']} blocked,"
        f" {plural(summary['errors'], 'error')} and"
        f" {plural(summary['policy_violations'], 'policy violation')} at head."
    )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- Markdown


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _table(header: str, rows: list[str]) -> str:
    """A Markdown table with at most ``MAX_TABLE_ROWS`` rows and a line saying what was cut."""
    shown = rows[:MAX_TABLE_ROWS]
    more = (
        f"\n\n_… and {len(rows) - len(shown)} more rows (see the JSON report)._"
        if len(rows) > len(shown)
        else ""
    )
    return header + "\n" + "\n".join(shown) + more


def _diagnostic_rows(diagnostics: Iterable[Diagnostic]) -> list[str]:
    return [
        f"| `{d.location or ''}` | {d.severity.value} | {_escape(d.summary)}"
        f"{'<br/>' + _escape(d.hint) if d.hint else ''} |"
        for d in diagnostics
    ]


def _details(change: Change) -> str:
    marker, words = ACTIONS[change.action]
    flags = (" ⚠️" if change.impact is Impact.WEAKENS else "") + (
        " ⛔ irreversible" if change.irreversible else ""
    )
    body = [
        f"Reason: {_escape(change.reason)}" if change.reason else "",
        f"Declared at `{change.source}`" if change.source else "",
    ]
    lines = field_lines(change)
    if lines:
        body += ["```diff", *(f"{'!' if m == '~' else m} {t}" for m, t in lines), "```"]
    summary = f"<code>{marker}</code> <code>{change.address}</code> — {words}{flags}"
    return f"<details><summary>{summary}</summary>\n\n" + "\n".join(b for b in body if b) + "\n\n</details>"


def _stack_blocks(s: StackReview) -> list[tuple[bool, str]]:
    """(essential, block) in reading order; optional blocks may be left out to fit the limit."""
    counts = ", ".join(f"{n} {a}" for a, n in s.counts().items() if n) or "no changes"
    blocks: list[tuple[bool, str]] = [
        (True, f"### `{s.name}` ({s.path})\n\n{counts}; {s.unchanged} unchanged.")
    ]
    if s.notes:
        blocks.append((True, "\n".join(f"> ℹ️ {_escape(n)}" for n in s.notes)))
    findings = _findings(s)
    if findings:
        rows = [
            f"| {_ICON[f.impact]} | `{c.address}` | {_escape(f.reason)} | "
            + " | ".join(_escape(v) for v in before_after(c, f.path))
            + " |"
            for c, f in findings
        ]
        blocks.append(
            (
                True,
                "#### Privacy\n\n"
                + _table(
                    "| Impact | Resource | What changes | Before | After |\n|---|---|---|---|---|", rows
                ),
            )
        )
    elif s.changes:
        blocks.append((True, "#### Privacy\n\nNo change affects privacy."))
    if s.irreversible:
        rows = [f"| `{c.address}` | {c.action.value} | {_escape(c.irreversible)} |" for c in s.irreversible]
        blocks.append(
            (
                True,
                "#### ⛔ Irreversible (apply needs `--allow-destroy`)\n\n"
                + _table("| Resource | Action | Why |\n|---|---|---|", rows),
            )
        )
    if s.blocked:
        rows = [f"| `{c.address}` | {_escape(c.blocked)} |" for c in s.blocked]
        blocks.append(
            (True, "#### 🚫 Blocked (cannot be applied)\n\n" + _table("| Resource | Why |\n|---|---|", rows))
        )
    header = "| Where | Severity | Problem |\n|---|---|---|"
    if s.diagnostics:
        title = (
            "❌ Validation at head"
            if any(d.severity is Severity.ERROR for d in s.diagnostics)
            else "Warnings"
        )
        blocks.append((True, f"#### {title}\n\n" + _table(header, _diagnostic_rows(s.diagnostics))))
    if s.violations:
        blocks.append(
            (True, "#### 📜 Policy violations at head\n\n" + _table(header, _diagnostic_rows(s.violations)))
        )
    if s.base_diagnostics:
        blocks.append(
            (
                True,
                "#### Errors at base (changes not computed)\n\n"
                + _table(header, _diagnostic_rows(s.base_diagnostics)),
            )
        )
    blocks += [(False, _details(c)) for c in s.ordered_changes()]
    if s.picture is not None:
        legend = (
            " (green: created, yellow: updated, purple: replaced, red: deleted)" if s.picture.planned else ""
        )
        summary = f"<summary>Diagram of <code>{s.name}</code>{legend}</summary>"
        blocks.append(
            (False, f"<details>{summary}\n\n```mermaid\n{mermaid.render(s.picture)}```\n\n</details>")
        )
    return blocks


def markdown(review: Review, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The review as a pull-request comment.

    Args:
        review: the review.
        limit: maximum length in characters; optional blocks (change details, diagrams) that
            would pass it are left out, and a closing note says how many.

    Returns:
        Markdown text ending with a newline, at most ``limit`` characters.
    """
    summary = _summary(review.stacks)
    head = [f"## Clean Rooms review: `{review.base}` → `{review.head}`", ""]
    failures = review.gate_failures()
    if failures:
        head.append(
            "> [!CAUTION]\n> **Gate failed** (`--fail-on "
            + ",".join(review.fail_on)
            + "`): "
            + "; ".join(failures)
        )
        head.append("")
    head.append(
        "| Stack | Changes | Weakens privacy | Irreversible | Blocked | Valid at head | Policy violations |"
    )
    head.append("|---|---:|---:|---:|---:|:---:|---:|")
    for s in review.stacks:
        head.append(
            f"| `{s.name}` | {len(s.changes)} | {'⚠️ ' if s.weakening else ''}{len(s.weakening)}"
            f" | {'⛔ ' if s.irreversible else ''}{len(s.irreversible)} | {len(s.blocked)}"
            f" | {'✅' if s.valid else '❌'} | {len(s.violations)} |"
        )
    if review.policies:
        head += ["", f"Policies applied: {', '.join(f'`{p}`' for p in review.policies)}"]
    text = "\n".join(head) + "\n"
    note_room = 300
    left_out = 0
    for s in review.stacks:
        for essential, block in _stack_blocks(s):
            piece = "\n" + block + "\n"
            if left_out == 0 and len(text) + len(piece) + note_room <= limit:
                text += piece
            elif essential and len(text) + len(piece) + note_room <= limit:
                text += piece
            else:
                left_out += 1
    if left_out:
        text += (
            f"\n_{plural(left_out, 'block')} (change details, diagrams or tables) left out: the comment would"
            f" exceed GitHub's {limit:,}-character limit. Run `reconciler review --format json` to see"
            " everything._\n"
        )
    text += f"\n<sub>{plural(summary['changes'], 'change')}, {summary['unchanged']} unchanged"
    text += " · cleanrooms-reconciler review</sub>\n"
    return text[:limit]
