"""Drift reports: a drift check's Plan, minus accepted drift, with stable field names for machines.

``reconciler drift`` makes a Plan (live state vs spec); ``build(plan, ignore)`` turns it into a
DriftReport: each drifted resource is ``missing`` (in the spec, not live), ``unexpected`` (live
and tagged with the stack, not in the spec), ``changed`` (fields differ: expected is the
spec's value, actual the live one) or ``gone`` (a member the spec names left or was removed, and
can never come back: ``blocked`` says to delete it from the spec). ``--ignore`` patterns drop
drift that is known and accepted:

=============================================  =============================================
pattern                                        ignores
=============================================  =============================================
``membership.retail.adtech``                   all drift of that resource
``association.*``                              all drift of every association (fnmatch)
``description``, ``tags``, ``tags.*``          that field (and what is below it) everywhere
``configured_table.adtech.impressions:tags``   that field of the matching resources only
=============================================  =============================================

A pattern whose first dotted part is a Kind (or ``*``) is an address pattern; anything else is
a field path. ``to_json`` is the JSON document (``FORMAT_VERSION``); ``render.drift`` draws the
report as text or Markdown.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.planner.addresses import Kind
from reconciler.planner.model import Action, Change, FieldDiff, Plan
from reconciler.planner.resource import encode

__all__ = ["FORMAT_VERSION", "DriftItem", "DriftReport", "Ignore", "build", "parse_ignore", "to_json"]

FORMAT_VERSION = 1

#: Action of the drift plan -> what the drift is.
DRIFT_OF = {
    Action.CREATE: "missing",
    Action.ADD_MEMBER: "missing",
    Action.DELETE: "unexpected",
    Action.REMOVE_MEMBER: "unexpected",
    Action.UPDATE: "changed",
    Action.DELETE_THEN_CREATE: "changed",
    Action.CREATE_THEN_DELETE: "changed",
}


@dataclass(frozen=True)
class Ignore:
    """One ``--ignore`` pattern: an address glob, a field path glob, or both (``ADDRESS:FIELD``)."""

    text: str
    address: str = "*"
    field: str = ""

    def matches_address(self, address: str) -> bool:
        return fnmatch.fnmatchcase(address, self.address)

    def matches_field(self, path: str) -> bool:
        """The whole resource when no field is given; else the field, or anything below it."""
        if not self.field:
            return True
        return (
            path == self.field or path.startswith(self.field + ".") or fnmatch.fnmatchcase(path, self.field)
        )


def parse_ignore(text: str) -> Ignore:
    """Read one ``--ignore`` value (see the module table).

    >>> parse_ignore("association.*")
    Ignore(text='association.*', address='association.*', field='')
    >>> parse_ignore("tags.*").field, parse_ignore("configured_table.adtech.imps:tags").field
    ('tags.*', 'tags')
    """
    address, _, field = text.partition(":")
    head = address.split(".", 1)[0]
    if head == "*" or head in {k.value for k in Kind}:
        return Ignore(text, address, field)
    return Ignore(text, "*", text)


@dataclass(frozen=True)
class DriftItem:
    """One drifted resource; ``fields`` are (path, expected, actual) for ``changed`` drift."""

    change: Change
    drift: str
    fields: tuple[FieldDiff, ...]


@dataclass(frozen=True)
class DriftReport:
    """Drift of one stack on one backend, after ignoring accepted drift.

    Args:
        plan: the drift plan with ignored changes and fields removed (for the text rendering).
        items: the drift left, by Address.
        ignored: (address, ignored field paths or ``("*",)`` for the whole resource).
        patterns: the ``--ignore`` values.
    """

    plan: Plan
    items: tuple[DriftItem, ...]
    ignored: tuple[tuple[str, tuple[str, ...]], ...]
    patterns: tuple[str, ...]

    @property
    def drifted(self) -> bool:
        return bool(self.items)

    def counts(self) -> dict[str, int]:
        return {
            kind: sum(i.drift == kind for i in self.items)
            for kind in ("missing", "changed", "unexpected", "gone")
        }


def _filter(change: Change, rules: Sequence[Ignore]) -> tuple[Change | None, tuple[str, ...]]:
    """The change without ignored fields (None if nothing is left) and what was ignored."""
    address = str(change.address)
    applicable = [r for r in rules if r.matches_address(address)]
    if any(not r.field for r in applicable):
        return None, ("*",)
    if not applicable or not change.field_diffs:
        return change, ()
    kept = tuple(d for d in change.field_diffs if not any(r.matches_field(d.path) for r in applicable))
    dropped = tuple(d.path for d in change.field_diffs if d not in kept)
    if not kept:
        return None, dropped
    return replace(change, field_diffs=kept, requires_replace=tuple(
        p for p in change.requires_replace if p not in dropped)), dropped  # fmt: skip


def build(plan: Plan, ignore: Sequence[str] = ()) -> DriftReport:
    """Turn a drift Plan into a DriftReport, dropping what ``ignore`` accepts.

    Args:
        plan: from ``workflow.make_plan`` (live state vs spec).
        ignore: ``--ignore`` values (see the module table).

    Returns:
        The report; ``drifted`` is False when nothing is left.
    """
    rules = [
        parse_ignore(text) for text in ignore if text.strip()
    ]  # "" (an unset CI variable) ignores nothing
    kept: list[Change] = []
    ignored: list[tuple[str, tuple[str, ...]]] = []
    for change in plan.changes:
        left, dropped = _filter(change, rules)
        if dropped:
            ignored.append((str(change.address), dropped))
        if left is not None:
            kept.append(left)
    addresses = {c.address for c in kept}
    steps = tuple(g for g in (tuple(s for s in group if s.address in addresses) for group in plan.steps) if g)
    filtered = replace(
        plan, changes=tuple(kept), steps=steps, unchanged=plan.unchanged + len(plan.changes) - len(kept)
    )
    items = tuple(
        DriftItem(c, "gone" if c.gone else DRIFT_OF.get(c.action, "changed"), c.field_diffs) for c in kept
    )
    return DriftReport(filtered, items, tuple(ignored), tuple(ignore))


def to_json(report: DriftReport) -> dict[str, Any]:
    """The drift document (``FORMAT_VERSION`` 1); field names are stable.

    ::

        {"kind": "cleanrooms-reconciler-drift", "format_version": 1, "stack": str,
         "backend": str, "checked_at": ISO-8601, "drifted": bool,
         "summary": {"missing": n, "changed": n, "unexpected": n, "gone": n, "unchanged": n,
                     "ignored": n},
         "resources": [{"address", "kind", "drift": "missing" | "changed" | "unexpected" | "gone",
                        "action", "impact", "irreversible", "blocked", "source",
                        "fields": [{"path", "expected", "actual"}],
                        "findings": [{"impact", "reason", "path", "rule"}]}],
         "ignored": [{"address", "fields": [path] (["*"]: the whole resource)}],
         "ignore_patterns": [str]}

    ``expected`` is the spec's value, ``actual`` the live one (null when absent).
    """
    plan = report.plan
    return {
        "kind": "cleanrooms-reconciler-drift",
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "backend": plan.backend,
        "checked_at": plan.created_at,
        "drifted": report.drifted,
        "summary": {**report.counts(), "unchanged": plan.unchanged, "ignored": len(report.ignored)},
        "resources": [
            {
                "address": str(i.change.address),
                "kind": i.change.kind.value,
                "drift": i.drift,
                "action": i.change.action.value,
                "impact": i.change.impact.value,
                "irreversible": i.change.irreversible,
                "blocked": i.change.blocked,
                "source": str(i.change.source) if i.change.source else None,
                "fields": [
                    {"path": d.path, "expected": encode(d.after), "actual": encode(d.before)}
                    for d in i.fields
                ],
                "findings": [
                    {"impact": f.impact.value, "reason": f.reason, "path": f.path, "rule": f.rule}
                    for f in i.change.findings
                ],
            }
            for i in report.items
        ],
        "ignored": [{"address": a, "fields": list(f)} for a, f in report.ignored],
        "ignore_patterns": list(report.patterns),
    }
