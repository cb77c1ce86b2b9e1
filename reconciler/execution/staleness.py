"""Staleness: is a saved plan still the plan that the spec and the live state call for, and if not, why?

A saved plan records fingerprints of the spec and of the observed State it was made from. Before
applying, the caller re-reads the State and builds the plan afresh (same builder, same inputs if
nothing moved); ``reasons`` compares the two and names each difference:

- the spec changed: the addresses whose planned change the spec no longer asks for (or newly asks for);
- the live state changed: the addresses that appeared, vanished, or have other field values;
- neither changed, yet the saved steps or changes differ from the fresh ones: the plan file
  itself was edited or damaged after it was written (a truncated step list, a changed
  parameter), so it is refused instead of being half carried out.

Both plans are compared in their JSON form (``planfile.to_json``), which is what a plan file holds.
This module reads plans only; it makes no API call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.execution.state import State
from reconciler.planner import build, diff, planfile
from reconciler.planner.addresses import parse
from reconciler.planner.model import Plan
from reconciler.planner.moves import Move
from reconciler.planner.resource import DesiredResource

__all__ = ["fresh_plan", "reasons"]


def fresh_plan(
    want: Sequence[DesiredResource],
    state: State,
    *,
    stack: str,
    backend: str,
    moves: Sequence[Move] = (),
) -> Plan:
    """The plan that ``want`` and ``state`` call for now (as ``workflow.make_plan`` builds it).

    Args:
        want: the desired resources (empty for destroy).
        state: the State observed now.
        stack: the stack name.
        backend: the backend name.
        moves: the spec's moves, carried out as the saved plan's were.

    Returns:
        The Plan, with fingerprints of ``want`` and ``state``.
    """
    return build.from_resources(
        want, list(state.resources.values()), stack=stack, backend=backend, moves=moves
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


#: Change fields that say where the spec declares a resource, not what to do: a stack moved
#: (``apply PLAN --stack NEWPATH``) changes them and nothing else.
LOCATION_FIELDS = frozenset({"source"})


def _changes(plan: Plan) -> dict[str, dict[str, Any]]:
    """Address -> the change's JSON without its location fields (``LOCATION_FIELDS``)."""
    return {
        str(c["address"]): {k: v for k, v in c.items() if k not in LOCATION_FIELDS}
        for c in planfile.to_json(plan)["changes"]
    }


def _what(change: Mapping[str, Any] | None) -> str:
    if change is None:
        return "no change"
    paths = [str(d.get("path")) for d in change.get("field_diffs") or [] if isinstance(d, Mapping)]
    detail = f" ({', '.join(paths[:5])}{', ...' if len(paths) > 5 else ''})" if paths else ""
    return f"{change.get('action')}{detail}"


def _differences(saved: Mapping[str, Any], fresh: Mapping[str, Any], addresses: Iterable[str]) -> list[str]:
    lines = []
    for address in sorted(addresses):
        old, new = saved.get(address), fresh.get(address)
        if old is not None and new is not None and _canonical(old) == _canonical(new):
            continue
        if old is not None and new is not None and old.get("action") == new.get("action") == "no-op":
            continue
        lines.append(f"{address}: the plan has {_what(old)}, now it needs {_what(new)}")
    return lines


def _state_lines(saved: Plan, state: State) -> list[str]:
    """What moved in the live state under the plan's changes."""
    lines = []
    for change in saved.changes:
        now = state.get(change.address)
        if change.before is None and now is not None:
            lines.append(f"{change.address} now exists")
        elif change.before is not None and now is None:
            lines.append(f"{change.address} was deleted")
        elif change.before is not None and now is not None:
            moved = diff.field_diffs(change.before, now.attributes)
            if moved:
                lines.append(f"{change.address} changed ({', '.join(d.path for d in moved)})")
    return lines


def reasons(saved: Plan, fresh: Plan, state: State) -> list[str]:
    """Why ``saved`` may not be applied now; empty when it is exactly what ``fresh`` would do.

    Args:
        saved: the plan read from a file (possibly ``--as``-filtered).
        fresh: the plan built now from the spec and the State just read (``fresh_plan``).
        state: that State.

    Returns:
        Sentences naming what changed, spec first, then live state, then the file itself.
    """
    out: list[str] = []
    saved_changes, fresh_changes = _changes(saved), _changes(fresh)
    scope = set(saved_changes) | {a for a, c in fresh_changes.items() if c.get("action") != "no-op"}
    if saved.spec_fingerprint != fresh.spec_fingerprint:
        lines = (
            _differences(saved_changes, fresh_changes, scope)
            if saved.state_fingerprint == fresh.state_fingerprint
            else []
        )
        out.append("the spec changed after the plan was made" + (": " + "; ".join(lines) if lines else ""))
    if saved.state_fingerprint != fresh.state_fingerprint:
        lines = _state_lines(saved, state) or _differences(saved_changes, fresh_changes, scope)
        out.append(
            "the live state changed after the plan was made" + (": " + "; ".join(lines) if lines else "")
        )
    if out:
        return out
    altered = _altered(saved, fresh, saved_changes, fresh_changes)
    if altered:
        shown = ", ".join(altered[:5]) + (f" and {len(altered) - 5} more" if len(altered) > 5 else "")
        out.append(
            f"the plan file was changed after it was made (it no longer matches its fingerprints: {shown})"
        )
    return out


def _altered(
    saved: Plan, fresh: Plan, saved_changes: Mapping[str, Any], fresh_changes: Mapping[str, Any]
) -> list[str]:
    """Steps and changes of ``saved`` that differ from the fresh plan's (same fingerprints).

    A plan made with ``--as MEMBER`` or ``--target`` records them, and is compared with the fresh
    plan restricted the same way.
    """
    expected = fresh
    if saved.as_member is not None:
        expected = expected.for_member(saved.as_member)
    if saved.targets:
        expected = expected.for_targets(tuple(parse(t) for t in saved.targets))
    if expected is not fresh:
        fresh_changes = _changes(expected)
    out = [
        a
        for a in sorted(set(saved_changes) | set(fresh_changes))
        if _canonical(saved_changes.get(a)) != _canonical(fresh_changes.get(a))
    ]
    saved_groups, expected_groups = planfile.to_json(saved)["steps"], planfile.to_json(expected)["steps"]
    if _canonical(saved_groups) != _canonical(expected_groups):
        ids = {
            str(s["id"]): (i, _canonical(s))
            for i, g in enumerate(saved_groups)
            for s in g
            if isinstance(s, dict)
        }
        want = {str(s["id"]): (i, _canonical(s)) for i, g in enumerate(expected_groups) for s in g}
        differing = sorted(i for i in set(ids) | set(want) if ids.get(i) != want.get(i))
        out += [f"step {i!r}" for i in differing] or ["the order of its steps"]
    return out
