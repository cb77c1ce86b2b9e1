"""Builders for planner tests: an 'observed' copy of desired resources, spec edits, plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.planner import diff
from reconciler.planner.addresses import Address, parse
from reconciler.planner.plan import Plan, build, fingerprint
from reconciler.planner.registry import Resource, canonical

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def observe(resources: Iterable[Resource]) -> list[Resource]:
    """What a backend would report after applying ``resources``: same attributes, ids set."""
    return [replace(r, id=f"id-{r.address}", arn=f"arn:{r.address}", source=None) for r in resources]


def edit(
    resources: Iterable[Resource], address: str, change: Callable[[dict[str, Any]], None]
) -> list[Resource]:
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


def without(resources: Iterable[Resource], *addresses: str) -> list[Resource]:
    gone = {parse(a) for a in addresses}
    return [r for r in resources if r.address not in gone]


def make_plan(
    want: list[Resource],
    have: list[Resource],
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
