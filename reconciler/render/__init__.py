"""Renderings of a Plan: pure functions Plan -> str, all reading the same Plan (STYLE rule 10).

- ``text.render(plan, color=False)``: Terraform-like, for terminals (``+``, ``~``, ``-/+``, ``-``).
- ``json.render(plan)``: the plan document itself (``planner.planfile.to_json``), as saved in plan files.
- ``markdown.render(plan, limit=None)``: a pull-request comment: privacy first, a summary
  table, irreversible and blocked steps, then each change in a collapsible block.

Every rendering lists blocked changes first, then changes that weaken privacy, then the rest,
each group by Address; unchanged resources are counted, never listed. Nothing here computes a
diff: the words come from ``Change.reason`` and the privacy ``Finding``s.

The other modules render the other GitOps results, each imported by its own command: ``review``
(a Review), ``drift`` (a DriftReport), ``mermaid`` and ``dot`` (a Picture).
"""

from __future__ import annotations

from reconciler.render import json, markdown, text

__all__ = ["json", "markdown", "text"]
