"""diff: desired Resources vs observed ones -> one Change per Address; the only deepdiff user.

Both sides must be in normal form (``normal_form.canonical`` / ``normal_form.normalize_observed``):
then equal attributes mean NO_OP, and deepdiff runs only on resources that differ (a no-change
plan of thousands of resources costs one dict comparison each).

What each difference becomes is read from the registry, not decided here by kind:

- a changed create-only field, or a removed optional field that ``Update*`` cannot clear
  (``ResourceType.cannot_clear``: an enum or structure has no empty value) -> a replacement
  (``DELETE_THEN_CREATE``; ``CREATE_THEN_DELETE`` when a unique name changes too, so the new one
  can exist beside the old); its dependents are replaced with it, because their references to
  it are create-only;
- a removed optional field that ``Update*`` can clear -> ``UPDATE`` sending its clearing value
  (``ResourceType.clearing``: ``""`` for a description);
- any other change -> ``UPDATE``;
- in the spec, not observed -> ``CREATE``; a member of an existing collaboration -> ``ADD_MEMBER``
  (a collaboration change request), which may never grant CAN_QUERY or CAN_RUN_JOB: that change
  is *blocked* and says a new collaboration is needed;
- observed and managed by this stack, not in the spec -> ``DELETE`` (``REMOVE_MEMBER`` for a
  member, irreversible).

Every Change then gets its privacy impact from ``privacy.assess``. ``compare_specs`` runs the same
diff between two specs (base and head of a pull request) with no backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from deepdiff import DeepDiff

from reconciler.planner.addresses import NAME_PARTS, Address, Kind
from reconciler.planner.graph import DependencyGraph
from reconciler.planner.model import Action, Change, FieldDiff
from reconciler.planner.moves import Move, Moved
from reconciler.planner.moves import apply as apply_moves
from reconciler.planner.privacy import assess
from reconciler.planner.registry import descriptor, is_create_only
from reconciler.planner.resource import DesiredResource, ObservedResource, Ref

__all__ = ["Baseline", "compare_specs", "compute", "dependency_graph", "field_diffs"]

#: Abilities a collaboration change request can grant or revoke; any other ability change on an
#: existing collaboration is impossible (MemberChangeSpecification rejects CAN_QUERY, CAN_RUN_JOB).
CHANGE_REQUEST_ABILITIES = frozenset({"CAN_RECEIVE_RESULTS"})
#: Clean Rooms ML abilities all change through change requests (GRANT_/REVOKE_CAN_RECEIVE_MODEL_OUTPUT,
#: ..._INFERENCE_OUTPUT), and MemberChangeSpecification carries them for a new member too.
ML_ABILITIES = "mlMemberAbilities"


def _ml(attributes: Mapping[str, Any]) -> set[str]:
    return set((attributes.get(ML_ABILITIES) or {}).get("customMLMemberAbilities", []))


NEW_COLLABORATION_HINT = (
    "a collaboration's queriers are fixed when it is created; to change this, declare a new"
    " collaboration (a new name) and remove the old one"
)


#: What a diff compares the spec against: what a backend observed or, in a review, the base
#: revision's desired resources (all managed by the stack).
Baseline = ObservedResource | DesiredResource


def _refs(value: Any) -> Iterable[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _refs(v)


def dependency_graph(
    desired: Iterable[DesiredResource], observed: Iterable[Baseline] = ()
) -> DependencyGraph[Address]:
    """Dependencies among desired and observed resources.

    A resource depends on what its attributes refer to (Refs), on what its kind ``follows``
    (a membership its member), and, when desired, on its ``depends_on``.

    Args:
        desired: the spec's resources.
        observed: what a backend saw (their Refs order deletes).

    Returns:
        The graph; ``creation_order()`` raises GraphError on a cycle.
    """
    graph = DependencyGraph[Address]()
    want = {r.address: r for r in desired}
    # an observed resource equal to its desired twin has the same references: walk them once
    extra = [o for o in observed if o.address not in want or o.attributes != want[o.address].attributes]
    known = {*want, *(o.address for o in extra)}
    for resource in [*want.values(), *extra]:
        graph.add(resource.address)
        for derive in descriptor(resource.kind).follows:
            if derive(resource.address) in known:
                graph.add_dependency(dependent=resource.address, dependency=derive(resource.address))
        for ref in _refs(resource.attributes):
            if ref.address != resource.address:
                graph.add_dependency(dependent=resource.address, dependency=ref.address)
        for dep in resource.depends_on if isinstance(resource, DesiredResource) else ():
            graph.add_dependency(dependent=resource.address, dependency=dep)
    return graph


def _leaf_path(path: list[Any], before: Any, after: Any) -> tuple[str, Any, Any]:
    """Cut a deepdiff path at the first list or object: lists are compared whole."""
    parts: list[str] = []
    for key in path:
        if not (isinstance(before, Mapping) or isinstance(after, Mapping)) or not isinstance(key, str):
            break
        parts.append(key)
        before = before.get(key) if isinstance(before, Mapping) else None
        after = after.get(key) if isinstance(after, Mapping) else None
    return ".".join(parts), before, after


def field_diffs(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldDiff, ...]:
    """Changed fields between two normal forms, lists and Refs reported whole, sorted by path.

    Args:
        before: observed (or base) attributes.
        after: desired (or head) attributes.

    Returns:
        One FieldDiff per changed leaf path (a list counts as a leaf).
    """
    found: dict[str, FieldDiff] = {}
    tree = DeepDiff(dict(before), dict(after), view="tree", ignore_order=False)
    for levels in tree.values():
        for level in levels:
            path, b, a = _leaf_path(level.path(output_format="list"), before, after)
            if path and b != a:
                found[path] = FieldDiff(path, b, a)
    return tuple(found[p] for p in sorted(found))


def _comparable(resource_attrs: Mapping[str, Any], kind: Kind, other: Mapping[str, Any]) -> dict[str, Any]:
    d = descriptor(kind)
    out = d.compared(resource_attrs)
    for name in d.computed_if_absent:
        if name not in other:
            out.pop(name, None)
    return out


def _member_change(
    desired: DesiredResource, before: Mapping[str, Any], diffs: tuple[FieldDiff, ...]
) -> dict[str, Any]:
    """Ability changes on an existing member: a change request, or blocked."""
    old = set(before.get("memberAbilities", []))
    new = set(desired.attributes.get("memberAbilities", []))
    impossible = sorted((old ^ new) - CHANGE_REQUEST_ABILITIES)
    others = [
        fd.path for fd in diffs if fd.path != "memberAbilities" and fd.path.split(".")[0] != ML_ABILITIES
    ]
    if impossible:
        verb = "grant" if set(impossible) & new else "revoke"
        return {
            "action": Action.UPDATE,
            "blocked": f"cannot {verb} {', '.join(impossible)} on an existing collaboration;"
            f" {NEW_COLLABORATION_HINT}",
        }
    if others:
        return {
            "action": Action.UPDATE,
            "blocked": f"cannot change {', '.join(others)} of a member of an existing collaboration;"
            f" {NEW_COLLABORATION_HINT}",
        }
    old_ml, new_ml = _ml(before), _ml(desired.attributes)
    granted, revoked = (
        sorted(new - old) + sorted(new_ml - old_ml),
        sorted(old - new) + sorted(old_ml - new_ml),
    )
    words = [f"grant {', '.join(granted)}"] if granted else []
    words += [f"revoke {', '.join(revoked)}"] if revoked else []
    return {
        "action": Action.UPDATE,
        "reason": " and ".join(words) + " through a collaboration change request",
    }


def _new_member(desired: DesiredResource) -> dict[str, Any]:
    abilities = set(desired.attributes.get("memberAbilities", []))
    impossible = sorted(abilities - CHANGE_REQUEST_ABILITIES)
    if impossible:
        what = ", ".join(impossible)
        return {
            "action": Action.ADD_MEMBER,
            "blocked": f"a member added to an existing collaboration cannot get {what};"
            f" {NEW_COLLABORATION_HINT}",
        }
    return {"action": Action.ADD_MEMBER, "reason": "added through an ADD_MEMBER collaboration change request"}


#: Why a member's final status is final, by status.
_FINAL = {
    "LEFT": "left the collaboration, and a member who leaves can never rejoin it",
    "REMOVED": "was removed from the collaboration, and a removed member can never rejoin it",
}


def _gone(desired: DesiredResource, observed: ObservedResource) -> Change:
    """A member the spec still has who left or was removed: shown as such, never added again."""
    member = desired.address.part("member")
    collab = desired.address.part("collaboration")
    return Change(
        desired.address,
        Action.ADD_MEMBER,
        before=observed.attributes,
        after=desired.attributes,
        gone=observed.gone,
        blocked=f"{member} {_FINAL.get(observed.gone, observed.gone)} (status {observed.gone});"
        f" AWS refuses to add it back: delete {member} from the members of {collab} in the spec (with its"
        " membership and what it shares there), or declare a new collaboration",
    )


def _final_members(changes: dict[Address, Change]) -> None:
    """What a member who left or was removed would own in that collaboration cannot be made either."""
    gone = {
        (c.address.part("collaboration"), c.address.part("member")): c for c in changes.values() if c.gone
    }
    if not gone:
        return
    for address, change in list(changes.items()):
        if change.gone or change.after is None or change.before is not None or address.collaboration is None:
            continue
        names = NAME_PARTS[address.kind]
        who = (
            address.part("member")
            if "member" in names
            else address.part("owner")
            if "owner" in names
            else None
        )
        member = gone.get((address.collaboration, who or ""))
        if member is not None:
            changes[address] = replace(
                change,
                blocked=f"its member {who} {member.gone.lower()} the collaboration; see {member.address}",
            )


def _replace_action(kind: Kind, diffs: tuple[FieldDiff, ...]) -> Action:
    names = {fd.path.split(".", 1)[0] for fd in diffs}
    return (
        Action.CREATE_THEN_DELETE if names & descriptor(kind).create_first_on else Action.DELETE_THEN_CREATE
    )


def _one(
    desired: DesiredResource | None, observed: Baseline | None, observed_collabs: set[Address]
) -> Change | None:
    """The Change for one address, before replacements cascade and privacy is assessed."""
    if isinstance(observed, ObservedResource) and observed.gone:
        return None if desired is None else _gone(desired, observed)
    if desired is None:
        assert observed is not None
        if isinstance(observed, ObservedResource) and not observed.managed:
            return None
        kind = observed.address.kind
        action = Action.REMOVE_MEMBER if kind is Kind.MEMBER else Action.DELETE
        return Change(observed.address, action, before=observed.attributes, reason="not in the spec any more")
    kind = desired.kind
    if observed is None and desired.existing:
        return Change(
            desired.address,
            Action.CREATE,
            after=desired.attributes,
            blocked=f"{desired.address} is declared existing but the backend does not see it;"
            " check collaborationId (or the name) and the credentials of its creator",
        )
    if observed is None:
        parent_exists = Address.of(Kind.COLLABORATION, desired.address.parts[0]) in observed_collabs
        fields: dict[str, Any] = {"action": Action.CREATE}
        if kind is Kind.MEMBER and parent_exists:
            fields = _new_member(desired)
        elif kind is Kind.MEMBER:
            fields["reason"] = "invited by the collaboration's creation"
        return Change(desired.address, after=desired.attributes, **fields)
    before = _comparable(observed.attributes, kind, desired.attributes)
    after = _comparable(desired.attributes, kind, observed.attributes)
    if desired.region and observed.region and desired.region != observed.region and kind is not Kind.MEMBER:
        return _elsewhere(desired, observed, field_diffs(before, after))
    if before == after:
        return Change(desired.address, Action.NO_OP, before=observed.attributes, after=desired.attributes)
    diffs = field_diffs(before, after)
    both: dict[str, Any] = {"before": observed.attributes, "after": desired.attributes, "field_diffs": diffs}
    if kind is Kind.MEMBER:
        return Change(desired.address, **both, **_member_change(desired, before, diffs))
    forced = tuple(fd.path for fd in diffs if is_create_only(kind, fd.path))
    stuck = tuple(fd.path for fd in diffs if fd.after is None and fd.path in descriptor(kind).cannot_clear)
    forced = tuple(sorted({*forced, *stuck}))
    if not forced:
        return Change(desired.address, Action.UPDATE, **both)
    if desired.existing:
        blocked = (
            f"{', '.join(forced)} of an existing (adopted) collaboration cannot be changed; change the spec"
        )
        return Change(
            desired.address, Action.DELETE_THEN_CREATE, **both, requires_replace=forced, blocked=blocked
        )
    return Change(
        desired.address,
        _replace_action(kind, diffs),
        **both,
        requires_replace=forced,
        reason=_replace_reason(kind, forced, stuck),
    )


def _elsewhere(desired: DesiredResource, observed: Baseline, diffs: tuple[FieldDiff, ...]) -> Change:
    """A resource the spec puts in another region: a new one there (AWS cannot move one)."""
    moved = FieldDiff("region", observed.region, desired.region)
    fields: dict[str, Any] = {
        "before": observed.attributes,
        "after": desired.attributes,
        "field_diffs": (moved, *diffs),
        "requires_replace": ("region",),
    }
    why = (
        f"a resource stays in the region it was made in: {observed.region} -> {desired.region}"
        " makes a new one there"
    )
    if desired.existing:
        return Change(desired.address, Action.DELETE_THEN_CREATE, **fields, blocked=f"{why}; change the spec")
    return Change(desired.address, Action.DELETE_THEN_CREATE, **fields, reason=why)


def _replace_reason(kind: Kind, forced: tuple[str, ...], stuck: tuple[str, ...]) -> str:
    """Why a replacement: create-only fields changed, or optional fields Update* cannot clear removed."""
    changed = [p for p in forced if p not in stuck]
    words = []
    if "name" in changed:
        changed.remove("name")
        words.append(f"AWS cannot rename {_a(kind)} ({_no_name(kind)}): a new one is made with the new name")
    words += [f"{', '.join(changed)} cannot be changed in place"] if changed else []
    if stuck:
        words.append(
            f"{', '.join(stuck)} cannot be removed in place ({descriptor(kind).update} cannot clear it;"
            " keep a value in the spec to avoid the replacement)"
        )
    return "; ".join(words)


def _moves(changes: dict[Address, Change], moved: Moved) -> None:
    """Moved resources say where they came from; a move onto a taken address is blocked."""
    for address, origin in moved.origins.items():
        change = changes.get(address)
        if change is None:
            continue
        change = replace(change, moved_from=origin)
        if change.action is Action.NO_OP and descriptor(address.kind).taggable:
            change = replace(
                change, action=Action.UPDATE, reason=f"moved from {origin}: its identity tag follows"
            )
        elif change.action is Action.UPDATE and not change.reason:
            change = replace(change, reason=f"moved from {origin}")
        changes[address] = change
    for old, new in moved.conflicts.items():
        change = changes.get(old)
        if change is not None:
            changes[old] = replace(
                change,
                blocked=f"a Moved document moves {old} to {new}, but the backend already holds a resource at"
                f" {new}; keep one of them: `reconciler state rm` the one to let go, or remove the Moved"
                " document",
            )


def _a(kind: Kind) -> str:
    words = kind.value.replace("_", " ")
    return ("an " if words[0] in "aeiou" else "a ") + words


def _no_name(kind: Kind) -> str:
    update = descriptor(kind).update
    return f"{update} takes no name" if update else f"{kind} has no update call"


def _renames(changes: dict[Address, Change]) -> None:
    """Say so when a delete and a create look like one resource renamed, and what a rename takes.

    A create and a delete of one kind under the same parent (one of each) are probably a rename.
    Where the API renames in place (UpdateCollaboration, UpdateConfiguredTable take ``name``) the
    address must stay: the hint says to keep the old ``key``, or declare a Moved document. Where
    it cannot (associations, templates), the plan says that a rename is a new resource and why.
    """
    groups: dict[tuple[Kind, tuple[str, ...]], tuple[list[Change], list[Change]]] = {}
    for change in changes.values():
        if change.kind not in _RENAMEABLE or change.blocked:
            continue
        group = groups.setdefault((change.kind, change.address.parts[:-1]), ([], []))
        if change.action is Action.CREATE:
            group[0].append(change)
        elif change.action is Action.DELETE and (change.before or {}).get("name") is not None:
            group[1].append(change)
    for (kind, _), (created, deleted) in groups.items():
        if len(created) != 1 or len(deleted) != 1:
            continue
        new, old = created[0], deleted[0]
        if "name" in descriptor(kind).updatable:
            hint = (
                f"if this is {old.address} renamed, keep its address so that it is renamed in place: give it"
                f" `key: {old.address.parts[-1]}` in the spec, or declare `kind: Moved` from {old.address}"
                f" to {new.address}"
            )
        else:
            hint = (
                f"if this is {old.address} renamed: AWS cannot rename {_a(kind)} ({_no_name(kind)}), so the"
                " old one is deleted and a new one created; whatever names the old one must change too"
            )
        changes[new.address] = replace(new, reason="; ".join(filter(None, (new.reason, hint))))
        if not old.reason or old.reason == "not in the spec any more":
            changes[old.address] = replace(
                old, reason=f"not in the spec any more (replaced by {new.address}?)"
            )


#: Kinds whose address ends in a name (or key) a user may rename.
_RENAMEABLE = frozenset({Kind.COLLABORATION, Kind.CONFIGURED_TABLE, Kind.ASSOCIATION, Kind.ANALYSIS_TEMPLATE})


def _cascade(changes: dict[Address, Change], graph: DependencyGraph[Address]) -> None:
    """Replace what depends on a replaced resource: its reference to it cannot change in place."""
    if not any(c.action.is_replace for c in changes.values()):
        return
    for group in graph.creation_order():
        for address in group:
            change = changes.get(address)
            if change is None or not change.action.is_replace:
                continue
            for dependent in graph.dependents(address):
                dep = changes.get(dependent)
                if dep is None or dep.after is None:
                    continue
                if dep.action is Action.ADD_MEMBER:
                    # the re-created collaboration invites this member itself: nothing to block
                    changes[dependent] = replace(
                        dep, action=Action.CREATE, blocked="", reason=f"{address} is replaced"
                    )
                    continue
                # only references (create-only ids) force a replacement; ``depends_on`` only orders
                fields = tuple(p for p, v in dep.after.items() if any(r.address == address for r in _refs(v)))
                if fields and dep.action in (Action.NO_OP, Action.UPDATE) and dep.before is not None:
                    changes[dependent] = replace(
                        dep,
                        action=Action.DELETE_THEN_CREATE,
                        requires_replace=tuple(sorted({*dep.requires_replace, *fields})),
                        reason=f"{address} is replaced",
                        blocked="",
                    )


def _finish(
    change: Change,
    desired: DesiredResource | None,
    observed: Baseline | None,
    caller: Baseline | None,
    deleted_with: Address | None,
) -> Change:
    """Irreversibility, who calls, protection, ids, then privacy."""
    if change.action is Action.NO_OP:
        return replace(change, observed_id=observed.id if observed else None)
    d = descriptor(change.kind)
    removes = change.action in (Action.DELETE, Action.REMOVE_MEMBER) or change.action.is_replace
    irreversible = d.irreversible_delete if removes and deleted_with is None else ""
    if irreversible and change.action.is_replace and change.kind is Kind.MEMBERSHIP:
        irreversible = "replacing a membership deletes it first: the member leaves the collaboration for ever"
    source = desired or observed
    caller = caller or desired or observed
    change = replace(
        change,
        irreversible=irreversible,
        deleted_with=deleted_with,
        owner=(caller.owner or None) if caller is not None else None,
        account_id=caller.account_id if caller is not None else None,
        prevent_destroy=bool(desired and desired.prevent_destroy),
        source=source.source if isinstance(source, DesiredResource) else None,
        observed_id=observed.id if observed is not None else None,
        observed_arn=observed.arn if isinstance(observed, ObservedResource) else None,
        region=source.region if source is not None else None,
        observed_region=observed.region if observed is not None else None,
    )
    return assess(change)


def compute(
    desired: Iterable[DesiredResource],
    observed: Iterable[Baseline],
    *,
    graph: DependencyGraph[Address] | None = None,
    moved: Moved | None = None,
) -> list[Change]:
    """Diff a spec's resources against what a backend observed.

    Args:
        desired: resources from ``desired.resources(stack)`` (normal form).
        observed: resources a backend read (normal form; unmanaged ones are never deleted), with
            the spec's moves already carried out (``moves.apply``) when ``moved`` is given.
        graph: ``dependency_graph(desired, observed)`` when the caller already has it.
        moved: what ``moves.apply`` did: moved resources get ``moved_from`` (and their identity
            tag rewritten), moves that could not happen are blocked.

    Returns:
        One Change per address (NO_OP included), sorted by Address, with privacy assessed.
    """
    want = {r.address: r for r in desired}
    have = {o.address: o for o in observed}
    graph = graph or dependency_graph(want.values(), have.values())
    collabs = {a for a in have if a.kind is Kind.COLLABORATION}
    changes: dict[Address, Change] = {}
    for address in sorted(want.keys() | have.keys()):
        change = _one(want.get(address), have.get(address), collabs)
        if change is not None:
            changes[address] = change
    if moved is not None:
        _moves(changes, moved)
    _final_members(changes)
    _renames(changes)
    _cascade(changes, graph)
    ending: dict[Address, Baseline] = {}  # collaborations that go, with what they go with
    for a, c in changes.items():
        side = want.get(a) or have.get(a)
        if (
            side is not None
            and a.kind is Kind.COLLABORATION
            and (c.action.is_replace or c.action is Action.DELETE)
        ):
            ending[a] = side
    removed = {a for a, c in changes.items() if c.action is Action.REMOVE_MEMBER}
    out = []
    for address, change in sorted(changes.items()):
        collab = Address.of(Kind.COLLABORATION, address.parts[0]) if address.collaboration else None
        parent = want.get(collab) or have.get(collab) if collab else None
        caller = parent if descriptor(address.kind).called_by_collaboration_owner else None
        gone_with = _deleted_with(address, collab, ending, removed)
        out.append(_finish(change, want.get(address), have.get(address), caller, gone_with))
    return out


def _deleted_with(
    address: Address, collab: Address | None, ending: Mapping[Address, Baseline], removed: set[Address]
) -> Address | None:
    """What goes with its parent, with no call of its own.

    A member, and the creator's membership, go with their collaboration; a removed member's
    membership goes with the member (DeleteMember by the creator ends it: status REMOVED), so the
    member is not also made to leave, which would leave nothing for DeleteMember to remove.
    """
    if address.kind is Kind.MEMBERSHIP:
        member = Address(Kind.MEMBER, address.parts)
        if member in removed:
            return member
    if collab is None or collab not in ending:
        return None
    creator = ending[collab].owner
    if address.kind is Kind.MEMBER or (address.kind is Kind.MEMBERSHIP and address.part("member") == creator):
        return collab
    return None


def compare_specs(
    base: Iterable[DesiredResource], head: Iterable[DesiredResource], moves: Sequence[Move] = ()
) -> list[Change]:
    """Diff two specs (for ``review``): what applying ``head`` over ``base`` would change.

    Args:
        base: desired resources at the base revision (treated as observed and managed).
        head: desired resources at the head revision.
        moves: the head's moves (``kind: Moved``), carried out on the base first.

    Returns:
        Changes as ``compute`` returns them; no backend is involved.
    """
    moved = apply_moves(list(base), moves)
    head = list(head)
    return compute(head, moved.resources, graph=dependency_graph(head, moved.resources), moved=moved)
