"""Renderings of a Plan: pure functions Plan -> str, all reading the same Plan (STYLE rule 10).

- ``text.render(plan, color=False)``: Terraform-like, for terminals (``+``, ``~``, ``-/+``, ``-``).
- ``json.render(plan)``: the plan document itself (``planner.planfile.to_json``), as saved in plan files.
- ``events``: the JSON lines of ``plan --json`` and ``apply --json`` (``schemas/events.schema.json``).
- ``markdown.render(plan, limit=None)``: a pull-request comment: privacy first, a summary
  table, irreversible and blocked steps, then each change in a collapsible block.

Every rendering puts what weakens privacy and what is blocked first. The text rendering then
lists the changes in the order apply makes them (``Plan.in_apply_order``: a fresh stack's
collaboration before its members); Markdown (a review comment that may be cut short) and JSON
list them blocked, then weakening, then the rest, each group by Address
(``Plan.ordered_changes``); when that differs from apply order, Markdown says so in a note.
Unchanged resources are counted, never listed. Nothing here computes a
diff: the words come from ``Change.reason`` and the privacy ``Finding``s.

The other modules render the other GitOps results, each imported by its own command: ``review``
(a Review), ``drift`` (a DriftReport), ``mermaid`` and ``dot`` (a Picture).
"""

from __future__ import annotations

from reconciler.render import json, markdown, text

__all__ = ["json", "markdown", "text"]
