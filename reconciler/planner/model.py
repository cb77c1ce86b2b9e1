"""The plan model: Action, Change, Step, Plan: what a plan says, and in what order.

``diff.compute`` produces Changes, ``privacy.assess`` gives each its privacy impact, and
``build.build`` turns them into a Plan: Changes sorted by Address plus Steps (one backend call
each) in groups, each Step naming the Steps it needs (``depends_on``). ``planfile`` reads and
writes Plans as JSON documents.

This module holds values only: it does not compute diffs, read state, order steps or call AWS.

>>> Action.DELETE_THEN_CREATE.is_replace, Action.UPDATE.is_replace
(True, False)
>>> Plan(stack="retail", backend="local", changes=(), steps=()).is_empty
True
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.errors import PlanError, SourceLocation
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.moves import under
from reconciler.planner.resource import Ref

__all__ = ["FORMAT_VERSION", "Action", "Change", "FieldDiff", "Finding", "Impact", "Plan", "Step"]

#: Version of the plan-file format (``planfile``); bump on any incompatible change.
#: 2: the plan records ``as_member`` and where its stack's spec lives (``spec``), so ``apply
#: PLAN_FILE`` needs neither ``--as`` nor ``--stack``; a version-1 file lacks both and is refused.
FORMAT_VERSION = 2


class Action(enum.StrEnum):
    """What a Change does; replacements spell their order (STYLE: "replace spelled as its order")."""

    NO_OP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    DELETE_THEN_CREATE = "delete-then-create"
    CREATE_THEN_DELETE = "create-then-delete"
    DELETE = "delete"
    ADD_MEMBER = "add-member"
    REMOVE_MEMBER = "remove-member"

    @property
    def is_replace(self) -> bool:
        return self in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)


class Impact(enum.StrEnum):
    """A change's effect on privacy; ``weakens`` changes are shown first everywhere."""

    WEAKENS = "weakens"
    STRENGTHENS = "strengthens"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class FieldDiff:
    """One changed field: dotted path (``analysisRulePolicy.v1.list.listColumns``), before, after.

    ``before`` is None for an added field, ``after`` None for a removed one.
    """

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Finding:
    """One privacy observation about a change, in words, with the values it compares.

    Args:
        impact: weakens / strengthens / neutral.
        reason: a sentence ("aggregation threshold on purchases lowered 100 -> 25").
        path: the field path it is about ("" for the whole resource).
        rule: the id of the ``privacy.FIELD_EFFECTS`` entry that made it (stable, for JSON
            consumers and policy files; written ``rule`` in every file format).
    """

    impact: Impact
    reason: str
    path: str = ""
    rule: str = ""


@dataclass(frozen=True)
class Change:
    """What the plan does to one Address.

    ======================  ==========================  ==========================================
    Action                  before                      after
    ======================  ==========================  ==========================================
    NO_OP                   observed attributes         desired attributes (compare equal)
    CREATE                  None                        desired attributes
    UPDATE                  observed attributes         desired attributes (``field_diffs`` differ)
    DELETE_THEN_CREATE      observed (deleted first)    desired (created after the delete)
    CREATE_THEN_DELETE      observed (deleted last)     desired (created first)
    DELETE                  observed attributes         None
    ADD_MEMBER              None                        desired member (a change request)
    REMOVE_MEMBER           observed member             None
    ======================  ==========================  ==========================================

    Args:
        address: the resource.
        action: what happens to it.
        before: observed attributes in normal form (None if absent).
        after: desired attributes in normal form (None if not in the spec).
        field_diffs: changed fields, sorted by path.
        requires_replace: create-only field paths that force the replacement.
        reason: why this action, in words; only renderers read it (it never drives apply).
        irreversible: why this change can never be undone ("" when it can).
        blocked: why this change cannot be planned at all ("" when it can); a plan with a
            blocked change cannot be applied.
        impact: overall privacy impact (the strongest of ``findings``).
        findings: privacy observations, weakening first.
        owner: member key of the account that makes the calls.
        account_id: that account's id, when known.
        prevent_destroy: the spec protects this resource from deletion (apply refuses).
        source: where the spec declares it.
        observed_id: the service's id of the existing resource, when there is one.
        observed_arn: its ARN.
        deleted_with: the parent whose deletion removes this too (a member, the creator's
            membership: both go with their collaboration), so it has no delete call of its own.
        moved_from: the address the backend holds the resource under, when a move (``kind:
            Moved``) brought it here; its identity tag is rewritten by the plan.
        gone: the live member's final status (``LEFT``, ``REMOVED``) when the spec still names a
            member that can never come back (the change is blocked, with the fix).
        region: the region its calls go to (the spec's; for a delete, where it was found).
        observed_region: the region the existing resource was found in (its delete goes there).
    """

    address: Address
    action: Action
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    field_diffs: tuple[FieldDiff, ...] = ()
    requires_replace: tuple[str, ...] = ()
    reason: str = ""
    irreversible: str = ""
    blocked: str = ""
    impact: Impact = Impact.NEUTRAL
    findings: tuple[Finding, ...] = ()
    owner: str | None = None
    account_id: str | None = None
    prevent_destroy: bool = False
    source: SourceLocation | None = None
    observed_id: str | None = None
    observed_arn: str | None = None
    deleted_with: Address | None = None
    moved_from: Address | None = None
    gone: str = ""
    region: str | None = None
    observed_region: str | None = None

    @property
    def kind(self) -> Kind:
        return self.address.kind


@dataclass(frozen=True)
class Step:
    """One backend call for one Change (a replacement yields two Steps: a delete and a create).

    Args:
        id: unique in the plan: ``"<role> <address>"``.
        address: the resource it acts on.
        role: ``create``, ``update``, ``tag``, ``untag``, ``change_request`` or ``delete``.
        operation: the API operation (``CreateMembership``, ``CreateCollaborationChangeRequest``...).
        params: the operation's parameters; Refs in them name other resources whose ids apply
            resolves from state when it runs the step. Delete parameters hold literal ids (the
            old resource's, even when a replacement already created a new one).
        owner: member key of the account that must make the call.
        account_id: that account's id, when known.
        depends_on: ids of Steps that must succeed first.
        irreversible: why this call can never be undone ("" when it can); apply refuses such a
            step without ``--allow-destroy``.
        prevent_destroy: the spec forbids this delete; apply refuses it even with the flag.
        region: the AWS region of the call (None in plans made before regions were recorded:
            the account's first region).
    """

    id: str
    address: Address
    role: str
    operation: str
    params: Mapping[str, Any]
    owner: str | None = None
    account_id: str | None = None
    depends_on: tuple[str, ...] = ()
    irreversible: str = ""
    prevent_destroy: bool = False
    region: str | None = None


@dataclass(frozen=True)
class Plan:
    """A saved decision: sorted Changes, Step groups in order, and what it was made from.

    Args:
        stack: stack name.
        backend: ``local`` or ``aws``.
        changes: every Change except NO_OP, sorted by Address.
        steps: groups of Steps; a group only needs earlier groups.
        unchanged: how many resources need nothing.
        spec_fingerprint: ``fingerprint`` of the desired resources.
        state_fingerprint: ``fingerprint`` of the observed resources.
        created_at: ISO-8601 UTC time the plan was made (injected clock in tests).
        as_member: ``plan --as MEMBER``: only that member's changes and steps are in the plan,
            and apply acts as that member (None: every member).
        spec_path: absolute path of the stack's spec (directory or file) the plan was made
            from ("" when unknown); after ``read``, the best existing candidate (see ``read``).
        accounts: account id -> member key of every member of the stack, so renderings can
            name the member behind an account id.
        left_out: member key -> how many changes of that member's part ``--as`` left out (the
            stack matches its spec only once they are applied too).
        targets: the ``--target`` addresses the plan was restricted to (empty: the whole stack).
        untargeted: how many changes ``--target`` left out.
        format_version: ``FORMAT_VERSION`` when written.
    """

    stack: str
    backend: str
    changes: tuple[Change, ...]
    steps: tuple[tuple[Step, ...], ...]
    unchanged: int = 0
    spec_fingerprint: str = ""
    state_fingerprint: str = ""
    created_at: str = ""
    as_member: str | None = None
    spec_path: str = ""
    accounts: Mapping[str, str] = field(default_factory=dict)
    left_out: Mapping[str, int] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    untargeted: int = 0
    format_version: int = FORMAT_VERSION

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to do (no changes, blocked or not)."""
        return not self.changes

    @property
    def is_partial(self) -> bool:
        """True when ``--as`` or ``--target`` left changes out: applying it does not make the stack match."""
        return bool(self.untargeted or any(self.left_out.values()))

    @property
    def blocked(self) -> tuple[Change, ...]:
        """Changes that cannot be applied; ``apply`` must refuse the whole plan."""
        return tuple(c for c in self.changes if c.blocked)

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """Every Step in order (groups flattened)."""
        return tuple(s for group in self.steps for s in group)

    @property
    def irreversible_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.all_steps if s.irreversible)

    @property
    def weakening(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.impact is Impact.WEAKENS)

    def counts(self) -> dict[str, int]:
        """Changes that can be applied, per action value (``create``, ...), plus ``unchanged``."""
        counter = Counter(c.action.value for c in self.changes if not c.blocked)
        return {
            **{a.value: counter.get(a.value, 0) for a in Action if a is not Action.NO_OP},
            "unchanged": self.unchanged,
        }

    def ordered_changes(self) -> tuple[Change, ...]:
        """Changes as every rendering lists them: blocked, then weakening, then the rest, each by Address."""

        def rank(c: Change) -> int:
            return 0 if c.blocked else 1 if c.impact is Impact.WEAKENS else 2

        return tuple(sorted(self.changes, key=lambda c: (rank(c), c.address)))

    def in_apply_order(self) -> tuple[Change, ...]:
        """Changes in the order apply makes them (a fresh stack: the collaboration before its members).

        Blocked changes come first (they stop the plan). The rest follow the first step that acts
        on each; a change without a step of its own (a member invited by the collaboration's
        creation, a child deleted with its parent) comes right after the steps of what it
        references or goes with. Ties are broken by Address. The text and Markdown renderings
        list changes so; ``ordered_changes`` (privacy first) is the plan file's and the review's.
        """
        first: dict[Address, int] = {}
        for i, step in enumerate(self.all_steps):
            first.setdefault(step.address, i)

        def position(c: Change) -> tuple[int, int]:
            if c.address in first:
                return first[c.address], 0
            related = [*_referenced(c.after), *_referenced(c.before)]
            related += [c.deleted_with] if c.deleted_with is not None else []
            known = [first[a] for a in related if a in first]
            return (max(known), 1) if known else (len(first), 1)

        return tuple(sorted(self.changes, key=lambda c: (not c.blocked, *position(c), c.address)))

    def check_applicable(self) -> None:
        """Raise PlanError if any change is blocked (names each and why)."""
        if self.blocked:
            lines = "; ".join(f"{c.address}: {c.blocked}" for c in self.blocked)
            raise PlanError(f"the plan has {len(self.blocked)} blocked change(s): {lines}")

    def for_member(self, member: str) -> Plan:
        """The plan restricted to the changes and steps ``member``'s account makes (``--as MEMBER``).

        A kept step keeps its ordering through steps that are left out: if it needed another
        member's step that needed one of this member's, it now needs that one directly.

        Args:
            member: a member key.

        Returns:
            The restricted plan (empty groups dropped), recording ``as_member``.
        """
        kept = {s.id for s in self.all_steps if s.owner == member}
        left = Counter(c.owner or "?" for c in self.changes if c.owner != member)
        return replace(
            self._keeping(kept),
            changes=tuple(c for c in self.changes if c.owner == member),
            as_member=member,
            left_out=dict(sorted(left.items())),
        )

    def for_targets(self, targets: tuple[Address, ...]) -> Plan:
        """The plan restricted to ``targets`` and what they need (``--target``, as Terraform's).

        A target selects its address and what lives under it (a collaboration's members,
        memberships, associations...). Kept with them: every step their steps depend on (a
        table's create for its association's, a child's delete for its parent's), so the part
        applied is consistent on its own.

        Args:
            targets: the addresses asked for.

        Returns:
            The restricted plan, recording ``targets`` and how many changes it left out.
        """
        steps = {s.id: s for s in self.all_steps}
        wanted = [s.id for s in steps.values() if any(under(s.address, t) for t in targets)]
        kept: set[str] = set()
        while wanted:
            sid = wanted.pop()
            if sid not in kept:
                kept.add(sid)
                wanted.extend(d for d in steps[sid].depends_on if d in steps)
        addresses = {steps[s].address for s in kept}
        changes = tuple(
            c for c in self.changes if c.address in addresses or any(under(c.address, t) for t in targets)
        )
        return replace(
            self._keeping(kept),
            changes=changes,
            targets=tuple(str(t) for t in targets),
            untargeted=self.untargeted + len(self.changes) - len(changes),
        )

    def _keeping(self, kept: set[str]) -> Plan:
        """The plan with only the ``kept`` steps; a kept step keeps its order through left-out ones."""
        steps = {s.id: s for s in self.all_steps}
        needs: dict[str, tuple[str, ...]] = {}

        def kept_needs(step_id: str) -> tuple[str, ...]:
            if step_id not in needs:
                out: dict[str, None] = {}
                for dep in steps[step_id].depends_on:
                    if dep in kept:
                        out[dep] = None
                    elif dep in steps:
                        out.update(dict.fromkeys(kept_needs(dep)))
                needs[step_id] = tuple(sorted(out))
            return needs[step_id]

        groups = tuple(
            g
            for g in (
                tuple(replace(s, depends_on=kept_needs(s.id)) for s in group if s.id in kept)
                for group in self.steps
            )
            if g
        )
        return replace(self, steps=groups)


def _referenced(value: Any) -> list[Address]:
    """Addresses of the Refs inside an attribute value (nested mappings and lists)."""
    if isinstance(value, Ref):
        return [value.address]
    if isinstance(value, Mapping):
        return [a for v in value.values() for a in _referenced(v)]
    if isinstance(value, list | tuple):
        return [a for v in value for a in _referenced(v)]
    return []
