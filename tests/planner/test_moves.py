"""Moves (``kind: Moved``): relabelling what the backend holds before the diff, and what cannot move."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.planner import build, desired, moves
from reconciler.planner.addresses import parse
from reconciler.planner.model import Action
from reconciler.planner.moves import Move
from reconciler.planner.resource import DesiredResource, Ref
from reconciler.spec import load_stack
from reconciler.spec.checks.moves import declared_addresses

from .helpers import observe

C = "retail-ad-campaign-analysis"


@pytest.mark.parametrize("name", ["retail-adtech", "retail-adtech-classic", "org-a-org-b", "amc-multiparty"])
def test_the_checks_know_every_address_the_planner_declares(name: str) -> None:
    stack = load_stack(f"specs/{name}")
    assert declared_addresses(stack) == {r.address for r in desired.resources(stack)}


def _relabelled(resources: list[DesiredResource], old: str, new: str) -> list[DesiredResource]:
    """The spec after renaming the key ``old`` to ``new`` everywhere (addresses and Refs)."""
    move = Move(parse(f"collaboration.{old}"), parse(f"collaboration.{new}"))
    return list(moves.apply(resources, [move]).resources)  # type: ignore[arg-type]


def test_a_moved_collaboration_takes_its_children_and_refs_along(retail: list[DesiredResource]) -> None:
    want = _relabelled(retail, C, "retail")
    assert {r.address.collaboration for r in want if r.address.collaboration} == {"retail"}
    association = next(r for r in want if str(r.address) == "association.retail.retailer.purchases")
    assert association.attributes["membershipIdentifier"] == Ref(parse("membership.retail.retailer"))
    have = observe(retail)
    plan = build.from_resources(
        want,
        have,
        stack="s",
        backend="local",
        moves=[Move(parse(f"collaboration.{C}"), parse("collaboration.retail"))],
    )
    assert {c.action for c in plan.changes} == {Action.UPDATE}
    assert {s.operation for s in plan.all_steps} == {"TagResource"}
    moved = {str(c.address): str(c.moved_from) for c in plan.changes}
    assert moved["membership.retail.adtech"] == f"membership.{C}.adtech"
    # untaggable children (members, rules) follow without a call of their own
    assert not any(
        s.address.kind.value in ("member", "analysis_rule", "association_rule") for s in plan.all_steps
    )


def test_a_move_onto_an_address_the_backend_already_holds_is_blocked(retail: list[DesiredResource]) -> None:
    have = observe(retail)
    table = next(r for r in have if str(r.address) == "configured_table.retailer.purchases")
    other = replace(table, address=parse("configured_table.retailer.sales"), id="id-other", arn="arn:other")
    want = [
        replace(r, address=parse("configured_table.retailer.sales"))
        if str(r.address) == "configured_table.retailer.purchases"
        else r
        for r in retail
    ]
    move = Move(parse("configured_table.retailer.purchases"), parse("configured_table.retailer.sales"))
    plan = build.from_resources(want, [*have, other], stack="s", backend="local", moves=[move])
    (blocked,) = plan.blocked
    assert str(blocked.address) == "configured_table.retailer.purchases"
    assert "already holds a resource at configured_table.retailer.sales" in blocked.blocked


def test_moves_chain_and_do_nothing_once_nothing_is_at_the_old_address() -> None:
    a, b, c = (parse(f"configured_table.o.{n}") for n in "abc")
    chain = [Move(a, b), Move(b, c)]
    assert moves.relocate(a, chain) == c
    assert moves.relocate(parse("analysis_rule.o.a"), chain) == parse("analysis_rule.o.c")
    assert moves.relocate(c, chain) is None
