"""Every Create*/Update* input member of cleanrooms and cleanroomsml is expressible, or out of scope.

The list of members is derived from botocore's service models at test time. A member is
expressible when the spec can set it:

- a field of the spec model that ``spec.limits.API_SHAPES`` maps to that operation's input shape
  (after renames; a field mapped to a nested shape covers the member of that shape), or a member
  whose shape is itself the API shape of a spec model (``members`` -> ``MemberSpecification``);
- an identifier or reference the planner fills for the resource type whose operation it is
  (``membershipIdentifier``, ``configuredTableIdentifier``...);
- a request field that the planner's desired resources carry for some document of the example
  stacks (``reconciler/examples``, and the PySpark test stack): what the spec really produces
  (``creatorMemberAbilities`` from the creator's ``members`` entry, ``analysisRulePolicy`` from a
  table's ``analysisRule``);
- for an Update* operation: a member that the same resource's Create* takes and the spec sets.

Anything else must be in the README's table "API members the spec does not express", with a
reason; an entry there that the spec can express, or that the model does not have, is stale.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from pathlib import Path

import pytest

from reconciler.aws_model import service_model
from reconciler.planner import desired
from reconciler.planner.registry import REGISTRY
from reconciler.spec import load_stack
from reconciler.spec.limits import API_SHAPES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
STACKS = [
    *sorted(p for p in (ROOT / "reconciler" / "examples").iterdir() if any(p.glob("*.yaml"))),
    ROOT / "tests" / "e2e" / "pyspark_stack",
]
SERVICES = ("cleanrooms", "cleanroomsml")
_ROW = re.compile(r"^\| `(?P<service>[a-z]+)` \| `(?P<op>\w+)` \| `(?P<member>[\w*]+)` \| (?P<reason>.+) \|$")


def _operations(service: str) -> list[str]:
    return [o for o in service_model(service).operation_names if o.startswith(("Create", "Update"))]


@functools.cache
def _expressible(service: str) -> dict[str, set[str]]:
    model = service_model(service)
    by_shape: dict[str, list[str]] = defaultdict(list)
    for op in _operations(service):
        by_shape[model.operation_model(op).input_shape.name].append(op)
    spec_shapes = {e.shape.split(".")[0] for e in API_SHAPES.values() if e.shape and e.service == service}
    covered: dict[str, set[str]] = defaultdict(set)
    for spec_model, entry in API_SHAPES.items():
        if not entry.shape or entry.service != service or entry.shape not in by_shape:
            continue
        for op in by_shape[entry.shape]:
            members = model.operation_model(op).input_shape.members
            for name in spec_model.model_fields:
                if name in entry.local:
                    continue
                if name in entry.fields:
                    target = entry.fields[name].split(".")[0]
                    covered[op] |= {m for m, s in members.items() if s.name == target}
                else:
                    covered[op].add(entry.renames.get(name, name))
    for op in _operations(service):
        for name, shape in model.operation_model(op).input_shape.members.items():
            inner = shape.member if shape.type_name == "list" else shape
            if inner.name in spec_shapes:
                covered[op].add(name)
    for resource in _desired():
        d = REGISTRY[resource.address.kind]
        if d.service == service and d.create:
            covered[d.create] |= set(resource.attributes)
    for d in REGISTRY.values():
        if d.service != service:
            continue
        filled = {*d.identifiers, *(path.split(".")[0] for path in d.references)}
        for op in (d.create, d.update):
            if op:
                covered[op] |= filled
        if d.create and d.update:
            aliases = {d.update_aliases.get(f, f) for f in covered[d.create]}
            update_members = model.operation_model(d.update).input_shape.members
            covered[d.update] |= {m for m in update_members if m in aliases}
    return covered


@functools.cache
def _desired() -> tuple[desired.DesiredResource, ...]:
    return tuple(r for stack in STACKS for r in desired.resources(load_stack(stack)))


def _out_of_scope() -> dict[tuple[str, str, str], str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("### API members the spec does not express")
    rows = {}
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        found = _ROW.match(line)
        if found:
            rows[(found["service"], found["op"], found["member"])] = found["reason"].strip()
    return rows


@pytest.mark.parametrize("service", SERVICES)
def test_every_create_and_update_member_is_expressible_or_out_of_scope(service: str) -> None:
    covered = _expressible(service)
    listed = _out_of_scope()
    missing = []
    for op in _operations(service):
        if (service, op, "*") in listed:
            continue
        for member in service_model(service).operation_model(op).input_shape.members:
            if member not in covered[op] and (service, op, member) not in listed:
                missing.append(f"{op}.{member}")
    assert missing == [], (
        "members neither expressible in the spec nor listed in the README's out-of-scope table: "
        + ", ".join(missing)
    )


def test_out_of_scope_entries_are_real_members_with_reasons_and_not_expressible() -> None:
    listed = _out_of_scope()
    assert listed, "the README's out-of-scope table is empty or missing"
    stale = []
    for (service, op, member), reason in listed.items():
        assert len(reason) > 10, f"{op}.{member}: give a reason"
        inputs = service_model(service).operation_model(op).input_shape.members
        if member != "*" and (member not in inputs or member in _expressible(service)[op]):
            stale.append(f"{op}.{member}")
    assert stale == [], "out-of-scope entries that the spec expresses or the model lacks: " + ", ".join(stale)
