"""Adoption by tags checks parents: a tag is a claim, the resource's parent identifiers must back it.

A fake AWS account answers the read (order-independent, by operation), so a case AWS can produce
and the emulator does not (a membership still ACTIVE in a deleted collaboration, a tag copied to
another resource) can be set up exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from execution_helpers import EmptyLists

from reconciler.execution.backend import Boto3Backend
from reconciler.execution.clients import Account
from reconciler.execution.state import ADDRESS_TAG, STACK_TAG
from reconciler.planner.addresses import Address, Kind

RETAILER = Account("retailer", "123456789012")
OLD, NEW = "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111"
ARN = "arn:aws:cleanrooms:us-east-1:123456789012"


def _collaboration(cid: str) -> dict[str, Any]:
    return {
        "id": cid,
        "arn": f"{ARN}:collaboration/{cid}",
        "name": "retail",
        "creatorAccountId": RETAILER.account_id,
        "memberStatus": "ACTIVE",
        "queryLogStatus": "ENABLED",
    }


def _membership(mid: str, cid: str) -> dict[str, Any]:
    return {
        "id": mid,
        "arn": f"{ARN}:membership/{mid}",
        "collaborationId": cid,
        "status": "ACTIVE",
        "queryLogStatus": "ENABLED",
    }


def _association(aid: str, mid: str) -> dict[str, Any]:
    return {
        "id": aid,
        "arn": f"{ARN}:configuredtableassociation/{mid}/{aid}",
        "membershipId": mid,
        "name": "purchases",
        "configuredTableId": "t",
        "roleArn": "arn:aws:iam::123456789012:role/R",
    }


class FakeAccount:
    """One account's Clean Rooms, answering the calls a read makes (any order)."""

    def __init__(self, memberships: list[dict[str, Any]], associations: dict[str, list[dict[str, Any]]]):
        self.collaboration = _collaboration(NEW)
        self.memberships = memberships
        self.associations = associations
        self.tags = {
            self.collaboration["arn"]: {STACK_TAG: "demo", ADDRESS_TAG: "collaboration.retail"},
            **{m["arn"]: {STACK_TAG: "demo", ADDRESS_TAG: "membership.retail.retailer"} for m in memberships},
            **{
                a["arn"]: {STACK_TAG: "demo", ADDRESS_TAG: "association.retail.retailer.purchases"}
                for listed in associations.values()
                for a in listed
            },
        }

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        answers: dict[str, Callable[..., dict[str, Any]]] = {
            "list_collaborations": lambda **kw: {"collaborationList": [self.collaboration]},
            "get_collaboration": lambda **kw: {"collaboration": self.collaboration},
            "list_members": lambda **kw: {"memberSummaries": []},
            "list_memberships": lambda **kw: {"membershipSummaries": self.memberships},
            "get_membership": lambda membershipIdentifier, **kw: {
                "membership": next(m for m in self.memberships if m["id"] == membershipIdentifier)
            },
            "list_configured_tables": lambda **kw: {"configuredTableSummaries": []},
            "list_configured_table_associations": lambda membershipIdentifier, **kw: {
                "configuredTableAssociationSummaries": self.associations.get(membershipIdentifier, [])
            },
            "get_configured_table_association": lambda configuredTableAssociationIdentifier, **kw: {
                "configuredTableAssociation": next(
                    a
                    for listed in self.associations.values()
                    for a in listed
                    if a["id"] == configuredTableAssociationIdentifier
                )
            },
            "list_analysis_templates": lambda **kw: {"analysisTemplateSummaries": []},
            "list_privacy_budget_templates": lambda **kw: {"privacyBudgetTemplateSummaries": []},
            "list_tags_for_resource": lambda resourceArn: {"tags": self.tags.get(resourceArn, {})},
        }
        if name not in answers:
            return getattr(EmptyLists("cleanrooms"), name)  # other Lists find nothing
        return answers[name]


class FakeClients:
    name = "aws"

    def __init__(self, account: FakeAccount) -> None:
        self.account = account

    def client(self, account: Account, service: str = "cleanrooms") -> Any:
        return EmptyLists("cleanroomsml") if service == "cleanroomsml" else self.account

    def act_as(self, account_id: str, *, member: str, region: str) -> None:
        return None

    def close(self) -> None:
        pass


MEMBERSHIP = Address.of(Kind.MEMBERSHIP, "retail", "retailer")
ASSOCIATION = Address.of(Kind.ASSOCIATION, "retail", "retailer", "purchases")


def _read(account: FakeAccount) -> tuple[Any, list[str]]:
    backend = Boto3Backend(FakeClients(account), [RETAILER], parallelism=1)
    state = backend.read("demo")
    return state, backend.problems


def test_a_membership_of_a_deleted_collaboration_is_never_adopted() -> None:
    """After destroy and apply, a membership still pointing at the old collaboration is not the new one's."""
    stale = _membership("m-old", OLD)
    state, problems = _read(FakeAccount([stale], {"m-old": [_association("a-old", "m-old")]}))
    assert state.get(MEMBERSHIP) is None
    assert state.get(ASSOCIATION) is None  # nothing under a parent that was not identified
    assert any("m-old" in p and OLD in p and "not taken as the stack's" in p for p in problems)


def test_of_two_resources_claiming_one_address_the_one_under_the_right_parent_is_taken() -> None:
    stale, real = _membership("m-old", OLD), _membership("m-new", NEW)
    account = FakeAccount(
        [stale, real], {"m-old": [_association("a-old", "m-old")], "m-new": [_association("a-new", "m-new")]}
    )
    state, problems = _read(account)
    membership, association = state.get(MEMBERSHIP), state.get(ASSOCIATION)
    assert membership is not None and membership.id == "m-new"
    assert association is not None and association.id == "a-new"
    assert not any("two resources carry" in p for p in problems)
