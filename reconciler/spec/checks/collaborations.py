"""Semantic checks of collaborations and their members: who is in, who may do what, who pays."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.spec.checks.view import (
    PAYMENTS,
    WARNING,
    View,
    quoted_names,
    suggest,
    view,
)
from reconciler.spec.models import (
    CollaborationSpec,
    MemberSpec,
)
from reconciler.spec.stack import Stack

__all__ = [
    "check_creator_is_member",
    "check_member_accounts",
    "check_query_abilities",
    "check_payment",
    "check_membership_payment",
    "check_analytics_engine",
    "check_result_configuration",
    "check_role_accounts",
]

_ROLE_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/")


def check_creator_is_member(stack: Stack) -> Iterator[Diagnostic]:
    """The collaboration's creator must be one of its members, and keep its membership.

    Codes:
        creator-not-member (error): ``creator`` is not a key of ``members``.
            Fix: set ``creator`` to the member key of the account that creates the collaboration.
        creator-cannot-leave (error): the creator of a collaboration the stack creates has no ``membership``;
            the creator can never leave its own collaboration (AWS refuses its DeleteMembership), so its
            membership lives and ends with the collaboration.
            Fix: keep the creator's ``membership``; to end the collaboration for everyone, remove the
                Collaboration document (and what uses it) instead.
    """
    v = view(stack)
    for c in v.collaborations:
        if c.creator not in c.members:
            yield v.diag(
                "creator-not-member",
                c,
                ("creator",),
                f'creator "{c.creator}" is not a member of collaboration "{c.name}"',
                detail=f"members are {quoted_names(c.members)}",
                hint=suggest(c.creator, c.members) or "add the creator to members",
            )
        elif not c.existing and c.members[c.creator].membership is None:
            yield v.diag(
                "creator-cannot-leave",
                c,
                ("members", c.creator),
                f'the creator "{c.creator}" of collaboration "{c.name}" has no membership',
                detail="the creator cannot leave its own collaboration: AWS refuses DeleteMembership for the"
                " creator, whose membership ends only with the collaboration",
                hint="keep the creator's `membership:`; to end the collaboration, remove the Collaboration"
                " document instead",
            )


def check_member_accounts(stack: Stack) -> Iterator[Diagnostic]:
    """One account per member key, one member key per account.

    Codes:
        duplicate-member-account (error): two members of a collaboration share an account ID.
            Fix: give each member its own account, or merge the two entries.
        member-account-mismatch (error): one member key names different accounts in two collaborations.
            Fix: use one key per account across the stack.
    """
    v = view(stack)
    first_account: dict[str, tuple[str, str]] = {}
    for c in v.collaborations:
        seen: dict[str, str] = {}
        for key, member in c.members.items():
            if member.accountId in seen:
                yield v.diag(
                    "duplicate-member-account",
                    c,
                    ("members", key, "accountId"),
                    f'members "{seen[member.accountId]}" and "{key}" of collaboration "{c.name}" '
                    f"have the same account {member.accountId}",
                    hint="an account can be a member only once; merge the two entries",
                )
            seen.setdefault(member.accountId, key)
            known = first_account.setdefault(key, (member.accountId, c.name))
            if known[0] != member.accountId:
                yield v.diag(
                    "member-account-mismatch",
                    c,
                    ("members", key, "accountId"),
                    f'member "{key}" is account {member.accountId} here but {known[0]} in collaboration '
                    f'"{known[1]}"',
                    detail="a member key names one account across the whole stack",
                    hint="use a different key for the other account",
                )


def check_query_abilities(stack: Stack) -> Iterator[Diagnostic]:
    """Exactly one member of a collaboration can query.

    Codes:
        several-queriers (error): more than one member has CAN_QUERY; AWS allows only one, and the choice is
            permanent.
            Fix: keep CAN_QUERY on one member; give the others CAN_RECEIVE_RESULTS if they need results.
        no-querier (warning): no member has CAN_QUERY (nor CAN_RUN_JOB), so nothing can ever run.
            Fix: give CAN_QUERY to the member who will run analyses.
    """
    v = view(stack)
    for c in v.collaborations:
        queriers = [k for k, m in c.members.items() if "CAN_QUERY" in m.abilities]
        for extra in queriers[1:]:
            idx = c.members[extra].abilities.index("CAN_QUERY")
            yield v.diag(
                "several-queriers",
                c,
                ("members", extra, "abilities", idx),
                f'members "{queriers[0]}" and "{extra}" both have CAN_QUERY in collaboration "{c.name}"',
                detail="only one member of a collaboration can query, and that choice cannot be changed "
                "later",
                hint=f'remove CAN_QUERY from "{extra}"',
            )
        runs_jobs = any("CAN_RUN_JOB" in m.abilities for m in c.members.values())
        if not queriers and not runs_jobs and c.members:
            yield v.diag(
                "no-querier",
                c,
                ("members",),
                f'no member of collaboration "{c.name}" can query',
                severity=WARNING,
                detail="without a member who has CAN_QUERY (or CAN_RUN_JOB) no analysis can ever run",
                hint="give CAN_QUERY to the member who runs analyses",
            )


def _responsible(member: MemberSpec, path: tuple[str, ...]) -> bool | None:
    config: Any = member.paymentConfiguration
    for part in path:
        config = getattr(config, part, None) if config is not None else None
    return None if config is None else bool(config.isResponsible)


def _effective_payers(c: CollaborationSpec, path: tuple[str, ...], ability: str) -> dict[str, bool]:
    """Who pays, per member, once AWS's default (the member who can query or run jobs) is applied."""
    explicit = {k: _responsible(m, path) for k, m in c.members.items()}
    anyone = any(explicit.values())
    return {
        k: bool(explicit[k]) if anyone else (explicit[k] is None and ability in c.members[k].abilities)
        for k in c.members
    }


def check_payment(stack: Stack) -> Iterator[Diagnostic]:
    """Someone pays for each kind of compute, and the creator's choice is what memberships accept.

    Codes:
        payment-nobody-pays (error): the member who can query (or run jobs) is set not to pay, and no other
            member pays.
            Fix: set ``isResponsible: true`` on the member who should pay.
        payment-several-payers (warning): more than one member is responsible for the same costs; the API
            calls them payer candidates, older API versions refused it.
            Fix: keep ``isResponsible: true`` on one member unless several payer candidates are intended.
    """
    v = view(stack)
    for c in v.collaborations:
        for path, words, ability in PAYMENTS:
            explicit = {k: _responsible(m, path) for k, m in c.members.items()}
            payers = [k for k, value in explicit.items() if value]
            runners = [k for k, m in c.members.items() if ability in m.abilities]
            field = ("members", "{key}", "paymentConfiguration", *path, "isResponsible")
            for runner in runners:
                if explicit[runner] is False and not payers:
                    yield v.diag(
                        "payment-nobody-pays",
                        c,
                        tuple(runner if p == "{key}" else p for p in field),
                        f'nobody pays for {words} in collaboration "{c.name}": "{runner}" is set not to, '
                        "and no other member is",
                        detail=f"AWS refuses a collaboration whose member with {ability} is not "
                        "responsible while nobody else is",
                        hint=f'set isResponsible: true on "{runner}" or on the member who should pay',
                    )
            for extra in payers[1:]:
                yield v.diag(
                    "payment-several-payers",
                    c,
                    tuple(extra if p == "{key}" else p for p in field),
                    f'"{payers[0]}" and "{extra}" are both responsible for {words} in collaboration '
                    f'"{c.name}"',
                    severity=WARNING,
                    detail="the current API treats them as payer candidates; earlier API versions allowed "
                    "one payer only",
                    hint="keep isResponsible: true on one member unless several payer candidates are "
                    "intended",
                )


def check_membership_payment(stack: Stack) -> Iterator[Diagnostic]:
    """A membership accepts exactly the payment responsibilities the creator set for its member.

    Codes:
        membership-payment-mismatch (error): the membership's ``paymentConfiguration`` differs from what the
            creator set (AWS refuses CreateMembership).
            Fix: make the membership's value match the member's ``paymentConfiguration``.
        membership-payment-missing (error): a member who cannot query is set to pay, but its membership does
            not accept it.
            Fix: add ``paymentConfiguration`` with ``isResponsible: true`` to the membership.
    """
    v = view(stack)
    for c in v.collaborations:
        for path, words, ability in PAYMENTS:
            payers = _effective_payers(c, path, ability)
            for key, member in c.members.items():
                membership = member.membership
                if membership is None:
                    continue
                accepted: Any = membership.paymentConfiguration
                for part in path:
                    accepted = getattr(accepted, part, None) if accepted is not None else None
                where = ("members", key, "membership", "paymentConfiguration", *path, "isResponsible")
                if accepted is not None and bool(accepted.isResponsible) != payers[key]:
                    set_to = "responsible" if payers[key] else "not responsible"
                    yield v.diag(
                        "membership-payment-mismatch",
                        c,
                        where,
                        f'membership of "{key}" says isResponsible: {str(accepted.isResponsible).lower()} '
                        f"for {words}, "
                        f"but the creator set it {set_to}",
                        detail="AWS refuses a membership whose accepted payment differs from the creator's "
                        "setting",
                        hint=f"set it to {str(payers[key]).lower()}",
                    )
                elif (
                    accepted is None
                    and path == ("queryCompute",)
                    and payers[key]
                    and "CAN_QUERY" not in member.abilities
                ):
                    yield v.diag(
                        "membership-payment-missing",
                        c,
                        ("members", key, "membership"),
                        f'membership of "{key}" does not accept paying for query compute, which the '
                        "creator assigned to it",
                        detail="a member who cannot query but is set to pay must accept it when it joins",
                        hint="add paymentConfiguration: {queryCompute: {isResponsible: true}} to the "
                        "membership",
                    )


def check_analytics_engine(stack: Stack) -> Iterator[Diagnostic]:
    """CLEAN_ROOMS_SQL only for collaborations that already exist.

    Codes:
        clean-rooms-sql-new (error): ``analyticsEngine: CLEAN_ROOMS_SQL`` on a collaboration the stack would
            create; AWS stopped accepting it for new collaborations after 2025-07-16.
            Fix: use ``analyticsEngine: SPARK``, or mark an existing collaboration ``existing: true``.
        clean-rooms-sql-legacy (warning): an existing collaboration on the CLEAN_ROOMS_SQL engine, which AWS
            has retired (end of support 2025-12-17).
            Fix: plan a move to a SPARK collaboration.
    """
    v = view(stack)
    for c in v.collaborations:
        if c.analyticsEngine != "CLEAN_ROOMS_SQL":
            continue
        if not c.existing:
            yield v.diag(
                "clean-rooms-sql-new",
                c,
                ("analyticsEngine",),
                f'collaboration "{c.name}" cannot be created on the CLEAN_ROOMS_SQL engine',
                detail="AWS stopped accepting CLEAN_ROOMS_SQL for new collaborations after 2025-07-16",
                hint="use analyticsEngine: SPARK (or set existing: true if the collaboration already exists)",
            )
        else:
            yield v.diag(
                "clean-rooms-sql-legacy",
                c,
                ("analyticsEngine",),
                f'collaboration "{c.name}" uses the retired CLEAN_ROOMS_SQL engine',
                severity=WARNING,
                detail="AWS ended support for the Clean Rooms SQL engine on 2025-12-17",
                hint="plan a move to a collaboration on the SPARK engine",
            )


def check_result_configuration(stack: Stack) -> Iterator[Diagnostic]:
    """Members who receive results have somewhere to put them.

    Codes:
        receiver-without-result-configuration (warning): a member with CAN_RECEIVE_RESULTS whose membership
            has no ``defaultResultConfiguration``; AWS runs no query until receivers have result settings.
            Fix: add ``defaultResultConfiguration`` (an S3 bucket and format) to the membership.
    """
    v = view(stack)
    for c in v.collaborations:
        for key, member in c.members.items():
            m = member.membership
            if (
                m is not None
                and "CAN_RECEIVE_RESULTS" in member.abilities
                and m.defaultResultConfiguration is None
            ):
                yield v.diag(
                    "receiver-without-result-configuration",
                    c,
                    ("members", key, "membership"),
                    f'member "{key}" can receive results but its membership has no '
                    "defaultResultConfiguration",
                    severity=WARNING,
                    detail="AWS runs no query until the members who receive results have result settings",
                    hint="add defaultResultConfiguration with an S3 bucket and resultFormat",
                )


def _role_paths(v: View) -> Iterator[tuple[Any, tuple[str | int, ...], str, str, str]]:
    """Every role ARN of the stack: (node, path, arn, account it must be in, whose)."""
    for c in v.collaborations:
        for key, member in c.members.items():
            m = member.membership
            if m is None:
                continue
            if m.defaultResultConfiguration is not None and m.defaultResultConfiguration.roleArn:
                path = ("members", key, "membership", "defaultResultConfiguration", "roleArn")
                yield c, path, m.defaultResultConfiguration.roleArn, member.accountId, f'member "{key}"'
            if m.defaultJobResultConfiguration is not None:
                path = ("members", key, "membership", "defaultJobResultConfiguration", "roleArn")
                yield c, path, m.defaultJobResultConfiguration.roleArn, member.accountId, f'member "{key}"'
    for t in v.tables:
        for i, a in enumerate(t.associations):
            collab = v.collab.get(a.collaboration)
            owner = collab.members.get(t.owner) if collab else None
            if owner is not None:
                yield t, ("associations", i, "roleArn"), a.roleArn, owner.accountId, f'owner "{t.owner}"'


def check_role_accounts(stack: Stack) -> Iterator[Diagnostic]:
    """Role ARNs live in the account of the member who passes them.

    Codes:
        role-in-wrong-account (error): a role ARN whose account is not the account of the member who uses it
            (a member can only pass its own roles).
            Fix: use a role in the member's own account.
    """
    v = view(stack)
    for node, path, arn, account, whose in _role_paths(v):
        found = _ROLE_ACCOUNT.match(arn)
        if found and found.group(1) != account:
            yield v.diag(
                "role-in-wrong-account",
                node,
                path,
                f"role {arn} is in account {found.group(1)}, but {whose} is account {account}",
                detail="Clean Rooms assumes this role on behalf of the member, who can only pass its own "
                "roles",
                hint=f"use a role in account {account}",
            )
