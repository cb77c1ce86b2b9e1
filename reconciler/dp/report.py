"""What ``reconciler budget`` shows: every privacy budget of a stack's collaborations, remaining now.

It asks the service (``ListPrivacyBudgets``, once per collaboration, as one of the stack's members)
through a ``call`` function the caller provides, so it works the same on the local emulator and
on AWS and never imports a backend. Rendering is a pure function of the summaries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BudgetReport", "Membership", "collect", "render"]

#: call(account_id, operation, params) -> the parsed response.
Call = Callable[[str, str, Mapping[str, Any]], Mapping[str, Any]]

_TYPES = ("DIFFERENTIAL_PRIVACY", "ACCESS_BUDGET")


@dataclass(frozen=True)
class Membership:
    """One of the stack's memberships: where to ask from."""

    address: str
    membership_id: str
    account_id: str
    collaboration_id: str = ""


@dataclass(frozen=True)
class BudgetReport:
    """The budgets found per collaboration (keyed by the address of the membership asked)."""

    budgets: Mapping[str, tuple[Mapping[str, Any], ...]]


def collect(memberships: Iterable[Membership], call: Call) -> BudgetReport:
    """List the budgets of each collaboration once (the first membership found per collaboration).

    Args:
        memberships: the stack's observed memberships.
        call: makes one API call as an account.

    Returns:
        The ``BudgetReport``.
    """
    seen: set[str] = set()
    out: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for m in sorted(memberships, key=lambda m: m.address):
        key = m.collaboration_id or m.address
        if key in seen:
            continue
        seen.add(key)
        found: list[Mapping[str, Any]] = []
        for kind in _TYPES:
            params: dict[str, Any] = {"membershipIdentifier": m.membership_id, "privacyBudgetType": kind}
            while True:
                page = call(m.account_id, "ListPrivacyBudgets", params)
                found += page.get("privacyBudgetSummaries", [])
                if not page.get("nextToken"):
                    break
                params = {**params, "nextToken": page["nextToken"]}
        out[m.address] = tuple(found)
    return BudgetReport(out)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, dt.datetime) else str(value)


def _lines(summary: Mapping[str, Any]) -> list[str]:
    budget = summary["budget"]
    if "differentialPrivacy" in budget:
        dp = budget["differentialPrivacy"]
        lines = [f"  differential privacy (epsilon {dp['epsilon']}), aggregations remaining:"]
        lines += [
            f"    {a['type']:<15} {a['remainingCount']:>6} of {a['maxCount']}" for a in dp["aggregations"]
        ]
        return lines
    access = budget["accessBudget"]
    lines = [
        f"  access budget for {access['resourceArn']}: {access['aggregateRemainingBudget']} queries remaining"
    ]
    for d in access["details"]:
        window = f"since {_when(d['startTime'])}" + (
            f" until {_when(d['endTime'])}" if d.get("endTime") else ""
        )
        lines.append(f"    {d['budgetType']:<15} {d['remainingBudget']:>6} of {d['budget']} ({window})")
    return lines


def render(report: BudgetReport, fmt: str = "text") -> str:
    """Text (one block per collaboration) or JSON (the API summaries).

    Args:
        report: what ``collect`` returned.
        fmt: ``text`` or ``json``.

    Returns:
        The rendered report, ending with a newline.
    """
    if fmt == "json":
        data = {k: list(v) for k, v in report.budgets.items()}
        return json.dumps(data, indent=2, default=lambda o: o.isoformat(), sort_keys=True) + "\n"
    if not report.budgets:
        return "No memberships found: apply the stack first.\n"
    blocks = []
    for address, summaries in report.budgets.items():
        lines = [f"{address}:"]
        if not summaries:
            lines.append("  no privacy budgets (no privacy budget template in this collaboration)")
        for summary in summaries:
            lines += _lines(summary)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
