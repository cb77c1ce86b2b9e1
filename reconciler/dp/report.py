"""What ``reconciler budget`` shows: every privacy budget of a stack's collaborations, remaining now.

It asks the service (``ListPrivacyBudgets``, once per collaboration, as one of the stack's members)
through a ``call`` function the caller provides, so it works the same on the local emulator and
on AWS and never imports a backend. Rendering is a pure function of the summaries.

A budget belongs to the collaboration, not to the membership it is read through, so the report is
labelled by collaboration and names the member asked: the one who can query (whose queries spend
the budget) when the stack has its membership, else the first by key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BudgetReport", "Membership", "collect", "render"]

#: call(account_id, operation, params) -> the parsed response.
Call = Callable[[str, str, Mapping[str, Any]], Mapping[str, Any]]

_TYPES = ("DIFFERENTIAL_PRIVACY", "ACCESS_BUDGET")


@dataclass(frozen=True)
class Membership:
    """One of the stack's memberships: where to ask from.

    Attributes:
        address: its address (``membership.<collaboration>.<member>``).
        membership_id / account_id: what the call needs.
        collaboration: the collaboration's name (what the report is labelled by).
        member: the member's key in the spec.
        can_query: the member has CAN_QUERY (asked first).
    """

    address: str
    membership_id: str
    account_id: str
    collaboration: str = ""
    member: str = ""
    can_query: bool = False


@dataclass(frozen=True)
class BudgetReport:
    """The budgets found, by collaboration name, and the member each was read as."""

    budgets: Mapping[str, tuple[Mapping[str, Any], ...]]
    asked: Mapping[str, str] = field(default_factory=dict)


def collect(memberships: Iterable[Membership], call: Call) -> BudgetReport:
    """List the budgets of each collaboration once, as its querying member if the stack has it.

    Args:
        memberships: the stack's observed memberships.
        call: makes one API call as an account.

    Returns:
        The ``BudgetReport``.
    """
    out: dict[str, tuple[Mapping[str, Any], ...]] = {}
    asked: dict[str, str] = {}
    for m in sorted(memberships, key=lambda m: (m.collaboration or m.address, not m.can_query, m.address)):
        key = m.collaboration or m.address
        if key in out:
            continue
        found: list[Mapping[str, Any]] = []
        for kind in _TYPES:
            params: dict[str, Any] = {"membershipIdentifier": m.membership_id, "privacyBudgetType": kind}
            while True:
                page = call(m.account_id, "ListPrivacyBudgets", params)
                found += page.get("privacyBudgetSummaries", [])
                if not page.get("nextToken"):
                    break
                params = {**params, "nextToken": page["nextToken"]}
        out[key] = tuple(found)
        asked[key] = m.member or m.address
    return BudgetReport(out, asked)


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
    """Text (one block per collaboration) or JSON (collaboration name -> the API summaries).

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
    for name, summaries in report.budgets.items():
        asked = report.asked.get(name)
        lines = [f"collaboration {name}" + (f" (read as member {asked})" if asked else "") + ":"]
        if not summaries:
            lines.append("  no privacy budgets (no privacy budget template in this collaboration)")
        for summary in summaries:
            lines += _lines(summary)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
