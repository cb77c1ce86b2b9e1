"""The JSON rendering: the plan document itself (``planner.planfile.to_json``; format in its docstring)."""

from __future__ import annotations

import json as _json

from reconciler.planner import planfile
from reconciler.planner.model import Plan

__all__ = ["render"]


def render(plan: Plan) -> str:
    """Render a plan as its JSON document (what ``plan --out`` saves).

    Args:
        plan: the plan.

    Returns:
        Indented JSON text ending with a newline.
    """
    return _json.dumps(planfile.to_json(plan), indent=2, ensure_ascii=False) + "\n"
