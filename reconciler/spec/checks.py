"""Layer 3 of validation: the semantic checks, as a visible pipeline of small named functions.

Layers 1 and 2 (shape and types; AWS's limits from botocore) have run when these do, so every
field has the right type and every enum value is one AWS knows. The checks here look across
resources: references between them, rules that contradict each other, what AWS would refuse
at apply time, and the privacy mistakes AWS would happily accept.

Each function in ``CHECKS`` takes the loaded ``Stack`` and yields ``Diagnostic``s; it never
raises for bad input. Its docstring's ``Codes:`` section lists the stable ``code`` of every
Diagnostic it makes, its severity, what it catches and the usual fix; the README's table of
checks is generated from those docstrings (``checks_table``), so it cannot go stale.

Position: every Diagnostic points at the YAML node that is wrong, through ``stack.locate``.
Template SQL is checked separately, in ``reconciler.spec.sql_checks`` (layer 4).
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import Diagnostic, Severity
from reconciler.spec.models import (
    AggregationRule,
    Association,
    Collaboration,
    ConfiguredTable,
    CustomRule,
    ListRule,
    Member,
)

if TYPE_CHECKING:
    from reconciler.spec import Stack

__all__ = [
    "CHECKS",
    "FOUNDATION_CODES",
    "Check",
    "CheckDoc",
    "all_check_docs",
    "checks_table",
    "describe",
    "readme_section",
    "suggest",
]

#: A check: the loaded stack in, Diagnostics out.
Check = Callable[["Stack"], Iterable[Diagnostic]]

ERROR = Severity.ERROR
WARNING = Severity.WARNING

#: The ``allowedAnalyses`` keywords of a custom rule; anything else names an analysis template.
ANY_QUERY = "ANY_QUERY"
ANY_JOB = "ANY_JOB"
ANALYSIS_KEYWORDS = frozenset({ANY_QUERY, ANY_JOB})

#: Where each rule type names columns of its table, as field paths inside ``policy``
#: (``*`` walks every item of a list). Every one of them must be in ``allowedColumns``.
RULE_COLUMN_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AGGREGATION": (
        ("aggregateColumns", "*", "columnNames", "*"),
        ("joinColumns", "*"),
        ("dimensionColumns", "*"),
        ("outputConstraints", "*", "columnName"),
    ),
    "LIST": (("joinColumns", "*"), ("listColumns", "*")),
    "CUSTOM": (
        ("disallowedOutputColumns", "*"),
        ("differentialPrivacy", "columns", "*", "name"),
        ("aggregationThresholds", "*", "identityColumns", "*"),
        ("aggregationThresholds", "*", "outputColumnThresholds", "*", "outputColumnName"),
        ("comparisonControls", "allowedLiteralComparisonColumns", "*"),
        ("comparisonControls", "allowedColumnComparisonColumns", "*"),
    ),
}

#: Payment responsibilities: (field path in paymentConfiguration, words, ability of the default payer).
#: The service model documents each: "If the collaboration creator hasn't specified anyone as the
#: member paying ..., then the member who can query is the default payer."
PAYMENTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("queryCompute",), "query compute", "CAN_QUERY"),
    (("jobCompute",), "job compute", "CAN_RUN_JOB"),
    (("machineLearning", "modelTraining"), "model training", "CAN_QUERY"),
    (("machineLearning", "modelInference"), "model inference", "CAN_QUERY"),
    (("machineLearning", "syntheticDataGeneration"), "synthetic data generation", "CAN_QUERY"),
)

#: Rule types AWS documents for the CLEAN_ROOMS_SQL engine only.
LEGACY_RULE_TYPES = frozenset({"AGGREGATION", "LIST"})

_ARN = re.compile(r"^arn:aws[\w-]*:")
_ROLE_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/")


# --------------------------------------------------------------------------- helpers


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A 'did you mean' hint for a misspelt name, or "" when nothing is close.

    Args:
        name: what the user wrote.
        candidates: the names in scope.

    Returns:
        ``did you mean "x"?`` or an empty string.
    """
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else ""


def _known(names: Iterable[str]) -> str:
    ordered = sorted(set(names))
    return ", ".join(f'"{n}"' for n in ordered) if ordered else "none"


def _walk(
    obj: Any, pattern: Sequence[str], prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (path, value) that ``pattern`` reaches in a model; ``*`` walks list items."""
    if not pattern:
        yield prefix, obj
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        for i, item in enumerate(obj or ()):
            yield from _walk(item, rest, (*prefix, i))
        return
    value = getattr(obj, head, None)
    if value is not None:
        yield from _walk(value, rest, (*prefix, head))


@dataclass(frozen=True)
class _Placed:
    """A configured table associated to a collaboration of the stack."""

    table: ConfiguredTable
    index: int  # position in table.associations
    association: Association

    @property
    def rule_type(self) -> str | None:
        return self.table.analysisRule.type if self.table.analysisRule else None


class _View:
    """The stack indexed the way the checks ask questions of it (built once per check run)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.collaborations = stack.collaborations
        self.tables = stack.configured_tables
        self.templates = stack.analysis_templates
        self.budgets = stack.privacy_budget_templates
        self.collab: dict[str, Collaboration] = {}
        for c in self.collaborations:
            self.collab.setdefault(c.name, c)
        self.placed: dict[str, list[_Placed]] = defaultdict(list)
        for t in self.tables:
            for i, a in enumerate(t.associations):
                self.placed[a.collaboration].append(_Placed(t, i, a))
        self.member_keys = {key for c in self.collaborations for key in c.members}
        self.template_names: dict[str, set[str]] = defaultdict(set)
        for tpl in self.templates:
            self.template_names[tpl.collaboration].add(tpl.name)

    def diag(
        self,
        code: str,
        node: Any,
        path: Sequence[str | int],
        summary: str,
        *,
        severity: Severity = ERROR,
        detail: str = "",
        hint: str = "",
    ) -> Diagnostic:
        return Diagnostic(
            summary=summary,
            location=self.stack.locate(node, *path),
            severity=severity,
            detail=detail,
            hint=hint,
            code=code,
        )

    def querier(self, collab: Collaboration) -> str | None:
        """The (first) member who can query."""
        return next((k for k, m in collab.members.items() if "CAN_QUERY" in m.abilities), None)


def _view(stack: Stack) -> _View:
    """The stack indexed for the checks (cheap: one pass over its documents)."""
    return _View(stack)


def _is_template_name(entry: str) -> bool:
    return entry not in ANALYSIS_KEYWORDS and not _ARN.match(entry)


# --------------------------------------------------------------------------- collaboration checks


def check_creator_is_member(stack: Stack) -> Iterator[Diagnostic]:
    """The collaboration's creator must be one of its members.

    Codes:
        creator-not-member (error): ``creator`` is not a key of ``members``.
            Fix: set ``creator`` to the member key of the account that creates the collaboration.
    """
    v = _view(stack)
    for c in v.collaborations:
        if c.creator not in c.members:
            yield v.diag(
                "creator-not-member",
                c,
                ("creator",),
                f'creator "{c.creator}" is not a member of collaboration "{c.name}"',
                detail=f"members are {_known(c.members)}",
                hint=suggest(c.creator, c.members) or "add the creator to members",
            )


def check_member_accounts(stack: Stack) -> Iterator[Diagnostic]:
    """One account per member key, one member key per account.

    Codes:
        duplicate-member-account (error): two members of a collaboration share an account ID.
            Fix: give each member its own account, or merge the two entries.
        member-account-mismatch (error): one member key names different accounts in two collaborations.
            Fix: use one key per account across the stack.
    """
    v = _view(stack)
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
    v = _view(stack)
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


def _responsible(member: Member, path: tuple[str, ...]) -> bool | None:
    config: Any = member.paymentConfiguration
    for part in path:
        config = getattr(config, part, None) if config is not None else None
    return None if config is None else bool(config.isResponsible)


def _effective_payers(c: Collaboration, path: tuple[str, ...], ability: str) -> dict[str, bool]:
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
    v = _view(stack)
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
    v = _view(stack)
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
    v = _view(stack)
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
    v = _view(stack)
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


def _role_paths(v: _View) -> Iterator[tuple[Any, tuple[str | int, ...], str, str, str]]:
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
    v = _view(stack)
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


# --------------------------------------------------------------------------- references


def check_duplicate_addresses(stack: Stack) -> Iterator[Diagnostic]:
    """Two resources may not have the same address.

    Codes:
        duplicate-address (error): two collaborations with one name, two configured tables with one owner and
            name, two templates with one name in a collaboration, or two privacy budget templates of one type
            in a collaboration.
            Fix: rename or remove one of them.
        duplicate-association-name (error): two associations with one name in a collaboration; queries name
            tables by association name, so AWS refuses the second.
            Fix: give one association another ``name``.
    """
    v = _view(stack)
    seen: dict[tuple[str, ...], Any] = {}

    def first(key: tuple[str, ...], node: Any) -> Any:
        return seen.setdefault(key, node)

    for c in v.collaborations:
        if first(("collaboration", c.name), c) is not c:
            yield _duplicate(v, c, ("name",), f'collaboration "{c.name}"', seen[("collaboration", c.name)])
    for t in v.tables:
        if first(("table", t.owner, t.name), t) is not t:
            yield _duplicate(
                v,
                t,
                ("name",),
                f'configured table "{t.name}" of "{t.owner}"',
                seen[("table", t.owner, t.name)],
            )
    for tpl in v.templates:
        key = ("template", tpl.collaboration, tpl.name)
        if first(key, tpl) is not tpl:
            yield _duplicate(
                v, tpl, ("name",), f'analysis template "{tpl.name}" in "{tpl.collaboration}"', seen[key]
            )
    for b in v.budgets:
        key = ("budget", b.collaboration, b.privacyBudgetType)
        if first(key, b) is not b:
            what = f'{b.privacyBudgetType} privacy budget template in "{b.collaboration}"'
            yield _duplicate(v, b, ("privacyBudgetType",), what, seen[key])
    twice = {id(t) for t in v.tables if seen[("table", t.owner, t.name)] is not t}
    for collab, placed in v.placed.items():
        names: dict[str, _Placed] = {}
        for p in placed:
            if id(p.table) in twice:
                continue  # already reported as a duplicate table
            other = names.setdefault(p.association.name.lower(), p)
            if other is not p:
                yield v.diag(
                    "duplicate-association-name",
                    p.table,
                    ("associations", p.index, "name"),
                    f'association name "{p.association.name}" is already used in collaboration "{collab}"',
                    detail=f"first used by {other.table.owner}/{other.table.name} at "
                    f"{stack.locate(other.table, 'associations', other.index, 'name')}",
                    hint="association names are how queries name tables, so they must be unique "
                    "(case-insensitively)",
                )


def _duplicate(v: _View, node: Any, path: tuple[str, ...], what: str, first: Any) -> Diagnostic:
    return v.diag(
        "duplicate-address",
        node,
        path,
        f"{what} is declared twice",
        detail=f"first declared at {v.stack.locate(first, *path)}",
        hint="rename or remove one of them",
    )


def check_collaboration_references(stack: Stack) -> Iterator[Diagnostic]:
    """Associations, templates and budgets name collaborations the stack declares.

    Codes:
        unknown-collaboration (error): a ``collaboration:`` that no Collaboration document declares.
            Fix: correct the name (a did-you-mean hint is given) or add the collaboration.
    """
    v = _view(stack)
    names = v.collab.keys()

    def unknown(node: Any, path: tuple[str | int, ...], name: str, who: str) -> Diagnostic:
        return v.diag(
            "unknown-collaboration",
            node,
            path,
            f'unknown collaboration "{name}"',
            detail=f'{who} refers to collaboration "{name}", which no spec of this stack declares '
            f"(declared: {_known(names)})",
            hint=suggest(name, names),
        )

    for t in v.tables:
        for i, a in enumerate(t.associations):
            if a.collaboration not in v.collab:
                yield unknown(
                    t, ("associations", i, "collaboration"), a.collaboration, f'association "{a.name}"'
                )
    for tpl in v.templates:
        if tpl.collaboration not in v.collab:
            yield unknown(tpl, ("collaboration",), tpl.collaboration, f'analysis template "{tpl.name}"')
    for b in v.budgets:
        if b.collaboration not in v.collab:
            yield unknown(b, ("collaboration",), b.collaboration, "the privacy budget template")


def check_owners(stack: Stack) -> Iterator[Diagnostic]:
    """Whoever owns a resource is a member of every collaboration it belongs to.

    Codes:
        unknown-member (error): an ``owner`` that is not a member key of any collaboration of the stack.
            Fix: correct the key (a did-you-mean hint is given).
        owner-not-in-collaboration (error): the owner of a table, template or budget is not a member of the
            collaboration it is associated to.
            Fix: add the owner to that collaboration's members, or remove the association.
    """
    v = _view(stack)
    owned: list[tuple[Any, str, str, list[tuple[tuple[str | int, ...], str]]]] = [
        (
            t,
            t.owner,
            f'table "{t.name}"',
            [(("associations", i, "collaboration"), a.collaboration) for i, a in enumerate(t.associations)],
        )
        for t in v.tables
    ]
    owned += [
        (tpl, tpl.owner, f'analysis template "{tpl.name}"', [(("owner",), tpl.collaboration)])
        for tpl in v.templates
    ]
    owned += [(b, b.owner, "the privacy budget template", [(("owner",), b.collaboration)]) for b in v.budgets]
    for node, owner, what, places in owned:
        if owner not in v.member_keys:
            yield v.diag(
                "unknown-member",
                node,
                ("owner",),
                f'unknown member "{owner}"',
                detail=f'{what} is owned by "{owner}", which is not a member key of any collaboration',
                hint=suggest(owner, v.member_keys),
            )
            continue
        for path, collab in places:
            c = v.collab.get(collab)
            if c is not None and owner not in c.members:
                yield v.diag(
                    "owner-not-in-collaboration",
                    node,
                    path,
                    f'"{owner}", owner of {what}, is not a member of collaboration "{collab}"',
                    detail=f"members are {_known(c.members)}",
                    hint=f'add "{owner}" to the members of "{collab}"',
                )


def _member_lists(v: _View) -> Iterator[tuple[Any, tuple[str | int, ...], str, list[str], str]]:
    """Every list of member keys: (node, path, what it is, the collaborations it applies to, key)."""
    for t in v.tables:
        collabs = [a.collaboration for a in t.associations if a.collaboration in v.collab]
        rule = t.analysisRule
        if isinstance(rule, CustomRule):
            for field in ("allowedAnalysisProviders", "allowedResultReceivers"):
                for i, key in enumerate(getattr(rule.policy, field) or ()):
                    yield t, ("analysisRule", "policy", field, i), field, collabs, key
        for ai, a in enumerate(t.associations):
            if a.analysisRule is not None and a.collaboration in v.collab:
                for i, key in enumerate(a.analysisRule.allowedResultReceivers or ()):
                    path = ("associations", ai, "analysisRule", "allowedResultReceivers", i)
                    yield t, path, "allowedResultReceivers", [a.collaboration], key


def check_member_references(stack: Stack) -> Iterator[Diagnostic]:
    """Analysis providers and result receivers are members, and receivers can receive results.

    Codes:
        unknown-member (error): a provider or receiver that is not a member of the collaborations the table is
            associated to.
            Fix: correct the member key (a did-you-mean hint is given).
        receiver-cannot-receive (error): a result receiver without CAN_RECEIVE_RESULTS in the collaboration.
            Fix: give the member CAN_RECEIVE_RESULTS, or remove it from the receivers.
    """
    v = _view(stack)
    for node, path, field, collabs, key in _member_lists(v):
        if not collabs:
            continue
        members = {k: c.members[k] for name in collabs for c in [v.collab[name]] for k in c.members}
        if key not in members:
            yield v.diag(
                "unknown-member",
                node,
                path,
                f'unknown member "{key}" in {field}',
                detail=f"members of {_known(collabs)} are {_known(members)}",
                hint=suggest(key, members),
            )
            continue
        if field != "allowedResultReceivers":
            continue
        unable = [
            n
            for n in collabs
            if key in v.collab[n].members and "CAN_RECEIVE_RESULTS" not in v.collab[n].members[key].abilities
        ]
        for name in unable:
            yield v.diag(
                "receiver-cannot-receive",
                node,
                path,
                f'result receiver "{key}" does not have CAN_RECEIVE_RESULTS in collaboration "{name}"',
                detail="AWS delivers results only to members who can receive them",
                hint=f'add CAN_RECEIVE_RESULTS to "{key}" in "{name}", or remove it from {field}',
            )


def check_template_references(stack: Stack) -> Iterator[Diagnostic]:
    """Templates named in a custom rule exist in a collaboration the table is associated to.

    Codes:
        unknown-template (error): an ``allowedAnalyses`` entry that is neither ANY_QUERY, ANY_JOB, an ARN, nor
            an analysis template of a collaboration the table is associated to.
            Fix: correct the template name (a did-you-mean hint is given) or associate the table to the
                template's collaboration.
    """
    v = _view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, CustomRule):
            continue
        in_scope = {name for a in t.associations for name in v.template_names.get(a.collaboration, ())}
        for i, entry in enumerate(rule.policy.allowedAnalyses):
            if not _is_template_name(entry) or entry in in_scope:
                continue
            elsewhere = sorted(c for c, names in v.template_names.items() if entry in names)
            detail = (
                f"the template belongs to {_known(elsewhere)}, where this table is not associated"
                if elsewhere
                else f"templates in its collaborations are {_known(in_scope)}"
            )
            yield v.diag(
                "unknown-template",
                t,
                ("analysisRule", "policy", "allowedAnalyses", i),
                f'unknown analysis template "{entry}"',
                detail=detail,
                hint=suggest(entry, in_scope | ANALYSIS_KEYWORDS),
            )


def check_local_data(stack: Stack) -> Iterator[Diagnostic]:
    """Local sample data exists and is a format the local engine reads.

    Codes:
        local-data-missing (error): ``localData`` names a file that does not exist (relative to the YAML
            file).
            Fix: correct the path, or generate the data (``python3 scripts/make_sample_data.py`` for the
                examples).
        local-data-format (error): ``localData`` is not a .csv or .parquet file.
            Fix: convert the data to CSV or Parquet.
    """
    v = _view(stack)
    for t in v.tables:
        if not t.localData:
            continue
        location = stack.locate(t, "localData")
        target = stack.resolve_path(t, t.localData)
        if Path(t.localData).suffix.lower() not in (".csv", ".parquet"):
            yield v.diag(
                "local-data-format",
                t,
                ("localData",),
                f'localData "{t.localData}" is not a CSV or Parquet file',
                hint="the local engine reads .csv and .parquet files",
            )
        elif not target.is_file():
            yield Diagnostic(
                summary=f'localData file "{t.localData}" does not exist',
                location=location,
                detail=f"looked for {target}",
                hint="paths are relative to the YAML file; the examples' data comes from "
                "scripts/make_sample_data.py",
                code="local-data-missing",
            )


# --------------------------------------------------------------------------- analysis rules


def check_rule_columns(stack: Stack) -> Iterator[Diagnostic]:
    """Every column a rule names is one of the table's ``allowedColumns``.

    Codes:
        rule-column-not-allowed (error): a column in an aggregation, list or custom rule (aggregate, join,
            dimension, output-constraint, list, disallowed-output, differential-privacy, threshold identity,
            output-column threshold, comparison-control columns) that is not in ``allowedColumns``.
            Fix: add the column to ``allowedColumns`` or correct its name (a did-you-mean hint is given).
    """
    v = _view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if rule is None:
            continue
        allowed = set(t.allowedColumns)
        for pattern in RULE_COLUMN_FIELDS[rule.type]:
            for path, column in _walk(rule.policy, pattern):
                if column not in allowed:
                    field = ".".join(str(p) for p in path if not isinstance(p, int))
                    yield v.diag(
                        "rule-column-not-allowed",
                        t,
                        ("analysisRule", "policy", *path),
                        f'column "{column}" in {field} is not in allowedColumns of table "{t.name}"',
                        detail=f"allowedColumns are {_known(allowed)}",
                        hint=suggest(column, allowed) or f'add "{column}" to allowedColumns',
                    )


def check_aggregation_rule(stack: Stack) -> Iterator[Diagnostic]:
    """An aggregation rule's columns play one part each, and output constraints count aggregated columns.

    Codes:
        dimension-also-aggregate (error): a column that is both a dimension and an aggregate or join column
            (AWS refuses it).
            Fix: remove it from ``dimensionColumns`` or from the aggregate/join columns.
        output-constraint-not-aggregate (error): an output constraint on a column that no aggregate function
            counts.
            Fix: constrain a column listed under ``aggregateColumns`` (usually COUNT_DISTINCT of the user
                identifier).
    """
    v = _view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, AggregationRule):
            continue
        p = rule.policy
        aggregated = {col for agg in p.aggregateColumns for col in agg.columnNames}
        for i, col in enumerate(p.dimensionColumns):
            roles = [
                name
                for name, cols in (("an aggregate", aggregated), ("a join", set(p.joinColumns)))
                if col in cols
            ]
            if roles:
                yield v.diag(
                    "dimension-also-aggregate",
                    t,
                    ("analysisRule", "policy", "dimensionColumns", i),
                    f'column "{col}" of table "{t.name}" is both a dimension column and '
                    f"{' and '.join(roles)} column",
                    detail="aggregate and join columns cannot also be dimension columns",
                    hint=f'remove "{col}" from dimensionColumns',
                )
        for i, oc in enumerate(p.outputConstraints):
            if oc.columnName not in aggregated:
                yield v.diag(
                    "output-constraint-not-aggregate",
                    t,
                    ("analysisRule", "policy", "outputConstraints", i, "columnName"),
                    f'output constraint column "{oc.columnName}" of table "{t.name}" is not an aggregate '
                    "column",
                    detail="an output constraint counts distinct values of an aggregated column in each "
                    "output row",
                    hint=f"add {{columnNames: [{oc.columnName}], function: COUNT_DISTINCT}} to "
                    "aggregateColumns",
                )


def check_list_rule(stack: Stack) -> Iterator[Diagnostic]:
    """A list rule's join columns are never listed.

    Codes:
        list-join-column-listed (error): a column that is both a join column and a list column (AWS refuses
            it).
            Fix: remove it from ``listColumns``.
    """
    v = _view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, ListRule):
            continue
        join = set(rule.policy.joinColumns)
        for i, col in enumerate(rule.policy.listColumns):
            if col in join:
                yield v.diag(
                    "list-join-column-listed",
                    t,
                    ("analysisRule", "policy", "listColumns", i),
                    f'column "{col}" of table "{t.name}" is both a join column and a list column',
                    detail="a list rule's join columns can be used only to join, never listed",
                    hint=f'remove "{col}" from listColumns',
                )


def check_custom_rule(stack: Stack) -> Iterator[Diagnostic]:
    """A custom rule approves templates or providers, consistently with its other controls.

    Codes:
        providers-required (error): ``allowedAnalyses: [ANY_QUERY]`` without ``allowedAnalysisProviders``; the
            API requires it and no direct query could run.
            Fix: list the member keys allowed to query directly in ``allowedAnalysisProviders``.
        templates-and-providers (error): a rule that lists both analysis templates and analysis providers; an
            owner allows either templates or accounts.
            Fix: keep the templates, or replace them with ANY_QUERY and the providers.
        controls-with-jobs-only (error): aggregation thresholds or comparison controls when
            ``allowedAnalyses`` allows only jobs (ANY_JOB).
            Fix: remove the controls, or allow queries.
        threshold-identity-literal (error): the aggregation-threshold identity column is in
            ``allowedLiteralComparisonColumns`` (the API refuses it: it would single people out).
            Fix: remove the identity column from ``allowedLiteralComparisonColumns``.
        output-threshold-invalid (error): an output-column threshold of 1, or a column overridden twice (only
            0, to exempt, or 2 to 100,000 are meaningful).
            Fix: use 0 or at least 2, once per column.
    """
    v = _view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, CustomRule):
            continue
        p = rule.policy
        base = ("analysisRule", "policy")
        templates = [e for e in p.allowedAnalyses if _is_template_name(e) or _ARN.match(e)]
        if ANY_QUERY in p.allowedAnalyses and p.allowedAnalysisProviders is None:
            yield v.diag(
                "providers-required",
                t,
                (*base, "allowedAnalyses", p.allowedAnalyses.index(ANY_QUERY)),
                f'table "{t.name}" allows ANY_QUERY but names no allowedAnalysisProviders',
                detail="the API requires allowedAnalysisProviders with ANY_QUERY; without it no direct "
                "query can run",
                hint="add allowedAnalysisProviders: [<member key of the querier>]",
            )
        if templates and p.allowedAnalysisProviders:
            yield v.diag(
                "templates-and-providers",
                t,
                (*base, "allowedAnalysisProviders"),
                f'table "{t.name}" allows both analysis templates and analysis providers',
                detail="a custom rule allows either specific analysis templates or analysis providers, not "
                "both",
                hint="keep the templates and remove allowedAnalysisProviders, or use ANY_QUERY with "
                "providers",
            )
        controls = [f for f in ("aggregationThresholds", "comparisonControls") if getattr(p, f)]
        if controls and p.allowedAnalyses and set(p.allowedAnalyses) <= {ANY_JOB}:
            yield v.diag(
                "controls-with-jobs-only",
                t,
                (*base, controls[0]),
                f'table "{t.name}" sets {" and ".join(controls)} but allows only jobs (ANY_JOB)',
                detail="these controls apply to queries; the API refuses them when only jobs are allowed",
                hint="remove them, or allow queries",
            )
        identities = {col for th in p.aggregationThresholds or () for col in th.identityColumns}
        if p.comparisonControls is not None:
            for i, col in enumerate(p.comparisonControls.allowedLiteralComparisonColumns):
                if col in identities:
                    yield v.diag(
                        "threshold-identity-literal",
                        t,
                        (*base, "comparisonControls", "allowedLiteralComparisonColumns", i),
                        f'identity column "{col}" of table "{t.name}" may not be compared with literals',
                        detail="comparing the identity column with a literal singles people out; the API "
                        "refuses it",
                        hint=f'remove "{col}" from allowedLiteralComparisonColumns',
                    )
        for ti, th in enumerate(p.aggregationThresholds or ()):
            seen: set[str] = set()
            for oi, oct_ in enumerate(th.outputColumnThresholds or ()):
                path = (*base, "aggregationThresholds", ti, "outputColumnThresholds", oi)
                if oct_.minimumIdentityCount == 1:
                    yield v.diag(
                        "output-threshold-invalid",
                        t,
                        (*path, "minimumIdentityCount"),
                        f'output column "{oct_.outputColumnName}" has a threshold of 1, which protects '
                        "nobody",
                        hint="use 0 to exempt the column, or at least 2",
                    )
                if oct_.outputColumnName in seen:
                    yield v.diag(
                        "output-threshold-invalid",
                        t,
                        (*path, "outputColumnName"),
                        f'output column "{oct_.outputColumnName}" has more than one threshold',
                        hint="keep one threshold per output column",
                    )
                seen.add(oct_.outputColumnName)


def check_differential_privacy(stack: Stack) -> Iterator[Diagnostic]:
    """Differential privacy is configured the way AWS requires in every collaboration that uses it.

    Codes:
        dp-with-controls (error): differential privacy together with aggregation thresholds or comparison
            controls (the API refuses the combination).
            Fix: use either differential privacy or the threshold controls.
        dp-budget-missing (error): a table with differential privacy is associated to a collaboration without
            a DIFFERENTIAL_PRIVACY privacy budget template, so it can never be queried.
            Fix: add a PrivacyBudgetTemplate with ``privacyBudgetType: DIFFERENTIAL_PRIVACY`` to the
                collaboration.
        dp-columns-differ (error): two tables of one collaboration protect different user identifier columns.
            Fix: use the same user identifier column in every differential-privacy rule of the collaboration.
        dp-on-receiver-table (error): the member who can receive results turned differential privacy on for
            its own table (AWS does not allow it).
            Fix: remove differential privacy from that table, or the member's CAN_RECEIVE_RESULTS.
        dp-on-spark (warning): differential privacy in a SPARK collaboration; AWS documents it for the
            CLEAN_ROOMS_SQL engine only.
            Fix: check that AWS supports it for your collaboration; the local engine allows it.
    """
    v = _view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, CustomRule) or rule.policy.differentialPrivacy is None:
            continue
        dp_path = ("analysisRule", "policy", "differentialPrivacy")
        controls = [f for f in ("aggregationThresholds", "comparisonControls") if getattr(rule.policy, f)]
        if controls:
            yield v.diag(
                "dp-with-controls",
                t,
                dp_path,
                f'table "{t.name}" combines differential privacy with {" and ".join(controls)}',
                detail="AWS does not allow aggregation thresholds or comparison controls with differential "
                "privacy",
                hint=f"remove {' and '.join(controls)}, or differential privacy",
            )
        for _i, a in enumerate(t.associations):
            c = v.collab.get(a.collaboration)
            if c is None:
                continue
            if not any(
                b.collaboration == c.name and b.privacyBudgetType == "DIFFERENTIAL_PRIVACY" for b in v.budgets
            ):
                yield v.diag(
                    "dp-budget-missing",
                    t,
                    dp_path,
                    f'collaboration "{c.name}" has no differential-privacy budget, so table "{t.name}" can '
                    "never be queried",
                    detail="tables with differential privacy need a DIFFERENTIAL_PRIVACY privacy budget "
                    "template",
                    hint="add a PrivacyBudgetTemplate with privacyBudgetType: DIFFERENTIAL_PRIVACY to the "
                    "collaboration",
                )
            owner = c.members.get(t.owner)
            if owner is not None and "CAN_RECEIVE_RESULTS" in owner.abilities:
                yield v.diag(
                    "dp-on-receiver-table",
                    t,
                    dp_path,
                    f'"{t.owner}" can receive results in "{c.name}", so it cannot turn on differential '
                    f'privacy for its table "{t.name}"',
                    detail="differential privacy protects a table from the members who receive results, "
                    "not from its owner",
                    hint="remove differential privacy from this table",
                )
            if (c.analyticsEngine or "SPARK") == "SPARK":
                yield v.diag(
                    "dp-on-spark",
                    t,
                    dp_path,
                    f'table "{t.name}" uses differential privacy in the SPARK collaboration "{c.name}"',
                    severity=WARNING,
                    detail="AWS documents differential privacy for the CLEAN_ROOMS_SQL engine only; "
                    "the local engine allows it on both",
                    hint="check that AWS supports it for this collaboration before relying on it",
                )
    for collab, placed in sorted(v.placed.items()):
        dp = [
            (p, rule.policy.differentialPrivacy.columns[0].name)
            for p in placed
            for rule in [p.table.analysisRule]
            if isinstance(rule, CustomRule)
            and rule.policy.differentialPrivacy
            and rule.policy.differentialPrivacy.columns
        ]
        for p, column in dp[1:]:
            if column != dp[0][1]:
                yield v.diag(
                    "dp-columns-differ",
                    p.table,
                    ("analysisRule", "policy", "differentialPrivacy", "columns", 0, "name"),
                    f'table "{p.table.name}" protects "{column}" but table "{dp[0][0].table.name}" protects '
                    f'"{dp[0][1]}" in collaboration "{collab}"',
                    detail="all differential-privacy tables of a collaboration must use the same user "
                    "identifier column",
                    hint=f'use "{dp[0][1]}"',
                )


def check_rule_engine(stack: Stack) -> Iterator[Diagnostic]:
    """AGGREGATION and LIST rules in SPARK collaborations get a warning (one per collaboration).

    Codes:
        rule-type-engine (warning): AGGREGATION or LIST tables associated to a SPARK collaboration; AWS
            documents these rule types for the CLEAN_ROOMS_SQL engine.
            Fix: use CUSTOM rules with aggregation thresholds and comparison controls on SPARK.
    """
    v = _view(stack)
    for collab_name, placed in sorted(v.placed.items()):
        c = v.collab.get(collab_name)
        if c is None or (c.analyticsEngine or "SPARK") != "SPARK":
            continue
        legacy = [f"{p.association.name} ({p.rule_type})" for p in placed if p.rule_type in LEGACY_RULE_TYPES]
        if legacy:
            yield v.diag(
                "rule-type-engine",
                c,
                ("analyticsEngine",),
                f'collaboration "{c.name}" uses the SPARK engine, but {", ".join(legacy)} '
                f"{'has a rule type' if len(legacy) == 1 else 'have rule types'} "
                "AWS documents for the CLEAN_ROOMS_SQL engine",
                severity=WARNING,
                detail="on SPARK, AWS's minimum aggregation thresholds and comparison controls live in the "
                "CUSTOM rule; the local engine enforces AGGREGATION and LIST rules as documented",
                hint="use CUSTOM rules with aggregationThresholds and comparisonControls",
            )


def check_associations(stack: Stack) -> Iterator[Diagnostic]:
    """Every associated table can be queried, and with the tables it is meant to be queried with.

    Codes:
        no-analysis-rule (error): a configured table without an analysis rule is associated to a
            collaboration; AWS refuses every query on it.
            Fix: add an ``analysisRule`` to the table (CUSTOM on SPARK collaborations).
        rule-types-mixed (warning): tables of different rule types in one collaboration can never be queried
            together (AWS refuses a query that mixes rule types).
            Fix: give the tables that are queried together the same rule type.
        join-required-unreachable (error): a table requires a join with the querier's tables (LIST, or
            ``joinRequired: QUERY_RUNNER``), but the member who can query has no table of the same rule type
            in the collaboration, so no query can ever use it.
            Fix: give the querier a table with the same rule type, or change the rule.
        collaboration-rule-missing (warning): an association without a collaboration analysis rule; AWS
            reports the table as not ready for direct analysis (COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED),
            and nothing limits who receives results of queries on it.
            Fix: add ``analysisRule: {allowedResultReceivers: [...]}`` to the association.
        join-column-unmatched (warning): a join column that no other member's table of the same rule type in
            the collaboration can join on.
            Fix: add the column to the other side's join columns, or correct its name.
    """
    v = _view(stack)
    for collab_name, placed in sorted(v.placed.items()):
        c = v.collab.get(collab_name)
        if c is None:
            continue
        for p in placed:
            if p.rule_type is None:
                yield v.diag(
                    "no-analysis-rule",
                    p.table,
                    ("associations", p.index),
                    f'table "{p.table.name}" has no analysis rule but is associated to collaboration '
                    f'"{collab_name}"',
                    detail="AWS refuses every query on a configured table without an analysis rule",
                    hint="add an analysisRule to the table (CUSTOM on SPARK collaborations)",
                )
            elif p.association.analysisRule is None:
                yield v.diag(
                    "collaboration-rule-missing",
                    p.table,
                    ("associations", p.index),
                    f'association "{p.association.name}" in collaboration "{collab_name}" has no '
                    "collaboration analysis rule",
                    severity=WARNING,
                    detail="AWS reports such a table as not ready for direct analysis"
                    " "
                    "(COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED); no list limits who receives its results",
                    hint="add analysisRule: {allowedResultReceivers: [<member keys>]} to the association",
                )
        yield from _mixed_rule_types(v, collab_name, placed)
        yield from _joins(v, c, placed)


def _mixed_rule_types(v: _View, collab: str, placed: list[_Placed]) -> Iterator[Diagnostic]:
    """One warning per table whose rule type is not the collaboration's most common one."""
    names: dict[str, list[str]] = defaultdict(list)  # rule type -> association names, in file order
    for p in placed:
        if p.rule_type is not None:
            names[p.rule_type].append(p.association.name)
    if len(names) < 2:
        return
    order = list(names)
    main = max(order, key=lambda k: (len(names[k]), -order.index(k)))
    for p in placed:
        if p.rule_type is None or p.rule_type == main:
            continue
        others = sorted(n for kind, found in names.items() if kind != p.rule_type for n in found)
        yield v.diag(
            "rule-types-mixed",
            p.table,
            ("associations", p.index),
            f'table "{p.association.name}" ({p.rule_type}) can never be queried together with '
            f"{_known(others)} ({'/'.join(sorted(k for k in names if k != p.rule_type))}) in "
            f'collaboration "{collab}"',
            severity=WARNING,
            detail="AWS refuses a query that references tables with different analysis rule types",
            hint="give the tables that are queried together the same rule type",
        )


def _joins(v: _View, c: Collaboration, placed: list[_Placed]) -> Iterator[Diagnostic]:
    """Joins a LIST or AGGREGATION table needs: a querier table of its type, a counterpart column."""
    querier = v.querier(c)
    # rule type -> owner -> join columns of that owner's tables of that type
    columns: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for p in placed:
        rule = p.table.analysisRule
        if isinstance(rule, AggregationRule | ListRule):
            columns[rule.type][p.table.owner].update(rule.policy.joinColumns)
    for p in placed:
        rule = p.table.analysisRule
        if not isinstance(rule, AggregationRule | ListRule):
            continue
        owners = columns[rule.type]
        requires = isinstance(rule, ListRule) or rule.policy.joinRequired == "QUERY_RUNNER"
        if requires and querier is not None and p.table.owner != querier and querier not in owners:
            yield v.diag(
                "join-required-unreachable",
                p.table,
                ("associations", p.index),
                f'no query can use table "{p.association.name}" in collaboration "{c.name}": its '
                f"{rule.type} rule "
                f'requires a join with a table of "{querier}", who has no {rule.type} table there',
                detail="queries may only combine tables of one rule type, and this rule requires joining "
                "the querier's data",
                hint=f'give "{querier}" a {rule.type} table in the collaboration, or change this rule',
            )
        peers = [owner for owner in owners if owner != p.table.owner]
        if not peers:
            continue
        peer_columns = {col for owner in peers for col in owners[owner]}
        for i, col in enumerate(rule.policy.joinColumns):
            if col not in peer_columns:
                yield v.diag(
                    "join-column-unmatched",
                    p.table,
                    ("analysisRule", "policy", "joinColumns", i),
                    f'join column "{col}" of table "{p.table.name}" has no counterpart in collaboration '
                    f'"{c.name}"',
                    severity=WARNING,
                    detail=f"other members' {rule.type} tables join on {_known(peer_columns)}",
                    hint=suggest(col, peer_columns) or "add it to the other side's joinColumns",
                )


# --------------------------------------------------------------------------- the pipeline

#: Layer 3, in the order they run; each is small, named, and documented in the README table.
CHECKS: tuple[Check, ...] = (
    check_duplicate_addresses,
    check_creator_is_member,
    check_member_accounts,
    check_query_abilities,
    check_payment,
    check_membership_payment,
    check_analytics_engine,
    check_result_configuration,
    check_role_accounts,
    check_collaboration_references,
    check_owners,
    check_member_references,
    check_template_references,
    check_local_data,
    check_rule_columns,
    check_aggregation_rule,
    check_list_rule,
    check_custom_rule,
    check_differential_privacy,
    check_rule_engine,
    check_associations,
)


# --------------------------------------------------------------------------- documentation


@dataclass(frozen=True)
class CheckDoc:
    """One code of one check, as its docstring documents it."""

    code: str
    severity: str
    catches: str
    fix: str
    check: str
    layer: int


_CODE_LINE = re.compile(r"^ {8}(?P<code>[a-z0-9-]+) \((?P<severity>error|warning)\): (?P<text>.*)$")
_FIX_LINE = re.compile(r"^ {12}Fix: (?P<fix>.*)$")
_MORE_TEXT = re.compile(r"^ {12}(?!Fix: )(?P<more>\S.*)$")
_MORE_FIX = re.compile(r"^ {16}(?P<more>\S.*)$")


def describe(checks: Iterable[Check], layer: int) -> list[CheckDoc]:
    """Read the ``Codes:`` sections of the checks' docstrings.

    Each code is one entry: ``code (severity): what it catches`` at 8 spaces, continued at 12;
    then ``Fix: how to fix it`` at 12 spaces, continued at 16.

    Args:
        checks: check functions (``CHECKS`` of this module or of ``sql_checks``).
        layer: the validation layer they belong to, for the table.

    Returns:
        One CheckDoc per documented code, in pipeline order.
    """
    docs: list[CheckDoc] = []
    for check in checks:
        entries: list[dict[str, str]] = []
        for line in (check.__doc__ or "").splitlines():
            entry = entries[-1] if entries else None
            if (code := _CODE_LINE.match(line)) is not None:
                entries.append({**code.groupdict(), "fix": ""})
            elif entry is None:
                continue
            elif (fix := _FIX_LINE.match(line)) is not None:
                entry["fix"] = fix["fix"]
            elif not entry["fix"] and (more := _MORE_TEXT.match(line)) is not None:
                entry["text"] += " " + more["more"]
            elif entry["fix"] and (more := _MORE_FIX.match(line)) is not None:
                entry["fix"] += " " + more["more"]
        docs += [
            CheckDoc(e["code"], e["severity"], e["text"], e["fix"], check.__name__, layer) for e in entries
        ]
    return docs


def checks_table(docs: Sequence[CheckDoc]) -> str:
    """The README's Markdown table of checks.

    Args:
        docs: the documented codes, e.g. ``describe(CHECKS, 3) + describe(sql_checks.CHECKS, 4)``.

    Returns:
        Markdown, one row per code.
    """
    rows = ["| code | what it catches | layer | severity | example fix |", "|---|---|---|---|---|"]
    for d in docs:
        rows.append(f"| `{d.code}` | {d.catches} | {d.layer} | {d.severity} | {d.fix} |")
    return "\n".join(rows)


#: The codes of layers 0 to 2 (``load``, ``shape``, ``limits``, ``pipeline``), so that the README
#: lists every check the validator makes in one table. Their messages name the field and limit.
FOUNDATION_CODES: tuple[CheckDoc, ...] = tuple(
    CheckDoc(code, severity, catches, fix, module, layer)
    for code, severity, catches, fix, module, layer in (
        ("encoding", "error", "a file that is not UTF-8", "save the file as UTF-8", "load", 0),
        ("file", "error", "a file that cannot be read", "check the path and permissions", "load", 0),
        (
            "yaml",
            "error",
            "invalid YAML, duplicate keys, unknown tags, alias bombs, nesting deeper than 64 levels",
            "fix the YAML at the position given",
            "load",
            0,
        ),
        (
            "document",
            "error",
            "a document that is not a mapping",
            "start each document with `kind:`",
            "load",
            0,
        ),
        (
            "kind",
            "error",
            "a missing or unknown `kind:`",
            "use Collaboration, ConfiguredTable, AnalysisTemplate or PrivacyBudgetTemplate",
            "shape",
            1,
        ),
        (
            "unknown-field",
            "error",
            "a key the format does not have (typos included)",
            "use the suggested field name",
            "shape",
            1,
        ),
        ("missing-field", "error", "a required field that is absent", "add the field", "shape", 1),
        (
            "type",
            "error",
            "a value of the wrong type (an account ID read as a number, a string where a list is expected)",
            "quote the value, or write the expected type",
            "shape",
            1,
        ),
        ("enum", "error", "an unknown analysis rule `type`", "use AGGREGATION, LIST or CUSTOM", "shape", 1),
        (
            "template-source",
            "error",
            "a template `source` without exactly one of `text` / `file`, or an unreadable SQL file",
            "give one of them; `file` is relative to the YAML file",
            "pipeline",
            1,
        ),
        (
            "aws-enum",
            "error",
            "a value AWS does not know (botocore enums), including scalar functions such as YEAR and MONTH",
            "use a listed value; for YEAR/MONTH allow EXTRACT",
            "limits",
            2,
        ),
        (
            "aws-pattern",
            "error",
            "a value that breaks AWS's pattern: account IDs of other than 12 digits, "
            "malformed role ARNs, column names",
            "write the value in the form the hint shows",
            "limits",
            2,
        ),
        (
            "aws-length",
            "error",
            "a name or description longer (or shorter) than AWS allows",
            "shorten the value",
            "limits",
            2,
        ),
        (
            "aws-range",
            "error",
            "a number outside AWS's range (thresholds 2 to 100,000, epsilon 1 to 20...)",
            "use a value in the range given",
            "limits",
            2,
        ),
        (
            "aws-size",
            "error",
            "a list with more or fewer items than AWS allows",
            "add or remove items",
            "limits",
            2,
        ),
        (
            "aws-union",
            "error",
            "not exactly one of the alternatives of a union (tableReference, outputConfiguration...)",
            "set exactly one",
            "limits",
            2,
        ),
        (
            "checks-skipped",
            "warning",
            "layers 3 and 4 did not run because a document has the wrong shape",
            "fix the shape errors and validate again",
            "pipeline",
            1,
        ),
    )
)


def all_check_docs() -> list[CheckDoc]:
    """Every check of every layer, in the order the README lists them."""
    from reconciler.spec import sql_checks  # layer 4 imports this module

    return [*FOUNDATION_CODES, *describe(CHECKS, 3), *describe(sql_checks.CHECKS, 4)]


def readme_section(table: str) -> str:
    """The README's ``validation-checks`` section around the generated table."""
    return (
        "## Validation checks\n\n"
        "`reconciler validate [STACK_DIR ...] [--format text|json]` checks stacks before any API call\n"
        "(no argument: every stack directory under `./specs`, or the current directory when there is\n"
        "none). It reports every problem at once, sorted by file and line, as\n"
        "`path:line:col: severity: message` with a `hint:` where a fix is obvious (paths relative to\n"
        "the current directory). Only errors make it exit 1; warnings are shown and kept on the Stack.\n"
        "`--format json` prints `{format_version: 1, valid, errors, warnings, stacks: [{path, valid,\n"
        "errors, warnings, documents, diagnostics: [{severity, code, summary, detail, hint, path, line,\n"
        "column}]}]}`. A `policy.yaml` adds its own checks\n"
        "(see [Privacy policy as code](#privacy-policy-as-code)).\n\n"
        "The layers run in order:\n\n"
        "0. **YAML**: UTF-8 only; duplicate keys (both positions shown); nesting deeper than 64 levels,\n"
        "   aliases expanding to more than 100,000 nodes, files over 64 MiB, unknown tags and non-mapping\n"
        "   documents are refused with a message, never a traceback. Anchors, aliases and `<<` merge keys\n"
        "   work.\n"
        "1. **Shape and types** (the pydantic models in `reconciler/spec/models.py`): unknown keys,\n"
        "   missing fields, wrong types, unknown `kind:` / rule `type:`.\n"
        "2. **AWS's limits**, read from botocore's service model at run time (`reconciler/spec/limits.py`\n"
        "   maps each model to the API shape it feeds): lengths, patterns, enum values, list sizes,\n"
        '   numeric ranges, "exactly one of" unions.\n'
        "3. **Semantic checks** (`reconciler/spec/checks.py`) and 4. **template SQL checks**\n"
        "   (`reconciler/spec/sql_checks.py`). They run when every document has a valid shape (errors\n"
        "   confined to fields no check reads, such as `dataEncryptionMetadata`, do not stop them);\n"
        "   otherwise the `checks-skipped` warning says so.\n\n"
        "There is no cycle check: references in this format only point one way (tables and templates\n"
        "to collaborations and members, rules to templates), so a spec cannot express a dependency\n"
        "cycle; the planner's graph would still raise `GraphError` if one appeared.\n\n"
        "This table is generated from the checks' docstrings (`checks.checks_table`); a test fails\n"
        "when it is stale. Every code has a broken fixture in `tests/spec/broken/`.\n\n"
        f"{table}\n"
    )
