"""Builders for planner tests: an 'observed' copy of desired resources, spec edits, plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from reconciler.planner import diff
from reconciler.planner.addresses import Address, parse
from reconciler.planner.build import build
from reconciler.planner.diff import Baseline
from reconciler.planner.model import Plan
from reconciler.planner.normal_form import canonical
from reconciler.planner.resource import DesiredResource, ObservedResource, fingerprint

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

R = TypeVar("R", DesiredResource, ObservedResource)


def observe(resources: Iterable[DesiredResource]) -> list[ObservedResource]:
    """What a backend would report after applying ``resources``: same attributes, ids set."""
    return [
        ObservedResource(
            r.address, r.attributes, r.owner, r.account_id, id=f"id-{r.address}", arn=f"arn:{r.address}"
        )
        for r in resources
    ]


def edit(resources: Iterable[R], address: str, change: Callable[[dict[str, Any]], None]) -> list[R]:
    """Copy ``resources`` with one resource's attributes changed (then put back in normal form)."""
    target = parse(address)
    out = []
    for r in resources:
        if r.address == target:
            attrs = _deep(r.attributes)
            change(attrs)
            r = replace(r, attributes=canonical(r.kind, attrs))
        out.append(r)
    return out


def _deep(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v) for v in value]
    return value


def without(resources: Iterable[R], *addresses: str) -> list[R]:
    gone = {parse(a) for a in addresses}
    return [r for r in resources if r.address not in gone]


def make_plan(
    want: list[DesiredResource],
    have: Sequence[Baseline],
    stack: str = "retail-adtech",
    accounts: Mapping[str, str] | None = None,
) -> Plan:
    graph = diff.dependency_graph(want, have)
    changes = diff.compute(want, have, graph=graph)
    return build(
        changes,
        graph,
        stack=stack,
        backend="local",
        spec_fingerprint=fingerprint(want),
        state_fingerprint=fingerprint(have),
        created_at=NOW,
        accounts=accounts,
    )


def change_of(plan: Plan, address: str) -> Any:
    target: Address = parse(address)
    return next(c for c in plan.changes if c.address == target)
