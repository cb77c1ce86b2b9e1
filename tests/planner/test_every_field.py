"""Every field of every resource type: a create-only change plans a replacement, an updatable one an
update through the right call. The fields come from the registry (itself derived from botocore), so a
new field or resource type is covered without editing this test. PLANNER-EXEC's apply half reuses
``field_cases`` to check that applying each plan makes the observed state match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.planner.addresses import NAME_PARTS, Address, Kind
from reconciler.planner.diff import CHANGE_REQUEST_ABILITIES
from reconciler.planner.model import Action
from reconciler.planner.normal_form import canonical
from reconciler.planner.registry import REGISTRY, descriptor, is_create_only
from reconciler.planner.resource import DesiredResource, ObservedResource

from .helpers import make_plan


@dataclass(frozen=True)
class FieldCase:
    """One field of one Kind, with an old and a new value for it."""

    kind: Kind
    path: str
    before: Any
    after: Any

    @property
    def id(self) -> str:
        return f"{self.kind.value}:{self.path}"


def _nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out  # type: ignore[no-any-return]


def _values(kind: Kind, path: str) -> tuple[Any, Any]:
    if path == "tags":
        return {"team": "a"}, {"team": "b"}
    if kind is Kind.MEMBER and path == "memberAbilities":
        return [], sorted(CHANGE_REQUEST_ABILITIES)
    if kind is Kind.MEMBER and path == "mlMemberAbilities":  # every ML ability changes by change request
        return {"customMLMemberAbilities": []}, {"customMLMemberAbilities": ["CAN_RECEIVE_MODEL_OUTPUT"]}
    return "old", "new"


def field_cases() -> list[FieldCase]:
    """Every create-only path and updatable field of every registered Kind."""
    cases = []
    for kind, d in REGISTRY.items():
        for path in (*d.create_only, *d.updatable):
            before, after = _values(kind, path)
            cases.append(FieldCase(kind, path, before, after))
    return cases


def address_of(kind: Kind) -> Address:
    return Address(kind, tuple(f"x{i}" for i, _ in enumerate(NAME_PARTS[kind])))


#: Fields a resource of the Kind always has (a member is named by its account).
BASE: dict[Kind, dict[str, Any]] = {Kind.MEMBER: {"accountId": "111122223333"}}


def resource(case: FieldCase, value: Any) -> DesiredResource:
    attrs = {**BASE.get(case.kind, {}), **_nest(case.path, value)}
    return DesiredResource(address_of(case.kind), canonical(case.kind, attrs), owner="o")


def observed(case: FieldCase, value: Any, **ids: Any) -> ObservedResource:
    attrs = {**BASE.get(case.kind, {}), **_nest(case.path, value)}
    return ObservedResource(address_of(case.kind), canonical(case.kind, attrs), owner="o", **ids)


CASES = field_cases()


def test_every_kind_has_cases() -> None:
    assert {c.kind for c in CASES} == set(Kind)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_field_change_plans_the_right_action(case: FieldCase) -> None:
    d = descriptor(case.kind)
    have = [observed(case, case.before, id="id-1", arn="arn-1")]
    want = [resource(case, case.after)]
    plan = make_plan(want, have)
    (change,) = plan.changes
    ops = [s.operation for s in plan.all_steps]
    if case.kind is Kind.MEMBER and case.path not in d.via_change_request:
        assert change.blocked, "a member of an existing collaboration cannot change this"
        assert ops == []
    elif is_create_only(case.kind, case.path):
        assert change.action.is_replace
        assert case.path in change.requires_replace
        assert (
            ops == [d.delete, d.create]
            if change.action is Action.DELETE_THEN_CREATE
            else [d.create, d.delete]
        )
    else:
        assert change.action is Action.UPDATE and not change.blocked
        if case.path == "tags":
            assert ops == ["TagResource"]
        elif case.path in d.via_change_request:
            assert ops == ["CreateCollaborationChangeRequest"]
        else:
            assert ops == [d.update]
            (step,) = plan.all_steps
            assert d.update_aliases.get(case.path, case.path) in step.params


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_change_in_any_field_plans_nothing(case: FieldCase) -> None:
    have = [observed(case, case.after, id="id-1")]
    assert make_plan([resource(case, case.after)], have).is_empty


#: Optional fields sent through Update* (not tags, not change requests): removing one from the spec.
OPTIONAL_UPDATABLE = [
    c for c in CASES if c.path in descriptor(c.kind).clearing or c.path in descriptor(c.kind).cannot_clear
]


def test_optional_updatable_fields_are_classified() -> None:
    """Every optional updatable field is either clearable in place or known not to be."""
    ids = {c.id for c in OPTIONAL_UPDATABLE}
    assert {"association:description", "collaboration:description", "membership:jobLogStatus"} <= ids
    for kind, d in REGISTRY.items():
        assert not set(d.clearing) & d.cannot_clear, kind


@pytest.mark.parametrize("case", OPTIONAL_UPDATABLE, ids=[c.id for c in OPTIONAL_UPDATABLE])
def test_removing_an_optional_field_clears_it_or_replaces(case: FieldCase) -> None:
    d = descriptor(case.kind)
    have = [observed(case, case.before, id="id-1", arn="arn-1")]
    want = [DesiredResource(address_of(case.kind), canonical(case.kind, BASE.get(case.kind, {})), owner="o")]
    plan = make_plan(want, have)
    (change,) = plan.changes
    if case.path in d.clearing:
        assert change.action is Action.UPDATE
        (step,) = plan.all_steps
        assert step.operation == d.update
        assert step.params[d.update_aliases.get(case.path, case.path)] == d.clearing[case.path]
        # what the service then reports (the clearing value) is the same as absent: no perpetual diff
        cleared = {**BASE.get(case.kind, {}), case.path: d.clearing[case.path]}
        assert canonical(case.kind, cleared) == want[0].attributes
    else:
        assert change.action.is_replace and case.path in change.requires_replace
        assert "cannot be removed in place" in change.reason
