"""Semantic checks of ``kind: Moved`` documents: each names a real move to an address the spec declares.

A Moved document says that what the stack managed at ``from`` now lives at ``to`` (Terraform's
``moved`` block). The planner carries the move out (``planner.moves``); these checks catch what
would make it mean nothing or something else: an address that does not parse, a move between two
kinds, a ``to`` the spec does not declare (a typo would move the resource out of the stack, to be
deleted), a ``from`` the spec still declares, two moves from one address, and moves in a circle.

``declared_addresses`` lists the addresses a stack declares, from the models alone (a test keeps
it equal to the planner's ``desired.resources``); it never raises on a stack that has other errors.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.errors import Diagnostic
from reconciler.planner.addresses import Address, Kind, parse
from reconciler.spec.checks.view import View, suggest, view
from reconciler.spec.models import MovedSpec
from reconciler.spec.stack import Stack

__all__ = ["check_moved", "declared_addresses"]


def declared_addresses(stack: Stack) -> set[Address]:
    """Every address the stack's documents declare (as ``planner.desired.resources`` makes them)."""
    out: set[Address] = set()
    for c in stack.collaborations:
        out.add(Address.of(Kind.COLLABORATION, c.key))
        for key, member in c.members.items():
            out.add(Address.of(Kind.MEMBER, c.key, key))
            if member.membership is not None:
                out.add(Address.of(Kind.MEMBERSHIP, c.key, key))
    for t in stack.configured_tables:
        out.add(Address.of(Kind.CONFIGURED_TABLE, t.owner, t.key))
        if t.analysisRule is not None:
            out.add(Address.of(Kind.ANALYSIS_RULE, t.owner, t.key))
        for a in t.associations:
            out.add(Address.of(Kind.ASSOCIATION, a.collaboration, t.owner, a.name))
            if a.analysisRule is not None and t.analysisRule is not None:
                out.add(Address.of(Kind.ASSOCIATION_RULE, a.collaboration, t.owner, a.name))
    for tpl in stack.analysis_templates:
        out.add(Address.of(Kind.ANALYSIS_TEMPLATE, tpl.collaboration, tpl.owner, tpl.name))
    for b in stack.privacy_budget_templates:
        out.add(Address.of(Kind.PRIVACY_BUDGET_TEMPLATE, b.collaboration, b.owner))
    for doc in stack.id_documents:  # IdNamespaceAssociation / IdMappingTable
        kind = (
            Kind.ID_MAPPING_TABLE
            if type(doc).__name__ == "IdMappingTableSpec"
            else Kind.ID_NAMESPACE_ASSOCIATION
        )
        out.add(Address.of(kind, doc.collaboration, doc.owner, doc.name))  # type: ignore[attr-defined]
    return out


def check_moved(stack: Stack) -> Iterator[Diagnostic]:
    """Each ``kind: Moved`` document moves one address of the stack to another it declares.

    Codes:
        moved-address (error): ``from`` or ``to`` is not an address (``kind.part.part``).
            Fix: write the address as `reconciler state list` or the plan prints it.
        moved-kind (error): ``from`` and ``to`` are of different kinds, or the same address.
            Fix: move a resource to an address of its own kind.
        moved-to-undeclared (error): ``to`` is an address the spec does not declare, so the resource would
            be moved out of the stack and deleted.
            Fix: correct ``to`` (a did-you-mean hint is given), or remove the Moved document.
        moved-from-declared (error): ``from`` is still declared by the spec, so two resources would claim it.
            Fix: rename the declaration (its ``key`` or name) to the ``to`` address, or remove the Moved
                document.
        moved-twice (error): two Moved documents move the same ``from``, or the moves form a circle.
            Fix: keep one move per old address, and chain renames one way (a -> b, b -> c).
    """
    v = view(stack)
    declared = declared_addresses(stack)
    parsed: list[tuple[MovedSpec, Address, Address]] = []
    for moved in stack.moved:
        ends: list[Address] = []
        for field, text in (("from", moved.from_), ("to", moved.to)):
            try:
                ends.append(parse(text))
            except ValueError as exc:
                yield v.diag(
                    "moved-address",
                    moved,
                    (field,),
                    f"{field}: {exc}",
                    hint="write the address as the plan or `reconciler state list` prints it",
                )
        if len(ends) != 2:
            continue
        old, new = ends
        if old.kind is not new.kind or old == new:
            what = "the same address" if old == new else f"a {old.kind} to a {new.kind}"
            yield v.diag(
                "moved-kind",
                moved,
                ("to",),
                f"cannot move {what}",
                hint="move a resource to an address of its kind",
            )
            continue
        if new not in declared:
            yield v.diag(
                "moved-to-undeclared",
                moved,
                ("to",),
                f"the spec does not declare {new}",
                detail="a resource moved there would leave the stack's spec, and the plan would delete it",
                hint=suggest(str(new), sorted(str(a) for a in declared if a.kind is new.kind))
                or f"give the address of a {new.kind} the spec declares (`reconciler plan` lists them)",
            )
        if old in declared:
            yield v.diag(
                "moved-from-declared",
                moved,
                ("from",),
                f"the spec still declares {old}",
                detail="a Moved document says the resource at `from` now lives at `to`; the old address must"
                " not be declared any more",
                hint="rename the declaration to the `to` address (its key or name), or remove this document",
            )
        parsed.append((moved, old, new))
    yield from _chains(v, parsed)


def _chains(v: View, parsed: list[tuple[MovedSpec, Address, Address]]) -> Iterator[Diagnostic]:
    """Two moves from one address, and moves that come back to where they started."""
    first: dict[Address, MovedSpec] = {}
    target: dict[Address, Address] = {}
    for moved, old, new in parsed:
        if old in first:
            yield v.diag(
                "moved-twice",
                moved,
                ("from",),
                f"{old} is moved twice",
                detail=f"first moved at {v.stack.locate(first[old], 'from')}",
                hint="keep one move per old address",
            )
            continue
        first[old] = moved
        target[old] = new
    reported: set[Address] = set()
    for start, moved in first.items():
        seen = [start]
        here = target[start]
        while here in target and here not in reported:
            if here == start:
                reported.update(seen)
                yield v.diag(
                    "moved-twice",
                    moved,
                    ("to",),
                    f"the moves {' -> '.join(str(a) for a in [*seen, start])} form a circle",
                    hint="a move goes one way: remove one of these documents",
                )
                break
            if here in seen:
                break  # a circle further on, reported from its own start
            seen.append(here)
            here = target[here]
