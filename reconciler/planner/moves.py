"""Moves: what the stack managed at one address now lives at another (Terraform's ``moved`` blocks).

A ``Move(old, new)`` comes from a ``kind: Moved`` document (``desired.moves``) or from ``reconciler
state mv``. ``apply`` carries moves out on what a backend observed, before the diff: a resource
observed at ``old`` is taken as the one declared at ``new``, and so is what lives under it
(``UNDER``: a collaboration's members, memberships, associations, templates and budgets; a
member's membership and what it owns in that collaboration; a table's analysis rule; an
association's rule). References (Refs) in every observed resource follow, so the diff compares
like with like: a rename becomes an update in place, not a delete and a create.

Moves chain (``a -> b``, ``b -> c``: what was at ``a`` ends at ``c``). A move whose target is
already taken by another observed resource is not carried out: it is a conflict, which the plan
shows as blocked rather than guess which of the two the spec means.

This module only relabels values; it reads no spec file and calls no API.

>>> from reconciler.planner.addresses import parse
>>> m = Move(parse("collaboration.old"), parse("collaboration.new"))
>>> str(relocate(parse("association.old.retailer.purchases"), [m]))
'association.new.retailer.purchases'
>>> relocate(parse("configured_table.retailer.purchases"), [m]) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from reconciler.errors import SourceLocation
from reconciler.planner.addresses import NAME_PARTS, Address, Kind
from reconciler.planner.resource import DesiredResource, ObservedResource, Ref

__all__ = ["UNDER", "Move", "Moved", "apply", "relabel", "relocate", "under"]

#: Kinds whose addresses live under an address of another kind (moved, removed with it).
UNDER: Mapping[Kind, frozenset[Kind]] = {
    Kind.COLLABORATION: frozenset(
        {
            Kind.MEMBER,
            Kind.MEMBERSHIP,
            Kind.ASSOCIATION,
            Kind.ASSOCIATION_RULE,
            Kind.ANALYSIS_TEMPLATE,
            Kind.PRIVACY_BUDGET_TEMPLATE,
        }
    ),
    Kind.MEMBER: frozenset(
        {
            Kind.MEMBERSHIP,
            Kind.ASSOCIATION,
            Kind.ASSOCIATION_RULE,
            Kind.ANALYSIS_TEMPLATE,
            Kind.PRIVACY_BUDGET_TEMPLATE,
        }
    ),
    Kind.MEMBERSHIP: frozenset(
        {Kind.ASSOCIATION, Kind.ASSOCIATION_RULE, Kind.ANALYSIS_TEMPLATE, Kind.PRIVACY_BUDGET_TEMPLATE}
    ),
    Kind.CONFIGURED_TABLE: frozenset({Kind.ANALYSIS_RULE}),
    Kind.ASSOCIATION: frozenset({Kind.ASSOCIATION_RULE}),
}

R = TypeVar("R", DesiredResource, ObservedResource)


@dataclass(frozen=True)
class Move:
    """One address change: what was managed at ``old`` is now declared at ``new`` (same kind).

    Args:
        old: the address the backend may still hold the resource under.
        new: the address the spec declares it at.
        source: where the spec says so (the Moved document), for messages.
    """

    old: Address
    new: Address
    source: SourceLocation | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.old} -> {self.new}"


def _meaning_in(child: Kind, meaning: str) -> str | None:
    """The name part of ``child`` that carries a parent's ``meaning`` (a member is its things' owner)."""
    names = NAME_PARTS[child]
    if meaning in names:
        return meaning
    if meaning == "member" and "owner" in names:
        return "owner"
    return None


def under(address: Address, root: Address) -> bool:
    """Whether ``address`` lives under ``root`` (``UNDER``), or is ``root`` itself."""
    if address == root:
        return True
    if address.kind not in UNDER.get(root.kind, frozenset()):
        return False
    for meaning in NAME_PARTS[root.kind]:
        part = _meaning_in(address.kind, meaning)
        if part is None or address.part(part) != root.part(meaning):
            return False
    return True


def relabel(address: Address, move: Move) -> Address | None:
    """``address`` after ``move`` when it is the moved address or lives under it, else None."""
    if not under(address, move.old):
        return None
    if address == move.old:
        return move.new
    parts = dict(zip(NAME_PARTS[address.kind], address.parts, strict=True))
    for meaning in NAME_PARTS[move.old.kind]:
        part = _meaning_in(address.kind, meaning)
        assert part is not None  # ``under`` checked it
        parts[part] = move.new.part(meaning)
    return Address(address.kind, tuple(parts[m] for m in NAME_PARTS[address.kind]))


def relocate(address: Address, moves: Sequence[Move]) -> Address | None:
    """Where ``address`` ends after every move that applies to it (chains followed), or None.

    Args:
        address: an observed address.
        moves: the stack's moves (validated: no circles, one move per old address).

    Returns:
        The final address, or None when no move applies.
    """
    current, moved = address, False
    for _ in range(len(moves) + 1):
        step = next((new for m in moves if (new := relabel(current, m)) is not None), None)
        if step is None or step == current:
            break
        current, moved = step, True
    return current if moved else None


@dataclass(frozen=True)
class Moved:
    """What ``apply`` did.

    Args:
        resources: the observed resources at their new addresses (References followed).
        origins: new address -> the address the backend holds it under.
        conflicts: old address -> the taken address it could not move to.
    """

    resources: tuple[ObservedResource | DesiredResource, ...]
    origins: Mapping[Address, Address]
    conflicts: Mapping[Address, Address]


def apply(observed: Iterable[R], moves: Sequence[Move]) -> Moved:
    """Carry ``moves`` out on observed resources (before they are diffed against the spec).

    Args:
        observed: what a backend read (or a review's base revision).
        moves: the spec's moves.

    Returns:
        The relabelled resources, where each came from, and the moves that could not happen.
    """
    resources = list(observed)
    if not moves:
        return Moved(tuple(resources), {}, {})
    here = {r.address for r in resources}
    wanted = {r.address: relocate(r.address, moves) for r in resources}
    targets: dict[Address, list[Address]] = {}
    for old, new in wanted.items():
        if new is not None:
            targets.setdefault(new, []).append(old)
    mapping: dict[Address, Address] = {}
    conflicts: dict[Address, Address] = {}
    for new, olds in targets.items():
        staying = new in here and wanted.get(new) is None
        if staying or len(olds) > 1:
            conflicts.update(dict.fromkeys(olds, new))
        else:
            mapping[olds[0]] = new
    out = [_moved(r, mapping) for r in resources]
    return Moved(tuple(out), {new: old for old, new in mapping.items()}, conflicts)


def _moved(resource: Any, mapping: Mapping[Address, Address]) -> Any:
    """The resource at its new address, Refs (and a desired one's ``depends_on``) followed."""
    address = mapping.get(resource.address, resource.address)
    attributes = _follow(resource.attributes, mapping)
    unchanged = address == resource.address and attributes == resource.attributes
    if isinstance(resource, DesiredResource):
        depends_on = tuple(mapping.get(a, a) for a in resource.depends_on)
        if unchanged and depends_on == resource.depends_on:
            return resource
        return replace(resource, address=address, attributes=attributes, depends_on=depends_on)
    return resource if unchanged else replace(resource, address=address, attributes=attributes)


def _follow(value: Any, mapping: Mapping[Address, Address]) -> Any:
    """Refs to moved addresses, pointed at their new addresses."""
    if isinstance(value, Ref):
        target = mapping.get(value.address)
        return value if target is None else Ref(target, value.field)
    if isinstance(value, Mapping):
        return {k: _follow(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_follow(v, mapping) for v in value]
    return value
